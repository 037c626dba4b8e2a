"""follow-ups (回访) after confirmed orders, and each community's sample

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 06:30:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("due_at", MOMENT, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", MOMENT, nullable=True),
        sa.CheckConstraint(
            "(outcome IS NULL) = (recorded_at IS NULL)", name=op.f("ck_followups_outcome_recorded_together")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_followups_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_followups_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
    )
    op.create_index(
        "ix_followups_area_code",
        "followups",
        ["area_code"],
        unique=False,
        postgresql_ops={"area_code": "varchar_pattern_ops"},
    )
    op.create_index(op.f("ix_followups_due_at"), "followups", ["due_at"], unique=False)
    op.create_index(op.f("ix_followups_order_id"), "followups", ["order_id"], unique=False)
    op.create_table(
        "followup_sampling",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name=op.f("ck_followup_sampling_percent_range")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
            name=op.f("fk_followup_sampling_community_id_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_followup_sampling_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_followup_sampling")),
    )


def downgrade() -> None:
    op.drop_table("followup_sampling")
    op.drop_index(op.f("ix_followups_order_id"), table_name="followups")
    op.drop_index(op.f("ix_followups_due_at"), table_name="followups")
    op.drop_index("ix_followups_area_code", table_name="followups")
    op.drop_table("followups")

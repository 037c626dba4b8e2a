"""how each confirmed order's service points were reckoned (hours counted, rate, caps)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_service_rewards",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("hours_served", sa.Double(), nullable=False),
        sa.Column("hours_counted", sa.Double(), nullable=False),
        sa.Column("rate", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("awarded", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["volunteer_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("order_id", "round"),
    )
    op.create_index(
        op.f("ix_order_service_rewards_volunteer_id"), "order_service_rewards", ["volunteer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_order_service_rewards_volunteer_id"), table_name="order_service_rewards")
    op.drop_table("order_service_rewards")

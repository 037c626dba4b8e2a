"""orders entered for a resident (who entered them, the channel); volunteers pause taking orders

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entered_by_id", sa.Integer(), nullable=True))
        # Every order so far was posted by the resident on their own page.
        batch_op.add_column(sa.Column("channel", sa.String(length=16), server_default="page", nullable=False))
        batch_op.create_index(batch_op.f("ix_orders_entered_by_id"), ["entered_by_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_entered_by_id_users"), "users", ["entered_by_id"], ["id"]
        )

    with op.batch_alter_table("volunteer_profiles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "paused_until", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("pause_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volunteer_profiles", schema=None) as batch_op:
        batch_op.drop_column("pause_reason")
        batch_op.drop_column("paused_until")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_entered_by_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_orders_entered_by_id"))
        batch_op.drop_column("channel")
        batch_op.drop_column("entered_by_id")

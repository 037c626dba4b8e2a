"""An organiser cancels a shift: its status, when, who and why

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 12:55:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), server_default="open", nullable=False))
        batch_op.add_column(sa.Column("cancelled_at", MOMENT, nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=24), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_shifts_cancelled_by_id_users"), "users", ["cancelled_by_id"], ["id"]
        )


def downgrade() -> None:
    # A called-off sign-up was cancelled before this revision knew of whole shifts being cancelled.
    op.execute("UPDATE shift_signups SET status = 'cancelled' WHERE status = 'called_off'")
    with op.batch_alter_table("shifts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_shifts_cancelled_by_id_users"), type_="foreignkey")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by_id")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("status")

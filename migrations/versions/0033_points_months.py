"""The points of each ended month per member home area, summed once for the reports summary;
transfers indexed by code and time

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Empty: the hourly job `roll_up_points` fills it; until then the summary reads the transfers.
    op.create_table(
        "report_points_months",
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("redeemed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("time_zone", "month", "area_code", name=op.f("pk_report_points_months")),
    )
    # Codes over a period (this month's points, a month to roll up); a lookup by code alone uses it too.
    op.create_index("ix_ledger_transfers_code_timestamp", "ledger_transfers", ["code", "timestamp"])
    op.drop_index("ix_ledger_transfers_code", table_name="ledger_transfers")


def downgrade() -> None:
    op.create_index("ix_ledger_transfers_code", "ledger_transfers", ["code"])
    op.drop_index("ix_ledger_transfers_code_timestamp", table_name="ledger_transfers")
    op.drop_table("report_points_months")

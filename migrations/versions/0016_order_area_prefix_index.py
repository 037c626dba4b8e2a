"""orders: the area code's index serves prefix matches (LIKE 'prefix%') on PostgreSQL

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Under a collation other than C (C.UTF-8 included) a default btree cannot serve LIKE; SQLite's
# LIKE uses no index either way, so its index stays as it is.


def _replace_index(ops: dict[str, str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_orders_area_code", table_name="orders")
    op.create_index("ix_orders_area_code", "orders", ["area_code"], unique=False, postgresql_ops=ops)


def upgrade() -> None:
    _replace_index({"area_code": "varchar_pattern_ops"})


def downgrade() -> None:
    _replace_index({})

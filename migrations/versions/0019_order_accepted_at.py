"""orders: when the order was accepted, kept on the order (reports read it instead of the events);
the index of when orders were posted holds what the reports count (PostgreSQL)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

# What the reports count of an order (market.orders.models.REPORTED_COLUMNS when this was written).
REPORTED_COLUMNS = ("area_code", "status", "category_code", "rating", "accepted_at", "completed_at")

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column(
                "accepted_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True
            )
        )
    # Orders accepted before: the moment of their first accept (by an offer, or a claim from the board).
    op.execute(
        """
        UPDATE orders SET accepted_at = first.at
        FROM (
            SELECT order_id, min(at) AS at FROM order_events WHERE to_status = 'accepted' GROUP BY order_id
        ) AS first
        WHERE first.order_id = orders.id
        """
    )

    _created_at_index(list(REPORTED_COLUMNS))


def downgrade() -> None:
    _created_at_index([])
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("accepted_at")


def _created_at_index(include: list[str]) -> None:
    # The reports read the index alone on PostgreSQL; SQLite has no INCLUDE.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.create_index("ix_orders_created_at", "orders", ["created_at"], postgresql_include=include)

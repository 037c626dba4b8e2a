"""orders: when the order was accepted, kept on the order (reports read it instead of the events)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

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


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("accepted_at")

"""the open board: when a community's new orders go to it; the volunteer a resident asks for

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-03 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Why apply skipped a pair was an English sentence; it is a reason code now (market.dispatch.eligibility).
SKIP_NOTES = {
    "the order's time window has passed": "window_passed",
    "not an active volunteer": "not_volunteer",
    "is the resident who posted the order": "is_requester",
    "does not serve the order's area": "does_not_serve_area",
    "has already declined this order": "declined_before",
    "is paused": "paused",
    "is at capacity": "at_capacity",
    "is at capacity (with pending offers)": "at_capacity",
}


def upgrade() -> None:
    pairs = sa.table("dispatch_plan_pairs", sa.column("note", sa.String))
    for sentence, code in SKIP_NOTES.items():
        op.execute(pairs.update().where(pairs.c.note == sentence).values(note=code))
    op.execute(
        pairs.update().where(pairs.c.note.like("the order is no longer waiting%")).values(note="not_waiting")
    )
    with op.batch_alter_table("auto_dispatch") as batch_op:
        batch_op.add_column(
            sa.Column("board_mode", sa.String(length=16), server_default="after", nullable=False)
        )
        batch_op.add_column(
            sa.Column("board_after_minutes", sa.Integer(), server_default="30", nullable=False)
        )

    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("preferred_volunteer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_preferred_volunteer_id_users"), "users", ["preferred_volunteer_id"], ["id"]
        )


def downgrade() -> None:
    # The skip notes stay codes: the sentences said no more than the codes do.
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_preferred_volunteer_id_users"), type_="foreignkey")
        batch_op.drop_column("preferred_volunteer_id")
    with op.batch_alter_table("auto_dispatch") as batch_op:
        batch_op.drop_column("board_after_minutes")
        batch_op.drop_column("board_mode")

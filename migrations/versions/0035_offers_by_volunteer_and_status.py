"""A volunteer's offers of one status indexed in the order their list shows them

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A page of a volunteer's pending offers (their phone's list), newest first, found from the
    # index alone, as `ix_offers_volunteer_created` finds a page of all of them.
    op.drop_index("ix_offers_volunteer_status", table_name="offers")
    op.create_index("ix_offers_volunteer_status", "offers", ["volunteer_id", "status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_offers_volunteer_status", table_name="offers")
    op.create_index("ix_offers_volunteer_status", "offers", ["volunteer_id", "status"])

"""A volunteer's offers indexed in the order their list shows them

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A page of a volunteer's offers, newest first, read from the index: with thousands of offers
    # over the years, sorting them all for each page took ~60 ms.
    op.create_index("ix_offers_volunteer_created", "offers", ["volunteer_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_offers_volunteer_created", table_name="offers")

"""doorplates: the token each building's and compound's QR code carries

Revision ID: 0028
Revises: 0024
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doorplates",
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("issued_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_doorplates_area_id_areas")),
        sa.PrimaryKeyConstraint("area_id", name=op.f("pk_doorplates")),
        sa.UniqueConstraint("token", name=op.f("uq_doorplates_token")),
    )


def downgrade() -> None:
    op.drop_table("doorplates")

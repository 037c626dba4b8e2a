"""One waiting certificate request per volunteer and community: two requests sent at once could
both be made (the service's check read no waiting one in either). Requests that already wait
beside an older one are refused first, the oldest kept. Revoked doorplate codes, kept so that their
page says so.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "status = 'requested'"
MOMENT = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.execute(
        "UPDATE certificates SET status = 'refused', reason = 'other',"
        " memo = '重复的申请 (a duplicate request)', decided_at = requested_at"
        " WHERE status = 'requested' AND EXISTS (SELECT 1 FROM certificates AS older"
        " WHERE older.volunteer_id = certificates.volunteer_id"
        " AND older.community_id = certificates.community_id"
        " AND older.status = 'requested' AND older.id < certificates.id)"
    )
    op.create_index(
        "uq_certificates_one_waiting",
        "certificates",
        ["volunteer_id", "community_id"],
        unique=True,
        sqlite_where=sa.text(WAITING),
        postgresql_where=sa.text(WAITING),
    )
    op.create_table(
        "revoked_doorplates",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", MOMENT, nullable=False),
        sa.Column("revoked_at", MOMENT, nullable=False),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_revoked_doorplates_area_id_areas")),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_revoked_doorplates_revoked_by_id_users")
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_revoked_doorplates")),
    )
    op.create_index(op.f("ix_revoked_doorplates_area_id"), "revoked_doorplates", ["area_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_doorplates_area_id"), table_name="revoked_doorplates")
    op.drop_table("revoked_doorplates")
    op.drop_index("uq_certificates_one_waiting", table_name="certificates")

"""Service records, certificates and the honour roll: training, awards and corrections; numbered
certificates with their counters and each community's issuing details; the honour roll's opt-out

Revision ID: 0029
Revises: 0024
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "record_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("corrects", sa.String(length=40), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("hours", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.CheckConstraint("hours >= 0 AND hours <= 10000", name=op.f("ck_record_entries_hours_range")),
        sa.CheckConstraint(
            "(kind = 'correction') = (corrects IS NOT NULL)",
            name=op.f("ck_record_entries_correction_points_back"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_record_entries_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["users.id"], name=op.f("fk_record_entries_volunteer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_entries")),
        sa.UniqueConstraint("corrects", name="uq_record_entries_corrects"),
    )
    op.create_index(op.f("ix_record_entries_volunteer_id"), "record_entries", ["volunteer_id"])
    op.create_index(
        "ix_record_entries_community_code",
        "record_entries",
        ["community_code"],
        postgresql_ops={"community_code": "varchar_pattern_ops"},
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", MOMENT, nullable=False),
        sa.Column("number", sa.String(length=48), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("serial", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("total_hours", sa.Double(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=True),
        sa.Column("volunteer_name", sa.String(length=50), nullable=False),
        sa.Column("issuer_name", sa.String(length=100), nullable=False),
        sa.Column("responsible_person", sa.String(length=50), nullable=False),
        sa.Column("contact", sa.String(length=50), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("handler_name", sa.String(length=50), nullable=False),
        sa.Column("decided_at", MOMENT, nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", MOMENT, nullable=True),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_certificates_period_order")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["areas.id"], name=op.f("fk_certificates_community_id_areas")
        ),
        sa.ForeignKeyConstraint(["handler_id"], ["users.id"], name=op.f("fk_certificates_handler_id_users")),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_certificates_revoked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["users.id"], name=op.f("fk_certificates_volunteer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("community_id", "year", "serial", name="uq_certificates_serial"),
        sa.UniqueConstraint("number", name=op.f("uq_certificates_number")),
        sa.UniqueConstraint("token", name=op.f("uq_certificates_token")),
    )
    op.create_index(op.f("ix_certificates_volunteer_id"), "certificates", ["volunteer_id"])
    op.create_index("ix_certificates_community_status", "certificates", ["community_id", "status"])
    op.create_table(
        "certificate_counters",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
            name=op.f("fk_certificate_counters_community_id_areas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("community_id", "year", name=op.f("pk_certificate_counters")),
    )
    op.create_table(
        "certificate_issuers",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("responsible_person", sa.String(length=50), nullable=False),
        sa.Column("contact", sa.String(length=50), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
            name=op.f("fk_certificate_issuers_community_id_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_certificate_issuers_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_certificate_issuers")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("honour_roll_opt_out", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("honour_roll_opt_out")
    op.drop_table("certificate_issuers")
    op.drop_table("certificate_counters")
    op.drop_index("ix_certificates_community_status", table_name="certificates")
    op.drop_index(op.f("ix_certificates_volunteer_id"), table_name="certificates")
    op.drop_table("certificates")
    op.drop_index("ix_record_entries_community_code", table_name="record_entries")
    op.drop_index(op.f("ix_record_entries_volunteer_id"), table_name="record_entries")
    op.drop_table("record_entries")

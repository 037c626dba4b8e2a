"""双报到 party members and their evaluations, ratings of co-building units after projects,
residents' credit entries

Revision ID: 0030
Revises: 0024
Create Date: 2026-12-03 09:18:14.346659
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=24), nullable=True),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("transfer_id", sa.String(length=80), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_credit_entries_points_positive")),
        sa.ForeignKeyConstraint(
            ["community_id"], ["areas.id"], name=op.f("fk_credit_entries_community_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_credit_entries_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credit_entries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entries")),
        sa.UniqueConstraint("source", "subject_id", "user_id", name=op.f("uq_credit_entries_source")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_credit_entries_transfer_id")),
    )
    op.create_index(op.f("ix_credit_entries_community_id"), "credit_entries", ["community_id"], unique=False)
    op.create_index(
        "ix_credit_entries_user_month", "credit_entries", ["user_id", "source", "month"], unique=False
    )
    op.create_table(
        "party_commendation_thresholds",
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("hours >= 0", name=op.f("ck_party_commendation_thresholds_hours_non_negative")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["areas.id"],
            name=op.f("fk_party_commendation_thresholds_community_id_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_party_commendation_thresholds_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_party_commendation_thresholds")),
    )
    op.create_table(
        "party_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("employer_name", sa.String(length=100), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reported_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "unit_id IS NOT NULL OR (employer_name <> '' AND contact_name <> '' AND contact_phone <> '')",
            name=op.f("ck_party_members_employer_named"),
        ),
        sa.ForeignKeyConstraint(
            ["community_id"], ["areas.id"], name=op.f("fk_party_members_community_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_party_members_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_party_members_unit_id_units")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_party_members_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_members")),
        sa.UniqueConstraint("user_id", name=op.f("uq_party_members_user_id")),
    )
    op.create_index(op.f("ix_party_members_community_id"), "party_members", ["community_id"], unique=False)
    op.create_index(op.f("ix_party_members_status"), "party_members", ["status"], unique=False)
    op.create_index(op.f("ix_party_members_unit_id"), "party_members", ["unit_id"], unique=False)
    op.create_table(
        "unit_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("rater_id", sa.Integer(), nullable=False),
        sa.Column("rater_kind", sa.String(length=16), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.CheckConstraint("stars BETWEEN 1 AND 5", name=op.f("ck_unit_ratings_stars_range")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_unit_ratings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["rater_id"], ["users.id"], name=op.f("fk_unit_ratings_rater_id_users")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_unit_ratings_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_ratings")),
        sa.UniqueConstraint("project_id", "unit_id", "rater_id", name=op.f("uq_unit_ratings_project_id")),
    )
    op.create_index(op.f("ix_unit_ratings_project_id"), "unit_ratings", ["project_id"], unique=False)
    op.create_index(op.f("ix_unit_ratings_unit_id"), "unit_ratings", ["unit_id"], unique=False)
    op.create_table(
        "party_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("activity", sa.JSON(), nullable=False),
        sa.Column("evaluated_by_id", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluated_by_id"], ["users.id"], name=op.f("fk_party_evaluations_evaluated_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_members.id"],
            name=op.f("fk_party_evaluations_member_id_party_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_evaluations")),
        sa.UniqueConstraint("member_id", "year", name=op.f("uq_party_evaluations_member_id")),
    )
    op.create_index(op.f("ix_party_evaluations_member_id"), "party_evaluations", ["member_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_party_evaluations_member_id"), table_name="party_evaluations")
    op.drop_table("party_evaluations")
    op.drop_index(op.f("ix_unit_ratings_unit_id"), table_name="unit_ratings")
    op.drop_index(op.f("ix_unit_ratings_project_id"), table_name="unit_ratings")
    op.drop_table("unit_ratings")
    op.drop_index(op.f("ix_party_members_unit_id"), table_name="party_members")
    op.drop_index(op.f("ix_party_members_status"), table_name="party_members")
    op.drop_index(op.f("ix_party_members_community_id"), table_name="party_members")
    op.drop_table("party_members")
    op.drop_table("party_commendation_thresholds")
    op.drop_index("ix_credit_entries_user_month", table_name="credit_entries")
    op.drop_index(op.f("ix_credit_entries_community_id"), table_name="credit_entries")
    op.drop_table("credit_entries")

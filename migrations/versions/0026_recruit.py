"""recruiting: a project's shifts, sign-ups and waiting lists; residents' support and proposed needs

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", MOMENT, nullable=False),
        sa.Column("ends_at", MOMENT, nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("cancel_cutoff_hours", sa.Integer(), nullable=False),
        sa.Column("arrivals", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("roll_called_at", MOMENT, nullable=True),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_shifts_window_order")),
        sa.CheckConstraint("slots > 0", name=op.f("ck_shifts_slots_positive")),
        sa.CheckConstraint("cancel_cutoff_hours >= 0", name=op.f("ck_shifts_cutoff_non_negative")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_shifts_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_shifts_area_id_areas")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_shifts_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    op.create_index(op.f("ix_shifts_project_id"), "shifts", ["project_id"], unique=False)
    op.create_index(op.f("ix_shifts_area_id"), "shifts", ["area_id"], unique=False)
    op.create_index("ix_shifts_starts_at", "shifts", ["starts_at"], unique=False)
    op.create_table(
        "shift_skills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shifts.id"], name=op.f("fk_shift_skills_shift_id_shifts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["service_categories.code"],
            name=op.f("fk_shift_skills_category_code_service_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_skills")),
        sa.UniqueConstraint("shift_id", "category_code", name=op.f("uq_shift_skills_shift_id")),
    )
    op.create_index(op.f("ix_shift_skills_shift_id"), "shift_skills", ["shift_id"], unique=False)
    op.create_table(
        "shift_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shift_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("arrival", sa.Integer(), nullable=False),
        sa.Column("signed_up_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("checked_in_at", MOMENT, nullable=True),
        sa.Column("checked_out_at", MOMENT, nullable=True),
        sa.Column("tenths", sa.Integer(), nullable=False),
        sa.CheckConstraint("tenths >= 0", name=op.f("ck_shift_signups_hours_non_negative")),
        sa.ForeignKeyConstraint(
            ["shift_id"], ["shifts.id"], name=op.f("fk_shift_signups_shift_id_shifts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_shift_signups_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_signups")),
        sa.UniqueConstraint("shift_id", "user_id", name=op.f("uq_shift_signups_shift_id")),
        sa.UniqueConstraint("shift_id", "arrival", name="uq_shift_signups_arrival"),
    )
    op.create_index(op.f("ix_shift_signups_shift_id"), "shift_signups", ["shift_id"], unique=False)
    op.create_index(op.f("ix_shift_signups_user_id"), "shift_signups", ["user_id"], unique=False)
    op.create_table(
        "need_supports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["need_id"], ["needs.id"], name=op.f("fk_need_supports_need_id_needs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_need_supports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_supports")),
        sa.UniqueConstraint("need_id", "user_id", name=op.f("uq_need_supports_need_id")),
    )
    op.create_index(op.f("ix_need_supports_need_id"), "need_supports", ["need_id"], unique=False)
    op.create_index(op.f("ix_need_supports_user_id"), "need_supports", ["user_id"], unique=False)
    op.create_table(
        "need_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", MOMENT, nullable=True),
        sa.Column("reject_reason", sa.String(length=32), nullable=True),
        sa.Column("need_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"], ["areas.id"], name=op.f("fk_need_proposals_community_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"], ["users.id"], name=op.f("fk_need_proposals_proposed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_need_proposals_reviewed_by_id_users")
        ),
        sa.ForeignKeyConstraint(["need_id"], ["needs.id"], name=op.f("fk_need_proposals_need_id_needs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_proposals")),
    )
    op.create_index(
        op.f("ix_need_proposals_community_code"), "need_proposals", ["community_code"], unique=False
    )
    op.create_index(
        op.f("ix_need_proposals_proposed_by_id"), "need_proposals", ["proposed_by_id"], unique=False
    )
    op.create_index(
        "ix_need_proposals_community_status", "need_proposals", ["community_id", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_table("need_proposals")
    op.drop_table("need_supports")
    op.drop_table("shift_signups")
    op.drop_table("shift_skills")
    op.drop_table("shifts")

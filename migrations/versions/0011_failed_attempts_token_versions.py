"""sign-in: failed attempts replace the account lock; token versions

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "failed_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("at", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_failed_attempts_actor_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_failed_attempts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_attempts")),
    )
    with op.batch_alter_table("failed_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_failed_attempts_account_at", ["account", "at"], unique=False)
        batch_op.create_index("ix_failed_attempts_actor_id_at", ["actor_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_failed_attempts_at"), ["at"], unique=False)
        batch_op.create_index("ix_failed_attempts_client_at", ["client", "at"], unique=False)
        batch_op.create_index("ix_failed_attempts_user_id_at", ["user_id", "at"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        # Tokens issued before carry no version and end: everyone logs in once more.
        batch_op.add_column(sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column(
                "locked_until", advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True
            )
        )
        batch_op.drop_column("token_version")

    with op.batch_alter_table("failed_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_failed_attempts_user_id_at")
        batch_op.drop_index("ix_failed_attempts_client_at")
        batch_op.drop_index(batch_op.f("ix_failed_attempts_at"))
        batch_op.drop_index("ix_failed_attempts_actor_id_at")
        batch_op.drop_index("ix_failed_attempts_account_at")

    op.drop_table("failed_attempts")

"""notifications are codes with parameters, rendered in the reader's language

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(
            sa.Column("code", sa.String(length=32), server_default="earlier_message", nullable=False)
        )
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))
    # A message stored as English prose keeps its words, shown as they were written, under the
    # generic code: its kind's text would need parameters the prose does not hold.
    notifications = sa.table(
        "notifications",
        sa.column("id", sa.Integer),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("params", sa.JSON),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(notifications.c.id, notifications.c.title, notifications.c.body)):
        bind.execute(
            notifications.update()
            .where(notifications.c.id == row.id)
            .values(params={"title": row.title, "body": row.body})
        )
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.alter_column("code", server_default=None)
        batch_op.alter_column("params", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column("kind")
        batch_op.drop_column("title")
        batch_op.drop_column("body")


def downgrade() -> None:
    # Back to prose, the codes standing as the titles (the prose itself was never stored for them).
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=32), server_default="", nullable=False))
        batch_op.add_column(sa.Column("title", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("body", sa.Text(), server_default="", nullable=False))
    op.execute("UPDATE notifications SET kind = code, title = code")
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("code")

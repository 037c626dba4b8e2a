"""ledger authority: adjustment reasons, street thresholds, withheld rewards

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "street_points_policies",
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("adjustment_threshold", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["street_id"], ["areas.id"], name=op.f("fk_street_points_policies_street_id_areas")
        ),
        sa.PrimaryKeyConstraint("street_id", name=op.f("pk_street_points_policies")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=24), nullable=True))
    with op.batch_alter_table("ledger_owed_rewards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_owed_rewards", schema=None) as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_column("reason")
    op.drop_table("street_points_policies")

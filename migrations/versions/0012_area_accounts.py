"""every street and community gets the ledger accounts it keeps

Revision ID: 0012
Revises: 0011

A street made through the API had no issuance account and its communities no pools: the accounts
were opened only by the demo, or lazily when a reward or redemption first needed one, so a budget
could not be funded. Areas now open their accounts when they are made (market/ledger/accounts.py
`AREA_ACCOUNTS`); this gives the areas made before the accounts they lack. The keys are the
service's ("service:street_issuance:area:7"), so an account opened lazily is left as it is. The
downgrade leaves the accounts: they may hold points by then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (level, kind, asset, guarded): the copy of AREA_ACCOUNTS as it stands at this migration.
ACCOUNTS = [
    ("street", "street_issuance", "service", False),
    ("street", "redemption_sink", "service", False),
    ("street", "expiry_sink", "service", False),
    ("street", "street_issuance", "credit", False),
    ("community", "community_pool", "service", True),
]


def upgrade() -> None:
    connection = op.get_bind()
    areas = sa.table(
        "areas", sa.column("id", sa.Integer), sa.column("code", sa.String), sa.column("level", sa.String)
    )
    accounts = sa.table(
        "ledger_accounts",
        sa.column("key", sa.String),
        sa.column("asset", sa.String),
        sa.column("kind", sa.String),
        sa.column("user_id", sa.Integer),
        sa.column("area_id", sa.Integer),
        sa.column("area_code", sa.String),
        sa.column("debits_must_not_exceed_credits", sa.Boolean),
        sa.column("debits_pending", sa.BigInteger),
        sa.column("debits_posted", sa.BigInteger),
        sa.column("credits_pending", sa.BigInteger),
        sa.column("credits_posted", sa.BigInteger),
        sa.column("created_at", sa.DateTime),
    )
    existing = set(connection.scalars(sa.select(accounts.c.key)))
    for level, kind, asset, guarded in ACCOUNTS:
        rows = connection.execute(
            sa.select(areas.c.id, areas.c.code).where(areas.c.level == level).order_by(areas.c.id)
        )
        for area_id, code in rows.all():
            key = f"{asset}:{kind}:area:{area_id}"
            if key in existing:
                continue
            connection.execute(
                accounts.insert().values(
                    key=key,
                    asset=asset,
                    kind=kind,
                    user_id=None,
                    area_id=area_id,
                    area_code=code,
                    debits_must_not_exceed_credits=guarded,
                    debits_pending=0,
                    debits_posted=0,
                    credits_pending=0,
                    credits_posted=0,
                    created_at=sa.func.now(),
                )
            )


def downgrade() -> None:
    pass

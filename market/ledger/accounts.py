"""The accounts of areas: opened with the area (market/areas/service.py `add_area`), and found or
opened by key wherever the ledger needs one. Below the ledger's service, so that the areas service
can open them without importing the rest of the ledger."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel
from market.db import upsert
from market.ledger.models import Account, AccountKind, Asset

# Accounts that hold spendable value may not go below zero.
GUARDED_KINDS = frozenset({AccountKind.member, AccountKind.unit, AccountKind.community_pool})


async def get_or_create_account(session: AsyncSession, key: str, **values: object) -> Account:
    account = await session.scalar(select(Account).where(Account.key == key))
    if account is not None:
        return account
    await session.execute(
        upsert(session, Account)
        .values(key=key, debits_pending=0, debits_posted=0, credits_pending=0, credits_posted=0, **values)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return await session.scalar(select(Account).where(Account.key == key))


async def area_account(session: AsyncSession, area: Area, kind: AccountKind, asset: Asset) -> Account:
    """The street's issuance and sink accounts, a community's pool."""
    return await get_or_create_account(
        session,
        f"{asset}:{kind}:area:{area.id}",
        asset=asset,
        kind=kind,
        area_id=area.id,
        area_code=area.code,
        user_id=None,
        debits_must_not_exceed_credits=kind in GUARDED_KINDS,
        created_at=func.now(),
    )


# The accounts every area of a level has from the moment it is made (migration 0012 gave them to the
# areas made before): a street issues points into its communities' pools, takes redeemed and expired
# points into its sinks, and issues credit points to co-building units; a community pays rewards
# from its pool. Other accounts (members', units') open when first used.
AREA_ACCOUNTS: dict[AreaLevel, tuple[tuple[AccountKind, Asset], ...]] = {
    AreaLevel.street: (
        (AccountKind.street_issuance, Asset.service),
        (AccountKind.redemption_sink, Asset.service),
        (AccountKind.expiry_sink, Asset.service),
        (AccountKind.street_issuance, Asset.credit),
    ),
    AreaLevel.community: ((AccountKind.community_pool, Asset.service),),
}


async def open_area_accounts(session: AsyncSession, area: Area) -> list[Account]:
    """Open the accounts an area of its level keeps (none below a community); idempotent."""
    return [
        await area_account(session, area, kind, asset) for kind, asset in AREA_ACCOUNTS.get(area.level, ())
    ]

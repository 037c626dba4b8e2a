"""Postings that meet at the same moment: they neither deadlock nor squeeze past a cap.

Every posting locks all its accounts once, in id order, before it reads what it decides on (the
month's gifts, the day's rewards); the engine takes the same locks again. On SQLite every write
transaction is serialised (BEGIN IMMEDIATE); on PostgreSQL (MARKET_TEST_DATABASE_URL) these run
in parallel under row locks.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.access import Actor
from market.auth.models import Role
from market.clock import FrozenClock
from market.ledger.engine import Draft
from market.ledger.models import Account, AccountKind, Asset, PointsPolicy, Transfer, TransferCode
from market.ledger.service import area_account, member_account, transfer_one
from market.orders import service as orders
from market.orders.schemas import ConfirmRequest
from tests.test_rewards import served_order, set_policy
from tests.world import World

GIFT_ROUNDS = 40  # each round sends A→B and B→A at once: 80 gifts


@pytest.fixture
def clock() -> FrozenClock:
    # Mid-morning, mid-month in Asia/Shanghai: no cap straddles a day or a month by accident.
    return FrozenClock(datetime(2030, 3, 12, 1, 0, tzinfo=UTC))


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def _fund_members(
    session_maker: async_sessionmaker[AsyncSession], world: World, amount: int, *names: str
) -> dict[str, int]:
    async with session_maker() as session, session.begin():
        issuance = await area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
        accounts = {name: (await member_account(session, world.id(name))).id for name in names}
        drafts = [
            Draft(
                id="budget",
                debit_account_id=issuance.id,
                credit_account_id=pool.id,
                amount=10**6,
                code=TransferCode.budget,
            ),
            *(
                Draft(
                    id=f"fund-{name}",
                    debit_account_id=pool.id,
                    credit_account_id=account,
                    amount=amount,
                    code=TransferCode.adjustment,
                )
                for name, account in accounts.items()
            ),
        ]
        for draft in drafts:
            result = await transfer_one(session, draft, world.now, world.settings.tz)
            assert result.result == "created", result
    return accounts


async def test_gifts_both_ways_at_once_never_deadlock(
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    accounts = await _fund_members(session_maker, world, 1000, "resident", "resident_b")
    # Each gift is 1 point and the monthly limit is far away: every gift must go through.
    async with session_maker() as session, session.begin():
        session.add(PointsPolicy(community_id=world.areas["c1"].id, gift_max=10, gift_monthly_max=10_000))

    async def gift(sender: str, to: str) -> httpx.Response:
        return await racing.post(
            "/api/ledger/gifts", json={"to_user_id": world.id(to), "amount": 1}, headers=world.auth(sender)
        )

    statuses: Counter[int] = Counter()
    for _ in range(GIFT_ROUNDS):
        responses = await asyncio.gather(gift("resident", "resident_b"), gift("resident_b", "resident"))
        statuses.update(r.status_code for r in responses)
        assert all(r.status_code == 201 for r in responses), [r.text for r in responses]

    assert statuses == {201: 2 * GIFT_ROUNDS}
    async with session_maker() as session:
        balances = {
            a.id: a.balance
            for a in await session.scalars(select(Account).where(Account.id.in_(accounts.values())))
        }
    assert sorted(balances.values()) == [1000, 1000]


async def test_a_confirmation_and_the_auto_confirm_job_at_once_stay_under_the_daily_cap(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    # Funds the pool; the volunteer's account exists already, as it does after a first reward.
    await _fund_members(session_maker, world, 1, "volunteer")
    await set_policy(client, world, default_rate=10, daily_cap=60, monthly_cap=1000)
    # The job's order comes first (lower id), so that the job does not wait on the resident's order.
    by_job = await served_order(client, world, clock, 4.5)
    by_resident = await served_order(client, world, clock, 4.5)
    clock.advance(timedelta(days=7))  # the first is due for auto-confirmation; both are paid today
    now, tz = clock(), world.settings.tz
    resident = Actor(
        id=world.id("resident"),
        name="Resident",
        roles=frozenset({Role.resident}),
        area_id=world.areas["c1_building"].id,
        area_code=world.areas["c1_building"].code,
    )

    async with session_maker() as confirming:
        await confirming.begin()
        await orders.confirm(confirming, resident, by_resident, ConfirmRequest(rating=5), now, tz)
        # The job runs while the resident's confirmation is not yet committed.
        job = asyncio.create_task(_auto_confirm(session_maker, now, tz))
        await asyncio.sleep(1.0)
        await confirming.commit()
    assert await job == 1

    async with session_maker() as session:
        paid = {
            t.reference: t.amount
            for t in await session.scalars(
                select(Transfer).where(Transfer.code == TransferCode.service_reward)
            )
        }
    assert paid == {f"order:{by_resident}": 45, f"order:{by_job}": 15}


async def _auto_confirm(session_maker: async_sessionmaker[AsyncSession], now: datetime, tz: ZoneInfo) -> int:
    async with session_maker() as session, session.begin():
        return await orders.auto_confirm_orders(session, now, tz, 7)

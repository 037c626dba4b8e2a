"""Points expire by the community's policy: credits are lots, spending takes the earliest-expiring first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import Account, AccountKind, Asset, ExpiryPolicy, Lot, PointsPolicy, TransferCode
from tests.world import World

TZ = ZoneInfo("Asia/Shanghai")


def policy(expiry: ExpiryPolicy, months: int | None = None) -> PointsPolicy:
    return PointsPolicy(
        community_id=1,
        rates={},
        default_rate=10,
        daily_cap=100,
        monthly_cap=1000,
        expiry=expiry,
        expiry_months=months,
        gift_max=1,
        gift_monthly_max=1,
    )


@pytest.mark.parametrize(
    ("earned", "rule", "expires"),
    [
        (datetime(2026, 3, 5, 10, tzinfo=TZ), policy(ExpiryPolicy.none), None),
        (
            datetime(2026, 3, 5, 10, tzinfo=TZ),
            policy(ExpiryPolicy.end_of_next_year),
            datetime(2028, 1, 1, tzinfo=TZ),
        ),
        # 23:30 UTC on 31 December is already 1 January in Beijing: the local year counts.
        (
            datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
            policy(ExpiryPolicy.end_of_next_year),
            datetime(2029, 1, 1, tzinfo=TZ),
        ),
        (
            datetime(2026, 8, 31, 9, tzinfo=TZ),
            policy(ExpiryPolicy.months, 6),
            datetime(2027, 3, 1, tzinfo=TZ),
        ),
        (
            datetime(2026, 1, 15, 9, tzinfo=TZ),
            policy(ExpiryPolicy.months, 12),
            datetime(2027, 1, 16, tzinfo=TZ),
        ),
    ],
)
def test_when_a_lot_expires(earned: datetime, rule: PointsPolicy, expires: datetime | None) -> None:
    assert ledger.lot_expires_at(rule, earned, TZ) == expires


async def _setup(session: AsyncSession, world: World, months: int) -> tuple[Account, Account, Account]:
    session.add(
        PointsPolicy(
            community_id=world.areas["c1"].id,
            rates={},
            default_rate=10,
            daily_cap=100,
            monthly_cap=1000,
            expiry=ExpiryPolicy.months,
            expiry_months=months,
            gift_max=100,
            gift_monthly_max=500,
        )
    )
    issuance = await ledger.area_account(
        session, world.areas["street"], AccountKind.street_issuance, Asset.service
    )
    pool = await ledger.area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
    member = await ledger.member_account(session, world.id("volunteer"))
    await ledger.transfer(
        session,
        [
            Draft(
                id="budget",
                debit_account_id=issuance.id,
                credit_account_id=pool.id,
                amount=10_000,
                code=TransferCode.budget,
            )
        ],
        world.now,
        TZ,
    )
    return pool, member, issuance


async def _pay(
    session: AsyncSession, transfer_id: str, pool: Account, member: Account, amount: int, at: datetime
) -> None:
    (result,) = await ledger.transfer(
        session,
        [
            Draft(
                id=transfer_id,
                debit_account_id=pool.id,
                credit_account_id=member.id,
                amount=amount,
                code=TransferCode.service_reward,
            )
        ],
        at,
        TZ,
    )
    assert result.result == "created"


async def test_spending_takes_the_earliest_expiring_points_and_the_job_expires_the_rest(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    t0 = world.now
    async with session_maker() as session, session.begin():
        pool, member, _ = await _setup(session, world, months=1)
        await _pay(session, "early", pool, member, 100, t0)
        await _pay(session, "late", pool, member, 50, t0 + timedelta(days=20))
        sink = await ledger.area_account(
            session, world.areas["street"], AccountKind.redemption_sink, Asset.service
        )
        (spent,) = await ledger.transfer(
            session,
            [
                Draft(
                    id="spend",
                    debit_account_id=member.id,
                    credit_account_id=sink.id,
                    amount=30,
                    code=TransferCode.redemption,
                )
            ],
            t0 + timedelta(days=21),
            TZ,
        )
        assert spent.result == "created"
        lots = {lot.transfer_id: lot.remaining for lot in await session.scalars(select(Lot))}
        assert lots == {"early": 70, "late": 50}

    # A month and a day after the first lot: it has expired, the second has not.
    later = t0 + timedelta(days=32)
    async with session_maker() as session, session.begin():
        assert await ledger.expire_points(session, later, TZ) == 1
    async with session_maker() as session, session.begin():
        assert await ledger.expire_points(session, later, TZ) == 0  # nothing twice
        member = await session.get(Account, member.id)
        assert member.available == 50
        expiry_sink = await ledger.area_account(
            session, world.areas["street"], AccountKind.expiry_sink, Asset.service
        )
        assert expiry_sink.credits_posted == 70
        assert (await ledger.trial_balance(session, Asset.service, journal=True)).balanced


async def test_points_held_by_a_pending_redemption_do_not_expire_until_it_is_released(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    t0 = world.now
    async with session_maker() as session, session.begin():
        pool, member, _ = await _setup(session, world, months=1)
        await _pay(session, "earned", pool, member, 100, t0)
        sink = await ledger.area_account(
            session, world.areas["street"], AccountKind.redemption_sink, Asset.service
        )
        (held,) = await ledger.transfer(
            session,
            [
                Draft(
                    id="hold",
                    debit_account_id=member.id,
                    credit_account_id=sink.id,
                    amount=80,
                    code=TransferCode.redemption,
                    pending=True,
                )
            ],
            t0,
            TZ,
        )
        assert held.result == "created"
    later = t0 + timedelta(days=40)
    async with session_maker() as session, session.begin():
        await ledger.expire_points(session, later, TZ)
        assert (await session.get(Account, member.id)).available == 0  # the free 20 expired
    async with session_maker() as session, session.begin():
        (void,) = await ledger.transfer(
            session, [Draft(id="release", void_pending=True, pending_id="hold")], later, TZ
        )
        assert void.result == "created"
    async with session_maker() as session, session.begin():
        # The released 80 come back to an expired lot, so the next run expires them too.
        assert await ledger.expire_points(session, later + timedelta(minutes=1), TZ) == 1
        member = await session.get(Account, member.id)
        assert (member.balance, member.available) == (0, 0)
        assert (await ledger.trial_balance(session, Asset.service, journal=True)).balanced


async def test_credit_points_never_expire(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    async with session_maker() as session, session.begin():
        await _setup(session, world, months=1)
        issuance = await ledger.area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.credit
        )
        pool = await ledger.area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.credit)
        member = await ledger.member_account(session, world.id("resident"), Asset.credit)
        results = await ledger.transfer(
            session,
            [
                Draft(
                    id="credit-budget",
                    debit_account_id=issuance.id,
                    credit_account_id=pool.id,
                    amount=100,
                    code=TransferCode.budget,
                ),
                Draft(
                    id="meeting",
                    debit_account_id=pool.id,
                    credit_account_id=member.id,
                    amount=5,
                    code=TransferCode.adjustment,
                    memo="residents' meeting",
                ),
            ],
            world.now,
            TZ,
        )
        assert [r.result for r in results] == ["created", "created"]
    async with session_maker() as session, session.begin():
        assert await ledger.expire_points(session, world.now + timedelta(days=3650), TZ) == 0
        assert (await session.get(Account, member.id)).available == 5


async def test_a_day_s_credits_share_one_lot_and_a_reversal_takes_back_from_it(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    t0 = world.now
    # Nine and one minute past nine, local time, five days on: one Shanghai day whatever the clock.
    day = (t0 + timedelta(days=5)).astimezone(TZ).replace(hour=9, minute=0, second=0, microsecond=0)
    async with session_maker() as session, session.begin():
        pool, member, _ = await _setup(session, world, months=1)
        await _pay(session, "old", pool, member, 100, t0)
        await _pay(session, "a", pool, member, 10, day)
        await _pay(session, "b", pool, member, 20, day + timedelta(minutes=1))
        lots = {lot.transfer_id: (lot.amount, lot.remaining) for lot in await session.scalars(select(Lot))}
        assert lots == {"old": (100, 100), "a": (30, 30)}  # "b" expires the same day as "a"
        (reversed_,) = await ledger.transfer(
            session,
            [
                Draft(
                    id="~reversal:b",
                    debit_account_id=member.id,
                    credit_account_id=pool.id,
                    amount=20,
                    code=TransferCode.reversal,
                    reversal_of="b",
                )
            ],
            t0 + timedelta(days=6),
            TZ,
        )
        assert reversed_.result == "created"
        # The points "b" credited come back out of the lot they went to, not the earliest-expiring one.
        lots = {lot.transfer_id: lot.remaining for lot in await session.scalars(select(Lot))}
        assert lots == {"old": 100, "a": 10}

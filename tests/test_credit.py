"""Resident credit (信用积分): compact entries capped per resident and month (the month in
Asia/Shanghai), credit for taking part in a closed project posted once, all on the ledger's
credit asset and shown on the resident's record."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.credit.service import COMPACT_MONTHLY_CAP, PROJECT_CREDIT, WISH_CREDIT, award_credit
from market.ledger.models import Account, Asset, Transfer, TransferCode
from tests.test_authorization import assert_problem, call, ok
from tests.test_party import project_hours
from tests.test_wishes import act, balance, fund_pool, post_wish
from tests.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")


def entry(points: int, reason: str = "environment") -> dict:
    return {"reason": reason, "memo": "清理楼道杂物", "points": points}


async def test_compact_credit_is_capped_per_resident_and_month_in_shanghai(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    assert COMPACT_MONTHLY_CAP == 20
    # Half past eleven on the last night of March, Beijing time.
    clock.now = datetime(2026, 3, 31, 23, 30, tzinfo=SHANGHAI)
    path = f"/api/credit/compact/{world.id('resident')}"
    await ok(client, world, "manager", "POST", path, entry(10))
    await ok(client, world, "grid_worker", "POST", path, entry(10, "civility"))
    r = await call(client, world, "manager", "POST", path, entry(1))
    assert_problem(r, 409, {"credit_monthly_cap"})
    assert r.json()["remaining"] == 0
    # Another resident has their own cap.
    await ok(client, world, "manager", "POST", f"/api/credit/compact/{world.id('resident_b')}", entry(10))

    # An hour later it is April in Shanghai (still 31 March in UTC): a new month, a new cap.
    clock.advance(timedelta(hours=1))
    april = await ok(client, world, "manager", "POST", path, entry(10))
    assert april["month"] == "2026-04"

    record = await ok(client, world, "resident", "GET", "/api/credit/me")
    assert record["balance"] == 30
    assert [(e["month"], e["points"], e["source"]) for e in record["entries"]] == [
        ("2026-04", 10, "compact"),
        ("2026-03", 10, "compact"),
        ("2026-03", 10, "compact"),
    ]


async def test_compact_entries_are_checked_and_scoped(client: AsyncTestClient, world: World) -> None:
    path = f"/api/credit/compact/{world.id('resident')}"
    assert_problem(await call(client, world, "manager", "POST", path, entry(11)), 400)
    assert_problem(await call(client, world, "manager", "POST", path, {**entry(5), "memo": ""}), 400)
    assert_problem(await call(client, world, "manager_c2", "POST", path, entry(5)), 404, {"user_not_found"})
    assert_problem(await call(client, world, "resident_b", "POST", path, entry(5)), 403, {"role_required"})
    assert_problem(await call(client, world, "unit_admin", "POST", path, entry(5)), 403, {"role_required"})
    own = f"/api/credit/compact/{world.id('manager')}"
    assert_problem(
        await call(client, world, "manager", "POST", own, entry(5)), 403, {"own_account", "user_not_found"}
    )
    assert (await ok(client, world, "resident", "GET", "/api/credit/me"))["balance"] == 0


async def test_taking_part_in_a_closed_project_is_credited_once_through_the_ledger(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await project_hours(session_maker, world, {"volunteer": 20, "volunteer_b": 0})
    for _ in range(2):
        async with session_maker() as session, session.begin():
            await award_credit(session, world.clock(), world.settings.tz)

    record = await ok(client, world, "volunteer", "GET", "/api/credit/me")
    assert record["balance"] == PROJECT_CREDIT
    assert [(e["source"], e["points"]) for e in record["entries"]] == [("project", PROJECT_CREDIT)]
    # Nobody who recorded no hours.
    assert (await ok(client, world, "volunteer_b", "GET", "/api/credit/me"))["balance"] == 0
    async with session_maker() as session:
        account = await session.scalar(
            select(Account).where(Account.user_id == world.id("volunteer"), Account.asset == Asset.credit)
        )
        assert account is not None and account.credits_posted == PROJECT_CREDIT and account.debits_posted == 0
        posted = await session.scalar(
            select(func.count(Transfer.id)).where(Transfer.code == TransferCode.resident_credit)
        )
        assert posted == 1

    roll = await ok(client, world, "manager", "GET", f"/api/credit/roll?community_id={world.areas['c1'].id}")
    assert [(r["user_id"], r["points"]) for r in roll] == [(world.id("volunteer"), PROJECT_CREDIT)]
    r = await call(
        client, world, "manager_c2", "GET", f"/api/credit/roll?community_id={world.areas['c1'].id}"
    )
    assert_problem(r, 403, {"outside_your_area"})
    r = await call(client, world, "resident", "GET", f"/api/credit/roll?community_id={world.areas['c1'].id}")
    assert_problem(r, 403, {"role_required"})


async def test_fulfilling_a_wish_is_credited_once_and_its_service_points_stay_apart(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await fund_pool(session_maker, world)
    wish_id = await post_wish(client, world)
    for who, action in (("volunteer", "claim"), ("volunteer", "fulfil"), ("resident", "confirm")):
        r = await act(client, world, who, wish_id, action, note="好")
        assert r.status_code == 200, r.text
    service_before = await balance(session_maker, world.id("volunteer"))
    for _ in range(2):
        async with session_maker() as session, session.begin():
            await award_credit(session, world.clock(), world.settings.tz)

    record = await ok(client, world, "volunteer", "GET", "/api/credit/me")
    assert [(e["source"], e["subject_id"], e["points"]) for e in record["entries"]] == [
        ("wish", wish_id, WISH_CREDIT)
    ]
    assert record["balance"] == WISH_CREDIT
    # Credit points are a record on their own asset: the spendable service points are unchanged.
    assert await balance(session_maker, world.id("volunteer")) == service_before

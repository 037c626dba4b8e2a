"""The desk's report figures (GET /api/reports/summary) over a known street.

The scenario (`build_scenario`) puts transfers on both sides of local month
boundaries (Beijing time is UTC+8) and takes orders through the API with the
clock moved step by step, so every figure is known exactly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area, AreaLevel
from market.clock import FrozenClock
from market.followups.models import FollowUp, FollowUpOutcome, FollowUpReason
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, TransferCode
from market.ledger.service import area_account, member_account, transfer_one
from market.orders.models import Order
from market.reports.models import PointsMonth
from market.scheduler import jobs, run_job
from tests.world import World, add_neighbours

# Monday 10 March 2025, 10:00 in Beijing.
NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
# The figures community 1's manager sees over the last three months.
C1_POINTS = [
    {"month": "2025-01", "issued": 15, "redeemed": 0},
    {"month": "2025-02", "issued": 30, "redeemed": 0},
    # A wish reward (20) and the service rewards of orders A (1 h × 10) and B (20 min × 10 → 3).
    {"month": "2025-03", "issued": 33, "redeemed": 25},
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _transfers(session: AsyncSession, world: World) -> None:
    tz = world.settings.tz
    street, c1, c2 = world.areas["street"], world.areas["c1"], world.areas["c2"]
    issuance = await area_account(session, street, AccountKind.street_issuance, Asset.service)
    pool = await area_account(session, c1, AccountKind.community_pool, Asset.service)
    pool_c2 = await area_account(session, c2, AccountKind.community_pool, Asset.service)
    sink = await area_account(session, street, AccountKind.redemption_sink, Asset.service)
    vol, vol_b, vol_c2 = [
        (await member_account(session, world.id(n))).id for n in ("volunteer", "volunteer_b", "volunteer_c2")
    ]

    async def move(
        tid: str,
        when: str,
        debit: int | None = None,
        credit: int | None = None,
        amount: int | None = None,
        code: TransferCode | None = None,
        **flags: Any,
    ) -> None:
        draft = Draft(
            id=tid, debit_account_id=debit, credit_account_id=credit, amount=amount, code=code, **flags
        )
        result = await transfer_one(session, draft, at(when), tz)
        assert result.result == "created", (tid, result)

    await move("budget-c1", "2024-11-01T00:00:00", issuance.id, pool.id, 10_000, TransferCode.budget)
    await move("budget-c2", "2024-11-01T00:00:00", issuance.id, pool_c2.id, 1_000, TransferCode.budget)
    reward = TransferCode.service_reward
    await move("r-dec", "2024-12-15T00:00:00", pool.id, vol, 40, reward)
    # 15:59:59 UTC on 31 January is still January in Beijing; 16:00 is 1 February.
    await move("r-jan", "2025-01-31T15:59:59", pool.id, vol_b, 15, TransferCode.project_reward)
    await move("r-feb", "2025-01-31T16:00:00", pool.id, vol, 30, reward)
    await move("r-mar", "2025-03-01T00:00:00", pool.id, vol, 20, TransferCode.wish_reward)
    await move("r-c2", "2025-03-02T00:00:00", pool_c2.id, vol_c2, 50, reward)
    # Not a reward: an adjustment by a manager.
    await move("adj", "2025-03-02T00:00:00", pool.id, vol, 7, TransferCode.adjustment)
    # Redemptions count when posted at pickup; held and released ones do not.
    redemption = TransferCode.redemption
    await move("red-1", "2025-02-20T00:00:00", vol, sink.id, 25, redemption, pending=True)
    await move("red-1:post", "2025-03-05T00:00:00", post_pending=True, pending_id="red-1")
    await move("red-2", "2025-02-21T00:00:00", vol_b, sink.id, 5, redemption, pending=True)
    await move("red-2:void", "2025-02-22T00:00:00", void_pending=True, pending_id="red-2")
    await move("red-3", "2025-03-06T00:00:00", vol, sink.id, 3, redemption, pending=True)
    await move("red-c2", "2025-03-06T00:00:00", vol_c2, sink.id, 10, redemption, pending=True)
    await move("red-c2:post", "2025-03-06T01:00:00", post_pending=True, pending_id="red-c2")


async def _order(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    resident: str,
    category: str,
    steps: Sequence[tuple[int, str]] = (),
    volunteer: str = "volunteer",
    rating: int | None = None,
    dispatcher: str = "grid_worker",
    **body_overrides: Any,
) -> int:
    """Post an order now, then take each step at its minute after posting."""
    posted = clock.now
    # Check-in opens 30 minutes before the window: at posting.
    window = {"window_start": posted + timedelta(minutes=30), "window_end": posted + timedelta(hours=8)}
    body = world.order_body(
        resident, category=category, **{k: v.isoformat() for k, v in window.items()}, **body_overrides
    )
    r = await client.post("/api/orders", json=body, headers=world.auth(resident))
    assert r.status_code == 201, r.text
    order = r.json()["id"]
    for minute, step in steps:
        clock.now = posted + timedelta(minutes=minute)
        if step == "dispatch":
            path, who, json = (
                "dispatch",
                dispatcher,
                {"volunteer_ids": [world.id(volunteer)], "mode": "direct"},
            )
        elif step == "accept":
            offers = (await client.get("/api/offers?status=pending", headers=world.auth(volunteer))).json()
            offer = next(o["id"] for o in offers["items"] if o["order_id"] == order)
            r = await client.post(f"/api/offers/{offer}/accept", headers=world.auth(volunteer))
            assert r.status_code == 200, r.text
            continue
        elif step in ("check-in", "check-out"):
            path, who, json = step, volunteer, None
        elif step == "complete":
            path, who, json = step, volunteer, {"note": "done"}
        elif step == "confirm":
            path, who, json = step, resident, {"rating": rating}
        else:
            path, who, json = step, resident, {"reason": "not needed any more"}
        r = await client.post(f"/api/orders/{order}/{path}", json=json, headers=world.auth(who))
        assert r.status_code == 200, (step, r.text)
    return order


SERVED = ["dispatch", "accept", "check-in", "check-out", "complete", "confirm"]


async def build_scenario(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    async with session_maker() as session, session.begin():
        await _transfers(session, world)
    # Order G, posted in February, still waiting.
    clock.now = at("2025-02-20T02:00:00")
    await _order(client, world, clock, "resident_b", "shopping")
    clock.now = NOW
    # A: accepted after 30 minutes, completed 100 minutes later, rated 5.
    await _order(
        client,
        world,
        clock,
        "resident",
        "escort",
        list(zip([1, 30, 60, 120, 130, 140], SERVED, strict=True)),
        rating=5,
    )
    # B: accepted after 10 minutes, completed 50 minutes later, rated 3.
    await _order(
        client,
        world,
        clock,
        "resident_b",
        "shopping",
        list(zip([1, 10, 20, 40, 60, 70], SERVED, strict=True)),
        "volunteer_b",
        3,
    )
    # C: accepted after 20 minutes, not yet served.
    await _order(client, world, clock, "resident", "escort", [(1, "dispatch"), (20, "accept")], "volunteer_c")
    # D: cancelled by its resident.
    await _order(client, world, clock, "resident", "escort", [(5, "cancel")])
    # E: in community 2.
    await _order(client, world, clock, "resident_c2", "escort")


@pytest.fixture
async def scenario(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> World:
    await build_scenario(client, world, clock, session_maker)
    return world


async def summary(client: AsyncTestClient, world: World, who: str, **query: Any) -> dict[str, Any]:
    r = await client.get("/api/reports/summary", params=query, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def counts(items: list[dict[str, Any]], key: str) -> dict[str, int]:
    return {item[key]: item["count"] for item in items if item["count"]}


async def test_a_community_manager_sees_the_figures_of_their_community(
    client: AsyncTestClient, scenario: World
) -> None:
    report = await summary(client, scenario, "manager", months=3)
    assert report["area_id"] == scenario.areas["c1"].id
    assert report["since"] == "2024-12-31T16:00:00Z"  # 1 January, Beijing time
    assert report["points"] == C1_POINTS
    assert report["orders"] == 5
    assert counts(report["orders_by_status"], "status") == {
        "submitted": 1,
        "accepted": 1,
        "confirmed": 2,
        "cancelled": 1,
    }
    assert [s["status"] for s in report["orders_by_status"]][:2] == ["submitted", "dispatched"]
    assert [(c["code"], c["count"]) for c in report["orders_by_category"]] == [("escort", 3), ("shopping", 2)]
    assert report["orders_by_category"][0]["name_en"]
    # To accept: 30, 10 and 20 minutes; to finish: 100 and 50.
    assert report["timings"] == {
        "median_minutes_to_accept": 20.0,
        "accepted": 3,
        "median_minutes_to_finish": 75.0,
        "finished": 2,
    }
    assert report["satisfaction"] == {
        "ratings": [{"rating": r, "count": {3: 1, 5: 1}.get(r, 0)} for r in range(1, 6)],
        "rated": 2,
        "mean": 4.0,
    }


async def test_the_period_is_whole_local_months_up_to_now(client: AsyncTestClient, scenario: World) -> None:
    report = await summary(client, scenario, "manager", months=1)
    assert report["points"] == C1_POINTS[-1:]
    assert report["orders"] == 4, "order G was posted in February"
    assert counts(report["orders_by_category"], "code") == {"escort": 3, "shopping": 1}


async def test_a_street_admin_sees_the_whole_street_or_one_community(
    client: AsyncTestClient, scenario: World
) -> None:
    report = await summary(client, scenario, "street_admin", months=4)
    assert report["area_id"] == scenario.areas["street"].id
    assert report["points"] == [
        {"month": "2024-12", "issued": 40, "redeemed": 0},
        *C1_POINTS[:2],
        {"month": "2025-03", "issued": 83, "redeemed": 35},
    ]
    assert report["orders"] == 6
    community = await summary(client, scenario, "street_admin", months=3, area_id=scenario.areas["c2"].id)
    assert [p["issued"] for p in community["points"]] == [0, 0, 50]
    assert [p["redeemed"] for p in community["points"]] == [0, 0, 10]
    assert counts(community["orders_by_status"], "status") == {"submitted": 1}
    assert community["timings"]["median_minutes_to_accept"] is None
    assert community["satisfaction"]["mean"] is None


async def test_the_default_period_is_twelve_months_and_admins_see_everything(
    client: AsyncTestClient, scenario: World
) -> None:
    report = await summary(client, scenario, "admin")
    assert report["area_id"] is None and report["months"] == 12
    assert report["points"][0]["month"] == "2024-04"
    assert sum(p["issued"] for p in report["points"]) == 40 + 15 + 30 + 83


async def roll_up(world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]) -> int:
    job = jobs(world.settings)["roll_up_points"][0]
    run = await run_job(session_maker, clock, "roll_up_points", job)
    assert run.outcome == "succeeded", run.error
    return run.handled


async def test_ended_months_are_rolled_up_once_and_read_the_same(
    client: AsyncTestClient,
    scenario: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    readers = [("manager", {"months": 3}), ("street_admin", {"months": 4}), ("admin", {"months": 24})]
    readers.append(("street_admin", {"months": 3, "area_id": scenario.areas["c2"].id}))
    before = [await summary(client, scenario, who, **query) for who, query in readers]
    # Every ended month of the last 24 (April 2023 to February 2025), not March, which is still going.
    assert await roll_up(scenario, clock, session_maker) == 23
    assert await roll_up(scenario, clock, session_maker) == 0
    async with session_maker() as session:
        rows = (await session.scalars(select(PointsMonth))).all()
    assert {r.month for r in rows if r.area_code == ""} == {f"{y}-{m:02}" for y, m in _months(2023, 4, 23)}
    assert "2025-03" not in {r.month for r in rows}
    assert [await summary(client, scenario, who, **query) for who, query in readers] == before


def _months(year: int, month: int, count: int) -> list[tuple[int, int]]:
    index = year * 12 + month - 1
    return [(i // 12, i % 12 + 1) for i in range(index, index + count)]


async def test_the_summary_reads_rolled_up_months_and_the_transfers_after_them(
    client: AsyncTestClient,
    scenario: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await roll_up(scenario, clock, session_maker)
    # A rolled-up month's sums are what the summary shows for it (here altered to tell them apart).
    async with session_maker() as session, session.begin():
        await session.execute(
            update(PointsMonth).where(PointsMonth.month == "2025-02").values(issued=PointsMonth.issued + 1000)
        )
    report = await summary(client, scenario, "manager", months=3)
    assert report["points"] == [C1_POINTS[0], {**C1_POINTS[1], "issued": 1030}, C1_POINTS[2]]


async def test_a_month_is_rolled_up_an_hour_after_it_ends(
    client: AsyncTestClient,
    scenario: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    clock.now = at("2025-03-31T16:59:59")  # 00:59:59 on 1 April in Beijing: March ended under an hour ago
    await roll_up(scenario, clock, session_maker)
    march = select(PointsMonth).where(PointsMonth.month == "2025-03")
    async with session_maker() as session:
        assert (await session.scalars(march)).all() == []
    clock.now = at("2025-03-31T17:00:00")
    assert await roll_up(scenario, clock, session_maker) == 1
    async with session_maker() as session:
        rows = {(r.area_code, r.issued, r.redeemed) for r in await session.scalars(march)}
    c1, c2 = scenario.areas["c1"].code, scenario.areas["c2"].code
    assert sum(i for code, i, _ in rows if code.startswith(c1)) == 33
    assert sum(r for code, _, r in rows if code.startswith(c2)) == 10
    assert ("", 0, 0) in rows


async def test_only_managers_of_the_area_read_its_figures(client: AsyncTestClient, scenario: World) -> None:
    for who, status, code in [
        ("resident", 403, "role_required"),
        ("volunteer", 403, "role_required"),
        ("unit_admin", 403, "role_required"),
        ("manager_c2", 403, "outside_your_area"),
        ("grid_worker_c2", 403, "outside_your_area"),
    ]:
        r = await client.get(
            "/api/reports/summary", params={"area_id": scenario.areas["c1"].id}, headers=scenario.auth(who)
        )
        assert (r.status_code, r.json()["code"]) == (status, code), who
        assert r.headers["content-type"] == "application/problem+json"
    r = await client.get(
        "/api/reports/summary", params={"area_id": 999_999}, headers=scenario.auth("manager")
    )
    assert (r.status_code, r.json()["code"]) == (404, "area_not_found")


@pytest.mark.parametrize("months", ["0", "25", "twelve"])
async def test_months_out_of_range_is_a_problem_naming_the_field(
    client: AsyncTestClient, world: World, months: str
) -> None:
    r = await client.get("/api/reports/summary", params={"months": months}, headers=world.auth("manager"))
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "invalid_input"
    assert [e["field"] for e in body["errors"]] == ["months"]


# ---------------------------------------------------------------- how each grid is doing

# The figures are read two days after the March orders were posted.
READ_AT = NOW + timedelta(days=2)


async def build_grid_months(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """Orders in three grids: grid 1-1 (four in March, one in February), grid 1-2 (one, with a
    building of its own) and grid 2-1 (one, never taken)."""
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
        for key, code, level, parent in [
            ("g2_compound", "110105001001002001", AreaLevel.compound, "c1_grid2"),
            ("g2_building", "110105001001002001001", AreaLevel.building, "g2_compound"),
        ]:
            area = Area(code=code, name=key, level=level, parent_id=world.areas[parent].id)
            session.add(area)
            await session.flush()
            world.areas[key] = area
    # February: waiting still.
    clock.now = at("2025-02-20T02:00:00")
    await _order(client, world, clock, "resident_b", "shopping")
    clock.now = NOW
    # P1: accepted after 30 minutes, completed 100 minutes later, rated 5.
    await _order(
        client,
        world,
        clock,
        "resident",
        "escort",
        list(zip([1, 30, 60, 120, 130, 140], SERVED, strict=True)),
        rating=5,
    )
    # P2: offered after 70 minutes and accepted after 90 (past the hour), completed 60 minutes later, rated 4.
    await _order(
        client,
        world,
        clock,
        "resident",
        "escort",
        list(zip([70, 90, 100, 140, 150, 160], SERVED, strict=True)),
        rating=4,
    )
    # P3: never taken; P4: cancelled by its resident.
    await _order(client, world, clock, "resident_b", "shopping")
    await _order(client, world, clock, "resident_b", "shopping", [(5, "cancel")])
    # Q1 in grid 1-2: accepted after 10 minutes, completed 60 minutes later, rated 2.
    await _order(
        client,
        world,
        clock,
        "resident_b",
        "shopping",
        list(zip([1, 10, 20, 60, 70, 80], SERVED, strict=True)),
        "volunteer_b",
        2,
        dispatcher="manager",
        area_id=world.areas["g2_building"].id,
    )
    # R1 in grid 2-1: never taken.
    await _order(client, world, clock, "resident_c2", "escort")
    clock.now = READ_AT


@pytest.fixture
async def grid_months(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> World:
    await build_grid_months(client, world, clock, session_maker)
    return world


def kept(due: int, met: int, rate: float | None) -> list[int | float | None]:
    return [due, met, rate]


def deadlines(row: dict[str, Any]) -> list[list[Any]]:
    return [[d["due"], d["met"], d["rate"]] for d in row["on_time"]]


GRID_1_1 = {
    "rank": 2,
    "area_name": "Grid 1-1",
    "received": 4,
    "handled": 2,
    "resolution_rate": 0.5,
    "median_minutes_to_accept": 60.0,
    "median_minutes_to_finish": 80.0,
    "rated": 2,
    "mean_rating": 4.5,
    "good_rating_share": 1.0,
}
# Accepted within the hour: P1 only of P1, P2 and P3 (P4 was cancelled before anyone took it);
# within a day: P1 and P2; finished within three days: P1 and P2 (P3's three days have not passed).
GRID_1_1_KEPT = [kept(3, 1, 0.3333), kept(3, 2, 0.6667), kept(2, 2, 1.0)]
GRID_1_2 = {
    "rank": 1,
    "area_name": "Grid 1-2",
    "received": 1,
    "handled": 1,
    "resolution_rate": 1.0,
    "median_minutes_to_accept": 10.0,
    "median_minutes_to_finish": 60.0,
    "rated": 1,
    "mean_rating": 2.0,
    "good_rating_share": 0.0,
}
GRID_1_2_KEPT = [kept(1, 1, 1.0), kept(1, 1, 1.0), kept(1, 1, 1.0)]
GRID_2_1 = {
    "rank": 3,
    "area_name": "Grid 2-1",
    "received": 1,
    "handled": 0,
    "resolution_rate": 0.0,
    "median_minutes_to_accept": None,
    "median_minutes_to_finish": None,
    "rated": 0,
    "mean_rating": None,
    "good_rating_share": None,
}
GRID_2_1_KEPT = [kept(1, 0, 0.0), kept(1, 0, 0.0), kept(0, 0, None)]


async def areas_report(client: AsyncTestClient, world: World, who: str, **query: Any) -> dict[str, Any]:
    r = await client.get("/api/reports/areas", params=query, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def figures(row: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in like}


async def test_a_street_admin_ranks_every_grid_of_the_street(
    client: AsyncTestClient, grid_months: World
) -> None:
    report = await areas_report(client, grid_months, "street_admin", month="2025-03")
    assert (report["month"], report["level"], report["total"]) == ("2025-03", "grid", 3)
    assert report["area_id"] == grid_months.areas["street"].id
    grid_1_2, grid_1_1, grid_2_1 = report["items"]
    assert figures(grid_1_1, GRID_1_1) == GRID_1_1
    assert deadlines(grid_1_1) == GRID_1_1_KEPT
    assert [(d["level"], d["step"], d["within_minutes"]) for d in grid_1_1["on_time"]] == [
        ("grid", "accept", 60),
        ("community", "accept", 1440),
        ("street", "finish", 4320),
    ]
    assert figures(grid_1_2, GRID_1_2) == GRID_1_2
    assert deadlines(grid_1_2) == GRID_1_2_KEPT
    assert figures(grid_2_1, GRID_2_1) == GRID_2_1
    assert deadlines(grid_2_1) == GRID_2_1_KEPT
    assert grid_1_1["area_code"] == "110105001001001"


async def test_communities_add_up_their_grids(client: AsyncTestClient, grid_months: World) -> None:
    report = await areas_report(client, grid_months, "street_admin", month="2025-03", level="community")
    c1, c2 = report["items"]
    assert (c1["area_name"], c1["received"], c1["handled"], c1["resolution_rate"]) == (
        "Community 1",
        5,
        3,
        0.6,
    )
    assert deadlines(c1) == [kept(4, 2, 0.5), kept(4, 3, 0.75), kept(3, 3, 1.0)]
    # To accept: 10, 30, 90; to finish: 60, 60, 100; ratings 2, 4, 5.
    assert (c1["median_minutes_to_accept"], c1["median_minutes_to_finish"]) == (30.0, 60.0)
    assert (c1["rated"], c1["mean_rating"], c1["good_rating_share"]) == (3, 3.67, 0.6667)
    assert (c2["area_name"], c2["rank"], c2["received"]) == ("Community 2", 2, 1)


async def test_each_reader_sees_the_grids_of_their_own_area(
    client: AsyncTestClient, grid_months: World
) -> None:
    manager = await areas_report(client, grid_months, "manager", month="2025-03")
    assert manager["area_id"] == grid_months.areas["c1"].id
    assert [(r["rank"], r["area_name"]) for r in manager["items"]] == [(1, "Grid 1-2"), (2, "Grid 1-1")]
    worker = await areas_report(client, grid_months, "grid_worker", month="2025-03")
    assert [figures(r, GRID_1_1) for r in worker["items"]] == [{**GRID_1_1, "rank": 1}]
    # The other street's grid is its street admin's; none of its orders.
    other = await areas_report(client, grid_months, "street_admin_s2", month="2025-03")
    assert [(r["area_name"], r["received"], r["resolution_rate"]) for r in other["items"]] == [
        ("Rainy Grid", 0, None)
    ]
    # An administrator without a home area ranks every grid; those without orders come last.
    everyone = await areas_report(client, grid_months, "admin", month="2025-03")
    assert [r["area_name"] for r in everyone["items"]] == ["Grid 1-2", "Grid 1-1", "Grid 2-1", "Rainy Grid"]


async def test_complaints_and_follow_up_outcomes_count_by_the_month_of_the_order(
    client: AsyncTestClient, grid_months: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """Follow-ups as they stand: grid 1-1's two confirmed March orders, one a complaint not resolved
    and one a sample the resident was happy with, one open follow-up in grid 1-2, and one of the
    February order, which belongs to February's figures."""
    async with session_maker() as session, session.begin():
        await session.execute(delete(FollowUp))
        orders = {
            (order.area_code[:15], order.created_at.month, order.rating): order
            for order in await session.scalars(select(Order))
        }
        grid_1_1, grid_1_2 = "110105001001001", "110105001001002"
        made = {"recorded_at": READ_AT, "recorded_by_id": grid_months.id("grid_worker")}
        for order, reason, outcome in [
            (orders[grid_1_1, 3, 5], FollowUpReason.complaint, FollowUpOutcome.unresolved),
            (orders[grid_1_1, 3, 4], FollowUpReason.sample, FollowUpOutcome.satisfied),
            (orders[grid_1_2, 3, 2], FollowUpReason.low_rating, None),
            (orders[grid_1_1, 2, None], FollowUpReason.complaint, FollowUpOutcome.resolved),
        ]:
            session.add(
                FollowUp(
                    order_id=order.id,
                    area_code=order.area_code,
                    reason=reason,
                    created_at=READ_AT,
                    due_at=READ_AT + timedelta(days=3),
                    outcome=outcome,
                    **(made if outcome else {}),
                )
            )
    report = await areas_report(client, grid_months, "street_admin", month="2025-03")
    by_name = {row["area_name"]: row for row in report["items"]}
    nothing = {"satisfied": 0, "resolved": 0, "unresolved": 0, "unreachable": 0}
    assert by_name["Grid 1-1"]["complaints"] == 1
    assert by_name["Grid 1-1"]["followups"] == {
        "total": 2,
        "open": 0,
        **nothing,
        "satisfied": 1,
        "unresolved": 1,
    }
    assert by_name["Grid 1-2"]["complaints"] == 0
    assert by_name["Grid 1-2"]["followups"] == {"total": 1, "open": 1, **nothing}
    assert by_name["Grid 2-1"]["followups"] == {"total": 0, "open": 0, **nothing}
    february = await areas_report(client, grid_months, "street_admin", month="2025-02")
    grid = next(row for row in february["items"] if row["area_name"] == "Grid 1-1")
    assert (grid["complaints"], grid["followups"]["resolved"]) == (1, 1)
    community = await areas_report(client, grid_months, "street_admin", month="2025-03", level="community")
    assert community["items"][0]["followups"]["total"] == 3
    r = await client.get(
        "/api/reports/areas",
        params={"month": "2025-03", "format": "xlsx"},
        headers=grid_months.auth("manager"),
    )
    sheet = [[c.value for c in row] for row in load_workbook(io.BytesIO(r.content)).active.iter_rows()]
    # The follow-ups' columns, then the informants' (last).
    assert sheet[0][-1] == "reported_by_informants"
    columns = sheet[0][-8:-1]
    assert columns == [
        "complaints",
        "followups_total",
        "followups_open",
        "followups_satisfied",
        "followups_resolved",
        "followups_unresolved",
        "followups_unreachable",
    ]
    assert sheet[2][-8:] == [1, 2, 0, 1, 0, 1, 0, 0]


async def test_a_month_counts_the_orders_posted_in_it(client: AsyncTestClient, grid_months: World) -> None:
    february = await areas_report(client, grid_months, "manager", month="2025-02")
    grid_1_1 = next(r for r in february["items"] if r["area_name"] == "Grid 1-1")
    assert (grid_1_1["received"], grid_1_1["handled"], grid_1_1["resolution_rate"]) == (1, 0, 0.0)
    # Still waiting 18 days later: past both deadlines to accept and the one to finish.
    assert deadlines(grid_1_1) == [kept(1, 0, 0.0), kept(1, 0, 0.0), kept(1, 0, 0.0)]
    # Without a month: the month of now (READ_AT is in March).
    assert (await areas_report(client, grid_months, "manager"))["month"] == "2025-03"


async def test_the_ranking_is_paged(client: AsyncTestClient, grid_months: World) -> None:
    page = await areas_report(client, grid_months, "street_admin", month="2025-03", limit=2, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [r["rank"] for r in page["items"]] == [2, 3]


async def test_the_ranking_downloads_as_excel_and_csv(client: AsyncTestClient, grid_months: World) -> None:
    r = await client.get(
        "/api/reports/areas",
        params={"month": "2025-03", "format": "xlsx"},
        headers=grid_months.auth("manager"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="grid-performance-2025-03.xlsx"'
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:6] == ["rank", "area_code", "area_name", "received", "handled", "resolution_rate"]
    assert rows[0][6:9] == [
        "accept_within_60_min_due",
        "accept_within_60_min_met",
        "accept_within_60_min_rate",
    ]
    assert [row[:6] for row in rows[1:]] == [
        [1, "110105001001002", "Grid 1-2", 1, 1, 1],
        [2, "110105001001001", "Grid 1-1", 4, 2, 0.5],
    ]
    assert rows[2][6:9] == [3, 1, 0.3333]
    r = await client.get(
        "/api/reports/areas",
        params={"month": "2025-03", "format": "csv", "level": "community"},
        headers=grid_months.auth("street_admin"),
    )
    assert r.status_code == 200, r.text
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [line[:5] for line in lines[1:]] == [
        ["1", "110105001001", "Community 1", "5", "3"],
        ["2", "110105001002", "Community 2", "1", "0"],
    ]


async def test_the_summary_downloads_as_excel_a_sheet_per_table(
    client: AsyncTestClient, scenario: World
) -> None:
    r = await client.get(
        "/api/reports/summary", params={"months": 3, "format": "xlsx"}, headers=scenario.auth("manager")
    )
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["points", "statuses", "categories", "timings", "ratings"]
    assert [[c.value for c in row] for row in book["points"].iter_rows()] == [
        ["month", "issued", "redeemed"],
        *([p["month"], p["issued"], p["redeemed"]] for p in C1_POINTS),
    ]
    assert [[c.value for c in row] for row in book["timings"].iter_rows()] == [
        ["what", "median_minutes", "orders"],
        ["to_accept", 20, 3],
        ["to_finish", 75, 2],
    ]


async def test_only_managers_of_the_area_rank_its_grids(client: AsyncTestClient, grid_months: World) -> None:
    c1 = grid_months.areas["c1"].id
    for who, query, status, code in [
        ("resident", {}, 403, "role_required"),
        ("volunteer", {}, 403, "role_required"),
        ("manager_c2", {"area_id": c1}, 403, "outside_your_area"),
        ("grid_worker_g2", {"area_id": grid_months.areas["c1_grid"].id}, 403, "outside_your_area"),
        ("street_admin_s2", {"area_id": c1}, 403, "outside_your_area"),
        ("manager", {"area_id": 999_999}, 404, "area_not_found"),
        # A grid worker's area lies inside one community: the communities are not theirs to compare.
        ("grid_worker", {"level": "community"}, 422, "report_level_above_area"),
        ("manager", {"month": "2025-13"}, 400, "invalid_input"),
        ("manager", {"month": "March"}, 400, "invalid_input"),
        ("manager", {"level": "building"}, 400, "invalid_input"),
        ("manager", {"format": "pdf"}, 400, "invalid_input"),
        ("manager", {"limit": 0}, 400, "invalid_input"),
    ]:
        r = await client.get("/api/reports/areas", params=query, headers=grid_months.auth(who))
        assert (r.status_code, r.json()["code"]) == (status, code), (who, query)
        assert r.headers["content-type"] == "application/problem+json"

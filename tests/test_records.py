"""Service records (志愿服务记录): hours from every source — an order's hours inside its window, a
closed project's participants, training and awards recorded by managers — corrections that leave
the line and change the totals, totals by year in Asia/Shanghai, who may read and write what."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, UserRole
from market.clock import FrozenClock
from market.orders.service import CHECK_IN_OPENS_BEFORE
from market.projects.models import ProjectStatus
from market.records.models import RecordEntry
from tests.records_support import closed_project
from tests.test_authorization import assert_problem
from tests.test_notifications import told
from tests.test_service_window import accepted_order, ok, serve
from tests.world import World

HOUR = timedelta(hours=1)
SHANGHAI = "+08:00"


async def record(
    client: AsyncTestClient, world: World, who: str = "volunteer", **query: Any
) -> dict[str, Any]:
    r = await client.get("/api/records/me", params=query, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


def line(found: dict[str, Any], ref: str) -> dict[str, Any]:
    (match,) = [item for item in found["lines"] if item["ref"] == ref]
    return match


def year(found: dict[str, Any], number: int) -> dict[str, Any]:
    (match,) = [total for total in found["totals"] if total["year"] == number]
    return match


async def served_order(client: AsyncTestClient, world: World, clock: FrozenClock, rating: int = 5) -> int:
    """An order of two hours, checked in at the earliest and checked out three hours late, confirmed:
    it counts the window's two hours, not the 5.5 served."""
    start = clock() + HOUR
    order_id = await accepted_order(client, world, start, start + 2 * HOUR)
    await serve(client, world, clock, order_id, start - CHECK_IN_OPENS_BEFORE, start + 5 * HOUR)
    await ok(client, world, "resident", f"/api/orders/{order_id}/confirm", {"rating": rating})
    return order_id


async def entry(client: AsyncTestClient, world: World, who: str, volunteer: str, **body: Any) -> Any:
    return await client.post(
        f"/api/records/volunteers/{world.id(volunteer)}/entries", json=body, headers=world.auth(who)
    )


async def test_an_order_counts_the_hours_inside_its_window_as_the_orders_reckoned_them(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order_id = await served_order(client, world, clock)
    found = await record(client, world)
    order_line = line(found, f"order:{order_id}:1")
    assert order_line["kind"] == "order" and order_line["hours"] == 2.0
    assert order_line["recorded_by"] == "Community 1" and order_line["place"] == "Building 1"
    this_year = year(found, clock().astimezone(world.settings.tz).year)
    assert this_year["service_hours"] == 2.0 and this_year["by_category"] == {order_line["category"]: 2.0}
    # Only the volunteer's own: another volunteer's record is empty.
    assert (await record(client, world, "volunteer_b"))["lines"] == []


async def test_a_closed_projects_hours_count_and_a_running_projects_do_not(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    closed = await closed_project(session_maker, world, "volunteer", 35, clock() - 48 * HOUR)
    running = await closed_project(
        session_maker, world, "volunteer", 20, clock() - HOUR, ProjectStatus.active
    )
    found = await record(client, world)
    assert line(found, f"project:{closed}")["hours"] == 3.5
    assert line(found, f"project:{closed}")["what"] == "社区义诊"
    assert not [item for item in found["lines"] if item["ref"] == f"project:{running}"]
    assert year(found, (clock() - 48 * HOUR).astimezone(world.settings.tz).year)["service_hours"] == 3.5


async def test_training_and_awards_are_recorded_by_the_volunteers_community_managers(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    at = (clock() - 24 * HOUR).isoformat()
    training = {"kind": "training", "title": "急救培训", "place": "社区活动室", "at": at, "hours": 3}
    for who, status, codes in (
        ("manager_c2", 403, {"outside_your_area"}),
        ("grid_worker", 403, {"role_required"}),
        ("volunteer", 403, {"role_required"}),
        ("unit_admin", 403, {"role_required"}),
    ):
        assert_problem(await entry(client, world, who, "volunteer", **training), status, codes)
    assert (await record(client, world))["lines"] == [], "a refused entry was written"

    for who in ("manager", "street_admin", "admin"):
        r = await entry(client, world, who, "volunteer", **training)
        assert r.status_code == 201, r.text
    r = await entry(client, world, "manager", "volunteer", kind="award", title="优秀志愿者", at=at, hours=5)
    assert r.status_code == 201, r.text
    assert r.json()["hours"] == 0, "an award carries no hours"
    # What has not happened yet is not recorded.
    future = training | {"at": (clock() + HOUR).isoformat()}
    assert_problem(await entry(client, world, "manager", "volunteer", **future), 422, {"entry_in_future"})

    found = await record(client, world)
    total = year(found, (clock() - 24 * HOUR).astimezone(world.settings.tz).year)
    assert total["training_hours"] == 9.0 and total["awards"] == 1 and total["service_hours"] == 0
    assert {item["recorded_by"] for item in found["lines"]} == {"Manager", "Street Admin", "Admin"}


async def test_a_manager_who_volunteers_records_corrects_and_certifies_others_service_only(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        session.add(UserRole(user_id=world.id("manager"), role=Role.volunteer))
    at = (clock() - 24 * HOUR).isoformat()
    training = {"kind": "training", "title": "急救培训", "place": "社区活动室", "at": at, "hours": 3}
    assert_problem(await entry(client, world, "manager", "manager", **training), 403, {"own_hours"})
    # Another manager records it; the manager may neither correct it nor certify it for themself.
    line = (await entry(client, world, "street_admin", "manager", **training)).json()
    fix = {"corrects": line["ref"], "hours": 30, "reason": "wrong_hours", "memo": ""}
    r = await client.post("/api/records/corrections", json=fix, headers=world.auth("manager"))
    assert_problem(r, 403, {"own_hours"})
    served = clock() - 48 * HOUR
    await closed_project(session_maker, world, "manager", 20, served)
    day = served.astimezone(world.settings.tz).date().isoformat()
    period = {"period_start": day, "period_end": day, "community_id": world.areas["c1"].id}
    request = await client.post("/api/certificates", json=period, headers=world.auth("manager"))
    assert request.status_code == 201, request.text
    r = await client.post(f"/api/certificates/{request.json()['id']}/issue", headers=world.auth("manager"))
    assert_problem(r, 403, {"own_hours"})
    assert sorted(line["hours"] for line in (await record(client, world, "manager"))["lines"]) == [2, 3]


async def test_a_correction_is_a_new_entry_the_line_stays_and_the_totals_use_it(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    order_id = await served_order(client, world, clock)
    ref = f"order:{order_id}:1"
    fix = {"corrects": ref, "hours": 1.5, "reason": "wrong_hours", "memo": "居民反映提前离开"}
    for who, status, codes in (
        ("manager_c2", 403, {"outside_your_area"}),
        ("grid_worker", 403, {"role_required"}),
        ("volunteer", 403, {"role_required"}),
    ):
        r = await client.post("/api/records/corrections", json=fix, headers=world.auth(who))
        assert_problem(r, status, codes)
    for bad in ({"reason": "because"}, {"hours": -1}, {"corrects": "order:x"}):
        r = await client.post("/api/records/corrections", json=fix | bad, headers=world.auth("manager"))
        assert_problem(r, 400)
    # A line that does not exist, also past the ids a database keeps.
    for missing in ("order:999999:1", "order:9936240229033:6343", "project:99999999999", "entry:99999999999"):
        r = await client.post(
            "/api/records/corrections", json=fix | {"corrects": missing}, headers=world.auth("manager")
        )
        assert_problem(r, 404, {"record_line_not_found"})
    assert line(await record(client, world), ref)["hours"] == 2.0, "a refused correction changed the hours"

    r = await client.post("/api/records/corrections", json=fix, headers=world.auth("manager"))
    assert r.status_code == 201, r.text
    corrected = line(await record(client, world), ref)
    assert corrected["hours"] == 1.5 and corrected["original_hours"] == 2.0
    (made,) = corrected["corrections"]
    assert (
        made["reason"] == "wrong_hours" and made["recorded_by"] == "Manager" and made["memo"] == fix["memo"]
    )
    this_year = clock().astimezone(world.settings.tz).year
    assert year(await record(client, world), this_year)["service_hours"] == 1.5

    # The line was corrected: a second correction of it is refused; the correction itself may be.
    r = await client.post("/api/records/corrections", json=fix | {"hours": 1}, headers=world.auth("manager"))
    assert_problem(r, 409, {"line_already_corrected"})
    again = fix | {"corrects": f"entry:{made['id']}", "hours": 0, "reason": "not_served"}
    r = await client.post("/api/records/corrections", json=again, headers=world.auth("street_admin"))
    assert r.status_code == 201, r.text
    latest = line(await record(client, world), ref)
    assert [c["hours"] for c in latest["corrections"]] == [1.5, 0] and latest["hours"] == 0
    assert year(await record(client, world), this_year)["service_hours"] == 0

    # The volunteer hears of each correction (and not of the refused ones); nobody else does.
    heard = await told(client, world, "volunteer", "service_record_corrected")
    assert [n["params"] | {"served_at": None} for n in heard] == [
        {
            "community": "Community 1",
            "what": latest["what"],
            "served_at": None,
            "was": was,
            "hours": hours,
            "correction_reason": reason,
        }
        for was, hours, reason in ((2.0, 1.5, "wrong_hours"), (1.5, 0, "not_served"))
    ]
    assert {datetime.fromisoformat(n["params"]["served_at"]) for n in heard} == {
        datetime.fromisoformat(latest["at"])
    }
    assert [n["subject_type"] for n in heard] == ["record_entry", "record_entry"]
    for who in ("volunteer_b", "manager", "manager_c2", "street_admin"):
        assert await told(client, world, who, "service_record_corrected") == [], who
    async with session_maker() as session:
        assert await session.scalar(select(func.count(RecordEntry.id))) == 2


async def test_totals_fall_in_the_year_of_the_service_in_shanghai(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    clock.now = datetime.fromisoformat("2027-01-05T10:00:00" + SHANGHAI)
    # 23:30 on New Year's Eve in Shanghai is 15:30 UTC: 2026. Half past midnight is still 2026 in UTC,
    # but 2027 in Shanghai.
    last_evening = "2026-12-31T23:30:00" + SHANGHAI
    first_night = "2027-01-01T00:30:00" + SHANGHAI
    for at, hours in ((last_evening, 2), (first_night, 3)):
        r = await entry(
            client, world, "manager", "volunteer", kind="training", title="培训", at=at, hours=hours
        )
        assert r.status_code == 201, r.text
    await closed_project(session_maker, world, "volunteer", 40, datetime.fromisoformat(last_evening))
    found = await record(client, world)
    assert year(found, 2026)["training_hours"] == 2 and year(found, 2026)["service_hours"] == 4
    assert year(found, 2027)["training_hours"] == 3 and year(found, 2027)["service_hours"] == 0
    assert [item["hours"] for item in (await record(client, world, year=2026))["lines"]] == [2, 4]


async def test_a_managers_view_shows_their_areas_lines_and_exports_them(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order_id = await served_order(client, world, clock)
    this_year = clock().astimezone(world.settings.tz).year
    r = await client.get("/api/records", params={"year": this_year}, headers=world.auth("grid_worker"))
    assert r.status_code == 200, r.text
    (row,) = r.json()["items"]
    assert row["volunteer_id"] == world.id("volunteer") and row["service_hours"] == 2.0
    r = await client.get("/api/records", params={"year": this_year}, headers=world.auth("manager_c2"))
    assert r.json() == {"year": this_year, "items": []}

    path = f"/api/records/volunteers/{world.id('volunteer')}"
    assert (await client.get(path, headers=world.auth("manager"))).json()["lines"][0][
        "ref"
    ] == f"order:{order_id}:1"
    # Community 2 neither recorded this volunteer's service nor is their home: not found.
    assert_problem(await client.get(path, headers=world.auth("manager_c2")), 404, {"volunteer_not_found"})
    for who in ("volunteer", "resident", "unit_admin"):
        assert_problem(await client.get(path, headers=world.auth(who)), 403, {"role_required"})

    r = await client.get(
        "/api/records", params={"year": this_year, "format": "xlsx"}, headers=world.auth("manager")
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][0] == "Volunteer" and rows[1][6] == 2.0


@pytest.mark.parametrize("who", ["resident", "grid_worker", "manager"])
async def test_only_volunteers_have_a_record_of_their_own(
    client: AsyncTestClient, world: World, who: str
) -> None:
    assert_problem(await client.get("/api/records/me", headers=world.auth(who)), 403, {"role_required"})

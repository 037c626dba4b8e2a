from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.volunteers.availability import is_free, overlap_minutes
from tests.world import World, add_neighbours

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = [(0, 8 * 60, 12 * 60)]  # Monday 08:00–12:00 local


def local(day: int, hour: int, minute: int = 0) -> datetime:
    # 2026-11-23 is a Monday.
    return datetime(2026, 11, 23 + day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(
    ("start", "end", "minutes", "free"),
    [
        (local(0, 9), local(0, 11), 120, True),  # inside the window
        (local(0, 11), local(0, 13), 60, True),  # an hour of overlap is enough
        (local(0, 11, 30), local(0, 14), 30, False),  # half an hour is not
        (local(0, 11, 30), local(0, 12), 30, True),  # ... unless the order itself is that short
        (local(1, 9), local(1, 11), 0, False),  # Tuesday
        (local(-1, 20), local(0, 10), 120, True),  # across midnight into Monday
        (local(0, 0), local(7, 23), 240 * 2, True),  # a window over eight days meets two Mondays
    ],
)
def test_weekly_availability_against_a_window(
    start: datetime, end: datetime, minutes: int, free: bool
) -> None:
    assert overlap_minutes(MONDAY_MORNING, start, end, SHANGHAI) == minutes
    assert is_free(MONDAY_MORNING, start, end, SHANGHAI) is free


PROFILE = {
    "capacity": 2,
    "skills": [{"category": "repair", "level": 3}, {"category": "shopping"}],
    "availability": [
        {"weekday": 0, "start": "08:00", "end": "12:00"},
        {"weekday": 5, "start": "14:00", "end": "24:00"},
    ],
    "serving_area_ids": [],
}


async def test_a_volunteer_replaces_and_reads_their_profile(client: AsyncTestClient, world: World) -> None:
    body = {**PROFILE, "serving_area_ids": [world.areas["c1"].id, world.areas["c2_compound"].id]}
    r = await client.put(
        f"/api/volunteers/{world.id('volunteer')}/profile", json=body, headers=world.auth("volunteer")
    )
    assert r.status_code == 200, r.text
    profile = (
        await client.get(f"/api/volunteers/{world.id('volunteer')}/profile", headers=world.auth("volunteer"))
    ).json()
    assert profile["capacity"] == 2 and profile["load"] == 0
    assert profile["skills"] == [{"category": "repair", "level": 3}, {"category": "shopping", "level": 1}]
    assert profile["availability"] == PROFILE["availability"]
    assert [a["code"] for a in profile["serving_areas"]] == ["110105001001", "110105001002001001"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"skills": [{"category": "juggling"}]}, "unknown_category"),
        ({"skills": [{"category": "repair"}, {"category": "repair", "level": 2}]}, "duplicate_skill"),
        ({"availability": [{"weekday": 1, "start": "12:00", "end": "09:00"}]}, "invalid_window"),
        ({"availability": [{"weekday": 7, "start": "08:00", "end": "09:00"}]}, "invalid_input"),
        ({"availability": [{"weekday": 1, "start": "8:00", "end": "09:00"}]}, "invalid_input"),
        ({"capacity": 0}, "invalid_input"),
        ({"serving_area_ids": [999999]}, "area_not_found"),
    ],
)
async def test_invalid_profiles_are_refused_and_change_nothing(
    client: AsyncTestClient, world: World, change: dict, code: str
) -> None:
    url = f"/api/volunteers/{world.id('volunteer')}/profile"
    before = (await client.get(url, headers=world.auth("volunteer"))).json()
    r = await client.put(url, json={**PROFILE, **change}, headers=world.auth("volunteer"))
    assert r.status_code in (400, 404) and r.json()["code"] == code
    assert (await client.get(url, headers=world.auth("volunteer"))).json() == before


async def test_profiles_are_private_to_the_volunteer_and_their_managers(
    client: AsyncTestClient, world: World
) -> None:
    url = f"/api/volunteers/{world.id('volunteer')}/profile"
    for viewer, status in [
        ("volunteer", 200),
        ("grid_worker", 200),
        ("manager", 200),
        ("admin", 200),
        ("manager_c2", 404),
        ("volunteer_b", 404),
        ("resident", 404),
    ]:
        assert (await client.get(url, headers=world.auth(viewer))).status_code == status, viewer
    r = await client.put(url, json=PROFILE, headers=world.auth("volunteer_b"))
    assert r.status_code == 404
    r = await client.put(
        url, json={**PROFILE, "serving_area_ids": [world.areas["c2"].id]}, headers=world.auth("manager")
    )
    assert r.status_code == 403 and r.json()["code"] == "outside_your_area"


async def test_managers_list_volunteers_serving_their_area_with_skill_and_free_filters(
    client: AsyncTestClient, world: World
) -> None:
    await client.put(
        f"/api/volunteers/{world.id('volunteer_b')}/profile", json=PROFILE, headers=world.auth("manager")
    )  # no longer serves any area

    listed = (await client.get("/api/volunteers", headers=world.auth("manager"))).json()
    names = {v["name"] for v in listed["items"]}
    assert names == {"Volunteer", "Volunteer C", "Vol Resident"}
    assert all(v["load"] == 0 for v in listed["items"])

    c2 = (await client.get("/api/volunteers", headers=world.auth("manager_c2"))).json()
    assert {v["name"] for v in c2["items"]} == {"Volunteer C2"}

    legal = (
        await client.get("/api/volunteers", params={"skill": "legal"}, headers=world.auth("manager"))
    ).json()
    assert legal["total"] == 3
    tutoring = (
        await client.get("/api/volunteers", params={"skill": "tutoring"}, headers=world.auth("manager"))
    ).json()
    assert tutoring["total"] == 0

    await client.put(
        f"/api/volunteers/{world.id('volunteer_c')}/profile",
        json={**PROFILE, "serving_area_ids": [world.areas["c1"].id]},
        headers=world.auth("manager"),
    )
    monday_9 = {"free_from": local(0, 9).isoformat(), "free_until": local(0, 11).isoformat()}
    tuesday_9 = {"free_from": local(1, 9).isoformat(), "free_until": local(1, 11).isoformat()}
    free_monday = (await client.get("/api/volunteers", params=monday_9, headers=world.auth("manager"))).json()
    free_tuesday = (
        await client.get("/api/volunteers", params=tuesday_9, headers=world.auth("manager"))
    ).json()
    assert "Volunteer C" in {v["name"] for v in free_monday["items"]}
    assert "Volunteer C" not in {v["name"] for v in free_tuesday["items"]}

    r = await client.get(
        "/api/volunteers", params={"free_from": local(0, 9).isoformat()}, headers=world.auth("manager")
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_window"
    r = await client.get("/api/volunteers", headers=world.auth("volunteer"))
    assert r.status_code == 403
    r = await client.get(
        "/api/volunteers", params={"area_id": world.areas["c2"].id}, headers=world.auth("manager")
    )
    assert r.status_code == 403


async def test_a_volunteer_created_through_the_api_gets_a_profile_and_can_be_dispatched(
    client: AsyncTestClient, world: World
) -> None:
    r = await client.post(
        "/api/users",
        json={
            "phone": "13911112222",
            "name": "New Volunteer",
            "password": "correct-horse-9",
            "roles": ["volunteer"],
            "area_id": world.areas["c1_building"].id,
        },
        headers=world.auth("manager"),
    )
    assert r.status_code == 201, r.text
    volunteer_id = r.json()["id"]
    always = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    r = await client.put(
        f"/api/volunteers/{volunteer_id}/profile",
        json={
            **PROFILE,
            "skills": [{"category": "escort"}],
            "availability": always,
            "serving_area_ids": [world.areas["c1"].id],
        },
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["serving_areas"]] == [world.areas["c1"].id]

    order_id = (
        await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    ).json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [volunteer_id], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------- who changes a profile, and where one serves


@pytest.fixture
async def neighbours(session_maker: async_sessionmaker[AsyncSession], world: World) -> World:
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
    return world


async def _serving(client: AsyncTestClient, world: World, *areas: str, by: str = "volunteer"):
    return await client.put(
        f"/api/volunteers/{world.id('volunteer')}/profile",
        json={**PROFILE, "serving_area_ids": [world.areas[a].id for a in areas]},
        headers=world.auth(by),
    )


@pytest.mark.parametrize(
    ("who", "read", "change"),
    [
        ("volunteer", 200, 200),
        ("grid_worker", 200, 200),
        ("manager", 200, 200),
        ("street_admin", 200, 200),
        ("admin", 200, 200),
        # They dispatch to the volunteer (who serves their area), so they read the profile; the
        # volunteer does not live there, so they do not change it.
        ("grid_worker_g2", 200, 403),  # a sibling grid
        ("manager_c2", 200, 403),  # a sibling community
        ("grid_worker_c2", 200, 403),
        # Another street: the volunteer neither lives nor serves there.
        ("street_admin_s2", 404, 404),
        ("manager_s2", 404, 404),
        ("volunteer_b", 404, 404),
    ],
)
async def test_only_the_volunteer_and_the_managers_of_their_home_change_the_profile(
    client: AsyncTestClient, neighbours: World, who: str, read: int, change: int
) -> None:
    world = neighbours
    assert (await _serving(client, world, "c1", "c2")).status_code == 200
    url = f"/api/volunteers/{world.id('volunteer')}/profile"
    before = (await client.get(url, headers=world.auth("volunteer"))).json()

    assert (await client.get(url, headers=world.auth(who))).status_code == read
    # Emptying the serving areas needs no area of the changer's: the check is on the person.
    r = await client.put(url, json={**PROFILE, "capacity": 5}, headers=world.auth(who))

    assert r.status_code == change, r.text
    after = (await client.get(url, headers=world.auth("volunteer"))).json()
    if change == 200:
        assert after["capacity"] == 5 and after["serving_areas"] == []
    else:
        assert r.json()["code"] == ("not_your_profile" if change == 403 else "volunteer_not_found")
        assert after == before


@pytest.mark.parametrize("who", ["volunteer", "street_admin", "admin"])
async def test_serving_areas_lie_within_the_volunteers_home_street(
    client: AsyncTestClient, neighbours: World, who: str
) -> None:
    world = neighbours
    assert (await _serving(client, world, "c1")).status_code == 200
    for outside in (["s2_c1"], ["street2"], ["c2", "s2_building"]):
        r = await _serving(client, world, *outside, by=who)
        assert r.status_code == 400 and r.json()["code"] == "outside_home_street", r.text
        assert r.json()["area_id"] == world.areas[outside[-1]].id
    profile = (await _serving(client, world, "c1", "c2", "street", by=who)).json()
    assert [a["code"] for a in profile["serving_areas"]] == ["110105001", "110105001001", "110105001002"]


async def test_a_manager_adds_only_areas_they_manage_and_keeps_the_others(
    client: AsyncTestClient, neighbours: World
) -> None:
    world = neighbours
    r = await _serving(client, world, "c2", by="grid_worker")
    assert r.status_code == 403 and r.json()["code"] == "outside_your_area"
    assert (await _serving(client, world, "c2")).status_code == 200, "the volunteer chooses in the street"

    r = await _serving(client, world, "c1_grid", "c2", by="grid_worker")

    assert r.status_code == 200, r.text
    assert [a["id"] for a in r.json()["serving_areas"]] == [world.areas["c1_grid"].id, world.areas["c2"].id]
    r = await _serving(client, world, "c1_grid2", "c2", by="grid_worker")
    assert r.status_code == 403 and r.json()["code"] == "outside_your_area", "a sibling grid is not theirs"

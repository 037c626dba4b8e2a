"""Recruiting: shifts, sign-ups with a waiting list, the cut-off, check-in by the rotating code,
no-shows, and the hours paid at close-out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.clock import FrozenClock
from market.projects.models import Participant
from market.settings import Settings
from market.shifts import service as shifts
from market.shifts.models import ShiftSignup
from market.volunteers.models import VolunteerSkill
from tests.test_units_support import fund_pool, ok, problem
from tests.world import World, add_volunteer_profile, password_hash

STARTS_IN = timedelta(days=2)
LENGTH = timedelta(hours=3)


async def make_project(client: AsyncTestClient, world: World) -> dict:
    """An active project of community 1 (nothing to commit), with one responsibility to finish."""
    body = {
        "title": "Neighbourhood fair",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=5)).isoformat(),
        "responsibilities": [{"task": "Book the square", "user_id": world.id("manager")}],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    assert project["status"] == "active"
    return project


def shift_body(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Stalls and tables",
        "area_id": world.areas["c1_compound"].id,
        "starts_at": (world.now + STARTS_IN).isoformat(),
        "ends_at": (world.now + STARTS_IN + LENGTH).isoformat(),
        "slots": 2,
    }
    body.update(overrides)
    return body


async def open_shift(client: AsyncTestClient, world: World, project: dict, **overrides: Any) -> dict:
    r = await client.post(
        f"/api/projects/{project['id']}/shifts",
        json=shift_body(world, **overrides),
        headers=world.auth("manager"),
    )
    return ok(r)


async def sign_up(client: AsyncTestClient, world: World, shift: dict, who: str):
    return await client.post(f"/api/shifts/{shift['id']}/sign-up", headers=world.auth(who))


async def shift_of(client: AsyncTestClient, world: World, shift: dict, who: str = "manager") -> dict:
    return ok(await client.get(f"/api/shifts/{shift['id']}", headers=world.auth(who)))


def statuses(read: dict) -> dict[str, str]:
    return {r["name"]: r["status"] for r in read["roster"]}


async def code_now(client: AsyncTestClient, world: World, shift: dict) -> str:
    return ok(await client.get(f"/api/shifts/{shift['id']}/code", headers=world.auth("manager")))["code"]


async def scan(
    client: AsyncTestClient, world: World, shift: dict, who: str, code: str, way: str = "check-in"
):
    return await client.post(f"/api/shifts/{shift['id']}/{way}", json={"code": code}, headers=world.auth(who))


# ---------------------------------------------------------------- sign-up, waiting list, cancelling


async def test_a_full_shift_puts_volunteers_on_a_waiting_list_that_moves_up_in_order_on_cancel(
    client: AsyncTestClient, world: World
) -> None:
    shift = await open_shift(client, world, await make_project(client, world))
    results = [
        ok(await sign_up(client, world, shift, who)) for who in ("volunteer", "volunteer_b", "volunteer_c")
    ]
    results.append(ok(await sign_up(client, world, shift, "vol_resident")))
    assert [(r["status"], r["waiting_position"]) for r in results] == [
        ("signed_up", None),
        ("signed_up", None),
        ("waiting", 1),
        ("waiting", 2),
    ]
    problem(await sign_up(client, world, shift, "volunteer_c"), 409, "already_signed_up")
    read = await shift_of(client, world, shift)
    assert (read["taken"], read["waiting"]) == (2, 2)

    ok(await client.post(f"/api/shifts/{shift['id']}/cancel", headers=world.auth("volunteer_b")))

    read = await shift_of(client, world, shift)
    assert statuses(read) == {
        "Volunteer": "signed_up",
        "Volunteer B": "cancelled",
        "Volunteer C": "signed_up",
        "Vol Resident": "waiting",
    }
    assert [r["waiting_position"] for r in read["roster"] if r["status"] == "waiting"] == [1]
    inbox = ok(await client.get("/api/notifications", headers=world.auth("volunteer_c")))["items"]
    assert [(n["code"], n["subject_id"]) for n in inbox] == [("shift_promoted", shift["id"])]
    assert ok(await client.get("/api/notifications", headers=world.auth("vol_resident")))["items"] == []
    # Signing up again after cancelling: a new arrival, at the end of the queue.
    again = ok(await sign_up(client, world, shift, "volunteer_b"))
    assert (again["status"], again["waiting_position"]) == ("waiting", 2)


async def test_cancelling_a_slot_closes_at_the_cut_off_but_the_waiting_list_may_always_be_left(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    shift = await open_shift(client, world, await make_project(client, world), slots=1, cancel_cutoff_hours=6)
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(await sign_up(client, world, shift, "volunteer_b"))
    closes = datetime.fromisoformat(shift["cancel_closes_at"].replace("Z", "+00:00"))
    assert closes == world.now + STARTS_IN - timedelta(hours=6)
    clock.advance(STARTS_IN - timedelta(hours=6) + timedelta(seconds=1))

    r = await client.post(f"/api/shifts/{shift['id']}/cancel", headers=world.auth("volunteer"))
    problem(r, 409, "cancel_closed")
    assert statuses(await shift_of(client, world, shift)) == {
        "Volunteer": "signed_up",
        "Volunteer B": "waiting",
    }
    left = ok(await client.post(f"/api/shifts/{shift['id']}/cancel", headers=world.auth("volunteer_b")))
    assert left["status"] == "cancelled"


async def test_the_default_cut_off_is_documented_and_exact(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    shift = await open_shift(client, world, await make_project(client, world))
    assert shift["cancel_cutoff_hours"] == shifts.DEFAULT_CANCEL_CUTOFF_HOURS == 12
    ok(await sign_up(client, world, shift, "volunteer"))
    clock.advance(STARTS_IN - timedelta(hours=12))  # exactly at the cut-off: still allowed
    ok(await client.post(f"/api/shifts/{shift['id']}/cancel", headers=world.auth("volunteer")))


async def test_who_may_sign_up_lives_in_or_serves_the_community_and_has_a_wanted_skill(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    project = await make_project(client, world)
    anyone = await open_shift(client, world, project)
    legal = await open_shift(client, world, project, title="Legal advice desk", skills=["legal"])
    async with session_maker() as session, session.begin():
        skill = await session.scalar(
            select(VolunteerSkill).where(
                VolunteerSkill.user_id == world.id("volunteer_b"), VolunteerSkill.category_code == "legal"
            )
        )
        await session.delete(skill)

    seen = ok(await client.get("/api/shifts/open", headers=world.auth("volunteer")))
    assert [s["id"] for s in seen["items"]] == [anyone["id"], legal["id"]]
    seen_b = ok(await client.get("/api/shifts/open", headers=world.auth("volunteer_b")))
    assert [s["id"] for s in seen_b["items"]] == [anyone["id"]]
    problem(await sign_up(client, world, legal, "volunteer_b"), 403, "shift_skill_missing")
    # Community 2's volunteer neither sees community 1's shifts nor signs up for them.
    assert ok(await client.get("/api/shifts/open", headers=world.auth("volunteer_c2")))["items"] == []
    problem(await sign_up(client, world, anyone, "volunteer_c2"), 404, "shift_not_found")
    problem(
        await client.get(f"/api/shifts/{anyone['id']}", headers=world.auth("volunteer_c2")),
        404,
        "shift_not_found",
    )
    # A volunteer sees the counts and their own place, never the roster.
    ok(await sign_up(client, world, anyone, "volunteer"))
    mine = await shift_of(client, world, anyone, "volunteer")
    assert mine["roster"] is None and mine["my_status"] == "signed_up" and mine["taken"] == 1
    listed = ok(await client.get("/api/shifts/mine", headers=world.auth("volunteer")))
    assert [s["id"] for s in listed["items"]] == [anyone["id"]]


async def test_opening_a_shift_is_checked_and_only_the_communitys_managers_may(
    client: AsyncTestClient, world: World
) -> None:
    project = await make_project(client, world)
    url = f"/api/projects/{project['id']}/shifts"
    cases = [
        ({"starts_at": (world.now - timedelta(hours=1)).isoformat()}, 400, "shift_in_past"),
        ({"ends_at": (world.now + STARTS_IN - timedelta(hours=1)).isoformat()}, 400, "window_order"),
        ({"ends_at": (world.now + timedelta(days=6)).isoformat()}, 400, "shift_after_deadline"),
        ({"area_id": world.areas["c2_compound"].id}, 422, "place_outside_community"),
        ({"skills": ["no_such_skill"]}, 422, "category_not_found"),
        ({"slots": 0}, 400, "invalid_input"),
    ]
    for overrides, status, code in cases:
        problem(
            await client.post(url, json=shift_body(world, **overrides), headers=world.auth("manager")),
            status,
            code,
        )
    problem(
        await client.post(url, json=shift_body(world), headers=world.auth("manager_c2")),
        404,
        "project_not_found",
    )
    problem(
        await client.post(url, json=shift_body(world), headers=world.auth("grid_worker")),
        403,
        "role_required",
    )
    problem(
        await client.post(url, json=shift_body(world), headers=world.auth("volunteer")), 403, "role_required"
    )
    assert ok(await client.get(url, headers=world.auth("manager"))) == []
    ok(await client.post(url, json=shift_body(world), headers=world.auth("street_admin")))
    assert len(ok(await client.get(url, headers=world.auth("grid_worker")))) == 1


# ---------------------------------------------------------------- the rotating code


async def test_the_check_in_code_is_refused_when_stale_or_another_shifts_or_made_up(
    client: AsyncTestClient, world: World, clock: FrozenClock, settings: Settings
) -> None:
    project = await make_project(client, world)
    shift = await open_shift(client, world, project)
    other = await open_shift(client, world, project, title="Sports day")
    ok(await sign_up(client, world, shift, "volunteer"))
    clock.advance(STARTS_IN - timedelta(minutes=5))
    stale = await code_now(client, world, shift)
    others = await code_now(client, world, other)
    clock.advance(timedelta(minutes=2))
    current = await code_now(client, world, shift)
    assert current != stale

    problem(await scan(client, world, shift, "volunteer", stale), 409, "check_in_code_stale")
    problem(await scan(client, world, shift, "volunteer", others), 409, "check_in_code_other_shift")
    forged = current[:-1] + ("0" if current[-1] != "0" else "1")
    problem(await scan(client, world, shift, "volunteer", forged), 400, "check_in_code_invalid")
    # A code signed with another secret is no code of this service's.
    foreign = shifts.check_in_code("another-secret-0123456789abcdefghijklmnop", shift["id"], clock())
    problem(await scan(client, world, shift, "volunteer", foreign), 400, "check_in_code_invalid")
    problem(await scan(client, world, shift, "volunteer", "12.34"), 400, "check_in_code_invalid")
    assert statuses(await shift_of(client, world, shift)) == {"Volunteer": "signed_up"}

    # The previous minute's code is still good: the page may have been loaded just before it changed.
    clock.advance(timedelta(minutes=1))
    checked = ok(await scan(client, world, shift, "volunteer", current))
    assert checked["status"] == "checked_in"
    assert shifts.check_in_code(settings.secret_key, shift["id"], clock()) == await code_now(
        client, world, shift
    )


async def test_only_the_organiser_shows_the_code_and_only_those_on_the_roster_check_in(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    shift = await open_shift(client, world, await make_project(client, world), slots=1)
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(await sign_up(client, world, shift, "volunteer_b"))
    for who, status, code in [
        ("grid_worker", 403, "manager_required"),
        ("manager_c2", 404, "shift_not_found"),
        ("volunteer", 403, "role_required"),
    ]:
        problem(await client.get(f"/api/shifts/{shift['id']}/code", headers=world.auth(who)), status, code)
    clock.advance(STARTS_IN - timedelta(minutes=31))
    code = await code_now(client, world, shift)
    problem(await scan(client, world, shift, "volunteer", code), 409, "check_in_not_open")
    clock.advance(timedelta(minutes=1))
    code = await code_now(client, world, shift)
    problem(await scan(client, world, shift, "volunteer_b", code), 409, "not_signed_up")
    problem(await scan(client, world, shift, "volunteer_c", code), 409, "not_signed_up")
    problem(await scan(client, world, shift, "volunteer", code, "check-out"), 409, "illegal_transition")
    ok(await scan(client, world, shift, "volunteer", code))
    problem(await scan(client, world, shift, "volunteer", code), 409, "illegal_transition")


# ---------------------------------------------------------------- hours, no-shows, close-out


async def test_hours_from_check_in_and_out_are_paid_at_close_out_and_no_shows_recorded(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await fund_pool(session_maker, world, settings)
    project = await make_project(client, world)
    shift = await open_shift(client, world, project, slots=3)
    for who in ("volunteer", "volunteer_b", "volunteer_c"):
        ok(await sign_up(client, world, shift, who))
    # Volunteer comes 20 minutes early (only the shift's window counts) and leaves 30 minutes early.
    clock.advance(STARTS_IN - timedelta(minutes=20))
    ok(await scan(client, world, shift, "volunteer", await code_now(client, world, shift)))
    clock.advance(timedelta(minutes=35))
    ok(await scan(client, world, shift, "volunteer_b", await code_now(client, world, shift)))
    clock.advance(LENGTH - timedelta(minutes=45))  # 30 minutes before the end
    out = ok(await scan(client, world, shift, "volunteer", await code_now(client, world, shift), "check-out"))
    assert (out["status"], out["hours"]) == ("checked_out", 2.5)
    # Volunteer B never checks out: no hours are recorded for them, and they take no part (until
    # the organiser marks them attended).

    async with session_maker() as session, session.begin():
        assert await shifts.record_no_shows(session, clock()) == 0  # the shift has not ended
    clock.advance(timedelta(minutes=30))
    async with session_maker() as session, session.begin():
        assert await shifts.record_no_shows(session, clock()) == 1
    async with session_maker() as session, session.begin():
        assert await shifts.record_no_shows(session, clock()) == 0  # once
    read = await shift_of(client, world, shift)
    assert statuses(read) == {
        "Volunteer": "checked_out",
        "Volunteer B": "checked_in",
        "Volunteer C": "no_show",
    }
    assert read["roll_called_at"] is not None

    read_project = ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("manager")))
    assert {p["name"]: p["hours"] for p in read_project["participants"]} == {"Volunteer": 2.5}
    responsibility = read_project["responsibilities"][0]["id"]
    ok(
        await client.post(
            f"/api/projects/{project['id']}/responsibilities/{responsibility}/done",
            headers=world.auth("manager"),
        )
    )
    closed = ok(await client.post(f"/api/projects/{project['id']}/close", headers=world.auth("manager")))
    paid = {v["user_id"]: v["points"] for v in closed["summary"]["volunteer_points"]}
    assert paid == {world.id("volunteer"): 25}  # 2.5 h × 10 points an hour
    accounts = ok(
        await client.get(
            f"/api/ledger/accounts?user_id={world.id('volunteer')}&asset=service",
            headers=world.auth("volunteer"),
        )
    )
    assert [a["balance"] for a in accounts["items"]] == [25]


async def test_checking_in_needs_an_active_project(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    project = await make_project(client, world)
    shift = await open_shift(client, world, project)
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(
        await client.post(
            f"/api/projects/{project['id']}/cancel", json={"reason": "rain"}, headers=world.auth("manager")
        )
    )
    problem(await sign_up(client, world, shift, "volunteer_b"), 409, "shift_closed")
    clock.advance(STARTS_IN)
    problem(
        await scan(client, world, shift, "volunteer", await code_now(client, world, shift)),
        409,
        "illegal_transition",
    )
    async with session_maker() as session:
        assert await session.scalar(select(Participant.id)) is None


# ---------------------------------------------------------------- racing


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=120) as client:
        yield client


async def _crowd(session_maker: async_sessionmaker[AsyncSession], world: World, n: int) -> list[str]:
    async with session_maker() as session, session.begin():
        people = [
            User(
                phone=f"1361111{i:04d}",
                name=f"Crowd {i:02d}",
                password_hash=password_hash(),
                area_id=world.areas["c1_building"].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.volunteer)],
            )
            for i in range(n)
        ]
        session.add_all(people)
        await session.flush()
        for person in people:
            await add_volunteer_profile(session, person, world.areas["c1"])
    for person in people:
        world.users[person.phone] = person
    return [p.phone for p in people]


async def test_thirty_volunteers_signing_up_for_ten_slots_at_once(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    shift = await open_shift(client, world, await make_project(client, world), slots=10)
    crowd = await _crowd(session_maker, world, 30)
    headers = {who: world.auth(who) for who in crowd}

    responses = await asyncio.gather(
        *(racing.post(f"/api/shifts/{shift['id']}/sign-up", headers=headers[who]) for who in crowd)
    )

    assert [r.status_code for r in responses] == [200] * 30, [
        r.text for r in responses if r.status_code != 200
    ]
    answers = sorted((r.json() for r in responses), key=lambda a: a["arrival"])
    # Arrivals are 1..30 without a gap; the first ten arrivals hold the slots, the others wait in turn.
    assert [a["arrival"] for a in answers] == list(range(1, 31))
    assert [a["status"] for a in answers] == ["signed_up"] * 10 + ["waiting"] * 20
    assert [a["waiting_position"] for a in answers[10:]] == list(range(1, 21))
    read = await shift_of(client, world, shift)
    assert (read["taken"], read["waiting"]) == (10, 20)
    async with session_maker() as session:
        stored = list(await session.scalars(select(ShiftSignup).order_by(ShiftSignup.arrival)))
    assert [(s.user_id, s.status) for s in stored] == [(a["user_id"], a["status"]) for a in answers]

    # The first to cancel frees a slot for the first who waits, however many cancel at once.
    first_three = [a["user_id"] for a in answers[:3]]
    phones = {world.id(who): who for who in crowd}
    cancels = await asyncio.gather(
        *(racing.post(f"/api/shifts/{shift['id']}/cancel", headers=headers[phones[u]]) for u in first_three)
    )
    assert [r.status_code for r in cancels] == [200] * 3
    read = await shift_of(client, world, shift)
    moved_up = {r["user_id"] for r in read["roster"] if r["status"] == "signed_up"} - {
        a["user_id"] for a in answers[:10]
    }
    assert moved_up == {a["user_id"] for a in answers[10:13]}
    assert (read["taken"], read["waiting"]) == (10, 17)

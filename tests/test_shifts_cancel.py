"""Recruiting, the organiser's side: cancelling a shift (everyone on its lists is told, nothing of it
reaches a service record) and marking the roster attended or no-show after the start."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.notifications.models import Notification, NotificationCode
from market.projects.models import Participant
from market.shifts import service as shifts
from market.shifts.models import ShiftSignup
from tests.test_shifts import (
    LENGTH,
    STARTS_IN,
    _crowd,
    code_now,
    make_project,
    open_shift,
    racing,  # noqa: F401 (a fixture)
    scan,
    shift_of,
    sign_up,
    statuses,
)
from tests.test_units_support import ok, problem
from tests.world import World


async def call_off(
    client: AsyncTestClient, world: World, shift: dict, reason: str = "weather", who="manager"
):
    return await client.post(
        f"/api/shifts/{shift['id']}/call-off", json={"reason": reason}, headers=world.auth(who)
    )


async def mark(client: AsyncTestClient, world: World, shift: dict, who: str, how: str, by: str = "manager"):
    return await client.post(
        f"/api/shifts/{shift['id']}/roster/{world.id(who)}/{how}", headers=world.auth(by)
    )


async def hours(client: AsyncTestClient, world: World, project: dict) -> dict[str, float]:
    read = ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("manager")))
    return {p["name"]: p["hours"] for p in read["participants"]}


def inbox(world: World, client: AsyncTestClient, who: str):
    return client.get("/api/notifications", headers=world.auth(who))


async def test_an_organiser_cancels_a_shift_everyone_on_its_lists_is_told_and_it_records_nothing(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    project = await make_project(client, world)
    shift = await open_shift(client, world, project, slots=1)
    ok(await sign_up(client, world, shift, "volunteer_c"))
    ok(await client.post(f"/api/shifts/{shift['id']}/cancel", headers=world.auth("volunteer_c")))
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(await sign_up(client, world, shift, "volunteer_b"))  # waits
    before = await shift_of(client, world, shift)

    problem(await call_off(client, world, shift, "because"), 400, "invalid_input")
    r = await client.post(f"/api/shifts/{shift['id']}/call-off", json={}, headers=world.auth("manager"))
    problem(r, 400, "invalid_input")
    assert await shift_of(client, world, shift) == before

    cancelled = ok(await call_off(client, world, shift))
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "weather")
    assert cancelled["cancelled_at"] is not None
    assert statuses(cancelled) == {
        "Volunteer C": "cancelled",
        "Volunteer": "called_off",
        "Volunteer B": "called_off",
    }
    for who in ("volunteer", "volunteer_b"):
        items = ok(await inbox(world, client, who))["items"]
        assert [(n["code"], n["subject_id"]) for n in items] == [("shift_cancelled", shift["id"])]
        assert items[0]["params"]["reason_code"] == "weather"
        assert set(items[0]["params"]) == {"shift", "project", "starts_at", "reason_code"}
    assert ok(await inbox(world, client, "volunteer_c"))["items"] == []

    # Twice is a conflict, and tells nobody again.
    problem(await call_off(client, world, shift, "other"), 409, "illegal_transition")
    assert len(ok(await inbox(world, client, "volunteer"))["items"]) == 1
    assert (await shift_of(client, world, shift))["cancel_reason"] == "weather"

    # It takes no sign-ups and is offered to nobody; those called off still see it, and why.
    problem(await sign_up(client, world, shift, "volunteer_c"), 409, "shift_closed")
    problem(await sign_up(client, world, shift, "volunteer"), 409, "shift_closed")
    problem(
        await client.post(f"/api/shifts/{shift['id']}/cancel", headers=world.auth("volunteer")),
        409,
        "illegal_transition",
    )
    assert ok(await client.get("/api/shifts/open", headers=world.auth("volunteer_c")))["items"] == []
    mine = ok(await client.get("/api/shifts/mine", headers=world.auth("volunteer")))["items"]
    assert [(s["id"], s["my_status"], s["cancel_reason"]) for s in mine] == [
        (shift["id"], "called_off", "weather")
    ]

    # Nobody checks in or is marked attended; the job records no no-show; no hours anywhere.
    clock.advance(STARTS_IN)
    code = await code_now(client, world, shift)
    problem(await scan(client, world, shift, "volunteer", code), 409, "shift_cancelled")
    problem(await mark(client, world, shift, "volunteer", "attended"), 409, "shift_cancelled")
    problem(await mark(client, world, shift, "volunteer", "no-show"), 409, "shift_cancelled")
    clock.advance(LENGTH)
    async with session_maker() as session, session.begin():
        assert await shifts.record_no_shows(session, clock()) == 0
    assert await hours(client, world, project) == {}


async def test_cancelling_closes_at_the_start_and_calls_off_those_already_checked_in(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    project = await make_project(client, world)
    shift = await open_shift(client, world, project)
    late = await open_shift(client, world, project, title="Sports day")
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(await sign_up(client, world, late, "volunteer"))
    clock.advance(STARTS_IN - timedelta(minutes=20))
    ok(await scan(client, world, shift, "volunteer", await code_now(client, world, shift)))

    cancelled = ok(await call_off(client, world, shift, "venue_unavailable"))
    assert statuses(cancelled) == {"Volunteer": "called_off"}
    clock.advance(timedelta(minutes=50))
    code = await code_now(client, world, shift)
    problem(await scan(client, world, shift, "volunteer", code, "check-out"), 409, "shift_cancelled")
    # Checking in made nobody a participant, and a cancelled shift never adds any.
    assert await hours(client, world, project) == {}

    problem(await call_off(client, world, late), 409, "shift_started")
    assert statuses(await shift_of(client, world, late)) == {"Volunteer": "signed_up"}


async def test_the_organiser_marks_no_shows_from_the_start_and_attendance_from_the_end(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    project = await make_project(client, world)
    shift = await open_shift(client, world, project, slots=4)
    for who in ("volunteer", "volunteer_b", "volunteer_c", "vol_resident"):
        ok(await sign_up(client, world, shift, who))
    problem(await mark(client, world, shift, "volunteer", "attended"), 409, "shift_not_ended")
    problem(await mark(client, world, shift, "volunteer_b", "no-show"), 409, "shift_not_started")

    clock.advance(STARTS_IN + timedelta(minutes=10))
    ok(await scan(client, world, shift, "volunteer_c", await code_now(client, world, shift)))
    absent = ok(await mark(client, world, shift, "volunteer_b", "no-show"))
    assert (absent["status"], absent["hours"]) == ("no_show", 0)
    # Hours are vouched for once served, never ahead.
    problem(await mark(client, world, shift, "volunteer", "attended"), 409, "shift_not_ended")

    # After the end the job records those left as no-shows; the organiser may still correct them.
    clock.advance(LENGTH)
    async with session_maker() as session, session.begin():
        assert await shifts.record_no_shows(session, clock()) == 2
    assert statuses(await shift_of(client, world, shift))["Vol Resident"] == "no_show"
    attended = ok(await mark(client, world, shift, "volunteer", "attended"))
    assert (attended["status"], attended["hours"]) == ("checked_out", 3.0)
    # Checked in and never out: the hours count from their check-in to the end.
    forgot = ok(await mark(client, world, shift, "volunteer_c", "attended"))
    assert (forgot["status"], forgot["hours"]) == ("checked_out", 2.8)
    corrected = ok(await mark(client, world, shift, "vol_resident", "attended"))
    assert (corrected["status"], corrected["hours"]) == ("checked_out", 3.0)

    problem(await mark(client, world, shift, "volunteer", "attended"), 409, "illegal_transition")
    problem(await mark(client, world, shift, "volunteer", "no-show"), 409, "illegal_transition")
    problem(await mark(client, world, shift, "volunteer_c2", "no-show"), 404, "signup_not_found")
    # Nobody marks their own service, whether or not they are on the roster.
    problem(await mark(client, world, shift, "manager", "attended"), 403, "own_hours")

    # A no-show is on no service record; the others' hours are, once each.
    assert await hours(client, world, project) == {"Volunteer": 3.0, "Volunteer C": 2.8, "Vol Resident": 3.0}
    async with session_maker() as session:
        absent_row = await session.scalar(
            select(Participant.id).where(Participant.user_id == world.id("volunteer_b"))
        )
    assert absent_row is None


async def test_a_cancel_racing_sign_ups_leaves_nobody_on_the_cancelled_shift(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,  # noqa: F811
) -> None:
    shift = await open_shift(client, world, await make_project(client, world), slots=5)
    crowd = await _crowd(session_maker, world, 12)
    headers = {who: world.auth(who) for who in crowd}

    responses = await asyncio.gather(
        *(racing.post(f"/api/shifts/{shift['id']}/sign-up", headers=headers[who]) for who in crowd[:6]),
        racing.post(
            f"/api/shifts/{shift['id']}/call-off", json={"reason": "safety"}, headers=world.auth("manager")
        ),
        *(racing.post(f"/api/shifts/{shift['id']}/sign-up", headers=headers[who]) for who in crowd[6:]),
    )

    assert responses[6].status_code == 200, responses[6].text
    signed = [r for i, r in enumerate(responses) if i != 6]
    assert {r.status_code for r in signed} <= {200, 409}
    assert all(r.json()["code"] == "shift_closed" for r in signed if r.status_code == 409)
    async with session_maker() as session:
        rows = list(await session.scalars(select(ShiftSignup).where(ShiftSignup.shift_id == shift["id"])))
        told = await session.scalar(
            select(func.count()).where(Notification.code == NotificationCode.shift_cancelled)
        )
    # Every sign-up that got in before the cancel was called off, and told; none came after.
    assert {s.status for s in rows} <= {"called_off"}
    assert len(rows) == sum(r.status_code == 200 for r in signed) == told

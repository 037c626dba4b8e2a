"""Service you can trust: check-in only around the order's time window, hours that count only
inside it, each reward's reckoning kept for the volunteer, the resident's hurry button (催办) and
the volunteer's phone shown to the resident only while the service is under way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.notifications.models import Notification, NotificationCode
from market.orders.service import CHECK_IN_OPENS_BEFORE, HURRY_INTERVAL
from market.privacy import mask_phone
from tests.test_authorization import assert_problem
from tests.world import World

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


async def ok(client: AsyncTestClient, world: World, who: str, path: str, body: Any = None) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=world.auth(who))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def detail(
    client: AsyncTestClient, world: World, order_id: int, who: str = "manager"
) -> dict[str, Any]:
    r = await client.get(f"/api/orders/{order_id}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def accepted_order(
    client: AsyncTestClient,
    world: World,
    start: datetime,
    end: datetime,
    volunteer: str = "volunteer",
    also_offered: tuple[str, ...] = (),
) -> int:
    """An order of "resident" for [start, end), accepted by `volunteer` (offered with the others)."""
    body = world.order_body(window_start=start.isoformat(), window_end=end.isoformat())
    order_id = (await ok(client, world, "resident", "/api/orders", body))["id"]
    offered = [world.id(v) for v in (volunteer, *also_offered)]
    mode = "pool" if also_offered else "direct"
    offers = (
        await ok(
            client,
            world,
            "grid_worker",
            f"/api/orders/{order_id}/dispatch",
            {"volunteer_ids": offered, "mode": mode},
        )
    )["offers"]
    offer = next(o["id"] for o in offers if o["volunteer_id"] == world.id(volunteer))
    await ok(client, world, volunteer, f"/api/offers/{offer}/accept")
    return order_id


async def serve(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    order_id: int,
    check_in: datetime,
    out: datetime,
) -> dict[str, Any]:
    """Check in at `check_in`, check out at `out` and complete; the order as it then stands."""
    clock.now = check_in
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/check-in")
    clock.now = out
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/check-out")
    return await ok(client, world, "volunteer", f"/api/orders/{order_id}/complete", {"note": "done"})


async def my_rewards(client: AsyncTestClient, world: World) -> dict[int, dict[str, Any]]:
    r = await client.get("/api/orders/service-rewards", headers=world.auth("volunteer"))
    assert r.status_code == 200, r.text
    return {item["order_id"]: item for item in r.json()["items"]}


# ---------------------------------------------------------------- check-in


async def test_check_in_opens_half_an_hour_before_the_window_and_closes_at_its_end(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    start, end = clock() + 17 * HOUR, clock() + 19 * HOUR
    order_id = await accepted_order(client, world, start, end)
    before = await detail(client, world, order_id)
    path = f"/api/orders/{order_id}/check-in"

    # Seventeen hours early, and a second before it opens: refused, with when it opens.
    for moment in (clock(), start - CHECK_IN_OPENS_BEFORE - timedelta(seconds=1)):
        clock.now = moment
        r = await client.post(path, headers=world.auth("volunteer"))
        assert_problem(r, 409, {"check_in_too_early"})
        assert datetime.fromisoformat(r.json()["opens_at"]) == start - CHECK_IN_OPENS_BEFORE
    # At the window's end: closed.
    clock.now = end
    r = await client.post(path, headers=world.auth("volunteer"))
    assert_problem(r, 409, {"check_in_too_late"})
    assert datetime.fromisoformat(r.json()["closed_at"]) == end
    assert await detail(client, world, order_id) == before, "a refused check-in changed the order"

    # From the moment it opens, until the end.
    clock.now = start - CHECK_IN_OPENS_BEFORE
    checked_in = await ok(client, world, "volunteer", path)
    assert checked_in["status"] == "in_service"
    assert datetime.fromisoformat(checked_in["checked_in_at"]) == clock.now


# ---------------------------------------------------------------- hours and the reward


async def test_an_early_start_and_a_long_overrun_count_only_the_window(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    start = clock() + HOUR
    end = start + 2 * HOUR
    order_id = await accepted_order(client, world, start, end)
    # In at the earliest (30 minutes before), out three hours after the window: 5.5 hours served.
    done = await serve(client, world, clock, order_id, start - CHECK_IN_OPENS_BEFORE, end + 3 * HOUR)
    # Counted from 15 minutes before to 15 minutes after the window, then no more than its 2 hours.
    assert done["service_hours"] == 2.0

    await ok(client, world, "resident", f"/api/orders/{order_id}/confirm", {"rating": 5})

    reward = (await my_rewards(client, world))[order_id]
    assert {k: reward[k] for k in ("hours_served", "hours_counted", "rate", "points", "awarded")} == {
        "hours_served": 5.5,
        "hours_counted": 2.0,
        "rate": 10,
        "points": 20,
        "awarded": 20,
    }
    assert reward["reasons"] == ["started_early", "ran_over", "window_length"]


async def test_a_few_minutes_either_side_of_the_window_count(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    start = clock() + HOUR
    order_id = await accepted_order(client, world, start, start + 3 * HOUR)
    # Ten minutes early (inside the tolerance of 15), for an hour and a half.
    done = await serve(client, world, clock, order_id, start - 10 * MINUTE, start + 80 * MINUTE)
    assert done["service_hours"] == 1.5

    await ok(client, world, "resident", f"/api/orders/{order_id}/confirm", {"rating": 5})

    reward = (await my_rewards(client, world))[order_id]
    assert (reward["hours_counted"], reward["points"], reward["reasons"]) == (1.5, 15, [])


async def test_a_reward_held_back_by_the_daily_cap_says_so(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    r = await client.put(
        f"/api/ledger/policies/{world.areas['c1'].id}",
        json={"default_rate": 10, "daily_cap": 25},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    first = await accepted_order(client, world, clock() + HOUR, clock() + 3 * HOUR)
    await serve(client, world, clock, first, clock() + HOUR, clock() + 3 * HOUR)
    await ok(client, world, "resident", f"/api/orders/{first}/confirm", {"rating": 5})
    second = await accepted_order(client, world, clock() + 15 * MINUTE, clock() + 2 * HOUR)
    await serve(client, world, clock, second, clock(), clock() + HOUR)
    await ok(client, world, "resident", f"/api/orders/{second}/confirm", {"rating": 5})

    rewards = await my_rewards(client, world)
    assert (rewards[first]["points"], rewards[first]["awarded"], rewards[first]["reasons"]) == (20, 20, [])
    # The second hour would earn 10, but only 5 of the day's 25 were left, and then none.
    assert (rewards[second]["points"], rewards[second]["awarded"]) == (10, 5)
    assert rewards[second]["reasons"] == ["daily_cap"]
    assert list(rewards) == [second, first], "newest first"


# ---------------------------------------------------------------- hurry (催办)


async def hurried(session_maker: async_sessionmaker[AsyncSession], world: World) -> int:
    """How many hurry messages the order's grid worker has."""
    async with session_maker() as session:
        return await session.scalar(
            select(func.count()).where(
                Notification.user_id == world.id("grid_worker"),
                Notification.code == NotificationCode.order_hurried,
            )
        )


async def test_a_resident_hurries_an_order_once_per_period_and_the_grid_worker_is_told(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    order_id = (await ok(client, world, "resident", "/api/orders", world.order_body()))["id"]
    path = f"/api/orders/{order_id}/hurry"

    first = await ok(client, world, "resident", path)
    assert first["status"] == "submitted" and first["events"][-1]["action"] == "hurry"
    assert await hurried(session_maker, world) == 1

    clock.advance(HURRY_INTERVAL - MINUTE)
    r = await client.post(path, headers=world.auth("resident"))
    assert_problem(r, 429, {"hurried_recently"})
    assert datetime.fromisoformat(r.json()["again_at"]) == clock() + MINUTE
    assert await hurried(session_maker, world) == 1

    clock.advance(MINUTE)
    again = await ok(client, world, "resident", path)
    assert await hurried(session_maker, world) == 2
    assert again["updated_at"] == again["events"][-1]["at"]  # its history grew then

    # Once the service is done there is nothing to hurry.
    await ok(client, world, "resident", f"/api/orders/{order_id}/cancel", {"reason": "no longer needed"})
    clock.advance(HURRY_INTERVAL)
    assert_problem(await client.post(path, headers=world.auth("resident")), 409, {"illegal_transition"})


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_two_hurries_at_once_count_once(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    order_id = (await ok(client, world, "resident", "/api/orders", world.order_body()))["id"]
    headers = world.auth("resident")

    responses = await asyncio.gather(
        *(racing.post(f"/api/orders/{order_id}/hurry", headers=headers) for _ in range(4))
    )

    assert sorted(r.status_code for r in responses) == [200, 429, 429, 429], [r.text for r in responses]
    assert await hurried(session_maker, world) == 1
    events = (await detail(client, world, order_id))["events"]
    assert [e["action"] for e in events].count("hurry") == 1


# ---------------------------------------------------------------- the volunteer's phone


async def test_the_volunteers_phone_is_the_requesters_only_while_the_service_is_under_way(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    phone = world.users["volunteer"].phone
    order_id = await accepted_order(
        client, world, clock() + 15 * MINUTE, clock() + 2 * HOUR, also_offered=("volunteer_b",)
    )

    assert (await detail(client, world, order_id, "resident"))["volunteer"]["phone"] == phone
    assert (await detail(client, world, order_id, "volunteer"))["volunteer"]["phone"] == phone
    assert (await detail(client, world, order_id, "grid_worker"))["volunteer"]["phone"] == phone
    # The volunteer who lost the pool still sees the order, not the winner's phone.
    assert (await detail(client, world, order_id, "volunteer_b"))["volunteer"]["phone"] == mask_phone(phone)

    await serve(client, world, clock, order_id, clock(), clock() + HOUR)
    assert (await detail(client, world, order_id, "resident"))["volunteer"]["phone"] == phone
    await ok(client, world, "resident", f"/api/orders/{order_id}/confirm", {"rating": 5})
    assert (await detail(client, world, order_id, "resident"))["volunteer"]["phone"] == mask_phone(phone)
    assert (await detail(client, world, order_id, "manager"))["volunteer"]["phone"] == phone

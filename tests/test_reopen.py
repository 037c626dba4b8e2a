"""A resident reopens a confirmed order within seven days: it waits to be dispatched again in a new
time window, its history kept, the earlier volunteer's reward kept, and the grid worker told."""

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

from market.clock import FrozenClock
from market.ledger.models import OwedReward, Transfer
from market.notifications.models import Notification, NotificationCode
from market.orders.service import REOPEN_WINDOW
from tests.test_authorization import assert_problem, build_order, ok
from tests.world import World


def reopen_body(clock: FrozenClock, **overrides: Any) -> dict[str, Any]:
    body = {
        "reason": "the tap drips again",
        "window_start": (clock() + timedelta(minutes=15)).isoformat(),
        "window_end": (clock() + timedelta(hours=6)).isoformat(),
    }
    return {**body, **overrides}


async def serve(
    client: AsyncTestClient, world: World, clock: FrozenClock, order: int, volunteer: str
) -> None:
    """Check in, serve two hours (so that the service earns points), check out and complete."""
    await ok(client, world, volunteer, "POST", f"/api/orders/{order}/check-in")
    clock.advance(timedelta(hours=2))
    await ok(client, world, volunteer, "POST", f"/api/orders/{order}/check-out")
    await ok(client, world, volunteer, "POST", f"/api/orders/{order}/complete", {"note": ""})


async def confirmed(client: AsyncTestClient, world: World, clock: FrozenClock) -> int:
    order, _ = await build_order(client, world, "accepted")
    await serve(client, world, clock, order, "volunteer")
    await ok(client, world, "resident", "POST", f"/api/orders/{order}/confirm", {"rating": 5})
    return order


async def rewards(session_maker: async_sessionmaker[AsyncSession], order: int) -> set[str]:
    """The service rewards of the order, paid or owed."""
    async with session_maker() as session:
        paid = await session.scalars(select(Transfer.id).where(Transfer.reference == f"order:{order}"))
        owed = await session.scalars(
            select(OwedReward.transfer_id).where(OwedReward.reference == f"order:{order}")
        )
        return {*paid, *owed}


async def test_reopened_within_seven_days_it_waits_again_with_its_history(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    order = await confirmed(client, world, clock)
    first_reward = await rewards(session_maker, order)
    clock.advance(REOPEN_WINDOW - timedelta(minutes=1))
    body = reopen_body(clock)

    detail = await ok(client, world, "resident", "POST", f"/api/orders/{order}/reopen", body)

    assert detail["status"] == "submitted" and detail["volunteer"] is None
    assert detail["confirmed_at"] is None and detail["checked_out_at"] is None and detail["rating"] is None
    assert datetime.fromisoformat(detail["window_start"]) == datetime.fromisoformat(body["window_start"])
    actions = [e["action"] for e in detail["events"]]
    assert actions[:2] == ["post", "dispatch"] and actions[-2:] == ["confirm", "reopen"]
    last = detail["events"][-1]
    assert (last["from_status"], last["to_status"], last["note"]) == (
        "confirmed",
        "submitted",
        body["reason"],
    )
    async with session_maker() as session:
        told = (await session.execute(select(Notification.user_id, Notification.subject_id).where(
            Notification.code == NotificationCode.order_reopened))).all()  # fmt: skip
    assert [tuple(t) for t in told] == [(world.id("grid_worker"), order)]
    # The earlier volunteer's reward stays; the volunteer no longer sees the order as their task.
    assert await rewards(session_maker, order) == first_reward == {f"~reward:order:{order}"}
    tasks = (await ok(client, world, "volunteer", "GET", "/api/orders"))["items"]
    assert order not in [t["id"] for t in tasks if t["volunteer"]]


async def test_a_reopened_order_served_again_is_paid_again(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    order = await confirmed(client, world, clock)
    await ok(client, world, "resident", "POST", f"/api/orders/{order}/reopen", reopen_body(clock))
    await ok(client, world, "grid_worker", "POST", f"/api/orders/{order}/dispatch",
             {"volunteer_ids": [world.id("volunteer_b")], "mode": "direct"})  # fmt: skip
    offer = (await ok(client, world, "volunteer_b", "GET", "/api/offers"))["items"][0]["id"]
    await ok(client, world, "volunteer_b", "POST", f"/api/offers/{offer}/accept")
    await serve(client, world, clock, order, "volunteer_b")

    detail = await ok(client, world, "resident", "POST", f"/api/orders/{order}/confirm", {"rating": 4})

    assert detail["status"] == "confirmed" and detail["volunteer"]["id"] == world.id("volunteer_b")
    assert await rewards(session_maker, order) == {f"~reward:order:{order}", f"~reward:order:{order}:round:2"}


async def test_after_seven_days_it_cannot_be_reopened(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order = await confirmed(client, world, clock)
    clock.advance(REOPEN_WINDOW + timedelta(minutes=1))

    r = await client.post(
        f"/api/orders/{order}/reopen", json=reopen_body(clock), headers=world.auth("resident")
    )

    assert_problem(r, 409, {"reopen_window_passed"})
    assert (await ok(client, world, "resident", "GET", f"/api/orders/{order}"))["status"] == "confirmed"


@pytest.mark.parametrize(
    ("role", "status", "code"),
    [("resident_b", 404, "order_not_found"), ("manager", 403, "not_requester"),
     ("volunteer", 403, "not_requester"), ("grid_worker_c2", 404, "order_not_found")],
)  # fmt: skip
async def test_only_the_requester_reopens(
    client: AsyncTestClient, world: World, clock: FrozenClock, role: str, status: int, code: str
) -> None:
    order = await confirmed(client, world, clock)

    r = await client.post(f"/api/orders/{order}/reopen", json=reopen_body(clock), headers=world.auth(role))

    assert_problem(r, status, {code})
    detail = await ok(client, world, "resident", "GET", f"/api/orders/{order}")
    assert detail["status"] == "confirmed" and detail["events"][-1]["action"] == "confirm"


async def test_only_a_confirmed_order_is_reopened(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order, _ = await build_order(client, world, "completed")

    r = await client.post(
        f"/api/orders/{order}/reopen", json=reopen_body(clock), headers=world.auth("resident")
    )

    assert_problem(r, 409, {"illegal_transition"})


@pytest.mark.parametrize("overrides", [{"reason": ""}, {"window_start": "soon"}, {"window_end": None}])
async def test_a_bad_reopen_request_is_refused_and_changes_nothing(
    client: AsyncTestClient, world: World, clock: FrozenClock, overrides: dict[str, Any]
) -> None:
    order = await confirmed(client, world, clock)

    r = await client.post(
        f"/api/orders/{order}/reopen", json=reopen_body(clock, **overrides), headers=world.auth("resident")
    )

    assert_problem(r, 400)
    assert (await ok(client, world, "resident", "GET", f"/api/orders/{order}"))["status"] == "confirmed"


async def test_a_new_window_already_past_is_refused(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order = await confirmed(client, world, clock)
    past = reopen_body(
        clock,
        window_start=(clock() - timedelta(hours=3)).isoformat(),
        window_end=(clock() - timedelta(hours=1)).isoformat(),
    )

    r = await client.post(f"/api/orders/{order}/reopen", json=past, headers=world.auth("resident"))

    assert_problem(r, 400, {"window_in_past"})
    assert (await ok(client, world, "resident", "GET", f"/api/orders/{order}"))["status"] == "confirmed"


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_two_presses_at_once_reopen_once(
    client: AsyncTestClient, world: World, clock: FrozenClock, racing: httpx.AsyncClient
) -> None:
    order = await confirmed(client, world, clock)
    body = reopen_body(clock)

    responses = await asyncio.gather(
        *(
            racing.post(f"/api/orders/{order}/reopen", json=body, headers=world.auth("resident"))
            for _ in range(2)
        )
    )

    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    (refused,) = [r for r in responses if r.status_code == 409]
    assert refused.json()["code"] == "illegal_transition"
    detail = await ok(client, world, "resident", "GET", f"/api/orders/{order}")
    assert [e["action"] for e in detail["events"]].count("reopen") == 1

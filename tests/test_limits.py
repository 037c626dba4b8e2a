"""Limits a street sets against floods: open orders per resident, plans per person per minute, and
how long plans are kept. Each is a setting; reaching one is a 429 problem+json and changes nothing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.dispatch.models import DispatchPlan, PlanPair
from market.orders.models import Order
from market.scheduler import jobs, run_job
from market.settings import Settings
from tests.test_authorization import assert_problem, ok
from tests.test_reopen import confirmed, reopen_body
from tests.world import World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, open_orders_per_resident=3, plans_per_minute=2, plan_keep_days=10)


async def post(client: AsyncTestClient | httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))


async def orders(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(Order))


async def test_a_resident_has_at_most_the_set_number_of_orders_open(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(3):
        assert (await post(client, world)).status_code == 201

    refused = await post(client, world)

    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "too_many_open_orders" and refused.json()["limit"] == 3
    assert await orders(session_maker) == 3
    # Another resident is not held back, and a cancelled order frees its place.
    r = await client.post(
        "/api/orders", json=world.order_body("resident_b"), headers=world.auth("resident_b")
    )
    assert r.status_code == 201, r.text
    first = (await client.get("/api/orders?limit=1", headers=world.auth("resident"))).json()["items"][0]
    cancel = await client.post(
        f"/api/orders/{first['id']}/cancel", json={"reason": "not needed"}, headers=world.auth("resident")
    )
    assert cancel.status_code == 200, cancel.text
    assert (await post(client, world)).status_code == 201


async def test_at_the_limit_a_mistake_in_the_form_is_told_first(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(3):
        assert (await post(client, world)).status_code == 201
    never_served = world.order_body(preferred_volunteer_id=world.id("volunteer"))

    r = await client.post("/api/orders", json=never_served, headers=world.auth("resident"))

    assert_problem(r, 400, {"not_served_before"})
    assert await orders(session_maker) == 3


async def test_a_resident_at_the_limit_cannot_reopen_a_confirmed_order_either(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order = await confirmed(client, world, clock)
    for _ in range(3):
        assert (await post(client, world)).status_code == 201

    refused = await client.post(
        f"/api/orders/{order}/reopen", json=reopen_body(clock), headers=world.auth("resident")
    )

    assert_problem(refused, 429, {"too_many_open_orders"})
    assert refused.json()["limit"] == 3
    assert (await ok(client, world, "resident", "GET", f"/api/orders/{order}"))["status"] == "confirmed"
    newest = (await ok(client, world, "resident", "GET", "/api/orders?limit=1"))["items"][0]["id"]
    await ok(client, world, "resident", "POST", f"/api/orders/{newest}/cancel", {"reason": "not needed"})
    reopened = await ok(client, world, "resident", "POST", f"/api/orders/{order}/reopen", reopen_body(clock))
    assert reopened["status"] == "submitted"


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_orders_posted_at_once_do_not_slip_past_the_limit(
    app: Litestar, world: World, racing: httpx.AsyncClient, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    responses = await asyncio.gather(*(post(racing, world) for _ in range(8)))

    assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 5, [r.text for r in responses]
    assert await orders(session_maker) == 3


async def plan(client: AsyncTestClient, world: World, who: str = "grid_worker") -> httpx.Response:
    area = "c1_grid" if who == "grid_worker" else "c1"
    return await client.post(
        "/api/dispatch/plans", json={"area_id": world.areas[area].id}, headers=world.auth(who)
    )


async def test_one_person_runs_at_most_the_set_number_of_plans_a_minute(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await post(client, world)
    assert (await plan(client, world)).status_code == 201
    clock.advance(timedelta(seconds=20))
    assert (await plan(client, world)).status_code == 201
    clock.advance(timedelta(seconds=10))

    refused = await plan(client, world)

    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "too_many_plans"
    assert refused.headers["retry-after"] == "30"  # when the first of the two leaves the minute
    assert (await plan(client, world, "manager")).status_code == 201  # someone else may
    clock.advance(timedelta(seconds=30))
    assert (await plan(client, world)).status_code == 201
    async with session_maker() as session:
        assert await session.scalar(select(func.count()).select_from(DispatchPlan)) == 4


async def test_plans_are_purged_after_the_set_days_with_their_pairs(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    settings: Settings,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await post(client, world)
    old = (await plan(client, world)).json()["id"]
    clock.advance(timedelta(days=9))
    recent = (await plan(client, world)).json()["id"]
    clock.advance(timedelta(days=1, seconds=1))

    run = await run_job(
        session_maker, clock, "purge_dispatch_plans", jobs(settings)["purge_dispatch_plans"][0]
    )

    assert run.handled == 1
    async with session_maker() as session:
        assert list(await session.scalars(select(DispatchPlan.id))) == [recent]
        assert set(await session.scalars(select(PlanPair.plan_id))) <= {recent}
    assert (
        await client.get(f"/api/dispatch/plans/{old}", headers=world.auth("grid_worker"))
    ).status_code == 404

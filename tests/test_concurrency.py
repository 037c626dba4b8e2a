"""Two people pressing the same button at once must not double anything.

The racing requests go to a real server (uvicorn in a thread) so that they run in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.orders.models import Offer, OfferStatus, Order, OrderEvent
from tests.world import World, add_volunteer_profile, password_hash

POOL_SIZE = 20


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def _pool_of_volunteers(session_maker: async_sessionmaker[AsyncSession], world: World) -> list[User]:
    async with session_maker() as session, session.begin():
        volunteers = [
            User(
                phone=f"1360000{i:04d}",
                name=f"Pool volunteer {i}",
                password_hash=password_hash(),
                area_id=world.areas["c1_building"].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.volunteer)],
            )
            for i in range(POOL_SIZE)
        ]
        session.add_all(volunteers)
        await session.flush()
        for volunteer in volunteers:
            await add_volunteer_profile(session, volunteer, world.areas["c1"])
    for volunteer in volunteers:
        world.users[volunteer.phone] = volunteer
    return volunteers


async def test_twenty_volunteers_accept_one_pool_order_at_once_exactly_one_wins(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    volunteers = await _pool_of_volunteers(session_maker, world)
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    order_id = r.json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [v.id for v in volunteers], "mode": "pool"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    offers = {o["volunteer_id"]: o["id"] for o in r.json()["offers"]}
    assert len(offers) == POOL_SIZE

    responses = await asyncio.gather(
        *(racing.post(f"/api/offers/{offers[v.id]}/accept", headers=world.auth(v.phone)) for v in volunteers)
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (POOL_SIZE - 1), [r.text for r in responses if r.status_code != 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "order_taken",
        "offer_not_pending",
    }
    winner = next(r.json()["volunteer"]["id"] for r in responses if r.status_code == 200)
    async with session_maker() as session:
        order = await session.get(Order, order_id)
        assert order.status == "accepted" and order.volunteer_id == winner
        by_status = dict(
            (
                await session.execute(
                    select(Offer.status, func.count())
                    .where(Offer.order_id == order_id)
                    .group_by(Offer.status)
                )
            ).all()
        )
        assert by_status == {OfferStatus.accepted: 1, OfferStatus.withdrawn: POOL_SIZE - 1}
        accepts = await session.scalar(
            select(func.count()).where(OrderEvent.order_id == order_id, OrderEvent.action == "accept")
        )
        assert accepts == 1


async def test_one_volunteer_accepting_two_orders_at_once_respects_capacity(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    # volunteer_b has capacity 1.
    offer_ids = []
    for _ in range(2):
        order_id = (
            await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
        ).json()["id"]
        r = await client.post(
            f"/api/orders/{order_id}/dispatch",
            json={"volunteer_ids": [world.id("volunteer_b")], "mode": "direct"},
            headers=world.auth("manager"),
        )
        offer_ids.append(r.json()["offers"][0]["id"])

    responses = await asyncio.gather(
        *(
            racing.post(f"/api/offers/{offer_id}/accept", headers=world.auth("volunteer_b"))
            for offer_id in offer_ids
        )
    )

    assert sorted(r.status_code for r in responses) == [200, 409]
    assert next(r for r in responses if r.status_code == 409).json()["code"] == "at_capacity"


async def test_two_managers_dispatching_the_same_order_at_once_dispatch_it_once(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    order_id = (
        await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    ).json()["id"]

    responses = await asyncio.gather(
        racing.post(
            f"/api/orders/{order_id}/dispatch",
            json={"volunteer_ids": [world.id("volunteer")]},
            headers=world.auth("manager"),
        ),
        racing.post(
            f"/api/orders/{order_id}/dispatch",
            json={"volunteer_ids": [world.id("volunteer_b")]},
            headers=world.auth("grid_worker"),
        ),
    )

    assert sorted(r.status_code for r in responses) == [200, 409]
    async with session_maker() as session:
        assert await session.scalar(select(func.count()).where(Offer.order_id == order_id)) == 1


async def test_two_managers_applying_the_same_pair_at_once_offer_it_once(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    order_id = (
        await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    ).json()["id"]
    plan = (
        await client.post(
            "/api/dispatch/plans",
            json={"area_id": world.areas["c1_grid"].id},
            headers=world.auth("grid_worker"),
        )
    ).json()
    (pair,) = plan["pairs"]

    responses = await asyncio.gather(
        *(
            racing.post(
                f"/api/dispatch/plans/{plan['id']}/apply",
                json={"pair_ids": [pair["id"]]},
                headers=world.auth(who),
            )
            for who in ("manager", "grid_worker")
        )
    )

    assert sorted(r.status_code for r in responses) == [200, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.json()["code"] in {"pairs_already_applied", "plan_already_applied"}
    async with session_maker() as session:
        assert await session.scalar(select(func.count()).where(Offer.order_id == order_id)) == 1

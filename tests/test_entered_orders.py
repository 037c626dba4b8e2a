"""Orders entered for a resident (代下单): by a grid worker or community manager of the resident's
area, under the rules and limits of the resident's own orders, recording who entered them and how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.notifications.models import Notification
from tests.world import World

PATH = "/api/orders/for-resident"


def entry(
    world: World, resident: str = "resident", channel: str = "phone", **overrides: Any
) -> dict[str, Any]:
    return {**world.order_body(resident), "resident_id": world.id(resident), "channel": channel, **overrides}


async def test_grid_worker_enters_an_order_the_resident_sees_as_their_own(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(PATH, json=entry(world), headers=world.auth("grid_worker"))
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["requester"]["id"] == world.id("resident")
    assert order["channel"] == "phone"
    assert order["entered_by"]["id"] == world.id("grid_worker")
    assert order["events"][0]["action"] == "post"
    assert order["events"][0]["actor_id"] == world.id("grid_worker")

    mine = (await client.get("/api/orders", headers=world.auth("resident"))).json()
    assert [o["id"] for o in mine["items"]] == [order["id"]]
    seen = (await client.get(f"/api/orders/{order['id']}", headers=world.auth("resident"))).json()
    assert seen["masked"] is False and seen["entered_by"]["name"] == "Grid Worker"
    async with session_maker() as session:
        told = (
            await session.scalars(select(Notification).where(Notification.user_id == world.id("resident")))
        ).all()
    assert [(n.code, n.subject_id) for n in told] == [("order_entered", order["id"])]


async def test_a_residents_own_order_comes_by_page(client: AsyncTestClient, world: World) -> None:
    response = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert response.json()["channel"] == "page" and response.json()["entered_by"] is None


async def test_community_manager_enters_by_walk_in(client: AsyncTestClient, world: World) -> None:
    response = await client.post(PATH, json=entry(world, channel="walk_in"), headers=world.auth("manager"))
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "walk_in"


async def test_outside_the_grid_or_not_a_manager_is_refused(client: AsyncTestClient, world: World) -> None:
    # A grid worker of community 2 for a resident of community 1: refused, nothing made.
    response = await client.post(PATH, json=entry(world), headers=world.auth("grid_worker_c2"))
    assert response.status_code in (403, 404)
    response = await client.post(PATH, json=entry(world, "resident_c2"), headers=world.auth("grid_worker"))
    assert response.status_code in (403, 404)
    for who in ("resident", "volunteer", "unit_admin"):
        response = await client.post(PATH, json=entry(world), headers=world.auth(who))
        assert response.status_code == 403, who
    orders = (await client.get("/api/orders", headers=world.auth("admin"))).json()
    assert orders["total"] == 0


async def test_the_place_must_be_in_the_residents_community(client: AsyncTestClient, world: World) -> None:
    body = entry(world, area_id=world.areas["c2_building"].id)
    response = await client.post(PATH, json=body, headers=world.auth("street_admin"))
    assert response.status_code == 403
    assert response.json()["code"] == "outside_their_community"


async def test_page_channel_and_non_residents_are_refused(client: AsyncTestClient, world: World) -> None:
    response = await client.post(PATH, json=entry(world, channel="page"), headers=world.auth("grid_worker"))
    assert response.json()["code"] == "invalid_channel"
    body = {**entry(world), "resident_id": world.id("volunteer")}
    response = await client.post(PATH, json=body, headers=world.auth("grid_worker"))
    assert response.status_code == 422 and response.json()["code"] == "not_a_resident"


async def test_the_residents_open_order_limit_holds(client: AsyncTestClient, world: World) -> None:
    limit = world.settings.open_orders_per_resident
    for _ in range(limit):
        response = await client.post(PATH, json=entry(world), headers=world.auth("grid_worker"))
        assert response.status_code == 201
    response = await client.post(PATH, json=entry(world), headers=world.auth("grid_worker"))
    assert response.status_code == 429 and response.json()["code"] == "too_many_open_orders"
    response = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert response.status_code == 429


@pytest.fixture
def clock() -> FrozenClock:
    # A morning, when the world's volunteer is free to be dispatched to.
    return FrozenClock(datetime(2030, 3, 12, 1, 0, tzinfo=UTC))


async def served(client: AsyncTestClient, world: World, clock: FrozenClock, *, entered: bool) -> int:
    """An order the grid worker entered for the resident (or the resident posted), served and
    completed by the volunteer."""
    now = clock()
    window = {
        "window_start": (now + timedelta(minutes=30)).isoformat(),
        "window_end": (now + timedelta(hours=12)).isoformat(),
    }
    if entered:
        r = await client.post(PATH, json=entry(world, **window), headers=world.auth("grid_worker"))
    else:
        r = await client.post("/api/orders", json=world.order_body(**window), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer")], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    volunteer = world.auth("volunteer")
    assert (
        await client.post(f"/api/offers/{r.json()['offers'][0]['id']}/accept", headers=volunteer)
    ).is_success
    assert (await client.post(f"/api/orders/{order_id}/check-in", headers=volunteer)).is_success
    clock.advance(timedelta(hours=2))
    assert (await client.post(f"/api/orders/{order_id}/check-out", headers=volunteer)).is_success
    r = await client.post(f"/api/orders/{order_id}/complete", json={"note": "done"}, headers=volunteer)
    assert r.status_code == 200, r.text
    return order_id


async def test_a_manager_of_the_area_confirms_an_entered_order_for_the_resident(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order_id = await served(client, world, clock, entered=True)
    rating = {"rating": 5, "comment": "she said thank you"}
    for who in ("grid_worker_c2", "manager_c2", "volunteer", "resident_b"):
        r = await client.post(f"/api/orders/{order_id}/confirm", json=rating, headers=world.auth(who))
        assert r.status_code in (403, 404), (who, r.text)
    r = await client.post(f"/api/orders/{order_id}/confirm", json=rating, headers=world.auth("grid_worker"))
    assert r.status_code == 200, r.text
    order = (await client.get(f"/api/orders/{order_id}", headers=world.auth("resident"))).json()
    assert order["status"] == "confirmed" and order["rating"] == 5
    assert order["events"][-1]["actor_id"] == world.id("grid_worker")


async def test_a_residents_own_order_is_confirmed_by_the_resident_alone(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    order_id = await served(client, world, clock, entered=False)
    r = await client.post(
        f"/api/orders/{order_id}/confirm", json={"rating": 5}, headers=world.auth("grid_worker")
    )
    assert r.status_code == 403 and r.json()["code"] == "not_requester", r.text

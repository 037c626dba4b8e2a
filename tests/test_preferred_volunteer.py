"""Residents choose: a volunteer who served them before is offered their new order first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.dispatch.offers import offer_to_preferred
from market.settings import Settings
from tests.world import World


async def post(client: AsyncTestClient, world: World, path: str, who: str, body: Any = None) -> Any:
    r = await client.post(path, json=body, headers=world.auth(who))
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else None


async def served(client: AsyncTestClient, world: World, volunteer: str) -> None:
    """An order of the resident, served by `volunteer` to completion."""
    order = await post(client, world, "/api/orders", "resident", world.order_body())
    body = {"volunteer_ids": [world.id(volunteer)]}
    offer = (await post(client, world, f"/api/orders/{order['id']}/dispatch", "grid_worker", body))["offers"][
        0
    ]
    await post(client, world, f"/api/offers/{offer['id']}/accept", volunteer)
    for step in ("check-in", "check-out"):
        await post(client, world, f"/api/orders/{order['id']}/{step}", volunteer)
    await post(client, world, f"/api/orders/{order['id']}/complete", volunteer, {"note": "done"})


async def run(session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock, settings: Settings) -> int:
    async with session_maker() as session, session.begin():
        return await offer_to_preferred(session, clock(), settings)


async def test_the_volunteer_asked_for_is_offered_first_then_the_order_goes_on(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
) -> None:
    body = world.order_body(preferred_volunteer_id=world.id("volunteer_b"))
    r = await client.post("/api/orders", json=body, headers=world.auth("resident"))
    assert (r.status_code, r.json()["code"]) == (400, "not_served_before")

    await served(client, world, "volunteer_b")
    order = await post(client, world, "/api/orders", "resident", body)
    # Until it is offered to volunteer_b, plans leave it alone.
    plan = await post(client, world, "/api/dispatch/plans", "manager", {"area_id": world.areas["c1"].id})
    assert plan["pairs"] == [] and plan["unassigned"] == []

    assert await run(session_maker, clock, settings) == 1
    assert await run(session_maker, clock, settings) == 0  # offered once
    r = await client.get("/api/offers?status=pending", headers=world.auth("volunteer_b"))
    (offer,) = r.json()["items"]
    assert offer["order_id"] == order["id"] and offer["mode"] == "direct"

    # Declined: the order waits as usual, and plans offer it to someone else.
    await post(client, world, f"/api/offers/{offer['id']}/decline", "volunteer_b", {"reason": "away"})
    plan = await post(client, world, "/api/dispatch/plans", "manager", {"area_id": world.areas["c1"].id})
    (pair,) = plan["pairs"]
    assert pair["order_id"] == order["id"] and pair["volunteer_id"] != world.id("volunteer_b")


async def test_a_volunteer_asked_for_who_cannot_take_it_is_passed_over(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
) -> None:
    await served(client, world, "volunteer_b")
    body = world.order_body(preferred_volunteer_id=world.id("volunteer_b"))
    order = await post(client, world, "/api/orders", "resident", body)
    # volunteer_b (capacity 1) takes another order meanwhile.
    other = await post(client, world, "/api/orders", "resident_b", world.order_body("resident_b"))
    offer = (
        await post(
            client,
            world,
            f"/api/orders/{other['id']}/dispatch",
            "grid_worker",
            {"volunteer_ids": [world.id("volunteer_b")]},
        )
    )["offers"][0]
    await post(client, world, f"/api/offers/{offer['id']}/accept", "volunteer_b")

    clock.advance(timedelta(minutes=1))
    assert await run(session_maker, clock, settings) == 0
    r = await client.get(f"/api/orders/{order['id']}", headers=world.auth("manager"))
    last = r.json()["events"][-1]
    assert (last["action"], last["note"]) == ("pass_preferred", f"{world.id('volunteer_b')} at_capacity")
    assert r.json()["updated_at"] == last["at"]  # the order changed then: its preference is gone
    plan = await post(client, world, "/api/dispatch/plans", "manager", {"area_id": world.areas["c1"].id})
    assert [p["order_id"] for p in plan["pairs"]] == [order["id"]]

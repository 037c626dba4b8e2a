"""The open board: when orders go there, who sees what, and a claim that wins exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.dispatch.service import auto_dispatch
from market.orders.models import HELD_STATUSES, Offer, OfferStatus, Order
from market.settings import Settings
from market.volunteers.models import VolunteerProfile
from tests.world import World

VOLUNTEERS = ("volunteer", "volunteer_b", "volunteer_c", "vol_resident")


async def post_order(client: AsyncTestClient, world: World, resident: str = "resident", **body: Any) -> int:
    r = await client.post(
        "/api/orders", json=world.order_body(resident, **body), headers=world.auth(resident)
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def board_of(client: AsyncTestClient, world: World, who: str) -> list[dict[str, Any]]:
    r = await client.get("/api/board", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def set_board(client: AsyncTestClient, world: World, mode: str, who: str = "manager", **body: Any):
    return await client.put(
        f"/api/dispatch/board/{world.areas['c1'].id}", json={"mode": mode, **body}, headers=world.auth(who)
    )


async def test_orders_go_to_the_board_after_30_minutes_by_default(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    r = await client.get(f"/api/dispatch/board/{world.areas['c1'].id}", headers=world.auth("grid_worker"))
    assert r.json() | {"updated_at": None} == {
        "community_id": world.areas["c1"].id,
        "mode": "after",
        "after_minutes": 30,
        "updated_by_id": None,
        "updated_at": None,
    }
    order_id = await post_order(client, world)
    assert await board_of(client, world, "volunteer") == []
    clock.advance(timedelta(minutes=30))
    (item,) = await board_of(client, world, "volunteer")
    # Masked as any order the volunteer does not hold.
    assert item["order"]["id"] == order_id and item["order"]["masked"] is True
    assert item["order"]["address_detail"] is None
    assert world.users["resident"].name not in str(item)
    assert item["distance"] == "same_building"
    # The resident who posted it, who also volunteers, does not see their own order.
    assert await board_of(client, world, "vol_resident") == [item]  # vol_resident did not post it
    mine = await post_order(client, world, "vol_resident")
    clock.advance(timedelta(minutes=30))
    assert mine not in [i["order"]["id"] for i in await board_of(client, world, "vol_resident")]
    assert mine in [i["order"]["id"] for i in await board_of(client, world, "volunteer")]
    # A volunteer of another community sees none of it.
    assert await board_of(client, world, "volunteer_c2") == []


async def test_a_community_puts_orders_on_the_board_at_once_or_never(
    client: AsyncTestClient, world: World
) -> None:
    r = await set_board(client, world, "at_once", "grid_worker")
    assert (r.status_code, r.json()["code"]) == (403, "manager_required")
    r = await set_board(client, world, "at_once")
    assert r.status_code == 200, r.text
    assert (r.json()["mode"], r.json()["updated_by_id"]) == ("at_once", world.id("manager"))
    normal = await post_order(client, world)
    urgent = await post_order(client, world, "resident_b", urgency="urgent")
    assert [i["order"]["id"] for i in await board_of(client, world, "volunteer")] == [urgent, normal]

    assert (await set_board(client, world, "never")).status_code == 200
    assert await board_of(client, world, "volunteer") == []
    r = await set_board(client, world, "after", after_minutes=-1)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


async def test_a_claim_takes_the_order_once(client: AsyncTestClient, world: World) -> None:
    assert (await set_board(client, world, "at_once")).status_code == 200
    order_id = await post_order(client, world)
    r = await client.post(f"/api/board/{order_id}/claim", headers=world.auth("volunteer_b"))
    assert r.status_code == 200, r.text
    order = r.json()
    assert (order["status"], order["volunteer"]["id"]) == ("accepted", world.id("volunteer_b"))
    assert [(o["mode"], o["status"]) for o in order["offers"]] == [("board", "accepted")]
    assert order["events"][-1]["action"] == "claim"

    r = await client.post(f"/api/board/{order_id}/claim", headers=world.auth("volunteer"))
    assert (r.status_code, r.json()["code"]) == (409, "order_not_open")
    assert r.headers["content-type"].startswith("application/problem+json")
    body = {"volunteer_ids": [world.id("volunteer")]}
    r = await client.post(f"/api/orders/{order_id}/dispatch", json=body, headers=world.auth("grid_worker"))
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")

    # volunteer_b (capacity 1) now holds an order: another claim is refused, and nothing is listed.
    other = await post_order(client, world, "resident_b")
    assert await board_of(client, world, "volunteer_b") == []
    r = await client.post(f"/api/board/{other}/claim", headers=world.auth("volunteer_b"))
    assert (r.status_code, r.json()["code"]) == (409, "at_capacity")
    # Not on a volunteer's board (another community's volunteer): as if it did not exist.
    r = await client.post(f"/api/board/{other}/claim", headers=world.auth("volunteer_c2"))
    assert (r.status_code, r.json()["code"]) == (404, "order_not_found")


# --- racing through a real server ------------------------------------------------------------------


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_claims_race_a_hand_dispatch_a_plan_and_auto_dispatch_and_one_wins(
    client: AsyncTestClient,
    world: World,
    racing: httpx.AsyncClient,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    assert (await set_board(client, world, "at_once")).status_code == 200
    r = await client.put(
        f"/api/dispatch/auto/{world.areas['c1'].id}", json={"enabled": True}, headers=world.auth("manager")
    )
    assert r.status_code == 200
    for round_ in range(3):
        order_id = await post_order(client, world, ("resident", "resident_b")[round_ % 2])
        plan = (
            await client.post(
                "/api/dispatch/plans",
                json={"area_id": world.areas["c1"].id, "order_ids": [order_id]},
                headers=world.auth("manager"),
            )
        ).json()
        (pair,) = plan["pairs"]

        async def auto() -> int:
            async with session_maker() as session, session.begin():
                return await auto_dispatch(session, clock(), settings)

        claims = [racing.post(f"/api/board/{order_id}/claim", headers=world.auth(v)) for v in VOLUNTEERS]
        dispatch = racing.post(
            f"/api/orders/{order_id}/dispatch",
            json={"volunteer_ids": [world.id("volunteer")]},
            headers=world.auth("grid_worker"),
        )
        apply = racing.post(
            f"/api/dispatch/plans/{plan['id']}/apply",
            json={"pair_ids": [pair["id"]]},
            headers=world.auth("manager"),
        )
        *claimed, dispatched, applied, auto_offered = await asyncio.gather(*claims, dispatch, apply, auto())

        # `volunteer` (capacity 2) may have won the claims of two earlier rounds: then the hand
        # dispatch to them is refused as they are full, which is no win either.
        full = dispatched.status_code == 422 and [v["reasons"] for v in dispatched.json()["volunteers"]] == [
            ["at_capacity"]
        ]
        for r in [*claimed] + ([] if full else [dispatched]):
            assert r.status_code in (200, 409), r.text
            if r.status_code == 409:
                assert r.headers["content-type"].startswith("application/problem+json")
        assert applied.status_code == 200, applied.text
        wins = (
            sum(r.status_code == 200 for r in claimed)
            + (dispatched.status_code == 200)
            + applied.json()["offered"]
            + auto_offered
        )
        assert wins == 1, ([r.text for r in claimed], dispatched.text, applied.text, auto_offered)
        async with session_maker() as session:
            order = await session.get(Order, order_id)
            offers = (await session.scalars(select(Offer).where(Offer.order_id == order_id))).all()
            rows = await session.execute(
                select(Order.volunteer_id, func.count())
                .where(Order.status.in_(HELD_STATUSES))
                .group_by(Order.volunteer_id)
            )
            held = {volunteer: count for volunteer, count in rows.all()}
            rows = await session.execute(select(VolunteerProfile.user_id, VolunteerProfile.capacity))
            capacity = {volunteer: count for volunteer, count in rows.all()}
        assert order is not None
        if order.volunteer_id is not None:  # a claim won
            assert [(o.mode, o.status) for o in offers] == [("board", OfferStatus.accepted)]
        else:  # an offer won: one pending offer, made once
            assert [o.status for o in offers] == [OfferStatus.pending]
        assert all(held[v] <= capacity[v] for v in held), (held, capacity)

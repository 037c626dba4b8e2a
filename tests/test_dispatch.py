"""Dispatch plans through the API: plan, read, apply once with re-checks, auto-dispatch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.auth.service import actor_of, get_user
from market.clock import FrozenClock
from market.dispatch.offers import expire_offers, list_offers
from market.dispatch.service import auto_dispatch
from market.orders.models import DispatchMode, Offer, OfferStatus, Order, OrderStatus
from market.settings import Settings
from tests.world import World


class Desk:
    """The calls a dispatcher and the people around them make."""

    def __init__(self, client: AsyncTestClient, world: World) -> None:
        self.client, self.world = client, world

    async def post_order(self, resident: str = "resident", **overrides: object) -> int:
        r = await self.client.post(
            "/api/orders",
            json=self.world.order_body(resident, **overrides),
            headers=self.world.auth(resident),
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def plan(self, who: str = "grid_worker", area: str = "c1_grid", **body: Any) -> httpx.Response:
        return await self.client.post(
            "/api/dispatch/plans",
            json={"area_id": self.world.areas[area].id, **body},
            headers=self.world.auth(who),
        )

    async def apply(self, plan_id: int, who: str = "grid_worker", **body: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/dispatch/plans/{plan_id}/apply", json=body, headers=self.world.auth(who)
        )

    async def offers(self, volunteer: str) -> list[dict[str, Any]]:
        r = await self.client.get("/api/offers?status=pending", headers=self.world.auth(volunteer))
        assert r.status_code == 200, r.text
        return r.json()["items"]

    async def order(self, order_id: int) -> dict[str, Any]:
        r = await self.client.get(f"/api/orders/{order_id}", headers=self.world.auth("street_admin"))
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def desk(client: AsyncTestClient, world: World) -> Desk:
    return Desk(client, world)


async def test_a_plan_proposes_pairs_with_breakdowns_and_applies_them_as_direct_offers(desk: Desk) -> None:
    orders = [await desk.post_order() for _ in range(3)]
    r = await desk.plan()
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["status"] == "proposed" and plan["automatic"] is False
    assert sorted(p["order_id"] for p in plan["pairs"]) == orders
    for pair in plan["pairs"]:
        assert sum(pair["breakdown"].values()) == pair["cost"]
        assert pair["distance"] == "same_building"  # every volunteer lives in the orders' building
        assert pair["volunteer_id"] != desk.world.id("resident")
    assert plan["summary"] == plan["summary"] | {"orders": 3, "assigned": 3, "coverage": 1.0}
    assert plan["unassigned"] == []

    r = await desk.apply(plan["id"])
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["offered"] == 3 and result["skipped"] == []
    assert result["plan"]["status"] == "applied"
    assert {p["outcome"] for p in result["plan"]["pairs"]} == {"offered"}
    for pair in result["plan"]["pairs"]:
        order = await desk.order(pair["order_id"])
        assert order["status"] == "dispatched"
        assert [(o["volunteer_id"], o["status"]) for o in order["offers"]] == [
            (pair["volunteer_id"], "pending")
        ]

    again = await desk.apply(plan["id"])
    assert again.status_code == 409 and again.json()["code"] == "plan_already_applied"
    assert (
        await desk.client.get(f"/api/dispatch/plans/{plan['id']}", headers=desk.world.auth("manager"))
    ).json() == (result["plan"])


async def test_unassigned_orders_carry_their_reasons(desk: Desk, world: World) -> None:
    no_skill = await desk.post_order(category="tutoring")
    # In community 2 only volunteer_c2 serves, and they hold an order already (capacity 1).
    held = await desk.post_order("resident_c2", area_id=world.areas["c2_building"].id)
    r = await desk.client.post(
        f"/api/orders/{held}/dispatch",
        json={"volunteer_ids": [world.id("volunteer_c2")]},
        headers=world.auth("manager_c2"),
    )
    assert r.status_code == 200, r.text
    (offer,) = await desk.offers("volunteer_c2")
    r = await desk.client.post(f"/api/offers/{offer['id']}/accept", headers=world.auth("volunteer_c2"))
    assert r.status_code == 200, r.text
    full = await desk.post_order("resident_c2", area_id=world.areas["c2_building"].id, urgency="urgent")

    r = await desk.plan("street_admin", "street")
    assert r.status_code == 201, r.text
    reasons = {u["order_id"]: u for u in r.json()["unassigned"]}
    assert reasons[no_skill]["reason"] == "no_one_with_skill"
    assert reasons[full]["reason"] == "everyone_at_capacity"
    assert reasons[full]["candidates"] == {"serving": 1, "eligible": 1, "free": 1, "with_capacity": 0}
    assert reasons[full]["penalty"] > reasons[no_skill]["penalty"]  # urgent orders weigh more
    assert reasons[full]["explanation"]


async def test_a_volunteer_is_never_proposed_their_own_order_nor_one_they_declined(desk: Desk) -> None:
    own = await desk.post_order("vol_resident")
    r = await desk.client.post(
        f"/api/orders/{own}/dispatch",
        json={"volunteer_ids": [desk.world.id("volunteer")]},
        headers=desk.world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    (offer,) = await desk.offers("volunteer")
    r = await desk.client.post(
        f"/api/offers/{offer['id']}/decline", json={"reason": "busy"}, headers=desk.world.auth("volunteer")
    )
    assert r.status_code == 204, r.text
    plan = (await desk.plan()).json()
    (pair,) = plan["pairs"]
    assert pair["volunteer_id"] not in {desk.world.id("vol_resident"), desk.world.id("volunteer")}


async def test_applying_rechecks_each_pair_and_applies_only_the_chosen_ones(desk: Desk) -> None:
    cancelled, skipped_by_choice, kept = [await desk.post_order() for _ in range(3)]
    plan = (await desk.plan()).json()
    pair_of = {p["order_id"]: p for p in plan["pairs"]}
    r = await desk.client.post(
        f"/api/orders/{cancelled}/cancel",
        json={"reason": "no longer needed"},
        headers=desk.world.auth("resident"),
    )
    assert r.status_code == 200, r.text

    r = await desk.apply(plan["id"], pair_ids=[pair_of[cancelled]["id"], pair_of[kept]["id"]])
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["offered"] == 1
    (skipped,) = result["skipped"]
    assert (skipped["order_id"], skipped["reason"]) == (cancelled, "not_waiting")
    outcome = {p["order_id"]: p["outcome"] for p in result["plan"]["pairs"]}
    assert outcome == {cancelled: "skipped", skipped_by_choice: "proposed", kept: "offered"}
    assert result["plan"]["status"] == "proposed", "a pair is left to apply"
    assert (await desk.order(skipped_by_choice))["status"] == "submitted"

    # The pair left is applied later; then nothing is left.
    r = await desk.apply(plan["id"])
    assert r.status_code == 200, r.text
    assert r.json()["offered"] == 1 and r.json()["plan"]["status"] == "applied"
    assert (await desk.order(skipped_by_choice))["status"] == "dispatched"
    r = await desk.apply(plan["id"], pair_ids=[pair_of[kept]["id"]])
    assert r.status_code == 409 and r.json()["code"] == "plan_already_applied"


async def test_applying_a_pair_already_applied_is_refused_and_offers_nothing(desk: Desk) -> None:
    first, second = [await desk.post_order() for _ in range(2)]
    plan = (await desk.plan()).json()
    pair_of = {p["order_id"]: p for p in plan["pairs"]}
    r = await desk.apply(plan["id"], pair_ids=[pair_of[first]["id"]])
    assert r.status_code == 200, r.text

    r = await desk.apply(plan["id"], "manager", pair_ids=[pair_of[first]["id"], pair_of[second]["id"]])
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["code"], r.json()["pair_ids"]) == ("pairs_already_applied", [pair_of[first]["id"]])
    assert len((await desk.order(first))["offers"]) == 1
    assert (await desk.order(second))["status"] == "submitted", "a refused apply changes nothing"


async def test_a_plan_says_why_each_volunteer_in_codes(desk: Desk) -> None:
    await desk.post_order()
    (pair,) = (await desk.plan()).json()["pairs"]
    # Every volunteer of the test world lives in the order's building, holds nothing, is unrated
    # and has skill level 2 of 3.
    assert pair["why"] == ["nearer", "less_busy"]


async def swap(
    desk: Desk, plan_id: int, pair_id: int, volunteer: str, who: str = "grid_worker"
) -> httpx.Response:
    return await desk.client.post(
        f"/api/dispatch/plans/{plan_id}/pairs/{pair_id}/swap",
        json={"volunteer_id": desk.world.id(volunteer)},
        headers=desk.world.auth(who),
    )


async def test_a_pair_swapped_for_an_eligible_volunteer_is_priced_and_offered_to_them(desk: Desk) -> None:
    order = await desk.post_order()
    plan = (await desk.plan()).json()
    (pair,) = plan["pairs"]
    other = next(n for n in ("volunteer", "volunteer_b") if desk.world.id(n) != pair["volunteer_id"])

    r = await swap(desk, plan["id"], pair["id"], other)
    assert r.status_code == 200, r.text
    (swapped,) = r.json()["pairs"]
    assert (swapped["id"], swapped["volunteer_id"], swapped["outcome"]) == (
        pair["id"],
        desk.world.id(other),
        "proposed",
    )
    assert sum(swapped["breakdown"].values()) == swapped["cost"]
    assert swapped["distance"] == "same_building" and swapped["why"] == ["nearer", "less_busy"]

    r = await desk.apply(plan["id"])
    assert r.status_code == 200, r.text
    assert [o["volunteer_id"] for o in (await desk.order(order))["offers"]] == [desk.world.id(other)]


@pytest.mark.parametrize(
    ("resident", "volunteer", "reasons"),
    [
        ("resident", "volunteer_c2", ["does_not_serve_area"]),
        ("vol_resident", "vol_resident", ["is_requester"]),
        ("resident", "resident_b", ["not_volunteer"]),
    ],
)
async def test_a_swap_to_an_ineligible_volunteer_is_refused_with_the_reason(
    desk: Desk, resident: str, volunteer: str, reasons: list[str]
) -> None:
    await desk.post_order(resident)
    plan = (await desk.plan()).json()
    (pair,) = plan["pairs"]
    r = await swap(desk, plan["id"], pair["id"], volunteer)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["code"], r.json()["reasons"]) == ("volunteer_not_eligible", reasons)
    after = (
        await desk.client.get(f"/api/dispatch/plans/{plan['id']}", headers=desk.world.auth("grid_worker"))
    ).json()
    assert after == plan, "a refused swap changes nothing"


async def test_a_swapped_volunteer_is_checked_again_on_apply(desk: Desk, world: World) -> None:
    order = await desk.post_order()
    plan = (await desk.plan()).json()
    (pair,) = plan["pairs"]
    other = next(n for n in ("volunteer", "volunteer_b") if world.id(n) != pair["volunteer_id"])
    assert (await swap(desk, plan["id"], pair["id"], other)).status_code == 200
    until = (world.now + timedelta(days=3)).astimezone(world.settings.tz).date().isoformat()
    r = await desk.client.put(
        f"/api/volunteers/{world.id(other)}/pause", json={"until": until}, headers=world.auth("manager")
    )
    assert r.status_code == 200, r.text

    result = (await desk.apply(plan["id"])).json()
    assert [(s["pair_id"], s["reason"]) for s in result["skipped"]] == [(pair["id"], "paused")]
    assert (await desk.order(order))["offers"] == []


async def test_a_pair_already_applied_cannot_be_swapped(desk: Desk) -> None:
    await desk.post_order()
    plan = (await desk.plan()).json()
    (pair,) = plan["pairs"]
    assert (await desk.apply(plan["id"], pair_ids=[pair["id"]])).status_code == 200
    r = await swap(desk, plan["id"], pair["id"], "volunteer_c")
    assert r.status_code == 409 and r.json()["code"] == "plan_already_applied"


async def test_a_volunteer_filled_up_since_the_plan_is_skipped(desk: Desk, world: World) -> None:
    order = await desk.post_order(area_id=world.areas["c2_building"].id, resident="resident_c2")
    plan = (await desk.plan("manager_c2", "c2")).json()
    (pair,) = plan["pairs"]
    assert pair["volunteer_id"] == world.id("volunteer_c2")
    other = await desk.post_order(area_id=world.areas["c2_building"].id, resident="resident_c2")
    r = await desk.client.post(
        f"/api/orders/{other}/dispatch",
        json={"volunteer_ids": [world.id("volunteer_c2")]},
        headers=world.auth("manager_c2"),
    )
    assert r.status_code == 200, r.text
    r = await desk.client.post(
        f"/api/offers/{r.json()['offers'][0]['id']}/accept", headers=world.auth("volunteer_c2")
    )
    assert r.status_code == 200, r.text  # the order held takes the volunteer's only slot

    result = (await desk.apply(plan["id"], "manager_c2")).json()
    assert result["offered"] == 0
    assert result["skipped"][0]["reason"] == "at_capacity"
    assert (await desk.order(order))["status"] == "submitted"


async def test_plans_for_chosen_orders(desk: Desk, world: World) -> None:
    first, second = await desk.post_order(), await desk.post_order()
    r = await desk.client.post(
        f"/api/orders/{second}/cancel", json={"reason": "changed my mind"}, headers=world.auth("resident")
    )
    assert r.status_code == 200
    plan = (await desk.plan(order_ids=[first, second])).json()
    assert [p["order_id"] for p in plan["pairs"]] == [first]
    assert [(u["order_id"], u["reason"]) for u in plan["unassigned"]] == [(second, "not_waiting")]

    elsewhere = await desk.post_order("resident_c2", area_id=world.areas["c2_building"].id)
    r = await desk.plan(order_ids=[first, elsewhere])
    assert r.status_code == 422 and r.json()["code"] == "orders_outside_area"


async def test_who_may_plan_and_see_plans(desk: Desk, world: World) -> None:
    await desk.post_order()
    r = await desk.plan("grid_worker_c2", "c1")
    assert r.status_code == 403 and r.json()["code"] == "outside_your_area"
    r = await desk.plan("resident", "c1")
    assert r.status_code == 403 and r.json()["code"] == "role_required"
    plan = (await desk.plan()).json()
    r = await desk.client.get(f"/api/dispatch/plans/{plan['id']}", headers=world.auth("manager_c2"))
    assert r.status_code == 404
    r = await desk.apply(plan["id"], "manager_c2")
    assert r.status_code == 404
    r = await desk.client.get("/api/dispatch/plans", headers=world.auth("manager"))
    assert [p["id"] for p in r.json()["items"]] == [plan["id"]]
    r = await desk.client.get("/api/dispatch/plans", headers=world.auth("manager_c2"))
    assert r.json()["items"] == []
    r = await desk.apply(plan["id"], pair_ids=[10**6])
    assert r.status_code == 422 and r.json()["code"] == "pairs_not_in_plan"
    assert (await desk.client.get(f"/api/dispatch/plans/{plan['id']}", headers=world.auth("manager"))).json()[
        "status"
    ] == "proposed"


async def test_the_same_state_gives_the_same_plan(desk: Desk) -> None:
    for _ in range(4):
        await desk.post_order()
    first, second = (await desk.plan()).json(), (await desk.plan()).json()
    strip = lambda plan: [{k: v for k, v in p.items() if k != "id"} for p in plan["pairs"]]  # noqa: E731
    assert strip(first) == strip(second) and first["summary"] == second["summary"]


# --- auto-dispatch ---------------------------------------------------------------------------------


async def _run(session_maker: async_sessionmaker[AsyncSession], job: Any, clock: FrozenClock) -> int:
    async with session_maker() as session, session.begin():
        return await job(session, clock())


async def test_auto_dispatch_offers_waiting_orders_and_moves_on_after_a_decline_or_expiry(
    desk: Desk,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
) -> None:
    order = await desk.post_order()
    job = lambda session, now: auto_dispatch(session, now, settings)  # noqa: E731
    assert await _run(session_maker, job, clock) == 0  # the community has not turned it on

    r = await desk.client.put(
        f"/api/dispatch/auto/{world.areas['c1'].id}",
        json={"enabled": True},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 403  # grid workers dispatch, managers decide the policy
    r = await desk.client.put(
        f"/api/dispatch/auto/{world.areas['c1'].id}", json={"enabled": True}, headers=world.auth("manager")
    )
    assert r.status_code == 200 and r.json()["enabled"] is True
    assert await _run(session_maker, job, clock) == 1
    assert await _run(session_maker, job, clock) == 0  # nothing waits any more: no empty plans
    plans = (await desk.client.get("/api/dispatch/plans", headers=world.auth("manager"))).json()["items"]
    assert [(p["automatic"], p["status"]) for p in plans] == [(True, "applied")]

    tried = []
    detail = await desk.order(order)
    (offer,) = detail["offers"]
    tried.append(offer["volunteer_id"])
    volunteer = next(k for k, u in world.users.items() if u.id == offer["volunteer_id"])
    r = await desk.client.post(
        f"/api/offers/{offer['id']}/decline", json={"reason": "away"}, headers=world.auth(volunteer)
    )
    assert r.status_code == 204, r.text
    detail = await desk.order(order)  # offered to the next best at once
    assert detail["status"] == "dispatched"
    pending = [o for o in detail["offers"] if o["status"] == "pending"]
    assert len(pending) == 1 and pending[0]["volunteer_id"] not in tried
    tried.append(pending[0]["volunteer_id"])

    clock.advance(timedelta(minutes=settings.offer_ttl_minutes + 1))
    assert await _run(session_maker, expire_offers, clock) == 1
    assert await _run(session_maker, job, clock) == 1
    detail = await desk.order(order)
    pending = [o for o in detail["offers"] if o["status"] == "pending"]
    assert len(pending) == 1 and pending[0]["volunteer_id"] not in tried

    r = await desk.client.get(f"/api/dispatch/auto/{world.areas['c1'].id}", headers=world.auth("grid_worker"))
    assert r.json()["enabled"] is True
    r = await desk.client.put(
        f"/api/dispatch/auto/{world.areas['c1_grid'].id}",
        json={"enabled": True},
        headers=world.auth("manager"),
    )
    assert r.status_code == 422 and r.json()["code"] == "not_a_community"


# --- racing ----------------------------------------------------------------------------------------


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_two_dispatchers_applying_one_plan_at_once_offer_once(
    desk: Desk, world: World, racing: httpx.AsyncClient, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(3):
        await desk.post_order()
    plan = (await desk.plan()).json()
    responses = await asyncio.gather(
        *(
            racing.post(f"/api/dispatch/plans/{plan['id']}/apply", json={}, headers=world.auth(who))
            for who in ("grid_worker", "manager", "grid_worker", "manager")
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409], [r.text for r in responses]
    async with session_maker() as session:
        offers = (await session.scalars(select(Offer).where(Offer.status == OfferStatus.pending))).all()
    assert len(offers) == 3 and len({o.order_id for o in offers}) == 3


async def test_a_volunteers_offers_page_newest_first_with_the_same_total_on_every_page(desk: Desk) -> None:
    orders = [await desk.post_order() for _ in range(3)]
    for order in orders:
        r = await desk.client.post(
            f"/api/orders/{order}/dispatch",
            json={"volunteer_ids": [desk.world.id("volunteer")], "mode": "direct"},
            headers=desk.world.auth("grid_worker"),
        )
        assert r.status_code == 200, r.text
    volunteer = desk.world.auth("volunteer")
    (taken,) = [o for o in await desk.offers("volunteer") if o["order_id"] == orders[0]]
    r = await desk.client.post(f"/api/offers/{taken['id']}/accept", headers=volunteer)
    assert r.status_code == 200, r.text

    async def page(query: str) -> tuple[list[int], int]:
        r = await desk.client.get(f"/api/offers?{query}", headers=volunteer)
        assert r.status_code == 200, r.text
        return [o["order_id"] for o in r.json()["items"]], r.json()["total"]

    newest_first = orders[::-1]
    for limit in (1, 2, 3, 5):
        for offset in range(5):
            assert await page(f"limit={limit}&offset={offset}") == (newest_first[offset : offset + limit], 3)
    assert await page("status=pending&limit=1") == ([orders[2]], 2)
    assert await page("status=pending&limit=1&offset=1") == ([orders[1]], 2)
    assert await page("status=accepted") == ([orders[0]], 1)
    assert await page("status=declined") == ([], 0)
    # Another volunteer sees none of them.
    r = await desk.client.get("/api/offers", headers=desk.world.auth("volunteer_b"))
    assert r.json()["items"] == [] and r.json()["total"] == 0


async def test_volunteers_offered_the_same_orders_each_page_their_own_offers_newest_first_by_time(
    desk: Desk, clock: FrozenClock
) -> None:
    """A page is picked from the volunteer's own offers before they are joined to their orders: two
    volunteers' offers, made in turn, never cross, and newest first is by time, not by id (each
    order below is offered five minutes before the one posted ahead of it)."""
    orders = []
    for i in range(4):
        orders.append(await desk.post_order())
        offered_to = ["volunteer", "volunteer_b"] if i % 2 == 0 else ["volunteer"]
        r = await desk.client.post(
            f"/api/orders/{orders[-1]}/dispatch",
            json={
                "volunteer_ids": [desk.world.id(v) for v in offered_to],
                "mode": "pool" if len(offered_to) > 1 else "direct",
            },
            headers=desk.world.auth("grid_worker"),
        )
        assert r.status_code == 200, r.text
        clock.advance(-timedelta(minutes=5))
    mine = {o["order_id"]: o["id"] for o in await desk.offers("volunteer")}
    r = await desk.client.post(f"/api/offers/{mine[orders[3]]}/accept", headers=desk.world.auth("volunteer"))
    assert r.status_code == 200, r.text
    theirs = {o["order_id"]: o["id"] for o in await desk.offers("volunteer_b")}
    r = await desk.client.post(
        f"/api/offers/{theirs[orders[2]]}/decline",
        json={"reason": "away"},
        headers=desk.world.auth("volunteer_b"),
    )
    assert r.status_code == 204, r.text

    async def page(volunteer: str, query: str) -> tuple[list[int], int]:
        r = await desk.client.get(f"/api/offers?{query}", headers=desk.world.auth(volunteer))
        assert r.status_code == 200, r.text
        return [o["order_id"] for o in r.json()["items"]], r.json()["total"]

    o0, o1, o2, o3 = orders
    lists = {
        ("volunteer", ""): [o0, o1, o2, o3],
        ("volunteer", "status=pending&"): [o0, o1, o2],
        ("volunteer", "status=accepted&"): [o3],
        ("volunteer_b", ""): [o0, o2],
        ("volunteer_b", "status=pending&"): [o0],
        ("volunteer_b", "status=declined&"): [o2],
    }
    for (volunteer, status), newest_first in lists.items():
        for limit in (1, 2, 3):
            for offset in range(len(newest_first) + 1):
                expected = (newest_first[offset : offset + limit], len(newest_first))
                assert await page(volunteer, f"{status}limit={limit}&offset={offset}") == expected, (
                    volunteer,
                    status,
                    limit,
                    offset,
                )


async def test_on_postgresql_one_plan_serves_every_volunteers_page_of_offers(
    engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession], world: World, is_postgres: bool
) -> None:
    """Beside a busy volunteer's hundreds of offers, a volunteer with two is served by the one plan
    PostgreSQL keeps for the page (`generic_plans`) once the table is vacuumed, as a running database
    is. With the volunteer's offers joined to their orders before the page was picked, the plan of
    their own always looked cheaper: every request was planned again (~0.5 ms)."""
    if not is_postgres:
        pytest.skip("generic and custom plans of a prepared statement are PostgreSQL's")
    home, now = world.areas["c1_building"], world.now

    def offered_to(volunteer: str) -> Order:
        return Order(
            requester_id=world.id("resident"),
            area_id=home.id,
            area_code=home.code,
            category_code="escort",
            description="Take me to the hospital for a check-up",
            window_start=now + timedelta(hours=1),
            window_end=now + timedelta(hours=2),
            status=OrderStatus.dispatched,
            created_at=now,
            updated_at=now,
            offers=[
                Offer(
                    volunteer_id=world.id(volunteer),
                    dispatched_by_id=world.id("grid_worker"),
                    mode=DispatchMode.direct,
                    status=OfferStatus.pending,
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                )
            ],
        )

    async with session_maker() as session, session.begin():
        session.add_all([offered_to("volunteer_b") for _ in range(300)])
        session.add_all([offered_to("volunteer") for _ in range(2)])
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs alone
        await conn.execute(text("VACUUM ANALYZE offers, orders"))
    async with session_maker() as session:  # one connection: PostgreSQL keeps plans for each
        volunteer = actor_of(await get_user(session, world.id("volunteer")))
        for _ in range(8):
            assert (await list_offers(session, volunteer, None, 20, 0))[1] == 2
        plans = text("SELECT generic_plans FROM pg_prepared_statements WHERE statement LIKE :page")
        (generic,) = (
            await session.scalars(plans, {"page": "%offers.id = ANY (array((SELECT offers.id%"})
        ).all()
    assert generic > 0

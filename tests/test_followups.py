"""Follow-ups (回访) after a confirmed order: opened for a low rating, a complaint or the community's
sample, for the order's grid worker (the community's managers when the grid has none), due three
days later, and closed by the outcome the grid worker records."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import UserRole
from market.clock import FrozenClock
from market.followups.models import DEFAULT_SAMPLE_PERCENT, FOLLOWUP_DUE_AFTER
from market.followups.service import in_sample
from market.notifications.models import Notification, NotificationCode
from market.orders.service import auto_confirm_orders
from market.settings import Settings
from tests.test_authorization import assert_problem, build_order, ok
from tests.world import World


async def set_sample(client: AsyncTestClient, world: World, percent: int) -> None:
    path = f"/api/followups/sampling/{world.areas['c1'].id}"
    await ok(client, world, "manager", "PUT", path, {"percent": percent})


async def confirmed(client: AsyncTestClient, world: World, body: dict[str, Any]) -> int:
    order, _ = await build_order(client, world, "completed")
    await ok(client, world, "resident", "POST", f"/api/orders/{order}/confirm", body)
    return order


async def followups(client: AsyncTestClient, world: World, role: str = "grid_worker", **query: Any) -> Any:
    r = await client.get("/api/followups", params=query, headers=world.auth(role))
    assert r.status_code == 200, r.text
    return r.json()


async def told(
    session_maker: async_sessionmaker[AsyncSession], code: NotificationCode
) -> list[tuple[int, str, int]]:
    async with session_maker() as session:
        rows = await session.execute(
            select(Notification.user_id, Notification.subject_type, Notification.subject_id)
            .where(Notification.code == code)
            .order_by(Notification.user_id)
        )
        return [tuple(row) for row in rows]


async def test_a_low_rating_opens_a_followup_for_the_grid_worker_due_in_three_days(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await set_sample(client, world, 0)

    order = await confirmed(client, world, {"rating": 3, "comment": "came late"})

    page = await followups(client, world)
    assert page["total"] == 1
    (item,) = page["items"]
    assert (item["order_id"], item["reason"], item["outcome"], item["overdue"]) == (
        order,
        "low_rating",
        None,
        False,
    )
    assert item["rating"] == 3 and item["comment"] == "came late"
    assert item["resident"]["phone"] == world.users["resident"].phone
    assert datetime.fromisoformat(item["due_at"]) == clock() + FOLLOWUP_DUE_AFTER
    r = await client.get(f"/api/followups/{item['id']}", headers=world.auth("grid_worker"))
    assert r.json()["due_at"] == item["due_at"]
    assert await told(session_maker, NotificationCode.followup_due) == [
        (world.id("grid_worker"), "followup", item["id"])
    ]


@pytest.mark.parametrize(("rating", "opens"), [(1, True), (2, True), (3, True), (4, False), (5, False)])
async def test_ratings_of_three_or_less_are_followed_up(
    client: AsyncTestClient, world: World, rating: int, opens: bool
) -> None:
    await set_sample(client, world, 0)
    await confirmed(client, world, {"rating": rating})
    assert (await followups(client, world))["total"] == (1 if opens else 0)


async def test_a_complaint_is_followed_up_whatever_the_rating(client: AsyncTestClient, world: World) -> None:
    await set_sample(client, world, 0)

    order = await confirmed(client, world, {"rating": 5, "comment": "rude on the phone", "complaint": True})

    (item,) = (await followups(client, world))["items"]
    assert (item["order_id"], item["reason"]) == (order, "complaint")


async def test_a_complaint_needs_a_comment_and_a_refusal_changes_nothing(
    client: AsyncTestClient, world: World
) -> None:
    order, _ = await build_order(client, world, "completed")

    r = await client.post(
        f"/api/orders/{order}/confirm", json={"rating": 2, "complaint": True}, headers=world.auth("resident")
    )

    assert_problem(r, 400, {"complaint_needs_comment"})
    assert (await ok(client, world, "resident", "GET", f"/api/orders/{order}"))["status"] == "completed"
    assert (await followups(client, world))["total"] == 0


async def test_the_communitys_sample_follows_up_a_good_rating(client: AsyncTestClient, world: World) -> None:
    await set_sample(client, world, 100)

    order = await confirmed(client, world, {"rating": 5})

    (item,) = (await followups(client, world))["items"]
    assert (item["order_id"], item["reason"]) == (order, "sample")


async def test_a_good_rating_outside_the_default_sample_opens_none(
    client: AsyncTestClient, world: World
) -> None:
    order = await confirmed(client, world, {"rating": 5})

    expected = 1 if in_sample(order, DEFAULT_SAMPLE_PERCENT) else 0
    assert (await followups(client, world))["total"] == expected


def test_the_sample_is_a_fixed_share_of_order_ids() -> None:
    ids = range(1, 20001)
    share = sum(in_sample(i, 10) for i in ids) / len(ids)
    assert 0.09 < share < 0.11
    assert [in_sample(i, 10) for i in ids[:50]] == [in_sample(i, 10) for i in ids[:50]]
    assert not any(in_sample(i, 0) for i in ids) and all(in_sample(i, 100) for i in ids)
    # A larger sample keeps the orders of a smaller one.
    assert all(in_sample(i, 25) for i in ids if in_sample(i, 10))


async def test_auto_confirmed_orders_are_sampled_and_go_to_the_managers_when_the_grid_has_no_worker(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    settings: Settings,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await set_sample(client, world, 100)
    order, _ = await build_order(client, world, "completed")
    async with session_maker() as session, session.begin():
        await session.execute(delete(UserRole).where(UserRole.user_id == world.id("grid_worker")))
    clock.advance(timedelta(days=settings.auto_confirm_days, minutes=1))
    async with session_maker() as session, session.begin():
        assert await auto_confirm_orders(session, clock(), settings.tz, settings.auto_confirm_days) == 1

    (item,) = (await followups(client, world, "manager"))["items"]
    assert (item["order_id"], item["reason"], item["rating"]) == (order, "sample", None)
    assert await told(session_maker, NotificationCode.followup_due) == [
        (world.id("manager"), "followup", item["id"])
    ]


async def test_a_manager_confirming_an_entered_order_with_a_low_rating_opens_one(
    client: AsyncTestClient, world: World
) -> None:
    await set_sample(client, world, 0)
    body = {**world.order_body(), "resident_id": world.id("resident"), "channel": "phone"}
    order = (await ok(client, world, "grid_worker", "POST", "/api/orders/for-resident", body))["id"]
    await ok(client, world, "grid_worker", "POST", f"/api/orders/{order}/dispatch",
             {"volunteer_ids": [world.id("volunteer")], "mode": "direct"})  # fmt: skip
    offer = (await ok(client, world, "volunteer", "GET", "/api/offers"))["items"][0]["id"]
    await ok(client, world, "volunteer", "POST", f"/api/offers/{offer}/accept")
    for step in ("check-in", "check-out", "complete"):
        await ok(client, world, "volunteer", "POST", f"/api/orders/{order}/{step}", {"note": ""})

    await ok(client, world, "manager", "POST", f"/api/orders/{order}/confirm", {"rating": 2})

    (item,) = (await followups(client, world))["items"]
    assert (item["order_id"], item["reason"]) == (order, "low_rating")


# ---------------------------------------------------------------- the grid worker's list and outcome


async def test_the_grid_worker_records_the_outcome_once(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    await set_sample(client, world, 0)
    await confirmed(client, world, {"rating": 1})
    (item,) = (await followups(client, world, status="due"))["items"]
    clock.advance(FOLLOWUP_DUE_AFTER + timedelta(minutes=1))
    assert (await followups(client, world, status="due"))["total"] == 0
    (late,) = (await followups(client, world, status="overdue"))["items"]
    assert late["id"] == item["id"] and late["overdue"] is True
    path = f"/api/followups/{item['id']}/outcome"

    done = await ok(client, world, "grid_worker", "POST", path, {"outcome": "resolved", "note": "apologised"})

    assert (done["outcome"], done["note"], done["overdue"]) == ("resolved", "apologised", False)
    assert done["recorded_by"]["id"] == world.id("grid_worker") and done["recorded_at"] is not None
    assert (await followups(client, world, status="open"))["total"] == 0
    assert [f["id"] for f in (await followups(client, world, status="done"))["items"]] == [item["id"]]
    again = await client.post(path, json={"outcome": "satisfied"}, headers=world.auth("manager"))
    assert_problem(again, 409, {"followup_already_recorded"})
    after = await ok(client, world, "grid_worker", "GET", f"/api/followups/{item['id']}")
    assert after["outcome"] == "resolved" and after["recorded_by"]["id"] == world.id("grid_worker")


@pytest.mark.parametrize(
    "body",
    [{"outcome": "happy"}, {"note": "x"}, {"outcome": "satisfied", "note": "x" * 1001}, {"outcome": ""}],
)
async def test_a_bad_outcome_is_refused_and_changes_nothing(
    client: AsyncTestClient, world: World, body: dict[str, Any]
) -> None:
    await set_sample(client, world, 0)
    await confirmed(client, world, {"rating": 1})
    (item,) = (await followups(client, world))["items"]

    r = await client.post(
        f"/api/followups/{item['id']}/outcome", json=body, headers=world.auth("grid_worker")
    )

    assert_problem(r, 400)
    assert (await followups(client, world, status="open"))["total"] == 1


async def test_lists_filter_by_reason_and_area_and_page(client: AsyncTestClient, world: World) -> None:
    await set_sample(client, world, 0)
    low = [await confirmed(client, world, {"rating": 2}) for _ in range(2)]
    complaint = await confirmed(client, world, {"rating": 4, "comment": "noisy", "complaint": True})

    page = await followups(client, world, reason="low_rating", limit=1)
    assert page["total"] == 2 and [f["order_id"] for f in page["items"]] == [low[0]]
    page = await followups(client, world, reason="low_rating", limit=1, offset=1)
    assert [f["order_id"] for f in page["items"]] == [low[1]]
    assert [f["order_id"] for f in (await followups(client, world, reason="complaint"))["items"]] == [
        complaint
    ]
    assert (await followups(client, world, area_id=world.areas["c1_building"].id))["total"] == 3
    r = await client.get(
        "/api/followups", params={"area_id": world.areas["c2"].id}, headers=world.auth("manager")
    )
    assert_problem(r, 403, {"outside_your_area"})
    r = await client.get("/api/followups", params={"status": "late"}, headers=world.auth("manager"))
    assert_problem(r, 400)


async def test_the_sample_is_set_by_the_communitys_managers_within_0_to_100(
    client: AsyncTestClient, world: World
) -> None:
    path = f"/api/followups/sampling/{world.areas['c1'].id}"
    assert (await ok(client, world, "grid_worker", "GET", path))["percent"] == DEFAULT_SAMPLE_PERCENT

    saved = await ok(client, world, "manager", "PUT", path, {"percent": 25})

    assert (saved["percent"], saved["updated_by_id"]) == (25, world.id("manager"))
    for bad in (-1, 101, "ten"):
        assert_problem(await client.put(path, json={"percent": bad}, headers=world.auth("manager")), 400)
    assert_problem(
        await client.put(path, json={"percent": 5}, headers=world.auth("grid_worker")),
        403,
        {"manager_required"},
    )
    not_community = f"/api/followups/sampling/{world.areas['c1_grid'].id}"
    assert_problem(await client.get(not_community, headers=world.auth("manager")), 422, {"not_a_community"})
    assert (await ok(client, world, "grid_worker", "GET", path))["percent"] == 25

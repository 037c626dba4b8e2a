"""A volunteer pauses taking orders until a date: dispatch, plans and auto-dispatch pass them over
until the day after begins (service clock); nobody else's volunteers can be paused."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from litestar.testing import AsyncTestClient

from tests.world import World


def until(world: World, days: int = 2) -> str:
    return (world.now.astimezone(world.settings.tz).date() + timedelta(days=days)).isoformat()


async def test_pause_and_resume(client: AsyncTestClient, world: World) -> None:
    path = f"/api/volunteers/{world.id('volunteer')}/pause"
    response = await client.put(
        path, json={"until": until(world), "reason": "busy"}, headers=world.auth("volunteer")
    )
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["pause_reason"] == "busy" and profile["paused_until"] is not None
    response = await client.delete(path, headers=world.auth("volunteer"))
    assert response.status_code == 200 and response.json()["paused_until"] is None


async def test_a_volunteer_cannot_pause_another(client: AsyncTestClient, world: World) -> None:
    path = f"/api/volunteers/{world.id('volunteer_b')}/pause"
    response = await client.put(path, json={"until": until(world)}, headers=world.auth("volunteer"))
    assert response.status_code in (403, 404)
    response = await client.delete(path, headers=world.auth("volunteer"))
    assert response.status_code in (403, 404)
    # Nor does a manager of another community.
    response = await client.put(path, json={"until": until(world)}, headers=world.auth("manager_c2"))
    assert response.status_code in (403, 404)
    profile = (
        await client.get(f"/api/volunteers/{world.id('volunteer_b')}/profile", headers=world.auth("manager"))
    ).json()
    assert profile["paused_until"] is None


async def test_a_pause_ends_today_at_the_earliest_and_within_a_year(
    client: AsyncTestClient, world: World
) -> None:
    path = f"/api/volunteers/{world.id('volunteer')}/pause"
    response = await client.put(path, json={"until": until(world, -1)}, headers=world.auth("volunteer"))
    assert response.status_code == 400 and response.json()["code"] == "pause_in_past"
    response = await client.put(path, json={"until": until(world, 400)}, headers=world.auth("volunteer"))
    assert response.status_code == 400 and response.json()["code"] == "pause_too_long"


async def test_dispatch_skips_a_paused_volunteer_until_the_date_passes(
    client: AsyncTestClient, world: World
) -> None:
    long = world.order_body(window_end=(world.now + timedelta(days=3)).isoformat())
    order = (await client.post("/api/orders", json=long, headers=world.auth("resident"))).json()
    pause = {"until": until(world, 0), "reason": "away"}
    assert (
        await client.put(
            f"/api/volunteers/{world.id('volunteer')}/pause", json=pause, headers=world.auth("volunteer")
        )
    ).status_code == 200
    body = {"volunteer_ids": [world.id("volunteer")]}
    response = await client.post(
        f"/api/orders/{order['id']}/dispatch", json=body, headers=world.auth("grid_worker")
    )
    assert response.status_code == 422
    assert response.json()["volunteers"] == [
        {"volunteer_id": world.id("volunteer"), "reason": "paused", "reasons": ["paused"]}
    ]

    plan = await client.post(
        "/api/dispatch/plans", json={"area_id": world.areas["c1"].id}, headers=world.auth("manager")
    )
    assert plan.status_code == 201, plan.text
    proposed = {p["volunteer_id"] for p in plan.json()["pairs"]}
    assert proposed and world.id("volunteer") not in proposed

    # The day after the chosen date, the volunteer is offered orders again.
    tz = world.settings.tz
    midnight = datetime.combine(world.now.astimezone(tz).date() + timedelta(days=1), time.min, tz)
    world.clock.advance(midnight - world.now - timedelta(minutes=1))
    response = await client.post(
        f"/api/orders/{order['id']}/dispatch", json=body, headers=world.auth("grid_worker")
    )
    assert response.status_code == 422  # still the chosen day
    world.clock.advance(timedelta(minutes=1))
    response = await client.post(
        f"/api/orders/{order['id']}/dispatch", json=body, headers=world.auth("grid_worker")
    )
    assert response.status_code == 200, response.text

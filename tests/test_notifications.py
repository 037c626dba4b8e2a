"""Inboxes: flows write messages in their own transaction; each person reads only their own."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.world import World


async def _offer(client: AsyncTestClient, world: World) -> int:
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    order_id = r.json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer"), world.id("volunteer_b")], "mode": "pool"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    return order_id


async def test_an_offer_lands_in_each_offered_volunteers_inbox(client: AsyncTestClient, world: World) -> None:
    order_id = await _offer(client, world)
    for volunteer in ("volunteer", "volunteer_b"):
        inbox = (await client.get("/api/notifications", headers=world.auth(volunteer))).json()
        assert inbox["unread"] == 1 and inbox["total"] == 1
        (message,) = inbox["items"]
        assert (message["code"], message["subject_type"], message["subject_id"]) == (
            "offer",
            "order",
            order_id,
        )
        assert message["read_at"] is None
    assert (await client.get("/api/notifications", headers=world.auth("volunteer_c"))).json()["total"] == 0


async def test_marking_read_one_or_all(client: AsyncTestClient, world: World) -> None:
    await _offer(client, world)
    await _offer(client, world)
    inbox = (await client.get("/api/notifications", headers=world.auth("volunteer"))).json()
    first, second = inbox["items"]
    assert first["id"] > second["id"]  # newest first

    r = await client.post(f"/api/notifications/{second['id']}/read", headers=world.auth("volunteer_b"))
    assert r.status_code == 404 and r.json()["code"] == "notification_not_found"  # not theirs
    r = await client.post(f"/api/notifications/{second['id']}/read", headers=world.auth("volunteer"))
    assert r.status_code == 200 and r.json()["read_at"] is not None
    again = await client.post(f"/api/notifications/{second['id']}/read", headers=world.auth("volunteer"))
    assert again.json()["read_at"] == r.json()["read_at"]  # reading twice keeps the first time

    unread = (await client.get("/api/notifications?unread=true", headers=world.auth("volunteer"))).json()
    assert [m["id"] for m in unread["items"]] == [first["id"]] and unread["unread"] == 1
    r = await client.post("/api/notifications/read-all", headers=world.auth("volunteer"))
    assert r.json() == {"marked": 1}
    assert (await client.get("/api/notifications", headers=world.auth("volunteer"))).json()["unread"] == 0
    assert (await client.get("/api/notifications", headers=world.auth("volunteer_b"))).json()["unread"] == 2


async def test_the_inbox_needs_a_login_and_valid_paging(client: AsyncTestClient, world: World) -> None:
    assert (await client.get("/api/notifications")).status_code == 401
    r = await client.get("/api/notifications?limit=0", headers=world.auth("resident"))
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"

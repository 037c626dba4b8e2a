from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.world import World


async def test_the_whole_flow(client: AsyncTestClient, world: World) -> None:
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer")], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    r = await client.get("/api/offers", headers=world.auth("volunteer"))
    assert r.status_code == 200, r.text
    offer = r.json()["items"][0]
    assert offer["order"]["masked"] is True
    r = await client.post(f"/api/offers/{offer['id']}/accept", headers=world.auth("volunteer"))
    assert r.status_code == 200, r.text
    assert r.json()["masked"] is False
    for step in ("check-in", "check-out"):
        r = await client.post(f"/api/orders/{order_id}/{step}", headers=world.auth("volunteer"))
        assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/orders/{order_id}/complete", json={"note": "done"}, headers=world.auth("volunteer")
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/orders/{order_id}/confirm",
        json={"rating": 5, "comment": "thanks"},
        headers=world.auth("resident"),
    )
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["status"] == "confirmed"
    assert [e["action"] for e in detail["events"]] == [
        "post",
        "dispatch",
        "accept",
        "check_in",
        "check_out",
        "complete",
        "confirm",
    ]

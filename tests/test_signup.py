"""Sign-up: a resident registers and may only see their status until a grid worker of their grid
approves; a resident applies to volunteer and a community manager approves; outcomes arrive in
the inbox; sign-ups are throttled per client address."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tests.world import World


def bearer(body: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['access_token']}"}


async def sign_up(
    client: AsyncTestClient, world: World, phone: str = "13612340001", building: str = "c1_building"
):
    body = {
        "phone": phone,
        "name": "New Neighbour",
        "password": "my-password-1",
        "area_id": world.areas[building].id,
    }
    return await client.post("/api/signup", json=body)


async def test_a_resident_signs_up_and_a_grid_worker_of_that_grid_approves(
    client: AsyncTestClient, world: World
) -> None:
    r = await sign_up(client, world)
    assert r.status_code == 201, r.text
    me = bearer(r.json())
    assert r.json()["user"]["approval"] == "pending" and r.json()["user"]["roles"] == []
    refused = await client.get("/api/orders", headers=me)
    assert refused.status_code == 403 and refused.json()["code"] == "approval_pending"
    status = (await client.get("/api/signup/status", headers=me)).json()
    assert [(a["kind"], a["status"]) for a in status] == [("resident", "pending")]
    # Community 2's grid worker does not see it; community 1's does.
    assert (await client.get("/api/approvals", headers=world.auth("grid_worker_c2"))).json()["total"] == 0
    waiting = (await client.get("/api/approvals", headers=world.auth("grid_worker"))).json()
    assert waiting["total"] == 1
    app_id = waiting["items"][0]["id"]
    other = await client.post(f"/api/approvals/{app_id}/approve", headers=world.auth("grid_worker_c2"))
    assert other.status_code == 404 and other.json()["code"] == "application_not_found"
    ok = await client.post(f"/api/approvals/{app_id}/approve", headers=world.auth("grid_worker"))
    assert ok.status_code == 200 and ok.json()["status"] == "approved", ok.text
    again = await client.post(f"/api/approvals/{app_id}/approve", headers=world.auth("grid_worker"))
    assert again.status_code == 409 and again.json()["code"] == "application_decided"
    assert (await client.get("/api/orders", headers=me)).status_code == 200
    inbox = (await client.get("/api/notifications", headers=me)).json()
    assert [n["code"] for n in inbox["items"]] == ["signup_approved"]


async def test_a_refused_resident_sees_only_their_status(client: AsyncTestClient, world: World) -> None:
    me = bearer((await sign_up(client, world)).json())
    app_id = (await client.get("/api/approvals", headers=world.auth("manager"))).json()["items"][0]["id"]
    r = await client.post(f"/api/approvals/{app_id}/refuse", headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["status"] == "refused"
    refused = await client.get("/api/orders", headers=me)
    assert refused.status_code == 403 and refused.json()["code"] == "approval_refused"
    assert (await client.get("/api/signup/status", headers=me)).json()[0]["status"] == "refused"


async def test_sign_up_refuses_a_taken_phone_and_a_non_building(
    client: AsyncTestClient, world: World
) -> None:
    r = await sign_up(client, world, phone="13700000001")
    assert r.status_code == 409 and r.json()["code"] == "phone_taken"
    r = await sign_up(client, world, building="c1_grid")
    assert r.status_code == 400 and r.json()["code"] == "not_a_building"


async def test_sign_ups_are_throttled_per_client_address(client: AsyncTestClient, world: World) -> None:
    free = world.settings.signup_free_per_client
    for i in range(free):
        assert (await sign_up(client, world, phone=f"136123400{i:02d}")).status_code == 201
    r = await sign_up(client, world, phone="13612349999")
    assert r.status_code == 429 and r.json()["code"] == "too_many_failed_attempts"


async def test_a_resident_applies_to_volunteer_and_a_community_manager_approves(
    client: AsyncTestClient, world: World
) -> None:
    body = {
        "skills": [{"category": "escort"}],
        "availability": [{"weekday": 5, "start": "09:00", "end": "12:00"}],
        "serving_area_ids": [world.areas["c1"].id],
    }
    r = await client.post("/api/volunteer-applications", json=body, headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    twice = await client.post("/api/volunteer-applications", json=body, headers=world.auth("resident"))
    assert twice.status_code == 409 and twice.json()["code"] == "application_pending"
    # A grid worker does not decide volunteers; the community's manager does.
    assert (await client.get("/api/approvals", headers=world.auth("grid_worker"))).json()["total"] == 0
    app_id = r.json()["id"]
    no = await client.post(f"/api/approvals/{app_id}/approve", headers=world.auth("grid_worker"))
    assert no.status_code == 404
    assert (
        await client.post(f"/api/approvals/{app_id}/approve", headers=world.auth("manager"))
    ).status_code == 200
    me = (await client.get("/api/me", headers=world.auth("resident"))).json()
    assert me["roles"] == ["resident", "volunteer"]
    profile = (await client.get(f"/api/volunteers/{me['id']}/profile", headers=world.auth("resident"))).json()
    assert profile["skills"] == [{"category": "escort", "level": 1}]
    inbox = (await client.get("/api/notifications", headers=world.auth("resident"))).json()
    assert "volunteer_approved" in [n["code"] for n in inbox["items"]]

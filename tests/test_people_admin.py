"""Managing people through the API: correcting, roles, deactivating, password resets, and the scope
each of those keeps (a manager of one community cannot touch another's people; nobody gives a role
at or above their own; nobody deactivates or demotes themselves)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from tests.world import PASSWORD, World


def ok(r) -> dict:
    assert r.status_code in (200, 201), r.text
    return r.json()


def refused(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.text


async def person(client: AsyncTestClient, world: World, who: str) -> dict:
    return ok(await client.get(f"/api/users/{world.id(who)}", headers=world.auth("admin")))


async def test_a_manager_corrects_a_resident_of_their_community(
    client: AsyncTestClient, world: World
) -> None:
    path = f"/api/users/{world.id('resident')}"
    body = {"name": "Wang Fang", "phone": "13512345678"}
    changed = ok(await client.patch(path, json=body, headers=world.auth("manager")))
    assert changed["name"] == "Wang Fang" and changed["phone"] == "13512345678"
    taken = {"phone": "13700000002"}
    refused(await client.patch(path, json=taken, headers=world.auth("manager")), 409, "phone_taken")


@pytest.mark.parametrize("who", ["manager_c2", "grid_worker_c2"])
async def test_a_manager_of_another_community_cannot_touch_the_person(
    client: AsyncTestClient, world: World, who: str
) -> None:
    before = await person(client, world, "resident")
    uid = world.id("resident")
    headers = world.auth(who)
    for r in (
        await client.patch(f"/api/users/{uid}", json={"name": "X"}, headers=headers),
        await client.put(f"/api/users/{uid}/roles", json={"roles": ["resident"]}, headers=headers),
        await client.post(f"/api/users/{uid}/deactivate", headers=headers),
        await client.post(f"/api/users/{uid}/password-reset", headers=headers),
    ):
        refused(r, 404, "user_not_found")
    assert await person(client, world, "resident") == before


async def test_moving_a_person_stays_inside_ones_area(client: AsyncTestClient, world: World) -> None:
    path = f"/api/users/{world.id('resident')}"
    outside = {"area_id": world.areas["c2_building"].id}
    refused(await client.patch(path, json=outside, headers=world.auth("manager")), 403, "outside_your_area")
    moved = ok(await client.patch(path, json=outside, headers=world.auth("street_admin")))
    assert moved["area_id"] == world.areas["c2_building"].id


async def test_roles_added_or_withdrawn_are_below_ones_own(client: AsyncTestClient, world: World) -> None:
    path = f"/api/users/{world.id('resident')}/roles"
    given = ok(
        await client.put(path, json={"roles": ["resident", "volunteer"]}, headers=world.auth("grid_worker"))
    )
    assert given["roles"] == ["resident", "volunteer"]
    too_high = {"roles": ["resident", "grid_worker"]}
    refused(
        await client.put(path, json=too_high, headers=world.auth("grid_worker")), 403, "role_not_grantable"
    )
    ok(await client.put(path, json=too_high, headers=world.auth("manager")))
    # The grid worker now cannot change a fellow grid worker at all.
    back = {"roles": ["resident"]}
    refused(await client.put(path, json=back, headers=world.auth("grid_worker")), 403, "outside_your_area")
    # A community manager cannot make a street admin, nor change a street admin.
    promote = {"roles": ["street_admin"]}
    refused(await client.put(path, json=promote, headers=world.auth("manager")), 403, "role_not_grantable")
    # ... and a street admin, who lives above the community, is not someone they can see.
    street = f"/api/users/{world.id('street_admin')}/roles"
    refused(await client.put(street, json=back, headers=world.auth("manager")), 404, "user_not_found")


async def test_nobody_removes_themselves_from_the_admin_role(client: AsyncTestClient, world: World) -> None:
    me = world.id("admin")
    headers = world.auth("admin")
    r = await client.put(f"/api/users/{me}/roles", json={"roles": ["resident"]}, headers=headers)
    refused(r, 403, "not_on_yourself")
    refused(await client.post(f"/api/users/{me}/deactivate", headers=headers), 403, "not_on_yourself")
    refused(await client.post(f"/api/users/{me}/password-reset", headers=headers), 403, "not_on_yourself")
    assert (await person(client, world, "admin"))["roles"] == ["admin"]
    own = world.id("manager")
    r = await client.post(f"/api/users/{own}/deactivate", headers=world.auth("manager"))
    refused(r, 403, "not_on_yourself")


async def test_deactivating_ends_the_persons_tokens_and_reactivating_lets_them_log_in(
    client: AsyncTestClient, world: World
) -> None:
    token = world.auth("resident")
    assert (await client.get("/api/me", headers=token)).status_code == 200
    uid = world.id("resident")
    gone = ok(await client.post(f"/api/users/{uid}/deactivate", headers=world.auth("grid_worker")))
    assert gone["is_active"] is False
    refused(await client.get("/api/me", headers=token), 401, "not_authenticated")
    login = {"phone": "13700000001", "password": PASSWORD}
    refused(await client.post("/api/auth/login", json=login), 401, "invalid_credentials")
    # Found among the deactivated, and brought back.
    found = ok(await client.get("/api/users?active=false", headers=world.auth("manager")))
    assert [u["id"] for u in found["items"]] == [uid]
    ok(await client.post(f"/api/users/{uid}/reactivate", headers=world.auth("grid_worker")))
    assert (await client.post("/api/auth/login", json=login)).status_code == 200


async def test_a_reset_password_works_once_and_must_be_changed_first(
    client: AsyncTestClient, world: World
) -> None:
    uid = world.id("resident")
    old_token = world.auth("resident")
    r = await client.post(f"/api/users/{uid}/password-reset", headers=world.auth("grid_worker"))
    reset = ok(r)
    assert r.headers["cache-control"] == "no-store"
    one_time = reset["one_time_password"]
    assert len(one_time) == 10 and reset["user"]["must_change_password"] is True
    refused(await client.get("/api/me", headers=old_token), 401, "not_authenticated")
    login = ok(await client.post("/api/auth/login", json={"phone": "13700000001", "password": one_time}))
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    assert (await client.get("/api/me", headers=headers)).json()["must_change_password"] is True
    refused(await client.get("/api/orders", headers=headers), 403, "password_change_required")
    refused(
        await client.post("/api/orders", json=world.order_body(), headers=headers),
        403,
        "password_change_required",
    )
    change = {"current_password": one_time, "new_password": "my-own-password-1"}
    fresh = ok(await client.post("/api/auth/password", json=change, headers=headers))
    headers = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert (await client.get("/api/orders", headers=headers)).status_code == 200
    assert fresh["user"]["must_change_password"] is False


async def test_people_without_a_password_cannot_log_in(client: AsyncTestClient, world: World) -> None:
    body = {"phone": "13511112222", "name": "Old Li", "area_id": world.areas["c1_building"].id}
    made = ok(await client.post("/api/users", json=body, headers=world.auth("grid_worker")))
    assert made["has_password"] is False and made["roles"] == ["resident"]
    for password in ("not-a-real-password", "anything-at-all"):
        r = await client.post("/api/auth/login", json={"phone": "13511112222", "password": password})
        refused(r, 401, "invalid_credentials")


async def test_finding_people_by_area_role_and_name(client: AsyncTestClient, world: World) -> None:
    headers = world.auth("street_admin")
    c2 = ok(await client.get(f"/api/users?area_id={world.areas['c2'].id}&limit=100", headers=headers))
    assert {u["phone"] for u in c2["items"]} == {"13800000011", "13800000021", "13700000003", "13900000004"}
    vols = ok(await client.get(f"/api/users?area_id={world.areas['c2'].id}&role=volunteer", headers=headers))
    assert [u["phone"] for u in vols["items"]] == ["13900000004"]
    # A manager's filter by an area outside theirs finds nobody.
    outside = ok(
        await client.get(f"/api/users?area_id={world.areas['c2'].id}", headers=world.auth("manager"))
    )
    assert outside["total"] == 0

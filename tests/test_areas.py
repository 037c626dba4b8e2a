from __future__ import annotations

from litestar.testing import AsyncTestClient

from market.areas.models import STREET_CODE_DIGITS, community_code_of, community_scope
from tests.world import World


async def test_the_tree_and_a_subtree(client: AsyncTestClient, world: World) -> None:
    tree = (await client.get("/api/areas", headers=world.auth("resident"))).json()
    assert [a["name"] for a in tree] == ["Sunny Street"]
    assert [c["name"] for c in tree[0]["children"]] == ["Community 1", "Community 2"]
    sub = (
        await client.get("/api/areas", params={"root": world.areas["c2"].id}, headers=world.auth("resident"))
    ).json()
    assert len(sub) == 1 and sub[0]["code"] == "110105001002"
    assert sub[0]["children"][0]["children"][0]["children"][0]["level"] == "building"


async def test_managers_add_areas_inside_their_subtree_with_hierarchical_codes(
    client: AsyncTestClient, world: World
) -> None:
    r = await client.post(
        "/api/areas",
        json={"name": "Garden 1b", "parent_id": world.areas["c1_grid"].id},
        headers=world.auth("manager"),
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "id": r.json()["id"],
        "code": "110105001001001002",
        "name": "Garden 1b",
        "level": "compound",
        "parent_id": world.areas["c1_grid"].id,
    }
    r = await client.post(
        "/api/areas",
        json={"name": "Elsewhere", "parent_id": world.areas["c2_grid"].id},
        headers=world.auth("manager"),
    )
    assert r.status_code == 403 and r.json()["code"] == "outside_your_area"
    r = await client.post(
        "/api/areas",
        json={"name": "Too deep", "parent_id": world.areas["c1_building"].id},
        headers=world.auth("manager"),
    )
    assert r.status_code == 400 and r.json()["code"] == "area_too_deep"
    r = await client.post(
        "/api/areas",
        json={"name": "Clash", "parent_id": world.areas["c1_grid"].id, "code": "110105001001001001"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 409 and r.json()["code"] == "area_code_taken"
    r = await client.post(
        "/api/areas",
        json={"name": "Wrong prefix", "parent_id": world.areas["c1_grid"].id, "code": "110105001002001009"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_area_code"


async def test_only_administrators_create_streets(client: AsyncTestClient, world: World) -> None:
    body = {"name": "North Street", "code": "110105002"}
    r = await client.post("/api/areas", json=body, headers=world.auth("street_admin"))
    assert r.status_code == 403
    r = await client.post("/api/areas", json=body, headers=world.auth("admin"))
    assert r.status_code == 201 and r.json()["level"] == "street"
    r = await client.post("/api/areas", json={"name": "x"}, headers=world.auth("resident"))
    assert r.status_code == 403 and r.json()["code"] == "role_required"


def test_the_community_of_a_code_and_a_person_s_community_scope() -> None:
    street, community = "1" * STREET_CODE_DIGITS, "1" * STREET_CODE_DIGITS + "001"
    building = community + "001001001"
    assert [community_code_of(c) for c in ("", street, community, building)] == [
        None,
        None,
        community,
        community,
    ]
    # Above a community a person's scope is their whole area; an administrator's empty code is everything.
    assert [community_scope(c) for c in ("", street, community, building)] == [
        "",
        street,
        community,
        community,
    ]

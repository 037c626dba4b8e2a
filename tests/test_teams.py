"""Volunteer teams: who creates and edits them, who keeps their membership, their history,
and a pool dispatch of an order to a team's eligible members."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.notifications.models import Notification
from tests.world import World


def team_body(world: World, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Legal aid team",
        "speciality": "legal_aid",
        "community_id": world.areas["c1"].id,
        "leader_id": world.id("volunteer"),
        "member_ids": [world.id("volunteer_b")],
        "description": "Free legal advice on Saturdays",
    }
    body.update(overrides)
    return body


async def create_team(client: AsyncTestClient, world: World, who: str = "manager", **overrides: Any) -> dict:
    r = await client.post("/api/teams", json=team_body(world, **overrides), headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()


def member_ids(team: dict) -> list[int]:
    return [m["user_id"] for m in team["members"]]


async def test_a_manager_creates_a_team_and_its_members_are_told(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    team = await create_team(client, world)
    assert (team["name"], team["speciality"], team["community_name"]) == (
        "Legal aid team",
        "legal_aid",
        "Community 1",
    )
    assert (team["leader_id"], team["member_count"], team["is_active"]) == (world.id("volunteer"), 2, True)
    assert [(m["user_id"], m["is_leader"]) for m in team["members"]] == [
        (world.id("volunteer"), True),
        (world.id("volunteer_b"), False),
    ]
    assert [e["action"] for e in team["events"]] == ["created", "member_added", "member_added"]
    async with session_maker() as session:
        told = set(
            await session.scalars(select(Notification.user_id).where(Notification.code == "team_joined"))
        )
    assert told == {world.id("volunteer"), world.id("volunteer_b")}
    # Anyone logged in may read the teams.
    r = await client.get(f"/api/teams/{team['id']}", headers=world.auth("resident_c2"))
    assert r.status_code == 200 and r.json()["member_count"] == 2


async def test_who_may_create_a_team_and_where(client: AsyncTestClient, world: World) -> None:
    c2 = world.areas["c2"].id
    for who, overrides, status, code in [
        (
            "manager",
            {"community_id": c2, "leader_id": world.id("volunteer_c2"), "member_ids": []},
            403,
            "outside_your_area",
        ),
        ("grid_worker", {}, 403, "role_required"),
        ("volunteer", {}, 403, "role_required"),
        ("unit_admin", {}, 403, "role_required"),
        ("manager", {"community_id": world.areas["c1_grid"].id}, 400, "not_a_community"),
        ("manager", {"leader_id": world.id("volunteer_c2")}, 422, "volunteer_outside_community"),
        ("manager", {"member_ids": [world.id("resident")]}, 422, "not_a_volunteer"),
        ("manager", {"leader_id": 2_000_000}, 422, "not_a_volunteer"),
        ("manager", {"speciality": "juggling"}, 400, "invalid_input"),
        ("manager", {"name": " "}, 400, "invalid_input"),
    ]:
        r = await client.post("/api/teams", json=team_body(world, **overrides), headers=world.auth(who))
        assert (r.status_code, r.json()["code"]) == (status, code), (who, overrides, r.text)
    assert (await client.get("/api/teams", headers=world.auth("manager"))).json()["total"] == 0
    # A street admin may create teams in any community of the street; names are unique per community.
    await create_team(
        client, world, "street_admin", community_id=c2, leader_id=world.id("volunteer_c2"), member_ids=[]
    )
    await create_team(client, world, "manager")
    r = await client.post("/api/teams", json=team_body(world), headers=world.auth("admin"))
    assert (r.status_code, r.json()["code"]) == (409, "team_name_taken")


async def test_only_the_communitys_managers_edit_a_team(client: AsyncTestClient, world: World) -> None:
    team = await create_team(client, world)
    path = f"/api/teams/{team['id']}"
    for who, status, code in [
        ("manager_c2", 403, "team_manager_required"),
        ("volunteer", 403, "role_required"),  # even its leader
        ("grid_worker", 403, "role_required"),
    ]:
        r = await client.patch(path, json={"name": "Renamed"}, headers=world.auth(who))
        assert (r.status_code, r.json()["code"]) == (status, code), who
    r = await client.patch(path, json={"leader_id": world.id("volunteer_c")}, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (422, "leader_not_member")
    r = await client.patch(
        path,
        json={"name": "Legal aid", "speciality": "mediation", "leader_id": world.id("volunteer_b")},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["name"], edited["speciality"], edited["leader_id"]) == (
        "Legal aid",
        "mediation",
        world.id("volunteer_b"),
    )
    assert [(e["action"], e["note"]) for e in edited["events"][-2:]] == [
        ("updated", "name, speciality"),
        ("leader_changed", ""),
    ]
    r = await client.patch(path, json={"is_active": False}, headers=world.auth("street_admin"))
    assert (r.json()["is_active"], r.json()["events"][-1]["action"]) == (False, "deactivated")
    r = await client.patch(path, json={"colour": "red"}, headers=world.auth("manager"))
    assert r.status_code == 400


async def test_the_leader_or_managers_keep_the_membership_and_members_may_leave(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    team = await create_team(client, world)
    members = f"/api/teams/{team['id']}/members"
    body = {"user_id": world.id("volunteer_c")}
    r = await client.post(members, json=body, headers=world.auth("volunteer_b"))
    assert (r.status_code, r.json()["code"]) == (403, "leader_or_manager_required")
    r = await client.post(members, json=body, headers=world.auth("volunteer_c"))
    assert (r.status_code, r.json()["code"]) == (403, "leader_or_manager_required")  # no joining by oneself
    r = await client.post(members, json=body, headers=world.auth("volunteer"))
    assert r.status_code == 200 and world.id("volunteer_c") in member_ids(r.json())
    r = await client.post(members, json=body, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (409, "already_a_member")
    r = await client.post(members, json={"user_id": world.id("volunteer_c2")}, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (422, "volunteer_outside_community")

    r = await client.delete(f"{members}/{world.id('volunteer_b')}", headers=world.auth("volunteer_c"))
    assert (r.status_code, r.json()["code"]) == (403, "leader_or_manager_required")
    r = await client.delete(f"{members}/{world.id('volunteer_c')}", headers=world.auth("volunteer_c"))
    assert r.status_code == 200 and world.id("volunteer_c") not in member_ids(r.json())
    r = await client.delete(f"{members}/{world.id('volunteer')}", headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (409, "leader_cannot_leave")
    r = await client.delete(f"{members}/{world.id('volunteer_b')}", headers=world.auth("manager"))
    assert r.status_code == 200 and member_ids(r.json()) == [world.id("volunteer")]
    r = await client.delete(f"{members}/{world.id('volunteer_b')}", headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (404, "member_not_found")
    detail = (await client.get(f"/api/teams/{team['id']}", headers=world.auth("resident"))).json()
    events = [(e["action"], e["user_id"]) for e in detail["events"]]
    assert events[3:] == [
        ("member_added", world.id("volunteer_c")),
        ("member_left", world.id("volunteer_c")),
        ("member_removed", world.id("volunteer_b")),
    ]
    async with session_maker() as session:
        told = list(
            await session.scalars(
                select(Notification.user_id)
                .where(Notification.code == "team_joined")
                .order_by(Notification.id)
            )
        )
    assert told[-1] == world.id("volunteer_c")

    await client.patch(f"/api/teams/{team['id']}", json={"is_active": False}, headers=world.auth("manager"))
    r = await client.post(members, json=body, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (409, "team_inactive")
    r = await client.post("/api/teams/999999/members", json=body, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (404, "team_not_found")


async def test_teams_are_listed_by_area_speciality_member_and_state(
    client: AsyncTestClient, world: World
) -> None:
    legal = await create_team(client, world)
    health = await create_team(
        client, world, name="Health team", speciality="health", member_ids=[world.id("volunteer_c")]
    )
    c2 = await create_team(
        client,
        world,
        "manager_c2",
        name="Culture team",
        speciality="culture",
        community_id=world.areas["c2"].id,
        leader_id=world.id("volunteer_c2"),
        member_ids=[],
    )
    await client.patch(f"/api/teams/{health['id']}", json={"is_active": False}, headers=world.auth("manager"))

    async def ids(query: str) -> list[int]:
        r = await client.get(f"/api/teams?{query}", headers=world.auth("resident"))
        assert r.status_code == 200, r.text
        return sorted(t["id"] for t in r.json()["items"])

    assert await ids("") == sorted([legal["id"], health["id"], c2["id"]])
    assert await ids(f"area_id={world.areas['c1'].id}") == sorted([legal["id"], health["id"]])
    assert await ids(f"area_id={world.areas['c2_building'].id}") == [c2["id"]]
    assert await ids(f"area_id={world.areas['street'].id}&speciality=culture") == [c2["id"]]
    assert await ids(f"member_id={world.id('volunteer_c')}") == [health["id"]]
    assert await ids("active=true") == sorted([legal["id"], c2["id"]])
    assert await ids("active=false") == [health["id"]]
    page = (await client.get("/api/teams?limit=1&offset=1", headers=world.auth("resident"))).json()
    assert (page["total"], len(page["items"])) == (3, 1)


# ---------------------------------------------------------------- pool dispatch to a team


async def post_order(client: AsyncTestClient, world: World, resident: str = "resident") -> int:
    r = await client.post("/api/orders", json=world.order_body(resident), headers=world.auth(resident))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_team_dispatch_offers_the_order_to_its_eligible_members_only(
    client: AsyncTestClient, world: World
) -> None:
    team = await create_team(
        client, world, member_ids=[world.id("volunteer_b"), world.id("volunteer_c"), world.id("vol_resident")]
    )
    # volunteer_b (capacity 1) already holds an order; vol_resident posts the one to dispatch.
    held = await post_order(client, world, "resident_b")
    r = await client.post(
        f"/api/orders/{held}/dispatch",
        json={"volunteer_ids": [world.id("volunteer_b")]},
        headers=world.auth("manager"),
    )
    offer_id = r.json()["offers"][0]["id"]
    assert (
        await client.post(f"/api/offers/{offer_id}/accept", headers=world.auth("volunteer_b"))
    ).status_code == 200
    order_id = await post_order(client, world, "vol_resident")

    r = await client.post(
        f"/api/orders/{order_id}/dispatch", json={"team_id": team["id"]}, headers=world.auth("grid_worker")
    )
    assert r.status_code == 200, r.text
    order = r.json()
    assert order["status"] == "dispatched"
    assert {(o["volunteer_id"], o["mode"]) for o in order["offers"]} == {
        (world.id("volunteer"), "pool"),
        (world.id("volunteer_c"), "pool"),
    }
    note = order["events"][-1]["note"]
    assert note.startswith("pool offer to 2 member(s) of team Legal aid team")
    assert f"{world.id('volunteer_b')} at_capacity" in note
    assert f"{world.id('vol_resident')} is_requester" in note
    # The first accept wins, as with any pool.
    offers = {o["volunteer_id"]: o["id"] for o in order["offers"]}
    r = await client.post(
        f"/api/offers/{offers[world.id('volunteer_c')]}/accept", headers=world.auth("volunteer_c")
    )
    assert r.json()["status"] == "accepted"
    r = await client.post(
        f"/api/offers/{offers[world.id('volunteer')]}/accept", headers=world.auth("volunteer")
    )
    assert (r.status_code, r.json()["code"]) == (409, "order_taken")


async def test_a_team_dispatch_is_refused_when_no_member_is_eligible(
    client: AsyncTestClient, world: World
) -> None:
    team = await create_team(
        client, world, leader_id=world.id("vol_resident"), member_ids=[world.id("volunteer_b")]
    )
    order_id = await post_order(client, world, "vol_resident")
    # volunteer_b declines a direct offer first: they are not asked again.
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer_b")]},
        headers=world.auth("manager"),
    )
    offer_id = r.json()["offers"][0]["id"]
    r = await client.post(
        f"/api/offers/{offer_id}/decline", json={"reason": "away"}, headers=world.auth("volunteer_b")
    )
    assert r.status_code == 204

    path = f"/api/orders/{order_id}/dispatch"
    r = await client.post(path, json={"team_id": team["id"]}, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (422, "no_team_member_eligible"), r.text
    assert {(v["volunteer_id"], v["reason"]) for v in r.json()["volunteers"]} == {
        (world.id("vol_resident"), "is_requester"),
        (world.id("volunteer_b"), "declined_before"),
    }
    for body, status, code in [
        ({"team_id": team["id"], "volunteer_ids": [world.id("volunteer")]}, 400, "volunteers_or_team"),
        ({}, 400, "volunteers_or_team"),
        ({"team_id": team["id"], "mode": "direct"}, 400, "team_dispatch_is_pool"),
        ({"team_id": 999_999}, 404, "team_not_found"),
    ]:
        r = await client.post(path, json=body, headers=world.auth("manager"))
        assert (r.status_code, r.json()["code"]) == (status, code), body
    await client.patch(f"/api/teams/{team['id']}", json={"is_active": False}, headers=world.auth("manager"))
    r = await client.post(path, json={"team_id": team["id"]}, headers=world.auth("manager"))
    assert (r.status_code, r.json()["code"]) == (409, "team_inactive")
    detail = (await client.get(f"/api/orders/{order_id}", headers=world.auth("manager"))).json()
    assert detail["status"] == "submitted"

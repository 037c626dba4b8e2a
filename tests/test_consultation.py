"""Residents shape the need list (征求民意): support once, proposals reviewed, support weighs plans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.needs.service import plan_weight
from tests.test_units_support import Coop, make_coop, ok, post_need, problem, publish
from tests.world import World, password_hash


async def support(client: AsyncTestClient, world: World, need: dict, who: str = "resident"):
    return await client.post(f"/api/community-needs/{need['id']}/support", headers=world.auth(who))


async def community_needs(client: AsyncTestClient, world: World, who: str = "resident") -> dict[int, dict]:
    return {
        n["id"]: n for n in ok(await client.get("/api/community-needs", headers=world.auth(who)))["items"]
    }


async def test_a_resident_supports_a_need_of_their_community_once(
    client: AsyncTestClient, world: World
) -> None:
    need = await post_need(client, world, priority=3)
    first = ok(await support(client, world, need))
    assert (first["supports"], first["supported_by_me"], first["plan_weight"]) == (1, True, 3.27)
    problem(await support(client, world, need), 409, "already_supported")
    ok(await support(client, world, need, "resident_b"))
    assert (await community_needs(client, world))[need["id"]]["supports"] == 2
    assert (await community_needs(client, world, "resident_b"))[need["id"]]["supported_by_me"] is True
    # Community 2's residents neither see nor support it; others are not residents at all.
    assert await community_needs(client, world, "resident_c2") == {}
    problem(await support(client, world, need, "resident_c2"), 404, "need_not_found")
    for who in ("volunteer", "manager", "unit_admin"):
        problem(await support(client, world, need, who), 403, "role_required")
    problem(
        await client.post("/api/community-needs/999999/support", headers=world.auth("resident")),
        404,
        "need_not_found",
    )
    # A closed need takes no more support.
    ok(
        await client.patch(
            f"/api/needs/{need['id']}", json={"status": "closed"}, headers=world.auth("manager")
        )
    )
    other = await post_need(client, world)
    problem(await support(client, world, {"id": need["id"]}, "vol_resident"), 409, "need_not_open")
    assert list(await community_needs(client, world)) == [other["id"]]
    assert (await community_needs(client, world))[other["id"]]["supports"] == 0


async def test_a_proposal_is_approved_as_a_published_need_or_rejected_with_a_reason(
    client: AsyncTestClient, world: World
) -> None:
    body = {"title": "Shade over the playground", "description": "The slide is too hot in summer."}
    proposal = ok(await client.post("/api/need-proposals", json=body, headers=world.auth("resident")))
    assert (proposal["status"], proposal["community_id"]) == ("proposed", world.areas["c1"].id)
    problem(
        await client.post("/api/need-proposals", json=body, headers=world.auth("volunteer")),
        403,
        "role_required",
    )
    rejected = ok(
        await client.post(
            "/api/need-proposals", json={"title": "A new cinema"}, headers=world.auth("resident_b")
        )
    )
    approve = {
        "category": "goods",
        "quantity": 4,
        "unit_of_measure": "awnings",
        "deadline": (world.now + timedelta(days=30)).isoformat(),
        "priority": 4,
    }
    url = f"/api/need-proposals/{proposal['id']}"
    problem(
        await client.post(f"{url}/approve", json=approve, headers=world.auth("manager_c2")),
        404,
        "proposal_not_found",
    )
    for who in ("grid_worker", "resident", "volunteer"):
        problem(
            await client.post(f"{url}/approve", json=approve, headers=world.auth(who)), 403, "role_required"
        )
    # Managers list their communities' proposals, residents their own.
    listed = ok(await client.get("/api/need-proposals?status=proposed", headers=world.auth("manager")))
    assert [p["id"] for p in listed["items"]] == [proposal["id"], rejected["id"]]
    assert ok(await client.get("/api/need-proposals", headers=world.auth("manager_c2")))["items"] == []
    mine = ok(await client.get("/api/need-proposals", headers=world.auth("resident")))
    assert [p["id"] for p in mine["items"]] == [proposal["id"]]

    approved = ok(await client.post(f"{url}/approve", json=approve, headers=world.auth("manager")))
    assert approved["status"] == "approved" and approved["need_id"]
    need = ok(await client.get(f"/api/needs/{approved['need_id']}", headers=world.auth("manager")))
    assert (need["title"], need["status"], need["priority"], need["quantity"]) == (
        body["title"],
        "open",
        4,
        4,
    )
    # The proposer is its first supporter.
    listed = await community_needs(client, world)
    assert (listed[need["id"]]["supports"], listed[need["id"]]["supported_by_me"]) == (1, True)
    problem(
        await client.post(f"{url}/approve", json=approve, headers=world.auth("manager")),
        409,
        "proposal_decided",
    )

    r = await client.post(
        f"/api/need-proposals/{rejected['id']}/reject",
        json={"reason": "not_for_the_community"},
        headers=world.auth("manager"),
    )
    assert ok(r)["reject_reason"] == "not_for_the_community"
    problem(
        await client.post(
            f"/api/need-proposals/{rejected['id']}/reject",
            json={"reason": "unclear"},
            headers=world.auth("manager"),
        ),
        409,
        "proposal_decided",
    )
    problem(
        await client.post(f"{url}/reject", json={"reason": "because"}, headers=world.auth("manager")),
        400,
        "invalid_input",
    )
    told = {
        who: [
            (n["code"], n["params"])
            for n in ok(await client.get("/api/notifications", headers=world.auth(who)))["items"]
        ]
        for who in ("resident", "resident_b")
    }
    assert told == {
        "resident": [("proposal_approved", {"title": body["title"]})],
        "resident_b": [
            ("proposal_rejected", {"title": "A new cinema", "reject_reason": "not_for_the_community"})
        ],
    }


async def _residents(session_maker: async_sessionmaker[AsyncSession], world: World, n: int) -> list[str]:
    async with session_maker() as session, session.begin():
        people = [
            User(
                phone=f"1372222{i:04d}",
                name=f"Neighbour {i}",
                password_hash=password_hash(),
                area_id=world.areas["c1_building"].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.resident)],
            )
            for i in range(n)
        ]
        session.add_all(people)
    for person in people:
        world.users[person.phone] = person
    return [p.phone for p in people]


def test_the_priority_formula_on_a_hand_worked_example() -> None:
    # weight = priority × (1 + supports / (supports + 10))
    assert plan_weight(3, 0) == 3
    assert plan_weight(3, 10) == pytest.approx(4.5)  # 3 × (1 + 10/20)
    assert plan_weight(3, 30) == pytest.approx(5.25)  # 3 × (1 + 30/40)
    assert plan_weight(1, 10**6) < 2  # never beyond double
    assert plan_weight(5, 0) > plan_weight(3, 10)  # the manager's priority keeps the lead


async def test_support_decides_which_need_a_scarce_resource_goes_to(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop: Coop = await make_coop(client, world, session_maker)
    await publish(client, world, coop.unit_a, quantity=30)
    # Without support the more pressing need would take the rice: 4 against 3.
    quiet = await post_need(client, world, title="Rice for the east block", quantity=30, priority=4)
    wanted = await post_need(client, world, title="Rice for the west block", quantity=30, priority=3)
    for who in await _residents(session_maker, world, 10):
        ok(await support(client, world, wanted, who))  # weight 3 × (1 + 10/20) = 4.5
    plan = ok(
        await client.post(
            "/api/allocations/plans",
            json={"community_id": world.areas["c1"].id},
            headers=world.auth("manager"),
        )
    )
    assert [(f["need_id"], f["quantity"]) for f in plan["flows"]] == [(wanted["id"], 30)]
    assert [u["need_id"] for u in plan["unmet"]] == [quiet["id"]]

"""Honest close-out: a need's state follows what was delivered to it across every project, a project
completes only with everything delivered and done, and responsibilities are held by reference."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.projects.service import escalate_responsibilities
from market.settings import Settings
from tests.test_teams import create_team
from tests.test_units_support import Coop, make_coop, ok, post_need, problem, publish
from tests.world import World

WHO_CONFIRMS = ("unit_admin", "unit_admin_b")


@pytest.fixture
async def coop(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> Coop:
    return await make_coop(client, world, session_maker)


async def plan(client: AsyncTestClient, world: World) -> dict:
    body = {"community_id": world.areas["c1"].id}
    return ok(await client.post("/api/allocations/plans", json=body, headers=world.auth("manager")))


async def apply(client: AsyncTestClient, world: World, plan_id: int) -> dict:
    url = f"/api/allocations/plans/{plan_id}/apply"
    return ok(await client.post(url, json={}, headers=world.auth("manager")))["project"]


async def confirm_all(client: AsyncTestClient, world: World, coop: Coop, project: dict) -> dict:
    admin = {coop.unit_a: "unit_admin", coop.unit_b: "unit_admin_b"}
    for c in project["commitments"]:
        url = f"/api/projects/{project['id']}/commitments/{c['id']}/confirm"
        project = ok(await client.post(url, headers=world.auth(admin[c["unit_id"]])))
    assert project["status"] == "active"
    return project


async def deliver(
    client: AsyncTestClient, world: World, project: dict, commitment: dict, quantity: int
) -> dict:
    url = f"/api/projects/{project['id']}/commitments/{commitment['id']}/deliveries"
    return ok(await client.post(url, json={"quantity": quantity}, headers=world.auth("manager")))


async def close(client: AsyncTestClient, world: World, project: dict, **body: Any) -> Any:
    return await client.post(
        f"/api/projects/{project['id']}/close", json=body or None, headers=world.auth("manager")
    )


async def need(client: AsyncTestClient, world: World, need_id: int) -> dict:
    return ok(await client.get(f"/api/needs/{need_id}", headers=world.auth("manager")))


def proposed(plan: dict) -> dict[int, int]:
    """Each need's total over the plan's flows."""
    totals: dict[int, int] = {}
    for f in plan["flows"]:
        totals[f["need_id"]] = totals.get(f["need_id"], 0) + f["quantity"]
    return totals


async def test_a_need_half_delivered_is_partly_met_and_the_next_plan_offers_only_the_rest(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    rice = await publish(client, world, coop.unit_a, quantity=15)
    asked = await post_need(client, world, quantity=30)
    first = await plan(client, world)
    assert [(u["need_id"], u["requested"], u["planned"], u["reason"]) for u in first["unmet"]] == [
        (asked["id"], 30, 15, "not_enough_quantity")
    ]
    project = await confirm_all(client, world, coop, await apply(client, world, first["id"]))
    deliver_to = project["commitments"][0]
    assert (deliver_to["resource_id"], deliver_to["need_id"]) == (rice["id"], asked["id"])
    await deliver(client, world, project, deliver_to, 15)
    closed = ok(await close(client, world, project))

    # Everything promised was delivered and nothing else was owed: the project is complete …
    assert closed["status"] == "completed" and closed["summary"]["missing"] == []
    # … but the need got 15 of 30: partly met, never met, and the rest waits for the next plan.
    state = await need(client, world, asked["id"])
    assert (state["status"], state["delivered"]) == ("partly_met", 15)
    assert closed["summary"]["needs_met"] == [] and closed["summary"]["needs_reopened"] == [asked["id"]]
    await publish(client, world, coop.unit_b, who="unit_admin_b", title="More rice", quantity=40)
    assert proposed(await plan(client, world)) == {asked["id"]: 15}


async def test_a_need_met_in_full_is_not_reopened_by_anothers_shortfall_nor_planned_again(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    rice = await publish(client, world, coop.unit_a, quantity=10)
    flour = await publish(client, world, coop.unit_b, who="unit_admin_b", title="Flour", quantity=20)
    small = await post_need(client, world, title="Rice for the canteen", quantity=8)
    large = await post_need(client, world, title="Rice for the elderly", quantity=20)
    body = {
        "title": "Winter food",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=3)).isoformat(),
        "need_ids": [small["id"], large["id"]],
        "commitments": [
            {"resource_id": rice["id"], "quantity": 8, "need_id": small["id"]},
            {"resource_id": flour["id"], "quantity": 20, "need_id": large["id"]},
        ],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    project = await confirm_all(client, world, coop, project)
    for_small, for_large = project["commitments"]
    await deliver(client, world, project, for_small, 8)
    await deliver(client, world, project, for_large, 5)
    closed = ok(await close(client, world, project))

    assert closed["status"] == "overdue"
    assert [(m["code"], m["params"]["commitment_id"]) for m in closed["summary"]["missing"]] == [
        ("commitment_short", for_large["id"])
    ]
    assert {(n["need_id"], n["status"], n["delivered"]) for n in closed["summary"]["needs"]} == {
        (small["id"], "met", 8),
        (large["id"], "partly_met", 5),
    }
    assert (await need(client, world, small["id"]))["status"] == "met"
    # 2 kg of rice are left and the flour came back: the met need gets nothing more, the other its rest.
    again = proposed(await plan(client, world))
    assert small["id"] not in again and 0 < again[large["id"]] <= 15


async def test_a_project_with_nothing_to_deliver_or_do_is_complete_only_with_a_managers_note(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    asked = await post_need(client, world, quantity=10)
    body = {
        "title": "Talk to the residents",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=3)).isoformat(),
        "need_ids": [asked["id"]],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    assert project["status"] == "active"
    problem(await close(client, world, project), 409, "close_note_required")
    assert (await need(client, world, asked["id"]))["status"] == "planned"
    closed = ok(await close(client, world, project, note="Residents asked for it to be dropped"))
    assert closed["status"] == "completed"
    assert closed["summary"]["note"] == "Residents asked for it to be dropped"
    # Nothing was delivered to the need: it is open again, not met.
    assert (await need(client, world, asked["id"]))["status"] == "open"


async def test_the_deadline_closes_a_project_with_nothing_done_as_overdue(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    from market.projects.service import close_due_projects

    body = {
        "title": "Nothing planned",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=1)).isoformat(),
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    async with session_maker() as session, session.begin():
        assert await close_due_projects(session, world.now + timedelta(days=2), settings) == 1
    closed = ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("manager")))
    assert closed["status"] == "overdue"
    assert [m["code"] for m in closed["summary"]["missing"]] == ["close_note_missing"]


async def test_an_unfinished_responsibility_makes_the_project_overdue(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    rice = await publish(client, world, coop.unit_a, quantity=10)
    asked = await post_need(client, world, quantity=10)
    body = {
        "title": "Rice round",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=3)).isoformat(),
        "need_ids": [asked["id"]],
        "commitments": [{"resource_id": rice["id"], "quantity": 10}],
        "responsibilities": [{"task": "Call every household", "user_id": world.id("volunteer")}],
    }
    project = await confirm_all(
        client, world, coop, ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    )
    await deliver(client, world, project, project["commitments"][0], 10)
    closed = ok(await close(client, world, project))
    task = project["responsibilities"][0]
    assert closed["status"] == "overdue"
    assert [(m["code"], m["params"]["responsibility_id"]) for m in closed["summary"]["missing"]] == [
        ("responsibility_not_done", task["id"])
    ]
    # The need got everything it asked: met, whatever else the project left undone.
    assert (await need(client, world, asked["id"]))["status"] == "met"


async def test_responsibilities_join_a_planned_project_held_by_reference_and_due_in_its_window(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    await publish(client, world, coop.unit_a, quantity=10)
    await post_need(client, world, quantity=10)
    project = await apply(client, world, (await plan(client, world))["id"])
    team = await create_team(client, world, name="Party members' team")
    other = await create_team(
        client,
        world,
        who="manager_c2",
        name="Elsewhere",
        community_id=world.areas["c2"].id,
        leader_id=world.id("volunteer_c2"),
        member_ids=[],
    )
    url = f"/api/projects/{project['id']}/responsibilities"
    deadline = project["deadline"]
    cases = [
        ({"team_id": other["id"]}, 422, "team_not_found"),
        ({"team_id": 999}, 422, "team_not_found"),
        ({"team_id": team["id"], "unit_id": coop.unit_a}, 400, "one_assignee"),
        ({"team_id": team["id"], "due_at": (world.now - timedelta(hours=1)).isoformat()}, 400, "due_passed"),
        (
            {"team_id": team["id"], "due_at": (world.now + timedelta(days=30)).isoformat()},
            400,
            "due_after_deadline",
        ),
    ]
    for change, status, code in cases:
        body = {"task": "Keep the list", **change}
        problem(await client.post(url, json=body, headers=world.auth("manager")), status, code)
    for who in ("unit_admin", "volunteer", "manager_c2"):
        r = await client.post(url, json={"task": "x", "team_id": team["id"]}, headers=world.auth(who))
        assert r.status_code in (403, 404), (who, r.text)

    project = ok(
        await client.post(
            url, json={"task": "Keep the list", "team_id": team["id"]}, headers=world.auth("manager")
        )
    )
    (task,) = project["responsibilities"]
    assert (task["team_id"], task["assignee"], task["due_at"][:19]) == (
        team["id"],
        team["name"],
        deadline[:19],
    )
    inbox = ok(await client.get("/api/notifications", headers=world.auth("volunteer")))
    assert "responsibility_assigned" in [n["code"] for n in inbox["items"]]

    # Reassigned to a unit: that unit's admins may mark it done, the team's leader no longer.
    change = f"{url}/{task['id']}"
    soon = (world.now + timedelta(hours=2)).isoformat()
    problem(await client.post(change, json={}, headers=world.auth("manager")), 400, "nothing_to_change")
    ok(
        await client.post(
            change, json={"unit_id": coop.unit_a, "due_at": soon}, headers=world.auth("manager")
        )
    )
    problem(await client.post(f"{change}/done", headers=world.auth("volunteer")), 404, "project_not_found")
    problem(await client.post(f"{change}/done", headers=world.auth("unit_admin_b")), 404, "project_not_found")
    done = ok(await client.post(f"{change}/done", headers=world.auth("unit_admin")))
    assert done["responsibilities"][0]["done_by_id"] == world.id("unit_admin")


async def test_an_overdue_responsibility_is_told_to_its_holder_then_to_the_community(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    body = {
        "title": "Posters",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=5)).isoformat(),
        "responsibilities": [
            {
                "task": "Put up posters",
                "user_id": world.id("volunteer"),
                "due_at": (world.now + timedelta(days=1)).isoformat(),
            }
        ],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))

    async def run(after: timedelta) -> int:
        async with session_maker() as session, session.begin():
            return await escalate_responsibilities(session, world.now + after, settings)

    def codes(inbox: dict) -> list[str]:
        return [n["code"] for n in inbox["items"]]

    assert await run(timedelta(hours=23)) == 0
    assert await run(timedelta(days=1)) == 1
    assert await run(timedelta(days=1, hours=1)) == 0
    volunteer = ok(await client.get("/api/notifications", headers=world.auth("volunteer")))
    manager = ok(await client.get("/api/notifications", headers=world.auth("manager")))
    assert codes(volunteer).count("responsibility_overdue") == 1
    assert "responsibility_overdue" not in codes(manager)
    later = timedelta(days=1, hours=settings.escalate_community_hours)
    assert await run(later) == 1
    assert await run(later + timedelta(days=1)) == 0
    manager = ok(await client.get("/api/notifications", headers=world.auth("manager")))
    assert codes(manager).count("responsibility_overdue") == 1
    project = ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("manager")))
    assert project["responsibilities"][0]["escalation"] == "community"

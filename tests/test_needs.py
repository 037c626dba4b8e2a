"""Needs and allocation plans: validation, scope, reasons for unmet needs, apply once."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.test_units_support import make_coop, need_body, ok, post_need, problem, publish, resource_state
from tests.world import World


async def test_managers_publish_needs_inside_their_area(client: AsyncTestClient, world: World) -> None:
    need = await post_need(client, world)
    assert need["community_id"] == world.areas["c1"].id and need["status"] == "open"
    assert need["area_id"] == world.areas["c1_compound"].id
    body = need_body(world, area_id=world.areas["c2_building"].id)
    problem(
        await client.post("/api/needs", json=body, headers=world.auth("manager")), 403, "outside_your_area"
    )
    body = need_body(world, area_id=world.areas["street"].id)
    problem(
        await client.post("/api/needs", json=body, headers=world.auth("street_admin")),
        422,
        "not_in_a_community",
    )
    for who in ("resident", "volunteer", "unit_admin", "grid_worker"):
        problem(
            await client.post("/api/needs", json=need_body(world), headers=world.auth(who)),
            403,
            "role_required",
        )
    past = need_body(world, deadline=(world.now - timedelta(hours=1)).isoformat())
    problem(await client.post("/api/needs", json=past, headers=world.auth("manager")), 400, "deadline_passed")
    for bad in ({"priority": 6}, {"quantity": -1}, {"category": "love"}, {"deadline": "2030-01-01T00:00:00"}):
        r = await client.post("/api/needs", json=need_body(world, **bad), headers=world.auth("manager"))
        assert problem(r, 400, "invalid_input")["errors"], bad

    assert [
        n["id"] for n in ok(await client.get("/api/needs", headers=world.auth("grid_worker")))["items"]
    ] == [need["id"]]
    assert ok(await client.get("/api/needs", headers=world.auth("manager_c2")))["total"] == 0
    problem(
        await client.get(f"/api/needs/{need['id']}", headers=world.auth("manager_c2")), 404, "need_not_found"
    )
    problem(await client.get("/api/needs", headers=world.auth("resident")), 403, "role_required")


async def test_an_open_need_is_changed_closed_and_reopened(client: AsyncTestClient, world: World) -> None:
    need = await post_need(client, world)
    url = f"/api/needs/{need['id']}"
    changed = ok(await client.patch(url, json={"quantity": 70, "priority": 5}, headers=world.auth("manager")))
    assert (changed["quantity"], changed["priority"]) == (70, 5)
    assert (
        ok(await client.patch(url, json={"status": "closed"}, headers=world.auth("manager")))["status"]
        == "closed"
    )
    assert (
        ok(await client.patch(url, json={"status": "open"}, headers=world.auth("manager")))["status"]
        == "open"
    )
    problem(
        await client.patch(url, json={"status": "met"}, headers=world.auth("manager")),
        400,
        "status_not_settable",
    )
    problem(
        await client.patch(url, json={"quantity": 1}, headers=world.auth("manager_c2")), 404, "need_not_found"
    )


async def _plan(client: AsyncTestClient, world: World) -> dict:
    body = {"community_id": world.areas["c1"].id}
    return ok(await client.post("/api/allocations/plans", json=body, headers=world.auth("manager")))


async def test_a_plan_meets_what_it_can_and_says_why_the_rest_is_unmet(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    rice = await publish(client, world, coop.unit_a, quantity=60)
    later = (world.now + timedelta(days=20)).isoformat()
    hall = await publish(
        client,
        world,
        coop.unit_b,
        who="unit_admin_b",
        category="venue",
        title="Hall",
        unit_of_measure="hours",
        quantity=10,
        available_from=later,
    )
    await publish(
        client,
        world,
        coop.unit_b,
        who="unit_admin_b",
        category="funds",
        title="Fund",
        unit_of_measure="yuan",
        quantity=500,
    )
    urgent = await post_need(client, world, title="Rice, urgent", quantity=40, priority=5)
    routine = await post_need(client, world, title="Rice, routine", quantity=40, priority=1)
    no_category = await post_need(client, world, category="transport", unit_of_measure="trips", quantity=2)
    other_measure = await post_need(client, world, category="funds", unit_of_measure="boxes", quantity=2)
    too_late = await post_need(client, world, category="venue", unit_of_measure="Hours ", quantity=4)
    # Community 2's needs are not this plan's business.
    await post_need(client, world, who="manager_c2", area_id=world.areas["c2"].id)

    plan = await _plan(client, world)
    flows = {(f["resource_id"], f["need_id"]): f["quantity"] for f in plan["flows"]}
    # The pressing need is met in full; the routine one gets what is left.
    assert flows == {(rice["id"], urgent["id"]): 40, (rice["id"], routine["id"]): 20}
    reasons = {u["need_id"]: (u["reason"], u["planned"]) for u in plan["unmet"]}
    assert reasons == {
        routine["id"]: ("not_enough_quantity", 20),
        no_category["id"]: ("no_resource_of_category", 0),
        other_measure["id"]: ("unit_of_measure_differs", 0),
        too_late["id"]: ("none_available_before_deadline", 0),
    }
    assert all(u["explanation"] for u in plan["unmet"])
    assert plan["summary"] == {
        "needs": 5,
        "resources": 3,
        "requested": 88,
        "planned": 60,
        "fully_met": 1,
        "partly_met": 1,
        "unmet": 3,
        "total_cost": 60,
    }
    assert (
        ok(await client.get(f"/api/allocations/plans/{plan['id']}", headers=world.auth("street_admin")))
        == plan
    )
    problem(
        await client.get(f"/api/allocations/plans/{plan['id']}", headers=world.auth("manager_c2")),
        404,
        "plan_not_found",
    )
    body = {"community_id": world.areas["c1"].id}
    problem(
        await client.post("/api/allocations/plans", json=body, headers=world.auth("manager_c2")),
        403,
        "outside_your_area",
    )
    problem(
        await client.post("/api/allocations/plans", json=body, headers=world.auth("unit_admin")),
        403,
        "role_required",
    )
    body = {"community_id": world.areas["c1_grid"].id}
    problem(
        await client.post("/api/allocations/plans", json=body, headers=world.auth("manager")),
        422,
        "not_a_community",
    )
    assert hall["available"] == 10


async def test_a_plan_prefers_resources_ready_now_and_dedicated_to_the_community(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    shared = await publish(
        client, world, coop.unit_a, quantity=50, community_ids=[world.areas["c1"].id, world.areas["c2"].id]
    )
    waiting = await publish(
        client,
        world,
        coop.unit_b,
        who="unit_admin_b",
        quantity=50,
        available_from=(world.now + timedelta(days=3)).isoformat(),
    )
    ready = await publish(client, world, coop.unit_b, who="unit_admin_b", quantity=30)
    need = await post_need(client, world, quantity=40)
    plan = await _plan(client, world)
    costs = {f["resource_id"]: f["cost"] for f in plan["flows"]}
    assert {f["resource_id"]: f["quantity"] for f in plan["flows"]} == {ready["id"]: 30, shared["id"]: 10}
    assert costs == {ready["id"]: 1, shared["id"]: 3}
    assert waiting["id"] not in costs and plan["unmet"] == [] and need["quantity"] == 40


async def test_a_plan_applies_once_into_a_draft_project(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    rice = await publish(client, world, coop.unit_a, quantity=60)
    flour = await publish(client, world, coop.unit_b, who="unit_admin_b", quantity=30, title="Flour")
    first = await post_need(
        client, world, quantity=50, priority=5, deadline=(world.now + timedelta(days=5)).isoformat()
    )
    second = await post_need(client, world, quantity=40, priority=1)
    plan = await _plan(client, world)
    assert sum(f["quantity"] for f in plan["flows"]) == 90
    url = f"/api/allocations/plans/{plan['id']}/apply"
    problem(
        await client.post(url, json={"flow_ids": [999]}, headers=world.auth("manager")),
        422,
        "flows_not_in_plan",
    )
    problem(await client.post(url, json={}, headers=world.auth("manager_c2")), 404, "plan_not_found")

    result = ok(await client.post(url, json={"title": "Winter rice"}, headers=world.auth("manager")))
    project = result["project"]
    assert result["plan"]["status"] == "applied" and result["plan"]["project_id"] == project["id"]
    assert all(f["outcome"] == "applied" for f in result["plan"]["flows"])
    assert (project["title"], project["status"]) == ("Winter rice", "draft")
    # One commitment per resource and need, so that each delivery counts for its need; due at the
    # earliest need's deadline.
    flows = sorted((f["resource_id"], f["need_id"], f["quantity"]) for f in result["plan"]["flows"])
    assert sorted((c["resource_id"], c["need_id"], c["quantity"]) for c in project["commitments"]) == flows
    assert sum(c["quantity"] for c in project["commitments"] if c["resource_id"] == rice["id"]) == 60
    assert sum(c["quantity"] for c in project["commitments"] if c["resource_id"] == flour["id"]) == 30
    assert project["deadline"][:19] == first["deadline"][:19]
    assert {n["id"]: n["status"] for n in project["needs"]} == {
        first["id"]: "planned",
        second["id"]: "planned",
    }
    assert (await resource_state(client, world, rice["id"]))["held"] == 60
    assert (await resource_state(client, world, rice["id"]))["status"] == "used_up"
    # The units are asked to confirm.
    inbox = ok(await client.get("/api/notifications", headers=world.auth("unit_admin_b")))
    assert [n["code"] for n in inbox["items"]] == ["commitment_to_confirm"]

    again = problem(
        await client.post(url, json={}, headers=world.auth("manager")), 409, "plan_already_applied"
    )
    assert str(project["id"]) in again["detail"]
    assert ok(await client.get("/api/projects", headers=world.auth("manager")))["total"] == 1
    assert (await resource_state(client, world, rice["id"]))["held"] == 60
    # A planned need can no longer change.
    r = await client.patch(f"/api/needs/{first['id']}", json={"quantity": 1}, headers=world.auth("manager"))
    problem(r, 409, "need_not_editable")


async def test_applying_rechecks_each_flow_and_keeps_only_the_chosen(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    rice = await publish(client, world, coop.unit_a, quantity=50)
    van = await publish(
        client,
        world,
        coop.unit_b,
        who="unit_admin_b",
        category="transport",
        title="Van",
        unit_of_measure="trips",
        quantity=5,
    )
    hall = await publish(
        client,
        world,
        coop.unit_b,
        who="unit_admin_b",
        category="venue",
        title="Hall",
        unit_of_measure="hours",
        quantity=5,
    )
    await post_need(client, world, quantity=50)
    await post_need(client, world, category="transport", unit_of_measure="trips", quantity=5)
    closed = await post_need(client, world, category="venue", unit_of_measure="hours", quantity=5)
    plan = await _plan(client, world)
    flow_of = {f["resource_id"]: f["id"] for f in plan["flows"]}
    # Between planning and applying the van is withdrawn and the venue need closed.
    ok(
        await client.patch(
            f"/api/resources/{van['id']}", json={"status": "withdrawn"}, headers=world.auth("unit_admin_b")
        )
    )
    ok(
        await client.patch(
            f"/api/needs/{closed['id']}", json={"status": "closed"}, headers=world.auth("manager")
        )
    )
    url = f"/api/allocations/plans/{plan['id']}/apply"

    only_gone = {"flow_ids": [flow_of[van["id"]], flow_of[hall["id"]]]}
    body = problem(
        await client.post(url, json=only_gone, headers=world.auth("manager")), 409, "nothing_to_apply"
    )
    assert "withdrawn" in body["detail"] and "closed" in body["detail"]
    assert (
        ok(await client.get(f"/api/allocations/plans/{plan['id']}", headers=world.auth("manager")))["status"]
        == "proposed"
    )

    result = ok(await client.post(url, json={}, headers=world.auth("manager")))
    outcomes = {f["resource_id"]: (f["outcome"], f["note"]) for f in result["plan"]["flows"]}
    assert outcomes[rice["id"]] == ("applied", "")
    assert outcomes[van["id"]][0] == "skipped" and "withdrawn" in outcomes[van["id"]][1]
    assert outcomes[hall["id"]][0] == "skipped" and "closed" in outcomes[hall["id"]][1]
    assert [c["resource_id"] for c in result["project"]["commitments"]] == [rice["id"]]

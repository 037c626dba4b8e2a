"""Co-building units and their resource lists: who may register, edit and publish what."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.test_units_support import make_coop, ok, problem, publish, resource_body, unit_body
from tests.world import World


async def test_street_admins_and_managers_register_units_in_their_area(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    unit = ok(await client.get(f"/api/units/{coop.unit_a}", headers=world.auth("unit_admin")))
    assert unit["kind"] == "hospital"
    assert unit["community_ids"] == sorted([world.areas["c1"].id, world.areas["c2"].id])
    assert [a["user_id"] for a in unit["admins"]] == [world.id("unit_admin")]
    # A community manager pairs only with their own community.
    body = unit_body(world, "Far Away Ltd", ["c2"], [])
    problem(
        await client.post("/api/units", json=body, headers=world.auth("manager")), 403, "outside_your_area"
    )
    for who in ("resident", "volunteer", "grid_worker", "unit_admin"):
        problem(await client.post("/api/units", json=body, headers=world.auth(who)), 403, "role_required")
    # Admins must hold the unit_admin role.
    body = unit_body(world, "Shop", ["c1"], ["resident"])
    problem(
        await client.post("/api/units", json=body, headers=world.auth("manager")), 422, "not_a_unit_admin"
    )
    body = unit_body(world, "Shop", ["c1_grid"], [])
    problem(await client.post("/api/units", json=body, headers=world.auth("manager")), 422, "not_a_community")


async def test_invalid_unit_input_is_a_problem_naming_the_field(
    client: AsyncTestClient, world: World
) -> None:
    for bad in (
        {"contact_phone": "12345"},
        {"kind": "bank"},
        {"name": "  "},
        {"name": "x" * 101},
        {"community_ids": []},
        {"surprise": 1},
    ):
        body = {**unit_body(world, "Shop", ["c1"], []), **bad}
        r = await client.post("/api/units", json=body, headers=world.auth("manager"))
        assert problem(r, 400, "invalid_input")["errors"], bad


async def test_units_are_read_by_their_admins_and_the_street_and_changed_by_the_registrars(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    mine = ok(await client.get("/api/units", headers=world.auth("unit_admin_b")))
    assert [u["id"] for u in mine["items"]] == [coop.unit_b]
    street = ok(
        await client.get(f"/api/units?community_id={world.areas['c2'].id}", headers=world.auth("manager_c2"))
    )
    assert [u["id"] for u in street["items"]] == [coop.unit_a]
    problem(await client.get("/api/units", headers=world.auth("resident")), 403, "role_required")
    problem(
        await client.get(f"/api/units/{coop.unit_a}", headers=world.auth("unit_admin_b")),
        404,
        "unit_not_found",
    )

    # The unit registered by community 1's manager is theirs (and the street's) to change.
    change = {"contact_name": "Mr Wang", "admin_ids": [world.id("unit_admin_b"), world.id("unit_admin")]}
    r = await client.patch(f"/api/units/{coop.unit_b}", json=change, headers=world.auth("manager_c2"))
    problem(r, 403, "not_your_unit")
    problem(
        await client.patch(f"/api/units/{coop.unit_a}", json=change, headers=world.auth("manager")),
        403,
        "not_your_unit",
    )
    unit = ok(await client.patch(f"/api/units/{coop.unit_b}", json=change, headers=world.auth("manager")))
    assert unit["contact_name"] == "Mr Wang" and len(unit["admins"]) == 2
    ok(
        await client.patch(
            f"/api/units/{coop.unit_a}", json={"kind": "school"}, headers=world.auth("street_admin")
        )
    )

    # A community still served by a resource stays paired.
    await publish(client, world, coop.unit_a, community_ids=[world.areas["c2"].id])
    only_c1 = {"community_ids": [world.areas["c1"].id]}
    r = await client.patch(f"/api/units/{coop.unit_a}", json=only_c1, headers=world.auth("street_admin"))
    problem(r, 409, "community_in_use")


async def test_a_unit_admin_publishes_and_edits_only_their_own_units_resources(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    rice = await publish(client, world, coop.unit_a)
    assert (rice["available"], rice["held"], rice["delivered"], rice["status"]) == (100, 0, 0, "published")
    r = await client.post(
        "/api/resources", json=resource_body(world, coop.unit_a), headers=world.auth("unit_admin_b")
    )
    problem(r, 404, "unit_not_found")
    r = await client.post(
        "/api/resources", json=resource_body(world, coop.unit_a), headers=world.auth("manager")
    )
    problem(r, 403, "role_required")
    # Only communities the unit is paired with.
    body = resource_body(world, coop.unit_b, community_ids=[world.areas["c2"].id])
    problem(
        await client.post("/api/resources", json=body, headers=world.auth("unit_admin_b")),
        422,
        "community_not_paired",
    )
    body = resource_body(world, coop.unit_b, available_until=(world.now - timedelta(days=2)).isoformat())
    problem(
        await client.post("/api/resources", json=body, headers=world.auth("unit_admin_b")),
        400,
        "window_order",
    )
    problem(
        await client.post(
            "/api/resources",
            json={**resource_body(world, coop.unit_b), "quantity": 0},
            headers=world.auth("unit_admin_b"),
        ),
        400,
        "invalid_input",
    )

    r = await client.patch(
        f"/api/resources/{rice['id']}", json={"quantity": 5}, headers=world.auth("unit_admin_b")
    )
    problem(r, 404, "resource_not_found")
    changed = ok(
        await client.patch(
            f"/api/resources/{rice['id']}",
            json={"quantity": 80, "title": "Rice, 80 kg"},
            headers=world.auth("unit_admin"),
        )
    )
    assert (changed["quantity"], changed["available"], changed["title"]) == (80, 80, "Rice, 80 kg")
    r = await client.patch(
        f"/api/resources/{rice['id']}", json={"status": "used_up"}, headers=world.auth("unit_admin")
    )
    problem(r, 400, "status_not_settable")
    withdrawn = ok(
        await client.patch(
            f"/api/resources/{rice['id']}", json={"status": "withdrawn"}, headers=world.auth("unit_admin")
        )
    )
    assert withdrawn["status"] == "withdrawn"


async def test_resources_are_listed_with_filters_for_the_people_concerned(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    rice = await publish(client, world, coop.unit_a)
    hall = await publish(
        client,
        world,
        coop.unit_a,
        category="venue",
        title="Hall",
        unit_of_measure="hours",
        community_ids=[world.areas["c2"].id],
    )
    van = await publish(
        client,
        world,
        coop.unit_b,
        who="unit_admin_b",
        category="transport",
        title="Van",
        unit_of_measure="trips",
    )

    def ids(page: dict) -> list[int]:
        return [r["id"] for r in page["items"]]

    assert ids(ok(await client.get("/api/resources", headers=world.auth("manager")))) == [
        rice["id"],
        van["id"],
    ]
    assert ids(ok(await client.get("/api/resources", headers=world.auth("manager_c2")))) == [hall["id"]]
    assert ids(ok(await client.get("/api/resources", headers=world.auth("street_admin")))) == [
        rice["id"],
        hall["id"],
        van["id"],
    ]
    assert ids(ok(await client.get("/api/resources", headers=world.auth("unit_admin_b")))) == [van["id"]]
    assert ids(ok(await client.get("/api/resources?category=venue", headers=world.auth("admin")))) == [
        hall["id"]
    ]
    c2 = world.areas["c2"].id
    assert ids(ok(await client.get(f"/api/resources?community_id={c2}", headers=world.auth("admin")))) == [
        hall["id"]
    ]
    ok(
        await client.patch(
            f"/api/resources/{van['id']}", json={"status": "withdrawn"}, headers=world.auth("unit_admin_b")
        )
    )
    page = ok(await client.get("/api/resources?status=withdrawn", headers=world.auth("admin")))
    assert ids(page) == [van["id"]] and page["total"] == 1
    problem(await client.get("/api/resources", headers=world.auth("resident")), 403, "role_required")
    problem(
        await client.get("/api/resources?category=cash", headers=world.auth("admin")), 400, "invalid_input"
    )

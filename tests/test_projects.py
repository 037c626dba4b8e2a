"""Projects: creation, the state machine, deliveries, quantities conserved, close-out exactly once."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, UserRole
from market.clock import FrozenClock
from market.ledger.models import Account, Transfer
from market.projects.models import Commitment, Delivery
from market.projects.service import close_due_projects, warn_closing_projects
from market.settings import Settings
from tests.test_teams import create_team
from tests.test_units_support import (
    Coop,
    fund_pool,
    make_coop,
    ok,
    post_need,
    problem,
    publish,
    resource_state,
)
from tests.world import World


@pytest.fixture
async def coop(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> Coop:
    return await make_coop(client, world, session_maker)


async def make_project(client: AsyncTestClient, world: World, coop: Coop, **overrides: Any) -> dict:
    rice = await publish(client, world, coop.unit_a, quantity=100)
    flour = await publish(client, world, coop.unit_b, who="unit_admin_b", title="Flour", quantity=40)
    need = await post_need(client, world, quantity=100)
    teams = ok(await client.get("/api/teams?limit=100", headers=world.auth("manager")))["items"]
    team = next((t for t in teams if t["name"] == "Party members' team"), None)
    team = team or await create_team(client, world, name="Party members' team")
    body: dict[str, Any] = {
        "title": "Winter food drive",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=3)).isoformat(),
        "need_ids": [need["id"]],
        "commitments": [
            {"resource_id": rice["id"], "quantity": 60},
            {"resource_id": flour["id"], "quantity": 40},
        ],
        "responsibilities": [
            {"task": "Deliver the rice", "unit_id": coop.unit_a},
            {"task": "Hand out bags", "user_id": world.id("volunteer")},
            {"task": "Keep the list", "team_id": team["id"]},
        ],
        "participant_ids": [world.id("volunteer"), world.id("volunteer_b")],
    }
    body.update(overrides)
    return ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))


async def activate(client: AsyncTestClient, world: World, project: dict) -> dict:
    for c, who in zip(project["commitments"], ("unit_admin", "unit_admin_b"), strict=True):
        url = f"/api/projects/{project['id']}/commitments/{c['id']}/confirm"
        project = ok(await client.post(url, headers=world.auth(who)))
    assert project["status"] == "active"
    return project


async def deliver(
    client: AsyncTestClient, world: World, project: dict, index: int, quantity: int, who: str = "manager"
):
    url = f"/api/projects/{project['id']}/commitments/{project['commitments'][index]['id']}/deliveries"
    return await client.post(url, json={"quantity": quantity, "note": "by van"}, headers=world.auth(who))


async def get(client: AsyncTestClient, world: World, project: dict, who: str = "manager") -> dict:
    return ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth(who)))


async def project_transfers(
    session_maker: async_sessionmaker[AsyncSession], project_id: int
) -> list[tuple[str, int]]:
    async with session_maker() as session:
        rows = await session.execute(
            select(Transfer.id, Transfer.amount)
            .where(Transfer.reference == f"project:{project_id}")
            .order_by(Transfer.id)
        )
        return [tuple(r) for r in rows]


async def test_a_project_holds_its_commitments_and_activates_when_every_unit_confirms(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await make_project(client, world, coop)
    assert project["status"] == "draft"
    rice, flour = project["commitments"]
    assert (rice["quantity"], rice["outstanding"], rice["unit_name"]) == (60, 60, "District Hospital")
    assert (await resource_state(client, world, rice["resource_id"]))["available"] == 40
    assert [n["status"] for n in project["needs"]] == ["planned"]
    assert [r["assignee"] for r in project["responsibilities"]] == [
        "District Hospital",
        "Volunteer",
        "Party members' team",
    ]
    inbox = ok(await client.get("/api/notifications", headers=world.auth("unit_admin")))
    assert [n["code"] for n in inbox["items"]] == ["commitment_to_confirm"]

    url = f"/api/projects/{project['id']}/commitments"
    problem(
        await client.post(f"{url}/{rice['id']}/confirm", headers=world.auth("unit_admin_b")),
        403,
        "not_your_unit",
    )
    problem(
        await client.post(f"{url}/{rice['id']}/confirm", headers=world.auth("manager")), 403, "role_required"
    )
    problem(
        await client.post(f"{url}/999/confirm", headers=world.auth("unit_admin")), 404, "commitment_not_found"
    )
    project = ok(await client.post(f"{url}/{rice['id']}/confirm", headers=world.auth("unit_admin")))
    assert project["status"] == "draft"
    problem(
        await client.post(f"{url}/{rice['id']}/confirm", headers=world.auth("unit_admin")),
        409,
        "already_confirmed",
    )
    project = ok(await client.post(f"{url}/{flour['id']}/confirm", headers=world.auth("unit_admin_b")))
    assert project["status"] == "active" and project["activated_at"]
    assert [(e["action"], e["to_status"]) for e in project["events"]] == [
        ("create", "draft"),
        ("confirm_commitment", None),
        ("confirm_commitment", None),
        ("activate", "active"),
    ]
    assert project["events"][1]["actor_name"] == "Unit Admin"
    inbox = ok(await client.get("/api/notifications", headers=world.auth("volunteer")))
    assert "project_active" in [n["code"] for n in inbox["items"]]
    # The volunteer takes part, so they see it; a resident of the community does not.
    ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("volunteer")))
    problem(
        await client.get(f"/api/projects/{project['id']}", headers=world.auth("resident")),
        404,
        "project_not_found",
    )
    assert (
        ok(await client.get("/api/projects?status=active", headers=world.auth("unit_admin_b")))["total"] == 1
    )
    assert ok(await client.get("/api/projects", headers=world.auth("manager_c2")))["total"] == 0


async def test_a_project_without_commitments_is_active_at_once(client: AsyncTestClient, world: World) -> None:
    body = {
        "title": "Park clean-up",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=1)).isoformat(),
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    assert project["status"] == "active"


async def test_project_input_is_checked_before_anything_changes(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    rice = await publish(client, world, coop.unit_a, quantity=10)
    need_c2 = await post_need(client, world, who="manager_c2", area_id=world.areas["c2"].id)
    base = {
        "title": "T",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=2)).isoformat(),
    }
    cases = [
        ({"commitments": [{"resource_id": rice["id"], "quantity": 11}]}, 409, "resource_not_available"),
        ({"commitments": [{"resource_id": 999, "quantity": 1}]}, 409, "resource_not_available"),
        ({"commitments": [{"resource_id": rice["id"], "quantity": 1}] * 2}, 400, "duplicate_resource"),
        ({"need_ids": [need_c2["id"]]}, 409, "need_not_available"),
        ({"responsibilities": [{"task": "x", "unit_id": coop.unit_a, "team_id": 1}]}, 400, "one_assignee"),
        ({"responsibilities": [{"task": "x"}]}, 400, "one_assignee"),
        ({"participant_ids": [world.id("resident")]}, 422, "not_a_volunteer"),
        ({"deadline": (world.now - timedelta(days=1)).isoformat()}, 400, "deadline_passed"),
        ({"start_at": (world.now + timedelta(days=5)).isoformat()}, 400, "window_order"),
        ({"community_id": world.areas["c2"].id}, 403, "outside_your_area"),
        ({"title": ""}, 400, "invalid_input"),
        ({"commitments": [{"resource_id": rice["id"], "quantity": 0}]}, 400, "invalid_input"),
    ]
    for change, status, code in cases:
        problem(
            await client.post("/api/projects", json={**base, **change}, headers=world.auth("manager")),
            status,
            code,
        )
    for who in ("resident", "volunteer", "unit_admin", "grid_worker"):
        problem(await client.post("/api/projects", json=base, headers=world.auth(who)), 403, "role_required")
    assert (await resource_state(client, world, rice["id"]))["held"] == 0
    assert ok(await client.get("/api/projects", headers=world.auth("admin")))["total"] == 0


async def test_every_illegal_action_is_a_409_and_changes_nothing(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    project = await make_project(client, world, coop)
    pid = project["id"]
    participant = project["participants"][0]["id"]
    responsibility = project["responsibilities"][0]["id"]

    async def refused(
        method_path: str, body: dict | None, who: str = "manager", code: str = "illegal_transition"
    ) -> None:
        before = await get(client, world, project)
        r = await client.post(f"/api/projects/{pid}/{method_path}", json=body, headers=world.auth(who))
        problem(r, 409, code)
        assert await get(client, world, project) == before

    # A draft takes no deliveries, hours or closing (responsibilities are done whenever they are).
    await refused(f"commitments/{project['commitments'][0]['id']}/deliveries", {"quantity": 1}, "unit_admin")
    await refused(f"participants/{participant}/hours", {"hours": 2})
    await refused("close", None)
    project = await activate(client, world, project)
    await refused(
        f"commitments/{project['commitments'][0]['id']}/confirm", None, "unit_admin", "already_confirmed"
    )
    await refused("participants", {"user_id": world.id("volunteer")}, code="already_participating")
    assert ok(await deliver(client, world, project, 0, 60))["commitments"][0]["outstanding"] == 0
    await refused(
        f"commitments/{project['commitments'][0]['id']}/deliveries",
        {"quantity": 1},
        code="exceeds_commitment",
    )
    ok(
        await client.post(
            f"/api/projects/{pid}/responsibilities/{responsibility}/done", headers=world.auth("unit_admin")
        )
    )
    await refused(f"responsibilities/{responsibility}/done", None, code="already_done")
    ok(await client.post(f"/api/projects/{pid}/close", headers=world.auth("manager")))
    # Closed is final.
    await refused("close", None)
    await refused("cancel", {"reason": "too late"})
    await refused(
        f"commitments/{project['commitments'][1]['id']}/deliveries", {"quantity": 1}, "unit_admin_b"
    )
    await refused(f"participants/{participant}/hours", {"hours": 9})
    await refused("participants", {"user_id": world.id("volunteer_c")})
    async with session_maker() as session, session.begin():
        assert await close_due_projects(session, world.now + timedelta(days=30), settings) == 0


async def test_only_the_right_people_act_on_a_project(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    pid = project["id"]
    flour = project["commitments"][1]["id"]
    problem(await deliver(client, world, project, 1, 5, who="unit_admin"), 403, "not_your_unit")
    problem(await deliver(client, world, project, 1, 5, who="manager_c2"), 404, "project_not_found")
    problem(await deliver(client, world, project, 1, 5, who="volunteer"), 403, "role_required")
    ok(await deliver(client, world, project, 1, 5, who="unit_admin_b"))
    for path, body in (
        ("close", None),
        ("cancel", {"reason": "x"}),
        ("participants", {"user_id": world.id("volunteer_c")}),
    ):
        problem(
            await client.post(f"/api/projects/{pid}/{path}", json=body, headers=world.auth("manager_c2")),
            404,
            "project_not_found",
        )
        problem(
            await client.post(f"/api/projects/{pid}/{path}", json=body, headers=world.auth("unit_admin")),
            403,
            "role_required",
        )
    task = project["responsibilities"][1]["id"]  # the volunteer's own task
    problem(
        await client.post(
            f"/api/projects/{pid}/responsibilities/{task}/done", headers=world.auth("volunteer_b")
        ),
        403,
        "not_responsible",
    )
    done = ok(
        await client.post(
            f"/api/projects/{pid}/responsibilities/{task}/done", headers=world.auth("volunteer")
        )
    )
    assert done["responsibilities"][1]["done_by_id"] == world.id("volunteer")
    r = await client.post(
        f"/api/projects/{pid}/participants",
        json={"user_id": world.id("resident")},
        headers=world.auth("manager"),
    )
    problem(r, 422, "not_a_volunteer")
    problem(
        await client.post(f"/api/projects/{pid}/cancel", json={"reason": ""}, headers=world.auth("manager")),
        400,
        "invalid_input",
    )
    # The resource can't shrink below what the project holds and has received.
    r = await client.patch(
        f"/api/resources/{project['commitments'][1]['resource_id']}",
        json={"quantity": 39},
        headers=world.auth("unit_admin_b"),
    )
    assert problem(r, 409, "quantity_below_committed")["committed"] == 40
    assert flour


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_resource_quantities_are_conserved_through_commit_deliver_and_release(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
    seed: int,
) -> None:
    """quantity = available + held + delivered, held = what open commitments still expect, and
    delivered = what deliveries recorded, after every step of a random sequence."""
    rng = random.Random(seed)
    resources = [
        await publish(client, world, coop.unit_a, quantity=rng.randint(5, 30), title=f"R{i}")
        for i in range(3)
    ]

    async def check() -> None:
        states = {
            r["id"]: r for r in ok(await client.get("/api/resources", headers=world.auth("admin")))["items"]
        }
        async with session_maker() as session:
            held = dict(
                (
                    await session.execute(
                        select(
                            Commitment.resource_id,
                            func.sum(Commitment.quantity - Commitment.delivered - Commitment.released),
                        ).group_by(Commitment.resource_id)
                    )
                ).all()
            )
            delivered = dict(
                (
                    await session.execute(
                        select(Commitment.resource_id, func.sum(Delivery.quantity))
                        .join(Delivery, Delivery.commitment_id == Commitment.id)
                        .group_by(Commitment.resource_id)
                    )
                ).all()
            )
        for r in resources:
            state = states[r["id"]]
            assert state["quantity"] == state["available"] + state["held"] + state["delivered"]
            assert state["held"] == held.get(r["id"], 0)
            assert state["delivered"] == delivered.get(r["id"], 0)
            assert state["status"] == ("used_up" if state["available"] == 0 else "published")

    live: list[dict] = []  # draft and active projects
    for step in range(12):
        action = rng.choice(["create", "create", "deliver", "deliver", "deliver", "close", "cancel"])
        if action == "create" or not live:
            states = ok(await client.get("/api/resources", headers=world.auth("admin")))["items"]
            chosen = [s for s in states if s["available"] > 0 and rng.random() < 0.7]
            body = {
                "title": f"P{step}",
                "community_id": world.areas["c1"].id,
                "deadline": (world.now + timedelta(days=2)).isoformat(),
                "commitments": [
                    {"resource_id": s["id"], "quantity": rng.randint(1, s["available"])} for s in chosen
                ],
            }
            project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
            for c in project["commitments"]:
                url = f"/api/projects/{project['id']}/commitments/{c['id']}/confirm"
                project = ok(await client.post(url, headers=world.auth("unit_admin")))
            live.append(project)
        elif action == "deliver":
            project = await get(client, world, rng.choice(live))
            if project["commitments"]:
                index = rng.randrange(len(project["commitments"]))
                outstanding = project["commitments"][index]["outstanding"]
                quantity = rng.randint(1, outstanding + 2)
                r = await deliver(client, world, project, index, quantity)
                assert r.status_code == (200 if quantity <= outstanding else 409), r.text
        else:
            project = live.pop(rng.randrange(len(live)))
            body = {"reason": "r"} if action == "cancel" else None
            ok(
                await client.post(
                    f"/api/projects/{project['id']}/{action}", json=body, headers=world.auth("manager")
                )
            )
        await check()


async def test_closing_with_everything_delivered_completes_meets_the_needs_and_pays_once(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await fund_pool(session_maker, world, settings)
    project = await activate(client, world, await make_project(client, world, coop))
    pid = project["id"]
    ok(await deliver(client, world, project, 0, 25))
    ok(await deliver(client, world, project, 0, 35, who="unit_admin"))
    ok(await deliver(client, world, project, 1, 40, who="unit_admin_b"))
    first, second = project["participants"]
    ok(
        await client.post(
            f"/api/projects/{pid}/participants/{first['id']}/hours",
            json={"hours": 2},
            headers=world.auth("manager"),
        )
    )
    ok(
        await client.post(
            f"/api/projects/{pid}/participants/{first['id']}/hours",
            json={"hours": 2.5},
            headers=world.auth("manager"),
        )
    )
    r = await client.post(
        f"/api/projects/{pid}/participants/{second['id']}/hours",
        json={"hours": -1},
        headers=world.auth("manager"),
    )
    problem(r, 400, "invalid_input")
    for task in project["responsibilities"]:
        url = f"/api/projects/{pid}/responsibilities/{task['id']}/done"
        ok(await client.post(url, headers=world.auth("manager")))

    closed = ok(await client.post(f"/api/projects/{pid}/close", headers=world.auth("manager")))
    assert closed["status"] == "completed" and closed["closed_at"]
    summary = closed["summary"]
    assert summary["outcome"] == "completed" and summary["closed_by_id"] == world.id("manager")
    assert summary["missing"] == [] and summary["needs_met"] == [closed["needs"][0]["id"]]
    assert summary["points_per_hour"] == 10
    assert summary["volunteer_points"] == [
        {"user_id": world.id("volunteer"), "hours": 2.5, "points": 25, "owed": False, "withheld": 0}
    ]
    assert [(u["unit_id"], u["credit_points"]) for u in summary["unit_points"]] == [
        (coop.unit_a, 10),
        (coop.unit_b, 10),
    ]
    assert [n["status"] for n in closed["needs"]] == ["met"]
    assert [e["action"] for e in closed["events"]][-1] == "close"
    assert (await resource_state(client, world, closed["commitments"][0]["resource_id"]))["delivered"] == 60

    expected = [
        (f"~project:{pid}:unit:{coop.unit_a}", 10),
        (f"~project:{pid}:unit:{coop.unit_b}", 10),
        (f"~project:{pid}:user:{world.id('volunteer')}", 25),
    ]
    assert await project_transfers(session_maker, pid) == expected
    problem(
        await client.post(f"/api/projects/{pid}/close", headers=world.auth("manager")),
        409,
        "illegal_transition",
    )
    assert await project_transfers(session_maker, pid) == expected
    accounts = ok(
        await client.get(
            f"/api/ledger/accounts?user_id={world.id('volunteer')}&asset=service",
            headers=world.auth("volunteer"),
        )
    )
    assert [a["balance"] for a in accounts["items"]] == [25]
    async with session_maker() as session:
        unit_account = await session.scalar(
            select(Account).where(Account.key == f"credit:unit:unit:{coop.unit_a}")
        )
        assert unit_account.balance == 10
    for who in ("manager", "volunteer", "unit_admin_b"):
        inbox = ok(await client.get("/api/notifications", headers=world.auth(who)))
        assert "project_closed" in [n["code"] for n in inbox["items"]], who


async def test_closing_with_deliveries_missing_is_overdue_releases_and_reopens(
    client: AsyncTestClient, world: World, coop: Coop, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    ok(await deliver(client, world, project, 0, 50))
    ok(await deliver(client, world, project, 1, 40))
    closed = ok(await client.post(f"/api/projects/{project['id']}/close", headers=world.auth("manager")))
    assert closed["status"] == "overdue"
    rice = closed["commitments"][0]
    assert (rice["delivered"], rice["released"], rice["outstanding"]) == (50, 10, 0)
    missing = closed["summary"]["missing"]
    assert [m["params"]["commitment_id"] for m in missing if m["code"] == "commitment_short"] == [rice["id"]]
    state = await resource_state(client, world, rice["resource_id"])
    assert (state["available"], state["held"], state["delivered"]) == (50, 0, 50)
    need = ok(await client.get(f"/api/needs/{closed['needs'][0]['id']}", headers=world.auth("manager")))
    assert need["status"] == "partly_met" and "90 of 100 delivered" in need["note"]
    assert need["delivered"] == 90
    assert need["project_ids"] == [project["id"]]
    # Only the unit that delivered in full earns credit points; nobody recorded hours.
    assert [u["unit_id"] for u in closed["summary"]["unit_points"]] == [coop.unit_b]
    assert [t for t, _ in await project_transfers(session_maker, project["id"])] == [
        f"~project:{project['id']}:unit:{coop.unit_b}"
    ]


async def test_cancelling_releases_everything_and_pays_nothing(
    client: AsyncTestClient, world: World, coop: Coop, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    ok(await deliver(client, world, project, 0, 10))
    cancelled = ok(
        await client.post(
            f"/api/projects/{project['id']}/cancel", json={"reason": "Typhoon"}, headers=world.auth("manager")
        )
    )
    assert cancelled["status"] == "cancelled" and cancelled["summary"]["note"] == "Typhoon"
    state = await resource_state(client, world, cancelled["commitments"][0]["resource_id"])
    assert (state["available"], state["held"], state["delivered"]) == (90, 0, 10)
    # What was delivered before the cancellation stays delivered.
    assert [(n["status"], n["delivered"]) for n in cancelled["needs"]] == [("partly_met", 10)]
    assert await project_transfers(session_maker, project["id"]) == []


async def _run(session_maker: async_sessionmaker[AsyncSession], job, now, settings: Settings) -> int:
    async with session_maker() as session, session.begin():
        return await job(session, now, settings)


async def test_the_scheduler_warns_once_and_closes_at_the_deadline(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    deadline = world.now + timedelta(days=3)
    clock.advance(deadline - timedelta(hours=25) - clock())
    assert await _run(session_maker, warn_closing_projects, clock(), settings) == 0
    clock.advance(timedelta(hours=2))
    assert await _run(session_maker, warn_closing_projects, clock(), settings) == 1
    assert await _run(session_maker, warn_closing_projects, clock(), settings) == 0
    inbox = ok(await client.get("/api/notifications", headers=world.auth("manager")))
    assert [n["code"] for n in inbox["items"]].count("project_closing") == 1

    clock.advance(deadline - timedelta(seconds=1) - clock())
    assert await _run(session_maker, close_due_projects, clock(), settings) == 0
    ok(await deliver(client, world, project, 1, 40))
    clock.advance(timedelta(seconds=1))
    assert await _run(session_maker, close_due_projects, clock(), settings) == 1
    closed = await get(client, world, project)
    assert closed["status"] == "overdue" and closed["summary"]["closed_by_id"] is None
    assert closed["events"][-1]["actor_id"] is None
    clock.advance(timedelta(hours=1))
    assert await _run(session_maker, close_due_projects, clock(), settings) == 0
    assert [e["action"] for e in (await get(client, world, project))["events"]].count("close") == 1


async def test_two_schedulers_at_once_close_a_project_once(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await fund_pool(session_maker, world, settings)
    project = await activate(client, world, await make_project(client, world, coop))
    participant = project["participants"][0]["id"]
    url = f"/api/projects/{project['id']}/participants/{participant}/hours"
    ok(await client.post(url, json={"hours": 3}, headers=world.auth("manager")))
    later = world.now + timedelta(days=4)
    results = await asyncio.gather(
        *(_run(session_maker, close_due_projects, later, settings) for _ in range(2))
    )
    assert sorted(results) == [0, 1]
    closed = await get(client, world, project)
    assert [e["action"] for e in closed["events"]].count("close") == 1
    assert await project_transfers(session_maker, project["id"]) == [
        (f"~project:{project['id']}:user:{world.id('volunteer')}", 30)
    ]


async def test_two_managers_closing_at_once_close_it_once(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    live_server: str,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await fund_pool(session_maker, world, settings)
    project = await activate(client, world, await make_project(client, world, coop))
    ok(
        await client.post(
            f"/api/projects/{project['id']}/participants/{project['participants'][1]['id']}/hours",
            json={"hours": 1},
            headers=world.auth("manager"),
        )
    )
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        responses = await asyncio.gather(
            http.post(f"/api/projects/{project['id']}/close", headers=world.auth("manager")),
            http.post(f"/api/projects/{project['id']}/close", headers=world.auth("street_admin")),
        )
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "illegal_transition"
    assert await project_transfers(session_maker, project["id"]) == [
        (f"~project:{project['id']}:user:{world.id('volunteer_b')}", 10)
    ]
    async with session_maker() as session:
        closes = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.reference == f"project:{project['id']}")
        )
    assert closes == 1


# ---------------------------------------------------------------- nobody mints through a project


async def record(client: AsyncTestClient, world: World, pid: int, participant: int, hours: float, who: str):
    return await client.post(
        f"/api/projects/{pid}/participants/{participant}/hours",
        json={"hours": hours},
        headers=world.auth(who),
    )


async def test_project_rewards_count_against_the_daily_cap(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    await fund_pool(session_maker, world, settings)
    c1 = world.areas["c1"].id
    ok(await client.put(f"/api/ledger/policies/{c1}", json={"daily_cap": 20}, headers=world.auth("manager")))
    body = {
        "title": "Park clean-up",
        "community_id": c1,
        "deadline": (world.now + timedelta(days=1)).isoformat(),
        "participant_ids": [world.id("volunteer")],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    ok(await record(client, world, project["id"], project["participants"][0]["id"], 2.5, "manager"))

    closed = ok(
        await client.post(
            f"/api/projects/{project['id']}/close",
            json={"note": "The park is clean"},
            headers=world.auth("manager"),
        )
    )

    assert closed["summary"]["volunteer_points"] == [
        {"user_id": world.id("volunteer"), "hours": 2.5, "points": 20, "owed": False, "withheld": 5}
    ]
    assert await project_transfers(session_maker, project["id"]) == [
        (f"~project:{project['id']}:user:{world.id('volunteer')}", 20)
    ]


async def test_participants_live_in_or_serve_the_projects_community(
    client: AsyncTestClient, world: World
) -> None:
    body = {
        "title": "Park clean-up",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=1)).isoformat(),
    }
    r = await client.post(
        "/api/projects",
        json={**body, "participant_ids": [world.id("volunteer_c2")]},
        headers=world.auth("manager"),
    )
    problem(r, 422, "volunteer_outside_community")
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    r = await client.post(
        f"/api/projects/{project['id']}/participants",
        json={"user_id": world.id("volunteer_c2")},
        headers=world.auth("manager"),
    )
    problem(r, 422, "volunteer_outside_community")
    ok(
        await client.post(
            f"/api/projects/{project['id']}/participants",
            json={"user_id": world.id("volunteer")},
            headers=world.auth("manager"),
        )
    )
    assert [p["user_id"] for p in (await get(client, world, project))["participants"]] == [
        world.id("volunteer")
    ]


async def test_nobody_records_their_own_hours_or_more_than_the_project_ran(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        session.add(UserRole(user_id=world.id("manager"), role=Role.volunteer))
    body = {
        "title": "Park clean-up",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=1)).isoformat(),
        "participant_ids": [world.id("manager"), world.id("volunteer")],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    mine, theirs = sorted(project["participants"], key=lambda p: p["user_id"] != world.id("manager"))

    problem(await record(client, world, project["id"], mine["id"], 3, "manager"), 403, "own_hours")
    problem(
        await record(client, world, project["id"], theirs["id"], 24.1, "manager"), 400, "hours_beyond_span"
    )
    ok(await record(client, world, project["id"], theirs["id"], 24, "manager"))
    hours = {p["user_id"]: p["hours"] for p in (await get(client, world, project))["participants"]}
    assert hours == {world.id("manager"): 0, world.id("volunteer"): 24}

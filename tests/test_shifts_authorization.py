"""Who may act on a shift of community 1's project and on community 1's needs and proposals,
endpoint by endpoint, every role of the test world. A refusal is a problem+json with a code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from market.clock import FrozenClock
from tests.test_authorization import ROLES, assert_problem
from tests.test_shifts import STARTS_IN, code_now, make_project, open_shift
from tests.test_units_support import ok, post_need
from tests.world import World

# fmt: off
COLUMNS = ("create", "list", "get", "open", "sign_up", "cancel", "code", "check_in",
           "support", "propose", "proposals", "approve", "reject", "call_off")
MATRIX = {
    #                  create list get  open sign cancel code in   supp prop list appr rej call
    "admin":          (200,   200, 200, 200, 403, 404,   200, 409, 403, 403, 200, 200, 200, 200),
    "street_admin":   (200,   200, 200, 403, 403, 403,   200, 403, 403, 403, 200, 200, 200, 200),
    "manager":        (200,   200, 200, 403, 403, 403,   200, 403, 403, 403, 200, 200, 200, 200),
    "manager_c2":     (404,   404, 404, 403, 403, 403,   404, 403, 403, 403, 200, 404, 404, 404),
    "grid_worker":    (403,   200, 200, 403, 403, 403,   403, 403, 403, 403, 403, 403, 403, 403),
    "grid_worker_c2": (403,   404, 404, 403, 403, 403,   404, 403, 403, 403, 403, 403, 403, 403),
    "unit_admin":     (403,   404, 404, 403, 403, 403,   403, 403, 403, 403, 403, 403, 403, 403),
    "resident":       (403,   404, 404, 403, 403, 403,   403, 403, 200, 200, 200, 403, 403, 403),
    "resident_b":     (403,   404, 404, 403, 403, 403,   403, 403, 200, 200, 200, 403, 403, 403),
    "resident_c2":    (403,   404, 404, 403, 403, 403,   403, 403, 404, 200, 200, 403, 403, 403),
    "volunteer":      (403,   404, 200, 200, 409, 200,   403, 200, 403, 403, 403, 403, 403, 403),
    "volunteer_b":    (403,   404, 200, 200, 200, 404,   403, 409, 403, 403, 403, 403, 403, 403),
    "volunteer_c2":   (403,   404, 404, 200, 404, 404,   403, 409, 403, 403, 403, 403, 403, 403),
}
# fmt: on
assert set(MATRIX) == set(ROLES) and all(len(row) == len(COLUMNS) for row in MATRIX.values())


async def _world_state(client: AsyncTestClient, world: World, clock: FrozenClock) -> dict[str, Any]:
    """A recruiting project of community 1 with a shift "volunteer" signed up for (check-in open),
    a need of community 1 and a resident's proposal."""
    project = await make_project(client, world)
    starts_at = world.now + timedelta(hours=1)
    shift = await open_shift(
        client,
        world,
        project,
        starts_at=starts_at.isoformat(),
        ends_at=(starts_at + timedelta(hours=3)).isoformat(),
        cancel_cutoff_hours=0,
    )
    ok(await client.post(f"/api/shifts/{shift['id']}/sign-up", headers=world.auth("volunteer")))
    clock.advance(timedelta(minutes=40))  # check-in is open, cancelling still is (no cut-off)
    need = await post_need(client, world)
    body = {"title": "More lights"}
    proposal = ok(await client.post("/api/need-proposals", json=body, headers=world.auth("resident")))
    return {"project": project, "shift": shift, "need": need, "proposal": proposal}


def _call(world: World, state: dict[str, Any], endpoint: str, code: str) -> tuple[str, str, Any]:
    shift, project = state["shift"]["id"], state["project"]["id"]
    approve = {"category": "goods", "quantity": 3, "unit_of_measure": "lamps",
               "deadline": (world.now + timedelta(days=9)).isoformat()}  # fmt: skip
    return {
        "create": ("POST", f"/api/projects/{project}/shifts", {
            "title": "More hands", "area_id": world.areas["c1"].id,
            "starts_at": (world.now + STARTS_IN).isoformat(),
            "ends_at": (world.now + STARTS_IN + timedelta(hours=1)).isoformat(), "slots": 3}),
        "list": ("GET", f"/api/projects/{project}/shifts", None),
        "get": ("GET", f"/api/shifts/{shift}", None),
        "open": ("GET", "/api/shifts/open", None),
        "sign_up": ("POST", f"/api/shifts/{shift}/sign-up", None),
        "cancel": ("POST", f"/api/shifts/{shift}/cancel", None),
        "code": ("GET", f"/api/shifts/{shift}/code", None),
        "check_in": ("POST", f"/api/shifts/{shift}/check-in", {"code": code}),
        "support": ("POST", f"/api/community-needs/{state['need']['id']}/support", None),
        "propose": ("POST", "/api/need-proposals", {"title": "A bench"}),
        "proposals": ("GET", "/api/need-proposals", None),
        "approve": ("POST", f"/api/need-proposals/{state['proposal']['id']}/approve", approve),
        "reject": ("POST", f"/api/need-proposals/{state['proposal']['id']}/reject", {"reason": "duplicate"}),
        "call_off": ("POST", f"/api/shifts/{shift}/call-off", {"reason": "weather"}),
    }[endpoint]  # fmt: skip


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        pytest.param(e, role, MATRIX[role][COLUMNS.index(e)], id=f"{e}-{role}")
        for e in COLUMNS
        for role in ROLES
    ],
)
async def test_recruiting_and_needs_endpoints(
    client: AsyncTestClient, world: World, clock: FrozenClock, endpoint: str, role: str, expected: int
) -> None:
    state = await _world_state(client, world, clock)
    code = await code_now(client, world, state["shift"])
    before = ok(await client.get(f"/api/shifts/{state['shift']['id']}", headers=world.auth("admin")))
    method, path, body = _call(world, state, endpoint, code)
    r = await client.request(method, path, json=body, headers=world.auth(role))
    if expected < 400:
        assert r.status_code in (200, 201), r.text
        return
    assert_problem(r, expected)
    # A refusal changes nothing on the shift.
    assert ok(await client.get(f"/api/shifts/{state['shift']['id']}", headers=world.auth("admin"))) == before


# Marking the roster, once the shift has ended: the organisers only (the column of "code").
# fmt: off
MARKS = ("attended", "no-show")
MARK_MATRIX = {
    "admin": 200, "street_admin": 200, "manager": 200, "manager_c2": 404, "grid_worker": 403,
    "grid_worker_c2": 403, "unit_admin": 403, "resident": 403, "resident_b": 403, "resident_c2": 403,
    "volunteer": 403, "volunteer_b": 403, "volunteer_c2": 403,
}
# fmt: on
assert set(MARK_MATRIX) == set(ROLES)


@pytest.mark.parametrize(
    ("how", "role", "expected"),
    [pytest.param(how, role, MARK_MATRIX[role], id=f"{how}-{role}") for how in MARKS for role in ROLES],
)
async def test_marking_the_roster(
    client: AsyncTestClient, world: World, clock: FrozenClock, how: str, role: str, expected: int
) -> None:
    state = await _world_state(client, world, clock)
    clock.advance(timedelta(hours=3, minutes=30))  # the shift has ended; "volunteer" never scanned
    shift = state["shift"]["id"]
    before = ok(await client.get(f"/api/shifts/{shift}", headers=world.auth("admin")))
    path = f"/api/shifts/{shift}/roster/{world.id('volunteer')}/{how}"
    r = await client.post(path, headers=world.auth(role))
    if expected < 400:
        assert r.status_code == 200, r.text
        return
    assert_problem(r, expected)
    assert ok(await client.get(f"/api/shifts/{shift}", headers=world.auth("admin"))) == before
    read = ok(await client.get(f"/api/projects/{state['project']['id']}", headers=world.auth("admin")))
    assert read["participants"] == []

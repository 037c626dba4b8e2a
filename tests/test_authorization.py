"""Who may see and act on an order in community 1, endpoint by endpoint.

Every role of the test world is tried on every order and offer endpoint against
an order built through the API in the state that endpoint needs. A role either
succeeds (200/201/204), is refused for what it is (403: it can see the order or
lacks the role), or is told the order does not exist (404: the order is outside
what it may see). A refusal is a problem+json with a `code` and changes nothing.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from typing import Any

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.tokens import TOKEN_COOKIE
from tests.records_support import closed_project
from tests.test_units_support import unit_body
from tests.world import World

ROLES = (
    "admin", "street_admin", "manager", "manager_c2", "grid_worker", "grid_worker_c2", "unit_admin",
    "resident", "resident_b", "resident_c2", "volunteer", "volunteer_b", "volunteer_c2",
)  # fmt: skip

# Who sees an order in community 1 posted by "resident" and offered to "volunteer".
SEES_C1 = {"admin", "street_admin", "manager", "grid_worker", "resident", "volunteer"}
# Who sees an order in community 2 posted by "resident_c2" and not yet dispatched.
SEES_C2 = {"admin", "street_admin", "manager_c2", "grid_worker_c2", "resident_c2"}
# Who sees the resident's name, phone and exact address of the offered (not yet accepted) order.
FULL_VIEW_C1 = {"admin", "street_admin", "manager", "grid_worker", "resident"}


@dataclass(frozen=True)
class Action:
    method: str
    path: str  # formatted with {order} and {offer}
    needs: str  # the state the order is built into first
    body: dict[str, Any] | None = None
    after: str | None = None  # the order's status after a success
    forbidden: frozenset[str] = frozenset()  # the 403 codes this endpoint may answer


ROLE = frozenset({"role_required"})
ACTIONS = {
    "post": Action("POST", "/api/orders", "none", after="submitted",
                   forbidden=ROLE | {"outside_your_community"}),
    "dispatch": Action("POST", "/api/orders/{order}/dispatch", "submitted", {"mode": "direct"}, "dispatched",
                       ROLE | {"manager_required"}),
    "reject": Action("POST", "/api/orders/{order}/reject", "dispatched", {"reason": "duplicate"}, "rejected",
                     ROLE | {"manager_required"}),
    "cancel": Action("POST", "/api/orders/{order}/cancel", "dispatched", {"reason": "no"}, "cancelled",
                     frozenset({"not_requester"})),
    "check-in": Action("POST", "/api/orders/{order}/check-in", "accepted", None, "in_service",
                       frozenset({"not_assigned"})),
    "check-out": Action("POST", "/api/orders/{order}/check-out", "in_service", None, "in_service",
                        frozenset({"not_assigned"})),
    "complete": Action("POST", "/api/orders/{order}/complete", "checked_out", {"note": "done"}, "completed",
                       frozenset({"not_assigned"})),
    "confirm": Action("POST", "/api/orders/{order}/confirm", "completed", {"rating": 5}, "confirmed",
                      frozenset({"not_requester"})),
    # 催办: the resident tells the grid worker; the order stays where it is.
    "hurry": Action("POST", "/api/orders/{order}/hurry", "dispatched", None, "dispatched",
                    ROLE | {"not_requester"}),
    "offers": Action("GET", "/api/offers", "dispatched", forbidden=ROLE),
    "accept": Action("POST", "/api/offers/{offer}/accept", "dispatched", None, "accepted", ROLE),
    # Declining the only offer puts the order back in the queue.
    "decline": Action("POST", "/api/offers/{offer}/decline", "dispatched", {"reason": "busy"}, "submitted",
                      ROLE),
}  # fmt: skip

# The matrix: expected status per role for each endpoint, on an order in community 1.
# fmt: off
COLUMNS = ("get", "post", "dispatch", "reject", "cancel", "check-in", "check-out", "complete", "confirm",
           "offers", "accept", "decline", "hurry")
MATRIX = {
    #                  get  post dispat reject cancel in   out  compl confirm offers accept decline hurry
    "admin":          (200, 403, 200,   200,   200,   403, 403, 403,  403,    200,   404,   404, 403),
    "street_admin":   (200, 403, 200,   200,   200,   403, 403, 403,  403,    403,   403,   403, 403),
    "manager":        (200, 403, 200,   200,   200,   403, 403, 403,  403,    403,   403,   403, 403),
    "manager_c2":     (404, 403, 404,   404,   404,   404, 404, 404,  404,    403,   403,   403, 403),
    "grid_worker":    (200, 403, 200,   200,   200,   403, 403, 403,  403,    403,   403,   403, 403),
    "grid_worker_c2": (404, 403, 404,   404,   404,   404, 404, 404,  404,    403,   403,   403, 403),
    "unit_admin":     (404, 403, 403,   403,   404,   404, 404, 404,  404,    403,   403,   403, 403),
    "resident":       (200, 201, 403,   403,   200,   403, 403, 403,  200,    403,   403,   403, 200),
    "resident_b":     (404, 201, 403,   403,   404,   404, 404, 404,  404,    403,   403,   403, 404),
    "resident_c2":    (404, 403, 403,   403,   404,   404, 404, 404,  404,    403,   403,   403, 404),
    "volunteer":      (200, 403, 403,   403,   403,   200, 200, 200,  403,    200,   200,   204, 403),
    "volunteer_b":    (404, 403, 403,   403,   404,   404, 404, 404,  404,    200,   404,   404, 403),
    "volunteer_c2":   (404, 403, 403,   403,   404,   404, 404, 404,  404,    200,   404,   404, 403),
}
# fmt: on
assert set(MATRIX) == set(ROLES) and all(len(row) == len(COLUMNS) for row in MATRIX.values())


def cells(endpoints: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(endpoint, role, MATRIX[role][COLUMNS.index(endpoint)], id=f"{endpoint}-{role}")
        for endpoint in endpoints
        for role in ROLES
    ]


# ---------------------------------------------------------------- helpers


def assert_problem(r: Response, status: int, codes: set[str] | frozenset[str] | None = None) -> str:
    """The response is an RFC 9457 problem with this status and a stable code."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers["content-type"]
    body = r.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    assert body["type"].endswith("/" + body["code"]) and body["status"] == status, body
    if codes is not None:
        assert body["code"] in codes, body
    return body["code"]


async def call(
    client: AsyncTestClient, world: World, role: str, method: str, path: str, body=None
) -> Response:
    return await client.request(method, path, json=body, headers=world.auth(role))


async def ok(client: AsyncTestClient, world: World, role: str, method: str, path: str, body=None) -> Any:
    r = await call(client, world, role, method, path, body)
    assert r.status_code in (200, 201), r.text
    return r.json()


STEPS = ("submitted", "dispatched", "accepted", "in_service", "checked_out", "completed")


async def build_order(client: AsyncTestClient, world: World, state: str) -> tuple[int, int | None]:
    """An order in community 1 posted by "resident", walked through the API up to `state`."""
    order = (await ok(client, world, "resident", "POST", "/api/orders", world.order_body()))["id"]
    offer = None
    for step in STEPS[1 : STEPS.index(state) + 1]:
        if step == "dispatched":
            body = {"volunteer_ids": [world.id("volunteer")], "mode": "direct"}
            detail = await ok(client, world, "grid_worker", "POST", f"/api/orders/{order}/dispatch", body)
            (offer,) = [o["id"] for o in detail["offers"]]
        elif step == "accepted":
            await ok(client, world, "volunteer", "POST", f"/api/offers/{offer}/accept")
        else:
            path = {"in_service": "check-in", "checked_out": "check-out", "completed": "complete"}[step]
            await ok(client, world, "volunteer", "POST", f"/api/orders/{order}/{path}", {"note": ""})
    return order, offer


async def snapshot(client: AsyncTestClient, world: World, order: int) -> tuple[Any, ...]:
    """What a refused request must leave alone, as the administrator sees it."""
    d = await ok(client, world, "admin", "GET", f"/api/orders/{order}")
    offers = tuple((o["id"], o["status"]) for o in d["offers"])
    return d["status"], len(d["events"]), offers, d["volunteer"], d["checked_out_at"], d["rating"]


async def order_total(client: AsyncTestClient, world: World) -> int:
    return (await ok(client, world, "admin", "GET", "/api/orders"))["total"]


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("role", ROLES)
async def test_list_shows_only_orders_in_reach(client: AsyncTestClient, world: World, role: str) -> None:
    c1, _ = await build_order(client, world, "dispatched")
    body = world.order_body("resident_c2")
    c2 = (await ok(client, world, "resident_c2", "POST", "/api/orders", body))["id"]

    page = await ok(client, world, role, "GET", "/api/orders")

    listed = {o["id"]: o for o in page["items"]}
    expected = {o for o, seers in ((c1, SEES_C1), (c2, SEES_C2)) if role in seers}
    assert set(listed) == expected
    assert page["total"] == len(expected)
    if c1 in listed:
        assert listed[c1]["masked"] is (role not in FULL_VIEW_C1)
        assert (listed[c1]["address_detail"] is None) is (role not in FULL_VIEW_C1)


@pytest.mark.parametrize(("endpoint", "role", "expected"), cells(("get",)))
async def test_get_one_order(
    client: AsyncTestClient, world: World, endpoint: str, role: str, expected: int
) -> None:  # `endpoint` is always "get": the column of the matrix this test reads
    order, _ = await build_order(client, world, "dispatched")

    r = await call(client, world, role, "GET", f"/api/orders/{order}")

    if expected == 200:
        assert r.status_code == 200, r.text
        detail = r.json()
        assert detail["id"] == order and detail["masked"] is (role not in FULL_VIEW_C1)
        # Offers are shown, with their volunteer's name, to managers of the area and to the volunteer
        # they were made to.
        assert [(o["volunteer_id"], o["volunteer_name"]) for o in detail["offers"]] == (
            [] if role == "resident" else [(world.id("volunteer"), world.users["volunteer"].name)]
        )
    else:
        assert_problem(r, 404, {"order_not_found"})


@pytest.mark.parametrize("role", ROLES)
async def test_community_2_order_is_visible_inside_its_area_only(
    client: AsyncTestClient, world: World, role: str
) -> None:
    body = world.order_body("resident_c2")
    order = (await ok(client, world, "resident_c2", "POST", "/api/orders", body))["id"]

    r = await call(client, world, role, "GET", f"/api/orders/{order}")

    if role in SEES_C2:
        assert r.status_code == 200, r.text
    else:
        assert_problem(r, 404, {"order_not_found"})


# ---------------------------------------------------------------- acting


@pytest.mark.parametrize(("endpoint", "role", "expected"), cells(COLUMNS[1:]))
async def test_action(client: AsyncTestClient, world: World, endpoint: str, role: str, expected: int) -> None:
    action = ACTIONS[endpoint]
    order, offer = await build_order(client, world, action.needs) if action.needs != "none" else (None, None)
    body = action.body
    if endpoint == "post":
        body = world.order_body()
    elif endpoint == "dispatch":
        body = {**action.body, "volunteer_ids": [world.id("volunteer")]}
    before = await snapshot(client, world, order) if order else await order_total(client, world)

    r = await call(client, world, role, action.method, action.path.format(order=order, offer=offer), body)

    if expected >= 400:
        code = assert_problem(r, expected, action.forbidden if expected == 403 else None)
        if expected == 404:
            assert code == ("offer_not_found" if "{offer}" in action.path else "order_not_found")
        after = await snapshot(client, world, order) if order else await order_total(client, world)
        assert after == before, "a refused request changed the order"
        return
    assert r.status_code == expected, r.text
    if endpoint == "offers":
        mine = [o["order_id"] for o in r.json()["items"]]
        assert mine == ([order] if role == "volunteer" else [])
        return
    if endpoint == "post":
        order = r.json()["id"]
        assert await order_total(client, world) == before + 1
    status = (await ok(client, world, "admin", "GET", f"/api/orders/{order}"))["status"]
    assert status == action.after


# ---------------------------------------------------------------- the same request, inside and outside


@pytest.mark.parametrize(
    ("inside", "outside"),
    [("manager", "manager_c2"), ("grid_worker", "grid_worker_c2"), ("resident", "resident_b")],
)
async def test_cancel_inside_succeeds_where_outside_gets_404(
    client: AsyncTestClient, world: World, inside: str, outside: str
) -> None:
    order, _ = await build_order(client, world, "submitted")
    path = f"/api/orders/{order}/cancel"

    assert_problem(
        await call(client, world, outside, "POST", path, {"reason": "x"}), 404, {"order_not_found"}
    )
    detail = await ok(client, world, inside, "POST", path, {"reason": "x"})

    assert detail["status"] == "cancelled"
    assert [e["action"] for e in detail["events"]] == ["post", "cancel"]


async def test_404_for_an_order_outside_reach_is_the_same_as_for_a_missing_one(
    client: AsyncTestClient, world: World
) -> None:
    order, _ = await build_order(client, world, "submitted")
    missing = order + 1000
    requests = [("GET", "", None), ("POST", "/cancel", {"reason": "x"}), ("POST", "/reject", {"reason": "x"}),
                ("POST", "/check-in", None), ("POST", "/confirm", {"rating": 5})]  # fmt: skip
    for method, path, body in requests:
        seen = await call(client, world, "manager_c2", method, f"/api/orders/{order}{path}", body)
        unseen = await call(client, world, "manager_c2", method, f"/api/orders/{missing}{path}", body)
        assert seen.status_code == unseen.status_code == 404, (path, seen.text, unseen.text)
        assert seen.json()["code"] == unseen.json()["code"] == "order_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/orders"), ("GET", "/api/orders/1"), ("POST", "/api/orders/1/cancel"),
     ("GET", "/api/offers"), ("POST", "/api/offers/1/accept")],
)  # fmt: skip
async def test_anonymous_requests_get_401(client: AsyncTestClient, method: str, path: str) -> None:
    r = await client.request(method, path, json={"reason": "x"} if method == "POST" else None)
    assert_problem(r, 401)


async def test_dispatch_refuses_a_volunteer_who_does_not_serve_the_orders_area(
    client: AsyncTestClient, world: World
) -> None:
    order, _ = await build_order(client, world, "submitted")
    before = await snapshot(client, world, order)
    body = {"volunteer_ids": [world.id("volunteer_c2")], "mode": "direct"}

    r = await call(client, world, "street_admin", "POST", f"/api/orders/{order}/dispatch", body)

    assert_problem(r, 422, {"volunteers_not_eligible"})
    assert await snapshot(client, world, order) == before
    assert_problem(await call(client, world, "volunteer_c2", "GET", f"/api/orders/{order}"), 404)


# Entering an order for community 1's resident (代下单), and pausing community 1's volunteer: who may.
# fmt: off
ENTER_AND_PAUSE = {
    #                  enter  pause
    "admin":          (201,   200),
    "street_admin":   (201,   200),
    "manager":        (201,   200),
    "manager_c2":     (404,   404),
    "grid_worker":    (201,   200),
    "grid_worker_c2": (404,   404),
    "unit_admin":     (403,   404),
    "resident":       (403,   404),
    "resident_b":     (403,   404),
    "resident_c2":    (403,   404),
    "volunteer":      (403,   200),
    "volunteer_b":    (403,   404),
    "volunteer_c2":   (403,   404),
}
# fmt: on
assert set(ENTER_AND_PAUSE) == set(ROLES)


@pytest.mark.parametrize(("role", "expected"), [(r, e[0]) for r, e in ENTER_AND_PAUSE.items()])
async def test_enter_an_order_for_a_resident(
    client: AsyncTestClient, world: World, role: str, expected: int
) -> None:
    body = {**world.order_body(), "resident_id": world.id("resident"), "channel": "phone"}
    r = await call(client, world, role, "POST", "/api/orders/for-resident", body)
    assert r.status_code == expected, r.text
    if expected != 201:
        orders = await call(client, world, "admin", "GET", "/api/orders")
        assert orders.json()["total"] == 0


@pytest.mark.parametrize(("role", "expected"), [(r, e[1]) for r, e in ENTER_AND_PAUSE.items()])
async def test_pause_a_volunteer(client: AsyncTestClient, world: World, role: str, expected: int) -> None:
    path = f"/api/volunteers/{world.id('volunteer')}/pause"
    until = world.now.astimezone(world.settings.tz).date().isoformat()
    r = await call(client, world, role, "PUT", path, {"until": until})
    assert r.status_code == expected, r.text
    profile = await call(client, world, "admin", "GET", f"/api/volunteers/{world.id('volunteer')}/profile")
    assert (profile.json()["paused_until"] is not None) == (expected == 200)


# Swapping the volunteer of a pair in a plan for community 1's grid: who may (anyone else is refused
# for their role, or told the plan does not exist), and the plan is left as it was.
# fmt: off
SWAP = {
    "admin": 200, "street_admin": 200, "manager": 200, "manager_c2": 404, "grid_worker": 200,
    "grid_worker_c2": 404, "unit_admin": 403, "resident": 403, "resident_b": 403, "resident_c2": 403,
    "volunteer": 403, "volunteer_b": 403, "volunteer_c2": 403,
}
# fmt: on
assert set(SWAP) == set(ROLES)


@pytest.mark.parametrize(("role", "expected"), SWAP.items())
async def test_swap_a_plans_volunteer(
    client: AsyncTestClient, world: World, role: str, expected: int
) -> None:
    await ok(client, world, "resident", "POST", "/api/orders", world.order_body())
    plan = await ok(
        client, world, "grid_worker", "POST", "/api/dispatch/plans", {"area_id": world.areas["c1_grid"].id}
    )
    (pair,) = plan["pairs"]
    other = next(world.id(n) for n in ("volunteer", "volunteer_b") if world.id(n) != pair["volunteer_id"])
    path = f"/api/dispatch/plans/{plan['id']}/pairs/{pair['id']}/swap"
    r = await call(client, world, role, "POST", path, {"volunteer_id": other})
    if expected != 200:
        assert_problem(r, expected, {"role_required", "plan_not_found"})
        after = await ok(client, world, "grid_worker", "GET", f"/api/dispatch/plans/{plan['id']}")
        assert after == plan
    else:
        assert r.status_code == 200, r.text
        assert r.json()["pairs"][0]["volunteer_id"] == other


# ---------------------------------------------------------------- setting up: areas, budgets, categories

# Expected status per role: adding a compound under community 1's grid, renaming that grid, importing
# a compound under it, funding community 1's pool, renaming a service category.
# fmt: off
SETUP_COLUMNS = ("add_area", "rename_area", "import_areas", "fund_pool", "rename_category")
SETUP_MATRIX = {
    #                  add  rename import fund category
    "admin":          (201, 200,   200,   201, 200),
    "street_admin":   (201, 200,   200,   201, 403),
    "manager":        (201, 200,   200,   403, 403),
    "manager_c2":     (403, 403,   422,   403, 403),
    "grid_worker":    (201, 403,   200,   403, 403),
    "grid_worker_c2": (403, 403,   422,   403, 403),
    "unit_admin":     (403, 403,   403,   403, 403),
    "resident":       (403, 403,   403,   403, 403),
    "resident_b":     (403, 403,   403,   403, 403),
    "resident_c2":    (403, 403,   403,   403, 403),
    "volunteer":      (403, 403,   403,   403, 403),
    "volunteer_b":    (403, 403,   403,   403, 403),
    "volunteer_c2":   (403, 403,   403,   403, 403),
}
# fmt: on
SETUP_REFUSALS = {
    "add_area": {"role_required", "outside_your_area"},
    "rename_area": {"role_required", "outside_your_area"},
    "import_areas": {"role_required", "import_has_problems"},
    # Grid workers and community managers may not fund (ledger/authority.py): only street admins.
    "fund_pool": {"role_required", "role_may_not_transfer"},
    "rename_category": {"role_required"},
}
assert set(SETUP_MATRIX) == set(ROLES)


async def _setup_state(client: AsyncTestClient, world: World) -> tuple[object, ...]:
    admin = world.auth("admin")
    tree = (await client.get("/api/areas", headers=admin)).json()
    pools = (
        await client.get("/api/ledger/accounts", params={"kind": "community_pool"}, headers=admin)
    ).json()
    categories = (await client.get("/api/categories", headers=admin)).json()
    return tree, pools["items"], categories


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        pytest.param(e, role, SETUP_MATRIX[role][SETUP_COLUMNS.index(e)], id=f"{e}-{role}")
        for e in SETUP_COLUMNS
        for role in ROLES
    ],
)
async def test_setting_up(
    client: AsyncTestClient, world: World, endpoint: str, role: str, expected: int
) -> None:
    grid = world.areas["c1_grid"]
    headers = world.auth(role)
    # A category of the test's own: the standard ones outlive each test (conftest keeps them).
    category = {"code": "test_setup", "name_zh": "测试", "name_en": "Test"}
    assert (
        await client.post("/api/categories", json=category, headers=world.auth("admin"))
    ).status_code == 201
    before = await _setup_state(client, world)
    if endpoint == "add_area":
        r = await client.post(
            "/api/areas", json={"name": "New Garden", "parent_id": grid.id}, headers=headers
        )
    elif endpoint == "rename_area":
        r = await client.patch(f"/api/areas/{grid.id}", json={"name": "Grid North"}, headers=headers)
    elif endpoint == "import_areas":
        data = f"code,name,parent code\n{grid.code}009,New Garden,{grid.code}\n".encode()
        r = await client.post(
            "/api/areas/import", files={"file": ("tree.csv", data, "text/csv")}, headers=headers
        )
    elif endpoint == "fund_pool":
        body = {
            "community_id": world.areas["c1"].id,
            "amount": 100,
            "memo": "budget",
            "request_id": "r-0000001",
        }
        r = await client.post("/api/ledger/budgets", json=body, headers=headers)
    else:
        r = await client.patch("/api/categories/test_setup", json={"name_en": "Tested"}, headers=headers)
    if expected >= 400:
        code = assert_problem(r, expected, SETUP_REFUSALS[endpoint])
        if code == "import_has_problems":
            assert r.json()["rows"][0]["problems"] == [{"code": "outside_your_area", "column": "parent_code"}]
        assert await _setup_state(client, world) == before, "a refusal changes nothing"
        return
    assert r.status_code == expected, r.text
    assert await _setup_state(client, world) != before


async def test_a_street_admin_funds_only_their_own_streets_pools(
    client: AsyncTestClient, world: World
) -> None:
    r = await client.post(
        "/api/areas", json={"name": "North", "code": "110105009"}, headers=world.auth("admin")
    )
    north = r.json()["id"]
    r = await client.post("/api/areas", json={"name": "N1", "parent_id": north}, headers=world.auth("admin"))
    body = {"community_id": r.json()["id"], "amount": 100, "memo": "budget", "request_id": "r-0000002"}
    r = await client.post("/api/ledger/budgets", json=body, headers=world.auth("street_admin"))
    assert_problem(r, 403, {"account_outside_your_area"})
    # A double click funds once: the same request id answers the same transfer.
    body = {"community_id": world.areas["c1"].id, "amount": 100, "memo": "budget", "request_id": "r-0000003"}
    first = await client.post("/api/ledger/budgets", json=body, headers=world.auth("street_admin"))
    second = await client.post("/api/ledger/budgets", json=body, headers=world.auth("street_admin"))
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    r = await client.post(
        "/api/ledger/budgets", json={**body, "amount": 101}, headers=world.auth("street_admin")
    )
    assert_problem(r, 409, {"exists_with_different_fields"})


# ---------------------------------------------------------------- managing people

# Who may change the resident of community 1 (`resident`): the managers of where they live.
MANAGES_RESIDENT = {"admin", "street_admin", "manager", "grid_worker"}
# Managers elsewhere do not see the resident at all; the others lack a manager's role.
UNSEEN_RESIDENT = {"manager_c2", "grid_worker_c2"}
PEOPLE_ACTIONS = {
    "edit": ("PATCH", "", {"name": "Renamed"}),
    "roles": ("PUT", "/roles", {"roles": ["resident", "volunteer"]}),
    "deactivate": ("POST", "/deactivate", None),
    "reactivate": ("POST", "/reactivate", None),
    "reset": ("POST", "/password-reset", None),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", PEOPLE_ACTIONS)
async def test_managing_a_person(client: AsyncTestClient, world: World, endpoint: str, role: str) -> None:
    method, suffix, body = PEOPLE_ACTIONS[endpoint]
    path = f"/api/users/{world.id('resident')}{suffix}"
    before = await ok(client, world, "admin", "GET", f"/api/users/{world.id('resident')}")
    r = await call(client, world, role, method, path, body)
    if role in MANAGES_RESIDENT:
        assert r.status_code == 200, r.text
        return
    if role in UNSEEN_RESIDENT:
        assert_problem(r, 404, {"user_not_found"})
    else:
        assert_problem(r, 403, {"role_required"})
    assert await ok(client, world, "admin", "GET", f"/api/users/{world.id('resident')}") == before


@pytest.mark.parametrize("role", ROLES)
async def test_deciding_a_sign_up_in_community_1(client: AsyncTestClient, world: World, role: str) -> None:
    body = {"phone": "13612340001", "name": "Newcomer", "password": "my-password-1",
            "area_id": world.areas["c1_building"].id}  # fmt: skip
    assert (await client.post("/api/signup", json=body)).status_code == 201
    waiting = await ok(client, world, "admin", "GET", "/api/approvals")
    application = waiting["items"][0]["id"]
    r = await call(client, world, role, "POST", f"/api/approvals/{application}/approve")
    if role in MANAGES_RESIDENT:
        assert r.status_code == 200, r.text
        return
    if role in UNSEEN_RESIDENT:
        assert_problem(r, 404, {"application_not_found"})
    else:
        assert_problem(r, 403, {"role_required"})
    assert (await ok(client, world, "admin", "GET", "/api/approvals"))["total"] == 1


@pytest.mark.parametrize("role", ROLES)
async def test_an_import_is_its_uploaders_alone(client: AsyncTestClient, world: World, role: str) -> None:
    data = b"phone,name,building\n13611110001,Zhang,110105001001001001001\n"
    r = await client.post(
        "/api/people/imports", files={"file": ("p.csv", data, "text/csv")}, headers=world.auth("manager")
    )
    job = r.json()["id"]
    for method, path in (("GET", f"/api/people/imports/{job}"), ("POST", f"/api/people/imports/{job}/run")):
        r = await call(client, world, role, method, path)
        if role == "manager":
            assert r.status_code == 200, r.text
        elif role in MANAGES_RESIDENT | UNSEEN_RESIDENT:
            assert_problem(r, 404, {"import_not_found"})
        else:
            assert_problem(r, 403, {"role_required"})


@pytest.mark.parametrize("role", ROLES)
async def test_a_message_is_read_and_marked_by_its_reader_alone(
    client: AsyncTestClient, world: World, role: str
) -> None:
    order, _ = await build_order(client, world, "dispatched")
    (message,) = (await ok(client, world, "resident", "GET", "/api/notifications"))["items"]
    assert (message["code"], message["params"]) == ("order_dispatched", {"order_id": order})
    mine = await ok(client, world, role, "GET", "/api/notifications?limit=100")
    assert (message["id"] in [m["id"] for m in mine["items"]]) == (role == "resident")
    r = await call(client, world, role, "POST", f"/api/notifications/{message['id']}/read")
    if role == "resident":
        assert r.status_code == 200 and r.json()["read_at"] is not None
        return
    assert_problem(r, 404, {"notification_not_found"})
    assert (await call(client, world, role, "POST", "/api/notifications/read-all")).status_code == 200
    (still,) = (await ok(client, world, "resident", "GET", "/api/notifications"))["items"]
    assert still["read_at"] is None, "another person's marking leaves the message unread"


# ---------------------------------------------------------------- follow-ups (回访)

# A follow-up of an order in community 1 (rated 1 star), and community 1's follow-up sample. `list`:
# how many follow-ups the role's list shows (403: no list at all).
# fmt: off
FOLLOWUP_COLUMNS = ("list", "get", "outcome", "sample_get", "sample_set")
FOLLOWUP_MATRIX = {
    #                  list get  outcome sample_get sample_set
    "admin":          (1,   200, 200,    200,       200),
    "street_admin":   (1,   200, 200,    200,       200),
    "manager":        (1,   200, 200,    200,       200),
    "manager_c2":     (0,   404, 404,    403,       403),
    "grid_worker":    (1,   200, 200,    200,       403),
    "grid_worker_c2": (0,   404, 404,    403,       403),
    "unit_admin":     (403, 403, 403,    403,       403),
    "resident":       (403, 403, 403,    403,       403),
    "resident_b":     (403, 403, 403,    403,       403),
    "resident_c2":    (403, 403, 403,    403,       403),
    "volunteer":      (403, 403, 403,    403,       403),
    "volunteer_b":    (403, 403, 403,    403,       403),
    "volunteer_c2":   (403, 403, 403,    403,       403),
}
# fmt: on
assert set(FOLLOWUP_MATRIX) == set(ROLES)
FOLLOWUP_REFUSALS = frozenset({"role_required", "outside_your_area", "manager_required"})


async def _followup_state(client: AsyncTestClient, world: World, followup: int) -> tuple[Any, ...]:
    found = await ok(client, world, "admin", "GET", f"/api/followups/{followup}")
    sample = await ok(client, world, "admin", "GET", f"/api/followups/sampling/{world.areas['c1'].id}")
    return found["outcome"], found["recorded_by"], sample["percent"], sample["updated_by_id"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", FOLLOWUP_COLUMNS)
async def test_following_up_an_order_in_community_1(
    client: AsyncTestClient, world: World, endpoint: str, role: str
) -> None:
    order, _ = await build_order(client, world, "completed")
    await ok(client, world, "resident", "POST", f"/api/orders/{order}/confirm", {"rating": 1})
    (followup,) = [f["id"] for f in (await ok(client, world, "admin", "GET", "/api/followups"))["items"]]
    sample = f"/api/followups/sampling/{world.areas['c1'].id}"
    method, path, body = {
        "list": ("GET", "/api/followups", None),
        "get": ("GET", f"/api/followups/{followup}", None),
        "outcome": ("POST", f"/api/followups/{followup}/outcome", {"outcome": "satisfied", "note": "ok"}),
        "sample_get": ("GET", sample, None),
        "sample_set": ("PUT", sample, {"percent": 50}),
    }[endpoint]
    expected = FOLLOWUP_MATRIX[role][FOLLOWUP_COLUMNS.index(endpoint)]
    before = await _followup_state(client, world, followup)

    r = await call(client, world, role, method, path, body)

    if endpoint == "list" and expected != 403:
        assert r.status_code == 200, r.text
        assert [f["id"] for f in r.json()["items"]] == [followup][:expected] and r.json()["total"] == expected
    elif expected == 200:
        assert r.status_code == 200, r.text
    else:
        assert_problem(r, expected, {"followup_not_found"} if expected == 404 else FOLLOWUP_REFUSALS)
        assert await _followup_state(client, world, followup) == before, "a refused request changed something"


# Reopening community 1's confirmed order: only its resident; who sees it is refused, the others are
# told it does not exist.
REOPENS = {"resident": 200} | {r: 403 for r in SEES_C1 - {"resident"}}


@pytest.mark.parametrize("role", ROLES)
async def test_reopening_a_confirmed_order(client: AsyncTestClient, world: World, role: str) -> None:
    order, _ = await build_order(client, world, "completed")
    await ok(client, world, "resident", "POST", f"/api/orders/{order}/confirm", {"rating": 5})
    body = {"reason": "again", "window_start": world.order_body()["window_start"],
            "window_end": world.order_body()["window_end"]}  # fmt: skip
    before = await snapshot(client, world, order)

    r = await call(client, world, role, "POST", f"/api/orders/{order}/reopen", body)

    expected = REOPENS.get(role, 404)
    if expected == 200:
        assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
        return
    assert_problem(r, expected, {"not_requester"} if expected == 403 else {"order_not_found"})
    assert await snapshot(client, world, order) == before


# ---------------------------------------------------------------- order photos


# A photo is seen by those who read its order unmasked (FULL_VIEW_C1, and the volunteer once they
# hold it); a volunteer only offered the order reads it masked and is refused its photos; whoever
# may not read the order is told, as by the order read, that it does not exist.
def photo_png() -> bytes:
    out = BytesIO()
    Image.new("RGB", (2, 2), "white").save(out, "PNG")
    return out.getvalue()


async def add_photo(client: AsyncTestClient, world: World, role: str, order: int, kind: str) -> Response:
    return await client.post(
        f"/api/orders/{order}/photos",
        params={"kind": kind},
        files=[("photos", ("p.png", photo_png(), "image/png"))],
        headers=world.auth(role),
    )


@pytest.mark.parametrize("state", ["dispatched", "accepted"])
@pytest.mark.parametrize("role", ROLES)
async def test_seeing_an_orders_photos(client: AsyncTestClient, world: World, role: str, state: str) -> None:
    order, _ = await build_order(client, world, state)
    r = await add_photo(client, world, "resident", order, "posted")
    assert r.status_code == 201, r.text
    (photo,) = r.json()

    listed = await call(client, world, role, "GET", f"/api/orders/{order}/photos")
    files = [await call(client, world, role, "GET", photo[link]) for link in ("url", "thumbnail_url")]

    sees = FULL_VIEW_C1 | ({"volunteer"} if state == "accepted" else set())
    if role in sees:
        assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [photo["id"]]
        assert all(f.status_code == 200 and f.headers["content-type"] == "image/png" for f in files)
    elif role in SEES_C1:
        for refused in (listed, *files):
            assert_problem(refused, 403, {"photos_hidden_until_held"})
    else:
        assert_problem(listed, 404, {"order_not_found"})
        for refused in files:
            assert_problem(refused, 404, {"photo_not_found"})


@pytest.mark.parametrize("role", ROLES)
async def test_adding_photos(client: AsyncTestClient, world: World, role: str) -> None:
    posted, _ = await build_order(client, world, "dispatched")
    served, _ = await build_order(client, world, "in_service")

    for order, kind, adder, refusal in (
        (posted, "posted", "resident", "not_requester"),
        (served, "result", "volunteer", "not_assigned"),
    ):
        r = await add_photo(client, world, role, order, kind)
        if role == adder:
            assert r.status_code == 201, r.text
        elif role in SEES_C1:
            assert_problem(r, 403, {refusal})
        else:
            assert_problem(r, 404, {"order_not_found"})
        listed = await call(client, world, "admin", "GET", f"/api/orders/{order}/photos")
        assert len(listed.json()) == (role == adder)


def test_every_guard_is_a_coroutine(client: AsyncTestClient) -> None:
    # Litestar runs a plain function guard in a worker thread: a hop there and back on every request.
    guards = {
        (route.path, guard)
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", [])
        for guard in handler.resolve_guards()
    }
    assert guards
    assert {path for path, guard in guards if not inspect.iscoroutinefunction(guard)} == set()


async def test_options_on_every_path_answers_without_a_login(client: AsyncTestClient) -> None:
    # OPTIONS skips the login; a guard that looked for the caller anyway answered 500.
    paths = {route.path for route in client.app.routes}
    answers = {}
    for path in sorted(paths):
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        answers[concrete] = (await client.options(concrete)).status_code
    assert {path: status for path, status in answers.items() if status >= 500} == {}
    assert answers["/api/people/imports/1"] == 204


# Expected status per role reading the reports: community 1's summary and its grids ranked (asked for
# by area), then the reader's own area's grids and communities ranked (asked for without one). A
# grid worker's area lies inside one community, so communities are not theirs to rank.
# fmt: off
REPORT_COLUMNS = ("summary_c1", "grids_c1", "own_grids", "own_communities")
REPORT_MATRIX = {
    #                  summary grids own   communities
    "admin":          (200,    200,  200,  200),
    "street_admin":   (200,    200,  200,  200),
    "manager":        (200,    200,  200,  200),
    "manager_c2":     (403,    403,  200,  200),
    "grid_worker":    (403,    403,  200,  422),
    "grid_worker_c2": (403,    403,  200,  422),
    "unit_admin":     (403,    403,  403,  403),
    "resident":       (403,    403,  403,  403),
    "resident_b":     (403,    403,  403,  403),
    "resident_c2":    (403,    403,  403,  403),
    "volunteer":      (403,    403,  403,  403),
    "volunteer_b":    (403,    403,  403,  403),
    "volunteer_c2":   (403,    403,  403,  403),
}
# fmt: on
REPORT_REFUSALS = {"role_required", "outside_your_area", "report_level_above_area"}
assert set(REPORT_MATRIX) == set(ROLES)


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        pytest.param(e, role, REPORT_MATRIX[role][REPORT_COLUMNS.index(e)], id=f"{e}-{role}")
        for e in REPORT_COLUMNS
        for role in ROLES
    ],
)
async def test_reading_the_reports(
    client: AsyncTestClient, world: World, endpoint: str, role: str, expected: int
) -> None:
    c1 = world.areas["c1"].id
    path, params = {
        "summary_c1": ("/api/reports/summary", {"area_id": c1}),
        "grids_c1": ("/api/reports/areas", {"area_id": c1}),
        "own_grids": ("/api/reports/areas", {}),
        "own_communities": ("/api/reports/areas", {"level": "community"}),
    }[endpoint]
    r = await client.get(path, params=params, headers=world.auth(role))
    if expected >= 400:
        assert_problem(r, expected, REPORT_REFUSALS)
        return
    assert r.status_code == expected, r.text


# ---------------------------------------------------------------- a project's responsibilities

# Expected status per role on a responsibility of a project in community 1 held by `unit_admin`'s
# unit: adding another, reassigning it (a new due date), marking it done. Community managers of
# the community and street admins do all three; the unit's admins only mark their unit's done;
# whoever cannot see the project is told it does not exist.
# fmt: off
RESPONSIBILITY_COLUMNS = ("add", "change", "done")
RESPONSIBILITY_MATRIX = {
    "admin":          (200, 200, 200),
    "street_admin":   (200, 200, 200),
    "manager":        (200, 200, 200),
    "manager_c2":     (404, 404, 404),
    "grid_worker":    (403, 403, 403),
    "grid_worker_c2": (403, 403, 404),
    "unit_admin":     (403, 403, 200),
    "resident":       (403, 403, 404),
    "resident_b":     (403, 403, 404),
    "resident_c2":    (403, 403, 404),
    "volunteer":      (403, 403, 404),
    "volunteer_b":    (403, 403, 404),
    "volunteer_c2":   (403, 403, 404),
}
# fmt: on
RESPONSIBILITY_REFUSALS = {"role_required", "project_not_found", "not_responsible"}
assert set(RESPONSIBILITY_MATRIX) == set(ROLES)


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        pytest.param(e, role, RESPONSIBILITY_MATRIX[role][RESPONSIBILITY_COLUMNS.index(e)], id=f"{e}-{role}")
        for e in RESPONSIBILITY_COLUMNS
        for role in ROLES
    ],
)
async def test_a_projects_responsibilities(
    client: AsyncTestClient, world: World, endpoint: str, role: str, expected: int
) -> None:
    body = unit_body(world, "District Hospital", ["c1"], ["unit_admin"])
    unit = await ok(client, world, "street_admin", "POST", "/api/units", body)
    project = await ok(
        client,
        world,
        "manager",
        "POST",
        "/api/projects",
        {
            "title": "Street fair",
            "community_id": world.areas["c1"].id,
            "deadline": (world.now + timedelta(days=3)).isoformat(),
            "responsibilities": [{"task": "Book the stage", "unit_id": unit["id"]}],
        },
    )
    base = f"/api/projects/{project['id']}/responsibilities"
    task = project["responsibilities"][0]["id"]
    method_path_body = {
        "add": (f"{base}", {"task": "Sweep up", "unit_id": unit["id"]}),
        "change": (f"{base}/{task}", {"due_at": (world.now + timedelta(days=1)).isoformat()}),
        "done": (f"{base}/{task}/done", None),
    }
    path, body = method_path_body[endpoint]
    r = await call(client, world, role, "POST", path, body)
    after = await ok(client, world, "manager", "GET", f"/api/projects/{project['id']}")
    if expected != 200:
        assert_problem(r, expected, RESPONSIBILITY_REFUSALS)
        assert after["responsibilities"] == project["responsibilities"]
    else:
        assert r.status_code == 200, r.text
        assert after["responsibilities"] != project["responsibilities"]


# Open311 keys let a system post orders into a street as its issuer: only administrators and street
# admins issue them (the desk's keys page), and each sees only the keys of the streets it manages.
@pytest.mark.parametrize("role", ROLES)
async def test_issuing_open311_keys(client: AsyncTestClient, world: World, role: str) -> None:
    token = world.auth(role)["Authorization"].removeprefix("Bearer ")
    client.cookies.set(TOKEN_COOKIE, f"Bearer {token}")
    try:
        r = await client.get("/desk/open311")
    finally:
        client.cookies.clear()
    assert r.status_code == (200 if role in ("admin", "street_admin") else 403), r.text


# Service records and certificates (market/records): a volunteer reads their own record; managers
# read their area's; the volunteer's community managers (and above) record training and issue
# certificates of community 1; the honour roll is read by the managers inside the community.
# fmt: off
RECORD_COLUMNS = ("own_record", "area_records", "add_training", "set_issuer", "certificates", "issue",
                  "honour_roll")
RECORD_MATRIX = {
    #                  own  area  train issuer certs issue honour
    "admin":          (200, 200,  201,  200,   200,  200,  200),
    "street_admin":   (403, 200,  201,  200,   200,  200,  200),
    "manager":        (403, 200,  201,  200,   200,  200,  200),
    "manager_c2":     (403, 200,  403,  403,   200,  403,  403),
    "grid_worker":    (403, 200,  403,  403,   403,  403,  200),
    "grid_worker_c2": (403, 200,  403,  403,   403,  403,  403),
    "unit_admin":     (403, 403,  403,  403,   403,  403,  403),
    "resident":       (403, 403,  403,  403,   403,  403,  403),
    "resident_b":     (403, 403,  403,  403,   403,  403,  403),
    "resident_c2":    (403, 403,  403,  403,   403,  403,  403),
    "volunteer":      (200, 403,  403,  403,   403,  403,  403),
    "volunteer_b":    (200, 403,  403,  403,   403,  403,  403),
    "volunteer_c2":   (200, 403,  403,  403,   403,  403,  403),
}
# fmt: on
RECORD_REFUSALS = {"role_required", "outside_your_area"}
assert set(RECORD_MATRIX) == set(ROLES)


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        pytest.param(e, role, RECORD_MATRIX[role][RECORD_COLUMNS.index(e)], id=f"{e}-{role}")
        for e in RECORD_COLUMNS
        for role in ROLES
    ],
)
async def test_service_records_and_certificates(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    endpoint: str,
    role: str,
    expected: int,
) -> None:
    c1 = world.areas["c1"].id
    await closed_project(session_maker, world, "volunteer", 20, world.now - timedelta(days=1))
    issuer = {"responsible_person": "王主任", "contact": "65001234"}
    await ok(client, world, "admin", "PUT", f"/api/certificates/issuers/{c1}", issuer)
    today = world.now.astimezone(world.settings.tz).date().isoformat()
    certificate = await ok(
        client, world, "volunteer", "POST", "/api/certificates",
        {"community_id": c1, "period_start": "2026-01-01", "period_end": today},
    )  # fmt: skip
    training = {"kind": "training", "title": "急救培训", "at": world.now.isoformat(), "hours": 2}
    method, path, body = {
        "own_record": ("GET", "/api/records/me", None),
        "area_records": ("GET", "/api/records", None),
        "add_training": ("POST", f"/api/records/volunteers/{world.id('volunteer')}/entries", training),
        "set_issuer": ("PUT", f"/api/certificates/issuers/{c1}", {**issuer, "contact": "65009999"}),
        "certificates": ("GET", "/api/certificates", None),
        "issue": ("POST", f"/api/certificates/{certificate['id']}/issue", None),
        "honour_roll": ("GET", f"/api/records/honour-roll/{c1}?month={today[:7]}", None),
    }[endpoint]

    r = await call(client, world, role, method, path, body)

    if expected >= 400:
        assert_problem(r, expected, RECORD_REFUSALS)
    else:
        assert r.status_code == expected, r.text
    # A refusal changes nothing; a success does what it says.
    lines = (await ok(client, world, "volunteer", "GET", "/api/records/me"))["lines"]
    assert len(lines) == 1 + (endpoint == "add_training" and expected == 201)
    after = await ok(client, world, "admin", "GET", f"/api/certificates/{certificate['id']}")
    assert after["status"] == ("issued" if endpoint == "issue" and expected == 200 else "requested")
    contact = (await ok(client, world, "admin", "GET", f"/api/certificates/issuers/{c1}"))["contact"]
    assert contact == ("65009999" if endpoint == "set_issuer" and expected == 200 else "65001234")


# ---------------------------------------------------------------- 双报到, unit reviews, resident credit

# Community 1's party members, unit A's half-year review (unit A is paired with communities 1 and 2),
# rating unit A after a closed project in community 1 (volunteer and volunteer_b took part), and
# resident credit: a compact entry for "resident" and the roll of community 1.
# fmt: off
REVIEW_COLUMNS = ("party_list", "party_decide", "unit_review", "rate_unit", "compact", "credit_roll")
REVIEW_MATRIX = {
    #                  list decide review rate compact roll
    "admin":          (200, 200,   200,   200, 200,    200),
    "street_admin":   (200, 200,   200,   200, 200,    200),
    "manager":        (200, 200,   200,   200, 200,    200),
    "manager_c2":     (403, 404,   200,   403, 404,    403),
    "grid_worker":    (403, 404,   404,   403, 200,    200),
    "grid_worker_c2": (403, 404,   404,   403, 404,    403),
    "unit_admin":     (403, 404,   200,   403, 403,    403),
    "resident":       (403, 404,   404,   403, 403,    403),
    "resident_b":     (403, 404,   404,   403, 403,    403),
    "resident_c2":    (403, 404,   404,   403, 403,    403),
    "volunteer":      (403, 404,   404,   200, 403,    403),
    "volunteer_b":    (403, 404,   404,   200, 403,    403),
    "volunteer_c2":   (403, 404,   404,   403, 403,    403),
}
# fmt: on
REVIEW_REFUSALS = {"role_required", "manager_required", "outside_your_area", "not_a_participant"}
REVIEW_NOT_FOUND = {"party_member_not_found", "unit_not_found", "user_not_found"}
assert set(REVIEW_MATRIX) == set(ROLES)


@pytest.mark.parametrize(
    ("endpoint", "role", "expected"),
    [
        pytest.param(e, role, REVIEW_MATRIX[role][REVIEW_COLUMNS.index(e)], id=f"{e}-{role}")
        for e in REVIEW_COLUMNS
        for role in ROLES
    ],
)
async def test_party_members_unit_reviews_and_credit_by_role(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    endpoint: str,
    role: str,
    expected: int,
) -> None:
    # Here, not at the top: both modules import this one's helpers.
    from tests.test_unit_reviews import closed_project
    from tests.test_units_support import make_coop

    c1 = world.areas["c1"].id
    local = world.clock().astimezone(world.settings.tz)
    period = {"year": local.year, "half": 1 if local.month <= 6 else 2}
    if endpoint in ("party_list", "party_decide"):
        body = {"employer_name": "北京市第一中学", "contact_name": "刘主任", "contact_phone": "13912345678"}
        member = await ok(client, world, "resident_b", "POST", "/api/party/report", body)
        before = await ok(client, world, "resident_b", "GET", "/api/party/report")
        if endpoint == "party_list":
            r = await client.get("/api/party/members", params={"community_id": c1}, headers=world.auth(role))
        else:
            r = await call(
                client, world, role, "POST", f"/api/party/members/{member['id']}/decision", {"confirm": True}
            )
        if expected >= 400:
            assert_problem(r, expected, REVIEW_REFUSALS | REVIEW_NOT_FOUND)
            assert await ok(client, world, "resident_b", "GET", "/api/party/report") == before
            return
    elif endpoint in ("unit_review", "rate_unit"):
        coop = await make_coop(client, world, session_maker)
        if endpoint == "unit_review":
            r = await client.get(f"/api/unit-reviews/{coop.unit_a}", params=period, headers=world.auth(role))
        else:
            project = await closed_project(client, world, coop)
            path = f"/api/projects/{project['id']}/unit-ratings"
            r = await call(client, world, role, "POST", path, {"unit_id": coop.unit_a, "stars": 4})
    elif endpoint == "compact":
        body = {"reason": "civility", "memo": "劝阻高空抛物", "points": 3}
        r = await call(client, world, role, "POST", f"/api/credit/compact/{world.id('resident')}", body)
        if expected >= 400:
            assert_problem(r, expected, REVIEW_REFUSALS | REVIEW_NOT_FOUND)
            assert (await ok(client, world, "resident", "GET", "/api/credit/me"))["balance"] == 0
            return
    else:
        r = await client.get("/api/credit/roll", params={"community_id": c1}, headers=world.auth(role))
    if expected >= 400:
        assert_problem(r, expected, REVIEW_REFUSALS | REVIEW_NOT_FOUND)
        return
    assert r.status_code in (200, 201), r.text


# ---------------------------------------------------------------- grid informants

# A grid informant (appointed by their grid worker) reports for neighbours on their phone, and
# reaches nothing of the desk: no page, no manager's API, not even the doorplate sheet.
INFORMANT_DESK_PAGES = (
    "/desk",
    "/desk/dispatch",
    "/desk/orders/new",
    "/desk/followups",
    "/desk/projects",
    "/desk/ledger",
    "/desk/reports",
    "/desk/areas",
    "/desk/areas/doorplates",
    "/desk/people",
    "/desk/approvals",
    "/desk/units",
    "/desk/teams",
)
INFORMANT_REFUSED_API = (
    ("GET", "/api/users", None),
    ("GET", "/api/approvals", None),
    ("GET", "/api/followups", None),
    ("GET", "/api/reports/areas", None),
    ("GET", "/api/reports/summary", None),
    ("GET", "/api/dispatch/plans", None),
    ("POST", "/api/orders/for-resident", "entry"),
    ("PUT", "/api/users/{resident}/roles", {"roles": ["resident", "informant"]}),
)


async def _informant(client: AsyncTestClient, world: World) -> str:
    """`resident_b`, appointed grid informant of grid 1-1 by its grid worker."""
    await ok(
        client,
        world,
        "grid_worker",
        "PUT",
        f"/api/users/{world.id('resident_b')}/roles",
        {"roles": ["resident", "informant"]},
    )
    return "resident_b"


@pytest.mark.parametrize("path", INFORMANT_DESK_PAGES)
async def test_an_informant_reaches_no_desk_page(client: AsyncTestClient, world: World, path: str) -> None:
    informant = await _informant(client, world)
    r = await client.get(
        path, headers={**world.auth(informant), "accept": "text/html"}, follow_redirects=False
    )
    assert r.status_code == 403, (path, r.status_code)
    # Their own page is theirs.
    assert (await client.get("/i/reports", headers=world.auth(informant))).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), INFORMANT_REFUSED_API)
async def test_an_informant_reaches_no_managers_api(
    client: AsyncTestClient, world: World, method: str, path: str, body: Any
) -> None:
    informant = await _informant(client, world)
    if body == "entry":
        body = {**world.order_body(), "resident_id": world.id("resident"), "channel": "informant"}
    before = await order_total(client, world)
    r = await call(client, world, informant, method, path.format(resident=world.id("resident")), body)
    assert_problem(r, 403, {"role_required", "role_not_grantable"})
    assert await order_total(client, world) == before

"""Schemathesis against the service's own OpenAPI document (/schema/openapi.json).

The document is fetched from the app at collection time (building it touches no
database) and schemathesis turns each of its operations into a test item, once
per caller. The items run against the real service: uvicorn serves
`create_app(settings)` on the test database in a background thread, so the
SQLAlchemy plugin's lifespan creates the engine as in production. Before each
item the suite empties the database (conftest's autouse `_empty_database`), the
test world is built and a few orders and a reward are made through the API (once
in each worker, then copied in), so requests get past authentication and
generated ids often name real rows.

Every generated request - valid and invalid ones, from schemathesis' examples,
coverage and fuzzing phases - must get

* no server error (5xx);
* for a client error (4xx), RFC 9457 problem details: `application/problem+json`
  with `status`, `type`, `title`, `detail` and the service's `code`;
* for a success (2xx), a body matching the schema the document declares.

Edge cases the fuzzer once found (ids beyond the database's integers, NUL in
text, a problem's `status` member) are pinned one request each in `test_edge_case`.
"""

from __future__ import annotations

import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from litestar.testing import TestClient
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from market.app import create_app
from market.categories.models import ServiceCategory
from market.clock import FrozenClock
from market.settings import Settings
from tests.conftest import IN_CI, TEST_SECRET, test_moment
from tests.database import BetweenTests, Rows, empty_tables, put_rows, take_rows
from tests.world import World

# Fuzzing every operation is the slowest part of the suite: `make test` runs it once, on
# PostgreSQL when that is configured (stricter types, the production database), else on SQLite.
pytestmark = pytest.mark.fuzz

SCHEMA_PATH = "/schema/openapi.json"
# An administrator passes every guard, so requests reach validation and the database: the admin
# gets every phase, including the boundary values of the coverage phase. `vol_resident`, a
# resident who also volunteers, meets the 403s of manager-only operations (guards run before
# validation) and can take offers and serve orders; examples and fuzzing suffice for them.
# Under CI=true (the CI profile) the admin skips the coverage phase too: it is most of this file's
# time, and what it found (ids beyond the databases' integers, NUL in text) is pinned in
# `test_edge_case` below, which always runs. And `vol_resident` gets fewer examples: most
# operations turn them away at the guard (one 403 whatever the request), and the admin's examples
# already exercise validation.
CALLERS = {"admin": not IN_CI, "vol_resident": False}  # caller -> coverage phase
MAX_EXAMPLES = {"admin": 20, "vol_resident": 6 if IN_CI else 20}
SEED = 20_251_122
SERVER_START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
PROBLEM_MEMBERS = ("status", "type", "title", "detail", "code")


# --- the document --------------------------------------------------------------------------------


def _served_document() -> tuple[dict[str, Any], str | None]:
    """The OpenAPI document as the app serves it, or why it could not be had."""
    settings = Settings(
        database_url="sqlite+aiosqlite://", database_pool=False, scheduler=False, secret_key=TEST_SECRET
    )
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.get(SCHEMA_PATH)
    if response.status_code == 200:
        return response.json(), None
    try:  # the handler turned the cause into a problem response; build the document to see it
        _ = app.openapi_schema
        cause = response.text[:500]
    except Exception as error:
        where = traceback.extract_tb(error.__traceback__)[-1]
        cause = f"{type(error).__name__}: {error} (at {where.filename}:{where.lineno})"
    return {}, f"GET {SCHEMA_PATH} answered {response.status_code}: {cause}"


def _ids(last: int) -> dict[str, list[int]]:
    return {"values": list(range(1, last + 1))}


def _seeded(dictionary: str) -> dict[str, Any]:
    """Half of these ids come from the rows the fixtures make, which a freshly emptied database
    numbers from 1: areas 1-9 and users 1-15 (the test world), orders 1-3, offers 1-2, reward 1,
    dispatch plan 1 with pair 1."""
    return {"dictionary": dictionary, "probability": 0.5}


DOCUMENT, DOCUMENT_ERROR = _served_document()


def _schema(coverage: bool) -> Any:
    return schemathesis.openapi.from_dict(
        DOCUMENT or {"openapi": "3.1.0", "info": {"title": "unavailable", "version": "0"}, "paths": {}},
        config=schemathesis.Config.from_dict(
            {
                "seed": SEED,
                "phases": {"coverage": {"enabled": coverage}},
                "generation": {
                    # Requests carry a real token (the `auth` fixture), not made-up Authorization headers.
                    "with-security-parameters": False,
                },
                "dictionaries": {
                    "areas": _ids(9),
                    "users": _ids(15),
                    "orders": _ids(3),
                    "offers": _ids(2),
                    "rewards": _ids(1),
                    "plans": _ids(1),
                },
                "parameters": {
                    "path.area_id": _seeded("areas"),
                    "path.community_id": _seeded("areas"),
                    "query.area_id": _seeded("areas"),
                    "query.root": _seeded("areas"),
                    "body.area_id": _seeded("areas"),
                    "body.parent_id": _seeded("areas"),
                    "body.serving_area_ids[*]": _seeded("areas"),
                    "body.community_ids[*]": _seeded("areas"),
                    "path.user_id": _seeded("users"),
                    "query.user_id": _seeded("users"),
                    "body.volunteer_ids[*]": _seeded("users"),
                    "path.order_id": _seeded("orders"),
                    "path.offer_id": _seeded("offers"),
                    "body.reward_id": _seeded("rewards"),
                    "body.order_ids[*]": _seeded("orders"),
                    "path.plan_id": _seeded("plans"),
                    "body.pair_ids[*]": _seeded("plans"),
                },
            }
        ),
    )


schemas = {caller: _schema(coverage) for caller, coverage in CALLERS.items()}
schema = schemas["admin"]


def _operation(path: str, method: str) -> Any:
    if DOCUMENT_ERROR:
        pytest.skip(f"no OpenAPI document (test_api fails for it): {DOCUMENT_ERROR}")
    return schema[path][method]


# --- the running service -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(database_url: str) -> Iterator[str]:
    """The app served by uvicorn in a background thread, lifespan included. Its engine may pool
    connections: uvicorn runs it on one event loop of its own for the whole module."""
    settings = Settings(
        database_url=database_url,
        database_pool=True,
        scheduler=False,
        secret_key=TEST_SECRET,
    )
    # Named TCP, so that asyncio sets TCP_NODELAY on each connection it accepts (it checks the
    # protocol): without it every reply on a kept-alive connection waited 40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, clock=FrozenClock(test_moment())),
            lifespan="on",
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start the app; see the captured log")
            time.sleep(0.05)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(SERVER_START_TIMEOUT)
        sock.close()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def _forget_fuzzed_categories(between_tests: BetweenTests) -> Iterator[None]:
    """POST /api/categories adds rows the suite's per-test cleanup keeps; remove them afterwards,
    after the rows that may refer to them."""
    before = between_tests.run(_category_codes)
    yield
    if added := between_tests.run(_category_codes) - before:
        between_tests.run(lambda engine: _forget_categories(engine, added))


async def _category_codes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.scalars(select(ServiceCategory.code)))


async def _forget_categories(engine: AsyncEngine, codes: set[str]) -> None:
    async with engine.begin() as conn:
        await empty_tables(conn)
        await conn.execute(ServiceCategory.__table__.delete().where(ServiceCategory.code.in_(codes)))


# The rows `seeded` made through the API in this worker, and the ids it returned, by the world's
# moment: later items get a copy (7 requests and the world took about 0.6 s on PostgreSQL).
_SEEDED: dict[datetime, tuple[Rows, dict[str, int]]] = {}


@pytest.fixture
def seeded(
    base_url: str,
    http: requests.Session,
    world: World,
    between_tests: BetweenTests,
    _forget_fuzzed_categories: None,
) -> dict[str, int]:
    """Three orders, two offers, a reward and a dispatch plan, made through the API once in each
    worker and copied into the database for every later item."""
    if (made := _SEEDED.get(world.now)) is not None:
        rows, ids = made
        between_tests.run(lambda engine: _copy_in(engine, rows))
        return ids
    ids = _seed(base_url, http, world)
    _SEEDED[world.now] = (between_tests.run(_take), ids)
    return ids


async def _take(engine: AsyncEngine) -> Rows:
    async with engine.connect() as conn:
        return await take_rows(conn)


async def _copy_in(engine: AsyncEngine, rows: Rows) -> None:
    async with engine.begin() as conn:
        await empty_tables(conn)
        await put_rows(conn, rows)


def _seed(base_url: str, http: requests.Session, world: World) -> dict[str, int]:
    def post(path: str, who: str, body: dict[str, object] | None = None) -> Any:
        response = http.post(base_url + path, json=body, headers=world.auth(who), timeout=REQUEST_TIMEOUT)
        assert response.status_code in (200, 201), f"{path}: {response.text}"
        return response.json()

    def dispatch(order_id: int, volunteer: str) -> None:
        body = {"volunteer_ids": [world.id(volunteer)], "mode": "direct"}
        post(f"/api/orders/{order_id}/dispatch", "grid_worker", body)

    # Order 1, offer 1: offered to vol_resident, who may take it.
    offered = post("/api/orders", "resident", world.order_body())["id"]
    dispatch(offered, "vol_resident")
    # Order 2, offer 2: vol_resident's own order, taken by another volunteer.
    own = world.order_body("vol_resident", category="shopping")
    accepted = post("/api/orders", "vol_resident", own)["id"]
    dispatch(accepted, "volunteer")
    offer = http.get(base_url + "/api/offers", headers=world.auth("volunteer"), timeout=REQUEST_TIMEOUT)
    post(f"/api/offers/{offer.json()['items'][0]['id']}/accept", "volunteer")
    # Order 3: vol_resident's, waiting for dispatch.
    submitted = post("/api/orders", "vol_resident", world.order_body("vol_resident", urgency="urgent"))["id"]
    reward = {
        "name": "Rice, 5 kg",
        "price": 10,
        "stock": 5,
        "pickup_place": "Community office",
        "valid_until": (world.now + timedelta(days=30)).isoformat(),
        "community_ids": [world.areas["c1"].id],
    }
    reward_id = post("/api/rewards", "manager", reward)["id"]
    # Plan 1, for the orders still waiting in grid 1 (order 3).
    plan_id = post("/api/dispatch/plans", "grid_worker", {"area_id": world.areas["c1_grid"].id})["id"]
    return {
        "offered": offered,
        "accepted": accepted,
        "submitted": submitted,
        "reward": reward_id,
        "plan": plan_id,
    }


@pytest.fixture
def seeded_world(world: World, seeded: dict[str, int]) -> World:
    return world


def test_the_server_serves_the_fuzzed_document(base_url: str, http: requests.Session) -> None:
    assert not DOCUMENT_ERROR, DOCUMENT_ERROR
    assert http.get(base_url + SCHEMA_PATH, timeout=REQUEST_TIMEOUT).json() == DOCUMENT


# --- checks --------------------------------------------------------------------------------------


def client_errors_are_problem_details(ctx: CheckContext, response: Response, case: Case) -> None:
    """RFC 9457: every 4xx is application/problem+json with status, type, title, detail and code."""
    if not 400 <= response.status_code < 500:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == "application/problem+json", (
        f"{response.status_code} has Content-Type {content_type!r}, not application/problem+json"
    )
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(f"{response.status_code} body is not JSON: {error}") from None
    assert isinstance(body, dict), f"problem details must be an object: {body!r}"
    missing = [name for name in PROBLEM_MEMBERS if name not in body]
    assert not missing, f"problem details lack {missing}: {body!r}"
    for name in ("type", "title", "detail", "code"):
        assert isinstance(body[name], str) and body[name], f"`{name}` must be a non-empty string: {body!r}"
    assert body["type"].endswith("/" + body["code"]), f"`type` must end in the `code`: {body!r}"
    assert body["status"] == response.status_code, (
        f"`status` {body['status']!r} is not the response's {response.status_code}: {body!r}"
    )


def success_bodies_match_the_document(ctx: CheckContext, response: Response, case: Case) -> None:
    """A 2xx body must match the schema the document declares for its status."""
    if 200 <= response.status_code < 300:
        response_schema_conformance(ctx, response, case)


CHECKS = [not_a_server_error, client_errors_are_problem_details, success_bodies_match_the_document]


# --- the fuzz test -------------------------------------------------------------------------------


def _fuzz(caller: str) -> Callable[..., None]:
    """The fuzz test of every operation, as `caller`."""

    @schemas[caller].parametrize()
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES[caller],
        deadline=None,
        derandomize=True,
        database=None,
        # The world behind the token is set up once per operation, not per example, on purpose:
        # rebuilding it for every request would take minutes.
        suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
    )
    def test(case: Case, base_url: str, seeded_world: World, http: requests.Session) -> None:
        case.call_and_validate(
            base_url=base_url,
            session=http,
            headers=seeded_world.auth(caller),
            checks=CHECKS,
            timeout=REQUEST_TIMEOUT,
        )

    return test


if DOCUMENT_ERROR is None:
    test_api_as_admin = _fuzz("admin")
    test_api_as_volunteer = _fuzz("vol_resident")
else:

    def test_api() -> None:
        pytest.fail(f"nothing to fuzz: {DOCUMENT_ERROR}")


# --- known bugs, one request each ----------------------------------------------------------------

TOO_BIG = 2**63  # beyond SQLite's INTEGER and PostgreSQL's bigint
BIG = 2**31  # beyond PostgreSQL's integer
Parts = Callable[[World, dict[str, int]], dict[str, Any]]


def _edge_case(name: str, why: str, who: str, method: str, path: str, parts: Parts) -> Any:
    return pytest.param(who, method, path, parts, id=name)


EDGE_CASES = [
    _edge_case(
        "id-beyond-int64-in-path",
        "an id beyond 64 bits in the path is a 400, not an overflow",
        "admin",
        "GET",
        "/api/orders/{order_id}",
        lambda world, seeded: {"path_parameters": {"order_id": TOO_BIG}},
    ),
    _edge_case(
        "id-beyond-int32-in-path",
        "an id beyond PostgreSQL's integer is a 400",
        "admin",
        "GET",
        "/api/users/{user_id}",
        lambda world, seeded: {"path_parameters": {"user_id": BIG}},
    ),
    _edge_case(
        "id-beyond-int64-in-query",
        "an id beyond 64 bits in the query is a 400",
        "admin",
        "GET",
        "/api/areas",
        lambda world, seeded: {"query": {"root": TOO_BIG}},
    ),
    _edge_case(
        "id-beyond-int64-in-body",
        "an id beyond 64 bits in the body is a 400",
        "resident",
        "POST",
        "/api/orders",
        lambda world, seeded: {"body": world.order_body(area_id=TOO_BIG)},
    ),
    _edge_case(
        "nul-in-query",
        "NUL in a query string is a 400 (PostgreSQL text cannot hold it)",
        "admin",
        "GET",
        "/api/users",
        lambda world, seeded: {"query": {"q": "a\x00b"}},
    ),
    _edge_case(
        "nul-in-body",
        "NUL in a body string is a 400",
        "resident",
        "POST",
        "/api/orders",
        lambda world, seeded: {"body": world.order_body(description="Take me\x00 there")},
    ),
    _edge_case(
        "control-character-in-body",
        "a C0 control character (not tab, LF or CR) in a body string is a 400: Excel files cannot hold it",
        "resident",
        "POST",
        "/api/orders",
        lambda world, seeded: {"body": world.order_body(description="Take me\x01 there")},
    ),
    _edge_case(
        "illegal-transition-status",
        "an illegal transition's problem keeps the numeric RFC 9457 `status`",
        "vol_resident",
        "POST",
        "/api/orders/{order_id}/confirm",
        lambda world, seeded: {"path_parameters": {"order_id": seeded["accepted"]}, "body": {"rating": 5}},
    ),
]


@pytest.mark.parametrize(("who", "method", "path", "parts"), EDGE_CASES)
def test_edge_case(
    who: str,
    method: str,
    path: str,
    parts: Parts,
    base_url: str,
    http: requests.Session,
    world: World,
    seeded: dict[str, int],
) -> None:
    case = _operation(path, method).Case(**parts(world, seeded))
    response = case.call(base_url=base_url, session=http, headers=world.auth(who), timeout=REQUEST_TIMEOUT)
    case.validate_response(response, checks=[not_a_server_error, client_errors_are_problem_details])


@pytest.mark.parametrize(
    ("who", "method", "path", "parts"),
    [
        pytest.param(
            "admin", "GET", "/api/orders", lambda world: {"query": {"limit": 0}}, id="a bad parameter"
        ),
        pytest.param(
            "resident",
            "POST",
            "/api/orders",
            lambda world: {"body": world.order_body(window_start="2020-01-01T09:00:00+08:00")},
            id="a service's refusal",
        ),
    ],
)
def test_a_bad_request_is_sent_as_the_document_describes_it(
    who: str,
    method: str,
    path: str,
    parts: Callable[[World], dict[str, Any]],
    base_url: str,
    http: requests.Session,
    world: World,
) -> None:
    """Litestar's own description of a 400 (application/json, {status_code, detail, extra}) is
    replaced by the problem details the service sends, whether a parameter or a service refused."""
    case = _operation(path, method).Case(**parts(world))
    response = case.call(base_url=base_url, session=http, headers=world.auth(who), timeout=REQUEST_TIMEOUT)
    assert response.status_code == 400, response.text
    case.validate_response(
        response,
        checks=[client_errors_are_problem_details, content_type_conformance, response_schema_conformance],
    )

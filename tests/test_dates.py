"""Every date and moment a request carries lies from 2000-01-01 to 2099-12-31 (market/fields.py).

Dates far out used to be stored (a reward valid until 9999-12-31) and then broke every page showing
them, or overflowed at once (`date_to=9999-12-31`, `since=0001-01-01T00:00:00+14:00`): 500s. Now
they are 400s naming the field, on the API and, next to the field, on the pages.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import msgspec
import pytest
from httpx import Response
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import market.web
from market.fields import RANGED_TYPES
from market.ledger import service as ledger
from tests.test_rewards import reward_body
from tests.test_units_support import make_coop, need_body, resource_body
from tests.world import World

PLUS_14 = timezone(timedelta(hours=14))
MINUS_12 = timezone(timedelta(hours=-12))


# ---------------------------------------------------------------- no date escapes the rule


def _leaves(annotation: Any, seen: set[type]) -> list[Any]:
    """The types an annotation is made of: through Annotated, unions, containers and Structs."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _leaves(get_args(annotation)[0], seen)
    if origin is not None:
        return [leaf for arg in get_args(annotation) for leaf in _leaves(arg, seen)]
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        if annotation in seen:
            return []
        seen.add(annotation)
        hints = get_type_hints(annotation, include_extras=True)
        return [leaf for hint in hints.values() for leaf in _leaves(hint, seen)]
    return [annotation]


def _inputs(app: Litestar) -> dict[str, list[Any]]:
    """Where requests bring values in, and the types they are read as: every route's parameters
    and bodies (its dependencies aside), and the Structs the pages define for their forms."""
    found: dict[str, list[Any]] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            dependencies = handler.resolve_dependencies()
            for name, parameter in handler.parsed_fn_signature.parameters.items():
                if name not in dependencies:
                    found[f"{route.path} {name}"] = _leaves(parameter.raw, set())
    for module in pkgutil.iter_modules(market.web.__path__, "market.web."):
        for value in vars(importlib.import_module(module.name)).values():
            if (
                isinstance(value, type)
                and issubclass(value, msgspec.Struct)
                and value.__module__ == module.name
            ):
                found[f"{module.name}.{value.__name__}"] = _leaves(value, set())
    return found


def test_every_date_a_request_carries_is_checked(app: Litestar) -> None:
    """A new date or datetime field in a request schema or a query must use `Day` / `Moment`
    (or `query_day` / `query_moment`) from market/fields.py."""
    inputs = _inputs(app)
    bare = sorted(where for where, leaves in inputs.items() if {date, datetime} & set(leaves))
    assert not bare, f"unchecked dates (use market.fields.Day / Moment): {bare}"
    checked = sorted(where for where, leaves in inputs.items() if set(RANGED_TYPES) & set(leaves))
    # The walk sees the checked ones (it is not blind): order windows and lists, rewards,
    # resources, needs, allocations, projects, wishes, statements, volunteers' free time, and the
    # ledger page's own filter.
    assert len(checked) >= 16, checked
    assert "/api/ledger/accounts/{account_id:int}/entries since" in checked
    assert "market.web.desk_ledger.StatementFilters" in checked


# ---------------------------------------------------------------- the API


def refused(r: Response, *fields: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "invalid_input", body
    assert sorted(e["field"] for e in body["errors"]) == sorted(fields), body
    assert all("2000-01-01 to 2099-12-31" in e["message"] for e in body["errors"]), body


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"date_to": "9999-12-31"}, ["date_to"]),
        ({"date_from": "0001-01-01"}, ["date_from"]),
        ({"date_from": "1999-12-31", "date_to": "2100-01-01"}, ["date_from", "date_to"]),
    ],
)
async def test_order_lists_refuse_dates_out_of_range(
    client: AsyncTestClient, world: World, query: dict[str, str], fields: list[str]
) -> None:
    refused(await client.get("/api/orders", params=query, headers=world.auth("admin")), *fields)


async def test_order_lists_take_the_first_and_last_day(client: AsyncTestClient, world: World) -> None:
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    r = await client.get(
        "/api/orders",
        params={"date_from": "2000-01-01", "date_to": "2099-12-31"},
        headers=world.auth("admin"),
    )
    assert r.status_code == 200 and r.json()["total"] == 1, r.text


async def statement(session_maker: async_sessionmaker[AsyncSession], world: World) -> str:
    async with session_maker() as session, session.begin():
        account = await ledger.member_account(session, world.id("volunteer"))
    return f"/api/ledger/accounts/{account.id}/entries"


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00-12:00",
        "9999-12-31T23:59:59-12:00",
        "9999-12-31T23:59:59+14:00",
        "1999-12-31T23:59:59+00:00",
        "2100-01-01T00:00:01+08:00",
    ],
)
async def test_statements_refuse_moments_out_of_range(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession], moment: str
) -> None:
    url = await statement(session_maker, world)
    for name in ("since", "until"):
        refused(await client.get(url, params={name: moment}, headers=world.auth("admin")), name)


@pytest.mark.parametrize(
    "moment",
    [
        "2000-01-01T00:00:00+14:00",  # 1999-12-31 in UTC: as written, it is in range
        "2000-01-01T00:00:00-12:00",
        "2099-12-31T23:59:59+14:00",
        "2099-12-31T23:59:59-12:00",  # 2100-01-01 in UTC
        "2100-01-01T00:00:00+08:00",  # the end of 2099-12-31, where periods "before" it end
    ],
)
async def test_statements_take_any_offset_in_range(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession], moment: str
) -> None:
    url = await statement(session_maker, world)
    for name in ("since", "until"):
        for fmt in ("json", "csv", "xlsx"):
            r = await client.get(url, params={name: moment, "format": fmt}, headers=world.auth("admin"))
            assert r.status_code == 200, (name, fmt, r.text)


async def test_a_naive_moment_in_a_query_is_refused(client: AsyncTestClient, world: World) -> None:
    r = await client.get(
        "/api/volunteers",
        params={"free_from": "2030-01-01T09:00:00", "free_until": "2030-01-01T11:00:00"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 400, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"free_from", "free_until"}


@pytest.mark.parametrize(
    ("path", "who", "body"),
    [
        ("/api/rewards", "manager", lambda w: reward_body(w, valid_until="9999-12-31T23:59:59+08:00")),
        ("/api/orders", "resident", lambda w: w.order_body(window_start="0001-01-01T00:00:00+14:00")),
        ("/api/wishes", "resident", lambda w: {**_wish(w), "deadline": "9999-12-31T00:00:00Z"}),
        ("/api/needs", "manager", lambda w: need_body(w, deadline="9999-12-31T23:59:59-12:00")),
    ],
)
async def test_bodies_refuse_moments_out_of_range(
    client: AsyncTestClient, world: World, path: str, who: str, body: Any
) -> None:
    r = await client.post(path, json=body(world), headers=world.auth(who))
    field = next(k for k, v in body(world).items() if isinstance(v, str) and v[:4] in ("0001", "9999"))
    refused(r, field)


def _wish(world: World) -> dict[str, Any]:
    return {
        "title": "Reading glasses",
        "value_yuan": 60,
        "deadline": (world.now + timedelta(days=7)).isoformat(),
    }


async def test_projects_and_resources_refuse_moments_out_of_range(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    coop = await make_coop(client, world, session_maker)
    r = await client.post(
        "/api/resources",
        json=resource_body(world, coop.unit_a, available_until="9999-12-31T23:59:59+08:00"),
        headers=world.auth("unit_admin"),
    )
    refused(r, "available_until")
    project = {
        "title": "Winter food drive",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=3)).isoformat(),
    }
    far = "9999-12-31T23:59:59+08:00"
    for change, field in (
        ({"deadline": far}, "deadline"),
        ({"start_at": "0001-01-01T00:00:00+14:00"}, "start_at"),
        (
            {"responsibilities": [{"task": "Keep the list", "due_at": far}]},
            "responsibilities[0].due_at",
        ),
    ):
        r = await client.post("/api/projects", json={**project, **change}, headers=world.auth("manager"))
        refused(r, field)


async def test_bodies_take_any_offset_in_range(client: AsyncTestClient, world: World) -> None:
    for zone in (PLUS_14, MINUS_12):
        valid_until = (world.now + timedelta(days=30)).astimezone(zone).isoformat()
        r = await client.post(
            "/api/rewards", json=reward_body(world, valid_until=valid_until), headers=world.auth("manager")
        )
        assert r.status_code == 201, r.text
        assert datetime.fromisoformat(r.json()["valid_until"]) == datetime.fromisoformat(valid_until)

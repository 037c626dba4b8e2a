"""Open311 GeoReport v2 (/open311/v2): every endpoint in JSON and XML against the spec's field
tables, its errors, keys scoped to a street, and a request that goes the way of any order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User
from market.auth.service import actor_of, get_user
from market.clock import FrozenClock
from market.open311 import service
from market.open311.models import Open311Key
from market.orders.models import Order
from tests.world import World, add_neighbours

BASE = "/open311/v2"
FORMATS = ("json", "xml")

# The spec's field tables: required fields of each item.
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
}
DATETIMES = ("requested_datetime", "updated_datetime", "expected_datetime")


def parse(response: httpx.Response, fmt: str) -> Any:
    """The body as JSON's values; XML read into the same shape (lists of dicts of text)."""
    if fmt == "json":
        assert response.headers["content-type"].startswith("application/json")
        return response.json()
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(response.content)


def items(response: httpx.Response, fmt: str, root: str, item: str) -> list[dict[str, Any]]:
    body = parse(response, fmt)
    if fmt == "json":
        assert isinstance(body, list)
        return body
    assert body.tag == root
    assert all(child.tag == item for child in body)
    return [{c.tag: (c.text or "") if len(c) == 0 else c for c in child} for child in body]


def errors(response: httpx.Response, fmt: str) -> list[dict[str, Any]]:
    found = items(response, fmt, "errors", "error")
    assert len(found) == 1
    error = found[0]
    assert set(error) == {"code", "description"}
    assert int(error["code"]) == response.status_code
    return found


def offset_datetime(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(hours=8), value
    return moment


@pytest.fixture
async def keys(
    session_maker: async_sessionmaker[AsyncSession], world: World, clock: FrozenClock
) -> dict[str, str]:
    """A key for the world's street (issued by its street admin), and one for the street next door."""
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
        found = {}
        for name, issuer, street in (
            ("here", "street_admin", "street"),
            ("next_door", "street_admin_s2", "street2"),
        ):
            user = await get_user(session, world.id(issuer))
            _, secret = await service.issue_key(
                session, actor_of(user), world.areas[street].id, "hotline12345", clock()
            )
            found[name] = secret
    return found


def report(world: World, key: str, **overrides: str) -> dict[str, str]:
    return {
        "api_key": key,
        "service_code": "escort",
        "address_id": world.areas["c1_building"].code,
        "description": "An old man on the third floor needs a ride to the clinic",
        "phone": "13600000001",
        "first_name": "三",
        "last_name": "张",
        **overrides,
    }


async def post(client: AsyncTestClient, fmt: str, form: dict[str, str], **headers: str) -> httpx.Response:
    return await client.post(f"{BASE}/requests.{fmt}", data=form, headers=headers)


async def posted_id(client: AsyncTestClient, world: World, key: str, **overrides: str) -> str:
    response = await post(client, "json", report(world, key, **overrides))
    assert response.status_code == 200, response.text
    return response.json()[0]["service_request_id"]


# ---------------------------------------------------------------- discovery and services


@pytest.mark.parametrize("fmt", FORMATS)
async def test_discovery_names_the_endpoint_and_its_formats(client: AsyncTestClient, fmt: str) -> None:
    response = await client.get(f"{BASE}/discovery.{fmt}")
    assert response.status_code == 200, response.text
    body = parse(response, fmt)
    if fmt == "json":
        assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
        endpoint = body["endpoints"][0]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
        assert set(endpoint["formats"]) == {"application/json; charset=utf-8", "text/xml; charset=utf-8"}
        assert "There is no tokens/{token}" in body["key_service"]
    else:
        assert body.tag == "discovery"
        endpoint = body.find("endpoints/endpoint")
        assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
        assert [f.text for f in endpoint.findall("formats/format")] == [
            "application/json; charset=utf-8",
            "text/xml; charset=utf-8",
        ]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_services_are_the_active_categories_without_metadata(
    client: AsyncTestClient, world: World, fmt: str
) -> None:
    # Categories outlive each test: a test's own (`test…`) is removed after it.
    added = await client.post(
        "/api/categories",
        json={"code": "test_gone", "name_zh": "停办", "name_en": "Gone"},
        headers=world.auth("admin"),
    )
    assert added.status_code == 201, added.text
    retired = await client.patch(
        "/api/categories/test_gone", json={"is_active": False}, headers=world.auth("admin")
    )
    assert retired.status_code == 200, retired.text
    found = items(await client.get(f"{BASE}/services.{fmt}"), fmt, "services", "service")
    codes = [s["service_code"] for s in found]
    assert "escort" in codes and "test_gone" not in codes
    for s in found:
        assert set(s) == SERVICE_FIELDS
        assert s["type"] == "realtime"
        assert s["metadata"] in (False, "false")
        assert s["service_name"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_service_definition_and_an_unknown_service(client: AsyncTestClient, fmt: str) -> None:
    response = await client.get(f"{BASE}/services/escort.{fmt}")
    assert response.status_code == 200, response.text
    body = parse(response, fmt)
    if fmt == "json":
        assert body == {"service_code": "escort", "attributes": []}
    else:
        assert body.tag == "service_definition" and body.findtext("service_code") == "escort"
        assert body.find("attributes") is not None and len(body.find("attributes")) == 0

    unknown = await client.get(f"{BASE}/services/no_such_thing.{fmt}")
    assert unknown.status_code == 404
    assert errors(unknown, fmt)[0]["description"] == "service_code not found."


async def test_a_path_without_a_format_and_tokens_are_refused(client: AsyncTestClient) -> None:
    no_format = await client.get(f"{BASE}/discovery")
    assert no_format.status_code == 404 and "json or .xml" in errors(no_format, "json")[0]["description"]
    tokens = await client.get(f"{BASE}/tokens.xml")
    assert tokens.status_code == 404 and "tokens are not supported" in errors(tokens, "xml")[0]["description"]


# ---------------------------------------------------------------- posting


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_posted_request_is_an_order_entered_for_a_new_resident(
    client: AsyncTestClient,
    world: World,
    keys: dict[str, str],
    session_maker: async_sessionmaker[AsyncSession],
    fmt: str,
) -> None:
    response = await post(client, fmt, report(world, keys["here"]))
    assert response.status_code == 200, response.text
    [answer] = items(response, fmt, "service_requests", "request")
    assert {"service_request_id", "service_notice", "account_id"} <= set(answer)
    order_id = int(answer["service_request_id"])
    async with session_maker() as session:
        order = await session.get(Order, order_id)
        reporter = await get_user(session, order.requester_id)
    assert order.channel == "hotline12345" and order.status == "submitted"
    assert order.entered_by_id == world.id("street_admin")
    assert order.area_id == world.areas["c1_building"].id and order.category_code == "escort"
    assert (reporter.phone, reporter.name, reporter.password_hash) == ("13600000001", "张三", None)
    assert reporter.roles == [Role.resident] and reporter.area_id == world.areas["c1_building"].id
    # The desk sees it like any entered order, its channel the system's name.
    page = await client.get(f"/desk/dispatch/orders/{order_id}", headers=world.auth("grid_worker"))
    assert page.status_code == 200 and "hotline12345" in page.text


async def test_a_known_phone_is_the_resident_and_a_place_is_found_by_name(
    client: AsyncTestClient,
    world: World,
    keys: dict[str, str],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    order_id = await posted_id(
        client,
        world,
        keys["here"],
        phone="13700000001",
        address_id="",
        address_string="Garden 1",
        first_name="",
        last_name="",
    )
    async with session_maker() as session:
        order = await session.get(Order, int(order_id))
        users = await session.scalar(select(func.count(User.id)))
    assert order.requester_id == world.id("resident")
    assert order.area_id == world.areas["c1_compound"].id
    assert users == len(world.users)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("change", "status", "description"),
    [
        ({"service_code": "no_such_thing"}, 400, "service_code not found."),
        ({"service_code": ""}, 400, "service_code is required."),
        ({"address_id": ""}, 400, "A location is required"),
        ({"address_id": "", "lat": "39.9", "long": "116.4"}, 400, "the address tree has no coordinates"),
        ({"address_id": "110105002001001001001"}, 400, "address_id is not a building or compound"),
        ({"address_id": "", "address_string": "Nowhere"}, 400, "address_string matches no building"),
        ({"address_id": "110105001001"}, 400, "address_id is not a building or compound"),
        ({"description": " "}, 400, "description is required."),
        ({"phone": ""}, 400, "phone is required"),
        ({"phone": "12345"}, 400, "phone is required"),
        ({"first_name": "", "last_name": ""}, 400, "first_name or last_name is required"),
        ({"phone": "13700000044"}, 400, "cannot report in this jurisdiction"),
        ({"attribute[floor]": "3"}, 400, "attribute given that this service does not define."),
        # The order flow's own rule, passed on: a resident orders in their own community only.
        ({"phone": "13700000003"}, 400, "only in their own community"),
        ({"description": "x" * 1001}, 400, "A parameter's value is not valid"),
        ({"api_key": ""}, 403, "api_key is required"),
        ({"api_key": "o311_not-a-key"}, 403, "Invalid api_key"),
        ({"jurisdiction_id": "110105002"}, 403, "not for the given jurisdiction_id"),
    ],
)
async def test_a_request_that_cannot_be_placed_is_refused_and_changes_nothing(
    client: AsyncTestClient,
    world: World,
    keys: dict[str, str],
    session_maker: async_sessionmaker[AsyncSession],
    fmt: str,
    change: dict[str, str],
    status: int,
    description: str,
) -> None:
    response = await post(client, fmt, report(world, keys["here"], **change))
    assert response.status_code == status, response.text
    assert description in errors(response, fmt)[0]["description"]
    async with session_maker() as session:
        assert await session.scalar(select(func.count(Order.id))) == 0
        assert await session.scalar(select(func.count(User.id)).where(User.phone == "13600000001")) == 0


async def test_a_key_of_another_street_cannot_place_a_request_here(
    client: AsyncTestClient, world: World, keys: dict[str, str]
) -> None:
    response = await post(client, "json", report(world, keys["next_door"]))
    assert response.status_code == 400
    assert (
        "address_id is not a building or compound code in this jurisdiction"
        in errors(response, "json")[0]["description"]
    )
    response = await post(client, "json", report(world, keys["next_door"], jurisdiction_id="110105001"))
    assert response.status_code == 403


async def test_a_revoked_key_and_a_key_whose_issuer_left_no_longer_work(
    client: AsyncTestClient,
    world: World,
    keys: dict[str, str],
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    async with session_maker() as session, session.begin():
        admin = actor_of(await get_user(session, world.id("street_admin_s2")))
        key = await session.scalar(
            select(Open311Key).where(Open311Key.street_id == world.areas["street2"].id)
        )
        await service.revoke_key(session, admin, key.id, clock())
        (await session.get(User, world.id("street_admin"))).is_active = False
    revoked = await post(
        client, "xml", report(world, keys["next_door"], address_id=world.areas["s2_building"].code)
    )
    assert revoked.status_code == 403 and "revoked" in errors(revoked, "xml")[0]["description"]
    lapsed = await post(client, "json", report(world, keys["here"]))
    assert lapsed.status_code == 403 and "no longer manages" in errors(lapsed, "json")[0]["description"]


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("fmt", FORMATS)
async def test_requests_read_publicly_name_no_one(
    client: AsyncTestClient, world: World, keys: dict[str, str], fmt: str
) -> None:
    order_id = await posted_id(client, world, keys["here"])
    # A resident's own order is not published: only what came through Open311.
    own = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert own.status_code == 201
    response = await client.get(f"{BASE}/requests.{fmt}", params={"jurisdiction_id": "110105001"})
    assert response.status_code == 200, response.text
    [found] = items(response, fmt, "service_requests", "request")
    assert set(found) == REQUEST_FIELDS
    assert found["service_request_id"] == order_id and isinstance(found["service_request_id"], str)
    assert found["status"] == "open" and found["service_code"] == "escort"
    assert found["status_notes"] == "Received; waiting to be dispatched to a volunteer."
    assert found["address"] == "Garden 1, Community 1, Sunny Street"
    assert found["address_id"] == world.areas["c1_compound"].code
    for name in DATETIMES:
        offset_datetime(found[name])
    text = response.text
    for private in ("张三", "13600000001", "Building 1", "Street Admin"):
        assert private not in text

    one = await client.get(f"{BASE}/requests/{order_id}.{fmt}", params={"api_key": keys["here"]})
    assert one.status_code == 200, one.text
    [same] = items(one, fmt, "service_requests", "request")
    assert same["service_request_id"] == order_id


@pytest.mark.parametrize("fmt", FORMATS)
async def test_reading_errors(client: AsyncTestClient, world: World, keys: dict[str, str], fmt: str) -> None:
    order_id = await posted_id(client, world, keys["here"])
    cases = [
        (f"requests.{fmt}", {}, 400, "jurisdiction_id is required"),
        (f"requests.{fmt}", {"jurisdiction_id": "999999999"}, 404, "jurisdiction_id not found."),
        (f"requests.{fmt}", {"api_key": "o311_wrong"}, 403, "Invalid api_key"),
        (
            f"requests.{fmt}",
            {"api_key": keys["next_door"], "jurisdiction_id": "110105001"},
            403,
            "not for the given jurisdiction_id",
        ),
        (
            f"requests.{fmt}",
            {
                "jurisdiction_id": "110105001",
                "start_date": "2026-01-01T00:00:00+08:00",
                "end_date": "2026-04-02T00:00:00+08:00",
            },
            400,
            "at most 90 days apart",
        ),
        (f"requests.{fmt}", {"jurisdiction_id": "110105001", "start_date": "yesterday"}, 400, "ISO 8601"),
        (
            f"requests.{fmt}",
            {"jurisdiction_id": "110105001", "end_date": "9999-12-31T23:59:59+14:00"},
            400,
            "ISO 8601",
        ),
        (f"requests.{fmt}", {"jurisdiction_id": "110105001", "status": "pending"}, 400, "status must be"),
        (f"requests.{fmt}", {"jurisdiction_id": "110105001", "page_size": "101"}, 400, "page_size"),
        (f"requests/999999.{fmt}", {"jurisdiction_id": "110105001"}, 404, "service_request_id not found."),
        (f"requests/abc.{fmt}", {"jurisdiction_id": "110105001"}, 404, "service_request_id not found."),
        (f"requests/².{fmt}", {"jurisdiction_id": "110105001"}, 404, "service_request_id not found."),
        (f"requests.{fmt}", {"jurisdiction_id": "110105001", "page": "²"}, 400, "page must be"),
        (f"requests.{fmt}", {"jurisdiction_id": "110105001", "service_request_id": "²"}, 200, ""),
        # A key sees only its own street's requests.
        (f"requests/{order_id}.{fmt}", {"api_key": keys["next_door"]}, 404, "service_request_id not found."),
    ]
    for path, params, status, description in cases:
        response = await client.get(f"{BASE}/{path}", params=params)
        assert response.status_code == status, (path, params, response.text)
        if status == 200:
            assert items(response, fmt, "service_requests", "request") == []
            continue
        assert description in errors(response, fmt)[0]["description"], (path, params)


async def test_filters_and_pages(
    client: AsyncTestClient, world: World, keys: dict[str, str], clock: FrozenClock
) -> None:
    first = await posted_id(client, world, keys["here"])
    clock.advance(timedelta(hours=1))
    second = await posted_id(client, world, keys["here"], service_code="cleaning", phone="13600000002")
    street = {"jurisdiction_id": "110105001"}

    async def ids(**params: str) -> list[str]:
        response = await client.get(f"{BASE}/requests.json", params={**street, **params})
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert await ids() == [second, first]
    assert await ids(service_code="cleaning") == [second]
    assert await ids(service_request_id=f"{first},{second},nonsense") == [first, second]
    assert await ids(page_size="1") == [second]
    assert await ids(page_size="1", page="2") == [first]
    assert await ids(status="closed") == []
    assert await ids(status="open,closed") == [second, first]
    now = clock()
    assert await ids(start_date=(now - timedelta(minutes=30)).isoformat(), end_date=now.isoformat()) == [
        second
    ]
    assert await ids(end_date=(now - timedelta(days=91)).isoformat()) == []


# ---------------------------------------------------------------- the order flow


async def test_an_open311_request_is_dispatched_accepted_and_closed_like_any_order(
    client: AsyncTestClient, world: World, keys: dict[str, str]
) -> None:
    # The window opens when the request comes in, so the volunteer may check in at once.
    order_id = await posted_id(client, world, keys["here"])
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer")], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    offer = (await client.get("/api/offers", headers=world.auth("volunteer"))).json()["items"][0]
    assert (
        await client.post(f"/api/offers/{offer['id']}/accept", headers=world.auth("volunteer"))
    ).status_code == 200

    async def status() -> dict[str, Any]:
        response = await client.get(
            f"{BASE}/requests/{order_id}.json", params={"api_key": keys["here"], "extensions": "true"}
        )
        assert response.status_code == 200, response.text
        return response.json()[0]

    seen = await status()
    assert seen["status"] == "open"
    assert seen["status_notes"] == "A volunteer has accepted and will come in the service window."
    for step in ("check-in", "check-out"):
        r = await client.post(f"/api/orders/{order_id}/{step}", headers=world.auth("volunteer"))
        assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/orders/{order_id}/complete", json={"note": "done"}, headers=world.auth("volunteer")
    )
    assert r.status_code == 200, r.text
    seen = await status()
    assert seen["status"] == "closed" and seen["status_notes"] == "The service is done."
    history = seen["extended_attributes"]["history"]
    assert [e["action"] for e in history] == [
        "post",
        "dispatch",
        "accept",
        "check_in",
        "check_out",
        "complete",
    ]
    assert [e["status"] for e in history][-2:] == ["open", "closed"]
    for e in history:
        offset_datetime(e["datetime"])
    # The reporter has no password: the grid worker confirms for them, as for any entered order.
    r = await client.post(
        f"/api/orders/{order_id}/confirm", json={"rating": 5}, headers=world.auth("grid_worker")
    )
    assert r.status_code == 200, r.text
    assert (await status())["status_notes"] == "The service is done and confirmed."

    xml = await client.get(
        f"{BASE}/requests/{order_id}.xml", params={"api_key": keys["here"], "extensions": "true"}
    )
    [found] = items(xml, "xml", "service_requests", "request")
    assert found["status"] == "closed"
    assert [e.findtext("action") for e in found["extended_attributes"].find("history")][-1] == "confirm"


# ---------------------------------------------------------------- the same request twice at once


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_the_same_request_posted_twice_at_once_with_one_idempotency_key_makes_one_order(
    world: World,
    keys: dict[str, str],
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    form = report(world, keys["here"])
    responses = await asyncio.gather(
        *(
            racing.post(f"{BASE}/requests.json", data=form, headers={"X-Idempotency-Key": "case-42"})
            for _ in range(4)
        )
    )
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    assert len({json.dumps(r.json()) for r in responses}) == 1
    async with session_maker() as session:
        assert await session.scalar(select(func.count(Order.id))) == 1
        assert await session.scalar(select(func.count(User.id)).where(User.phone == "13600000001")) == 1
    # The same idempotency key with another request is refused, and makes nothing.
    other = await racing.post(
        f"{BASE}/requests.json",
        data=report(world, keys["here"], phone="13600000009"),
        headers={"X-Idempotency-Key": "case-42"},
    )
    assert other.status_code == 400
    assert "different request" in errors(other, "json")[0]["description"]


async def test_a_new_reporters_requests_posted_at_once_are_all_taken_for_one_resident(
    world: World,
    keys: dict[str, str],
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    """Several requests of a phone not yet known, at once, under different idempotency keys or none:
    one registers the resident, the others find them (on PostgreSQL they met at the phone's unique
    index, and were a 400); every request is an order of that one resident."""
    for n, phone in enumerate(("13600000002", "13600000003", "13600000004")):
        responses = await asyncio.gather(
            *(
                racing.post(
                    f"{BASE}/requests.json",
                    data=report(world, keys["here"], phone=phone, description=f"Round {n}, report {i}"),
                    headers={"X-Idempotency-Key": f"case-{n}-{i}"} if i % 2 else {},
                )
                for i in range(4)
            )
        )
        assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
        ids = {int(r.json()[0]["service_request_id"]) for r in responses}
        assert len(ids) == 4
        async with session_maker() as session:
            [resident] = (await session.scalars(select(User.id).where(User.phone == phone))).all()
            requesters = (await session.scalars(select(Order.requester_id).where(Order.id.in_(ids)))).all()
        assert requesters == [resident] * 4

"""Open311 GeoReport v2 under /open311/v2: discovery, services, a service's definition, posting a
service request (form-encoded, with an `api_key`), reading requests and one request. Every path
ends in `.json` or `.xml`; errors are the spec's `{code, description}` list in the same format.

Reads are public, as the spec has them, but show no person (see `market.open311.service`): a
read names its street by `jurisdiction_id`, or by the `api_key` it sends, which sees only its own
street. There is no `tokens/{token}`: every service is realtime, and POST returns the id.

The paths are left out of the OpenAPI schema: their answers are XML or JSON by suffix and their
errors are not problem+json, which the schema (and the fuzzing of it) cannot describe.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.areas.models import COMMUNITY_CODE_DIGITS, STREET_CODE_DIGITS, Area
from market.errors import MarketError, lost_a_race
from market.fields import EARLIEST, LATEST, path_text
from market.open311 import service
from market.open311.errors import CASES, Open311Error
from market.open311.format import FORMATS, respond, split
from market.open311.models import Open311Key
from market.orders.models import Order, OrderEvent
from market.settings import Settings

log = logging.getLogger(__name__)

PATH = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's interface last changed (discovery's `changeset`).
CHANGESET = "2026-12-03T00:00:00+08:00"
# The header a client repeats to post the same request once only (the product's own, and the
# `X-` form some Open311 clients send).
IDEMPOTENCY_HEADERS = (idempotency.HEADER, "x-idempotency-key")
# A path's last segment: a resource, service code or request id, and the format's suffix.
Name = path_text(200)


def _format(name: str) -> tuple[str, str]:
    stem, fmt = split(name)
    if fmt is None:
        raise Open311Error("unknown_format")
    return stem, fmt


def _format_of(path: str) -> str:
    """The format an error is answered in: the path's, or JSON when it names none."""
    return split(path.rstrip("/").rpartition("/")[2])[1] or "json"


def errors_response(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    if isinstance(error, Open311Error):
        status, description = error.status, error.description
    elif isinstance(error, MarketError):
        # A refusal of the order flow or the registry met once the key was accepted: it is about
        # what the request asks (a place outside the reporter's community, too many orders open).
        status, description = 400, error.detail
    elif isinstance(error, HTTPException) and error.status_code < 500:
        status = 404 if error.status_code == 404 else 400
        description = CASES["unknown_resource" if status == 404 else "invalid_value"][1]
    else:
        if lost_a_race(error):  # every attempt lost a race: a busy moment, not a fault
            status, description = CASES["busy"]
        else:
            log.exception("unexpected error", exc_info=error)
            status, description = CASES["internal_error"]
    return respond(
        _format_of(request.url.path), "errors", [{"code": status, "description": description}], status
    )


def _when(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def _event(event: OrderEvent, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "datetime": _when(event.at, tz),
        "action": event.action,
        "status": service.open311_status(event.to_status),
        "status_notes": service.status_notes(event.action),
    }


def _request(
    order: Order, places: dict[str, Area], names: dict[str, str], tz: ZoneInfo, extensions: bool
) -> dict[str, Any]:
    """One service request as the spec's `request`: the place named down to its compound, and no one."""
    compound = order.area_code[: service.COMPOUND]
    community = places.get(compound[:COMMUNITY_CODE_DIGITS])
    # Most specific first, as the spec asks: compound, community, street (grids are the office's own).
    path = [places.get(compound), community, places.get(compound[:STREET_CODE_DIGITS])]
    latest = order.events[-1] if order.events else None
    found: dict[str, Any] = {
        "service_request_id": str(order.id),
        "status": service.open311_status(order.status),
        "status_notes": service.status_notes(latest.action) if latest else "",
        "service_name": names.get(order.category_code, order.category_code),
        "service_code": order.category_code,
        "description": order.description,
        "agency_responsible": community.name if community else "",
        "service_notice": service.SERVICE_NOTICE,
        "requested_datetime": _when(order.created_at, tz),
        "updated_datetime": _when(order.updated_at, tz),
        "expected_datetime": _when(order.window_end, tz),
        "address": ", ".join(a.name for a in path if a is not None),
        "address_id": compound,
    }
    if extensions:
        found["extended_attributes"] = {"history": [_event(e, tz) for e in order.events]}
    return found


async def _requests(
    session: AsyncSession, found: list[Order], tz: ZoneInfo, extensions: bool
) -> list[dict[str, Any]]:
    places = await service.places_of(session, found)
    names = await service.category_names(session)
    return [_request(o, places, names, tz, extensions) for o in found]


async def _street_for_reading(session: AsyncSession, params: dict[str, str]) -> Area:
    """The street a read is about: the key's (which sees only its own), or `jurisdiction_id`'s."""
    code = params.get("jurisdiction_id", "").strip()
    if params.get("api_key"):
        key = await service.key_in_use(session, params["api_key"])
        if code and code != key.street.code:
            raise Open311Error("jurisdiction_mismatch")
        return key.street
    if not code:
        raise Open311Error("jurisdiction_required")
    return await service.jurisdiction(session, code)


def _params(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


def _moment(value: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise Open311Error("invalid_date") from error
    # Dates far out overflow when moved by 90 days or to local time (see market.fields).
    if not EARLIEST <= moment.date() <= LATEST:
        raise Open311Error("invalid_date")
    # A date-time without an offset is read in the service's time zone.
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _number(value: str) -> bool:
    """Digits 0-9 only (`str.isdigit` takes "²" too, which `int` refuses)."""
    return value.isascii() and value.isdigit()


def _whole(value: str | None, default: int, low: int, high: int, case: str) -> int:
    if value is None or value == "":
        return default
    if not _number(value) or not low <= int(value) <= high:
        raise Open311Error(case)
    return int(value)


def _query(params: dict[str, str], tz: ZoneInfo) -> service.RequestQuery:
    query = service.RequestQuery(
        page=_whole(params.get("page"), 1, 1, 100_000, "invalid_page"),
        page_size=_whole(
            params.get("page_size"), service.PAGE_SIZE, 1, service.MAX_PAGE_SIZE, "invalid_page_size"
        ),
    )
    if params.get("service_request_id"):
        ids = [i.strip() for i in params["service_request_id"].split(",") if i.strip()]
        if len(ids) > service.MAX_IDS:
            raise Open311Error("too_many_ids")
        # An id that is not a number names no request: it matches nothing, like an unknown one.
        query.ids = [int(i) for i in ids if _number(i) and len(i) < 10]
        return query
    query.service_code = params.get("service_code") or None
    start = _moment(params["start_date"], tz) if params.get("start_date") else None
    end = _moment(params["end_date"], tz) if params.get("end_date") else None
    if start and end:
        if end < start:
            raise Open311Error("date_range_reversed")
        if end - start > service.MAX_SPAN:
            raise Open311Error("date_range_too_long")
    # One end alone reads the 90 days from (or up to) it, the spec's default span.
    if start and not end:
        end = start + service.MAX_SPAN
    if end and not start:
        start = end - service.MAX_SPAN
    query.start, query.end = start, end
    if params.get("status"):
        statuses = {s.strip() for s in params["status"].split(",")}
        if not statuses <= {"open", "closed"}:
            raise Open311Error("invalid_status")
        query.statuses = statuses
    return query


def _extensions(params: dict[str, str]) -> bool:
    return params.get("extensions", "").lower() == "true"


@get("/{name:str}")
async def resource(
    request: Request[Any, Any, Any],
    name: Name,
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    """`discovery`, `services` and `requests`, each `.json` or `.xml`."""
    stem, fmt = _format(name)
    params = _params(request)
    if stem == "discovery":
        return respond(fmt, "discovery", _discovery(request))
    if stem == "services":
        return respond(fmt, "services", [_service(c) for c in await service.services(session)])
    if stem == "requests":
        street = await _street_for_reading(session, params)
        found = await service.list_requests(session, street, _query(params, settings.tz))
        return respond(
            fmt, "service_requests", await _requests(session, list(found), settings.tz, _extensions(params))
        )
    if stem == "tokens":
        raise Open311Error("tokens_not_supported")
    raise Open311Error("unknown_resource")


def _discovery(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "The street office that issued your api_key.",
        "key_service": "api_key is issued by the street office's administrators on the desk (/desk/open311). "
        "There is no tokens/{token}: every service is realtime.",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": str(request.base_url).rstrip("/") + PATH,
                "changeset": CHANGESET,
                "type": "production",
                "formats": list(FORMATS.values()),
            }
        ],
    }


def _service(category: Any) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": category.name_en,
        # No category defines attributes, so no service needs its definition read.
        "metadata": False,
        "type": "realtime",
        "keywords": category.name_en,
        "group": "",
    }


@get("/services/{name:str}")
async def service_definition(name: Name, session: NamedDependency[AsyncSession]) -> Response[bytes]:
    code, fmt = _format(name)
    category = await service.service(session, code)
    return respond(fmt, "service_definition", {"service_code": category.code, "attributes": []})


@get("/requests/{name:str}")
async def one_request(
    request: Request[Any, Any, Any],
    name: Name,
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[bytes]:
    stem, fmt = _format(name)
    params = _params(request)
    street = await _street_for_reading(session, params)
    if not _number(stem) or len(stem) > 9:
        raise Open311Error("service_request_not_found")
    order = await service.get_request(session, street, int(stem))
    return respond(
        fmt, "service_requests", await _requests(session, [order], settings.tz, _extensions(params))
    )


@post("/{name:str}", status_code=200)
async def create_request(
    request: Request[Any, Any, Any],
    name: Name,
    session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    now: NamedDependency[datetime],
) -> Response[bytes]:
    """POST requests: the form's fields as the spec names them; `attribute[code]` for attributes."""
    stem, fmt = _format(name)
    if stem != "requests":
        raise Open311Error("unknown_resource")
    form = await request.form()
    fields = {k: str(v) for k, v in form.items()}
    key = await service.key_in_use(session, fields.get("api_key"))
    code = fields.get("jurisdiction_id", "").strip()
    if code and code != key.street.code:
        raise Open311Error("jurisdiction_mismatch")
    claim = await _claim(request, session, key, now)
    data = service.NewRequest(
        **{f: fields.get(f, "").strip() if f != "description" else fields.get(f, "") for f in _TEXT_FIELDS},
        attributes={
            k[len("attribute[") : -1]: [str(v) for v in form.getall(k)]
            for k in form
            if k.startswith("attribute[") and k.endswith("]")
        },
    )
    order_id = await service.post_request(session, key, data, now, max_open=settings.open_orders_per_resident)
    answer = respond(
        fmt,
        "service_requests",
        [{"service_request_id": str(order_id), "service_notice": service.SERVICE_NOTICE, "account_id": ""}],
    )
    if claim is not None:
        await idempotency.finish(
            session, claim, idempotency.StoredResponse(200, answer.media_type, answer.content)
        )
    return answer


_TEXT_FIELDS = (
    "service_code",
    "address_id",
    "address_string",
    "lat",
    "long",
    "description",
    "phone",
    "first_name",
    "last_name",
)


async def _claim(
    request: Request[Any, Any, Any], session: AsyncSession, key: Open311Key, now: datetime
) -> idempotency.IdempotencyRecord | None:
    """Claim the client's idempotency key for this api_key (the same request sent twice at once
    makes one order; the second is answered with the first's response). Keys belong to their
    caller: an api_key is `-id`, never a person's id."""
    sent = next((request.headers[h] for h in IDEMPOTENCY_HEADERS if h in request.headers), None)
    if sent is None:
        return None
    fingerprint = idempotency.fingerprint(request.method, request.url.path, await request.body())
    return await idempotency.claim(session, -key.id, sent, fingerprint, now)


def open311_router() -> Router:
    handlers = {Open311Error: errors_response, MarketError: errors_response, HTTPException: errors_response}
    return Router(
        path=PATH,
        route_handlers=[resource, service_definition, one_request, create_request],
        exception_handlers={**handlers, Exception: errors_response},
        include_in_schema=False,
    )

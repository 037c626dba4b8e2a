"""Open311 GeoReport v2: the keys integrating systems post with, and service requests as orders.

A service request is an order entered for a resident (代下单, `orders.service.enter_order`), the
key's issuer entering it and the key's system name recorded as its channel; the reporter is the
resident with the given phone, or a new resident without a password. What Open311 reads of it is
public, so it never names a person: the place down to the compound, the description, the status.
Only orders that came in through Open311 are read there: residents who post on their own page or
phone their grid worker never agreed to publication.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import ancestors, get_area
from market.auth import service as auth
from market.auth.access import Actor
from market.auth.models import Role, User
from market.auth.schemas import Phone, UserCreate
from market.categories.models import ServiceCategory
from market.errors import Conflict, Forbidden, InvalidInput, NotFound
from market.fields import text
from market.open311.errors import CASES, Open311Error
from market.open311.models import Open311Key
from market.orders import service as orders
from market.orders.models import FINAL_STATUSES, Order, OrderAction, OrderChannel, OrderStatus, Urgency
from market.orders.schemas import OrderEntry

# A system's name is the channel its orders are recorded as (`Order.channel`, 16 characters).
SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9_]{1,15}$")
KEY_PREFIX = "o311_"
# A report asks for service as soon as it can be arranged: its window opens when it comes in and
# stays open this long (an order not taken by then expires, like any other).
REQUEST_WINDOW = timedelta(days=7)
MAX_SPAN = timedelta(days=90)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_IDS = 100
COMPOUND = code_length(AreaLevel.compound)
PLACES = (AreaLevel.compound, AreaLevel.building)

Description = text(1000, required=True)
PersonName = text(50, required=True)

# The product's order states in Open311's two: open while the service is yet to be done, closed
# once it is done (completed, confirmed) or will not be (rejected, cancelled, expired). A
# confirmed order the resident reopens is open again.
CLOSED_STATUSES = frozenset(FINAL_STATUSES | {OrderStatus.completed})
OPEN_STATUSES = frozenset(OrderStatus) - CLOSED_STATUSES

# `status_notes`: what the latest event of the order says, in words that name nobody.
STATUS_NOTES: dict[str, str] = {
    OrderAction.post: "Received; waiting to be dispatched to a volunteer.",
    OrderAction.dispatch: "Offered to volunteers; waiting for one to accept.",
    OrderAction.accept: "A volunteer has accepted and will come in the service window.",
    OrderAction.claim: "A volunteer has taken it on and will come in the service window.",
    OrderAction.requeue: "No volunteer accepted in time; waiting to be dispatched again.",
    OrderAction.check_in: "A volunteer is on site.",
    OrderAction.check_out: "The volunteer has left the site.",
    OrderAction.complete: "The service is done.",
    OrderAction.confirm: "The service is done and confirmed.",
    OrderAction.reject: "Rejected by the community.",
    OrderAction.cancel: "Cancelled.",
    OrderAction.expire: "Expired: no volunteer could be found in the service window.",
    OrderAction.reopen: "Reopened; waiting to be dispatched again.",
    OrderAction.escalate: "Taking longer than expected; the office has been told.",
    OrderAction.pass_preferred: "Waiting to be dispatched to a volunteer.",
    OrderAction.hurry: "Asked to hurry; the grid worker has been told.",
}
SERVICE_NOTICE = "A community volunteer is dispatched; the request stays open until the service is done."


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def status_notes(action: str) -> str:
    return STATUS_NOTES.get(action, "")


# ---------------------------------------------------------------- keys (the desk)


async def issue_key(
    session: AsyncSession, actor: Actor, street_id: int, system: str, now: datetime
) -> tuple[Open311Key, str]:
    """Issue a key for a system to post into a street; the key itself is returned once, only its
    hash is kept."""
    street = await get_area(session, street_id)
    if street.level != AreaLevel.street:
        raise InvalidInput("Choose a street: a key's jurisdiction is a street.", code="street_required")
    if not actor.manages(street.code):
        raise Forbidden("That street is outside your area.", code="outside_your_area")
    system = system.strip()
    if not SYSTEM_NAME.match(system) or system in set(OrderChannel):
        raise InvalidInput(
            "A system's name is 2 to 16 lower-case letters, digits or _, starting with a letter, "
            "and not a channel's own name.",
            code="invalid_system_name",
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = Open311Key(
        street_id=street.id,
        system=system,
        key_hash=hash_key(secret),
        key_prefix=secret[:12],
        issued_by_id=actor.id,
        created_at=now,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def list_keys(session: AsyncSession, actor: Actor) -> Sequence[Open311Key]:
    """The keys of the streets the actor manages, newest first."""
    return (
        await session.scalars(
            select(Open311Key)
            .join(Area, Area.id == Open311Key.street_id)
            .where(Area.code.startswith(actor.area_code))
            .options(joinedload(Open311Key.street))
            .order_by(Open311Key.id.desc())
        )
    ).all()


async def revoke_key(session: AsyncSession, actor: Actor, key_id: int, now: datetime) -> Open311Key:
    key = await session.scalar(
        select(Open311Key)
        .where(Open311Key.id == key_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    street = await session.get(Area, key.street_id) if key else None
    if key is None or street is None or not actor.manages(street.code):
        raise NotFound(f"Key {key_id} does not exist.", code="api_key_not_found")
    if key.revoked_at is not None:
        raise Conflict("This key is revoked already.", code="api_key_revoked")
    key.revoked_at = now
    key.revoked_by_id = actor.id
    return key


async def streets_to_issue(session: AsyncSession, actor: Actor) -> Sequence[Area]:
    return (
        await session.scalars(
            select(Area)
            .where(Area.level == AreaLevel.street, Area.code.startswith(actor.area_code))
            .order_by(Area.code)
        )
    ).all()


# ---------------------------------------------------------------- Open311


async def key_in_use(session: AsyncSession, secret: str | None) -> Open311Key:
    if not secret:
        raise Open311Error("api_key_missing")
    key = await session.scalar(
        select(Open311Key)
        .where(Open311Key.key_hash == hash_key(secret))
        .options(joinedload(Open311Key.street))
    )
    if key is None or key.revoked_at is not None:
        raise Open311Error("api_key_invalid")
    return key


async def jurisdiction(session: AsyncSession, code: str) -> Area:
    street = await session.scalar(select(Area).where(Area.code == code, Area.level == AreaLevel.street))
    if street is None:
        raise Open311Error("jurisdiction_not_found")
    return street


async def services(session: AsyncSession) -> Sequence[ServiceCategory]:
    return (
        await session.scalars(
            select(ServiceCategory).where(ServiceCategory.is_active).order_by(ServiceCategory.code)
        )
    ).all()


async def service(session: AsyncSession, code: str, *, status: int | None = None) -> ServiceCategory:
    category = await session.get(ServiceCategory, code)
    if category is None or not category.is_active:
        raise Open311Error("service_code_not_found", status=status)
    return category


@dataclass
class NewRequest:
    """POST requests' parameters, as sent (all text)."""

    service_code: str = ""
    address_id: str = ""
    address_string: str = ""
    lat: str = ""
    long: str = ""
    description: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    # `attribute[code]` → values
    attributes: dict[str, list[str]] = field(default_factory=dict)


async def _place(session: AsyncSession, street: Area, data: NewRequest) -> Area:
    """The building or compound the request is about, inside the street."""
    in_street = (Area.code.startswith(street.code), Area.level.in_(PLACES))
    if data.address_id:
        place = await session.scalar(select(Area).where(Area.code == data.address_id, *in_street))
        if place is None:
            raise Open311Error("address_id_not_found")
        return place
    if data.address_string:
        wanted = data.address_string.strip()
        found = (
            await session.scalars(
                select(Area).where(or_(Area.code == wanted, Area.name == wanted), *in_street).limit(2)
            )
        ).all()
        if not found:
            raise Open311Error("address_string_not_found")
        if len(found) > 1:
            raise Open311Error("address_string_ambiguous")
        return found[0]
    if data.lat or data.long:
        raise Open311Error("lat_long_not_supported")
    raise Open311Error("location_required")


def _checked(value: str, kind: object, case: str) -> str:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as error:
        raise Open311Error(case, f"{CASES[case][1]} ({error})") from error


async def _resident_here(session: AsyncSession, street: Area, phone: str) -> User | None:
    """The account with the phone, when it is an active resident of the street; None when there is
    none (`reporter_elsewhere` when it is someone else's)."""
    user = await session.scalar(
        select(User).where(User.phone == phone).options(joinedload(User.area), selectinload(User.role_rows))
    )
    if user is not None and (
        not user.is_active
        or Role.resident not in user.roles
        or user.area is None
        or not user.area.code.startswith(street.code)
    ):
        raise Open311Error("reporter_elsewhere")
    return user


async def _reporter(
    session: AsyncSession, issuer: Actor, street: Area, data: NewRequest, place: Area, now: datetime
) -> User:
    """The resident with the reporter's phone, or a new one living at the place, without a password."""
    if not data.phone.strip():
        raise Open311Error("phone_required")
    phone = _checked(data.phone.strip(), Phone, "phone_required")
    user = await _resident_here(session, street, phone)
    if user is not None:
        return user
    first, last = data.first_name.strip(), data.last_name.strip()
    # Chinese names are written family name first, without a space.
    name = f"{first} {last}".strip() if (first + last).isascii() else last + first
    if not name:
        raise Open311Error("name_required")
    name = _checked(name, PersonName, "invalid_value")
    new = UserCreate(phone=phone, name=name, password=None, roles=[Role.resident], area_id=place.id)
    try:
        # A savepoint: when the phone is taken the transaction goes on, to read who took it.
        async with session.begin_nested():
            return await auth.create_user(session, issuer, new, now)
    except Conflict as error:
        # Two requests of a new reporter at once: the other one registered them a moment ago.
        if error.code != "phone_taken" or (user := await _resident_here(session, street, phone)) is None:
            raise
        return user


async def post_request(
    session: AsyncSession, key: Open311Key, data: NewRequest, now: datetime, *, max_open: int
) -> int:
    """Enter the request as an order for the reporter, as the key's issuer would at the desk: its id."""
    street = key.street
    issuer = await auth.load_actor(session, key.issued_by_id)
    if issuer is None or not issuer.manages(street.code):
        raise Open311Error("api_key_lapsed")
    if not data.service_code:
        raise Open311Error("service_code_required")
    category = await service(session, data.service_code, status=400)
    if data.attributes:
        # No category defines attributes (see `service_definition`).
        raise Open311Error("attribute_not_defined")
    place = await _place(session, street, data)
    if not data.description.strip():
        raise Open311Error("description_required")
    description = _checked(data.description, Description, "invalid_value")
    reporter = await _reporter(session, issuer, street, data, place, now)
    entry = OrderEntry(
        category=category.code,
        description=description,
        area_id=place.id,
        window_start=now,
        window_end=now + REQUEST_WINDOW,
        urgency=Urgency.normal,
        resident_id=reporter.id,
        channel=key.system,
    )
    order_id = await orders.enter_order(session, issuer, entry, now, max_open=max_open, via=key.system)
    key.last_used_at = now
    return order_id


@dataclass
class RequestQuery:
    ids: list[int] | None = None
    service_code: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: set[str] | None = None
    page: int = 1
    page_size: int = PAGE_SIZE


def _through_open311(street: Area):
    """The street's orders that came in through one of its Open311 systems."""
    systems = select(Open311Key.system).where(Open311Key.street_id == street.id)
    return Order.area_code.startswith(street.code), Order.channel.in_(systems)


async def list_requests(session: AsyncSession, street: Area, query: RequestQuery) -> Sequence[Order]:
    stmt = select(Order).where(*_through_open311(street)).options(selectinload(Order.events))
    if query.ids is not None:
        # The spec: a list of ids overrides every other filter.
        stmt = stmt.where(Order.id.in_(query.ids)).order_by(Order.id)
    else:
        if query.service_code:
            stmt = stmt.where(Order.category_code == query.service_code)
        if query.start is not None:
            stmt = stmt.where(Order.created_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(Order.created_at <= query.end)
        if query.statuses and len(query.statuses) == 1:
            wanted = OPEN_STATUSES if "open" in query.statuses else CLOSED_STATUSES
            stmt = stmt.where(Order.status.in_(sorted(wanted)))
        stmt = stmt.order_by(Order.created_at.desc(), Order.id.desc())
    stmt = stmt.limit(query.page_size).offset((query.page - 1) * query.page_size)
    return (await session.scalars(stmt)).all()


async def get_request(session: AsyncSession, street: Area, request_id: int) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.id == request_id, *_through_open311(street))
        .options(selectinload(Order.events))
    )
    if order is None:
        raise Open311Error("service_request_not_found")
    return order


async def count_requests(session: AsyncSession, street: Area) -> int:
    return await session.scalar(select(func.count(Order.id)).where(*_through_open311(street))) or 0


async def places_of(session: AsyncSession, found: Sequence[Order]) -> dict[str, Area]:
    """The compounds of the orders and the areas above them, by code."""
    return await ancestors(session, {o.area_code[:COMPOUND] for o in found})


async def category_names(session: AsyncSession) -> dict[str, str]:
    return {c.code: c.name_zh for c in await session.scalars(select(ServiceCategory))}

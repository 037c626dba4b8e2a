"""The order flow: post → dispatch → accept → check in/out → complete → confirm.

Every change locks the order row first (SELECT … FOR UPDATE on PostgreSQL; the
whole transaction is BEGIN IMMEDIATE on SQLite), re-reads it, checks the state
machine and records an event, so two people pressing a button at once cannot
both succeed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from operator import itemgetter
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Insert,
    Row,
    Select,
    Update,
    bindparam,
    case,
    func,
    insert,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, join
from sqlalchemy.sql.dml import ReturningInsert, ReturningUpdate

from market.areas.models import Area, AreaLevel, code_length, community_code_of
from market.areas.service import found_area, get_area
from market.auth.access import Actor
from market.auth.models import Role, User
from market.auth.service import actor_of, get_visible_user, holders
from market.categories.service import ACTIVE_CATEGORY, check_active_category
from market.clock import shifted
from market.db import connection_of, in_subquery, keep_loaded, lock_rows, one_of, read_columns, sync_loaded
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, Unprocessable
from market.followups import service as followups
from market.ledger import service as ledger
from market.ledger.models import TransferCode
from market.notifications.models import NotificationCode
from market.notifications.service import (
    leave,
    leave_on,
    message,
    message_for_each,
    message_parameters,
    notify,
)
from market.orders.models import (
    ENTERED_CHANNELS,
    ESCALATION_RANK,
    FINAL_STATUSES,
    HELD_STATUSES,
    OFFER_MACHINE,
    ORDER_MACHINE,
    EscalationLevel,
    Offer,
    OfferAction,
    OfferStatus,
    Order,
    OrderAction,
    OrderChannel,
    OrderEvent,
    OrderStatus,
    ServiceReward,
    Urgency,
)
from market.orders.schemas import (
    AreaRef,
    ConfirmRequest,
    EventRead,
    OfferSummary,
    OrderCreate,
    OrderDetail,
    OrderEntry,
    OrderFilters,
    OrderRead,
    ReopenRequest,
    ServiceRewardRead,
)
from market.pagination import page_total
from market.privacy import Mask, PersonRef, mask_name, mask_phone, person_ref
from market.settings import Settings
from market.volunteers.service import load_profile, room_for_another

S = OrderStatus

A = OrderAction
# Actions whose event note, when a person took them, is what they typed (a reason, a comment); the
# other notes, and those of the jobs (no actor), are the system's English remarks the action already says.
TYPED_NOTES = frozenset({A.cancel, A.reject, A.complete, A.confirm, A.reopen})

COMPOUND = code_length(AreaLevel.compound)
MAX_WINDOW = timedelta(days=14)
MAX_LEAD_TIME = timedelta(days=90)
MAX_POOL = 20
# Check-in opens this long before the order's time window starts, and closes when it ends.
CHECK_IN_OPENS_BEFORE = timedelta(minutes=30)
# Service hours count inside the order's time window, give or take this much.
HOURS_TOLERANCE = timedelta(minutes=15)
# Why fewer points were paid than the hours served would earn: the hours `reckon_hours` leaves out,
# and the points policy's caps (`ledger.capped_reward`).
REWARD_REASONS = ("started_early", "ran_over", "window_length", *ledger.CAP_REASONS)
# A resident may hurry (催办) an order along once in this long: each press reaches the grid worker.
HURRY_INTERVAL = timedelta(hours=4)
# While the resident sees the volunteer's phone: from the accept until they confirm the service.
CONTACT_STATUSES = HELD_STATUSES | {S.completed}
# How long after confirming an order its resident may reopen it.
REOPEN_WINDOW = timedelta(days=7)


# ---------------------------------------------------------------- state machine


class LockedOrder(msgspec.Struct, frozen=True):
    """An order as a step reads it under its lock, as plain values (`LOCKED_ORDER_COLUMNS`): what a
    step, its message and what follows it read of it. Loading the order as an object of the session
    cost a tenth of an accept's CPU; the session's object, if it holds one, still takes the step's
    values (`keep_loaded`), but this copy does not: one step is taken on it."""

    id: int
    status: OrderStatus
    requester_id: int
    volunteer_id: int | None
    area_code: str


class LockedOffer(msgspec.Struct, frozen=True):
    """An offer as its answer reads it under its order's lock (`LOCKED_OFFER_COLUMNS`)."""

    id: int
    status: OfferStatus
    volunteer_id: int
    expires_at: datetime


LOCKED_ORDER_COLUMNS = tuple(Order.__table__.c[name] for name in LockedOrder.__struct_fields__)
LOCKED_OFFER_COLUMNS = tuple(Offer.__table__.c[name] for name in LockedOffer.__struct_fields__)


async def transition(
    session: AsyncSession,
    order: Order | LockedOrder,
    action: OrderAction,
    actor_id: int | None,
    now: datetime,
    note: str = "",
    *,
    if_room: bool = False,
    told: dict[str, Any] | None = None,
    closing: dict[str, Any] | None = None,
    **columns: Any,
) -> bool:
    """Move the order as `ORDER_MACHINE` says (or refuse), with the `columns` that change with the
    step, and record the event. With it go `told`, the resident's message of the step
    (`told_resident`), and `closing`, its pending offers closed (`offers_closed`). With `if_room`,
    only while the volunteer the step gives the order (`volunteer_id`) has room for another:
    whether it moved."""
    target = ORDER_MACHINE.next(order.status, action)
    if target == S.accepted:
        columns["accepted_at"] = now
    return await _record(
        session,
        order,
        action,
        actor_id,
        now,
        note,
        if_room=if_room,
        told=told,
        closing=closing,
        status=target,
        **columns,
    )


async def event(
    session: AsyncSession,
    order: Order | LockedOrder,
    action: OrderAction,
    actor_id: int | None,
    now: datetime,
    note: str = "",
    *,
    told: dict[str, Any] | None = None,
    **columns: Any,
) -> None:
    """An event that leaves the order's state as it is (escalated, a preference passed over, hurried),
    with the `columns` that change with it, and `told` as `transition`'s. The order was still
    updated: its history grew."""
    await _record(session, order, action, actor_id, now, note, told=told, **columns)


async def _record(
    session: AsyncSession,
    order: Order | LockedOrder,
    action: OrderAction,
    actor_id: int | None,
    now: datetime,
    note: str,
    *,
    if_room: bool = False,
    told: dict[str, Any] | None = None,
    closing: dict[str, Any] | None = None,
    **columns: Any,
) -> bool:
    values = {"updated_at": now, **columns}
    changed = {"row_id": order.id} | {f"set_{key}": value for key, value in values.items()}
    recorded = {
        "actor_id": actor_id,
        "action": action,
        "from_status": order.status,
        "to_status": columns.get("status", order.status),
        "note": note,
        "at": now,
    }
    connection = await connection_of(session)
    closed: list[Row[Any]]
    if _changes_with_their_events(session):
        # The parameters of the order's change, its event, the message and the offers' closing have
        # distinct names.
        statement = _moved_with_event(frozenset(values), if_room, told is not None, closing is not None)
        message = message_parameters(told) if told is not None else {}
        rows = (
            await connection.execute(statement, {**changed, **recorded, **message, **(closing or {})})
        ).all()
        moved = bool(rows)
        closed = [row for row in rows if row.id is not None]
    else:
        moved, closed = await connection.run_sync(
            _moved_one_by_one, order.id, frozenset(values), if_room, changed, recorded, told, closing
        )
    if moved:
        keep_loaded(session, Order, order.id, values)
        if closing is not None:
            _sync_closed(session, order.id, closing, closed)
    return moved


def _moved_one_by_one(
    connection: Connection,
    order_id: int,
    changed_columns: frozenset[str],
    if_room: bool,
    changed: dict[str, Any],
    recorded: dict[str, Any],
    told: dict[str, Any] | None,
    closing: dict[str, Any] | None,
) -> tuple[bool, list[Row[Any]]]:
    """What `_moved_with_event` does in one statement, step by step for SQLite: the order's UPDATE,
    then, if it moved, its event, the message and the offers' closing, one after another in one
    call from the event loop (`run_sync`): one greenlet's switch for the four instead of one each,
    1% of an accept's CPU."""
    if connection.execute(_order_update(changed_columns, if_room), changed).rowcount != 1:
        return False, []
    connection.execute(_new_event(), {"order_id": order_id, **recorded})
    if told is not None:
        leave_on(connection, [told])
    if closing is None:
        return True, []
    return True, connection.execute(_offers_closing(), {"row_id": order_id, **closing}).all()


def _sync_closed(
    session: AsyncSession, order_id: int, closing: dict[str, Any], closed: list[Row[Any]]
) -> None:
    """Give the session's objects of the offers closed their new state."""
    accepted_id = closing["accepted_offer_id"]
    if accepted_id is not None and accepted_id not in {row.id for row in closed}:
        # Every change of an offer locks its order first: one read pending under that lock still is.
        raise RuntimeError(f"Offer {accepted_id} was not pending on order {order_id} to accept.")
    sync_loaded(session, Offer, closed, ("status", "responded_at"))


async def _write_offer(session: AsyncSession, offer: Offer | LockedOffer, **values: Any) -> None:
    """Change an offer's columns with one UPDATE on the transaction's connection, and give the
    session's object of it, if it holds one, the values as its committed state (`keep_loaded`)."""
    await (await connection_of(session)).execute(_offer_update(), {"row_id": offer.id, **values})
    keep_loaded(session, Offer, offer.id, values)


def told_resident(
    order: Order | LockedOrder, code: NotificationCode, now: datetime, **params: Any
) -> dict[str, Any]:
    """The message telling the resident of a step of their order: `transition` and `event` leave it
    with the step (their `told`), in the transaction that takes it."""
    return _requester_message(order.requester_id, order.id, code, now, **params)


def _requester_message(
    requester_id: int, order_id: int, code: NotificationCode, now: datetime, **params: Any
) -> dict[str, Any]:
    """A message to the resident who posted the order, about it (its subject)."""
    return message(requester_id, code, now, subject=("order", order_id), order_id=order_id, **params)


async def hand_to(
    session: AsyncSession,
    order: Order | LockedOrder,
    action: OrderAction,
    volunteer: Actor,
    now: datetime,
    *,
    accepted: Offer | LockedOffer | None = None,
) -> None:
    """The volunteer takes the order (accepting the offer `accepted`, which closes the others, or
    claiming it from the board), if they hold fewer orders than their capacity: counted by the
    order's UPDATE, so the caller has locked their profile (as `lock_profile` does) for two takes
    of theirs to count one after the other. The resident is told who, by a masked name: they meet in
    person, but the inbox is no place for full names."""
    told = told_resident(order, NotificationCode.order_accepted, now, volunteer=mask_name(volunteer.name))
    closing = offers_closed(OfferAction.withdraw, now, accepted=accepted) if accepted else None
    if not await transition(
        session,
        order,
        action,
        volunteer.id,
        now,
        if_room=True,
        told=told,
        closing=closing,
        volunteer_id=volunteer.id,
    ):
        raise Conflict("You already hold as many orders as your capacity allows.", code="at_capacity")


# The statements every change of an order runs are built once, with their values as parameters:
# building one and its cache key costs ~0.1 ms, a few percent of a change.
@functools.cache
def _locked_order() -> Select[tuple[Order]]:
    stmt = select(Order).where(Order.id == bindparam("order_id")).with_for_update()
    return stmt.execution_options(populate_existing=True)


# Orders, their events and offers are written as plain statements: nothing reads a new one back as
# an object, and the ORM's unit of work for them (objects, collection, cascade, flush) made a fifth
# of a post's calls and a third of an accept's. `_offer_update`'s SET clause is its parameters'.
@functools.cache
def _new_order(given: tuple[str, ...]) -> ReturningInsert[tuple[int]]:
    """The new order, its `given` columns each from its parameter, written only while its requester
    has fewer than `max_open` orders open: the limit is read in the INSERT itself, which then writes
    no row (`_post_order`)."""
    orders = Order.__table__
    columns = [orders.c[key] for key in given]
    values = select(*(bindparam(column.key, type_=column.type) for column in columns))
    return insert(orders).from_select(columns, values.where(_fewer_open_than())).returning(orders.c.id)


@functools.cache
def _new_event() -> Insert:
    return insert(OrderEvent.__table__)


# An event's columns besides its order's id.
_RECORDED = ("actor_id", "action", "from_status", "to_status", "note", "at")


def _changes_with_their_events(session: AsyncSession) -> bool:
    """PostgreSQL runs an INSERT or an UPDATE inside WITH, SQLite does not: there, an order's change
    and the event recording it are one statement, one round trip fewer for every post and move."""
    return session.bind.dialect.name == "postgresql"


@functools.cache
def _posted_with_event(given: tuple[str, ...]) -> ReturningInsert[tuple[int]]:
    """`_new_order` and its event: the new order's id, or no row over the limit."""
    return _event_of(_new_order(given).cte("posted")).returning(OrderEvent.__table__.c.order_id)


@functools.cache
def _order_update(changed: frozenset[str], if_room: bool) -> Update:
    """The order's UPDATE of its `changed` columns (each from the parameter `set_<column>`); with
    `if_room`, only while the volunteer it is given to has room for another."""
    orders = Order.__table__
    new_values = {orders.c[key]: bindparam(f"set_{key}", type_=orders.c[key].type) for key in sorted(changed)}
    moved = update(orders).where(orders.c.id == bindparam("row_id")).values(new_values)
    if if_room:
        moved = moved.where(room_for_another(new_values[orders.c.volunteer_id]))
    return moved


@functools.cache
def _moved_with_event(changed: frozenset[str], if_room: bool, told: bool, closing: bool) -> Select[Any]:
    """`_order_update`, its event and, if `told`, the resident's message and, if `closing`, its
    offers' closing (`_closing_offers`): no row when the order did not move, else one for each offer
    closed (`id`, `status`, `responded_at`), or one of NULLs."""
    moved = _order_update(changed, if_room).returning(Order.__table__.c.id).cte("moved")
    statement = select(moved.c.id.label("order_id")).add_cte(_event_of(moved).cte("recorded"))
    if told:
        statement = statement.add_cte(message_for_each(moved).cte("told"))
    closed = _closing_offers(select(moved.c.id).scalar_subquery()).cte("closed") if closing else None
    if closed is None:
        return statement.add_columns(*(null().label(key) for key in ("id", "status", "responded_at")))
    return statement.add_columns(*closed.c).select_from(moved.outerjoin(closed, true()))


def _event_of(changed_order: CTE) -> Insert:
    """The event (its `_RECORDED` as parameters) of the order the statement `changed_order`
    wrote."""
    events = OrderEvent.__table__
    given = select(changed_order.c.id, *(bindparam(key, type_=events.c[key].type) for key in _RECORDED))
    return insert(events).from_select(["order_id", *_RECORDED], given)


@functools.cache
def _offer_update() -> Update:
    offers = Offer.__table__
    return update(offers).where(offers.c.id == bindparam("row_id"))


def _closing_offers(order_id: ColumnElement[int]) -> ReturningUpdate[tuple[int, OfferStatus, datetime]]:
    """The order's pending offers closed (the parameters `offers_closed` gives)."""
    offers = Offer.__table__
    status = offers.c.status.type
    closing = update(offers).where(offers.c.order_id == order_id, offers.c.status == OfferStatus.pending)
    # The accepted offer, if any, takes its own status in the same statement.
    closing = closing.values(
        status=case(
            (offers.c.id == bindparam("accepted_offer_id"), bindparam("accepted_status", type_=status)),
            else_=bindparam("closed_status", type_=status),
        ),
        responded_at=bindparam("closed_at", type_=offers.c.responded_at.type),
    )
    return closing.returning(offers.c.id, offers.c.status, offers.c.responded_at)


@functools.cache
def _offers_closing() -> ReturningUpdate[tuple[int, OfferStatus, datetime]]:
    return _closing_offers(bindparam("row_id"))


@functools.cache
def _a_pending_offer() -> Select[tuple[int]]:
    pending = (Offer.order_id == bindparam("order_id"), Offer.status == OfferStatus.pending)
    return select(Offer.id).where(*pending).limit(1)


async def lock_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(_locked_order(), {"order_id": order_id})
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.", code="order_not_found")
    return order


def offers_closed(
    action: OfferAction, now: datetime, *, accepted: Offer | LockedOffer | None = None
) -> dict[str, Any]:
    """The order's pending offers withdrawn or expired as it moves (`transition`'s `closing`), and
    `accepted` (one of them) accepted instead: a volunteer took the order."""
    return {
        "closed_status": OFFER_MACHINE.next(OfferStatus.pending, action),
        "accepted_offer_id": accepted.id if accepted else None,
        "accepted_status": OFFER_MACHINE.next(accepted.status, OfferAction.accept) if accepted else None,
        "closed_at": now,
    }


async def answer_offer(
    session: AsyncSession, offer: Offer | LockedOffer, action: OfferAction, now: datetime, **columns: Any
) -> None:
    """The offer is declined or lapses, as `OFFER_MACHINE` says (or refuses); it is accepted with the
    others closed (`offers_closed`)."""
    status = OFFER_MACHINE.next(offer.status, action)
    await _write_offer(session, offer, status=status, responded_at=now, **columns)


async def requeue_if_unoffered(
    session: AsyncSession, order: Order | LockedOrder, now: datetime, note: str, actor_id: int | None = None
) -> bool:
    """A dispatched order with no pending offer left waits to be dispatched again: whether it does."""
    if ORDER_MACHINE.allows(order.status, A.requeue) and (
        await session.scalar(_a_pending_offer(), {"order_id": order.id}) is None
    ):
        return await transition(session, order, A.requeue, actor_id, now, note)
    return False


# ---------------------------------------------------------------- visibility and views


def _visible_to(session: AsyncSession, actor: Actor) -> ColumnElement[bool] | None:
    """Which orders the actor sees (None: every order, for an administrator)."""
    return _seen_by(_viewer_kind(session, actor), actor.id, actor.area_code)


# What decides which orders a viewer sees: (on PostgreSQL, administrator, volunteer, manager).
ViewerKind = tuple[bool, bool, bool, bool]


def _viewer_kind(session: AsyncSession, actor: Actor) -> ViewerKind:
    postgres = session.get_bind().dialect.name == "postgresql"
    return postgres, actor.is_admin, actor.has(Role.volunteer), actor.is_manager


def _viewer(actor: Actor) -> dict[str, Any]:
    """The values of the parameters the statements built once for a kind of viewer take
    (`bindparam("viewer_id")`, `bindparam("viewer_area")` given to `_seen_by`)."""
    return {"viewer_id": actor.id, "viewer_area": actor.area_code}


def _seen_by(kind: ViewerKind, viewer: Any, area_code: Any) -> ColumnElement[bool] | None:
    """The orders a viewer (`viewer`, an id, of `area_code`; values or parameters) sees: every order
    (None) as an administrator; else their own, and as a volunteer those they hold or were
    offered, and as a manager their area's."""
    postgres, admin, volunteer, manager = kind
    if admin:
        return None
    conditions = [Order.requester_id == viewer]
    if volunteer:
        conditions.append(Order.volunteer_id == viewer)
        offered = select(Offer.order_id).where(Offer.volunteer_id == viewer)
        conditions.append(in_subquery(Order.id, offered, postgres))
    if manager:
        conditions.append(Order.area_code.startswith(area_code))
    return or_(*conditions)


class PersonView(msgspec.Struct, frozen=True):
    id: int
    name: str
    phone: str


class AreaView(msgspec.Struct, frozen=True):
    id: int
    code: str
    name: str
    level: AreaLevel
    # The area it lies in, when it has one: a building's compound.
    parent: AreaView | None = None


class OrderView(msgspec.Struct, frozen=True):
    """An order as its readers see it, with the people and the place it names: what `_order_read`
    and the masking rules read. It is read as plain rows (`order_view_select`): loading the same as
    ORM objects (the order and five joined rows) set up their loaders anew on every read: ~0.2 ms
    of a ~1.3 ms order page."""

    id: int
    status: OrderStatus
    requester_id: int
    volunteer_id: int | None
    area_code: str
    category_code: str
    description: str
    urgency: Urgency
    window_start: datetime
    window_end: datetime
    address_detail: str
    created_at: datetime
    updated_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    completed_at: datetime | None
    confirmed_at: datetime | None
    rating: int | None
    comment: str | None
    escalation_level: EscalationLevel | None
    escalated_at: datetime | None
    channel: OrderChannel
    # Read from their own rows (the last fields, see `order_view`).
    requester: PersonView
    volunteer: PersonView | None
    entered_by: PersonView | None
    area: AreaView


_RELATED = ("requester", "volunteer", "entered_by", "area")
# The order's own columns, in the order of `OrderView`'s fields.
_OWN = tuple(name for name in OrderView.__struct_fields__ if name not in _RELATED)
assert OrderView.__struct_fields__[len(_OWN) :] == _RELATED
_PERSON = PersonView.__struct_fields__
_AREA = tuple(name for name in AreaView.__struct_fields__ if name != "parent")
_requester, _volunteer, _entered_by = aliased(User), aliased(User), aliased(User)
_area, _parent = aliased(Area), aliased(Area)


def _looked_up(row: Any, key: ColumnElement[int], names: tuple[str, ...]) -> list[ColumnElement[Any]]:
    """The `names` columns (the id first) of the `row` (an alias) whose id is `key`: the id is `key`
    itself, and each other column its own scalar subquery, NULL where `key` is."""
    id_name, *others = names
    assert id_name == "id", names
    found = [select(getattr(row, name)).where(row.id == key).correlate_except(row) for name in others]
    return [key.label(None), *(column.scalar_subquery() for column in found)]


# The order's volunteer, who entered it and its area's parent are read by subqueries, not left joins:
# PostgreSQL plans the joins of all seven tables again for every list it keeps no generic plan for,
# 3.7-4.5 ms a request (a volunteer's offers before they were picked first, `dispatch.offers`), and
# 0.45 ms with these three as subqueries, each planned alone.
ORDER_VIEW_COLUMNS = (
    *(getattr(Order, name) for name in _OWN),
    *(getattr(_requester, name) for name in _PERSON),
    *_looked_up(_volunteer, Order.volunteer_id, _PERSON),
    *_looked_up(_entered_by, Order.entered_by_id, _PERSON),
    *(getattr(_area, name) for name in _AREA),
    *_looked_up(_parent, _area.parent_id, _AREA),
)


def order_view_select(*columns: Any, start: Any = Order) -> Select[Any]:
    """SELECT `columns` (if any: they come first in each row) and then the `OrderView` columns, last
    (`order_view` reads them from the end of the row), from `start` (Order, or a join ending in it)
    joined to the order's requester and area.
    A row each: an order has one of each. Its columns are mapped ones, so the session flushes what a
    change left pending before it runs, as for any ORM statement."""
    return (
        select(*columns, *ORDER_VIEW_COLUMNS)
        .select_from(start)
        .join(_requester, _requester.id == Order.requester_id)
        .join(_area, _area.id == Order.area_id)
    )


def _person_or_none(values: Sequence[Any]) -> PersonView | None:
    return None if values[0] is None else PersonView(*values)


def order_view(row: Sequence[Any]) -> OrderView:
    """The `OrderView` in a row of `order_view_select`: its last columns, whatever comes before."""
    skip = len(row) - len(ORDER_VIEW_COLUMNS)
    own, person, area = skip + len(_OWN), len(_PERSON), len(_AREA)
    volunteer, entered_by, places = own + person, own + 2 * person, own + 3 * person
    parent = row[places + area : places + 2 * area]
    return OrderView(
        *row[skip:own],
        requester=PersonView(*row[own:volunteer]),
        volunteer=_person_or_none(row[volunteer:entered_by]),
        entered_by=_person_or_none(row[entered_by:places]),
        area=AreaView(*row[places : places + area], parent=None if parent[0] is None else AreaView(*parent)),
    )


async def order_views(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any] | None = None
) -> list[OrderView]:
    """The orders an `order_view_select` statement reads."""
    return [order_view(row) for row in await read_columns(session, stmt, params)]


def _full_view(order: Order | OrderView, actor: Actor) -> bool:
    """Who sees the resident's phone, name and exact address."""
    if order.requester_id == actor.id or actor.manages(order.area_code):
        return True
    return order.volunteer_id == actor.id and order.status in (HELD_STATUSES | {S.completed})


def _in_a_building(order: OrderView) -> bool:
    """Whether the order is for a building (else a compound): a masked view names the compound only."""
    return len(order.area_code) > COMPOUND


def _resident_mask(order: OrderView, actor: Actor) -> Mask | None:
    """How the actor's view masks the resident, in fields and free text; None: a full view."""
    if _full_view(order, actor):
        return None
    building = (order.area.name,) if _in_a_building(order) else ()
    return Mask(
        order.requester.name, order.requester.phone, (*building, order.address_detail), order.requester_id
    )


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 2)


def reckon_hours(order: Order | OrderView) -> tuple[float, float, list[str]] | None:
    """(hours served, hours that count, why fewer count) once the volunteer checked out.

    Only time inside the order's window counts, give or take HOURS_TOLERANCE, and never more than
    the window is long: an early start or a long overrun earns nothing beyond what was asked for.
    """
    if order.checked_in_at is None or order.checked_out_at is None:
        return None
    start = max(order.checked_in_at, order.window_start - HOURS_TOLERANCE)
    end = min(order.checked_out_at, order.window_end + HOURS_TOLERANCE)
    counted = max(end - start, timedelta(0))
    reasons = []
    if order.checked_in_at < start:
        reasons.append("started_early")
    if order.checked_out_at > end:
        reasons.append("ran_over")
    if counted > order.window_end - order.window_start:
        counted = order.window_end - order.window_start
        reasons.append("window_length")
    return _hours(order.checked_out_at - order.checked_in_at), _hours(counted), reasons


def _service_hours(order: OrderView) -> float | None:
    """The service record: the hours that count (see `reckon_hours`)."""
    reckoned = reckon_hours(order)
    return None if reckoned is None else reckoned[1]


def _volunteer_ref(order: OrderView, actor: Actor) -> PersonRef | None:
    """The volunteer holding the order; their phone is for themselves, the area's managers and,
    while the service is under way, the resident who asked for it."""
    volunteer = order.volunteer
    if volunteer is None:
        return None
    shown = (
        volunteer.id == actor.id
        or actor.manages(order.area_code)
        or (order.requester_id == actor.id and order.status in CONTACT_STATUSES)
    )
    return PersonRef(
        id=volunteer.id, name=volunteer.name, phone=volunteer.phone if shown else mask_phone(volunteer.phone)
    )


def _order_read(order: OrderView, actor: Actor) -> OrderRead:
    mask = _resident_mask(order, actor)
    full = mask is None
    # A building's parent is its compound.
    area = order.area.parent if not full and _in_a_building(order) else order.area
    requester = order.requester
    return OrderRead(
        id=order.id,
        status=order.status,
        category=order.category_code,
        description=order.description if full else mask(order.description),
        urgency=order.urgency,
        window_start=order.window_start,
        window_end=order.window_end,
        masked=not full,
        area=AreaRef(id=area.id, code=area.code, name=area.name, level=area.level),
        address_detail=order.address_detail if full else None,
        requester=person_ref(requester.id, requester.name, requester.phone, masked=not full),
        volunteer=_volunteer_ref(order, actor),
        created_at=order.created_at,
        updated_at=order.updated_at,
        checked_in_at=order.checked_in_at,
        checked_out_at=order.checked_out_at,
        completed_at=order.completed_at,
        confirmed_at=order.confirmed_at,
        service_hours=_service_hours(order),
        rating=order.rating,
        comment=order.comment if full or order.comment is None else mask(order.comment),
        escalation_level=order.escalation_level,
        escalated_at=order.escalated_at,
        channel=order.channel,
        entered_by=PersonRef(id=entered.id, name=entered.name, phone=entered.phone)
        if (entered := order.entered_by)
        else None,
    )


def order_reads(actor: Actor, orders: Sequence[OrderView]) -> list[OrderRead]:
    """The actor's view of orders (`order_views`)."""
    return [_order_read(o, actor) for o in orders]


_event_actor, _offer_volunteer = aliased(User), aliased(User)
_EVENT_COLUMNS = (
    OrderEvent.id,
    OrderEvent.action,
    OrderEvent.from_status,
    OrderEvent.to_status,
    OrderEvent.note,
    OrderEvent.at,
    OrderEvent.actor_id,
    _event_actor.name,
)
# `OfferSummary`'s fields in turn.
_OFFER_COLUMNS = tuple(
    _offer_volunteer.name if field == "volunteer_name" else getattr(Offer, field)
    for field in OfferSummary.__struct_fields__
)


def _nulls(columns: Sequence[Any]) -> list[Any]:
    """An empty value for each of `columns`, of its type: the rows of one part of a UNION leave the
    other part's columns empty, and the first part's types are what the results are read as."""
    return [type_coerce(null(), column.type).label(None) for column in columns]


def _sees_offers(kind: ViewerKind) -> bool:
    """Whether a kind of viewer may see offers on an order's page: an administrator, a manager (their
    area's orders) or a volunteer (their own). Anyone else sees only orders they asked for, and
    nobody is offered their own order."""
    _postgres, admin, volunteer, manager = kind
    return admin or volunteer or manager


# An order's page, its accept and its post all end here: the statement is built once for each kind
# of viewer, on first use (once the mappers are all known), with the order and the viewer as
# parameters. Building it and its cache key anew took ~0.3 ms a call, more than running it.
@functools.cache
def _order_page(kind: ViewerKind) -> Select[Any] | CompoundSelect:
    """The order's page in one statement, so one snapshot: the order (its `order_view_select`
    columns, last in every row) with a row for each event of its history and, for a viewer who may
    see offers (`_sees_offers`), a row for each offer they may see. Read in two, a move committed
    between them showed the order as it was beside its offers as they are."""
    _postgres, admin, _volunteer, manager = kind
    seen = _seen_by(kind, bindparam("viewer_id"), bindparam("viewer_area"))
    no_offer = _nulls(_OFFER_COLUMNS) if _sees_offers(kind) else []
    history = (
        order_view_select(*_EVENT_COLUMNS, *no_offer)
        .outerjoin(OrderEvent, OrderEvent.order_id == Order.id)
        .outerjoin(_event_actor, _event_actor.id == OrderEvent.actor_id)
        .where(Order.id == bindparam("order_id"))
    )
    if seen is not None:
        history = history.where(seen)
    if not _sees_offers(kind):
        return history
    offers = (
        order_view_select(
            *_nulls(_EVENT_COLUMNS), *_OFFER_COLUMNS, start=join(Offer, Order, Order.id == Offer.order_id)
        )
        .join(_offer_volunteer, _offer_volunteer.id == Offer.volunteer_id)
        .where(Offer.order_id == bindparam("order_id"))
    )
    if seen is not None:
        offers = offers.where(seen)
    if not admin:
        # Their own offers, and a manager their area's orders' (`_offers_shown` decides which they see).
        own = Offer.volunteer_id == bindparam("viewer_id")
        offers = offers.where(
            or_(own, Order.area_code.startswith(bindparam("viewer_area"))) if manager else own
        )
    return union_all(history, offers)


def _offers_shown(actor: Actor, order: OrderView, offers: list[OfferSummary]) -> list[OfferSummary]:
    """All the order's offers for its area's managers, their own for anyone else."""
    if actor.manages(order.area_code):
        return offers
    return [offer for offer in offers if offer.volunteer_id == actor.id]


async def get_order(session: AsyncSession, actor: Actor, order_id: int) -> OrderDetail:
    kind = _viewer_kind(session, actor)
    rows = (await read_columns(session, _order_page(kind), {"order_id": order_id, **_viewer(actor)})).all()
    if not rows:
        raise NotFound(f"Order {order_id} does not exist.", code="order_not_found")
    order = order_view(rows[0])
    history, offered = len(_EVENT_COLUMNS), len(_EVENT_COLUMNS) + len(_OFFER_COLUMNS)
    # An order with no history yet (none is made so) has one row of history, its event columns empty.
    events = sorted((row[:history] for row in rows if row[0] is not None), key=itemgetter(0))
    offers = []
    if _sees_offers(kind):
        offer_rows = (row[history:offered] for row in rows if row[history] is not None)
        offers = [OfferSummary(*offer) for offer in sorted(offer_rows, key=itemgetter(0))]
        offers = _offers_shown(actor, order, offers)
    (read,) = order_reads(actor, [order])
    # The history masks the resident as the order does: their name where they acted, and every note.
    mask = _resident_mask(order, actor)

    def hidden(actor_id: int | None) -> bool:
        return mask is not None and mask.hides(actor_id)

    return OrderDetail(
        **{f: getattr(read, f) for f in read.__struct_fields__},
        events=[
            EventRead(
                id=event_id,
                action=action,
                from_status=from_status,
                to_status=to_status,
                note=note if mask is None else mask(note),
                at=at,
                actor_id=None if hidden(actor_id) else actor_id,
                actor_name=mask_name(actor_name)
                if actor_name is not None and hidden(actor_id)
                else actor_name,
            )
            for event_id, action, from_status, to_status, note, at, actor_id, actor_name in events
        ],
        offers=offers,
    )


async def list_orders(
    session: AsyncSession,
    actor: Actor,
    tz: ZoneInfo,
    filters: OrderFilters,
    limit: int,
    offset: int,
    *,
    own: bool = False,
) -> tuple[list[OrderRead], int]:
    """Orders the actor may see, newest first; `own`: only those they posted (a resident's list)."""
    narrowing: dict[str, Any] = {}
    if filters.status is not None:
        narrowing["status"] = filters.status
    if filters.category is not None:
        narrowing["category"] = filters.category
    if filters.area_id is not None:
        narrowing["area_code"] = (await get_area(session, filters.area_id)).code
    if filters.date_from is not None:
        narrowing["window_from"] = datetime.combine(filters.date_from, time.min, tz)
    if filters.date_to is not None:
        narrowing["window_to"] = datetime.combine(filters.date_to + timedelta(days=1), time.min, tz)
    kind = _viewer_kind(session, actor)
    query, page = _orders_seen(kind, own, frozenset(narrowing), filters.escalated)
    params = {**narrowing, **_viewer(actor)}
    orders = await order_views(session, page, {**params, "limit": limit, "offset": offset})
    total = await page_total(session, query, limit, offset, len(orders), params)
    return order_reads(actor, orders), total


@functools.cache
def _orders_seen(
    kind: ViewerKind, own: bool, narrowed_by: frozenset[str], escalated: bool | None
) -> tuple[Select[tuple[Order]], Select[Any]]:
    """The orders a kind of viewer sees, narrowed by the named filters, and a page of them with
    what an order shows, newest first. Built once for each such shape, with the viewer, the filters'
    values and the page as parameters: building them and their cache keys cost more than running
    them on most people's lists."""
    query = select(Order)
    if (seen := _seen_by(kind, bindparam("viewer_id"), bindparam("viewer_area"))) is not None:
        query = query.where(seen)
    if own:
        query = query.where(Order.requester_id == bindparam("viewer_id"))
    if "status" in narrowed_by:
        query = query.where(Order.status == bindparam("status"))
    if "category" in narrowed_by:
        query = query.where(Order.category_code == bindparam("category"))
    if "area_code" in narrowed_by:
        query = query.where(Order.area_code.startswith(bindparam("area_code")))
    if "window_from" in narrowed_by:
        query = query.where(Order.window_start >= bindparam("window_from"))
    if "window_to" in narrowed_by:
        query = query.where(Order.window_start < bindparam("window_to"))
    if escalated is not None:
        is_escalated = Order.escalation_level.is_not(None)
        query = query.where(is_escalated if escalated else ~is_escalated)
    newest_first = (Order.created_at.desc(), Order.id.desc())
    # The page's ids first, then their rows: the joins are made for the page's orders alone, not for
    # every order the offset skips (a street's page 500 joined 10,000 orders: 55 ms, now 15).
    ids = query.with_only_columns(Order.id).order_by(*newest_first)
    ids = ids.limit(bindparam("limit")).offset(bindparam("offset"))
    page = order_view_select().where(Order.id.in_(ids)).order_by(*newest_first)
    return query, page


# ---------------------------------------------------------------- resident: post


# Where a service is ordered: a compound or a building of the resident's own community.
ORDER_PLACES = (AreaLevel.compound, AreaLevel.building)


@functools.cache
def _place_and_category() -> Select[tuple[int, str, AreaLevel, bool | None]]:
    """The place a post names (`area_id`), and whether its category takes orders: one statement."""
    return select(Area.id, Area.code, Area.level, ACTIVE_CATEGORY).where(Area.id == bindparam("area_id"))


async def order_areas(session: AsyncSession, actor: Actor) -> list[Area]:
    """The places `create_order` accepts from the actor, by code (each compound before its buildings)."""
    community = community_code_of(actor.area_code)
    if community is None:
        return []
    return list(
        await session.scalars(
            select(Area)
            .where(Area.code.startswith(community), Area.level.in_(ORDER_PLACES))
            .order_by(Area.code)
        )
    )


async def create_order(
    session: AsyncSession, actor: Actor, data: OrderCreate, now: datetime, *, max_open: int
) -> int:
    """Post an order (its id); a resident may have at most `max_open` orders open at once."""
    return await _post_order(session, actor, data, now, max_open=max_open)


async def enter_order(
    session: AsyncSession,
    actor: Actor,
    data: OrderEntry,
    now: datetime,
    *,
    max_open: int,
    via: str | None = None,
) -> int:
    """Enter an order (its id) for a resident of the actor's area who phoned, walked in or was met on
    a round (代下单). The order is the resident's own, under the same rules and limits as one they
    post themselves; it records who entered it and how it came in, and the resident is told.
    `via`: the name of the system the order came through (an Open311 client, acting for the actor
    who issued its key), recorded as the channel in place of `data.channel`."""
    if not actor.is_manager:
        raise Forbidden("Only grid workers and managers enter orders for residents.", code="manager_required")
    channel = data.channel if via is None else via
    if via is None and channel not in ENTERED_CHANNELS:
        raise InvalidInput(
            "An order entered for a resident came by phone, a visit or a round.", code="invalid_channel"
        )
    resident = await get_visible_user(session, actor, data.resident_id)
    if resident.area is None or not actor.manages(resident.area.code):
        raise Forbidden("This resident lives outside your area.", code="outside_your_area")
    if Role.resident not in resident.roles:
        raise Unprocessable(f"{resident.name} is not a resident.", code="not_a_resident")
    if not resident.is_active:
        raise Conflict(f"{resident.name}'s account is deactivated.", code="resident_inactive")
    area = await get_area(session, data.area_id)
    if not actor.manages(area.code):
        raise Forbidden("That place is outside your area.", code="outside_your_area")
    return await _post_order(
        session, actor_of(resident), data, now, max_open=max_open, entered_by=actor, channel=channel
    )


async def report_for_resident(
    session: AsyncSession,
    reporter: Actor,
    resident: User,
    data: OrderCreate,
    now: datetime,
    *,
    max_open: int,
    channel: OrderChannel,
) -> int:
    """An order (its id) reported for a resident by someone the caller has already found may do so
    for them (a grid informant for a neighbour in their grid, market.informants): the resident's own
    order, as one entered by a grid worker is, recording who reported it and how; the resident is told."""
    return await _post_order(
        session, actor_of(resident), data, now, max_open=max_open, entered_by=reporter, channel=channel
    )


async def _post_order(
    session: AsyncSession,
    requester: Actor,
    data: OrderCreate | OrderEntry,
    now: datetime,
    *,
    max_open: int,
    entered_by: Actor | None = None,
    channel: str = OrderChannel.page,
) -> int:
    """The new order's id. One entered for the resident (`entered_by`) is theirs all the same, recording
    who entered it and how it came in; the resident is told."""
    params = {"area_id": data.area_id, "category": data.category}
    place = (await read_columns(session, _place_and_category(), params)).one_or_none()
    area = found_area(place, data.area_id)
    check_active_category(place[-1], data.category)
    community = community_code_of(requester.area_code)
    if community is None or not area.code.startswith(community):
        if entered_by is not None:
            raise Forbidden(
                "The resident can order services only in their own community.", code="outside_their_community"
            )
        raise Forbidden("You can order services only in your own community.", code="outside_your_community")
    if area.level not in ORDER_PLACES:
        raise InvalidInput(
            "Choose the building or compound where the service is needed.", code="area_too_broad"
        )
    _check_window(data.window_start, data.window_end, now)
    # Locked first, so that two posts at once cannot both fit under the limit the INSERT reads.
    await lock_rows(session, _requester_locked(), {"requester_id": requester.id})
    if data.preferred_volunteer_id is not None and data.preferred_volunteer_id not in {
        v for v, _ in await volunteers_who_served(session, requester.id)
    }:
        raise InvalidInput(
            "Ask only for a volunteer who has served you before.",
            code="not_served_before",
            preferred_volunteer_id=data.preferred_volunteer_id,
        )
    new_order = {
        "requester_id": requester.id,
        "area_id": area.id,
        "area_code": area.code,
        "category_code": data.category,
        "description": data.description.strip(),
        "address_detail": data.address_detail.strip(),
        "window_start": data.window_start,
        "window_end": data.window_end,
        "urgency": data.urgency,
        "status": S.submitted,
        "entered_by_id": entered_by.id if entered_by else None,
        "channel": channel,
        "preferred_volunteer_id": data.preferred_volunteer_id,
        "created_at": now,
        "updated_at": now,
    }
    recorded = {
        "actor_id": entered_by.id if entered_by else requester.id,
        "action": A.post,
        "from_status": None,
        "to_status": S.submitted,
        "note": f"entered for the resident ({channel})" if entered_by else "",
        "at": now,
    }
    # The limit is read last, by the INSERT: a mistake in the form is told before it.
    given, limit = tuple(new_order), {"max_open": max_open}
    connection = await connection_of(session)
    if _changes_with_their_events(session):
        order_id = await connection.scalar(_posted_with_event(given), {**new_order, **limit, **recorded})
    else:
        order_id = await connection.scalar(_new_order(given), {**new_order, **limit})
        if order_id is not None:
            await connection.execute(_new_event(), {"order_id": order_id, **recorded})
    if order_id is None:
        _refuse_too_many_open(max_open, entered=entered_by is not None)
    if entered_by is not None:
        told = _requester_message(
            requester.id, order_id, NotificationCode.order_entered, now, name=entered_by.name, channel=channel
        )
        await leave(session, [told])
    return order_id


def _check_window(start: datetime, end: datetime, now: datetime) -> None:
    """A service window a resident may ask for: ahead, not too long, not too far off."""
    if end <= start:
        raise InvalidInput("The time window must end after it starts.", code="invalid_window")
    if end <= now:
        raise InvalidInput("The time window has already passed.", code="window_in_past")
    if end - start > MAX_WINDOW:
        raise InvalidInput("A time window can be at most 14 days long.", code="window_too_long")
    if start - now > MAX_LEAD_TIME:
        raise InvalidInput("Orders can be posted at most 90 days ahead.", code="window_too_far")


@functools.cache
def _requester_locked() -> Select[tuple[int]]:
    return select(User.id).where(User.id == bindparam("requester_id")).with_for_update()


def _fewer_open_than() -> ColumnElement[bool]:
    """The requester (`requester_id`) has fewer than `max_open` orders open."""
    still_open = select(func.count(Order.id)).where(
        Order.requester_id == bindparam("requester_id"), ~one_of(Order.status, FINAL_STATUSES)
    )
    return still_open.scalar_subquery() < bindparam("max_open")


@functools.cache
def _may_open_another() -> Select[tuple[bool]]:
    return select(_fewer_open_than())


async def _check_open_orders(session: AsyncSession, requester_id: int, max_open: int) -> None:
    """A resident has at most `max_open` orders open at once (a post reads it in its INSERT)."""
    # Locked first, so that two requests at once cannot both fit under the limit.
    await lock_rows(session, _requester_locked(), {"requester_id": requester_id})
    if not await session.scalar(_may_open_another(), {"requester_id": requester_id, "max_open": max_open}):
        _refuse_too_many_open(max_open, entered=False)


def _refuse_too_many_open(max_open: int, *, entered: bool) -> NoReturn:
    who = "The resident already has" if entered else "You already have"
    raise TooManyRequests(
        f"{who} as many orders open as one may ({max_open}); wait until one is done or cancel one.",
        code="too_many_open_orders",
        limit=max_open,
    )


async def volunteers_who_served(session: AsyncSession, requester_id: int) -> list[tuple[int, str]]:
    """(id, name) of the volunteers who completed an order of the resident: whom they may ask for."""
    rows = await session.execute(
        select(User.id, User.name)
        .where(
            User.id.in_(
                select(Order.volunteer_id).where(
                    Order.requester_id == requester_id, Order.status.in_([S.completed, S.confirmed])
                )
            ),
            User.is_active,
        )
        .order_by(User.name, User.id)
    )
    return [(i, name) for i, name in rows]


# ---------------------------------------------------------------- managers: dispatch, reject


async def _refuse(session: AsyncSession, actor: Actor, order: Order, forbidden: Forbidden) -> None:
    """Refuse an action: 403 to someone who can see the order, 404 to anyone else."""
    visible = _visible_to(session, actor)
    if visible is None or await session.scalar(select(Order.id).where(Order.id == order.id, visible)):
        raise forbidden
    raise NotFound(f"Order {order.id} does not exist.", code="order_not_found")


async def requested_order(session: AsyncSession, actor: Actor, order_id: int, action: str) -> Order:
    """The order, locked, when `actor` posted it: hurrying and reopening are the resident's own."""
    order = await lock_order(session, order_id)
    if order.requester_id != actor.id:
        await _refuse(
            session,
            actor,
            order,
            Forbidden(f"Only the resident who posted the order can {action} it.", code="not_requester"),
        )
    return order


async def managed_order(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    order = await lock_order(session, order_id)
    if not actor.manages(order.area_code):
        await _refuse(
            session,
            actor,
            order,
            Forbidden("Only the community's grid workers and managers can do this.", code="manager_required"),
        )
    return order


async def reject(session: AsyncSession, actor: Actor, order_id: int, reason: str, now: datetime) -> None:
    order = await managed_order(session, actor, order_id)
    told = told_resident(order, NotificationCode.order_rejected, now, reason=reason)
    closing = offers_closed(OfferAction.withdraw, now)
    await transition(session, order, A.reject, actor.id, now, reason, told=told, closing=closing)


# What a volunteer still has to do: the orders they hold, and those done but not yet confirmed.
TASK_STATUSES = HELD_STATUSES | {S.completed}


async def list_tasks(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[OrderRead], int]:
    """The orders the actor serves in one of `TASK_STATUSES`, the soonest window first."""
    tasks = (Order.volunteer_id == actor.id, Order.status.in_(TASK_STATUSES))
    stmt = select(Order).where(*tasks)
    orders = await order_views(
        session,
        order_view_select().where(*tasks).order_by(Order.window_start, Order.id).limit(limit).offset(offset),
    )
    total = await page_total(session, stmt, limit, offset, len(orders))
    return order_reads(actor, orders), total


# ---------------------------------------------------------------- the assigned volunteer: service


async def _assigned_order(session: AsyncSession, actor: Actor, order_id: int) -> Order:
    order = await lock_order(session, order_id)
    if order.volunteer_id != actor.id:
        await _refuse(
            session,
            actor,
            order,
            Forbidden("Only the volunteer who accepted this order can do this.", code="not_assigned"),
        )
    return order


def check_in_opens_at(window_start: datetime) -> datetime:
    return shifted(window_start, -CHECK_IN_OPENS_BEFORE)


async def check_in(session: AsyncSession, actor: Actor, order_id: int, now: datetime) -> None:
    """Start the service: from CHECK_IN_OPENS_BEFORE the window starts until it ends."""
    order = await _assigned_order(session, actor, order_id)
    if order.status == S.accepted:
        opens_at = check_in_opens_at(order.window_start)
        if now < opens_at:
            raise Conflict(
                "It is too early to check in.", code="check_in_too_early", opens_at=opens_at.isoformat()
            )
        if now >= order.window_end:
            raise Conflict(
                "The order's time window has ended; check-in is closed.",
                code="check_in_too_late",
                closed_at=order.window_end.isoformat(),
            )
    told = told_resident(order, NotificationCode.order_checked_in, now)
    await transition(session, order, A.check_in, actor.id, now, told=told, checked_in_at=now)


async def _check_out(session: AsyncSession, order: Order, actor: Actor, now: datetime) -> None:
    if order.checked_out_at is not None:
        raise Conflict("You have already checked out of this order.", code="already_checked_out")
    await transition(session, order, A.check_out, actor.id, now, checked_out_at=now)


async def _complete(session: AsyncSession, order: Order, actor: Actor, note: str, now: datetime) -> None:
    if order.status == S.in_service and order.checked_out_at is None:
        raise Conflict("Check out before completing the order.", code="not_checked_out")
    told = told_resident(order, NotificationCode.order_completed, now)
    await transition(session, order, A.complete, actor.id, now, note, told=told, completed_at=now)


async def check_out(session: AsyncSession, actor: Actor, order_id: int, now: datetime) -> None:
    order = await _assigned_order(session, actor, order_id)
    await _check_out(session, order, actor, now)


async def complete(session: AsyncSession, actor: Actor, order_id: int, note: str, now: datetime) -> None:
    order = await _assigned_order(session, actor, order_id)
    await _complete(session, order, actor, note, now)


async def finish(session: AsyncSession, actor: Actor, order_id: int, note: str, now: datetime) -> None:
    """Check out (unless done already) and complete, in one step: the volunteer's one button."""
    order = await _assigned_order(session, actor, order_id)
    if order.status == S.in_service and order.checked_out_at is None:
        await _check_out(session, order, actor, now)
    await _complete(session, order, actor, note, now)


# ---------------------------------------------------------------- resident: confirm, cancel


async def confirm(
    session: AsyncSession, actor: Actor, order_id: int, data: ConfirmRequest, now: datetime, tz: ZoneInfo
) -> None:
    order = await lock_order(session, order_id)
    if not may_confirm(actor, order):
        await _refuse(
            session,
            actor,
            order,
            Forbidden("Only the resident who posted the order can confirm it.", code="not_requester"),
        )
    if data.complaint and not data.comment.strip():
        raise InvalidInput("Say what the complaint is about in the comment.", code="complaint_needs_comment")
    await _settle(
        session,
        order,
        actor.id,
        now,
        tz,
        rating=data.rating,
        comment=data.comment,
        note=data.comment,
        complaint=data.complaint,
    )


def may_confirm(actor: Actor, order: Order) -> bool:
    """The resident confirms their order; an order entered for a resident (who may have no phone to
    confirm on) may also be confirmed for them by a manager of its area, after asking them, but never
    by the volunteer who served it."""
    if order.requester_id == actor.id:
        return True
    return (
        order.entered_by_id is not None and actor.manages(order.area_code) and order.volunteer_id != actor.id
    )


async def _settle(
    session: AsyncSession,
    order: Order,
    actor_id: int | None,
    now: datetime,
    tz: ZoneInfo,
    *,
    rating: int | None,
    comment: str | None,
    note: str,
    complaint: bool = False,
    told: dict[str, Any] | None = None,
) -> None:
    """Confirm a locked order, by its resident or by the auto-confirm job (which `told` them): the one
    path that pays, and that opens a follow-up (回访) when the rating, a complaint or the community's
    sample calls for one."""
    await transition(
        session,
        order,
        A.confirm,
        actor_id,
        now,
        note,
        told=told,
        confirmed_at=now,
        rating=rating,
        comment=comment,
    )
    if order.volunteer_id is not None:
        if rating is not None:
            profile = await load_profile(session, order.volunteer_id, for_update=True)
            if profile is not None:
                profile.rating_sum += rating
                profile.rating_count += 1
        await _reward_service(session, order, now, tz)
    reason = await followups.reason_after_confirm(session, order, complaint=complaint)
    if reason is not None:
        await followups.open_followup(
            session, order, reason, await _grid_or_community_staff(session, order), now
        )


async def _grid_or_community_staff(session: AsyncSession, order: Order) -> list[int]:
    """Who looks after the order's residents: its grid's workers, or the community's managers when
    the grid has none."""
    return await _level_managers(session, order, EscalationLevel.grid) or await _level_managers(
        session, order, EscalationLevel.community
    )


async def _reward_service(session: AsyncSession, order: Order, now: datetime, tz: ZoneInfo) -> None:
    """Service points for a confirmed order, paid from the community pool exactly once, within its
    caps; how they were reckoned is kept beside them (ServiceReward) for the volunteer to read."""
    assert order.volunteer_id is not None  # only a served order is rewarded
    served, counted, reasons = reckon_hours(order) or (0.0, 0.0, [])
    community = await ledger.community_of(session, order.area_code)
    rate, points = await ledger.service_points(
        session, community=community, category=order.category_code, hours=counted
    )
    # A reopened order is served again, and that service is paid too: each round its own transfer.
    reopened = await session.scalar(
        select(func.count(OrderEvent.id)).where(
            OrderEvent.order_id == order.id, OrderEvent.action == A.reopen
        )
    )
    round_ = (reopened or 0) + 1
    transfer_id = f"~reward:order:{order.id}" + (f":round:{round_}" if round_ > 1 else "")
    awarded = await ledger.capped_reward(
        session,
        transfer_id=transfer_id,
        code=TransferCode.service_reward,
        reference=f"order:{order.id}",
        user_id=order.volunteer_id,
        community=community,
        amount=points,
        memo=f"{order.category_code} service, {counted:.2f} h",
        now=now,
        tz=tz,
    )
    if (capped := await ledger.withheld_reason(session, transfer_id)) is not None:
        reasons.append(str(capped))
    session.add(
        ServiceReward(
            order_id=order.id,
            round=round_,
            volunteer_id=order.volunteer_id,
            hours_served=served,
            hours_counted=counted,
            rate=rate,
            points=points,
            awarded=awarded,
            reasons=reasons,
            created_at=now,
        )
    )


async def list_service_rewards(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[ServiceRewardRead], int]:
    """The actor's rewards for the orders they served, newest first, each with how it was reckoned."""
    stmt = (
        select(ServiceReward, Order.category_code).join(Order).where(ServiceReward.volunteer_id == actor.id)
    )
    rows = (
        await session.execute(
            stmt.order_by(
                ServiceReward.created_at.desc(), ServiceReward.order_id.desc(), ServiceReward.round.desc()
            )
            .limit(limit)
            .offset(offset)
        )
    ).all()
    total = await page_total(session, stmt, limit, offset, len(rows))
    return [
        ServiceRewardRead(
            order_id=r.order_id,
            category=category,
            hours_served=r.hours_served,
            hours_counted=r.hours_counted,
            rate=r.rate,
            points=r.points,
            awarded=r.awarded,
            reasons=r.reasons,
            created_at=r.created_at,
        )
        for r, category in rows
    ], total


# ---------------------------------------------------------------- resident: hurry, what comes next


async def hurry(session: AsyncSession, actor: Actor, order_id: int, now: datetime) -> None:
    """The resident presses 催办: the order's grid worker is told, once per HURRY_INTERVAL. The
    last press is read under the order's lock, so two presses at once count once."""
    order = await requested_order(session, actor, order_id, "hurry")
    if order.status not in UNFINISHED:
        raise Conflict(
            f"An order that is {order.status} cannot be hurried.",
            code="illegal_transition",
            action=A.hurry,
            order_status=str(order.status),
        )
    last = await session.scalar(
        select(func.max(OrderEvent.at)).where(OrderEvent.order_id == order.id, OrderEvent.action == A.hurry)
    )
    if last is not None and now < last + HURRY_INTERVAL:
        raise TooManyRequests(
            "You hurried this order a short while ago.",
            code="hurried_recently",
            again_at=(last + HURRY_INTERVAL).isoformat(),
        )
    await event(session, order, A.hurry, actor.id, now)
    await notify(
        session,
        await _level_managers(session, order, EscalationLevel.grid),
        NotificationCode.order_hurried,
        now,
        subject=("order", order.id),
        order_id=order.id,
    )


def hurry_again_at(order: OrderDetail) -> datetime | None:
    """When the resident may hurry the order again (None: they never have)."""
    last = max((e.at for e in order.events if e.action == A.hurry), default=None)
    return None if last is None else shifted(last, HURRY_INTERVAL)


def next_step(order: OrderRead, settings: Settings) -> tuple[str, datetime] | None:
    """What the order waits for next and by when: a volunteer's accept (the first step of the
    "1130" rule, see `escalation_rules`), the volunteer's arrival in the window, the service done
    (its last step), or the resident's confirmation before the auto-confirm job does it."""
    if order.status in WAITING:
        return "accept", shifted(order.created_at, timedelta(minutes=settings.escalate_grid_minutes))
    if order.status == S.accepted:
        return "arrive", order.window_start
    if order.status == S.in_service:
        return "finish", shifted(order.created_at, timedelta(hours=settings.escalate_street_hours))
    if order.status == S.completed and order.completed_at is not None:
        return "confirm", shifted(order.completed_at, timedelta(days=settings.auto_confirm_days))
    return None


async def cancel(session: AsyncSession, actor: Actor, order_id: int, reason: str, now: datetime) -> None:
    order = await lock_order(session, order_id)
    if order.requester_id != actor.id and not actor.manages(order.area_code):
        await _refuse(
            session,
            actor,
            order,
            Forbidden(
                "Only the resident who posted the order or a manager can cancel it.", code="not_requester"
            ),
        )
    volunteer_id = order.volunteer_id if order.status == S.accepted else None
    told = None
    if order.requester_id != actor.id:  # a resident who cancels needs no message of it
        told = told_resident(order, NotificationCode.order_cancelled, now, reason=reason)
    closing = offers_closed(OfferAction.withdraw, now)
    await transition(session, order, A.cancel, actor.id, now, reason, told=told, closing=closing)
    if volunteer_id is not None:
        await notify(
            session,
            [volunteer_id],
            NotificationCode.task_cancelled,
            now,
            subject=("order", order.id),
            order_id=order.id,
            reason=reason,
        )


def may_reopen(order: Order | OrderRead, now: datetime) -> bool:
    """A confirmed order may be reopened for `REOPEN_WINDOW` after its confirmation."""
    return (
        ORDER_MACHINE.allows(order.status, A.reopen)
        and order.confirmed_at is not None
        and now - order.confirmed_at <= REOPEN_WINDOW
    )


async def reopen(
    session: AsyncSession, actor: Actor, order_id: int, data: ReopenRequest, now: datetime, *, max_open: int
) -> None:
    """The resident reopens their confirmed order: it waits to be dispatched again in a new window,
    its history kept. The earlier volunteer keeps their reward and rating; the order's grid worker
    (the community's managers when the grid has none) is told."""
    order = await requested_order(session, actor, order_id, "reopen")
    if ORDER_MACHINE.allows(order.status, A.reopen):  # in any other state `transition` refuses it
        if not may_reopen(order, now):
            raise Conflict(
                f"An order can be reopened only within {REOPEN_WINDOW.days} days of confirming it.",
                code="reopen_window_passed",
                days=REOPEN_WINDOW.days,
            )
        _check_window(data.window_start, data.window_end, now)
        await _check_open_orders(session, actor.id, max_open)
    # This round's service starts afresh; the last one's stays in the history and the ledger.
    afresh = dict.fromkeys(
        (
            "volunteer_id",
            "checked_in_at",
            "checked_out_at",
            "completed_at",
            "confirmed_at",
            "rating",
            "comment",
        )
    )
    await transition(
        session,
        order,
        A.reopen,
        actor.id,
        now,
        data.reason,
        window_start=data.window_start,
        window_end=data.window_end,
        preferred_volunteer_id=None,
        **afresh,
    )
    await notify(
        session,
        await _grid_or_community_staff(session, order),
        NotificationCode.order_reopened,
        now,
        subject=("order", order.id),
        order_id=order.id,
        reason=data.reason,
    )


# ---------------------------------------------------------------- jobs


async def expire_orders(session: AsyncSession, now: datetime) -> int:
    """Close orders whose time window ended before anyone accepted them."""
    order_ids = (
        await session.scalars(
            select(Order.id).where(Order.status.in_(ORDER_MACHINE.sources(A.expire)), Order.window_end <= now)
        )
    ).all()
    for order_id in order_ids:
        order = await lock_order(session, order_id)
        if ORDER_MACHINE.allows(order.status, A.expire):
            note = "the time window ended before anyone accepted"
            told = told_resident(order, NotificationCode.order_expired, now, reason_code="window_ended")
            closing = offers_closed(OfferAction.withdraw, now)
            await transition(session, order, A.expire, None, now, note, told=told, closing=closing)
    await session.flush()
    return len(order_ids)


async def auto_confirm_orders(session: AsyncSession, now: datetime, tz: ZoneInfo, days: int) -> int:
    """Confirm, without a rating, completed orders the resident left unconfirmed for `days` days."""
    cutoff = now - timedelta(days=days)
    due = (
        await session.scalars(
            select(Order.id)
            .where(Order.status.in_(ORDER_MACHINE.sources(A.confirm)), Order.completed_at <= cutoff)
            .order_by(Order.id)
        )
    ).all()
    confirmed = 0
    for order_id in due:
        order = await lock_order(session, order_id)
        # Re-checked under the lock: the resident or another scheduler may have confirmed it meanwhile.
        if (
            not ORDER_MACHINE.allows(order.status, A.confirm)
            or order.completed_at is None
            or order.completed_at > cutoff
        ):
            continue
        note = f"confirmed automatically: the resident did not confirm within {days} days"
        told = told_resident(order, NotificationCode.order_auto_confirmed, now, days=days)
        await _settle(session, order, None, now, tz, rating=None, comment=None, note=note, told=told)
        confirmed += 1
    await session.flush()
    return confirmed


# ---------------------------------------------------------------- escalation

WAITING = frozenset({S.submitted, S.dispatched})
UNFINISHED = WAITING | HELD_STATUSES
# Whose inbox each level reaches: holders of the role whose home area is the order's ancestor there.
LEVEL_MANAGERS = {
    EscalationLevel.grid: (AreaLevel.grid, Role.grid_worker),
    EscalationLevel.community: (AreaLevel.community, Role.community_manager),
    EscalationLevel.street: (AreaLevel.street, Role.street_admin),
}


Rule = tuple[EscalationLevel, frozenset[OrderStatus], timedelta, str]


def escalation_rules(settings: Settings) -> list[Rule]:
    """(level, statuses that count as late, time after posting, why), highest level first.

    The "1130" rule: a volunteer takes the order within an hour (else the grid is told),
    there is an answer within a day (else the community), it is done within three days
    (else the street).
    """
    grid = timedelta(minutes=settings.escalate_grid_minutes)
    community = timedelta(hours=settings.escalate_community_hours)
    street = timedelta(hours=settings.escalate_street_hours)
    return [
        (EscalationLevel.street, UNFINISHED, street, f"not completed {_span(street)} after posting"),
        (EscalationLevel.community, WAITING, community, f"not accepted {_span(community)} after posting"),
        (EscalationLevel.grid, WAITING, grid, f"not accepted {_span(grid)} after posting"),
    ]


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    if minutes % 1440 == 0:
        days = minutes // 1440
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def _due_level(order: Order, now: datetime, rules: list[Rule]) -> Rule | None:
    """The rule of the highest level the order should have reached by now, if above its current one."""
    for rule in rules:
        level, statuses, after, _why = rule
        if order.status in statuses and order.created_at + after <= now:
            if ESCALATION_RANK[level] > ESCALATION_RANK[order.escalation_level]:
                return rule
            return None
    return None


async def _level_managers(session: AsyncSession, order: Order, level: EscalationLevel) -> list[int]:
    area_level, role = LEVEL_MANAGERS[level]
    length = code_length(area_level)
    if len(order.area_code) < length:
        return []
    return await holders(session, role, order.area_code[:length])


async def escalate_orders(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """Raise late orders to the next level that must know, record it and tell that level once."""
    rules = escalation_rules(settings)
    earliest = min(after for _level, _statuses, after, _why in rules)
    candidates = (
        await session.scalars(
            select(Order.id)
            .where(
                Order.status.in_(UNFINISHED),
                Order.created_at <= now - earliest,
                or_(Order.escalation_level.is_(None), Order.escalation_level != EscalationLevel.street),
            )
            .order_by(Order.id)
        )
    ).all()
    raised = 0
    for order_id in candidates:
        order = await lock_order(session, order_id)
        # Decided under the lock, so two schedulers cannot both raise (and announce) one level.
        due = _due_level(order, now, rules)
        if due is None:
            continue
        level, statuses, after, why = due
        note = f"to the {level}: {why}"
        told = told_resident(order, NotificationCode.order_escalated, now, level=str(level))
        await event(
            session, order, A.escalate, None, now, note, told=told, escalation_level=level, escalated_at=now
        )
        await notify(
            session,
            await _level_managers(session, order, level),
            NotificationCode.escalation,
            now,
            subject=("order", order.id),
            order_id=order.id,
            level=str(level),
            late="not_completed" if statuses == UNFINISHED else "not_accepted",
            minutes=int(after.total_seconds()) // 60,
        )
        raised += 1
    await session.flush()
    return raised


# ---------------------------------------------------------------- the dispatch desk

BOARD_SECTIONS = ("waiting", "late", "escalated")


def _board_section(section: str, now: datetime, settings: Settings):
    """What a section of the dispatch desk lists. `waiting`: no volunteer has taken it yet.
    `late`: waiting past the grid's deadline (the first step of the "1130" rule) or into its
    own time window, so it expires unless someone takes it soon. `escalated`: unfinished and
    raised to a level by `escalate_orders`."""
    if section == "escalated":
        return Order.status.in_(UNFINISHED) & Order.escalation_level.is_not(None)
    waiting = Order.status.in_(WAITING)
    if section == "late":
        deadline = now - timedelta(minutes=settings.escalate_grid_minutes)
        return waiting & or_(Order.created_at <= deadline, Order.window_start <= now)
    return waiting


def _in_board(
    session: AsyncSession, actor: Actor, area_code: str, search: str | None, category: str | None
) -> list:
    """The orders of the subtree at `area_code` the actor may see; with `search`, those whose
    description, place (the order's area or one above it) or requester's name holds it; with
    `category`, those of that service."""
    visible = _visible_to(session, actor)
    found = [Order.area_code.startswith(area_code, autoescape=True)]
    if visible is not None:
        found.append(visible)
    if search:
        place = (
            select(Area.id)
            .where(Area.name.icontains(search, autoescape=True), Order.area_code.startswith(Area.code))
            .exists()
        )
        # The desk is for the order's managers, who see the requester's full name.
        requester = select(User.id).where(User.name.icontains(search, autoescape=True))
        found.append(
            or_(
                Order.description.icontains(search, autoescape=True), place, Order.requester_id.in_(requester)
            )
        )
    if category:
        found.append(Order.category_code == category)
    return found


async def board_counts(
    session: AsyncSession,
    actor: Actor,
    area_code: str,
    now: datetime,
    settings: Settings,
    search: str | None = None,
    category: str | None = None,
) -> dict[str, int]:
    """How many orders each desk section holds in the subtree at `area_code` (found by `search`,
    of `category`)."""
    counts = [func.count().filter(_board_section(s, now, settings)) for s in BOARD_SECTIONS]
    row = (
        await session.execute(select(*counts).where(*_in_board(session, actor, area_code, search, category)))
    ).one()
    return dict(zip(BOARD_SECTIONS, row, strict=True))


async def list_board(
    session: AsyncSession,
    actor: Actor,
    area_code: str,
    section: str,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
    search: str | None = None,
    category: str | None = None,
) -> list[OrderRead]:
    """One page of a desk section: urgent orders first, then the oldest, so the longest wait is
    handled first within each."""
    orders = await order_views(
        session,
        order_view_select()
        .where(
            *_in_board(session, actor, area_code, search, category), _board_section(section, now, settings)
        )
        .order_by((Order.urgency == Urgency.urgent).desc(), Order.created_at, Order.id)
        .limit(limit)
        .offset(offset),
    )
    return order_reads(actor, orders)


async def pending_offer_counts(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, int]:
    rows = await session.execute(
        select(Offer.order_id, func.count())
        .where(Offer.order_id.in_(order_ids), Offer.status == OfferStatus.pending)
        .group_by(Offer.order_id)
    )
    return dict(rows.all())


async def orders_by_id(session: AsyncSession, actor: Actor, order_ids: Sequence[int]) -> dict[int, OrderRead]:
    """The orders with these ids the actor may see (a plan's, for instance), by id."""
    stmt = order_view_select().where(Order.id.in_(order_ids))
    if (visible := _visible_to(session, actor)) is not None:
        stmt = stmt.where(visible)
    return {o.id: o for o in order_reads(actor, await order_views(session, stmt))}


# ---------------------------------------------------------------- for the domains above: photos


async def readable_order(session: AsyncSession, actor: Actor, order_id: int, *, lock: bool = False) -> Order:
    """The order when the actor may read it (the rule of `get_order`), else the same 404 as for a
    missing order. `lock`: for update, as every change takes it."""
    stmt = select(Order).where(Order.id == order_id)
    if (visible := _visible_to(session, actor)) is not None:
        stmt = stmt.where(visible)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = await session.scalar(stmt)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist.", code="order_not_found")
    return order


def shows_resident(order: Order, actor: Actor) -> bool:
    """Whether the actor's view of the order is unmasked: the resident, the area's managers, the
    volunteer from accepting it until it is confirmed (`_full_view`)."""
    return _full_view(order, actor)

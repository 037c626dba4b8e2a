"""Who may be offered an order: one rule, for hand and team dispatch, plans, their apply and the board.

`reasons(order, volunteer, tz)` is the rule, pair by pair: no reason means eligible. The solver
applies the same rule in bulk (`matching.dispatch.candidate_graph`, numpy over a whole area) to the
inputs `solver_inputs` makes from the same facts; a property test holds the two equal.

Capacity is the most orders a volunteer *holds* at once (accepted or in service); pending offers do
not count against it, whoever made them. An offer is a question, not a slot: a volunteer may be
asked about several orders and takes what their capacity allows; an accept or a board claim past it
is refused (`at_capacity`). So offering, listing the board, claiming and accepting all count alike.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.auth.models import Role, User
from market.orders.models import (
    HELD_STATUSES,
    ORDER_MACHINE,
    Offer,
    OfferStatus,
    Order,
    OrderAction,
    OrderStatus,
)
from market.volunteers.availability import is_free
from market.volunteers.models import VolunteerProfile
from matching.dispatch import OrderSpec, VolunteerSpec


class Reason(enum.StrEnum):
    """Why an order may not be offered to a volunteer (pages say it in the person's language)."""

    # About the order: it cannot be offered to anyone now.
    not_waiting = "not_waiting"
    window_passed = "window_passed"
    # About the pair.
    not_volunteer = "not_volunteer"
    is_requester = "is_requester"
    does_not_serve_area = "does_not_serve_area"
    lacks_skill = "lacks_skill"
    declined_before = "declined_before"
    paused = "paused"
    not_free = "not_free"
    at_capacity = "at_capacity"


@dataclass(frozen=True)
class OrderFacts:
    id: int
    area_code: str
    category: str
    window_start: datetime
    window_end: datetime
    requester_id: int
    urgent: bool = False
    created_at: datetime | None = None
    # Volunteers who declined the order or let an offer of it lapse: they are not asked again.
    passed: frozenset[int] = frozenset()


@dataclass(frozen=True)
class VolunteerFacts:
    id: int
    # An active account with the volunteer role and a profile; the other facts mean nothing without.
    is_volunteer: bool
    home_code: str | None = None
    serves: tuple[str, ...] = ()
    # Category code → level 1-3.
    skills: dict[str, int] = field(default_factory=dict)
    # Weekly windows: (weekday 0 = Monday, start minute, end minute), local time.
    windows: tuple[tuple[int, int, int], ...] = ()
    capacity: int = 0
    # The orders held (see the module's docstring).
    load: int = 0
    paused: bool = False
    rating: float | None = None


def order_reasons(status: OrderStatus, window_end: datetime, now: datetime) -> tuple[Reason, ...]:
    """Why the order cannot be offered to anyone now."""
    if not ORDER_MACHINE.allows(status, OrderAction.dispatch):
        return (Reason.not_waiting,)
    if window_end <= now:
        return (Reason.window_passed,)
    return ()


def serves(codes: Sequence[str], area_code: str) -> bool:
    """A serving area overlapping the order's: it contains the order's area or lies inside it."""
    return any(area_code.startswith(c) or c.startswith(area_code) for c in codes)


def reasons(order: OrderFacts, volunteer: VolunteerFacts, tz: ZoneInfo) -> tuple[Reason, ...]:
    """Every reason the volunteer may not be offered the order; none: eligible."""
    if not volunteer.is_volunteer:
        return (Reason.not_volunteer,)
    found = []
    if volunteer.id == order.requester_id:
        found.append(Reason.is_requester)
    if not serves(volunteer.serves, order.area_code):
        found.append(Reason.does_not_serve_area)
    if order.category not in volunteer.skills:
        found.append(Reason.lacks_skill)
    if volunteer.id in order.passed:
        found.append(Reason.declined_before)
    if volunteer.paused:
        found.append(Reason.paused)
    if not is_free(volunteer.windows, order.window_start, order.window_end, tz):
        found.append(Reason.not_free)
    if volunteer.load >= volunteer.capacity:
        found.append(Reason.at_capacity)
    return tuple(found)


# ---------------------------------------------------------------- in bulk: the solver's input


def _week_minute(moment: datetime, tz: ZoneInfo) -> int:
    local = moment.astimezone(tz)
    return local.weekday() * 1440 + local.hour * 60 + local.minute


def order_spec(order: OrderFacts, now: datetime, tz: ZoneInfo) -> OrderSpec:
    start = _week_minute(order.window_start, tz)
    minutes = int((order.window_end - order.window_start).total_seconds() // 60)
    created = order.created_at or now
    return OrderSpec(
        id=order.id,
        area_code=order.area_code,
        skill=order.category,
        start=start,
        end=start + minutes,
        urgent=order.urgent,
        waited_minutes=int((now - created).total_seconds() // 60),
        requester_id=order.requester_id,
        declined_by=order.passed,
    )


def volunteer_spec(volunteer: VolunteerFacts) -> VolunteerSpec:
    return VolunteerSpec(
        id=volunteer.id,
        home_code=volunteer.home_code,
        serves=volunteer.serves,
        skills=volunteer.skills,
        windows=volunteer.windows,
        capacity=volunteer.capacity,
        load=volunteer.load,
        rating=volunteer.rating,
    )


def solver_inputs(
    orders: Sequence[OrderFacts], volunteers: Sequence[VolunteerFacts], now: datetime, tz: ZoneInfo
) -> tuple[list[OrderSpec], list[VolunteerSpec]]:
    """The solver's orders and volunteers. Whoever is no volunteer or is paused is eligible for no
    order, so is left out here; the graph applies the rest of `reasons` itself."""
    return (
        [order_spec(o, now, tz) for o in orders],
        [volunteer_spec(v) for v in volunteers if v.is_volunteer and not v.paused],
    )


# ---------------------------------------------------------------- the facts, from the database


async def order_facts(session: AsyncSession, orders: Sequence[Order]) -> list[OrderFacts]:
    passed: dict[int, set[int]] = {}
    rows = await session.execute(
        select(Offer.order_id, Offer.volunteer_id).where(
            Offer.order_id.in_([o.id for o in orders]),
            Offer.status.in_([OfferStatus.declined, OfferStatus.expired]),
        )
    )
    for order_id, volunteer_id in rows:
        passed.setdefault(order_id, set()).add(volunteer_id)
    return [
        OrderFacts(
            id=o.id,
            area_code=o.area_code,
            category=o.category_code,
            window_start=o.window_start,
            window_end=o.window_end,
            requester_id=o.requester_id,
            urgent=o.urgency == "urgent",
            created_at=o.created_at,
            passed=frozenset(passed.get(o.id, ())),
        )
        for o in orders
    ]


async def loads(session: AsyncSession, volunteer_ids: Sequence[int]) -> dict[int, int]:
    """The orders each volunteer holds (see the module's docstring)."""
    held = await session.execute(
        select(Order.volunteer_id, func.count())
        .where(Order.volunteer_id.in_(volunteer_ids), Order.status.in_(HELD_STATUSES))
        .group_by(Order.volunteer_id)
    )
    return {volunteer_id: count for volunteer_id, count in held}


async def volunteer_facts(
    session: AsyncSession, now: datetime, *conditions, ids: Sequence[int] | None = None
) -> list[VolunteerFacts]:
    """The facts of the users with these ids (each, volunteer or not), or of the users that match
    `conditions` and have a volunteer profile, by id."""
    stmt = (
        select(User, VolunteerProfile)
        .outerjoin(VolunteerProfile, VolunteerProfile.user_id == User.id)
        .where(*conditions)
        .options(
            selectinload(User.area),
            selectinload(User.role_rows),
            selectinload(VolunteerProfile.skills),
            selectinload(VolunteerProfile.availability),
            selectinload(VolunteerProfile.serving_areas),
        )
        .order_by(User.id)
    )
    stmt = (
        stmt.where(User.id.in_(ids)) if ids is not None else stmt.where(VolunteerProfile.user_id.is_not(None))
    )
    rows = (await session.execute(stmt)).all()
    load = await loads(session, [user.id for user, _ in rows])
    facts = {
        user.id: VolunteerFacts(id=user.id, is_volunteer=False)
        if profile is None or not user.is_active or Role.volunteer not in user.roles
        else VolunteerFacts(
            id=user.id,
            is_volunteer=True,
            home_code=user.area.code if user.area else None,
            serves=tuple(s.area_code for s in profile.serving_areas),
            skills={s.category_code: s.level for s in profile.skills},
            windows=tuple((w.weekday, w.start_minute, w.end_minute) for w in profile.availability),
            capacity=profile.capacity,
            load=load.get(user.id, 0),
            paused=profile.paused_until is not None and profile.paused_until > now,
            rating=profile.rating,
        )
        for user, profile in rows
    }
    if ids is None:
        return list(facts.values())
    return [facts.get(i, VolunteerFacts(id=i, is_volunteer=False)) for i in ids]


async def check(
    session: AsyncSession, order: Order, volunteer_ids: Sequence[int], now: datetime, tz: ZoneInfo
) -> dict[int, tuple[Reason, ...]]:
    """The reasons each of these volunteers may not be offered the (locked) order; only those with
    a reason are listed."""
    if stale := order_reasons(order.status, order.window_end, now):
        return {v: stale for v in volunteer_ids}
    (facts,) = await order_facts(session, [order])
    found = {v.id: reasons(facts, v, tz) for v in await volunteer_facts(session, now, ids=volunteer_ids)}
    return {v: r for v, r in found.items() if r}

"""Offers: made by hand (to volunteers or a team's members), by plans and auto-dispatch; accepted,
expired and listed. Who may be offered an order is `market.dispatch.eligibility`'s to say.

Every change locks the order first (`orders.service.lock_order`; an answer to an offer,
`own_offer_locked`), so of two accepts, or an accept and a claim, exactly one wins."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import join

from market.auth.access import Actor
from market.db import in_subquery, read_columns
from market.dispatch import eligibility
from market.dispatch.schemas import DispatchRequest, OfferRead
from market.errors import Conflict, InvalidInput, NotFound, Unprocessable
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.orders import service as orders
from market.orders.models import (
    OFFER_MACHINE,
    ORDER_MACHINE,
    DispatchMode,
    Offer,
    OfferAction,
    OfferStatus,
    Order,
    OrderAction,
)
from market.pagination import page_total
from market.settings import Settings
from market.teams import service as teams
from market.volunteers.models import VolunteerProfile


def ineligible(found: dict[int, tuple[eligibility.Reason, ...]]) -> list[dict[str, object]]:
    """The problem's list of volunteers refused: each with the first reason, and all of them."""
    return [
        {"volunteer_id": v, "reason": str(r[0]), "reasons": [str(x) for x in r]}
        for v, r in sorted(found.items())
    ]


async def dispatch(
    session: AsyncSession,
    actor: Actor,
    order_id: int,
    data: DispatchRequest,
    now: datetime,
    settings: Settings,
) -> list[Offer]:
    """Offer an order by hand: directly to one volunteer, to a pool, or to a team's eligible members."""
    order = await orders.managed_order(session, actor, order_id)
    volunteer_ids = list(dict.fromkeys(data.volunteer_ids))
    mode = data.mode or (DispatchMode.direct if data.team_id is None else DispatchMode.pool)
    if (data.team_id is None) == (not volunteer_ids):
        raise InvalidInput("Give either volunteer_ids or a team_id.", code="volunteers_or_team")
    if data.team_id is not None and mode != DispatchMode.pool:
        raise InvalidInput("A team dispatch is a pool offer to its members.", code="team_dispatch_is_pool")
    if data.team_id is None and mode == DispatchMode.direct and len(volunteer_ids) != 1:
        raise InvalidInput(
            "A direct dispatch offers the order to exactly one volunteer.", code="direct_needs_one"
        )
    if data.team_id is None and mode == DispatchMode.pool and len(volunteer_ids) < 2:
        raise InvalidInput(
            "A pool dispatch offers the order to two or more volunteers.", code="pool_needs_several"
        )
    ORDER_MACHINE.check(order.status, OrderAction.dispatch)
    if order.window_end <= now:
        raise Conflict(
            "The order's time window has passed; it can no longer be dispatched.", code="window_passed"
        )
    note = None
    if data.team_id is not None:
        team, volunteer_ids = await teams.team_for_dispatch(session, data.team_id)
        # A team offers the order to the members who may take it; the others are named in the history.
        skipped = await eligibility.check(session, order, volunteer_ids, now, settings.tz)
        volunteer_ids = [v for v in volunteer_ids if v not in skipped]
        if not volunteer_ids:
            raise Unprocessable(
                f"No member of team {team.name} can be offered this order.",
                code="no_team_member_eligible",
                volunteers=ineligible(skipped),
            )
        # Codes, not words: the history is read in either language.
        note = f"pool offer to {len(volunteer_ids)} member(s) of team {team.name}" + "".join(
            f"; {v} {reasons[0]}" for v, reasons in sorted(skipped.items())
        )
    elif problems := await eligibility.check(session, order, volunteer_ids, now, settings.tz):
        raise Unprocessable(
            "Some volunteers cannot be offered this order: "
            + "; ".join(f"{v}: {', '.join(r)}" for v, r in sorted(problems.items())),
            code="volunteers_not_eligible",
            volunteers=ineligible(problems),
        )
    return await make_offers(
        session,
        order,
        volunteer_ids,
        mode,
        actor.id,
        now,
        data.offer_ttl_minutes or settings.offer_ttl_minutes,
        note=note,
    )


async def make_offers(
    session: AsyncSession,
    order: Order,
    volunteer_ids: list[int],
    mode: DispatchMode,
    actor_id: int | None,
    now: datetime,
    ttl_minutes: int,
    *,
    note: str | None = None,
) -> list[Offer]:
    """Offer a locked, waiting order to checked volunteers (by hand, from a plan or auto-dispatch)."""
    expires_at = min(now + timedelta(minutes=ttl_minutes), order.window_end)
    offers = [
        Offer(
            order_id=order.id,
            volunteer_id=v,
            dispatched_by_id=actor_id,
            mode=mode,
            status=OfferStatus.pending,
            created_at=now,
            expires_at=expires_at,
        )
        for v in volunteer_ids
    ]
    session.add_all(offers)
    await orders.transition(
        session,
        order,
        OrderAction.dispatch,
        actor_id,
        now,
        note=note or f"{mode} offer to {len(volunteer_ids)} volunteer(s)",
        told=orders.told_resident(order, NotificationCode.order_dispatched, now),
    )
    await notify(
        session,
        volunteer_ids,
        NotificationCode.offer,
        now,
        subject=("order", order.id),
        order_id=order.id,
        answer_by=expires_at,
    )
    await session.flush()
    return offers


# ---------------------------------------------------------------- the volunteer's offers


# An offer's own columns, `OfferRead`'s fields in turn: what a volunteer's list shows beside its order.
_OFFER_COLUMNS = tuple(getattr(Offer, field) for field in OfferRead.__struct_fields__ if field != "order")


@functools.cache
def _offers_page(by_status: bool, postgres: bool) -> tuple[Select[tuple[Offer]], Select[Any]]:
    """(the offers, a page of them with their orders), built once for each shape with the
    volunteer, status and page as parameters: building the page and its cache key cost ~0.27 ms a
    request.
    The page's offers are picked first, from an index alone (`ix_offers_volunteer_created`, or
    with a status `ix_offers_volunteer_status`), then joined to their orders: only the page's
    offers are joined, not each one an offset skips (offset 2,000 of 4,080 offers: 100 ms, now
    under 1). Before, the joins ran on the volunteer's own rows, so their cost depended on who
    asked: for a volunteer with fewer offers than the average, a plan of their own always looked
    cheaper, and PostgreSQL planned the statement again on every request (~0.5 ms, four times
    running it). Picked by `in_subquery`, the page's ids are costed alike for everyone, and
    PostgreSQL keeps one plan, once (auto)vacuum has marked the table's pages all-visible (an
    index-only scan is costed by them; bench/api.py's `fresh_statistics`)."""
    mine = [Offer.volunteer_id == bindparam("volunteer_id")]
    if by_status:
        mine.append(Offer.status == bindparam("status"))
    newest_first = (Offer.created_at.desc(), Offer.id.desc())
    ids = select(Offer.id).where(*mine).order_by(*newest_first)
    ids = ids.limit(bindparam("limit")).offset(bindparam("offset"))
    page = (
        # Each offer has one order, and the order one of each: all joined into one SELECT.
        orders.order_view_select(*_OFFER_COLUMNS, start=join(Offer, Order, Order.id == Offer.order_id))
        .where(in_subquery(Offer.id, ids, postgres))
        .order_by(*newest_first)
    )
    return select(Offer).where(*mine), page


async def list_offers(
    session: AsyncSession, actor: Actor, status: OfferStatus | None, limit: int, offset: int
) -> tuple[list[OfferRead], int]:
    query, page = _offers_page(status is not None, session.get_bind().dialect.name == "postgresql")
    params = {"volunteer_id": actor.id, "status": status, "limit": limit, "offset": offset}
    rows = (await read_columns(session, page, params)).all()
    total = await page_total(session, query, limit, offset, len(rows), params)
    reads = orders.order_reads(actor, [orders.order_view(row) for row in rows])
    return [
        OfferRead(*row[: len(_OFFER_COLUMNS)], order=read) for row, read in zip(rows, reads, strict=True)
    ], total


async def pending_offer_ids(session: AsyncSession, volunteer_id: int) -> list[int]:
    """The ids of a volunteer's pending offers: one quick read that tells whether they changed."""
    return list(
        await session.scalars(
            select(Offer.id)
            .where(Offer.volunteer_id == volunteer_id, Offer.status == OfferStatus.pending)
            .order_by(Offer.id)
        )
    )


@functools.cache
def _own_offer_locked(taking: bool) -> Select[Any]:
    # An offer's volunteer never changes: whose it is can be asked before the locks are taken. The
    # order is locked first, then the offer (`OF` is the order PostgreSQL locks them in, and every
    # change of an offer locks its order first); each is read as it is once locked. For a take,
    # then the volunteer's profile, as `lock_profile` would, one round trip fewer: an offer is made
    # only to a volunteer with a profile (`eligibility`), and profiles are never deleted. Built once
    # for each, as `orders.lock_order`'s statement is.
    stmt = select(*orders.LOCKED_OFFER_COLUMNS, *orders.LOCKED_ORDER_COLUMNS)
    stmt = stmt.join_from(Offer, Order, Order.id == Offer.order_id)
    locked: tuple[type, ...] = (Order, Offer)
    if taking:
        stmt = stmt.join(VolunteerProfile, VolunteerProfile.user_id == Offer.volunteer_id)
        locked = (*locked, VolunteerProfile)
    where = (Offer.id == bindparam("offer_id"), Offer.volunteer_id == bindparam("volunteer_id"))
    return stmt.where(*where).with_for_update(of=locked)


async def own_offer_locked(
    session: AsyncSession, actor: Actor, offer_id: int, *, taking: bool = False
) -> tuple[orders.LockedOffer, orders.LockedOrder]:
    """The actor's pending offer and its order, locked, in one statement; the offer is read under
    the order's lock, as another request may have settled it before. `taking`: their profile is
    locked too, for two takes of theirs to count their held orders one after the other."""
    params = {"offer_id": offer_id, "volunteer_id": actor.id}
    found = (await read_columns(session, _own_offer_locked(taking), params)).one_or_none()
    if found is None:
        raise NotFound(f"Offer {offer_id} does not exist.", code="offer_not_found")
    split = len(orders.LOCKED_OFFER_COLUMNS)
    offer, order = orders.LockedOffer(*found[:split]), orders.LockedOrder(*found[split:])
    if offer.status != OfferStatus.pending:
        if offer.status == OfferStatus.withdrawn and order.volunteer_id not in (None, offer.volunteer_id):
            raise Conflict("Another volunteer has already taken this order.", code="order_taken")
        raise Conflict(
            f"This offer is already {offer.status}.", code="offer_not_pending", offer_status=str(offer.status)
        )
    return offer, order


class OfferExpired(Conflict):
    # Marking the offer expired (and maybe re-queuing the order) is kept.
    keep_changes = True


async def accept_offer(session: AsyncSession, actor: Actor, offer_id: int, now: datetime) -> int:
    """Take the order (its id); the first valid accept (or board claim) wins, within the volunteer's
    capacity (held orders, as `eligibility` counts them)."""
    offer, order = await own_offer_locked(session, actor, offer_id, taking=True)
    if offer.expires_at <= now:
        await orders.answer_offer(session, offer, OfferAction.expire, now)
        await orders.requeue_if_unoffered(session, order, now, "offers expired")
        raise OfferExpired("This offer has expired.", code="offer_expired")
    await orders.hand_to(session, order, OrderAction.accept, actor, now, accepted=offer)
    return order.id


async def expire_offers(session: AsyncSession, now: datetime) -> int:
    """Mark overdue pending offers expired and re-queue orders left without offers."""
    due = (
        await session.execute(
            select(Offer.id, Offer.order_id).where(
                Offer.status == OfferStatus.pending, Offer.expires_at <= now
            )
        )
    ).all()
    for order_id in sorted({row.order_id for row in due}):
        order = await orders.lock_order(session, order_id)
        await session.execute(
            update(Offer)
            .where(
                Offer.order_id == order_id,
                Offer.status.in_(OFFER_MACHINE.sources(OfferAction.expire)),
                Offer.expires_at <= now,
            )
            .values(status=OfferStatus.expired, responded_at=now)
        )
        await orders.requeue_if_unoffered(session, order, now, "every offer was declined or expired")
    await session.flush()
    return len(due)


# ---------------------------------------------------------------- the volunteer the resident asked for


def awaiting_preferred() -> ColumnElement[bool]:
    """The order (a waiting one) is still to be offered to the volunteer its resident asked for:
    plans, auto-dispatch and the board leave it alone until then."""
    return Order.preferred_volunteer_id.is_not(None) & ~exists().where(
        Offer.order_id == Order.id, Offer.volunteer_id == Order.preferred_volunteer_id
    )


async def offer_to_preferred(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """The job: offer each waiting order whose resident asked for a volunteer to that volunteer,
    directly. One who may not be offered it is passed over (the reason goes in the history), and
    the order goes on as usual, as it does when they decline or let the offer lapse."""
    due = await session.scalars(
        select(Order.id)
        .where(
            Order.status.in_(ORDER_MACHINE.sources(OrderAction.dispatch)),
            Order.window_end > now,
            awaiting_preferred(),
        )
        .order_by(Order.id)
    )
    offered = 0
    for order_id in due.all():
        order = await orders.lock_order(session, order_id)
        volunteer_id = order.preferred_volunteer_id
        # Re-checked under the lock: a person may have dispatched it meanwhile.
        if volunteer_id is None or not ORDER_MACHINE.allows(order.status, OrderAction.dispatch):
            continue
        if found := (await eligibility.check(session, order, [volunteer_id], now, settings.tz)).get(
            volunteer_id
        ):
            note = f"{volunteer_id} {found[0]}"
            await orders.event(
                session, order, OrderAction.pass_preferred, None, now, note, preferred_volunteer_id=None
            )
            continue
        await make_offers(
            session,
            order,
            [volunteer_id],
            DispatchMode.direct,
            None,
            now,
            settings.offer_ttl_minutes,
            note="direct offer to the volunteer the resident asked for",
        )
        offered += 1
    await session.flush()
    return offered

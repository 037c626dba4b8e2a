"""The open board (党员主动认领): waiting orders volunteers see and claim themselves.

A volunteer sees the waiting orders of their serving areas that they are eligible for
(`eligibility.reasons`), masked as any order they do not hold, nearest to their home first, then the
urgent ones, then by time. Each community chooses when its new orders go there: at once, after some
minutes without dispatch (the default: 30), or never. A claim is an accept: the order is locked,
and of a claim, a hand dispatch, a plan's offer or another claim, the first wins and the others are
refused (409) or skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, community_code_of
from market.areas.service import community_for_reading, managed_area, require_community
from market.auth.access import Actor
from market.db import upsert
from market.dispatch import eligibility, offers
from market.dispatch.models import DEFAULT_BOARD_AFTER_MINUTES, AutoDispatch, BoardMode
from market.dispatch.schemas import BoardItem, BoardSettingRead, BoardSettingWrite
from market.errors import Conflict, Forbidden, NotFound, Unprocessable
from market.orders import service as orders
from market.orders.models import (
    ORDER_MACHINE,
    DispatchMode,
    Offer,
    OfferStatus,
    Order,
    OrderAction,
    OrderStatus,
)
from market.settings import Settings
from market.volunteers.service import lock_profile
from matching.dispatch import DISTANCES, LEVEL_CODE_LENGTHS


def distance(area_code: str, home_code: str | None) -> str:
    """How far the order is from the volunteer's home: the deepest level both codes share."""
    for name, n in zip(DISTANCES, sorted(LEVEL_CODE_LENGTHS.values(), reverse=True), strict=False):
        if home_code and len(area_code) >= n and len(home_code) >= n and area_code[:n] == home_code[:n]:
            return name
    return DISTANCES[-1]


# ---------------------------------------------------------------- the community's setting


def _setting_read(community_id: int, row: AutoDispatch | None) -> BoardSettingRead:
    if row is None:
        return BoardSettingRead(community_id, BoardMode.after, DEFAULT_BOARD_AFTER_MINUTES, None, None)
    return BoardSettingRead(
        community_id, row.board_mode, row.board_after_minutes, row.updated_by_id, row.updated_at
    )


async def get_setting(session: AsyncSession, actor: Actor, community_id: int) -> BoardSettingRead:
    """Managers of the community and the grid workers inside it may read the setting."""
    area = await community_for_reading(session, actor, community_id)
    return _setting_read(area.id, await session.get(AutoDispatch, area.id))


async def set_setting(
    session: AsyncSession, actor: Actor, community_id: int, data: BoardSettingWrite, now: datetime
) -> BoardSettingRead:
    if not actor.is_community_manager:
        raise Forbidden(
            "Only community managers choose when orders go to the board.", code="manager_required"
        )
    area = require_community(await managed_area(session, actor, community_id))
    minutes = data.after_minutes if data.after_minutes is not None else DEFAULT_BOARD_AFTER_MINUTES
    values = {
        "board_mode": data.mode,
        "board_after_minutes": minutes,
        "updated_by_id": actor.id,
        "updated_at": now,
    }
    await session.execute(
        upsert(session, AutoDispatch)
        .values(community_id=area.id, enabled=False, **values)
        .on_conflict_do_update(index_elements=[AutoDispatch.community_id], set_=values)
    )
    return _setting_read(area.id, await session.get(AutoDispatch, area.id, populate_existing=True))


async def _on_board_since(session: AsyncSession, waiting: list[Order]) -> dict[str, timedelta | None]:
    """For each community of these orders: how long after posting an order goes to the board
    (None: never)."""
    codes = sorted({community_code_of(o.area_code) for o in waiting})
    rows = await session.execute(
        select(Area.code, AutoDispatch)
        .join(AutoDispatch, AutoDispatch.community_id == Area.id)
        .where(Area.code.in_(codes))
    )
    found = {code: row for code, row in rows}
    wait: dict[str, timedelta | None] = {}
    for code in codes:
        row = found.get(code)
        mode = row.board_mode if row else BoardMode.after
        minutes = row.board_after_minutes if row else DEFAULT_BOARD_AFTER_MINUTES
        wait[code] = (
            None
            if mode == BoardMode.never
            else timedelta(minutes=0 if mode == BoardMode.at_once else minutes)
        )
    return wait


# ---------------------------------------------------------------- the volunteer's board


async def _open_orders(
    session: AsyncSession,
    volunteer: eligibility.VolunteerFacts,
    now: datetime,
    *,
    order_id: int | None = None,
) -> list[Order]:
    """Waiting orders in the volunteer's serving areas that their community has put on the board."""
    if not volunteer.is_volunteer or not volunteer.serves:
        return []
    overlapping = [
        or_(Order.area_code.startswith(code, autoescape=True), literal(code).startswith(Order.area_code))
        for code in volunteer.serves
    ]
    stmt = select(Order).where(
        Order.status == OrderStatus.submitted,
        Order.window_end > now,
        or_(*overlapping),
        ~offers.awaiting_preferred(),
    )
    if order_id is not None:
        stmt = stmt.where(Order.id == order_id)
    found = list(await session.scalars(stmt.order_by(Order.id)))
    wait = await _on_board_since(session, found)
    return [
        o
        for o in found
        if (after := wait[community_code_of(o.area_code)]) is not None and o.created_at + after <= now
    ]


async def _volunteer(session: AsyncSession, actor: Actor, now: datetime) -> eligibility.VolunteerFacts:
    (facts,) = await eligibility.volunteer_facts(session, now, ids=[actor.id])
    return facts


async def list_board(
    session: AsyncSession, actor: Actor, now: datetime, settings: Settings, limit: int, offset: int
) -> tuple[list[BoardItem], int]:
    volunteer = await _volunteer(session, actor, now)
    waiting = await _open_orders(session, volunteer, now)
    facts = await eligibility.order_facts(session, waiting)
    open_to_me = [
        (o, distance(o.area_code, volunteer.home_code))
        for o, f in zip(waiting, facts, strict=True)
        if not eligibility.reasons(f, volunteer, settings.tz)
    ]
    open_to_me.sort(
        key=lambda pair: (
            DISTANCES.index(pair[1]),
            pair[0].urgency != "urgent",
            pair[0].window_start,
            pair[0].id,
        )
    )
    page = open_to_me[offset : offset + limit]
    loaded = {
        o.id: o
        for o in await orders.order_views(
            session, orders.order_view_select().where(Order.id.in_([o.id for o, _ in page]))
        )
    }
    reads = orders.order_reads(actor, [loaded[o.id] for o, _ in page])
    return [BoardItem(order=r, distance=d) for r, (_, d) in zip(reads, page, strict=True)], len(open_to_me)


async def claim(
    session: AsyncSession, actor: Actor, order_id: int, now: datetime, settings: Settings
) -> Order:
    """Take an order from the board: it is the volunteer's at once, as if offered and accepted."""
    order = await orders.lock_order(session, order_id)
    if not ORDER_MACHINE.allows(order.status, OrderAction.claim):
        raise Conflict(
            "This order is no longer open: someone else has it or it was offered.", code="order_not_open"
        )
    # The volunteer's profile is locked too, so that two claims of theirs count one after the other.
    await lock_profile(session, actor.id)
    volunteer = await _volunteer(session, actor, now)
    if not await _open_orders(session, volunteer, now, order_id=order.id):
        raise NotFound(f"Order {order_id} is not on your board.", code="order_not_found")
    (facts,) = await eligibility.order_facts(session, [order])
    if found := eligibility.reasons(facts, volunteer, settings.tz):
        if eligibility.Reason.at_capacity in found:
            raise Conflict("You already hold as many orders as your capacity allows.", code="at_capacity")
        raise Unprocessable(
            "You cannot take this order.", code="not_eligible", reasons=[str(r) for r in found]
        )
    await orders.hand_to(session, order, OrderAction.claim, actor, now)
    session.add(
        Offer(
            order_id=order.id,
            volunteer_id=actor.id,
            dispatched_by_id=None,
            mode=DispatchMode.board,
            status=OfferStatus.accepted,
            created_at=now,
            expires_at=now,
            responded_at=now,
        )
    )
    await session.flush()
    return order

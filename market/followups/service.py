"""Follow-ups (回访) after a confirmed order: which orders get one and why, the list a grid worker
works through, the outcome they record, and each community's sample.

The orders' confirm path (market.orders.service) asks `reason_after_confirm` under the order's lock
and opens the follow-up with `open_followup`, so a follow-up exists exactly when its confirmation does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import community_for_reading, managed_area, require_community
from market.auth.access import Actor
from market.auth.models import Role
from market.db import upsert
from market.errors import Conflict, Forbidden, NotFound
from market.followups.models import (
    DEFAULT_SAMPLE_PERCENT,
    FOLLOWUP_DUE_AFTER,
    FollowUp,
    FollowUpReason,
    FollowUpSampling,
)
from market.followups.schemas import (
    FollowUpFilters,
    FollowUpRead,
    OutcomeRequest,
    SamplingRead,
    SamplingWrite,
)
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.orders.models import Order
from market.privacy import person_ref

COMMUNITY = code_length(AreaLevel.community)
# A rating at or below this is followed up.
LOW_RATING = 3
# The sample is a keyed hash of the order id: the same order is always in or out of it (so tests and
# a re-run agree), and a community's orders fall in it evenly.
SAMPLE_SEED = b"linli-followup-sample-v1"


def in_sample(order_id: int, percent: int) -> bool:
    """Whether the order falls in a sample of `percent` percent of the orders."""
    digest = hashlib.blake2b(str(order_id).encode(), key=SAMPLE_SEED, digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < percent


async def sample_percent(session: AsyncSession, area_code: str) -> int:
    """The sample of the community the place at `area_code` belongs to."""
    percent = await session.scalar(
        select(FollowUpSampling.percent)
        .join(Area, Area.id == FollowUpSampling.community_id)
        .where(Area.code == area_code[:COMMUNITY])
    )
    return DEFAULT_SAMPLE_PERCENT if percent is None else percent


async def reason_after_confirm(
    session: AsyncSession, order: Order, *, complaint: bool
) -> FollowUpReason | None:
    """Why the order, just confirmed with its rating, is followed up (None: it is not)."""
    if complaint:
        return FollowUpReason.complaint
    if order.rating is not None and order.rating <= LOW_RATING:
        return FollowUpReason.low_rating
    if in_sample(order.id, await sample_percent(session, order.area_code)):
        return FollowUpReason.sample
    return None


async def open_followup(
    session: AsyncSession, order: Order, reason: FollowUpReason, handlers: Iterable[int], now: datetime
) -> FollowUp:
    """A follow-up of the order, due `FOLLOWUP_DUE_AFTER` from now; `handlers` are told."""
    followup = FollowUp(
        order_id=order.id,
        area_code=order.area_code,
        reason=reason,
        created_at=now,
        due_at=now + FOLLOWUP_DUE_AFTER,
        note="",
    )
    session.add(followup)
    await session.flush()
    await notify(
        session,
        handlers,
        NotificationCode.followup_due,
        now,
        subject=("followup", followup.id),
        order_id=order.id,
        followup_reason=reason,
        due_at=followup.due_at,
    )
    return followup


# ---------------------------------------------------------------- reading


def _reach(actor: Actor):
    if not actor.is_manager:
        raise Forbidden("Only grid workers and managers follow up orders.", code="manager_required")
    return None if actor.is_admin else FollowUp.area_code.startswith(actor.area_code, autoescape=True)


def _state(state: str, now: datetime):
    open_ = FollowUp.outcome.is_(None)
    return {
        "open": open_,
        "due": open_ & (FollowUp.due_at >= now),
        "overdue": open_ & (FollowUp.due_at < now),
        "done": FollowUp.outcome.is_not(None),
    }[state]


def _options():
    return (
        joinedload(FollowUp.order).joinedload(Order.requester),
        joinedload(FollowUp.order).joinedload(Order.volunteer),
        joinedload(FollowUp.order).joinedload(Order.area),
        joinedload(FollowUp.recorded_by),
    )


def _read(f: FollowUp, now: datetime) -> FollowUpRead:
    order = f.order
    volunteer = order.volunteer
    return FollowUpRead(
        id=f.id,
        order_id=order.id,
        reason=f.reason,
        created_at=f.created_at,
        due_at=f.due_at,
        overdue=f.outcome is None and f.due_at < now,
        category=order.category_code,
        area_name=order.area.name,
        resident=person_ref(order.requester.id, order.requester.name, order.requester.phone, masked=False),
        volunteer=person_ref(volunteer.id, volunteer.name, volunteer.phone, masked=False)
        if volunteer
        else None,
        rating=order.rating,
        comment=order.comment,
        outcome=f.outcome,
        note=f.note,
        recorded_by=(
            person_ref(f.recorded_by.id, f.recorded_by.name, f.recorded_by.phone, masked=False)
            if f.recorded_by
            else None
        ),
        recorded_at=f.recorded_at,
    )


async def list_followups(
    session: AsyncSession, actor: Actor, filters: FollowUpFilters, now: datetime, limit: int, offset: int
) -> tuple[list[FollowUpRead], int]:
    """The follow-ups in the actor's area: open ones soonest due first, done ones latest first."""
    conditions = [c for c in (_reach(actor),) if c is not None]
    if filters.area_id is not None:
        area = await managed_area(session, actor, filters.area_id)
        conditions.append(FollowUp.area_code.startswith(area.code, autoescape=True))
    if filters.state is not None:
        conditions.append(_state(filters.state, now))
    if filters.reason is not None:
        conditions.append(FollowUp.reason == filters.reason)
    total = await session.scalar(select(func.count(FollowUp.id)).where(*conditions)) or 0
    order_by = (
        (FollowUp.recorded_at.desc(), FollowUp.id.desc())
        if filters.state == "done"
        else (FollowUp.recorded_at.is_not(None), FollowUp.due_at, FollowUp.id)
    )
    rows = await session.scalars(
        select(FollowUp)
        .where(*conditions)
        .options(*_options())
        .order_by(*order_by)
        .limit(limit)
        .offset(offset)
    )
    return [_read(f, now) for f in rows.unique()], total


async def open_counts(session: AsyncSession, actor: Actor, now: datetime) -> dict[str, int]:
    """How many follow-ups in the actor's area are due (not yet late) and overdue."""
    reach = [c for c in (_reach(actor),) if c is not None]
    states = ("due", "overdue")
    row = (
        await session.execute(select(*(func.count().filter(_state(s, now)) for s in states)).where(*reach))
    ).one()
    return dict(zip(states, row, strict=True))


async def _followup(session: AsyncSession, actor: Actor, followup_id: int, *, lock: bool = False) -> FollowUp:
    """The follow-up, when it is in the actor's area; outside it, as for a missing one, a 404."""
    reach = _reach(actor)
    stmt = select(FollowUp).where(FollowUp.id == followup_id)
    if reach is not None:
        stmt = stmt.where(reach)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    followup = await session.scalar(stmt)
    if followup is None:
        raise NotFound(f"Follow-up {followup_id} does not exist.", code="followup_not_found")
    return followup


async def get_followup(session: AsyncSession, actor: Actor, followup_id: int, now: datetime) -> FollowUpRead:
    await _followup(session, actor, followup_id)
    found = await session.scalar(
        select(FollowUp)
        .where(FollowUp.id == followup_id)
        .options(*_options())
        .execution_options(populate_existing=True)
    )
    assert found is not None  # just read
    return _read(found, now)


async def record_outcome(
    session: AsyncSession, actor: Actor, followup_id: int, data: OutcomeRequest, now: datetime
) -> None:
    """Record how the call went, once: the follow-up is locked, so of two records at once one wins."""
    followup = await _followup(session, actor, followup_id, lock=True)
    if followup.outcome is not None:
        raise Conflict("This follow-up's outcome is already recorded.", code="followup_already_recorded")
    followup.outcome = data.outcome
    followup.note = data.note.strip()
    followup.recorded_by_id = actor.id
    followup.recorded_at = now
    await session.flush()


# ---------------------------------------------------------------- the community's sample


def _sampling_read(community_id: int, row: FollowUpSampling | None) -> SamplingRead:
    if row is None:
        return SamplingRead(community_id, DEFAULT_SAMPLE_PERCENT, None, None)
    return SamplingRead(community_id, row.percent, row.updated_by_id, row.updated_at)


async def get_sampling(session: AsyncSession, actor: Actor, community_id: int) -> SamplingRead:
    """Managers of the community and the grid workers inside it may read the sample."""
    area = await community_for_reading(session, actor, community_id)
    return _sampling_read(area.id, await session.get(FollowUpSampling, area.id))


async def set_sampling(
    session: AsyncSession, actor: Actor, community_id: int, data: SamplingWrite, now: datetime
) -> SamplingRead:
    if not actor.has(Role.community_manager, Role.street_admin, Role.admin):
        raise Forbidden("Only community managers set the follow-up sample.", code="manager_required")
    area = require_community(await managed_area(session, actor, community_id))
    values = {"percent": data.percent, "updated_by_id": actor.id, "updated_at": now}
    # One statement that inserts or updates: two first saves at once would otherwise both insert.
    await session.execute(
        upsert(session, FollowUpSampling)
        .values(community_id=area.id, **values)
        .on_conflict_do_update(index_elements=[FollowUpSampling.community_id], set_=values)
    )
    return _sampling_read(area.id, await session.get(FollowUpSampling, area.id, populate_existing=True))

"""The micro-wish flow: post → claim → fulfil → confirm, with release, withdraw and expiry.

As with orders, every change locks the wish row first, re-reads it, checks the state
machine and records an event, so two claimers pressing the button at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel, code_length, community_code_of
from market.areas.service import ancestors
from market.auth.access import Actor
from market.auth.models import Role, User
from market.db import lock_rows
from market.errors import Conflict, Forbidden, InvalidInput, NotFound
from market.ledger import service as ledger
from market.ledger.models import TransferCode, WithheldReason
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.orders.schemas import AreaRef
from market.pagination import page_total
from market.privacy import Mask, PersonRef, mask_name, mask_phone, person_ref
from market.volunteers.service import serves_area
from market.wishes.models import WISH_MACHINE, ClaimerKind, Wish, WishAction, WishEvent, WishStatus
from market.wishes.schemas import WishCreate, WishDetail, WishEventRead, WishRead

W = WishStatus

A = WishAction
# On the wall for everyone; withdrawn and expired wishes only for those involved.
PUBLIC_STATUSES = frozenset({W.open, W.claimed, W.fulfilled, W.confirmed})
# A resident's wishes not yet settled: a few at a time keeps the wall fair.
ACTIVE_STATUSES = frozenset({W.open, W.claimed, W.fulfilled})
MAX_ACTIVE_PER_RESIDENT = 5
MAX_LEAD_TIME = timedelta(days=90)
# A resident–volunteer pair earns at most one wish reward in this long.
PAIR_REWARD_INTERVAL = timedelta(days=7)
COMPOUND = code_length(AreaLevel.compound)


# ---------------------------------------------------------------- state machine


def transition(
    wish: Wish, action: WishAction, actor_id: int | None, now: datetime, note: str = ""
) -> WishEvent:
    """Move the wish as `WISH_MACHINE` says (or refuse), and the event that records it."""
    target = WISH_MACHINE.next(wish.status, action)
    event = WishEvent(
        wish_id=wish.id,
        actor_id=actor_id,
        action=action,
        from_status=wish.status,
        to_status=target,
        note=note,
        at=now,
    )
    wish.status = target
    wish.updated_at = now
    return event


async def lock_wish(session: AsyncSession, wish_id: int) -> Wish:
    wish = await session.scalar(
        select(Wish).where(Wish.id == wish_id).with_for_update().execution_options(populate_existing=True)
    )
    if wish is None:
        raise NotFound(f"Wish {wish_id} does not exist.", code="wish_not_found")
    return wish


# ---------------------------------------------------------------- visibility and views


def _visible_to(actor: Actor):
    if actor.is_admin:
        return None
    conditions = [
        Wish.status.in_(PUBLIC_STATUSES),
        Wish.resident_id == actor.id,
        Wish.claimer_id == actor.id,
    ]
    if actor.is_manager:
        conditions.append(Wish.area_code.startswith(actor.area_code))
    return or_(*conditions)


async def _refuse(session: AsyncSession, actor: Actor, wish: Wish, forbidden: Forbidden) -> None:
    """Refuse an action: 403 to someone who can see the wish, 404 to anyone else."""
    visible = _visible_to(actor)
    if visible is None or await session.scalar(select(Wish.id).where(Wish.id == wish.id, visible)):
        raise forbidden
    raise NotFound(f"Wish {wish.id} does not exist.", code="wish_not_found")


def _full_view(wish: Wish, actor: Actor) -> bool:
    """Who sees the resident's name, phone and building: the resident, the area's managers, the claimer."""
    if wish.resident_id == actor.id or actor.manages(wish.area_code):
        return True
    return wish.claimer_id == actor.id and wish.status in (W.claimed, W.fulfilled, W.confirmed)


def _resident_mask(wish: Wish, actor: Actor, areas: dict[str, Area]) -> Mask | None:
    """How the actor's view masks the resident, in fields and free text; None: a full view."""
    if _full_view(wish, actor):
        return None
    building = (areas[wish.area_code].name,) if len(wish.area_code) > COMPOUND else ()
    return Mask(wish.resident.name, wish.resident.phone, building, wish.resident_id)


def _wish_read(wish: Wish, actor: Actor, areas: dict[str, Area]) -> WishRead:
    mask = _resident_mask(wish, actor, areas)
    full = mask is None
    # A home above compound level has a shorter code, which the slice leaves whole.
    area = areas[wish.area_code if full else wish.area_code[:COMPOUND]]
    claimer = wish.claimer
    return WishRead(
        id=wish.id,
        status=wish.status,
        title=wish.title if full else mask(wish.title),
        description=wish.description if full else mask(wish.description),
        value_yuan=wish.value_yuan,
        deadline=wish.deadline,
        community_id=wish.community_id,
        masked=not full,
        resident=person_ref(wish.resident.id, wish.resident.name, wish.resident.phone, masked=not full),
        area=AreaRef(id=area.id, code=area.code, name=area.name, level=area.level),
        # The claimer's name is public (credit where due); their phone is for those involved.
        claimer=PersonRef(
            id=claimer.id, name=claimer.name, phone=claimer.phone if full else mask_phone(claimer.phone)
        )
        if claimer
        else None,
        claimer_kind=wish.claimer_kind,
        claimed_at=wish.claimed_at,
        fulfilled_at=wish.fulfilled_at,
        confirmed_at=wish.confirmed_at,
        points=wish.points,
        created_at=wish.created_at,
        updated_at=wish.updated_at,
    )


async def wish_reads(session: AsyncSession, actor: Actor, wishes: Sequence[Wish]) -> list[WishRead]:
    areas = await ancestors(session, {w.area_code for w in wishes})
    return [_wish_read(w, actor, areas) for w in wishes]


def _wish_options():
    return (selectinload(Wish.resident), selectinload(Wish.claimer))


async def get_wish(session: AsyncSession, actor: Actor, wish_id: int) -> WishDetail:
    stmt = (
        select(Wish)
        .where(Wish.id == wish_id)
        .options(*_wish_options(), selectinload(Wish.events))
        .execution_options(populate_existing=True)
    )
    if (visible := _visible_to(actor)) is not None:
        stmt = stmt.where(visible)
    wish = await session.scalar(stmt)
    if wish is None:
        raise NotFound(f"Wish {wish_id} does not exist.", code="wish_not_found")
    areas = await ancestors(session, {wish.area_code})
    read = _wish_read(wish, actor, areas)
    # The history masks the resident as the wish does: their name where they acted, and every note.
    mask = _resident_mask(wish, actor, areas)
    names = dict(
        (
            await session.execute(
                select(User.id, User.name).where(User.id.in_({e.actor_id for e in wish.events if e.actor_id}))
            )
        ).all()
    )

    def actor_name(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        name = names.get(user_id, "")
        return mask_name(name) if mask is not None and mask.hides(user_id) else name

    return WishDetail(
        **{f: getattr(read, f) for f in read.__struct_fields__},
        events=[
            WishEventRead(
                id=e.id,
                action=e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note if mask is None else mask(e.note),
                at=e.at,
                actor_id=None if mask is not None and mask.hides(e.actor_id) else e.actor_id,
                actor_name=actor_name(e.actor_id),
            )
            for e in wish.events
        ],
    )


async def list_wishes(
    session: AsyncSession,
    actor: Actor,
    *,
    community_id: int | None,
    status: WishStatus | None,
    posted_by_me: bool,
    claimed_by_me: bool,
    limit: int,
    offset: int,
) -> tuple[list[WishRead], int]:
    stmt: Select = select(Wish)
    if (visible := _visible_to(actor)) is not None:
        stmt = stmt.where(visible)
    if community_id is not None:
        stmt = stmt.where(Wish.community_id == community_id)
    if status is not None:
        stmt = stmt.where(Wish.status == status)
    if posted_by_me:
        stmt = stmt.where(Wish.resident_id == actor.id)
    if claimed_by_me:
        stmt = stmt.where(Wish.claimer_id == actor.id)
    wishes = (
        await session.scalars(
            stmt.options(*_wish_options())
            .order_by(Wish.created_at.desc(), Wish.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    total = await page_total(session, stmt, limit, offset, len(wishes))
    return await wish_reads(session, actor, wishes), total


# ---------------------------------------------------------------- resident: post, confirm, withdraw


async def create_wish(session: AsyncSession, actor: Actor, data: WishCreate, now: datetime) -> Wish:
    community_code = community_code_of(actor.area_code)
    if community_code is None:
        raise Forbidden(
            "Only residents living in a community can post wishes.", code="outside_your_community"
        )
    if data.deadline <= now:
        raise InvalidInput("The deadline must be in the future.", code="deadline_in_past")
    if data.deadline - now > MAX_LEAD_TIME:
        raise InvalidInput("The deadline can be at most 90 days ahead.", code="deadline_too_far")
    # Lock the resident's row before counting, so two posts at once cannot both squeeze under the limit.
    await lock_rows(session, select(User.id).where(User.id == actor.id).with_for_update())
    active = (
        await session.scalar(
            select(func.count()).where(Wish.resident_id == actor.id, Wish.status.in_(ACTIVE_STATUSES))
        )
        or 0
    )
    if active >= MAX_ACTIVE_PER_RESIDENT:
        raise Conflict(
            f"You can have at most {MAX_ACTIVE_PER_RESIDENT} wishes on the wall at a time.",
            code="too_many_wishes",
        )
    community = await session.scalar(select(Area).where(Area.code == community_code))
    wish = Wish(
        resident_id=actor.id,
        community_id=community.id,
        area_id=actor.area_id,
        area_code=actor.area_code,
        title=data.title.strip(),
        description=data.description.strip(),
        value_yuan=data.value_yuan,
        deadline=data.deadline,
        status=W.open,
        created_at=now,
        updated_at=now,
    )
    session.add(wish)
    await session.flush()
    session.add(
        WishEvent(
            wish_id=wish.id, actor_id=actor.id, action=A.post, from_status=None, to_status=W.open, at=now
        )
    )
    await session.flush()
    return wish


async def _pair_limit(session: AsyncSession, wish: Wish, now: datetime) -> WithheldReason | None:
    """One wish reward a week for a resident–volunteer pair. The ledger asks it under the
    volunteer's account lock, so that two confirmations at once see each other."""
    earlier = await session.scalar(
        select(Wish.id)
        .where(
            Wish.id != wish.id,
            Wish.resident_id == wish.resident_id,
            Wish.claimer_id == wish.claimer_id,
            Wish.claimer_kind == ClaimerKind.volunteer,
            Wish.confirmed_at > now - PAIR_REWARD_INTERVAL,
            Wish.points > 0,
        )
        .limit(1)
    )
    return WithheldReason.pair_weekly_limit if earlier is not None else None


async def confirm(
    session: AsyncSession, actor: Actor, wish_id: int, note: str, now: datetime, tz: ZoneInfo, points: int
) -> None:
    wish = await lock_wish(session, wish_id)
    if wish.resident_id != actor.id:
        await _refuse(
            session,
            actor,
            wish,
            Forbidden("Only the resident who posted the wish can confirm it.", code="not_resident"),
        )
    session.add(transition(wish, A.confirm, actor.id, now, note))
    wish.confirmed_at = now
    if wish.claimer_kind == ClaimerKind.volunteer and points > 0:
        # The transfer id makes the payment happen once, whatever retries or races come; the caps
        # and the pair's limit may hold part or all of it back (0 points, the reason recorded).
        wish.points = await ledger.capped_reward(
            session,
            transfer_id=f"~wish:{wish.id}",
            code=TransferCode.wish_reward,
            reference=f"wish:{wish.id}",
            user_id=wish.claimer_id,
            community=await session.get(Area, wish.community_id),
            amount=points,
            memo=f"micro-wish: {wish.title}"[:200],
            now=now,
            tz=tz,
            limit=partial(_pair_limit, session, wish, now),
        )
    await notify(
        session,
        [wish.claimer_id],
        NotificationCode.wish_confirmed,
        now,
        subject=("wish", wish.id),
        wish=wish.title,
        points=wish.points or 0,
    )
    await session.flush()


async def withdraw(session: AsyncSession, actor: Actor, wish_id: int, note: str, now: datetime) -> None:
    """The resident takes their wish down; a manager may too (e.g. a wish that breaks the rules)."""
    wish = await lock_wish(session, wish_id)
    if wish.resident_id != actor.id and not actor.manages(wish.area_code):
        await _refuse(
            session,
            actor,
            wish,
            Forbidden(
                "Only the resident who posted the wish or a manager can withdraw it.", code="not_resident"
            ),
        )
    session.add(transition(wish, A.withdraw, actor.id, now, note))
    if wish.claimer_id is not None:
        await notify(
            session,
            [wish.claimer_id],
            NotificationCode.wish_withdrawn,
            now,
            subject=("wish", wish.id),
            wish=wish.title,
        )
    await session.flush()


# ---------------------------------------------------------------- claimers: claim, release, fulfil


async def _may_claim_in(session: AsyncSession, actor: Actor, kind: ClaimerKind, community: Area) -> bool:
    if actor.is_admin:
        return True
    if kind == ClaimerKind.unit:
        # A unit registered at the street (or in the community) serves the community.
        return community.code.startswith(actor.area_code) or actor.area_code.startswith(community.code)
    return actor.area_code.startswith(community.code) or bool(
        await session.scalar(select(User.id).where(User.id == actor.id, serves_area(community.code)))
    )


def _claimer_kind(actor: Actor, wanted: ClaimerKind | None) -> ClaimerKind:
    if wanted is None:
        if actor.has(Role.volunteer):
            return ClaimerKind.volunteer
        if actor.has(Role.unit_admin):
            return ClaimerKind.unit
        raise Forbidden("Claiming a wish needs the volunteer or unit_admin role.", code="role_required")
    needed = Role.volunteer if wanted == ClaimerKind.volunteer else Role.unit_admin
    if not actor.has(needed):
        raise Forbidden(f"Claiming as a {wanted} needs the {needed} role.", code="role_required")
    return wanted


async def claim(
    session: AsyncSession, actor: Actor, wish_id: int, wanted: ClaimerKind | None, note: str, now: datetime
) -> None:
    kind = _claimer_kind(actor, wanted)
    wish = await lock_wish(session, wish_id)
    if wish.resident_id == actor.id:
        await _refuse(session, actor, wish, Forbidden("You cannot claim your own wish.", code="own_wish"))
    community = await session.get(Area, wish.community_id)
    if not await _may_claim_in(session, actor, kind, community):
        await _refuse(
            session,
            actor,
            wish,
            Forbidden(
                f"You can claim wishes only in communities you serve, not {community.name}.",
                code="outside_your_community",
            ),
        )
    if WISH_MACHINE.allows(wish.status, A.claim) and wish.deadline <= now:
        raise Conflict("The wish's deadline has passed; it can no longer be claimed.", code="deadline_passed")
    session.add(transition(wish, A.claim, actor.id, now, note))
    wish.claimer_id = actor.id
    wish.claimer_kind = kind
    wish.claimed_at = now
    await notify(
        session,
        [wish.resident_id],
        NotificationCode.wish_claimed,
        now,
        subject=("wish", wish.id),
        wish=wish.title,
        name=actor.name,
    )
    await session.flush()


async def release(session: AsyncSession, actor: Actor, wish_id: int, note: str, now: datetime) -> None:
    """The claimer gives the wish back to the wall; a manager may too, for a claimer gone quiet."""
    wish = await lock_wish(session, wish_id)
    if wish.claimer_id != actor.id and not actor.manages(wish.area_code):
        await _refuse(
            session,
            actor,
            wish,
            Forbidden("Only the claimer or a manager can release a claim.", code="not_claimer"),
        )
    session.add(transition(wish, A.release, actor.id, now, note))
    wish.claimer_id = None
    wish.claimer_kind = None
    wish.claimed_at = None
    await notify(
        session,
        [wish.resident_id],
        NotificationCode.wish_released,
        now,
        subject=("wish", wish.id),
        wish=wish.title,
    )
    await session.flush()


async def fulfil(session: AsyncSession, actor: Actor, wish_id: int, note: str, now: datetime) -> None:
    wish = await lock_wish(session, wish_id)
    if wish.claimer_id != actor.id:
        await _refuse(
            session,
            actor,
            wish,
            Forbidden("Only the claimer can mark the wish fulfilled.", code="not_claimer"),
        )
    session.add(transition(wish, A.fulfil, actor.id, now, note))
    wish.fulfilled_at = now
    await notify(
        session,
        [wish.resident_id],
        NotificationCode.wish_fulfilled,
        now,
        subject=("wish", wish.id),
        wish=wish.title,
    )
    await session.flush()


# ---------------------------------------------------------------- jobs


async def expire_wishes(session: AsyncSession, now: datetime) -> int:
    """Close open wishes nobody claimed by their deadline."""
    wish_ids = (
        await session.scalars(
            select(Wish.id)
            .where(Wish.status.in_(WISH_MACHINE.sources(A.expire)), Wish.deadline <= now)
            .order_by(Wish.id)
        )
    ).all()
    expired = 0
    for wish_id in wish_ids:
        wish = await lock_wish(session, wish_id)
        if WISH_MACHINE.allows(wish.status, A.expire) and wish.deadline <= now:
            session.add(transition(wish, A.expire, None, now, "the deadline passed before anyone claimed it"))
            await notify(
                session,
                [wish.resident_id],
                NotificationCode.wish_expired,
                now,
                subject=("wish", wish.id),
                wish=wish.title,
            )
            expired += 1
    await session.flush()
    return expired

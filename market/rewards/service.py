"""Redeeming points for donated goods: a pending ledger transfer plus a stock hold,
posted together at pickup, voided together on cancellation or expiry."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import datetime, timedelta
from typing import NoReturn
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel, community_code_of
from market.auth import throttle
from market.auth.access import Actor
from market.auth.models import AttemptKind, Role, User
from market.auth.service import user_names
from market.errors import Conflict, Forbidden, InvalidInput, NotFound
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, TransferCode
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.pagination import page_total
from market.rewards.models import Redemption, RedemptionStatus, Reward, RewardCommunity
from market.rewards.schemas import RedeemRequest, RedemptionRead, RewardCreate, RewardRead
from market.settings import Settings
from market.units.models import UnitAdmin

PICKUP_DAYS = 7


def reward_read(r: Reward) -> RewardRead:
    return RewardRead(
        id=r.id,
        name=r.name,
        description=r.description,
        price=r.price,
        stock=r.stock,
        stock_left=r.stock_left,
        limit_per_person=r.limit_per_person,
        pickup_place=r.pickup_place,
        valid_until=r.valid_until,
        donor=r.donor,
        community_ids=sorted(c.community_id for c in r.communities),
        is_active=r.is_active,
    )


async def create_reward(session: AsyncSession, actor: Actor, data: RewardCreate, now: datetime) -> Reward:
    if data.valid_until <= now:
        raise InvalidInput("valid_until must be in the future.", code="already_expired")
    communities = list(await session.scalars(select(Area).where(Area.id.in_(set(data.community_ids)))))
    if len(communities) != len(set(data.community_ids)) or any(
        c.level != AreaLevel.community for c in communities
    ):
        raise InvalidInput("Every community_id must be a community.", code="not_a_community")
    outside = [c.name for c in communities if not c.code.startswith(actor.area_code)]
    if outside and not actor.is_admin:
        raise Forbidden(
            "You can publish rewards only for communities in your area: " + ", ".join(outside),
            code="outside_your_area",
        )
    reward = Reward(
        name=data.name.strip(),
        description=data.description,
        price=data.price,
        stock=data.stock,
        held=0,
        fulfilled=0,
        limit_per_person=data.limit_per_person,
        pickup_place=data.pickup_place.strip(),
        valid_until=data.valid_until,
        donor=data.donor.strip(),
        area_code=actor.area_code,
        created_by_id=actor.id,
        is_active=True,
        created_at=now,
        communities=[RewardCommunity(community_id=c.id) for c in communities],
    )
    session.add(reward)
    await session.flush()
    return await get_reward(session, reward.id)


async def get_reward(session: AsyncSession, reward_id: int, *, for_update: bool = False) -> Reward:
    stmt = select(Reward).where(Reward.id == reward_id).options(selectinload(Reward.communities))
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    reward = await session.scalar(stmt)
    if reward is None:
        raise NotFound(f"Reward {reward_id} does not exist.", code="reward_not_found")
    return reward


async def _home_community_id(session: AsyncSession, actor: Actor) -> int | None:
    community = community_code_of(actor.area_code)
    if community is None:
        return None
    return await session.scalar(select(Area.id).where(Area.code == community))


async def list_rewards(
    session: AsyncSession, actor: Actor, now: datetime, limit: int, offset: int
) -> tuple[list[Reward], int]:
    """What the caller may redeem; managers and publishers also see what they look after."""
    community_id = await _home_community_id(session, actor)
    redeemable = (
        Reward.is_active
        & (Reward.valid_until > now)
        & Reward.id.in_(select(RewardCommunity.reward_id).where(RewardCommunity.community_id == community_id))
    )
    conditions = [redeemable]
    if actor.is_admin:
        conditions.append(Reward.id.is_not(None))
    elif actor.is_manager or actor.has(Role.unit_admin):
        conditions.append(Reward.area_code.startswith(actor.area_code))
    stmt = select(Reward).where(or_(*conditions))
    rewards = list(
        await session.scalars(
            stmt.options(selectinload(Reward.communities))
            .order_by(Reward.price, Reward.id)
            .limit(limit)
            .offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(rewards))
    return rewards, total


async def published_rewards(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[Reward], int]:
    """The rewards the actor published (and so hands out), newest first."""
    stmt = select(Reward).where(Reward.created_by_id == actor.id)
    rewards = list(
        await session.scalars(
            stmt.options(selectinload(Reward.communities))
            .order_by(Reward.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(rewards))
    return rewards, total


async def redeem(
    session: AsyncSession, actor: Actor, data: RedeemRequest, now: datetime, tz: ZoneInfo
) -> Redemption:
    reward = await get_reward(session, data.reward_id, for_update=True)
    community_id = await _home_community_id(session, actor)
    if community_id not in {c.community_id for c in reward.communities}:
        raise Forbidden("This reward is not offered in your community.", code="not_offered_here")
    if not reward.is_active or reward.valid_until <= now:
        raise Conflict("This reward is no longer offered.", code="reward_closed")
    taken = (
        await session.scalar(
            select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
                Redemption.reward_id == reward.id,
                Redemption.user_id == actor.id,
                Redemption.status.in_([RedemptionStatus.pending, RedemptionStatus.fulfilled]),
            )
        )
        or 0
    )
    if taken + data.quantity > reward.limit_per_person:
        raise Conflict(
            f"Each person may redeem at most {reward.limit_per_person} of this reward.",
            code="limit_per_person_reached",
        )
    if reward.stock_left < data.quantity:
        raise Conflict(f"Only {reward.stock_left} left in stock.", code="out_of_stock")
    member = await ledger.member_account(session, actor.id, Asset.service)
    street = await ledger.street_of(session, member.area_code)
    sink = await ledger.area_account(session, street, AccountKind.redemption_sink, Asset.service)
    redemption = Redemption(
        reward_id=reward.id,
        user_id=actor.id,
        quantity=data.quantity,
        points=reward.price * data.quantity,
        transfer_id=f"~redemption:{uuid.uuid4().hex}",
        status=RedemptionStatus.pending,
        pickup_code=f"{secrets.randbelow(10**6):06d}",
        pickup_deadline=min(reward.valid_until, now + timedelta(days=PICKUP_DAYS)),
        created_at=now,
    )
    session.add(redemption)
    await session.flush()
    result = await ledger.transfer_one(
        session,
        Draft(
            id=redemption.transfer_id,
            debit_account_id=member.id,
            credit_account_id=sink.id,
            amount=redemption.points,
            code=TransferCode.redemption,
            reference=f"redemption:{redemption.id}",
            memo=reward.name,
            pending=True,
        ),
        now,
        tz,
        actor.id,
    )
    ledger.refuse(result, "The redemption was refused")
    reward.held += data.quantity
    await notify(
        session,
        [actor.id],
        NotificationCode.redemption_ready,
        now,
        subject=("redemption", redemption.id),
        reward=reward.name,
        pickup_code=redemption.pickup_code,
        place=reward.pickup_place,
        pickup_by=redemption.pickup_deadline,
    )
    await session.flush()
    return redemption


async def _locked_redemption(session: AsyncSession, redemption_id: int) -> tuple[Redemption, Reward]:
    redemption = await session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound(f"Redemption {redemption_id} does not exist.", code="redemption_not_found")
    # The reward first, always: it is the lock every redemption of it takes.
    reward = await get_reward(session, redemption.reward_id, for_update=True)
    await session.refresh(redemption)
    return redemption, reward


def _handed_out_by(actor: Actor):
    """Who hands a reward out: its publisher, and managers of the member's area (administrators
    everywhere). A condition on redemptions joined with their rewards."""
    if actor.is_admin:
        return Redemption.id.is_not(None)
    conditions = [Reward.created_by_id == actor.id]
    if actor.is_manager:
        conditions.append(
            Redemption.user_id.in_(
                select(User.id)
                .join(Area, Area.id == User.area_id)
                .where(Area.code.startswith(actor.area_code))
            )
        )
    return or_(*conditions)


async def _may_hand_out(session: AsyncSession, actor: Actor, redemption_id: int) -> bool:
    found = await session.scalar(
        select(Redemption.id)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.id == redemption_id, _handed_out_by(actor))
    )
    return found is not None


async def fulfil(
    session: AsyncSession,
    actor: Actor,
    redemption_id: int,
    pickup_code: str,
    now: datetime,
    settings: Settings,
) -> Redemption:
    # Codes are tried at the counter of the reward's publisher; the wait comes before any row lock.
    counter = await session.scalar(
        select(Reward.created_by_id)
        .join(Redemption, Redemption.reward_id == Reward.id)
        .where(Redemption.id == redemption_id)
    )
    if counter is None:
        raise NotFound(f"Redemption {redemption_id} does not exist.", code="redemption_not_found")
    guard = throttle.pickup_guard(settings, actor.id, counter)
    await throttle.refuse_if_waiting(session, guard, settings, now)
    redemption, reward = await _locked_redemption(session, redemption_id)
    if not await _may_hand_out(session, actor, redemption_id):
        raise NotFound(f"Redemption {redemption_id} does not exist.", code="redemption_not_found")
    _refuse_unless_due(redemption.status, redemption.pickup_deadline, now)
    if not hmac.compare_digest(redemption.pickup_code, pickup_code):
        await _wrong_code(session, guard, settings, actor, counter, now)
    # The right code: the typist's slips at this counter stop counting (their records stay).
    await throttle.clear_failures(session, guard, settings, now)
    tz = settings.tz
    result = await ledger.transfer_one(
        session,
        Draft(
            id=f"{redemption.transfer_id}:post",
            post_pending=True,
            pending_id=redemption.transfer_id,
            reference=f"redemption:{redemption.id}",
        ),
        now,
        tz,
        actor.id,
    )
    ledger.refuse(result, "Posting the redemption was refused")
    reward.held -= redemption.quantity
    reward.fulfilled += redemption.quantity
    _settle(redemption, RedemptionStatus.fulfilled, actor.id, now)
    await session.flush()
    return redemption


def _refuse_unless_due(status: RedemptionStatus, pickup_deadline: datetime, now: datetime) -> None:
    """A redemption is handed out while it waits for pickup, until its deadline."""
    if status != RedemptionStatus.pending:
        raise Conflict(f"This redemption is already {status}.", code="redemption_not_pending")
    if pickup_deadline <= now:
        raise Conflict("The pickup deadline has passed.", code="pickup_deadline_passed")


class WrongPickupCode(Conflict):
    # The failure is kept although the request fails: it makes the next attempts wait.
    keep_changes = True


async def _wrong_code(
    session: AsyncSession,
    guard: throttle.Guard,
    settings: Settings,
    actor: Actor,
    counter: int,
    now: datetime,
) -> NoReturn:
    """Record a wrong pickup code and refuse it; once one of the guard's limits is used up, tell the
    counter's people (its publisher and the fellow admins of the publisher's units)."""
    _, used_up = await throttle.record_failure(
        session, guard, settings, now, AttemptKind.pickup_code, user_id=counter, actor_id=actor.id
    )
    if used_up:
        fellows = select(UnitAdmin.unit_id).where(UnitAdmin.user_id == counter)
        admins = set(await session.scalars(select(UnitAdmin.user_id).where(UnitAdmin.unit_id.in_(fellows))))
        await notify(
            session,
            admins | {counter},
            NotificationCode.pickup_codes_guessed,
            now,
            subject=("user", actor.id),
            name=actor.name,
        )
    raise WrongPickupCode("That pickup code does not match.", code="wrong_pickup_code")


async def _by_code(
    session: AsyncSession,
    actor: Actor,
    pickup_code: str,
    redemption_id: int | None,
    now: datetime,
    settings: Settings,
) -> int:
    """The redemption carrying this pickup code, among those the actor hands out.

    Codes are random, not unique: a pending redemption wins over settled ones (which then say they
    are settled), and when several pending ones share the code the caller names one. A code typed
    to find its redemption is tried at the typist's own counter.
    """
    guard = throttle.pickup_guard(settings, actor.id, actor.id)
    await throttle.refuse_if_waiting(session, guard, settings, now)
    stmt = (
        select(Redemption.id, Redemption.status)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.pickup_code == pickup_code, _handed_out_by(actor))
        .order_by(Redemption.id.desc())
    )
    if redemption_id is not None:
        stmt = stmt.where(Redemption.id == redemption_id)
    found = (await session.execute(stmt)).all()
    if not found:
        await _wrong_code(session, guard, settings, actor, actor.id, now)
    pending = [i for i, status in found if status == RedemptionStatus.pending]
    if len(pending) > 1:
        raise Conflict(
            "Several redemptions waiting for pickup have this code; choose the member's.",
            code="pickup_code_ambiguous",
            redemption_ids=pending,
        )
    return pending[0] if pending else found[0][0]


async def fulfil_by_code(
    session: AsyncSession,
    actor: Actor,
    pickup_code: str,
    now: datetime,
    settings: Settings,
    redemption_id: int | None = None,
) -> Redemption:
    """Hand out the redemption that carries this pickup code (see `_by_code`). `fulfil` locks and
    re-checks the redemption, so two counters with the same code hand it out once."""
    found = await _by_code(session, actor, pickup_code, redemption_id, now, settings)
    return await fulfil(session, actor, found, pickup_code, now, settings)


async def redemption_by_code(
    session: AsyncSession, actor: Actor, pickup_code: str, now: datetime, settings: Settings
) -> RedemptionRead:
    """What `fulfil_by_code` would hand out, refused as it would refuse; changes nothing but the
    record of a wrong code. For the counter to see whose redemption a code opens before handing it
    out."""
    read = await get_redemption(
        session, actor, await _by_code(session, actor, pickup_code, None, now, settings)
    )
    _refuse_unless_due(read.status, read.pickup_deadline, now)
    return read


async def _release(
    session: AsyncSession,
    redemption: Redemption,
    reward: Reward,
    status: RedemptionStatus,
    actor_id: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> None:
    result = await ledger.transfer_one(
        session,
        Draft(
            id=f"{redemption.transfer_id}:void",
            void_pending=True,
            pending_id=redemption.transfer_id,
            reference=f"redemption:{redemption.id}",
        ),
        now,
        tz,
        actor_id,
    )
    ledger.refuse(result, "Releasing the redemption was refused")
    reward.held -= redemption.quantity
    _settle(redemption, status, actor_id, now)


def _settle(redemption: Redemption, status: RedemptionStatus, actor_id: int | None, now: datetime) -> None:
    redemption.status = status
    redemption.settled_at = now
    redemption.settled_by_id = actor_id


async def cancel(
    session: AsyncSession, actor: Actor, redemption_id: int, now: datetime, tz: ZoneInfo
) -> Redemption:
    redemption, reward = await _locked_redemption(session, redemption_id)
    if redemption.user_id != actor.id and not await _may_hand_out(session, actor, redemption_id):
        raise NotFound(f"Redemption {redemption_id} does not exist.", code="redemption_not_found")
    if redemption.status != RedemptionStatus.pending:
        raise Conflict(f"This redemption is already {redemption.status}.", code="redemption_not_pending")
    await _release(session, redemption, reward, RedemptionStatus.cancelled, actor.id, now, tz)
    await session.flush()
    return redemption


async def list_redemptions(
    session: AsyncSession,
    actor: Actor,
    status: RedemptionStatus | None,
    limit: int,
    offset: int,
    *,
    to_hand_out: bool = False,
    own: bool = False,
) -> tuple[list[Redemption], int]:
    """The caller's own redemptions and those they hand out; with `to_hand_out`, only the latter;
    with `own`, only the former."""
    mine = Redemption.user_id == actor.id
    scope = _handed_out_by(actor)
    stmt = select(Redemption).join(Reward, Reward.id == Redemption.reward_id)
    stmt = stmt.where(mine if own else scope if to_hand_out else or_(mine, scope))
    if status is not None:
        stmt = stmt.where(Redemption.status == status)
    rows = list(
        await session.scalars(
            stmt.options(selectinload(Redemption.reward))
            .order_by(Redemption.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(rows))
    return rows, total


async def redemption_reads(
    session: AsyncSession, actor: Actor, rows: list[Redemption]
) -> list[RedemptionRead]:
    names = await user_names(session, {r.user_id for r in rows})
    return [
        RedemptionRead(
            id=r.id,
            reward_id=r.reward_id,
            reward_name=r.reward.name,
            pickup_place=r.reward.pickup_place,
            user_id=r.user_id,
            user_name=names.get(r.user_id, ""),
            quantity=r.quantity,
            points=r.points,
            status=r.status,
            pickup_code=r.pickup_code if r.user_id == actor.id else None,
            pickup_deadline=r.pickup_deadline,
            created_at=r.created_at,
            settled_at=r.settled_at,
        )
        for r in rows
    ]


async def get_redemption(session: AsyncSession, actor: Actor, redemption_id: int) -> RedemptionRead:
    redemption = await session.scalar(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .options(selectinload(Redemption.reward))
        .execution_options(populate_existing=True)
    )
    if redemption is None or (
        redemption.user_id != actor.id and not await _may_hand_out(session, actor, redemption_id)
    ):
        raise NotFound(f"Redemption {redemption_id} does not exist.", code="redemption_not_found")
    (read,) = await redemption_reads(session, actor, [redemption])
    return read


async def expire_redemptions(session: AsyncSession, now: datetime, tz: ZoneInfo) -> int:
    """Release points and stock of redemptions nobody picked up in time."""
    due = list(
        await session.scalars(
            select(Redemption.id)
            .where(Redemption.status == RedemptionStatus.pending, Redemption.pickup_deadline <= now)
            .order_by(Redemption.id)
        )
    )
    expired = 0
    for redemption_id in due:
        redemption, reward = await _locked_redemption(session, redemption_id)
        if redemption.status == RedemptionStatus.pending:
            await _release(session, redemption, reward, RedemptionStatus.expired, None, now, tz)
            expired += 1
    await session.flush()
    return expired

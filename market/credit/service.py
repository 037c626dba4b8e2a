"""Resident credit (信用积分): points for taking part in community life, posted through the ledger
on its credit asset, from the street's credit issuance to the person's own credit account.

Credit points are never redeemable: redemptions and gifts move the service asset only, the engine
refuses a transfer between assets, and no hand-made transfer code moves a member's credit (see
market.ledger.authority), so what is credited stays.

Sources: taking part in a project that closed with hours recorded, fulfilling a wish (its resident
confirmed it), and a manager's entry for keeping the residents' compact, capped per resident and
month (the month in the service's time zone). The first two are posted by a scheduled job, once
per person and project or wish."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, community_code_of
from market.areas.service import community_for_reading
from market.auth.access import Actor
from market.auth.models import User
from market.credit.models import CreditEntry, CreditSource
from market.credit.schemas import CompactEntryWrite, CreditEntryRead, CreditRecord, RollRow
from market.db import upsert
from market.errors import Conflict, Forbidden, NotFound
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import Account, AccountKind, Asset, TransferCode
from market.projects.models import Participant, Project, ProjectStatus
from market.wishes.models import ClaimerKind, Wish, WishStatus

PROJECT_CREDIT = 5
WISH_CREDIT = 5
# What managers' compact entries may give one resident in a month, together.
COMPACT_MONTHLY_CAP = 20
# Projects and wishes the job credits per run; the next run takes the rest.
BATCH = 200


def month_of(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m")


async def _post(
    session: AsyncSession,
    *,
    user_id: int,
    community: Area,
    source: CreditSource,
    subject_id: int | None,
    points: int,
    memo: str,
    now: datetime,
    tz: ZoneInfo,
    created_by_id: int | None = None,
    reason: str | None = None,
) -> bool:
    """Record the entry and post its points; False when the entry was there already."""
    subject = subject_id if subject_id is not None else uuid.uuid4().hex
    transfer_id = f"~credit:{source}:{subject}:user:{user_id}"
    inserted = await session.execute(
        upsert(session, CreditEntry)
        .values(
            user_id=user_id,
            community_id=community.id,
            source=source,
            subject_id=subject_id,
            reason=reason,
            memo=memo,
            points=points,
            month=month_of(now, tz),
            transfer_id=transfer_id,
            created_by_id=created_by_id,
            at=now,
        )
        .on_conflict_do_nothing(index_elements=["source", "subject_id", "user_id"])
    )
    if inserted.rowcount == 0:
        return False
    street = await ledger.street_of(session, community.code)
    issuance = await ledger.area_account(session, street, AccountKind.street_issuance, Asset.credit)
    account = await ledger.member_account(session, user_id, Asset.credit)
    result = await ledger.transfer_one(
        session,
        Draft(
            id=transfer_id,
            debit_account_id=issuance.id,
            credit_account_id=account.id,
            amount=points,
            code=TransferCode.resident_credit,
            reference=f"{source}:{subject_id}" if subject_id is not None else str(source),
            memo=memo[:200],
        ),
        now,
        tz,
        created_by=created_by_id,
    )
    ledger.refuse(result, "The credit points were refused")
    return True


# ---------------------------------------------------------------- the residents' compact


async def enter_compact(
    session: AsyncSession, actor: Actor, user_id: int, data: CompactEntryWrite, now: datetime, tz: ZoneInfo
) -> CreditEntryRead:
    """A manager of the resident's community gives compact credit, within the month's cap. The
    resident's credit account is locked first, so two entries at once cannot both pass the cap."""
    user = await session.get(User, user_id)
    home = await session.get(Area, user.area_id) if user and user.area_id else None
    code = community_code_of(home.code) if home else None
    if user is None or home is None or code is None or not actor.manages(home.code):
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    if not actor.is_manager:
        raise Forbidden("Only the community's managers enter compact credit.", code="manager_required")
    if user_id == actor.id:
        raise Forbidden("Nobody enters credit for themselves.", code="own_account")
    community = await session.scalar(select(Area).where(Area.code == code))
    account = await ledger.member_account(session, user_id, Asset.credit)
    await ledger.lock_accounts(session, {account.id})
    month = month_of(now, tz)
    given = await session.scalar(
        select(func.coalesce(func.sum(CreditEntry.points), 0)).where(
            CreditEntry.user_id == user_id,
            CreditEntry.source == CreditSource.compact,
            CreditEntry.month == month,
        )
    )
    if given + data.points > COMPACT_MONTHLY_CAP:
        raise Conflict(
            f"This month's compact credit for this resident is capped at {COMPACT_MONTHLY_CAP}.",
            code="credit_monthly_cap",
            cap=COMPACT_MONTHLY_CAP,
            remaining=COMPACT_MONTHLY_CAP - given,
        )
    await _post(
        session,
        user_id=user_id,
        community=community,
        source=CreditSource.compact,
        subject_id=None,
        points=data.points,
        memo=data.memo.strip(),
        now=now,
        tz=tz,
        created_by_id=actor.id,
        reason=data.reason,
    )
    entry = await session.scalar(
        select(CreditEntry)
        .where(CreditEntry.user_id == user_id, CreditEntry.source == CreditSource.compact)
        .order_by(CreditEntry.id.desc())
        .limit(1)
    )
    return _read(entry)


# ---------------------------------------------------------------- projects and wishes


async def award_credit(session: AsyncSession, now: datetime, tz: ZoneInfo) -> int:
    """Credit the participants of closed projects (with hours recorded) and the fulfillers of
    confirmed wishes, once each; the number of entries made."""
    made = 0
    credited = select(CreditEntry.id).where(CreditEntry.user_id == Participant.user_id)
    participants = (
        await session.execute(
            select(Participant.user_id, Project.id, Project.title, Project.community_id)
            .join(Project, Project.id == Participant.project_id)
            .where(
                Project.status.in_((ProjectStatus.completed, ProjectStatus.overdue)),
                Participant.tenths > 0,
                ~credited.where(
                    CreditEntry.source == CreditSource.project, CreditEntry.subject_id == Project.id
                ).exists(),
            )
            .order_by(Project.id, Participant.user_id)
            .limit(BATCH)
        )
    ).all()
    for user_id, project_id, title, community_id in participants:
        made += await _post(
            session,
            user_id=user_id,
            community=await session.get(Area, community_id),
            source=CreditSource.project,
            subject_id=project_id,
            points=PROJECT_CREDIT,
            memo=title,
            now=now,
            tz=tz,
        )
    wishes = (
        await session.execute(
            select(Wish.claimer_id, Wish.id, Wish.title, Wish.community_id)
            .where(
                Wish.status == WishStatus.confirmed,
                Wish.claimer_kind == ClaimerKind.volunteer,
                ~select(CreditEntry.id)
                .where(
                    CreditEntry.source == CreditSource.wish,
                    CreditEntry.subject_id == Wish.id,
                    CreditEntry.user_id == Wish.claimer_id,
                )
                .exists(),
            )
            .order_by(Wish.id)
            .limit(BATCH)
        )
    ).all()
    for user_id, wish_id, title, community_id in wishes:
        made += await _post(
            session,
            user_id=user_id,
            community=await session.get(Area, community_id),
            source=CreditSource.wish,
            subject_id=wish_id,
            points=WISH_CREDIT,
            memo=title,
            now=now,
            tz=tz,
        )
    return made


# ---------------------------------------------------------------- reading


def _read(e: CreditEntry) -> CreditEntryRead:
    return CreditEntryRead(
        id=e.id,
        source=e.source,
        subject_id=e.subject_id,
        reason=e.reason,
        memo=e.memo,
        points=e.points,
        month=e.month,
        at=e.at,
    )


async def credit_record(session: AsyncSession, actor: Actor, limit: int, offset: int) -> CreditRecord:
    """The person's own credit record: the ledger's balance and the entries, latest first."""
    # Read, not opened: a reading transaction writes nothing (no account yet: no credit yet).
    account = await session.scalar(
        select(Account).where(Account.key == f"{Asset.credit}:{AccountKind.member}:user:{actor.id}")
    )
    total = (
        await session.scalar(select(func.count(CreditEntry.id)).where(CreditEntry.user_id == actor.id)) or 0
    )
    entries = await session.scalars(
        select(CreditEntry)
        .where(CreditEntry.user_id == actor.id)
        .order_by(CreditEntry.at.desc(), CreditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return CreditRecord(
        user_id=actor.id,
        name=actor.name,
        balance=account.balance if account else 0,
        entries=[_read(e) for e in entries],
        total=total,
    )


async def credit_roll(
    session: AsyncSession, actor: Actor, community_id: int, now: datetime, tz: ZoneInfo
) -> list[RollRow]:
    """The community's credit roll: each person credited there, most points first."""
    community = await community_for_reading(session, actor, community_id)
    month = month_of(now, tz)
    rows = await session.execute(
        select(
            User.id,
            User.name,
            User.phone,
            func.sum(CreditEntry.points),
            func.coalesce(func.sum(CreditEntry.points).filter(CreditEntry.month == month), 0),
            func.count(CreditEntry.id),
        )
        .join(User, User.id == CreditEntry.user_id)
        .where(CreditEntry.community_id == community.id)
        .group_by(User.id, User.name, User.phone)
        .order_by(func.sum(CreditEntry.points).desc(), User.name, User.id)
    )
    return [RollRow(*row) for row in rows]

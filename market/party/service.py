"""双报到: an in-service party member reports in to their home community naming their employer;
the community's managers confirm or decline; each year the community writes a comment and a grade
per member, beside the member's activity, and hands out a letter per member to the employer, a list
for the street and commendation letters (表扬信) for members above its threshold of hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, community_code_of
from market.areas.service import get_area, require_community
from market.auth.access import Actor
from market.auth.models import Role, User
from market.auth.service import deciders
from market.db import upsert
from market.errors import Conflict, Forbidden, NotFound, Unprocessable
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.orders.models import Order, ServiceReward
from market.party.models import (
    REPORT_MACHINE,
    CommendationThreshold,
    PartyEvaluation,
    PartyMember,
    ReportAction,
    ReportStatus,
)
from market.party.schemas import (
    Activity,
    DecisionRequest,
    EvaluationRead,
    EvaluationWrite,
    MemberRead,
    ReportRequest,
    StreetRead,
    ThresholdWrite,
    YearRead,
    YearRow,
)
from market.projects.models import Participant
from market.units.models import Unit, UnitCommunity
from market.wishes.models import Wish, WishStatus

CLAIMED = (WishStatus.claimed, WishStatus.fulfilled, WishStatus.confirmed)


def year_bounds(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The year from 1 January to 1 January, in the service's time zone."""
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


# ---------------------------------------------------------------- the member's year


async def member_activity(session: AsyncSession, person_id: int, year: int, tz: ZoneInfo) -> Activity:
    """What the person did in the year: orders served and their hours (ServiceReward, by when the
    order was confirmed), project hours, wishes claimed, projects joined, residents' ratings.

    The one place the party evaluation reads activity from: when the volunteer service record
    (market/records) keeps hours from every source, this reads them from there instead."""
    start, end = year_bounds(year, tz)
    served = (
        await session.execute(
            select(
                func.count(func.distinct(ServiceReward.order_id)),
                func.coalesce(func.sum(ServiceReward.hours_counted), 0.0),
            ).where(
                ServiceReward.volunteer_id == person_id,
                ServiceReward.created_at >= start,
                ServiceReward.created_at < end,
            )
        )
    ).one()
    projects = (
        await session.execute(
            select(func.count(Participant.id), func.coalesce(func.sum(Participant.tenths), 0)).where(
                Participant.user_id == person_id, Participant.added_at >= start, Participant.added_at < end
            )
        )
    ).one()
    wishes = await session.scalar(
        select(func.count(Wish.id)).where(
            Wish.claimer_id == person_id,
            Wish.status.in_(CLAIMED),
            Wish.claimed_at >= start,
            Wish.claimed_at < end,
        )
    )
    ratings = (
        await session.execute(
            select(func.count(Order.rating), func.avg(Order.rating)).where(
                Order.volunteer_id == person_id,
                Order.rating.is_not(None),
                Order.confirmed_at >= start,
                Order.confirmed_at < end,
            )
        )
    ).one()
    return Activity(
        orders_served=served[0],
        hours=round(float(served[1]) + projects[1] / 10, 1),
        wishes_claimed=wishes or 0,
        projects_joined=projects[0],
        ratings=ratings[0],
        rating_average=round(float(ratings[1]), 1) if ratings[1] is not None else None,
    )


# ---------------------------------------------------------------- reporting in


async def _home_community(session: AsyncSession, actor: Actor) -> Area:
    code = community_code_of(actor.area_code)
    community = await session.scalar(select(Area).where(Area.code == code)) if code else None
    if community is None:
        raise Forbidden("Only people living in a community report in to it.", code="outside_your_community")
    return community


async def _employer(session: AsyncSession, data: ReportRequest) -> dict[str, object]:
    if data.unit_id is not None:
        if await session.get(Unit, data.unit_id) is None:
            raise NotFound(f"Unit {data.unit_id} does not exist.", code="unit_not_found")
        return {"unit_id": data.unit_id, "employer_name": "", "contact_name": "", "contact_phone": ""}
    name, contact = data.employer_name.strip(), data.contact_name.strip()
    if not (name and contact and data.contact_phone):
        raise Unprocessable(
            "Name your employer: a co-building unit, or an organisation with a contact and phone.",
            code="employer_required",
        )
    return {
        "unit_id": None,
        "employer_name": name,
        "contact_name": contact,
        "contact_phone": data.contact_phone,
    }


async def report_in(session: AsyncSession, actor: Actor, data: ReportRequest, now: datetime) -> MemberRead:
    """Report in to the home community (pending until a manager confirms). A declined report may be
    made again with corrected details; a pending or confirmed one stands."""
    if not actor.has(Role.resident, Role.volunteer):
        raise Forbidden("Residents and volunteers report in to their community.", code="role_required")
    community = await _home_community(session, actor)
    employer = await _employer(session, data)
    # One statement: two reports at once make one row.
    inserted = await session.execute(
        upsert(session, PartyMember)
        .values(
            user_id=actor.id,
            community_id=community.id,
            status=ReportStatus.pending,
            reported_at=now,
            decline_reason="",
            **employer,
        )
        .on_conflict_do_nothing(index_elements=[PartyMember.user_id])
    )
    member = await session.scalar(
        select(PartyMember)
        .where(PartyMember.user_id == actor.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert member is not None  # inserted or there before
    if inserted.rowcount == 0:
        if member.status != ReportStatus.declined:
            raise Conflict("You have already reported in.", code="already_reported")
        member.status = REPORT_MACHINE.next(member.status, ReportAction.report_again)
        member.community_id, member.reported_at = community.id, now
        member.decided_by_id, member.decided_at, member.decline_reason = None, None, ""
        for key, value in employer.items():
            setattr(member, key, value)
        await session.flush()
    await notify(
        session,
        await deciders(session, community.code),
        NotificationCode.party_report_pending,
        now,
        subject=("party_member", member.id),
        community=community.name,
        community_id=community.id,
        name=actor.name,
    )
    return (await _reads(session, [member]))[0]


async def my_report(session: AsyncSession, actor: Actor) -> MemberRead | None:
    member = await session.scalar(select(PartyMember).where(PartyMember.user_id == actor.id))
    return (await _reads(session, [member]))[0] if member else None


async def _reads(session: AsyncSession, members: list[PartyMember]) -> list[MemberRead]:
    users = {
        u.id: u for u in await session.scalars(select(User).where(User.id.in_({m.user_id for m in members})))
    }
    areas = {
        a.id: a.name
        for a in await session.scalars(select(Area).where(Area.id.in_({m.community_id for m in members})))
    }
    unit_ids = {m.unit_id for m in members if m.unit_id}
    units = {u.id: u for u in await session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))}
    reads = []
    for m in members:
        unit = units.get(m.unit_id) if m.unit_id else None
        user = users[m.user_id]
        reads.append(
            MemberRead(
                id=m.id,
                user_id=m.user_id,
                name=user.name,
                phone=user.phone,
                community_id=m.community_id,
                community_name=areas[m.community_id],
                unit_id=m.unit_id,
                employer=unit.name if unit else m.employer_name,
                contact_name=unit.contact_name if unit else m.contact_name,
                contact_phone=unit.contact_phone if unit else m.contact_phone,
                status=m.status,
                reported_at=m.reported_at,
                decided_at=m.decided_at,
                decline_reason=m.decline_reason,
            )
        )
    return reads


# ---------------------------------------------------------------- the community's side


def _require_manager(actor: Actor, community: Area) -> None:
    """The community's managers (community managers, the street's admins, administrators)."""
    if not (actor.is_community_manager and actor.manages(community.code)):
        raise Forbidden(
            "Only the community's managers look after its party members.", code="manager_required"
        )


async def managed_community(session: AsyncSession, actor: Actor, community_id: int) -> Area:
    community = require_community(await get_area(session, community_id))
    _require_manager(actor, community)
    return community


async def _member(session: AsyncSession, actor: Actor, member_id: int, *, lock: bool = False) -> PartyMember:
    """The member, when the actor manages their community; otherwise, as for a missing one, a 404."""
    stmt = select(PartyMember).where(PartyMember.id == member_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    member = await session.scalar(stmt)
    community = await session.get(Area, member.community_id) if member else None
    if member is None or community is None or not actor.manages(community.code):
        raise NotFound(f"Party member {member_id} does not exist.", code="party_member_not_found")
    _require_manager(actor, community)
    return member


async def decide(
    session: AsyncSession, actor: Actor, member_id: int, data: DecisionRequest, now: datetime
) -> MemberRead:
    member = await _member(session, actor, member_id, lock=True)
    if not data.confirm and not data.reason.strip():
        raise Unprocessable("Say why the report is declined.", code="decline_reason_required")
    action = ReportAction.confirm if data.confirm else ReportAction.decline
    member.status = REPORT_MACHINE.next(member.status, action)
    member.decided_by_id, member.decided_at = actor.id, now
    member.decline_reason = "" if data.confirm else data.reason.strip()
    await session.flush()
    community = await get_area(session, member.community_id)
    code, reason = NotificationCode.party_report_confirmed, {}
    if not data.confirm:
        code, reason = NotificationCode.party_report_declined, {"reason": member.decline_reason}
    await notify(
        session,
        [member.user_id],
        code,
        now,
        subject=("party_member", member.id),
        community=community.name,
        **reason,
    )
    return (await _reads(session, [member]))[0]


def _listing(community: Area, status: ReportStatus | None, search: str) -> Select:
    stmt = (
        select(PartyMember)
        .join(User, User.id == PartyMember.user_id)
        .where(PartyMember.community_id == community.id)
    )
    if status is not None:
        stmt = stmt.where(PartyMember.status == status)
    if search:
        like = f"%{search}%"
        stmt = stmt.outerjoin(Unit, Unit.id == PartyMember.unit_id).where(
            or_(User.name.ilike(like), PartyMember.employer_name.ilike(like), Unit.name.ilike(like))
        )
    return stmt


async def list_members(
    session: AsyncSession,
    actor: Actor,
    community_id: int,
    status: ReportStatus | None,
    search: str,
    limit: int | None,
    offset: int,
) -> tuple[list[MemberRead], int]:
    """Who has reported in to the community: pending first, then by name."""
    community = await managed_community(session, actor, community_id)
    stmt = _listing(community, status, search.strip())
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pending_first = (PartyMember.status != ReportStatus.pending, User.name, PartyMember.id)
    members = list(await session.scalars(stmt.order_by(*pending_first).limit(limit).offset(offset)))
    return await _reads(session, members), total


# ---------------------------------------------------------------- the year's evaluation


async def set_threshold(
    session: AsyncSession, actor: Actor, community_id: int, data: ThresholdWrite, now: datetime
) -> int:
    community = await managed_community(session, actor, community_id)
    values = {"hours": data.hours, "updated_by_id": actor.id, "updated_at": now}
    await session.execute(
        upsert(session, CommendationThreshold)
        .values(community_id=community.id, **values)
        .on_conflict_do_update(index_elements=[CommendationThreshold.community_id], set_=values)
    )
    return data.hours


def commended(activity: Activity, threshold_hours: int | None) -> bool:
    """A commendation letter goes to members whose hours are above the community's threshold;
    a community without a threshold commends nobody."""
    return threshold_hours is not None and activity.hours > threshold_hours


async def evaluate(
    session: AsyncSession,
    actor: Actor,
    member_id: int,
    year: int,
    data: EvaluationWrite,
    now: datetime,
    tz: ZoneInfo,
) -> EvaluationRead:
    """Write (or rewrite) the community's comment and grade of a confirmed member's year, with the
    year's activity as it stands now."""
    member = await _member(session, actor, member_id, lock=True)
    if member.status != ReportStatus.confirmed:
        raise Conflict("Only confirmed members are evaluated.", code="party_member_not_confirmed")
    if year > now.astimezone(tz).year:
        raise Unprocessable("That year has not begun.", code="year_not_begun")
    activity = await member_activity(session, member.user_id, year, tz)
    values = {
        "grade": data.grade,
        "comment": data.comment.strip(),
        "activity": {f: getattr(activity, f) for f in activity.__struct_fields__},
        "evaluated_by_id": actor.id,
        "evaluated_at": now,
    }
    await session.execute(
        upsert(session, PartyEvaluation)
        .values(member_id=member.id, year=year, **values)
        .on_conflict_do_update(index_elements=[PartyEvaluation.member_id, PartyEvaluation.year], set_=values)
    )
    return EvaluationRead(
        year=year, grade=data.grade, comment=values["comment"], activity=activity, evaluated_at=now
    )


def _evaluation_read(e: PartyEvaluation) -> EvaluationRead:
    return EvaluationRead(
        year=e.year,
        grade=e.grade,
        comment=e.comment,
        activity=Activity(**e.activity),
        evaluated_at=e.evaluated_at,
    )


async def year_of(
    session: AsyncSession, actor: Actor, community_id: int, year: int, tz: ZoneInfo
) -> YearRead:
    """The community's confirmed members in the year, by name: activity (as written in the
    evaluation, or as it stands for members not yet evaluated), evaluation, commendation."""
    community = await managed_community(session, actor, community_id)
    members, _ = await list_members(session, actor, community.id, ReportStatus.confirmed, "", None, 0)
    threshold = await session.scalar(
        select(CommendationThreshold.hours).where(CommendationThreshold.community_id == community.id)
    )
    evaluations = {
        e.member_id: e
        for e in await session.scalars(
            select(PartyEvaluation).where(
                PartyEvaluation.member_id.in_([m.id for m in members]), PartyEvaluation.year == year
            )
        )
    }
    rows = []
    for m in members:
        evaluation = _evaluation_read(evaluations[m.id]) if m.id in evaluations else None
        activity = evaluation.activity if evaluation else await member_activity(session, m.user_id, year, tz)
        rows.append(
            YearRow(
                member=m, activity=activity, evaluation=evaluation, commended=commended(activity, threshold)
            )
        )
    return YearRead(
        community_id=community.id,
        community_name=community.name,
        year=year,
        threshold_hours=threshold,
        rows=rows,
    )


async def street_list(
    session: AsyncSession, actor: Actor, street_id: int, year: int, tz: ZoneInfo
) -> list[YearRead]:
    """The list for the street: every community's evaluated year, for the street's admins."""
    street = await get_area(session, street_id)
    if street.level != AreaLevel.street:
        raise Unprocessable(f"{street.name} is not a street.", code="not_a_street")
    if not (actor.has(Role.street_admin, Role.admin) and actor.manages(street.code)):
        raise Forbidden("Only the street's admins read the street's list.", code="street_admin_required")
    communities = await session.scalars(
        select(Area).where(Area.parent_id == street.id, Area.level == AreaLevel.community).order_by(Area.code)
    )
    return StreetRead(
        street_id=street.id,
        year=year,
        communities=[await year_of(session, actor, c.id, year, tz) for c in communities],
    )


async def employer_units(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    """The co-building units paired with the person's home community, to name as an employer."""
    code = community_code_of(actor.area_code)
    if code is None:
        return []
    rows = await session.execute(
        select(Unit.id, Unit.name)
        .join(UnitCommunity, UnitCommunity.unit_id == Unit.id)
        .join(Area, Area.id == UnitCommunity.community_id)
        .where(Area.code == code)
        .order_by(Unit.name, Unit.id)
    )
    return [(unit_id, name) for unit_id, name in rows]

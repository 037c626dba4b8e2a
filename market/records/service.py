"""Service records, certificates and the honour roll.

A record is read, not kept: an order's line is its `ServiceReward` (the hours counted inside the
service window, reckoned once by the orders when the order is confirmed), a project's line is a
closed project's participant (the hours its managers, or its check-ins, recorded), and training and
awards are `RecordEntry` rows. A correction is an entry pointing at the line it corrects; the line
counts with the hours of the last correction in its chain, and the line itself stays as it was.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, community_code_of, community_scope
from market.areas.service import community_for_reading, get_area, require_community
from market.auth.access import Actor
from market.auth.models import Role, User, UserRole
from market.auth.service import deciders, user_names
from market.categories.models import ServiceCategory
from market.db import upsert
from market.errors import Conflict, Forbidden, NotFound, Unprocessable
from market.fields import ID_MAX
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.orders.models import Order, OrderStatus, ServiceReward
from market.privacy import mask_name
from market.projects.models import Participant, Project, ProjectStatus
from market.records.models import (
    CERTIFICATE_MACHINE,
    Certificate,
    CertificateAction,
    CertificateCounter,
    CertificateIssuer,
    CertificateStatus,
    EntryKind,
    RecordEntry,
)
from market.records.schemas import (
    AreaVolunteer,
    CertificateDecision,
    CertificateRead,
    CertificateRequest,
    CertificateRevocation,
    Correction,
    CorrectionWrite,
    EntryWrite,
    HonourRoll,
    HonourRow,
    IssuerRead,
    IssuerWrite,
    RecordLine,
    ServiceOnCertificate,
    Verification,
    VolunteerRecord,
    YearTotal,
)

# The lines that are service (and go on a certificate); training and awards are recorded beside them.
SERVICE_KINDS = frozenset({"order", "project"})
# A project's hours count once it is closed: while it runs its managers may still record them.
CLOSED_PROJECTS = (ProjectStatus.completed, ProjectStatus.overdue)
HONOUR_ROLL_SIZE = 10
VERIFY_PATH = "/verify/"


# ---------------------------------------------------------------- reading the record


async def _community_names(session: AsyncSession, codes: Collection[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = await session.execute(select(Area.code, Area.name).where(Area.code.in_(set(codes))))
    return dict(rows.all())


async def record_lines(
    session: AsyncSession, *, volunteer_ids: Collection[int] | None = None, scope: str | None = None
) -> list[RecordLine]:
    """Every line of the volunteers' records (all volunteers' when None) recorded by a community whose
    code starts with `scope`, each with its corrections applied, oldest first."""
    lines: list[RecordLine] = []
    rewards = (
        select(
            ServiceReward,
            Order.category_code,
            Order.area_code,
            Order.checked_in_at,
            Order.window_start,
            Area.name,
        )
        .join(Order, Order.id == ServiceReward.order_id)
        .join(Area, Area.id == Order.area_id)
        .where(ServiceReward.hours_counted > 0)
    )
    participants = (
        select(Participant, Project)
        .join(Project, Project.id == Participant.project_id)
        .where(Project.status.in_(CLOSED_PROJECTS), Participant.tenths > 0)
    )
    entries = select(RecordEntry).where(RecordEntry.kind != EntryKind.correction)
    corrections = select(RecordEntry).where(RecordEntry.kind == EntryKind.correction).order_by(RecordEntry.id)
    if volunteer_ids is not None:
        ids = set(volunteer_ids)
        rewards = rewards.where(ServiceReward.volunteer_id.in_(ids))
        participants = participants.where(Participant.user_id.in_(ids))
        entries = entries.where(RecordEntry.volunteer_id.in_(ids))
        corrections = corrections.where(RecordEntry.volunteer_id.in_(ids))
    if scope:
        rewards = rewards.where(Order.area_code.startswith(scope, autoescape=True))
        participants = participants.where(Project.community_code.startswith(scope, autoescape=True))
        entries = entries.where(RecordEntry.community_code.startswith(scope, autoescape=True))
        corrections = corrections.where(RecordEntry.community_code.startswith(scope, autoescape=True))
    categories = dict((await session.execute(select(ServiceCategory.code, ServiceCategory.name_zh))).all())

    for reward, category, area_code, checked_in_at, window_start, area_name in await session.execute(rewards):
        lines.append(
            RecordLine(
                ref=f"order:{reward.order_id}:{reward.round}",
                kind="order",
                volunteer_id=reward.volunteer_id,
                community_code=community_code_of(area_code) or area_code,
                category=category,
                what=categories.get(category, category),
                place=area_name,
                at=checked_in_at or window_start,
                hours=reward.hours_counted,
                original_hours=reward.hours_counted,
                recorded_by="",
            )
        )
    for participant, project in await session.execute(participants):
        lines.append(
            RecordLine(
                ref=f"project:{participant.id}",
                kind="project",
                volunteer_id=participant.user_id,
                community_code=project.community_code,
                category="project",
                what=project.title,
                place="",
                at=project.start_at,
                hours=participant.hours,
                original_hours=participant.hours,
                recorded_by="",
            )
        )
    manual = list((await session.scalars(entries)).all())
    fixes = list((await session.scalars(corrections)).all())
    names = await user_names(session, {e.recorded_by_id for e in (*manual, *fixes)})
    for entry in manual:
        lines.append(
            RecordLine(
                ref=f"entry:{entry.id}",
                kind="training" if entry.kind == EntryKind.training else "award",
                volunteer_id=entry.volunteer_id,
                community_code=entry.community_code,
                category=str(entry.kind),
                what=entry.title,
                place=entry.place,
                at=entry.at,
                hours=entry.hours,
                original_hours=entry.hours,
                recorded_by=names.get(entry.recorded_by_id, ""),
            )
        )
    communities = await _community_names(session, {line.community_code for line in lines})
    for line in lines:
        if line.kind in SERVICE_KINDS:
            line.recorded_by = communities.get(line.community_code, "")
            if line.kind == "project":
                line.place = line.recorded_by
    by_target = {fix.corrects: fix for fix in fixes}
    for line in lines:
        ref = line.ref
        while (fix := by_target.get(ref)) is not None:
            line.corrections.append(
                Correction(
                    id=fix.id,
                    hours=fix.hours,
                    reason=fix.reason,
                    memo=fix.memo,
                    recorded_by=names.get(fix.recorded_by_id, ""),
                    recorded_at=fix.recorded_at,
                )
            )
            line.hours = fix.hours
            ref = f"entry:{fix.id}"
    lines.sort(key=lambda line: (line.at, line.ref))
    return lines


def year_totals(lines: Collection[RecordLine], tz: ZoneInfo) -> list[YearTotal]:
    """Hours by year (in the service's time zone: a service at 23:30 on 31 December counts in that
    year wherever the server is) and by category, newest year first."""
    years: dict[int, YearTotal] = {}
    for line in lines:
        year = line.at.astimezone(tz).year
        total = years.setdefault(year, YearTotal(year, 0.0, 0.0, 0, {}))
        if line.kind in SERVICE_KINDS:
            total.service_hours += line.hours
        elif line.kind == "training":
            total.training_hours += line.hours
        else:
            total.awards += 1
        if line.kind != "award":
            total.by_category[line.category] = total.by_category.get(line.category, 0.0) + line.hours
    for total in years.values():
        total.service_hours = round(total.service_hours, 2)
        total.training_hours = round(total.training_hours, 2)
        total.by_category = {k: round(v, 2) for k, v in sorted(total.by_category.items())}
    return sorted(years.values(), key=lambda t: t.year, reverse=True)


def in_year(lines: Collection[RecordLine], year: int | None, tz: ZoneInfo) -> list[RecordLine]:
    return [line for line in lines if year is None or line.at.astimezone(tz).year == year]


async def _volunteer(session: AsyncSession, volunteer_id: int) -> User:
    user = await session.scalar(
        select(User).where(
            User.id == volunteer_id,
            User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.volunteer)),
        )
    )
    if user is None:
        raise NotFound("No such volunteer.", code="volunteer_not_found")
    return user


async def _home_code(session: AsyncSession, user: User) -> str:
    if user.area_id is None:
        return ""
    return (await get_area(session, user.area_id)).code


async def my_record(session: AsyncSession, actor: Actor, year: int | None, tz: ZoneInfo) -> VolunteerRecord:
    lines = await record_lines(session, volunteer_ids={actor.id})
    return VolunteerRecord(actor.id, actor.name, in_year(lines, year, tz), year_totals(lines, tz))


async def volunteer_record(
    session: AsyncSession, actor: Actor, volunteer_id: int, year: int | None, tz: ZoneInfo
) -> VolunteerRecord:
    """A volunteer's record as a manager sees it: the lines recorded inside the manager's area. A
    volunteer who neither lives there nor served there is not found, as a missing one is."""
    volunteer = await _volunteer(session, volunteer_id)
    scope = community_scope(actor.area_code)
    lines = await record_lines(session, volunteer_ids={volunteer.id}, scope=scope)
    if not lines and not actor.manages(await _home_code(session, volunteer)):
        raise NotFound("No such volunteer.", code="volunteer_not_found")
    return VolunteerRecord(volunteer.id, volunteer.name, in_year(lines, year, tz), year_totals(lines, tz))


async def area_lines(session: AsyncSession, actor: Actor, year: int, tz: ZoneInfo) -> list[RecordLine]:
    """The lines recorded inside the manager's area in the year."""
    return in_year(await record_lines(session, scope=community_scope(actor.area_code)), year, tz)


async def area_volunteers(
    session: AsyncSession, actor: Actor, year: int, tz: ZoneInfo
) -> list[AreaVolunteer]:
    """The volunteers with lines in the manager's area in the year, most hours of service first."""
    lines = await area_lines(session, actor, year, tz)
    names = await people(session, {line.volunteer_id for line in lines})
    rows: dict[int, AreaVolunteer] = {}
    for line in lines:
        name, phone = names[line.volunteer_id]
        row = rows.setdefault(
            line.volunteer_id, AreaVolunteer(line.volunteer_id, name, phone, 0.0, 0.0, 0, 0)
        )
        row.lines += 1
        if line.kind in SERVICE_KINDS:
            row.service_hours = round(row.service_hours + line.hours, 2)
        elif line.kind == "training":
            row.training_hours = round(row.training_hours + line.hours, 2)
        else:
            row.awards += 1
    return sorted(rows.values(), key=lambda r: (-r.service_hours, r.name, r.volunteer_id))


async def people(session: AsyncSession, ids: Collection[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.name, User.phone).where(User.id.in_(set(ids))))
    return {i: (name, phone) for i, name, phone in rows}


# ---------------------------------------------------------------- writing: training, awards, corrections


def _may_record(actor: Actor, community_code: str) -> None:
    """Training, awards and corrections are written by the community's managers or those above."""
    if not (actor.is_community_manager and actor.manages(community_code)):
        raise Forbidden("Only the managers of the community that recorded it may.", code="outside_your_area")


async def add_entry(
    session: AsyncSession, actor: Actor, volunteer_id: int, data: EntryWrite, now: datetime
) -> RecordLine:
    volunteer = await _volunteer(session, volunteer_id)
    community = community_code_of(await _home_code(session, volunteer))
    if community is None:
        raise Unprocessable("The volunteer lives in no community.", code="not_in_a_community")
    _may_record(actor, community)
    actor.refuse_own_service(volunteer.id)
    if data.at > now:
        raise Unprocessable("Record what has happened, not what will.", code="entry_in_future")
    entry = RecordEntry(
        volunteer_id=volunteer.id,
        community_code=community,
        kind=EntryKind(data.kind),
        title=data.title,
        place=data.place,
        at=data.at,
        hours=data.hours if data.kind == "training" else 0,
        memo=data.memo,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    session.add(entry)
    await session.flush()
    (line,) = [
        line
        for line in await record_lines(session, volunteer_ids={volunteer.id})
        if line.ref == f"entry:{entry.id}"
    ]
    return line


async def _line(session: AsyncSession, ref: str) -> tuple[int, str]:
    """The volunteer and recording community of the line `ref` names (a correction is a line too)."""
    kind, _, rest = ref.partition(":")
    numbers = [int(part) for part in rest.split(":")]
    if any(n > ID_MAX for n in numbers):  # no row has such an id (and the database's ints stop there)
        raise NotFound("No such line in any record.", code="record_line_not_found")
    found: tuple[int, str] | None = None
    if kind == "order":
        order_id, round_ = numbers
        row = (
            await session.execute(
                select(ServiceReward.volunteer_id, Order.area_code)
                .join(Order, Order.id == ServiceReward.order_id)
                .where(ServiceReward.order_id == order_id, ServiceReward.round == round_)
            )
        ).first()
        found = (row[0], community_code_of(row[1]) or row[1]) if row else None
    elif kind == "project":
        row = (
            await session.execute(
                select(Participant.user_id, Project.community_code)
                .join(Project, Project.id == Participant.project_id)
                .where(Participant.id == numbers[0], Project.status.in_(CLOSED_PROJECTS))
            )
        ).first()
        found = (row[0], row[1]) if row else None
    else:
        entry = await session.get(RecordEntry, numbers[0])
        found = (entry.volunteer_id, entry.community_code) if entry else None
    if found is None:
        raise NotFound("No such line in any record.", code="record_line_not_found")
    return found


async def correct(session: AsyncSession, actor: Actor, data: CorrectionWrite, now: datetime) -> RecordLine:
    """A line's hours set anew by a new entry pointing at it; only the last word may be corrected,
    so that of two corrections made at once one is refused (the unique `corrects`)."""
    volunteer_id, community = await _line(session, data.corrects)
    _may_record(actor, community)
    actor.refuse_own_service(volunteer_id)
    if await session.scalar(select(RecordEntry.id).where(RecordEntry.corrects == data.corrects)) is not None:
        raise Conflict(
            "That line was corrected already: correct the correction.", code="line_already_corrected"
        )
    fix = RecordEntry(
        volunteer_id=volunteer_id,
        community_code=community,
        kind=EntryKind.correction,
        corrects=data.corrects,
        at=now,
        hours=data.hours,
        reason=str(data.reason),
        memo=data.memo,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    session.add(fix)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict("That line was corrected already.", code="line_already_corrected") from error
    lines = await record_lines(session, volunteer_ids={volunteer_id}, scope=community)
    corrected = next(line for line in lines if any(c.id == fix.id for c in line.corrections))
    before = corrected.corrections[-2].hours if len(corrected.corrections) > 1 else corrected.original_hours
    await notify(
        session,
        [volunteer_id],
        NotificationCode.service_record_corrected,
        now,
        subject=("record_entry", fix.id),
        community=(await _community_names(session, {community})).get(community, community),
        what=corrected.what,
        served_at=corrected.at,
        was=round(before, 2),
        hours=round(fix.hours, 2),
        correction_reason=fix.reason,
    )
    return corrected


# ---------------------------------------------------------------- certificates


def _day_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


async def _services(
    session: AsyncSession, volunteer_id: int, community_code: str, start: date, end: date, tz: ZoneInfo
) -> list[RecordLine]:
    since, until = _day_bounds(start, end, tz)
    return [
        line
        for line in await record_lines(session, volunteer_ids={volunteer_id}, scope=community_code)
        if line.kind in SERVICE_KINDS and line.hours > 0 and since <= line.at < until
    ]


def _may_issue(actor: Actor, certificate: Certificate) -> None:
    if not (actor.is_community_manager and actor.manages(certificate.community_code)):
        raise Forbidden("Only the issuing community's managers may.", code="outside_your_area")


async def _certificate_read(session: AsyncSession, c: Certificate) -> CertificateRead:
    community = await get_area(session, c.community_id)
    return CertificateRead(
        id=c.id,
        volunteer_id=c.volunteer_id,
        volunteer_name=c.volunteer_name,
        community_id=c.community_id,
        community_name=community.name,
        period_start=c.period_start,
        period_end=c.period_end,
        status=c.status,
        requested_at=c.requested_at,
        number=c.number,
        total_hours=c.total_hours,
        services=[ServiceOnCertificate(**s) for s in c.services or []],
        issuer_name=c.issuer_name,
        responsible_person=c.responsible_person,
        handler_name=c.handler_name,
        contact=c.contact,
        decided_at=c.decided_at,
        reason=c.reason,
        memo=c.memo,
        revoked_at=c.revoked_at,
        verify_path=VERIFY_PATH + c.token if c.token else None,
    )


async def request_certificate(
    session: AsyncSession, actor: Actor, data: CertificateRequest, now: datetime, tz: ZoneInfo
) -> CertificateRead:
    community = require_community(await get_area(session, data.community_id))
    if data.period_start > data.period_end:
        raise Unprocessable("The period ends before it starts.", code="period_order")
    if data.period_end > now.astimezone(tz).date():
        raise Unprocessable("A certificate covers what has happened.", code="period_in_future")
    if not await _services(session, actor.id, community.code, data.period_start, data.period_end, tz):
        raise Unprocessable(
            "The community recorded no service of yours in that period.", code="no_service_in_period"
        )
    waiting = await session.scalar(
        select(Certificate.id).where(
            Certificate.volunteer_id == actor.id,
            Certificate.community_id == community.id,
            Certificate.status == CertificateStatus.requested,
        )
    )
    if waiting is not None:
        raise _already_requested()
    certificate = Certificate(
        volunteer_id=actor.id,
        community_id=community.id,
        community_code=community.code,
        period_start=data.period_start,
        period_end=data.period_end,
        requested_at=now,
        volunteer_name=actor.name,
    )
    session.add(certificate)
    try:
        await session.flush()
    except IntegrityError as error:  # another request of theirs, sent at the same moment, waits now
        raise _already_requested() from error
    await notify(
        session,
        await deciders(session, community.code),
        NotificationCode.certificate_requested,
        now,
        subject=("certificate", certificate.id),
        community=community.name,
        name=actor.name,
    )
    return await _certificate_read(session, certificate)


def _already_requested() -> Conflict:
    return Conflict("You have a request waiting at that community.", code="certificate_already_requested")


async def my_certificates(session: AsyncSession, actor: Actor) -> list[CertificateRead]:
    rows = await session.scalars(
        select(Certificate).where(Certificate.volunteer_id == actor.id).order_by(Certificate.id.desc())
    )
    return [await _certificate_read(session, c) for c in rows.all()]


async def area_certificates(
    session: AsyncSession, actor: Actor, status: CertificateStatus | None
) -> list[CertificateRead]:
    """The certificates and requests of the communities in the manager's area, waiting ones first."""
    stmt = select(Certificate).where(
        Certificate.community_code.startswith(community_scope(actor.area_code), autoescape=True)
    )
    if status is not None:
        stmt = stmt.where(Certificate.status == status)
    rows = await session.scalars(stmt.order_by(Certificate.requested_at.desc(), Certificate.id.desc()))
    found = [await _certificate_read(session, c) for c in rows.all()]
    return sorted(found, key=lambda c: c.status != CertificateStatus.requested)


async def _certificate(session: AsyncSession, certificate_id: int, *, lock: bool = False) -> Certificate:
    stmt = select(Certificate).where(Certificate.id == certificate_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    certificate = await session.scalar(stmt)
    if certificate is None:
        raise NotFound("No such certificate.", code="certificate_not_found")
    return certificate


async def _tell_volunteer(
    session: AsyncSession, certificate: Certificate, code: NotificationCode, now: datetime, **params: object
) -> None:
    """The volunteer hears of each decision on their certificate."""
    community = await get_area(session, certificate.community_id)
    await notify(
        session,
        [certificate.volunteer_id],
        code,
        now,
        subject=("certificate", certificate.id),
        community=community.name,
        **params,
    )


async def _readable(session: AsyncSession, actor: Actor, certificate_id: int) -> Certificate:
    """A certificate its volunteer or the issuing community's managers read; to anyone else it is
    not found, as a missing one is."""
    certificate = await _certificate(session, certificate_id)
    if certificate.volunteer_id != actor.id and not (
        actor.is_community_manager and actor.manages(certificate.community_code)
    ):
        raise NotFound("No such certificate.", code="certificate_not_found")
    return certificate


async def get_certificate(session: AsyncSession, actor: Actor, certificate_id: int) -> CertificateRead:
    return await _certificate_read(session, await _readable(session, actor, certificate_id))


async def _next_serial(session: AsyncSession, community_id: int, year: int) -> int:
    """The community's next serial in the year, under the counter row's lock (SQLite's writes are
    one at a time already: the request's BEGIN IMMEDIATE)."""
    await session.execute(
        upsert(session, CertificateCounter)
        .values(community_id=community_id, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["community_id", "year"])
    )
    counter = await session.scalar(
        select(CertificateCounter)
        .where(CertificateCounter.community_id == community_id, CertificateCounter.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert counter is not None  # inserted just above when missing
    counter.last += 1
    return counter.last


async def issue(
    session: AsyncSession, actor: Actor, certificate_id: int, now: datetime, tz: ZoneInfo
) -> CertificateRead:
    """Issue a requested certificate: its services and hours as recorded now, a number gap-free per
    community and year, an unguessable token for its verification page."""
    certificate = await _certificate(session, certificate_id, lock=True)
    _may_issue(actor, certificate)
    actor.refuse_own_service(certificate.volunteer_id)
    CERTIFICATE_MACHINE.check(certificate.status, CertificateAction.issue)
    issuer = await session.get(CertificateIssuer, certificate.community_id)
    if issuer is None:
        raise Unprocessable(
            "Set the community's responsible person and contact first.", code="issuer_not_set"
        )
    services = await _services(
        session,
        certificate.volunteer_id,
        certificate.community_code,
        certificate.period_start,
        certificate.period_end,
        tz,
    )
    if not services:
        raise Unprocessable("The community recorded no service in that period.", code="no_service_in_period")
    community = await get_area(session, certificate.community_id)
    year = now.astimezone(tz).year
    serial = await _next_serial(session, community.id, year)
    certificate.status = CertificateStatus.issued
    certificate.year, certificate.serial = year, serial
    certificate.number = f"{community.code}-{year}-{serial:04d}"
    certificate.token = secrets.token_urlsafe(24)
    certificate.services = [
        {
            "what": s.what,
            "place": s.place,
            "at": s.at.astimezone(tz).date().isoformat(),
            "hours": round(s.hours, 2),
        }
        for s in services
    ]
    certificate.total_hours = round(sum(s.hours for s in services), 2)
    certificate.issuer_name = community.name
    certificate.responsible_person = issuer.responsible_person
    certificate.contact = issuer.contact
    certificate.handler_id = actor.id
    certificate.handler_name = actor.name
    certificate.decided_at = now
    await session.flush()
    await _tell_volunteer(
        session, certificate, NotificationCode.certificate_issued, now, number=certificate.number
    )
    return await _certificate_read(session, certificate)


async def refuse(
    session: AsyncSession, actor: Actor, certificate_id: int, data: CertificateDecision, now: datetime
) -> CertificateRead:
    certificate = await _certificate(session, certificate_id, lock=True)
    _may_issue(actor, certificate)
    CERTIFICATE_MACHINE.check(certificate.status, CertificateAction.refuse)
    certificate.status = CertificateStatus.refused
    certificate.reason, certificate.memo = str(data.reason), data.memo
    certificate.handler_id, certificate.handler_name, certificate.decided_at = actor.id, actor.name, now
    await session.flush()
    await _tell_volunteer(
        session, certificate, NotificationCode.certificate_refused, now, refusal_reason=certificate.reason
    )
    return await _certificate_read(session, certificate)


async def revoke(
    session: AsyncSession, actor: Actor, certificate_id: int, data: CertificateRevocation, now: datetime
) -> CertificateRead:
    certificate = await _certificate(session, certificate_id, lock=True)
    _may_issue(actor, certificate)
    CERTIFICATE_MACHINE.check(certificate.status, CertificateAction.revoke)
    certificate.status = CertificateStatus.revoked
    certificate.reason, certificate.memo = str(data.reason), data.memo
    certificate.revoked_by_id, certificate.revoked_at = actor.id, now
    await session.flush()
    await _tell_volunteer(
        session,
        certificate,
        NotificationCode.certificate_revoked,
        now,
        number=certificate.number,
        revocation_reason=certificate.reason,
    )
    return await _certificate_read(session, certificate)


async def certificate_for_download(
    session: AsyncSession, actor: Actor, certificate_id: int
) -> CertificateRead:
    certificate = await _readable(session, actor, certificate_id)
    if certificate.status not in (CertificateStatus.issued, CertificateStatus.revoked):
        raise Conflict("The certificate is not issued.", code="certificate_not_issued")
    return await _certificate_read(session, certificate)


async def verify(session: AsyncSession, token: str, tz: ZoneInfo) -> Verification:
    """What anyone holding the QR code may read: the number, the masked name, the hours, the
    issuer and whether it stands; nothing else."""
    certificate = await session.scalar(select(Certificate).where(Certificate.token == token))
    if certificate is None or certificate.number is None or certificate.decided_at is None:
        raise NotFound("No certificate has that code.", code="certificate_not_found")
    revoked = certificate.status == CertificateStatus.revoked
    return Verification(
        number=certificate.number,
        masked_name=mask_name(certificate.volunteer_name),
        total_hours=certificate.total_hours or 0.0,
        issuer_name=certificate.issuer_name,
        issued_on=certificate.decided_at.astimezone(tz).date(),
        valid=not revoked,
        revoked_reason=certificate.reason if revoked else None,
    )


# ---------------------------------------------------------------- the community's issuing details


async def _managed_community(session: AsyncSession, actor: Actor, community_id: int) -> Area:
    community = require_community(await get_area(session, community_id))
    if not (actor.is_community_manager and actor.manages(community.code)):
        raise Forbidden("That community is outside your own.", code="outside_your_area")
    return community


async def get_issuer(session: AsyncSession, actor: Actor, community_id: int) -> IssuerRead:
    community = await community_for_reading(session, actor, community_id)
    issuer = await session.get(CertificateIssuer, community.id)
    if issuer is None:
        return IssuerRead(community.id, community.name, "", "", None)
    return IssuerRead(
        community.id, community.name, issuer.responsible_person, issuer.contact, issuer.updated_at
    )


async def set_issuer(
    session: AsyncSession, actor: Actor, community_id: int, data: IssuerWrite, now: datetime
) -> IssuerRead:
    community = await _managed_community(session, actor, community_id)
    values = {
        "responsible_person": data.responsible_person.strip(),
        "contact": data.contact.strip(),
        "updated_by_id": actor.id,
        "updated_at": now,
    }
    await session.execute(
        upsert(session, CertificateIssuer)
        .values(community_id=community.id, **values)
        .on_conflict_do_update(index_elements=["community_id"], set_=values)
    )
    return await get_issuer(session, actor, community_id)


async def communities_managed(session: AsyncSession, actor: Actor) -> list[Area]:
    """The communities a manager may issue for, or read the honour roll of."""
    rows = await session.scalars(
        select(Area)
        .where(
            Area.level == AreaLevel.community,
            Area.code.startswith(community_scope(actor.area_code), autoescape=True),
        )
        .order_by(Area.code)
    )
    return list(rows.all())


# ---------------------------------------------------------------- the honour roll


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=tz)
    return start, end


async def honour_roll(
    session: AsyncSession, actor: Actor, community_id: int, month: str, tz: ZoneInfo
) -> HonourRoll:
    """The community's volunteers of the month: most hours of service, and best rated (by the
    residents who confirmed their orders that month); those who opted out are left off."""
    community = await community_for_reading(session, actor, community_id)
    since, until = month_bounds(month, tz)
    hours: dict[int, float] = defaultdict(float)
    for line in await record_lines(session, scope=community.code):
        if line.kind in SERVICE_KINDS and since <= line.at < until:
            hours[line.volunteer_id] += line.hours
    ratings = {
        volunteer: (float(average), count)
        for volunteer, average, count in (
            await session.execute(
                select(Order.volunteer_id, func.avg(Order.rating), func.count(Order.rating))
                .where(
                    Order.area_code.startswith(community.code, autoescape=True),
                    Order.status == OrderStatus.confirmed,
                    Order.rating.is_not(None),
                    Order.confirmed_at >= since,
                    Order.confirmed_at < until,
                )
                .group_by(Order.volunteer_id)
            )
        )
        if volunteer is not None
    }
    shown = {
        i: name
        for i, name in (
            await session.execute(
                select(User.id, User.name).where(
                    User.id.in_(set(hours) | set(ratings)), User.honour_roll_opt_out.is_(False)
                )
            )
        )
    }

    def row(i: int) -> HonourRow:
        average, count = ratings.get(i, (None, 0))
        return HonourRow(
            i, shown[i], round(hours.get(i, 0.0), 2), round(average, 2) if average else None, count
        )

    by_hours = sorted(
        (row(i) for i in shown if hours.get(i, 0) > 0), key=lambda r: (-r.hours, r.name, r.volunteer_id)
    )
    by_rating = sorted(
        (row(i) for i in shown if i in ratings),
        key=lambda r: (-(r.rating or 0), -r.ratings, r.name, r.volunteer_id),
    )
    return HonourRoll(
        community.id, community.name, month, by_hours[:HONOUR_ROLL_SIZE], by_rating[:HONOUR_ROLL_SIZE]
    )


async def set_opt_out(session: AsyncSession, actor: Actor, opt_out: bool) -> bool:
    user = await session.get(User, actor.id)
    assert user is not None  # the caller is loaded from this row
    user.honour_roll_opt_out = opt_out
    await session.flush()
    return opt_out


async def opted_out(session: AsyncSession, actor: Actor) -> bool:
    return bool(await session.scalar(select(User.honour_roll_opt_out).where(User.id == actor.id)))


async def service_communities(session: AsyncSession, actor: Actor) -> list[Area]:
    """The communities that recorded the volunteer's service: those they may ask for a certificate."""
    codes = {line.community_code for line in await record_lines(session, volunteer_ids={actor.id})}
    rows = await session.scalars(select(Area).where(Area.code.in_(codes)).order_by(Area.code))
    return list(rows.all())

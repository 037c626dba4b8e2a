"""Sign-up and its approvals: a resident registers on the phone and a grid worker of their grid
approves; a resident applies to volunteer and a community manager of their community approves.
Until then a new resident may log in only to see how their application stands. The applicant is
told the outcome in their inbox (notification kinds, rendered by the pages in their language)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import false, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel
from market.areas.service import get_area
from market.auth import throttle
from market.auth.access import Actor
from market.auth.models import AttemptKind, FailedAttempt, Role, User, UserRole
from market.auth.passwords import hash_password
from market.auth.service import COMMUNITY_DECIDES, actor_of, deciders, get_user
from market.errors import Conflict, Forbidden, InvalidInput, NotFound
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.pagination import count_rows, page_total
from market.people.models import Application, ApplicationKind, ApplicationStatus
from market.people.schemas import ApplicationRead, SignUp, VolunteerApplicationCreate
from market.settings import Settings
from market.volunteers.schemas import ProfileWrite
from market.volunteers.service import put_profile

# What the applicant is told of the outcome.
OUTCOME_CODES = {
    (ApplicationKind.resident, ApplicationStatus.approved): NotificationCode.signup_approved,
    (ApplicationKind.resident, ApplicationStatus.refused): NotificationCode.signup_refused,
    (ApplicationKind.volunteer, ApplicationStatus.approved): NotificationCode.volunteer_approved,
    (ApplicationKind.volunteer, ApplicationStatus.refused): NotificationCode.volunteer_refused,
}
# Who decides: any manager of the building's area for a resident (its grid worker first of all);
# a community manager (or above) of the community for a volunteer.
DECIDER_RANK = {ApplicationKind.resident: 1, ApplicationKind.volunteer: 2}


def signup_guard(settings: Settings, client: str) -> throttle.Guard:
    """Sign-ups from one client address: a few pass, then each waits longer (as failed logins do)."""
    return throttle.Guard(
        locks=(f"signup:{client}",),
        limits=(
            throttle.Limit(
                (FailedAttempt.kind == AttemptKind.signup) & (FailedAttempt.client == client),
                settings.signup_free_per_client,
            ),
        ),
        # Every sign-up counts: none clears the ones before it.
        clears=false(),
    )


async def sign_up(
    session: AsyncSession, settings: Settings, data: SignUp, client: str, now: datetime
) -> User:
    """Register a resident: they may log in at once, but only to see their application until a
    grid worker approves it."""
    guard = signup_guard(settings, client)
    await throttle.refuse_if_waiting(session, guard, settings, now)
    await throttle.record_failure(
        session, guard, settings, now, AttemptKind.signup, account=data.phone, client=client
    )
    area = await get_area(session, data.area_id)
    if area.level != AreaLevel.building:
        raise InvalidInput("Choose the building you live in.", code="not_a_building")
    if await session.scalar(select(func.count()).where(User.phone == data.phone)):
        raise Conflict("An account with this phone number already exists.", code="phone_taken")
    user = User(
        phone=data.phone,
        name=data.name.strip(),
        password_hash=await hash_password(data.password),
        area_id=area.id,
        is_active=True,
        approval=ApplicationStatus.pending,
        created_at=now,
        role_rows=[],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict("An account with this phone number already exists.", code="phone_taken") from error
    application = Application(
        user_id=user.id,
        kind=ApplicationKind.resident,
        status=ApplicationStatus.pending,
        area_id=area.id,
        area_code=area.code,
        details="",
        created_at=now,
    )
    session.add(application)
    await session.flush()
    await _tell_deciders(session, application, user.name, now)
    return await get_user(session, user.id)


async def apply_to_volunteer(
    session: AsyncSession, actor: Actor, data: VolunteerApplicationCreate, now: datetime
) -> Application:
    """A resident asks to volunteer with this profile; a community manager decides."""
    if Role.resident not in actor.roles or actor.area_id is None:
        raise Forbidden("Only residents apply to volunteer.", code="role_required")
    if Role.volunteer in actor.roles:
        raise Conflict("You volunteer already.", code="already_volunteer")
    waiting = await session.scalar(
        select(Application.id).where(
            Application.user_id == actor.id,
            Application.kind == ApplicationKind.volunteer,
            Application.status == ApplicationStatus.pending,
        )
    )
    if waiting is not None:
        raise Conflict("Your application is waiting already.", code="application_pending")
    application = Application(
        user_id=actor.id,
        kind=ApplicationKind.volunteer,
        status=ApplicationStatus.pending,
        area_id=actor.area_id,
        area_code=actor.area_code,
        details=msgspec.json.encode(ProfileWrite(**msgspec.structs.asdict(data))).decode(),
        created_at=now,
    )
    session.add(application)
    await session.flush()
    await _tell_deciders(session, application, actor.name, now)
    return application


# Who is told an application waits: the building's grid workers for a sign-up, the community's
# managers for a volunteer; when the area has none, the managers of the level above (a street admin
# may decide either).
TOLD_FIRST = {
    ApplicationKind.resident: (
        (AreaLevel.grid, Role.grid_worker),
        (AreaLevel.community, Role.community_manager),
    ),
    ApplicationKind.volunteer: COMMUNITY_DECIDES,
}


async def _tell_deciders(session: AsyncSession, application: Application, name: str, now: datetime) -> None:
    await notify(
        session,
        await deciders(session, application.area_code, TOLD_FIRST[application.kind]),
        NotificationCode.approval_pending,
        now,
        subject=("application", application.id),
        application_kind=str(application.kind),
        name=name,
    )


def _may_decide(actor: Actor, kind: ApplicationKind, area_code: str) -> bool:
    return actor.manages(area_code) and (actor.is_admin or actor.rank >= DECIDER_RANK[kind])


def _decidable(actor: Actor):
    """Pending applications the actor may decide, as a query."""
    stmt = select(Application).where(Application.status == ApplicationStatus.pending)
    if not actor.is_admin:
        stmt = stmt.where(Application.area_code.startswith(actor.area_code, autoescape=True))
        if actor.rank < DECIDER_RANK[ApplicationKind.volunteer]:
            stmt = stmt.where(Application.kind == ApplicationKind.resident)
    return stmt


async def pending_approvals_count(session: AsyncSession, actor: Actor) -> int:
    """How many applications wait for this actor (for the desk's overview)."""
    if not actor.is_manager:
        return 0
    return await count_rows(session, _decidable(actor))


async def application_reads(session: AsyncSession, rows: list[Application]) -> list[ApplicationRead]:
    users = {
        u.id: u for u in await session.scalars(select(User).where(User.id.in_({a.user_id for a in rows})))
    }
    areas = dict(
        (
            await session.execute(select(Area.id, Area.name).where(Area.id.in_({a.area_id for a in rows})))
        ).all()
    )
    return [
        ApplicationRead(
            id=a.id,
            user_id=a.user_id,
            user_name=users[a.user_id].name,
            user_phone=users[a.user_id].phone,
            kind=a.kind,
            status=a.status,
            area_id=a.area_id,
            area_name=areas.get(a.area_id, ""),
            created_at=a.created_at,
            decided_at=a.decided_at,
            profile=msgspec.json.decode(a.details, type=ProfileWrite) if a.details else None,
        )
        for a in rows
    ]


async def list_approvals(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[ApplicationRead], int]:
    """The applications waiting for the actor, oldest first."""
    stmt = _decidable(actor)
    rows = list(
        await session.scalars(
            stmt.order_by(Application.created_at, Application.id).limit(limit).offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(rows))
    return await application_reads(session, rows), total


async def my_applications(session: AsyncSession, actor: Actor) -> list[ApplicationRead]:
    rows = await session.scalars(
        select(Application).where(Application.user_id == actor.id).order_by(Application.id.desc()).limit(20)
    )
    return await application_reads(session, list(rows))


async def decide(
    session: AsyncSession, actor: Actor, application_id: int, approve: bool, now: datetime
) -> ApplicationRead:
    """Approve or refuse a waiting application. A second click finds it decided and changes nothing."""
    application = await session.scalar(
        select(Application)
        .where(Application.id == application_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if application is None or not _may_decide(actor, application.kind, application.area_code):
        raise NotFound(f"Application {application_id} does not exist.", code="application_not_found")
    if application.status != ApplicationStatus.pending:
        raise Conflict("This application has been decided already.", code="application_decided")
    application.status = ApplicationStatus.approved if approve else ApplicationStatus.refused
    application.decided_by = actor.id
    application.decided_at = now
    user = await get_user(session, application.user_id)
    if application.kind == ApplicationKind.resident:
        user.approval = None if approve else ApplicationStatus.refused
        if approve and Role.resident not in user.roles:
            session.add(UserRole(user_id=user.id, role=Role.resident))
        await session.flush()
    elif approve:
        if Role.volunteer not in user.roles:
            session.add(UserRole(user_id=user.id, role=Role.volunteer))
            await session.flush()
        user = await get_user(session, user.id)
        # The profile as the volunteer asked for it, under the rules of their own profile page.
        profile = msgspec.json.decode(application.details, type=ProfileWrite)
        await put_profile(session, actor_of(user), user.id, profile)
    await notify(
        session,
        [user.id],
        OUTCOME_CODES[(application.kind, application.status)],
        now,
        subject=("application", application.id),
    )
    await session.flush()
    return (await application_reads(session, [application]))[0]

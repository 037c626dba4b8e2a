"""Recruiting: a project's shifts, the volunteers' sign-ups and waiting lists, and check-in by the
organiser's rotating code.

Who may sign up: an active volunteer who lives in or serves the project's community (as for a
project's participants) and, when the shift wants skills, has at least one of them
(`market.dispatch.eligibility`'s facts and `serves`). A sign-up takes a slot while there is one,
else joins the waiting list; every sign-up counts one arrival on the locked shift row, and the
waiting list moves up in arrival order when a signed-up volunteer cancels. Cancelling a slot closes
`cancel_cutoff_hours` before the start (DEFAULT_CANCEL_CUTOFF_HOURS unless the organiser sets one);
leaving the waiting list is always possible.

Check-in and check-out: the organiser's page shows a QR code that changes every minute: the shift's
id, the minute and an HMAC of both with the app's secret. The code of the current and the previous
minute is accepted, nothing older, and never another shift's. Checking in opens
CHECK_IN_OPENS_BEFORE the start and closes at the end; checking out closes CHECK_OUT_GRACE after the
end. The hours that count are those inside the shift's window; they are added to the volunteer's
participant record of the project, so close-out pays them as any other hours; a volunteer who
checked in and never out gets none from the shift (a manager may still record hours by hand). After
the end, a job records those signed up who never checked in as no-shows.

Locks, in the projects' order: the project row (check-in and -out change its participants), then
the shift row (signing up, cancelling, the no-show job), then sign-ups.

Cancelling the shift (the organiser, before the start, with a ShiftCancelReason): the shift takes no
more sign-ups, and every one signed up, waiting or already checked in is called off and told
(`shift_cancelled`); nobody can check in or out of it, so none of its hours reach a service record.
Cancelling it again is a 409.

Marking the roster (the organiser, never on their own service): a no-show from the start on, which
records no hours (a check-in alone made nobody a participant); attended once the shift has ended,
which records the shift's hours as a check-out would (from their check-in if they scanned in, else
from the start, to the end). A volunteer already checked out keeps their hours: a no-show cannot
take them back.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, community_code_of, community_scope
from market.areas.service import get_area
from market.auth.access import Actor
from market.auth.models import Role
from market.auth.service import user_names
from market.categories.models import ServiceCategory
from market.clock import shifted
from market.dispatch.eligibility import VolunteerFacts, serves, volunteer_facts
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.pagination import page_total
from market.projects import service as projects
from market.projects.models import PROJECT_MACHINE, Project, ProjectAction
from market.shifts.models import (
    ROSTER_MARKS,
    SHIFT_MACHINE,
    SIGNUP_MACHINE,
    Shift,
    ShiftAction,
    ShiftCancelReason,
    ShiftSignup,
    ShiftSkill,
    ShiftStatus,
    SignupAction,
    SignupStatus,
)
from market.shifts.schemas import CheckInCodeRead, RosterEntry, ShiftCreate, ShiftRead, SignupRead

S, A = SignupStatus, SignupAction
DEFAULT_CANCEL_CUTOFF_HOURS = 12
CHECK_IN_OPENS_BEFORE = timedelta(minutes=30)
CHECK_OUT_GRACE = timedelta(hours=2)
CODE_MINUTE = 60
# Sign-ups that hold one of the shift's slots.
TAKING = frozenset({S.signed_up, S.checked_in, S.checked_out, S.no_show})
# A project recruits while volunteers may still join it.
RECRUITING = PROJECT_MACHINE.sources(ProjectAction.add_participant)


# ---------------------------------------------------------------- the rotating code


def minute_of(moment: datetime) -> int:
    return int(moment.timestamp()) // CODE_MINUTE


def _signature(secret: str, shift_id: int, minute: int) -> str:
    message = f"shift-check-in:{shift_id}:{minute}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:20]


def check_in_code(secret: str, shift_id: int, now: datetime) -> str:
    minute = minute_of(now)
    return f"{shift_id}.{minute}.{_signature(secret, shift_id, minute)}"


def verify_code(secret: str, shift_id: int, code: str, now: datetime) -> None:
    """Refuse a code that is not one the organiser's page showed, is another shift's, or is older
    than the previous minute."""
    parts = code.split(".")
    if len(parts) != 3 or not (parts[0].isdecimal() and parts[1].isdecimal()) or len(parts[0]) > 10:
        raise InvalidInput("This is not a check-in code.", code="check_in_code_invalid")
    code_shift, minute, signature = int(parts[0]), int(parts[1]), parts[2]
    if not hmac.compare_digest(signature, _signature(secret, code_shift, minute)):
        raise InvalidInput("This is not a check-in code.", code="check_in_code_invalid")
    if code_shift != shift_id:
        raise Conflict(
            "This code is another shift's: scan the code shown at your shift.",
            code="check_in_code_other_shift",
        )
    if minute not in (minute_of(now), minute_of(now) - 1):
        raise Conflict("This code has expired: scan the code shown now.", code="check_in_code_stale")


# ---------------------------------------------------------------- who may do what


def organises(actor: Actor, project: Project) -> bool:
    """The project's community managers (and street admins above them) run its shifts."""
    return actor.is_community_manager and actor.manages(project.community_code)


def _follows(actor: Actor, project: Project) -> bool:
    """Managers who read the community's projects (grid workers included) read its rosters."""
    return actor.is_admin or (
        actor.is_manager and project.community_code.startswith(community_scope(actor.area_code))
    )


def _check_organises(actor: Actor, shift: Shift, project: Project, doing: str) -> None:
    """Only the organisers run a shift: to those who do not follow its community it does not exist,
    to the others who follow it (grid workers) it is refused."""
    if not _follows(actor, project):
        raise NotFound(f"Shift {shift.id} does not exist.", code="shift_not_found")
    if not organises(actor, project):
        raise Forbidden(f"Only the community's managers {doing}.", code="manager_required")


def eligible(facts: VolunteerFacts, community_code: str, wanted: Sequence[str]) -> bool:
    """An active volunteer living in or serving the community, with a wanted skill if any."""
    if not facts.is_volunteer:
        return False
    near = (facts.home_code or "").startswith(community_code) or serves(facts.serves, community_code)
    return near and (not wanted or any(skill in facts.skills for skill in wanted))


async def _facts(session: AsyncSession, actor: Actor, now: datetime) -> VolunteerFacts:
    return (await volunteer_facts(session, now, ids=[actor.id]))[0]


def _near(facts: VolunteerFacts):
    """Projects of the communities the volunteer lives in or serves (a serving area above a
    community covers every community under it)."""
    codes = [facts.home_code or "", *facts.serves]
    conditions = []
    for code in codes:
        community = community_code_of(code)
        if community is not None:
            conditions.append(Project.community_code == community)
        elif code:
            conditions.append(Project.community_code.startswith(code, autoescape=True))
    return or_(*conditions) if conditions else Project.id.is_(None)


def _wants_mine(facts: VolunteerFacts):
    return or_(~Shift.skills.any(), Shift.skills.any(ShiftSkill.category_code.in_(list(facts.skills))))


# ---------------------------------------------------------------- loading


async def _shift(session: AsyncSession, shift_id: int, *, lock: bool = False) -> tuple[Shift, Project]:
    stmt = select(Shift).where(Shift.id == shift_id).options(selectinload(Shift.skills))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    shift = await session.scalar(stmt)
    if shift is None:
        raise NotFound(f"Shift {shift_id} does not exist.", code="shift_not_found")
    project = await session.get(Project, shift.project_id, populate_existing=lock)
    return shift, project


async def _signups(session: AsyncSession, shift_id: int, *, lock: bool = False) -> list[ShiftSignup]:
    stmt = select(ShiftSignup).where(ShiftSignup.shift_id == shift_id).order_by(ShiftSignup.arrival)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list(await session.scalars(stmt))


def _waiting_positions(signups: Sequence[ShiftSignup]) -> dict[int, int]:
    waiting = sorted((s for s in signups if s.status == S.waiting), key=lambda s: s.arrival)
    return {s.user_id: i for i, s in enumerate(waiting, 1)}


async def _readable(
    session: AsyncSession, actor: Actor, shift: Shift, project: Project, now: datetime
) -> None:
    """A shift is seen by those who follow its community's projects, those on its lists, and the
    volunteers who may sign up; to anyone else it does not exist."""
    if _follows(actor, project):
        return
    if await session.scalar(
        select(ShiftSignup.id).where(ShiftSignup.shift_id == shift.id, ShiftSignup.user_id == actor.id)
    ):
        return
    # Volunteers of the community see its shifts; signing up checks the skills wanted.
    if eligible(await _facts(session, actor, now), project.community_code, []):
        return
    raise NotFound(f"Shift {shift.id} does not exist.", code="shift_not_found")


def _signup_read(signup: ShiftSignup, positions: dict[int, int]) -> SignupRead:
    return SignupRead(
        shift_id=signup.shift_id,
        user_id=signup.user_id,
        status=signup.status,
        arrival=signup.arrival,
        waiting_position=positions.get(signup.user_id),
        checked_in_at=signup.checked_in_at,
        checked_out_at=signup.checked_out_at,
        hours=signup.tenths / 10,
    )


async def shift_reads(
    session: AsyncSession, actor: Actor, shifts: Sequence[Shift], *, roster: bool = False
) -> list[ShiftRead]:
    """Shifts as the caller sees them; `roster` adds everyone's sign-ups for the community's managers."""
    ids = [s.id for s in shifts]
    signups: dict[int, list[ShiftSignup]] = {i: [] for i in ids}
    for signup in await session.scalars(
        select(ShiftSignup).where(ShiftSignup.shift_id.in_(ids)).order_by(ShiftSignup.arrival)
    ):
        signups[signup.shift_id].append(signup)
    project_rows = await session.scalars(
        select(Project).where(Project.id.in_({s.project_id for s in shifts}))
    )
    project_of = {p.id: p for p in project_rows}
    places = dict(
        (
            await session.execute(select(Area.id, Area.name).where(Area.id.in_({s.area_id for s in shifts})))
        ).all()
    )
    names = (
        await user_names(session, {u.user_id for rows in signups.values() for u in rows}) if roster else {}
    )
    reads = []
    for shift in shifts:
        rows = signups[shift.id]
        positions = _waiting_positions(rows)
        counts = Counter(u.status for u in rows)
        mine = next((u for u in rows if u.user_id == actor.id), None)
        project = project_of[shift.project_id]
        reads.append(
            ShiftRead(
                id=shift.id,
                project_id=shift.project_id,
                project_title=project.title,
                title=shift.title,
                description=shift.description,
                area_id=shift.area_id,
                place=places.get(shift.area_id, ""),
                starts_at=shift.starts_at,
                ends_at=shift.ends_at,
                slots=shift.slots,
                taken=sum(counts[s] for s in TAKING),
                waiting=counts[S.waiting],
                skills=[s.category_code for s in shift.skills],
                cancel_cutoff_hours=shift.cancel_cutoff_hours,
                cancel_closes_at=cancel_closes_at(shift),
                roll_called_at=shift.roll_called_at,
                status=shift.status,
                cancelled_at=shift.cancelled_at,
                cancel_reason=shift.cancel_reason,
                my_status=mine.status if mine else None,
                my_waiting_position=positions.get(actor.id),
                roster=[
                    RosterEntry(
                        user_id=u.user_id,
                        name=names.get(u.user_id, ""),
                        status=u.status,
                        arrival=u.arrival,
                        waiting_position=positions.get(u.user_id),
                        signed_up_at=u.signed_up_at,
                        checked_in_at=u.checked_in_at,
                        checked_out_at=u.checked_out_at,
                        hours=u.tenths / 10,
                    )
                    for u in rows
                ]
                if roster and _follows(actor, project)
                else None,
            )
        )
    return reads


def cancel_closes_at(shift: Shift) -> datetime:
    return shifted(shift.starts_at, -timedelta(hours=shift.cancel_cutoff_hours))


def check_in_opens_at(shift: Shift) -> datetime:
    return shifted(shift.starts_at, -CHECK_IN_OPENS_BEFORE)


def check_out_closes_at(shift: Shift) -> datetime:
    return shifted(shift.ends_at, CHECK_OUT_GRACE)


# ---------------------------------------------------------------- organising


async def create_shift(
    session: AsyncSession, actor: Actor, project_id: int, data: ShiftCreate, now: datetime
) -> Shift:
    project = await projects.lock_project(session, actor, project_id)
    if not organises(actor, project):
        raise Forbidden("Only the community's managers recruit for its projects.", code="manager_required")
    PROJECT_MACHINE.check(project.status, ProjectAction.add_participant)
    if data.starts_at <= now:
        raise InvalidInput("The shift must start in the future.", code="shift_in_past")
    if data.ends_at <= data.starts_at:
        raise InvalidInput("The start must come before the end.", code="window_order")
    if data.ends_at > project.deadline:
        raise InvalidInput(
            "The shift must end by the project's deadline, so that its hours are paid at close-out.",
            code="shift_after_deadline",
            deadline=project.deadline.isoformat(),
        )
    area = await get_area(session, data.area_id)
    if not area.code.startswith(project.community_code):
        raise Unprocessable("The place must lie in the project's community.", code="place_outside_community")
    wanted = sorted(set(data.skills))
    known = set(
        await session.scalars(
            select(ServiceCategory.code).where(ServiceCategory.code.in_(wanted), ServiceCategory.is_active)
        )
    )
    if missing := [c for c in wanted if c not in known]:
        raise Unprocessable(
            f"Unknown skills: {', '.join(missing)}.", code="category_not_found", skills=missing
        )
    shift = Shift(
        project_id=project.id,
        title=data.title.strip(),
        description=data.description,
        area_id=area.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        slots=data.slots,
        cancel_cutoff_hours=DEFAULT_CANCEL_CUTOFF_HOURS
        if data.cancel_cutoff_hours is None
        else data.cancel_cutoff_hours,
        arrivals=0,
        created_by_id=actor.id,
        created_at=now,
        skills=[ShiftSkill(category_code=c) for c in wanted],
    )
    session.add(shift)
    await session.flush()
    return shift


async def project_shifts(session: AsyncSession, actor: Actor, project_id: int) -> list[Shift]:
    """A project's shifts, by start, for whoever may read the project."""
    await projects.get_project(session, actor, project_id)
    return list(
        await session.scalars(
            select(Shift)
            .where(Shift.project_id == project_id)
            .options(selectinload(Shift.skills))
            .order_by(Shift.starts_at, Shift.id)
        )
    )


async def get_shift(session: AsyncSession, actor: Actor, shift_id: int, now: datetime) -> Shift:
    shift, project = await _shift(session, shift_id)
    await _readable(session, actor, shift, project, now)
    return shift


async def current_code(
    session: AsyncSession, actor: Actor, shift_id: int, secret: str, base_url: str, now: datetime
) -> CheckInCodeRead:
    """The code the organiser shows at the venue now, and the phone page it opens."""
    shift, project = await _shift(session, shift_id)
    _check_organises(actor, shift, project, "show the check-in code")
    code = check_in_code(secret, shift.id, now)
    return CheckInCodeRead(
        shift_id=shift.id,
        code=code,
        url=f"{base_url}/v/shifts/{shift.id}/scan?code={code}",
        changes_at=datetime.fromtimestamp((minute_of(now) + 1) * CODE_MINUTE, now.tzinfo),
    )


# ---------------------------------------------------------------- volunteers


async def open_shifts(
    session: AsyncSession, actor: Actor, now: datetime, limit: int, offset: int
) -> tuple[list[Shift], int]:
    """Shifts not started yet, of recruiting projects, that the volunteer may sign up for; soonest first."""
    facts = await _facts(session, actor, now)
    if not facts.is_volunteer:
        return [], 0
    stmt = (
        select(Shift)
        .join(Project, Project.id == Shift.project_id)
        .where(
            Shift.starts_at > now,
            Shift.status.in_(SHIFT_MACHINE.sources(ShiftAction.sign_up)),
            Project.status.in_(RECRUITING),
            _near(facts),
            _wants_mine(facts),
        )
    )
    rows = list(
        await session.scalars(
            stmt.options(selectinload(Shift.skills))
            .order_by(Shift.starts_at, Shift.id)
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, await page_total(session, stmt, limit, offset, len(rows))


async def my_shifts(session: AsyncSession, actor: Actor, limit: int, offset: int) -> tuple[list[Shift], int]:
    """The shifts the volunteer signed up for (cancelled ones left out), latest start first."""
    stmt = (
        select(Shift)
        .join(ShiftSignup, ShiftSignup.shift_id == Shift.id)
        .where(ShiftSignup.user_id == actor.id, ShiftSignup.status != S.cancelled)
    )
    rows = list(
        await session.scalars(
            stmt.options(selectinload(Shift.skills))
            .order_by(Shift.starts_at.desc(), Shift.id)
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, await page_total(session, stmt, limit, offset, len(rows))


async def sign_up(session: AsyncSession, actor: Actor, shift_id: int, now: datetime) -> SignupRead:
    """Take a slot, or the next place on the waiting list when every slot is taken."""
    shift, project = await _shift(session, shift_id, lock=True)
    await _readable(session, actor, shift, project, now)
    if Role.volunteer not in actor.roles:
        raise Forbidden("Only volunteers sign up for shifts.", code="not_a_volunteer")
    if (
        project.status not in RECRUITING
        or shift.starts_at <= now
        or not SHIFT_MACHINE.allows(shift.status, ShiftAction.sign_up)
    ):
        raise Conflict("This shift no longer takes sign-ups.", code="shift_closed")
    facts = await _facts(session, actor, now)
    if not eligible(facts, project.community_code, [s.category_code for s in shift.skills]):
        raise Forbidden("The shift wants a skill you have not listed.", code="shift_skill_missing")
    signups = await _signups(session, shift.id, lock=True)
    mine = next((u for u in signups if u.user_id == actor.id), None)
    if mine is not None and not SIGNUP_MACHINE.allows(mine.status, A.sign_up):
        raise Conflict("You are already on this shift's list.", code="already_signed_up")
    shift.arrivals += 1
    full = sum(u.status in TAKING for u in signups) >= shift.slots
    status = S.waiting if full else S.signed_up
    if mine is None:
        mine = ShiftSignup(shift_id=shift.id, user_id=actor.id, tenths=0)
        session.add(mine)
        signups.append(mine)
    else:
        status = SIGNUP_MACHINE.next(mine.status, A.sign_up, status)
    mine.status, mine.arrival, mine.signed_up_at, mine.updated_at = status, shift.arrivals, now, now
    await session.flush()
    return _signup_read(mine, _waiting_positions(signups))


async def cancel(session: AsyncSession, actor: Actor, shift_id: int, now: datetime) -> SignupRead:
    """Give up a slot (until the cut-off) or leave the waiting list (any time); a freed slot goes to
    the first on the waiting list, who is told."""
    shift, project = await _shift(session, shift_id, lock=True)
    signups = await _signups(session, shift.id, lock=True)
    mine = next((u for u in signups if u.user_id == actor.id), None)
    if mine is None:
        raise NotFound("You have not signed up for this shift.", code="signup_not_found")
    SIGNUP_MACHINE.check(mine.status, A.cancel)
    freed = mine.status == S.signed_up
    if freed and now > cancel_closes_at(shift):
        raise Conflict(
            "Cancelling this shift has closed; tell the organiser instead.",
            code="cancel_closed",
            closed_at=cancel_closes_at(shift).isoformat(),
        )
    mine.status, mine.updated_at = SIGNUP_MACHINE.next(mine.status, A.cancel), now
    if freed and shift.starts_at > now:
        first = next((u for u in signups if u.status == S.waiting), None)
        if first is not None:
            first.status, first.updated_at = SIGNUP_MACHINE.next(first.status, A.promote), now
            await notify(
                session,
                [first.user_id],
                NotificationCode.shift_promoted,
                now,
                subject=("shift", shift.id),
                shift=shift.title,
                project=project.title,
                starts_at=shift.starts_at,
            )
    await session.flush()
    return _signup_read(mine, _waiting_positions(signups))


async def _scanned(
    session: AsyncSession, actor: Actor, shift_id: int, code: str, secret: str, now: datetime
) -> tuple[Shift, Project, ShiftSignup]:
    """The shift, its project (locked) and the volunteer's sign-up (locked) for a scanned code."""
    shift, project = await _shift(session, shift_id)
    verify_code(secret, shift.id, code, now)
    _check_not_cancelled(shift)
    project = await projects.lock_project(session, None, shift.project_id)
    PROJECT_MACHINE.check(project.status, ProjectAction.record_hours)
    mine = await session.scalar(
        select(ShiftSignup)
        .where(ShiftSignup.shift_id == shift.id, ShiftSignup.user_id == actor.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if mine is None or mine.status in (S.waiting, S.cancelled):
        raise Conflict("You are not signed up for this shift.", code="not_signed_up")
    return shift, project, mine


async def check_in(
    session: AsyncSession, actor: Actor, shift_id: int, code: str, secret: str, now: datetime
) -> SignupRead:
    shift, _, mine = await _scanned(session, actor, shift_id, code, secret, now)
    if now < check_in_opens_at(shift):
        raise Conflict(
            "Check-in opens 30 minutes before the shift.",
            code="check_in_not_open",
            opens_at=check_in_opens_at(shift).isoformat(),
        )
    if now >= shift.ends_at:
        raise Conflict("The shift is over.", code="shift_over")
    mine.status = SIGNUP_MACHINE.next(mine.status, A.check_in)
    mine.checked_in_at, mine.updated_at = now, now
    return _signup_read(mine, {})


def counted_tenths(shift: Shift, checked_in_at: datetime, checked_out_at: datetime) -> int:
    """Tenths of an hour between check-in and check-out that lie inside the shift's window."""
    start, end = max(checked_in_at, shift.starts_at), min(checked_out_at, shift.ends_at)
    return max(0, round((end - start) / timedelta(minutes=6)))


async def check_out(
    session: AsyncSession, actor: Actor, shift_id: int, code: str, secret: str, now: datetime
) -> SignupRead:
    shift, project, mine = await _scanned(session, actor, shift_id, code, secret, now)
    if now > check_out_closes_at(shift):
        raise Conflict("Checking out of this shift has closed.", code="check_out_closed")
    mine.status = SIGNUP_MACHINE.next(mine.status, A.check_out)
    mine.checked_out_at, mine.updated_at = now, now
    mine.tenths = counted_tenths(shift, mine.checked_in_at, now)
    await projects.credit_shift(session, project, actor.id, mine.tenths, f"shift {shift.id} check-out", now)
    return _signup_read(mine, {})


# ---------------------------------------------------------------- the organiser


def _check_not_cancelled(shift: Shift) -> None:
    if shift.status == ShiftStatus.cancelled:
        raise Conflict("The shift was cancelled.", code="shift_cancelled")


async def cancel_shift(
    session: AsyncSession, actor: Actor, shift_id: int, reason: ShiftCancelReason, now: datetime
) -> Shift:
    """Cancel the shift before its start: everyone on its lists is called off and told why."""
    shift, project = await _shift(session, shift_id, lock=True)
    _check_organises(actor, shift, project, "cancel a shift")
    SHIFT_MACHINE.check(shift.status, ShiftAction.cancel)
    if now >= shift.starts_at:
        raise Conflict("The shift has started: it can no longer be cancelled.", code="shift_started")
    shift.status = SHIFT_MACHINE.next(shift.status, ShiftAction.cancel)
    shift.cancelled_at, shift.cancelled_by_id, shift.cancel_reason = now, actor.id, reason
    told = []
    for signup in await _signups(session, shift.id, lock=True):
        if SIGNUP_MACHINE.allows(signup.status, A.call_off):
            signup.status, signup.updated_at = SIGNUP_MACHINE.next(signup.status, A.call_off), now
            told.append(signup.user_id)
    await notify(
        session,
        told,
        NotificationCode.shift_cancelled,
        now,
        subject=("shift", shift.id),
        shift=shift.title,
        project=project.title,
        starts_at=shift.starts_at,
        reason_code=str(reason),
    )
    await session.flush()
    return shift


def roster_marks(shift: Shift, now: datetime) -> list[SignupAction]:
    """The marks the organiser may make now: a no-show from the start, attended from the end (hours
    are vouched for once served, never ahead)."""
    return [mark for mark, opens in ((A.no_show, shift.starts_at), (A.attend, shift.ends_at)) if now >= opens]


async def mark(
    session: AsyncSession, actor: Actor, shift_id: int, user_id: int, action: SignupAction, now: datetime
) -> SignupRead:
    """The organiser marks a volunteer on the roster a no-show (no hours) or attended (the shift's
    hours, as a check-out records them), when `roster_marks` opens them; never their own service."""
    if action not in ROSTER_MARKS:
        raise ValueError(f"{action} is not a roster mark")
    shift, project = await _shift(session, shift_id)
    _check_organises(actor, shift, project, "mark the roster")
    actor.refuse_own_service(user_id)
    if action == A.attend:
        project = await projects.lock_project(session, None, shift.project_id)
        PROJECT_MACHINE.check(project.status, ProjectAction.record_hours)
    # The shift row, locked after the project's (as everywhere), so that a cancelling waits or wins.
    shift = await session.scalar(
        select(Shift).where(Shift.id == shift_id).with_for_update().execution_options(populate_existing=True)
    )
    _check_not_cancelled(shift)
    if action not in roster_marks(shift, now):
        if action == A.attend:
            raise Conflict(
                "The shift has not ended: mark attendance once it has.",
                code="shift_not_ended",
                ends_at=shift.ends_at.isoformat(),
            )
        raise Conflict(
            "The shift has not started: mark no-shows from its start on.",
            code="shift_not_started",
            starts_at=shift.starts_at.isoformat(),
        )
    signup = await session.scalar(
        select(ShiftSignup)
        .where(ShiftSignup.shift_id == shift.id, ShiftSignup.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if signup is None:
        raise NotFound("This volunteer is not on the shift's roster.", code="signup_not_found")
    signup.status, signup.updated_at = SIGNUP_MACHINE.next(signup.status, action), now
    if action == A.attend:
        signup.checked_in_at = signup.checked_in_at or shift.starts_at
        signup.checked_out_at = shift.ends_at
        signup.tenths = counted_tenths(shift, signup.checked_in_at, shift.ends_at)
        await projects.credit_shift(
            session, project, user_id, signup.tenths, f"shift {shift.id} attended, marked by {actor.id}", now
        )
    await session.flush()
    return _signup_read(signup, {})


# ---------------------------------------------------------------- after the shift


async def record_no_shows(session: AsyncSession, now: datetime) -> int:
    """The scheduled job: for every shift that has ended, once, those still only signed up are no-shows."""
    due = list(
        await session.scalars(
            select(Shift.id).where(Shift.ends_at <= now, Shift.roll_called_at.is_(None)).order_by(Shift.id)
        )
    )
    recorded = 0
    for shift_id in due:
        shift, _project = await _shift(session, shift_id, lock=True)
        if shift.roll_called_at is not None:
            continue  # another run got here first
        for signup in await _signups(session, shift.id, lock=True):
            if signup.status == S.signed_up:
                signup.status, signup.updated_at = SIGNUP_MACHINE.next(signup.status, A.no_show), now
                recorded += 1
        shift.roll_called_at = now
    await session.flush()
    return recorded

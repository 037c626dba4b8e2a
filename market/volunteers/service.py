from __future__ import annotations

import functools
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import get_area, managed_area
from market.auth.access import Actor
from market.auth.models import Role, User, UserRole
from market.auth.service import can_see_user, get_user, managers_also_see
from market.categories.models import ServiceCategory
from market.db import lock_rows, one_of, upsert
from market.errors import Forbidden, InvalidInput, NotFound, Unprocessable
from market.orders.models import HELD_STATUSES, Order
from market.pagination import MAX_PAGE_SIZE, page_total
from market.volunteers.availability import is_free
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill
from market.volunteers.schemas import (
    PauseRequest,
    ProfileRead,
    ProfileWrite,
    ServingAreaRead,
    Skill,
    VolunteerSummary,
    Window,
)

STREET = code_length(AreaLevel.street)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# The managers of an area dispatch to the volunteers serving it, so they see their name and phone.
@managers_also_see
def serves_area(area_code: str) -> ColumnElement[bool]:
    """The volunteer (a User row) serves somewhere overlapping the subtree at `area_code`."""
    return exists().where(
        ServingArea.user_id == User.id,
        or_(
            ServingArea.area_code.startswith(area_code), literal(area_code).startswith(ServingArea.area_code)
        ),
    )


def lives_in_or_serves(area_code: str) -> ColumnElement[bool]:
    """The volunteer (a User row) lives inside the subtree at `area_code` or serves somewhere
    overlapping it: who may join a team or a project of that area."""
    return or_(
        User.area_id.in_(select(Area.id).where(Area.code.startswith(area_code, autoescape=True))),
        serves_area(area_code),
    )


def held_orders_count():
    """How many orders the volunteer (a User row of the enclosing query) holds."""
    return _held_by(User.id).scalar_subquery()


def _profile_options():
    return (
        selectinload(VolunteerProfile.skills),
        selectinload(VolunteerProfile.availability),
        selectinload(VolunteerProfile.serving_areas),
    )


async def load_profile(
    session: AsyncSession, user_id: int, *, for_update: bool = False
) -> VolunteerProfile | None:
    stmt = select(VolunteerProfile).where(VolunteerProfile.user_id == user_id).options(*_profile_options())
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


# Run on every take of an order: built once, the volunteer a parameter (building a statement
# and its cache key costs ~0.1 ms).
@functools.cache
def _profile_locked() -> Select[tuple[int]]:
    return (
        select(VolunteerProfile.user_id)
        .where(VolunteerProfile.user_id == bindparam("user_id"))
        .with_for_update()
    )


def _held_by(volunteer_id: ColumnElement[int]) -> Select[tuple[int]]:
    """How many orders the volunteer holds. The orders are aliased: a take's UPDATE of an order
    counts the others in the same table (`room_for_another`)."""
    held = aliased(Order, name="held")
    mine = (held.volunteer_id == volunteer_id, one_of(held.status, HELD_STATUSES))
    return select(func.count(held.id)).where(*mine)


@functools.cache
def _held_orders() -> Select[tuple[int]]:
    return _held_by(bindparam("user_id"))


def room_for_another(volunteer_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the volunteer holds fewer orders than their capacity (never without a profile): the
    condition of a take's UPDATE of the order, once their profile is locked (`lock_profile`), so that
    counting and taking are one statement."""
    capacity = select(VolunteerProfile.capacity).where(VolunteerProfile.user_id == volunteer_id)
    return capacity.scalar_subquery() > _held_by(volunteer_id).scalar_subquery()


async def lock_profile(session: AsyncSession, user_id: int) -> None:
    """Lock the volunteer's profile, so that two takes of theirs count their held orders one after
    the other."""
    await lock_rows(session, _profile_locked(), {"user_id": user_id})


async def current_load(session: AsyncSession, user_id: int) -> int:
    return await session.scalar(_held_orders(), {"user_id": user_id}) or 0


async def _volunteer(session: AsyncSession, actor: Actor, user_id: int) -> User:
    user = await get_user(session, user_id)
    if Role.volunteer not in user.roles or not await can_see_user(session, actor, user):
        raise NotFound(f"User {user_id} is not a volunteer.", code="volunteer_not_found")
    return user


async def profile_read(session: AsyncSession, user: User, profile: VolunteerProfile | None) -> ProfileRead:
    areas = {}
    if profile and profile.serving_areas:
        rows = await session.scalars(
            select(Area).where(Area.id.in_([s.area_id for s in profile.serving_areas]))
        )
        areas = {a.id: a for a in rows}
    return ProfileRead(
        user_id=user.id,
        name=user.name,
        capacity=profile.capacity if profile else 1,
        load=await current_load(session, user.id),
        rating=profile.rating if profile else None,
        rating_count=profile.rating_count if profile else 0,
        skills=[Skill(category=s.category_code, level=s.level) for s in profile.skills] if profile else [],
        availability=[
            Window(weekday=w.weekday, start=_clock(w.start_minute), end=_clock(w.end_minute))
            for w in profile.availability
        ]
        if profile
        else [],
        serving_areas=[
            ServingAreaRead(id=a.id, code=a.code, name=a.name)
            for a in sorted(areas.values(), key=lambda a: a.code)
        ],
        paused_until=profile.paused_until if profile else None,
        pause_reason=profile.pause_reason if profile else None,
    )


async def get_profile(session: AsyncSession, actor: Actor, user_id: int) -> ProfileRead:
    user = await _volunteer(session, actor, user_id)
    return await profile_read(session, user, await load_profile(session, user.id))


def _may_change_profile(actor: Actor, volunteer: User) -> bool:
    """The volunteer, and the managers of the area they live in. Managers of an area the volunteer
    only serves read the profile (they dispatch to them) but do not change it."""
    return volunteer.id == actor.id or (volunteer.area is not None and actor.manages(volunteer.area.code))


async def _serving_areas(
    session: AsyncSession, actor: Actor, volunteer: User, area_ids: list[int], listed: set[int]
) -> list[Area]:
    """The areas a profile may list. They lie within the volunteer's home street, whoever sets them:
    the volunteer chooses any there; a manager adds only areas they manage and keeps those `listed`."""
    street = volunteer.area.code[:STREET] if volunteer.area is not None else None
    areas = []
    for area_id in sorted(set(area_ids)):
        area = await get_area(session, area_id)
        if street is None or not area.code.startswith(street):
            raise InvalidInput(
                f"{area.name} is outside the street the volunteer lives in.",
                code="outside_home_street",
                area_id=area.id,
            )
        if volunteer.id != actor.id and area.id not in listed and not actor.manages(area.code):
            raise Forbidden(f"{area.name} is outside your area.", code="outside_your_area")
        areas.append(area)
    return areas


async def put_profile(session: AsyncSession, actor: Actor, user_id: int, data: ProfileWrite) -> ProfileRead:
    user = await _volunteer(session, actor, user_id)
    if not _may_change_profile(actor, user):
        raise Forbidden(
            "Only the volunteer or the managers of the area they live in can change this profile.",
            code="not_your_profile",
        )
    categories = {s.category for s in data.skills}
    if len(categories) != len(data.skills):
        raise InvalidInput("Each skill may be listed once.", code="duplicate_skill")
    known = set(
        await session.scalars(
            select(ServiceCategory.code).where(
                ServiceCategory.code.in_(categories), ServiceCategory.is_active
            )
        )
    )
    if unknown := sorted(categories - known):
        raise InvalidInput("Unknown service categories: " + ", ".join(unknown), code="unknown_category")
    windows = []
    for w in data.availability:
        start, end = _minutes(w.start), _minutes(w.end)
        if start >= end:
            raise InvalidInput(
                f"Availability {w.start}–{w.end} ends before it starts.", code="invalid_window"
            )
        windows.append((w.weekday, start, end))
    # The row first, in one statement that inserts it or finds it, then its lock: two first saves
    # at once would otherwise both find no profile and both insert one (a 500 on the second).
    await session.execute(
        upsert(session, VolunteerProfile)
        .values(user_id=user.id, capacity=data.capacity, rating_sum=0, rating_count=0)
        .on_conflict_do_nothing(index_elements=[VolunteerProfile.user_id])
    )
    profile = await load_profile(session, user.id, for_update=True)
    assert profile is not None  # just written
    listed = {s.area_id for s in profile.serving_areas}
    areas = await _serving_areas(session, actor, user, data.serving_area_ids, listed)
    profile.capacity = data.capacity
    # Delete the old rows before inserting new ones: the unit of work would insert first
    # and trip the (volunteer, category) and (volunteer, area) unique constraints.
    profile.skills.clear()
    profile.availability.clear()
    profile.serving_areas.clear()
    await session.flush()
    profile.skills = [VolunteerSkill(category_code=s.category, level=s.level) for s in data.skills]
    profile.availability = [
        AvailabilityWindow(weekday=d, start_minute=s, end_minute=e) for d, s, e in windows
    ]
    profile.serving_areas = [ServingArea(area_id=a.id, area_code=a.code) for a in areas]
    await session.flush()
    return await profile_read(session, user, profile)


# How far ahead a pause may reach.
MAX_PAUSE = timedelta(days=366)


async def _own_profile(session: AsyncSession, actor: Actor, user_id: int) -> tuple[User, VolunteerProfile]:
    """The profile the actor may change (the volunteer's own, or one they manage), locked."""
    user = await _volunteer(session, actor, user_id)
    if not _may_change_profile(actor, user):
        raise Forbidden(
            "Only the volunteer or the managers of the area they live in can change this profile.",
            code="not_your_profile",
        )
    profile = await load_profile(session, user.id, for_update=True)
    if profile is None:
        raise Unprocessable("Fill in the profile first.", code="profile_missing")
    return user, profile


async def pause(
    session: AsyncSession, actor: Actor, user_id: int, data: PauseRequest, now: datetime, tz: ZoneInfo
) -> ProfileRead:
    """Take no orders up to and including the local date `data.until`: dispatch and auto-dispatch
    pass the volunteer over, and no order is offered to them, until the day after begins."""
    user, profile = await _own_profile(session, actor, user_id)
    if data.until < now.astimezone(tz).date():
        raise InvalidInput("The pause would end before today.", code="pause_in_past")
    resume_at = datetime.combine(data.until + timedelta(days=1), time.min, tz)
    if resume_at - now > MAX_PAUSE:
        raise InvalidInput("A pause can last at most a year.", code="pause_too_long")
    profile.paused_until = resume_at
    profile.pause_reason = data.reason
    await session.flush()
    return await profile_read(session, user, profile)


async def resume(session: AsyncSession, actor: Actor, user_id: int) -> ProfileRead:
    """Take orders again at once."""
    user, profile = await _own_profile(session, actor, user_id)
    profile.paused_until = None
    profile.pause_reason = None
    await session.flush()
    return await profile_read(session, user, profile)


async def list_volunteers(
    session: AsyncSession,
    actor: Actor,
    tz: ZoneInfo,
    *,
    area_id: int | None,
    skill: str | None,
    free_from: datetime | None,
    free_until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[VolunteerSummary], int]:
    if (free_from is None) != (free_until is None):
        raise InvalidInput("Give both free_from and free_until, or neither.", code="invalid_window")
    if free_from and free_until and free_from >= free_until:
        raise InvalidInput("free_until must be after free_from.", code="invalid_window")
    root_code = actor.area_code if area_id is None else (await managed_area(session, actor, area_id)).code
    load = held_orders_count().label("load")
    stmt = (
        select(User, VolunteerProfile, load)
        .join(VolunteerProfile, VolunteerProfile.user_id == User.id)
        .where(User.is_active, User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.volunteer)))
        .options(selectinload(User.role_rows), *(_profile_options()))
        .order_by(User.id)
    )
    if root_code:
        stmt = stmt.where(serves_area(root_code))
    if skill:
        stmt = stmt.where(
            exists().where(VolunteerSkill.user_id == User.id, VolunteerSkill.category_code == skill)
        )
    if free_from is None or free_until is None:
        rows = (await session.execute(stmt.limit(limit).offset(offset))).all()
        total = await page_total(session, stmt, limit, offset, len(rows))
    else:
        # Weekly windows are matched in Python; the subtree bounds how many rows that is.
        candidates = [
            row
            for row in (await session.execute(stmt)).all()
            if row.load < row.VolunteerProfile.capacity
            and is_free(
                [(w.weekday, w.start_minute, w.end_minute) for w in row.VolunteerProfile.availability],
                free_from,
                free_until,
                tz,
            )
        ]
        total = len(candidates)
        rows = candidates[offset : offset + min(limit, MAX_PAGE_SIZE)]
    return [
        VolunteerSummary(
            user_id=row.User.id,
            name=row.User.name,
            phone=row.User.phone,
            home_area_id=row.User.area_id,
            capacity=row.VolunteerProfile.capacity,
            load=row.load,
            rating=row.VolunteerProfile.rating,
            skills=[Skill(category=s.category_code, level=s.level) for s in row.VolunteerProfile.skills],
            serving_area_ids=[s.area_id for s in row.VolunteerProfile.serving_areas],
            paused_until=row.VolunteerProfile.paused_until,
        )
        for row in rows
    ], total

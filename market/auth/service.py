from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload, selectinload

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import get_area
from market.auth import throttle
from market.auth.access import ROLE_RANK, Actor
from market.auth.models import AttemptKind, FailedAttempt, Role, User, UserRole
from market.auth.passwords import dummy_hash, hash_password, verify_password
from market.auth.schemas import FailedAttemptRead, UserCreate, UserRead, UserUpdate
from market.auth.tokens import read_device_token
from market.db import connection_of
from market.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from market.pagination import page_total
from market.settings import Settings


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        phone=user.phone,
        name=user.name,
        roles=user.roles,
        area_id=user.area_id,
        area_code=user.area.code if user.area else None,
        area_name=user.area.name if user.area else None,
        is_active=user.is_active,
        created_at=user.created_at,
        has_password=user.password_hash is not None,
        must_change_password=user.must_change_password,
        approval=user.approval,
    )


def _with_roles_and_area():
    return (selectinload(User.role_rows), joinedload(User.area))


def actor_of(user: User) -> Actor:
    """The caller a user is, with roles and area loaded."""
    return Actor(
        id=user.id,
        name=user.name,
        roles=frozenset(user.roles),
        area_id=user.area_id,
        area_code=user.area.code if user.area else "",
        restriction=restriction_of(user.approval, user.must_change_password),
        large_text=user.large_text,
    )


def restriction_of(approval: str | None, must_change_password: bool) -> str | None:
    if approval is not None:
        return f"approval_{approval}"
    return "password_change_required" if must_change_password else None


async def load_actor(session: AsyncSession, user_id: int) -> Actor | None:
    user = await session.scalar(select(User).where(User.id == user_id).options(*_with_roles_and_area()))
    return actor_of(user) if user is not None and user.is_active else None


# Every request loads its caller: one statement (a row per role), columns only, built once.
_CALLER = (
    select(
        User.name,
        User.area_id,
        User.is_active,
        User.token_version,
        User.approval,
        User.must_change_password,
        User.large_text,
        Area.code,
        UserRole.role,
    )
    .outerjoin(Area, Area.id == User.area_id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .where(User.id == bindparam("user_id"))
)


async def actor_for_token(session: AsyncSession, user_id: int, token_version: int) -> Actor | None:
    """The caller a token names, unless the account has ended its tokens since it was issued."""
    # Columns, not entities: run on the session's connection, past the ORM's set-up for a statement
    # (autoflush, identity map, loading), ~4% of a read. Nothing is pending this early.
    connection = await connection_of(session)
    rows = (await connection.execute(_CALLER, {"user_id": user_id})).all()
    if not rows or not rows[0].is_active or rows[0].token_version != token_version:
        return None
    user = rows[0]
    return Actor(
        id=user_id,
        name=user.name,
        roles=frozenset(Role(row.role) for row in rows if row.role is not None),
        area_id=user.area_id,
        area_code=user.code or "",
        restriction=restriction_of(user.approval, user.must_change_password),
        large_text=user.large_text,
    )


# Raising the version a token carries ends every token issued before (see `actor_for_token`).
_NEXT_TOKEN_VERSION = User.token_version + 1


async def _checked_password(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    password: str,
    client: str,
    device_token: str | None,
    now: datetime,
    *,
    phone: str | None = None,
    user_id: int | None = None,
) -> User | None:
    """The active account with this phone (or id) if `password` is its own, else None; throttled,
    by the device's own limit when `device_token` is a valid one for this account (throttle.py).

    Argon2 is slow on purpose, so the password is never checked inside a transaction: on SQLite
    that would hold the write lock, and every other writer (and every login) would queue behind it.
    The attempt is first recorded as a failure in a short transaction of its own, so that concurrent
    guesses count against each other; a success then takes that record back in another one, and
    clears the failures it vouches for.
    """
    named = User.phone == phone if phone is not None else User.id == user_id
    device = read_device_token(settings, device_token, now)
    async with session_maker() as session, session.begin():
        user = await session.scalar(select(User).where(named).options(*_with_roles_and_area()))
        account = user.phone if user else phone or ""
        # A device token vouches only for the account it was issued to.
        known = device.id if device is not None and user is not None and device.user_id == user.id else None
        guard = throttle.login_guard(settings, account, client, known)
        await throttle.refuse_if_waiting(session, guard, settings, now)
        attempt, _ = await throttle.record_failure(
            session,
            guard,
            settings,
            now,
            AttemptKind.login,
            account=account,
            user_id=user.id if user else None,
            client=client,
            device=known,
        )
    # An unknown phone costs as long as a wrong password.
    # People imported or registered for someone have no password yet: never a match.
    stored = user.password_hash if user is not None else None
    matches = await verify_password(stored or dummy_hash(), password)
    if not matches or user is None or stored is None or not user.is_active:
        return None
    async with session_maker() as session, session.begin():
        await session.execute(delete(FailedAttempt).where(FailedAttempt.id == attempt.id))
        await throttle.clear_failures(session, guard, settings, now)
    return user


async def login(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    phone: str,
    password: str,
    client: str,
    now: datetime,
    device_token: str | None = None,
) -> User:
    user = await _checked_password(session_maker, settings, password, client, device_token, now, phone=phone)
    if user is None:
        raise NotAuthenticated("Wrong phone number or password.", code="invalid_credentials")
    return user


async def change_password(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    actor: Actor,
    current_password: str,
    new_password: str,
    client: str,
    now: datetime,
    device_token: str | None = None,
) -> User:
    """Change one's own password, which ends every token issued before; the caller gets the account
    back to issue a fresh one. The current password is checked, and throttled, as a login is."""
    user = await _checked_password(
        session_maker, settings, current_password, client, device_token, now, user_id=actor.id
    )
    if user is None:
        raise InvalidInput("The current password is not right.", code="wrong_current_password")
    new_hash = await hash_password(new_password)
    async with session_maker() as session, session.begin():
        # Only over the password just checked: a change made meanwhile is not silently undone.
        changed = await session.execute(
            update(User)
            .where(User.id == user.id, User.password_hash == user.password_hash, User.is_active)
            .values(password_hash=new_hash, must_change_password=False, token_version=_NEXT_TOKEN_VERSION)
        )
        if changed.rowcount != 1:
            raise InvalidInput("The current password is not right.", code="wrong_current_password")
        return await get_user(session, user.id)


async def end_tokens(session: AsyncSession, user_id: int) -> None:
    """End every token the person holds: logging out ends them on every device."""
    await session.execute(update(User).where(User.id == user_id).values(token_version=_NEXT_TOKEN_VERSION))


async def set_large_text(session: AsyncSession, actor: Actor, on: bool) -> None:
    """Turn the caller's own 长辈模式 on or off; it is nobody else's to set."""
    await session.execute(update(User).where(User.id == actor.id).values(large_text=on))


async def deactivate(session: AsyncSession, user_id: int) -> User:
    """Deactivate an account: it can no longer log in, and its tokens end at once."""
    await session.execute(
        update(User).where(User.id == user_id).values(is_active=False, token_version=_NEXT_TOKEN_VERSION)
    )
    return await get_user(session, user_id)


def check_grantable(actor: Actor, roles: set[Role]) -> None:
    """Nobody gives (or withdraws) a role at or above their own, except administrators."""
    too_high = sorted(r for r in roles if ROLE_RANK[r] >= actor.rank and not actor.is_admin)
    if too_high:
        raise Forbidden("You cannot give these roles: " + ", ".join(too_high), code="role_not_grantable")


def may_manage_person(actor: Actor, user: User) -> bool:
    """Managers change the people who live in their area and hold only roles below theirs;
    administrators change everyone."""
    if actor.is_admin:
        return True
    return (
        user.area is not None
        and actor.manages(user.area.code)
        and all(ROLE_RANK[r] < actor.rank for r in user.roles)
    )


async def managed_person(
    session: AsyncSession, actor: Actor, user_id: int, *, not_self: bool = False
) -> User:
    """A person the actor may change; one they cannot see does not exist for them."""
    user = await get_visible_user(session, actor, user_id)
    if not_self and user.id == actor.id:
        raise Forbidden("You cannot do this to your own account.", code="not_on_yourself")
    if not may_manage_person(actor, user):
        raise Forbidden("This person is outside what you manage.", code="outside_your_area")
    return user


async def _home_area(session: AsyncSession, actor: Actor, area_id: int) -> Area:
    area = await get_area(session, area_id)
    if not actor.manages(area.code):
        raise Forbidden("You can only place people inside your own area.", code="outside_your_area")
    return area


async def update_user(session: AsyncSession, actor: Actor, user_id: int, data: UserUpdate) -> User:
    user = await managed_person(session, actor, user_id)
    if data.area_id is not None and data.area_id != user.area_id:
        if user.id == actor.id and not actor.is_admin:
            raise Forbidden("You cannot move yourself out of your area.", code="not_on_yourself")
        user.area_id = (await _home_area(session, actor, data.area_id)).id
    if data.name is not None:
        user.name = data.name.strip()
    if data.phone is not None and data.phone != user.phone:
        if await session.scalar(select(func.count()).where(User.phone == data.phone)):
            raise Conflict("An account with this phone number already exists.", code="phone_taken")
        user.phone = data.phone
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict("An account with this phone number already exists.", code="phone_taken") from error
    return await get_user(session, user.id)


async def set_roles(session: AsyncSession, actor: Actor, user_id: int, roles: list[Role]) -> User:
    """Give the person exactly `roles`: what is added and what is withdrawn must be the actor's to give,
    and nobody withdraws their own administrator role."""
    user = await managed_person(session, actor, user_id)
    wanted, held = set(roles), set(user.roles)
    if user.id == actor.id and Role.admin in held - wanted:
        raise Forbidden("You cannot withdraw your own administrator role.", code="not_on_yourself")
    check_grantable(actor, wanted ^ held)
    if user.area_id is None and wanted != {Role.admin}:
        raise InvalidInput("Every account except an administrator's needs a home area.", code="area_required")
    await session.execute(delete(UserRole).where(UserRole.user_id == user.id, UserRole.role.not_in(wanted)))
    session.add_all(UserRole(user_id=user.id, role=r) for r in sorted(wanted - held))
    await session.flush()
    return await get_user(session, user.id)


async def set_active(session: AsyncSession, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (which ends every token at once) or reactivate a person; never oneself."""
    user = await managed_person(session, actor, user_id, not_self=True)
    if not active:
        return await deactivate(session, user.id)
    await session.execute(update(User).where(User.id == user.id).values(is_active=True))
    return await get_user(session, user.id)


# Letters and digits nobody confuses when reading them out (no 0/O, 1/l/I).
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
OTP_LENGTH = 10


async def reset_password(session: AsyncSession, actor: Actor, user_id: int) -> tuple[User, str]:
    """A one-time password for the person, shown once: their tokens end, and after logging in with it
    they must choose their own before doing anything else."""
    user = await managed_person(session, actor, user_id, not_self=True)
    one_time = "".join(secrets.choice(_OTP_ALPHABET) for _ in range(OTP_LENGTH))
    await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            password_hash=await hash_password(one_time),
            must_change_password=True,
            token_version=_NEXT_TOKEN_VERSION,
        )
    )
    return await get_user(session, user.id), one_time


async def create_user(session: AsyncSession, actor: Actor | None, data: UserCreate, now: datetime) -> User:
    """Create an account. `actor` is None only for the command line's first administrator."""
    roles = sorted(set(data.roles))
    area = await get_area(session, data.area_id) if data.area_id is not None else None
    if area is None and roles != [Role.admin]:
        raise InvalidInput("Every account except an administrator's needs a home area.", code="area_required")
    if actor is not None:
        if area is None or not actor.manages(area.code):
            raise Forbidden("You can only create accounts inside your own area.", code="outside_your_area")
        check_grantable(actor, set(roles))
    if await session.scalar(select(func.count()).where(User.phone == data.phone)):
        raise Conflict("An account with this phone number already exists.", code="phone_taken")
    user = User(
        phone=data.phone,
        name=data.name.strip(),
        password_hash=await hash_password(data.password) if data.password is not None else None,
        area_id=area.id if area else None,
        is_active=True,
        created_at=now,
        role_rows=[UserRole(role=r) for r in roles],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent registration of the same phone
        raise Conflict("An account with this phone number already exists.", code="phone_taken") from error
    return await get_user(session, user.id)


async def holders(session: AsyncSession, role: Role, area_code: str) -> list[int]:
    """The active holders of `role` whose home area is the one at `area_code` (the grid's grid
    workers, the community's managers): who is told what needs that area's attention."""
    return list(
        await session.scalars(
            select(User.id)
            .join(Area, Area.id == User.area_id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(Area.code == area_code, UserRole.role == role, User.is_active)
            .order_by(User.id)
        )
    )


# Who decides what waits at an area when none of those asked first is there: the street's admins.
STREET_DECIDES = (AreaLevel.street, Role.street_admin)
# A community's own matters (a volunteer's application, a certificate, a party member's report):
# its community managers.
COMMUNITY_DECIDES = ((AreaLevel.community, Role.community_manager),)


async def deciders(
    session: AsyncSession, area_code: str, first: Sequence[tuple[AreaLevel, Role]] = COMMUNITY_DECIDES
) -> list[int]:
    """Whom to tell that something at `area_code` waits for a decision: the holders of the first
    (level, role) in `first` that the area lies in and that has any, else the street's admins."""
    for level, role in (*first, STREET_DECIDES):
        length = code_length(level)
        if len(area_code) < length:
            continue
        if found := await holders(session, role, area_code[:length]):
            return found
    return []


@functools.cache
def _user_with_roles() -> Select[tuple[User]]:
    # One user: their roles come in the same statement (a row each), not in a second one. Built
    # once, on first use, with the id a parameter: building it and its cache key cost more than
    # running it.
    return (
        select(User)
        .where(User.id == bindparam("user_id"))
        .options(joinedload(User.role_rows), joinedload(User.area))
        .execution_options(populate_existing=True)
    )


async def get_user(session: AsyncSession, user_id: int) -> User:
    found = await session.scalars(_user_with_roles(), {"user_id": user_id})
    user = found.unique().one_or_none()
    if user is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    return user


# Conditions on User rows, given a manager's area code, for people the manager sees although they
# live elsewhere: the volunteers who serve the area (market.volunteers adds that rule with
# `managers_also_see`). Those domains build on auth, so they hand their rule down to it.
AreaTie = Callable[[str], ColumnElement[bool]]
_TIED_TO_AREA: list[AreaTie] = []


def managers_also_see(rule: AreaTie) -> AreaTie:
    _TIED_TO_AREA.append(rule)
    return rule


async def can_see_user(session: AsyncSession, actor: Actor, user: User) -> bool:
    """Oneself; the managers of where the person lives or of an area tied to them; administrators."""
    if user.id == actor.id or (user.area is not None and actor.manages(user.area.code)) or actor.is_admin:
        return True
    if not actor.is_manager or not _TIED_TO_AREA:
        return False
    tied = or_(*(rule(actor.area_code) for rule in _TIED_TO_AREA))
    return bool(await session.scalar(select(User.id).where(User.id == user.id, tied)))


async def get_visible_user(session: AsyncSession, actor: Actor, user_id: int) -> User:
    user = await get_user(session, user_id)
    if not await can_see_user(session, actor, user):
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    return user


async def visible_user_by_phone(
    session: AsyncSession, actor: Actor, phone: str, *, for_update: bool = False
) -> User:
    """The person with this phone number, when the actor may see them (else `user_not_found`, so
    that a phone number outside one's area tells nothing). `for_update` locks their row."""
    stmt = select(User).where(User.phone == phone.strip()).options(*_with_roles_and_area())
    if for_update:
        stmt = stmt.with_for_update(of=User)
    user = await session.scalar(stmt.execution_options(populate_existing=True))
    if user is None or not await can_see_user(session, actor, user):
        raise NotFound("No person with this phone number in your area.", code="user_not_found")
    return user


async def list_users(
    session: AsyncSession,
    actor: Actor,
    *,
    role: Role | None,
    query: str | None,
    limit: int,
    offset: int,
    area_code: str | None = None,
    active: bool | None = None,
) -> tuple[list[User], int]:
    """People living in the actor's area (everyone, for administrators), found by role, by part of a
    name or phone, by the area they live in (`area_code`: its subtree), active or not."""
    stmt = select(User).outerjoin(User.area)
    if not actor.is_admin:
        stmt = stmt.where(Area.code.startswith(actor.area_code, autoescape=True))
    if area_code:
        stmt = stmt.where(Area.code.startswith(area_code, autoescape=True))
    if active is not None:
        stmt = stmt.where(User.is_active == active)
    if role is not None:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if query:
        stmt = stmt.where(
            User.name.contains(query, autoescape=True) | User.phone.contains(query, autoescape=True)
        )
    rows = list(
        await session.scalars(
            stmt.options(*_with_roles_and_area()).order_by(User.id).limit(limit).offset(offset)
        )
    )
    return rows, await page_total(session, stmt, limit, offset, len(rows))


async def user_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Names by user id, for lists that show who is who."""
    if not user_ids:
        return {}
    return dict((await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))).all())


async def list_failed_attempts(
    session: AsyncSession, actor: Actor, kind: AttemptKind | None, limit: int, offset: int
) -> tuple[list[FailedAttemptRead], int]:
    """Recent failed logins and pickup codes, newest first. Administrators see all; a street's
    administrators those about the accounts and the people of their street (attempts at phones
    without an account concern nobody's area)."""
    stmt = select(FailedAttempt)
    if not actor.is_admin:
        in_area = select(User.id).join(Area, Area.id == User.area_id)
        in_area = in_area.where(Area.code.startswith(actor.area_code, autoescape=True))
        stmt = stmt.where(FailedAttempt.user_id.in_(in_area) | FailedAttempt.actor_id.in_(in_area))
    if kind is not None:
        stmt = stmt.where(FailedAttempt.kind == kind)
    rows = list(
        await session.scalars(
            stmt.order_by(FailedAttempt.at.desc(), FailedAttempt.id.desc()).limit(limit).offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(rows))
    names = await user_names(session, {i for r in rows for i in (r.user_id, r.actor_id) if i is not None})
    return [
        FailedAttemptRead(
            id=r.id,
            kind=r.kind,
            at=r.at,
            account=r.account,
            user_id=r.user_id,
            user_name=names.get(r.user_id) if r.user_id else None,
            actor_id=r.actor_id,
            actor_name=names.get(r.actor_id) if r.actor_id else None,
            client=r.client,
            known_device=r.device is not None,
            cleared=r.cleared_at is not None,
        )
        for r in rows
    ], total

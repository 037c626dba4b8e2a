from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area
from market.areas.service import get_area
from market.auth.access import ROLE_RANK, Actor
from market.auth.models import Role, User, UserRole
from market.auth.passwords import DUMMY_HASH, hash_password, verify_password
from market.auth.schemas import UserCreate, UserRead
from market.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, TooManyRequests
from market.settings import Settings


class LoginFailed(NotAuthenticated):
    # The failure counter must survive the refused request.
    keep_changes = True


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
    )


def _with_roles_and_area():
    return (selectinload(User.role_rows), selectinload(User.area))


async def load_actor(session: AsyncSession, user_id: int) -> Actor | None:
    user = await session.scalar(select(User).where(User.id == user_id).options(*_with_roles_and_area()))
    if user is None or not user.is_active:
        return None
    return Actor(
        id=user.id,
        name=user.name,
        roles=frozenset(user.roles),
        area_id=user.area_id,
        area_code=user.area.code if user.area else "",
    )


async def login(session: AsyncSession, settings: Settings, phone: str, password: str, now: datetime) -> User:
    user = await session.scalar(
        select(User).where(User.phone == phone).options(*_with_roles_and_area()).with_for_update()
    )
    if user is None:
        await verify_password(DUMMY_HASH, password)
        raise LoginFailed("Wrong phone number or password.", code="invalid_credentials")
    if user.locked_until is not None and user.locked_until > now:
        seconds = int((user.locked_until - now).total_seconds()) + 1
        raise TooManyRequests(
            f"Too many failed logins. Try again in {seconds // 60 + 1} minutes.",
            code="login_locked",
            headers={"Retry-After": str(seconds)},
            retry_after_seconds=seconds,
        )
    if not await verify_password(user.password_hash, password) or not user.is_active:
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.failed_logins = 0
            user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
        raise LoginFailed("Wrong phone number or password.", code="invalid_credentials")
    user.failed_logins = 0
    user.locked_until = None
    return user


async def create_user(session: AsyncSession, actor: Actor | None, data: UserCreate, now: datetime) -> User:
    """Create an account. `actor` is None only for the command line's first administrator."""
    roles = sorted(set(data.roles))
    area = await get_area(session, data.area_id) if data.area_id is not None else None
    if area is None and roles != [Role.admin]:
        raise InvalidInput("Every account except an administrator's needs a home area.", code="area_required")
    if actor is not None:
        if area is None or not actor.manages(area.code):
            raise Forbidden("You can only create accounts inside your own area.", code="outside_your_area")
        too_high = [r for r in roles if ROLE_RANK[r] >= actor.rank and not actor.is_admin]
        if too_high:
            raise Forbidden("You cannot give these roles: " + ", ".join(too_high), code="role_not_grantable")
    if await session.scalar(select(func.count()).where(User.phone == data.phone)):
        raise Conflict("An account with this phone number already exists.", code="phone_taken")
    user = User(
        phone=data.phone,
        name=data.name.strip(),
        password_hash=await hash_password(data.password),
        area_id=area.id if area else None,
        is_active=True,
        failed_logins=0,
        created_at=now,
        role_rows=[UserRole(role=r) for r in roles],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent registration of the same phone
        raise Conflict("An account with this phone number already exists.", code="phone_taken") from error
    return await get_user(session, user.id)


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(
        select(User)
        .where(User.id == user_id)
        .options(*_with_roles_and_area())
        .execution_options(populate_existing=True)
    )
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


async def list_users(
    session: AsyncSession, actor: Actor, *, role: Role | None, query: str | None, limit: int, offset: int
) -> tuple[list[User], int]:
    stmt = select(User).outerjoin(User.area)
    if not actor.is_admin:
        stmt = stmt.where(Area.code.startswith(actor.area_code, autoescape=True))
    if role is not None:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if query:
        stmt = stmt.where(
            User.name.contains(query, autoescape=True) | User.phone.contains(query, autoescape=True)
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = await session.scalars(
        stmt.options(*_with_roles_and_area()).order_by(User.id).limit(limit).offset(offset)
    )
    return list(rows), total


async def user_names(session: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Names by user id, for lists that show who is who."""
    if not user_ids:
        return {}
    return dict((await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))).all())

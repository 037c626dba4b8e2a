"""Grid informants (网格信息员): neighbours a grid worker appoints (the `informant` role, given and
withdrawn in people admin like any role below one's own) who report what neighbours need. An
informant reports only in their own grid — the grid of their home — for residents who live there:
found by phone, or registered on the spot without a password. A report is the resident's own order
(channel `informant`), entered as a grid worker's 代下单 is, and the informant follows its state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import get_area
from market.auth.access import Actor
from market.auth.models import Role, User, UserRole
from market.auth.service import get_user
from market.errors import Conflict, Forbidden, NotFound
from market.informants.schemas import NeighbourCreate, ReportRead
from market.orders import service as orders
from market.orders.models import Order, OrderChannel
from market.orders.schemas import OrderCreate
from market.pagination import page_total
from market.privacy import mask_name

GRID = code_length(AreaLevel.grid)
# Where an informant reports a need: the places orders are posted at.
REPORT_PLACES = (AreaLevel.compound, AreaLevel.building)


def grid_of(actor: Actor) -> str:
    """The code of the informant's grid: the grid their home lies in."""
    if Role.informant not in actor.roles:
        raise Forbidden("Only grid informants report for neighbours.", code="role_required")
    if len(actor.area_code) < GRID:
        raise Forbidden("Your home is in no grid to report in.", code="informant_without_grid")
    return actor.area_code[:GRID]


def _in_grid(grid: str):
    return Area.code.startswith(grid, autoescape=True)


async def find_neighbour(session: AsyncSession, actor: Actor, phone: str) -> User | None:
    """The resident of the informant's grid with this phone number; None for anyone else (a phone
    outside the grid tells nothing)."""
    grid = grid_of(actor)
    user_id = await session.scalar(
        select(User.id)
        .join(Area, Area.id == User.area_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(User.phone == phone.strip(), User.is_active, UserRole.role == Role.resident, _in_grid(grid))
    )
    return await get_user(session, user_id) if user_id is not None else None


async def neighbour(session: AsyncSession, actor: Actor, resident_id: int) -> User:
    """A resident of the informant's grid (404 for anyone else)."""
    grid = grid_of(actor)
    try:
        user = await get_user(session, resident_id)
    except NotFound:
        user = None
    if (
        user is None
        or not user.is_active
        or Role.resident not in user.roles
        or user.area is None
        or not user.area.code.startswith(grid)
    ):
        raise NotFound(f"Resident {resident_id} does not exist.", code="resident_not_found")
    return user


async def grid_places(session: AsyncSession, actor: Actor, levels=REPORT_PLACES) -> list[Area]:
    """The compounds and buildings of the informant's grid, by code."""
    grid = grid_of(actor)
    return list(
        await session.scalars(select(Area).where(_in_grid(grid), Area.level.in_(levels)).order_by(Area.code))
    )


async def register_neighbour(
    session: AsyncSession, actor: Actor, data: NeighbourCreate, now: datetime
) -> User:
    """Register a neighbour who has no account yet: a resident of a building in the grid, no password."""
    grid = grid_of(actor)
    area = await get_area(session, data.area_id)
    if area.level != AreaLevel.building:
        raise Forbidden("Choose the building the neighbour lives in.", code="not_a_building")
    if not area.code.startswith(grid):
        raise Forbidden("That place is outside your grid.", code="outside_your_grid")
    if await session.scalar(select(func.count()).where(User.phone == data.phone)):
        raise Conflict("An account with this phone number already exists.", code="phone_taken")
    user = User(
        phone=data.phone,
        name=data.name.strip(),
        password_hash=None,
        area_id=area.id,
        is_active=True,
        created_at=now,
        role_rows=[UserRole(role=Role.resident)],
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:  # the same phone registered at the same moment
        raise Conflict("An account with this phone number already exists.", code="phone_taken") from error
    return await get_user(session, user.id)


async def report(
    session: AsyncSession, actor: Actor, resident_id: int, data: OrderCreate, now: datetime, *, max_open: int
) -> int:
    """Report a need of a neighbour in the informant's grid, at a place in the grid: the order's id."""
    grid = grid_of(actor)
    resident = await neighbour(session, actor, resident_id)
    area = await get_area(session, data.area_id)
    if not area.code.startswith(grid):
        raise Forbidden("That place is outside your grid.", code="outside_your_grid")
    return await orders.report_for_resident(
        session, actor, resident, data, now, max_open=max_open, channel=OrderChannel.informant
    )


async def my_reports(
    session: AsyncSession, actor: Actor, categories: dict[str, str], limit: int, offset: int
) -> tuple[list[ReportRead], int]:
    """The informant's reports, newest first, with the state each order is in now."""
    stmt = select(Order).where(Order.entered_by_id == actor.id, Order.channel == OrderChannel.informant)
    rows = (
        await session.execute(
            stmt.add_columns(User.name, Area.name)
            .join(User, User.id == Order.requester_id)
            .join(Area, Area.id == Order.area_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    total = await page_total(session, stmt, limit, offset, len(rows))
    return [
        ReportRead(
            order_id=order.id,
            category=categories.get(order.category_code, order.category_code),
            place=place,
            # The informant knows whom they reported for; their phone shows no more than that.
            resident_name=mask_name(name),
            status=order.status,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )
        for order, name, place in rows
    ], total

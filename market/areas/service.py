from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import CHILD_CODE_DIGITS, LEVELS, Area, AreaLevel, child_level, code_length
from market.areas.schemas import AreaCreate, AreaNode, AreaRead
from market.auth.access import Actor
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable


def area_read(area: Area) -> AreaRead:
    return AreaRead(id=area.id, code=area.code, name=area.name, level=area.level, parent_id=area.parent_id)


async def get_area(session: AsyncSession, area_id: int) -> Area:
    area = await session.get(Area, area_id)
    if area is None:
        raise NotFound(f"Area {area_id} does not exist.", code="area_not_found")
    return area


async def area_names(session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
    """The areas' names by id, in id order."""
    rows = await session.execute(select(Area.id, Area.name).where(Area.id.in_(sorted(ids))).order_by(Area.id))
    return dict(rows.tuples().all())


async def managed_area(session: AsyncSession, actor: Actor | None, area_id: int) -> Area:
    """The area, when the actor manages it (no actor: a scheduled job, which acts everywhere)."""
    area = await get_area(session, area_id)
    if actor is not None and not actor.manages(area.code):
        raise Forbidden("That area is outside your own.", code="outside_your_area")
    return area


def require_community(area: Area) -> Area:
    """Things that belong to a community (plans, settings, projects) name one, not any area."""
    if area.level != AreaLevel.community:
        raise Unprocessable(f"{area.name} is not a community.", code="not_a_community")
    return area


# The levels people divide the work by: the desk pages' area pickers offer these.
WORK_LEVELS = (AreaLevel.street, AreaLevel.community, AreaLevel.grid)


async def subtree(
    session: AsyncSession, root: Area | None, levels: Collection[AreaLevel] | None = None
) -> list[Area]:
    """The areas under `root` (every area for None), by code; with `levels`, only those levels."""
    return await _under(session, root.code if root else "", levels)


async def managed_areas(
    session: AsyncSession, actor: Actor, levels: Collection[AreaLevel] = WORK_LEVELS
) -> list[Area]:
    """The areas at `levels` in the actor's own subtree (in every street, for administrators)."""
    return await _under(session, actor.area_code, levels)


async def _under(session: AsyncSession, code: str, levels: Collection[AreaLevel] | None) -> list[Area]:
    stmt = select(Area).order_by(Area.code)
    if code:
        stmt = stmt.where(Area.code.startswith(code, autoescape=True))
    if levels is not None:
        stmt = stmt.where(Area.level.in_(levels))
    return list(await session.scalars(stmt))


def build_tree(areas: list[Area]) -> list[AreaNode]:
    """Nest areas (sorted by code, so parents come first) under their parents."""
    nodes: dict[int, AreaNode] = {}
    roots: list[AreaNode] = []
    for area in areas:
        node = AreaNode(
            id=area.id, code=area.code, name=area.name, level=area.level, parent_id=area.parent_id
        )
        nodes[area.id] = node
        parent = nodes.get(area.parent_id) if area.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return roots


async def ancestors(session: AsyncSession, codes: set[str]) -> dict[str, Area]:
    """Every area whose code is a prefix (at a level boundary) of one of `codes`, by code."""
    prefixes = {
        code[: code_length(level)] for code in codes for level in LEVELS if len(code) >= code_length(level)
    }
    if not prefixes:
        return {}
    rows = await session.scalars(select(Area).where(Area.code.in_(prefixes)))
    return {a.code: a for a in rows}


async def create_area(session: AsyncSession, actor: Actor, data: AreaCreate) -> Area:
    if data.parent_id is None:
        if not actor.is_admin:
            raise Forbidden("Only administrators can create a street.", code="admin_required")
        level = AreaLevel.street
        if data.code is None or len(data.code) != code_length(level):
            raise InvalidInput(f"A street needs a {code_length(level)}-digit code.", code="invalid_area_code")
        code = data.code
        parent = None
    else:
        parent = await get_area(session, data.parent_id)
        if not actor.manages(parent.code):
            raise Forbidden("You can only add areas inside your own area.", code="outside_your_area")
        next_level = child_level(parent.level)
        if next_level is None:
            raise InvalidInput("A building cannot contain other areas.", code="area_too_deep")
        level = next_level
        code = data.code or await _next_child_code(session, parent)
        if len(code) != code_length(level) or not code.startswith(parent.code):
            raise InvalidInput(
                f"A {level} code has {code_length(level)} digits and starts with {parent.code}.",
                code="invalid_area_code",
            )
    if await session.scalar(select(Area.id).where(Area.code == code)):
        raise Conflict(f"Area code {code} is already in use.", code="area_code_taken")
    area = Area(code=code, name=data.name.strip(), level=level, parent_id=parent.id if parent else None)
    session.add(area)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(f"Area code {code} is already in use.", code="area_code_taken") from error
    return area


async def _next_child_code(session: AsyncSession, parent: Area) -> str:
    codes = await session.scalars(select(Area.code).where(Area.parent_id == parent.id))
    used = [int(c[-CHILD_CODE_DIGITS:]) for c in codes]
    number = max(used, default=0) + 1
    if number >= 10**CHILD_CODE_DIGITS:
        raise Conflict(f"{parent.name} has no free child codes left.", code="area_codes_exhausted")
    return parent.code + str(number).zfill(CHILD_CODE_DIGITS)

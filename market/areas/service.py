from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import CHILD_CODE_DIGITS, LEVELS, Area, AreaLevel, child_level, code_length
from market.areas.schemas import AreaCreate, AreaNode, AreaRead, ImportProblem, ImportResult, ImportRowRead
from market.auth.access import Actor
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from market.imports import Column, Row, read_table
from market.ledger.accounts import open_area_accounts

# An area, or the columns of one a statement read.
Found = TypeVar("Found")


def area_read(area: Area) -> AreaRead:
    return AreaRead(id=area.id, code=area.code, name=area.name, level=area.level, parent_id=area.parent_id)


async def get_area(session: AsyncSession, area_id: int) -> Area:
    return found_area(await session.get(Area, area_id), area_id)


def found_area(area: Found | None, area_id: int) -> Found:
    """The area (or the columns of it) read for `area_id`, or the refusal when there is none."""
    if area is None:
        raise NotFound(f"Area {area_id} does not exist.", code="area_not_found")
    return area


async def area_names(session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
    """The areas' names by id, in id order."""
    rows = await session.execute(select(Area.id, Area.name).where(Area.id.in_(sorted(ids))).order_by(Area.id))
    return dict(rows.all())


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


async def community_for_reading(session: AsyncSession, actor: Actor, community_id: int) -> Area:
    """A community whose settings the actor may read: its managers and the grid workers inside it."""
    area = require_community(await get_area(session, community_id))
    if not (actor.manages(area.code) or (actor.is_manager and actor.area_code.startswith(area.code))):
        raise Forbidden("That community is outside your own.", code="outside_your_area")
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
    rows = await session.scalars(_areas_by_code(), {"codes": list(prefixes)})
    return {a.code: a for a in rows}


@functools.cache
def _areas_by_code() -> Select[tuple[Area]]:
    # Built once: lists look up their items' places on every read (Open311's requests, wishes, pages).
    return select(Area).where(Area.code.in_(bindparam("codes", expanding=True)))


async def place_paths(
    session: AsyncSession, codes: set[str], top: AreaLevel = AreaLevel.community
) -> dict[str, list[str]]:
    """Each area's full place: the names from its ancestor at `top` down to itself (a page joins
    them: 社区 › 网格 › 小区 › 楼栋), by code."""
    found = await ancestors(session, codes)
    return {
        code: [
            found[code[: code_length(level)]].name
            for level in LEVELS[LEVELS.index(top) :]
            if code[: code_length(level)] in found and len(code) >= code_length(level)
        ]
        for code in codes
    }


async def create_area(session: AsyncSession, actor: Actor, data: AreaCreate) -> Area:
    if data.parent_id is None:
        may_add_under(actor, None)
        level = AreaLevel.street
        if data.code is None or len(data.code) != code_length(level):
            raise InvalidInput(f"A street needs a {code_length(level)}-digit code.", code="invalid_area_code")
        code = data.code
        parent = None
    else:
        parent = await get_area(session, data.parent_id)
        may_add_under(actor, parent.code)
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
    return await add_area(session, code, data.name.strip(), level, parent)


async def add_area(
    session: AsyncSession, code: str, name: str, level: AreaLevel, parent: Area | None
) -> Area:
    """Store an area (already checked) with the ledger accounts its level keeps: the one way an
    area is made, by the API, the pages, the tree import and the demo alike."""
    area = Area(code=code, name=name, level=level, parent_id=parent.id if parent else None)
    session.add(area)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(f"Area code {code} is already in use.", code="area_code_taken") from error
    await open_area_accounts(session, area)
    return area


async def _next_child_code(session: AsyncSession, parent: Area) -> str:
    codes = await session.scalars(select(Area.code).where(Area.parent_id == parent.id))
    used = [int(c[-CHILD_CODE_DIGITS:]) for c in codes]
    number = max(used, default=0) + 1
    if number >= 10**CHILD_CODE_DIGITS:
        raise Conflict(f"{parent.name} has no free child codes left.", code="area_codes_exhausted")
    return parent.code + str(number).zfill(CHILD_CODE_DIGITS)


async def rename_area(session: AsyncSession, actor: Actor, area_id: int, name: str) -> Area:
    """Rename an area one could have added: inside one's own subtree (a street: administrators)."""
    area = await get_area(session, area_id)
    parent_code = area.code[:-CHILD_CODE_DIGITS] if area.level != AreaLevel.street else None
    may_add_under(actor, parent_code)
    area.name = name.strip()
    await session.flush()
    return area


def may_add_under(actor: Actor, parent_code: str | None) -> None:
    """The rule for adding and renaming areas: administrators make streets (no parent); a manager
    adds and renames the areas below their own (a community manager its grids, compounds and
    buildings, not the community itself)."""
    if parent_code is None:
        if not actor.is_admin:
            raise Forbidden("Only administrators can create a street.", code="admin_required")
    elif not actor.manages(parent_code):
        raise Forbidden("You can only add areas inside your own area.", code="outside_your_area")


# ---------------------------------------------------------------- importing the tree from a spreadsheet

AREA_COLUMNS = (
    Column("code", "编码", "Code"),
    Column("name", "名称", "Name"),
    Column("parent_code", "上级编码", "Parent code", required=False),
)
# The template's example rows: a street, a community, a grid, a compound and a building.
TEMPLATE_EXAMPLES = {
    "zh": [
        ["110105001", "幸福街道", ""],
        ["110105001001", "幸福里社区", "110105001"],
        ["110105001001001", "第1网格", "110105001001"],
        ["110105001001001001", "幸福东苑", "110105001001001"],
        ["110105001001001001001", "1号楼", "110105001001001001"],
    ],
    "en": [
        ["110105001", "Sunny Street", ""],
        ["110105001001", "Sunny Lane Community", "110105001"],
        ["110105001001001", "Grid 1", "110105001001"],
        ["110105001001001001", "East Garden", "110105001001001"],
        ["110105001001001001001", "Building 1", "110105001001001001"],
    ],
}
NAME_MAX = 100
_DIGITS = re.compile(r"^[0-9]+$")
_CODE_LENGTHS = {code_length(level): level for level in LEVELS}


@dataclass
class _Planned:
    """A row of the file as the import sees it: what it would do, or why it cannot."""

    line: int
    code: str
    name: str
    parent_code: str
    level: AreaLevel | None = None
    action: str = ""
    problems: list[ImportProblem] = field(default_factory=list)

    def refuse(self, code: str, column: str) -> None:
        self.problems.append(ImportProblem(code=code, column=column))

    def read(self) -> ImportRowRead:
        return ImportRowRead(
            line=self.line,
            code=self.code,
            name=self.name,
            parent_code=self.parent_code,
            action="" if self.problems else self.action,
            problems=self.problems,
            level=self.level,
        )


async def import_areas(session: AsyncSession, actor: Actor, data: bytes, *, dry_run: bool) -> ImportResult:
    """Import the area tree from an uploaded spreadsheet (see `import_rows`)."""
    return await import_rows(session, actor, read_table(data, AREA_COLUMNS), dry_run=dry_run)


async def import_rows(
    session: AsyncSession, actor: Actor, rows: Sequence[Row], *, dry_run: bool
) -> ImportResult:
    """Areas keyed by code: a new code adds the area under its parent, a known code with another
    name renames it, the same name changes nothing — so importing a file twice changes nothing.
    Parents may come after their children in the file. Every row is checked against the same
    rules as adding or renaming one area; a file with any problem writes nothing and lists every
    row's problems. With `dry_run`, nothing is written either way."""
    planned = [
        _Planned(
            r.line,
            r.values.get("code", "").strip(),
            " ".join(r.values.get("name", "").split()),
            r.values.get("parent_code", "").strip(),
        )
        for r in rows
    ]
    codes = {p.code for p in planned} | {p.parent_code for p in planned}
    existing: dict[str, Area] = {}
    wanted = sorted(c for c in codes if c and _DIGITS.match(c))
    for start in range(0, len(wanted), 500):
        found = await session.scalars(select(Area).where(Area.code.in_(wanted[start : start + 500])))
        existing.update((a.code, a) for a in found)
    # Parents first: a parent's code is shorter than its children's.
    order = sorted(planned, key=lambda p: (len(p.code), p.code, p.line))
    seen: set[str] = set()
    accepted: dict[str, AreaLevel] = {}
    for row in order:
        _plan_row(actor, row, existing, accepted, seen)
    result = ImportResult(
        dry_run=dry_run,
        rows=[p.read() for p in planned],
        created=sum(not p.problems and p.action == "create" for p in planned),
        renamed=sum(not p.problems and p.action == "rename" for p in planned),
        unchanged=sum(not p.problems and p.action == "unchanged" for p in planned),
        rejected=sum(bool(p.problems) for p in planned),
    )
    if result.rejected:
        result.dry_run = True
        if not dry_run:
            raise Unprocessable(
                f"{result.rejected} rows of the file cannot be imported; nothing was imported.",
                code="import_has_problems",
                rows=[r for r in result.rows if r.problems],
            )
        return result
    if not dry_run:
        await _write(session, order, existing)
    return result


def _plan_row(
    actor: Actor, row: _Planned, existing: dict[str, Area], accepted: dict[str, AreaLevel], seen: set[str]
) -> None:
    """Check one row (parents were checked first) and decide what it does."""
    if not row.code or not _DIGITS.match(row.code) or len(row.code) not in _CODE_LENGTHS:
        row.refuse(code="area_code_malformed", column="code")
    elif row.code in seen:
        row.refuse(code="area_code_duplicate_in_file", column="code")
    seen.add(row.code)
    if not row.name:
        row.refuse(code="area_name_required", column="name")
    elif len(row.name) > NAME_MAX:
        row.refuse(code="area_name_too_long", column="name")
    if row.parent_code:
        parent = existing.get(row.parent_code)
        parent_level = parent.level if parent else accepted.get(row.parent_code)
        if parent_level is None:
            row.refuse(code="area_parent_unknown", column="parent_code")
            return
        row.level = child_level(AreaLevel(parent_level))
        if row.level is None:
            row.refuse(code="area_too_deep", column="parent_code")
            return
    else:
        row.level = AreaLevel.street
    if row.problems:
        return
    if len(row.code) != code_length(row.level):
        row.refuse(code="area_code_wrong_length", column="code")
    elif row.parent_code and not row.code.startswith(row.parent_code):
        row.refuse(code="area_code_not_under_parent", column="code")
    if row.problems:
        return
    area = existing.get(row.code)
    row.action = "create" if area is None else "unchanged" if area.name == row.name else "rename"
    if row.action == "unchanged":
        # Rows that change nothing may still not reach past one's own area.
        if not actor.manages(row.code):
            row.refuse(code="outside_your_area", column="parent_code" if row.parent_code else "code")
    else:
        try:
            may_add_under(actor, row.parent_code or None)
        except Forbidden as refusal:
            row.refuse(code=refusal.code, column="parent_code" if row.parent_code else "code")
    if not row.problems:
        accepted[row.code] = row.level


async def _write(session: AsyncSession, order: list[_Planned], existing: dict[str, Area]) -> None:
    for row in order:
        area = existing.get(row.code)
        if row.action == "rename" and area is not None:
            area.name = row.name
        elif row.action == "create" and row.level is not None:
            parent = existing.get(row.parent_code) if row.parent_code else None
            existing[row.code] = await add_area(session, row.code, row.name, row.level, parent)
    await session.flush()

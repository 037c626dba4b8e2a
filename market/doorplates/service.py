"""Doorplate codes (数字门牌码上服务): a QR code on every building and compound that opens a page
for that place — post an order there, call the grid worker, see the place's open wishes.

The code carries a random token kept per place, never the area's id: a plate leads to its own
place and cannot be turned into another's by changing a number. Tokens are issued for a
manager's area when they print its sheet, and kept, so a reprint carries the same codes; a manager
revokes a place's code (the plate was torn off, or copied where it should not be) and issues it a
new one, and the old code's page then says it was revoked."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import get_area, place_paths, subtree
from market.auth.access import Actor
from market.auth.models import Role, User, UserRole
from market.db import upsert
from market.doorplates.models import Doorplate, RevokedDoorplate
from market.errors import Conflict, Forbidden, NotFound
from market.wishes.models import Wish, WishStatus
from market.wishes.schemas import WishRead
from market.wishes.service import wish_reads

# The places that carry a doorplate: where orders are posted.
PLATED_LEVELS = (AreaLevel.compound, AreaLevel.building)
# 16 random bytes: 22 characters in a URL, beyond any guessing.
TOKEN_BYTES = 16
# Whoever scans a plate, logged in or not: the wishes read as the wall shows them to a stranger.
PASSER_BY = Actor(id=0, name="", roles=frozenset(), area_id=None, area_code="")
WISHES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Plate:
    area_id: int
    code: str
    level: AreaLevel
    # Community › grid › compound › building.
    place: list[str]
    token: str


@dataclass(frozen=True, slots=True)
class GridWorker:
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class Place:
    area_id: int
    code: str
    level: AreaLevel
    place: list[str]
    grid_workers: list[GridWorker]
    wishes: list[WishRead]


async def _sheet_root(session: AsyncSession, actor: Actor, area_id: int) -> Area:
    area = await get_area(session, area_id)
    if not actor.manages(area.code):
        raise Forbidden("That area is outside your own.", code="outside_your_area")
    return area


async def issue_plates(session: AsyncSession, actor: Actor, area_id: int, now: datetime) -> int:
    """Give every building and compound under the area that has no code yet its own; the codes
    already issued stay as they are. Returns how many were issued."""
    root = await _sheet_root(session, actor, area_id)
    places = await subtree(session, root, PLATED_LEVELS)
    if root.level in PLATED_LEVELS:
        places = [root, *places]
    return await _give_codes(session, places, now)


async def _give_codes(session: AsyncSession, places: list[Area], now: datetime) -> int:
    """A code for each of the places that has none; how many were given."""
    have = set(
        await session.scalars(select(Doorplate.area_id).where(Doorplate.area_id.in_([a.id for a in places])))
    )
    missing = [a for a in places if a.id not in have]
    if missing:
        # Two managers printing at once: the first code of a place wins, the other is dropped.
        await session.execute(
            upsert(session, Doorplate)
            .values(
                [
                    {"area_id": a.id, "token": secrets.token_urlsafe(TOKEN_BYTES), "issued_at": now}
                    for a in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=[Doorplate.area_id])
        )
    return len(missing)


async def revoke_plate(
    session: AsyncSession,
    actor: Actor,
    area_id: int,
    token: str | None,
    now: datetime,
    *,
    reissue: bool = False,
) -> Area:
    """Revoke the place's code `token` (as the sheet showed it): its page says so from now on, and
    the place has none until one is issued (at once when `reissue`, else with the sheet's button).
    A second press, or a sheet older than the code, finds another code or none and changes nothing
    (`doorplate_changed`, `doorplate_not_issued`): a code on the wall is never revoked unseen."""
    place = await _sheet_root(session, actor, area_id)
    plate = await session.scalar(
        select(Doorplate)
        .where(Doorplate.area_id == place.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if plate is None:
        raise Conflict("This place has no doorplate code to revoke.", code="doorplate_not_issued")
    if plate.token != token:
        raise Conflict("The place's code changed since this sheet was shown.", code="doorplate_changed")
    session.add(
        RevokedDoorplate(
            token=plate.token,
            area_id=place.id,
            issued_at=plate.issued_at,
            revoked_at=now,
            revoked_by_id=actor.id,
        )
    )
    await session.delete(plate)
    await session.flush()
    if reissue:
        await _give_codes(session, [place], now)
    return place


async def sheet(session: AsyncSession, actor: Actor, area_id: int) -> tuple[Area, list[Plate], int]:
    """The area's sheet: each building and compound under it that has a code, by code; and how
    many have none yet (issued by `issue_plates`)."""
    root = await _sheet_root(session, actor, area_id)
    places = await subtree(session, root, PLATED_LEVELS)
    if root.level in PLATED_LEVELS:
        places = [root, *places]
    tokens = dict(
        (
            await session.execute(
                select(Doorplate.area_id, Doorplate.token).where(
                    Doorplate.area_id.in_([a.id for a in places])
                )
            )
        ).all()
    )
    paths = await place_paths(session, {a.code for a in places})
    plates = [
        Plate(area_id=a.id, code=a.code, level=a.level, place=paths[a.code], token=tokens[a.id])
        for a in places
        if a.id in tokens
    ]
    return root, plates, len(places) - len(plates)


async def place_of(session: AsyncSession, token: str) -> Place:
    """What a scanned plate shows: the place, its grid's workers to call, its open wishes
    (masked as the wish wall shows them to a stranger). An unknown token is no place at all."""
    area = await session.scalar(
        select(Area).join(Doorplate, Doorplate.area_id == Area.id).where(Doorplate.token == token)
    )
    if area is None:
        if await session.get(RevokedDoorplate, token) is not None:
            raise NotFound("This doorplate code was revoked.", code="doorplate_revoked")
        raise NotFound("No place has this doorplate code.", code="doorplate_not_found")
    grid = area.code[: code_length(AreaLevel.grid)]
    # Only their name and the phone they serve the grid on: a doorplate is public, as the grid
    # worker's number posted at the gate is; residents' data is never on this page.
    workers = await session.execute(
        select(User.name, User.phone)
        .join(Area, Area.id == User.area_id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(Area.code == grid, UserRole.role == Role.grid_worker, User.is_active)
        .order_by(User.id)
    )
    wishes = (
        await session.scalars(
            select(Wish)
            .where(Wish.status == WishStatus.open, Wish.area_code.startswith(area.code, autoescape=True))
            .options(selectinload(Wish.resident), selectinload(Wish.claimer))
            .order_by(Wish.deadline, Wish.id)
            .limit(WISHES_SHOWN)
        )
    ).all()
    paths = await place_paths(session, {area.code})
    return Place(
        area_id=area.id,
        code=area.code,
        level=area.level,
        place=paths[area.code],
        grid_workers=[GridWorker(name, phone) for name, phone in workers],
        wishes=await wish_reads(session, PASSER_BY, wishes),
    )


async def area_of_plate(session: AsyncSession, token: str) -> int | None:
    """The area a doorplate code names, if any (to fill in the order form it leads to)."""
    return await session.scalar(select(Doorplate.area_id).where(Doorplate.token == token))

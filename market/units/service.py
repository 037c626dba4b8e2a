"""Co-building units and their resource lists.

A resource's quantity is split three ways: available, held (committed to a
project, not yet delivered) and delivered. Projects move quantity between them
only through `hold`, `deliver` and `release`, on a row locked by `lock_resource`,
and the table's check constraint refuses anything that would lose or invent some.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel, code_length, community_scope
from market.auth.access import ROLE_RANK, Actor
from market.auth.models import Role, User, UserRole
from market.auth.service import user_names, visible_user_by_phone
from market.db import lock_rows
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from market.ledger.models import Account, AccountKind, Asset
from market.ledger.service import get_or_create_account
from market.pagination import page_total
from market.units.models import (
    Resource,
    ResourceCategory,
    ResourceCommunity,
    ResourceStatus,
    Unit,
    UnitAdmin,
    UnitCommunity,
)
from market.units.schemas import (
    ResourceCreate,
    ResourceRead,
    ResourceUpdate,
    UnitAdminRead,
    UnitCreate,
    UnitRead,
    UnitUpdate,
)

STREET = code_length(AreaLevel.street)


# ---------------------------------------------------------------- units


def my_units(actor: Actor):
    """The ids of the units the actor acts for, as a subquery."""
    return select(UnitAdmin.unit_id).where(UnitAdmin.user_id == actor.id)


def _visible_units(actor: Actor):
    """Units a caller may read: their own, and for managers every unit of their street."""
    if actor.is_admin:
        return Unit.id.is_not(None)
    conditions = [Unit.id.in_(my_units(actor))]
    if actor.is_manager:
        conditions.append(Unit.area_code.startswith(actor.area_code[:STREET], autoescape=True))
    return or_(*conditions)


async def _communities(
    session: AsyncSession, actor: Actor | None, community_ids: Iterable[int]
) -> list[Area]:
    wanted = set(community_ids)
    found = list(await session.scalars(select(Area).where(Area.id.in_(wanted))))
    if len(found) != len(wanted) or any(a.level != AreaLevel.community for a in found):
        raise Unprocessable("Every community_id must be a community.", code="not_a_community")
    if actor is not None and (outside := [a.name for a in found if not actor.manages(a.code)]):
        raise Forbidden(
            "These communities are outside your area: " + ", ".join(outside), code="outside_your_area"
        )
    return found


async def _unit_admins(session: AsyncSession, admin_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(admin_ids))
    found = set(
        await session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.id.in_(wanted), User.is_active, UserRole.role == Role.unit_admin)
        )
    )
    if missing := [i for i in wanted if i not in found]:
        raise Unprocessable(
            f"Users {', '.join(map(str, missing))} are not active users with the unit_admin role.",
            code="not_a_unit_admin",
            user_ids=missing,
        )
    return wanted


async def get_unit(session: AsyncSession, unit_id: int, *, for_update: bool = False) -> Unit:
    stmt = (
        select(Unit)
        .where(Unit.id == unit_id)
        .options(selectinload(Unit.communities), selectinload(Unit.admins))
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    unit = await session.scalar(stmt)
    if unit is None:
        raise NotFound(f"Unit {unit_id} does not exist.", code="unit_not_found")
    return unit


async def visible_unit(session: AsyncSession, actor: Actor, unit_id: int) -> Unit:
    if not await session.scalar(select(Unit.id).where(Unit.id == unit_id, _visible_units(actor))):
        raise NotFound(f"Unit {unit_id} does not exist.", code="unit_not_found")
    return await get_unit(session, unit_id)


async def unit_reads(session: AsyncSession, units: list[Unit]) -> list[UnitRead]:
    names = await user_names(session, {a.user_id for u in units for a in u.admins})
    return [
        UnitRead(
            id=u.id,
            name=u.name,
            kind=u.kind,
            contact_name=u.contact_name,
            contact_phone=u.contact_phone,
            community_ids=[c.community_id for c in u.communities],
            admins=[UnitAdminRead(user_id=a.user_id, name=names.get(a.user_id, "")) for a in u.admins],
            created_at=u.created_at,
            updated_at=u.updated_at,
        )
        for u in units
    ]


async def create_unit(session: AsyncSession, actor: Actor, data: UnitCreate, now: datetime) -> Unit:
    communities = await _communities(session, actor, data.community_ids)
    admins = await _unit_admins(session, data.admin_ids)
    name = data.name.strip()
    # Registrations on one street take turns (its row locked), so that a double click registers once.
    street = actor.area_code[:STREET]
    await lock_rows(session, select(Area.id).where(Area.code == street).with_for_update())
    if await session.scalar(
        select(Unit.id).where(Unit.name == name, Unit.area_code.startswith(street, autoescape=True)).limit(1)
    ):
        raise Conflict(f"A unit called {name} is already registered on the street.", code="unit_name_taken")
    unit = Unit(
        name=name,
        kind=data.kind,
        contact_name=data.contact_name.strip(),
        contact_phone=data.contact_phone,
        area_code=actor.area_code,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        communities=[UnitCommunity(community_id=c.id) for c in communities],
        admins=[UnitAdmin(user_id=i) for i in admins],
    )
    session.add(unit)
    await session.flush()
    return await get_unit(session, unit.id)


async def update_unit(
    session: AsyncSession, actor: Actor, unit_id: int, data: UnitUpdate, now: datetime
) -> Unit:
    await visible_unit(session, actor, unit_id)
    unit = await get_unit(session, unit_id, for_update=True)
    if not actor.manages(unit.area_code):
        raise Forbidden(
            "Only the managers of the area that registered the unit can change it.", code="not_your_unit"
        )
    if data.community_ids is not None:
        await _communities(session, actor, data.community_ids)
        kept = set(data.community_ids)
        dropped = {c.community_id for c in unit.communities} - kept
        in_use = await session.scalar(
            select(ResourceCommunity.community_id)
            .join(Resource, Resource.id == ResourceCommunity.resource_id)
            .where(Resource.unit_id == unit.id, ResourceCommunity.community_id.in_(dropped))
            .limit(1)
        )
        if in_use is not None:
            raise Conflict(
                f"Community {in_use} is served by some of the unit's resources; change those first.",
                code="community_in_use",
            )
        unit.communities = [c for c in unit.communities if c.community_id in kept] + [
            UnitCommunity(community_id=i) for i in sorted(kept - {c.community_id for c in unit.communities})
        ]
    if data.admin_ids is not None:
        admins = set(await _unit_admins(session, data.admin_ids))
        unit.admins = [a for a in unit.admins if a.user_id in admins] + [
            UnitAdmin(user_id=i) for i in sorted(admins - {a.user_id for a in unit.admins})
        ]
    for name in ("name", "contact_name"):
        if (value := getattr(data, name)) is not None:
            setattr(unit, name, value.strip())
    if data.kind is not None:
        unit.kind = data.kind
    if data.contact_phone is not None:
        unit.contact_phone = data.contact_phone
    unit.updated_at = now
    await session.flush()
    return await get_unit(session, unit.id)


MAX_UNIT_ADMINS = 20


async def appoint_admin(session: AsyncSession, actor: Actor, unit_id: int, phone: str, now: datetime) -> Unit:
    """Make the person with this phone number one of the unit's admins, giving them the unit_admin
    role when they do not hold it yet (only a person living inside the actor's area may get it)."""
    await visible_unit(session, actor, unit_id)
    unit = await get_unit(session, unit_id, for_update=True)
    if not actor.manages(unit.area_code):
        raise Forbidden(
            "Only the managers of the area that registered the unit can change it.", code="not_your_unit"
        )
    person = await visible_user_by_phone(session, actor, phone, for_update=True)
    if not person.is_active:
        raise Unprocessable(f"{person.name}'s account is deactivated.", code="person_inactive")
    current = [a.user_id for a in unit.admins]
    if person.id in current:
        raise Conflict(f"{person.name} is already one of the unit's admins.", code="already_unit_admin")
    if len(current) >= MAX_UNIT_ADMINS:
        raise Conflict(f"A unit can have at most {MAX_UNIT_ADMINS} admins.", code="unit_admins_full")
    if Role.unit_admin not in person.roles:
        if person.area is None or not actor.manages(person.area.code):
            raise Forbidden(
                "Only a person living inside your area can be given the unit admin role.",
                code="outside_your_area",
            )
        if ROLE_RANK[Role.unit_admin] >= actor.rank and not actor.is_admin:
            raise Forbidden("You cannot give these roles: unit_admin", code="role_not_grantable")
        session.add(UserRole(user_id=person.id, role=Role.unit_admin))
        await session.flush()
    return await update_unit(session, actor, unit_id, UnitUpdate(admin_ids=[*current, person.id]), now)


async def withdraw_admin(
    session: AsyncSession, actor: Actor, unit_id: int, user_id: int, now: datetime
) -> Unit:
    """The person no longer acts for the unit; acting for no unit any more, they lose the unit_admin
    role too (the role means "admin of a unit")."""
    await visible_unit(session, actor, unit_id)
    unit = await get_unit(session, unit_id, for_update=True)
    current = [a.user_id for a in unit.admins]
    if user_id not in current:
        # update_unit below would check the actor's area; check it first so both refusals agree.
        if not actor.manages(unit.area_code):
            raise Forbidden(
                "Only the managers of the area that registered the unit can change it.", code="not_your_unit"
            )
        raise NotFound("That person is not one of the unit's admins.", code="unit_admin_not_found")
    unit = await update_unit(
        session, actor, unit_id, UnitUpdate(admin_ids=[i for i in current if i != user_id]), now
    )
    if not await session.scalar(select(UnitAdmin.id).where(UnitAdmin.user_id == user_id).limit(1)):
        await session.execute(
            delete(UserRole).where(UserRole.user_id == user_id, UserRole.role == Role.unit_admin)
        )
    return unit


async def list_units(
    session: AsyncSession,
    actor: Actor,
    community_id: int | None,
    kind: str | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Unit], int]:
    stmt = select(Unit).where(_visible_units(actor))
    if community_id is not None:
        stmt = stmt.where(
            Unit.id.in_(select(UnitCommunity.unit_id).where(UnitCommunity.community_id == community_id))
        )
    if kind is not None:
        stmt = stmt.where(Unit.kind == kind)
    if q:
        stmt = stmt.where(Unit.name.contains(q, autoescape=True))
    units = list(
        await session.scalars(
            stmt.options(selectinload(Unit.communities), selectinload(Unit.admins))
            .order_by(Unit.id)
            .limit(limit)
            .offset(offset)
        )
    )
    return units, await page_total(session, stmt, limit, offset, len(units))


async def units_of(session: AsyncSession, actor: Actor) -> list[Unit]:
    """The units the actor acts for, as their admin."""
    return list(
        await session.scalars(
            select(Unit)
            .where(Unit.id.in_(my_units(actor)))
            .options(selectinload(Unit.communities), selectinload(Unit.admins))
            .order_by(Unit.id)
        )
    )


async def admins_of(session: AsyncSession, unit_ids: Iterable[int]) -> dict[int, list[int]]:
    """The admins' user ids of each unit, for notifications."""
    admins: dict[int, list[int]] = {}
    for unit_id, user_id in await session.execute(
        select(UnitAdmin.unit_id, UnitAdmin.user_id).where(UnitAdmin.unit_id.in_(set(unit_ids)))
    ):
        admins.setdefault(unit_id, []).append(user_id)
    return admins


async def acts_for(session: AsyncSession, actor: Actor, unit_id: int) -> bool:
    """True when the actor is one of the unit's admins (or a system administrator)."""
    if actor.is_admin:
        return True
    return bool(
        await session.scalar(
            select(UnitAdmin.id).where(UnitAdmin.unit_id == unit_id, UnitAdmin.user_id == actor.id)
        )
    )


async def unit_account(session: AsyncSession, unit: Unit, asset: Asset) -> Account:
    """The unit's own ledger account (credit points for what it delivered), kept on its street."""
    street = await session.scalar(select(Area).where(Area.code == unit.area_code[:STREET]))
    return await get_or_create_account(
        session,
        f"{asset}:{AccountKind.unit}:unit:{unit.id}",
        asset=asset,
        kind=AccountKind.unit,
        user_id=None,
        area_id=street.id if street else None,
        area_code=unit.area_code,
        debits_must_not_exceed_credits=True,
        created_at=func.now(),
    )


# ---------------------------------------------------------------- resources


def _visible_resources(actor: Actor):
    """Their own units' resources; for managers, the resources serving their community or street."""
    if actor.is_admin:
        return Resource.id.is_not(None)
    conditions = [Resource.unit_id.in_(my_units(actor))]
    if actor.is_manager:
        conditions.append(
            Resource.id.in_(
                select(ResourceCommunity.resource_id)
                .join(Area, Area.id == ResourceCommunity.community_id)
                .where(Area.code.startswith(community_scope(actor.area_code), autoescape=True))
            )
        )
    return or_(*conditions)


async def get_resource(session: AsyncSession, resource_id: int) -> Resource:
    resource = await session.scalar(
        select(Resource)
        .where(Resource.id == resource_id)
        .options(selectinload(Resource.communities))
        .execution_options(populate_existing=True)
    )
    if resource is None:
        raise NotFound(f"Resource {resource_id} does not exist.", code="resource_not_found")
    return resource


async def visible_resource(session: AsyncSession, actor: Actor, resource_id: int) -> Resource:
    if not await session.scalar(
        select(Resource.id).where(Resource.id == resource_id, _visible_resources(actor))
    ):
        raise NotFound(f"Resource {resource_id} does not exist.", code="resource_not_found")
    return await get_resource(session, resource_id)


async def lock_resources(session: AsyncSession, resource_ids: Iterable[int]) -> dict[int, Resource]:
    """Lock resources in id order (so that two projects committing the same ones cannot deadlock)."""
    rows = await session.scalars(
        select(Resource)
        .where(Resource.id.in_(sorted(set(resource_ids))))
        .order_by(Resource.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {r.id: r for r in rows}


async def resource_reads(session: AsyncSession, resources: list[Resource]) -> list[ResourceRead]:
    unit_names = dict(
        (
            await session.execute(
                select(Unit.id, Unit.name).where(Unit.id.in_({r.unit_id for r in resources}))
            )
        ).all()
    )
    community_ids: dict[int, list[int]] = {r.id: [] for r in resources}
    for resource_id, community_id in await session.execute(
        select(ResourceCommunity.resource_id, ResourceCommunity.community_id)
        .where(ResourceCommunity.resource_id.in_(community_ids))
        .order_by(ResourceCommunity.community_id)
    ):
        community_ids[resource_id].append(community_id)
    return [
        ResourceRead(
            id=r.id,
            unit_id=r.unit_id,
            unit_name=unit_names.get(r.unit_id, ""),
            category=r.category,
            title=r.title,
            description=r.description,
            quantity=r.quantity,
            unit_of_measure=r.unit_of_measure,
            available=r.available,
            held=r.held,
            delivered=r.delivered,
            community_ids=community_ids[r.id],
            available_from=r.available_from,
            available_until=r.available_until,
            status=r.status,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in resources
    ]


async def _served(session: AsyncSession, unit_id: int, community_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(community_ids))
    paired = set(
        await session.scalars(
            select(UnitCommunity.community_id).where(
                UnitCommunity.unit_id == unit_id, UnitCommunity.community_id.in_(wanted)
            )
        )
    )
    if missing := [i for i in wanted if i not in paired]:
        raise Unprocessable(
            f"The unit is not paired with communities {', '.join(map(str, missing))}.",
            code="community_not_paired",
            community_ids=missing,
        )
    return wanted


def _check_window(available_from: datetime, available_until: datetime | None, now: datetime) -> None:
    if available_until is not None and available_until <= available_from:
        raise InvalidInput("available_until must be after available_from.", code="window_order")
    if available_until is not None and available_until <= now:
        raise InvalidInput("available_until must be in the future.", code="already_expired")


async def create_resource(
    session: AsyncSession, actor: Actor, data: ResourceCreate, now: datetime
) -> Resource:
    await visible_unit(session, actor, data.unit_id)
    if not await acts_for(session, actor, data.unit_id):
        raise Forbidden("Only the unit's admins publish its resources.", code="not_your_unit")
    _check_window(data.available_from, data.available_until, now)
    served = await _served(session, data.unit_id, data.community_ids)
    resource = Resource(
        unit_id=data.unit_id,
        category=data.category,
        title=data.title.strip(),
        description=data.description,
        quantity=data.quantity,
        unit_of_measure=data.unit_of_measure.strip(),
        held=0,
        delivered=0,
        available_from=data.available_from,
        available_until=data.available_until,
        status=ResourceStatus.published,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        communities=[ResourceCommunity(community_id=i) for i in served],
    )
    session.add(resource)
    await session.flush()
    return await get_resource(session, resource.id)


async def update_resource(
    session: AsyncSession, actor: Actor, resource_id: int, data: ResourceUpdate, now: datetime
) -> Resource:
    if not await session.scalar(
        select(Resource.id).where(Resource.id == resource_id, _visible_resources(actor))
    ):
        raise NotFound(f"Resource {resource_id} does not exist.", code="resource_not_found")
    resource = (await lock_resources(session, [resource_id]))[resource_id]
    if not await acts_for(session, actor, resource.unit_id):
        raise Forbidden("Only the unit's admins change its resources.", code="not_your_unit")
    if data.status == ResourceStatus.used_up:
        raise InvalidInput(
            "A resource is used up when nothing is left; set published or withdrawn.",
            code="status_not_settable",
        )
    if data.quantity is not None:
        committed = resource.held + resource.delivered
        if data.quantity < committed:
            raise Conflict(
                f"{committed} {resource.unit_of_measure} are committed or delivered; "
                f"the quantity cannot drop below that.",
                code="quantity_below_committed",
                committed=committed,
            )
        resource.quantity = data.quantity
    available_from = data.available_from or resource.available_from
    available_until = data.available_until or resource.available_until
    if data.available_from is not None or data.available_until is not None:
        _check_window(available_from, available_until, now)
        resource.available_from, resource.available_until = available_from, available_until
    if data.community_ids is not None:
        served = set(await _served(session, resource.unit_id, data.community_ids))
        await session.refresh(resource, ["communities"])
        resource.communities = [c for c in resource.communities if c.community_id in served] + [
            ResourceCommunity(community_id=i)
            for i in sorted(served - {c.community_id for c in resource.communities})
        ]
    for name in ("title", "description"):
        if (value := getattr(data, name)) is not None:
            setattr(resource, name, value.strip() if name == "title" else value)
    if data.status is not None:
        resource.status = data.status
    settle_status(resource)
    resource.updated_at = now
    await session.flush()
    return await get_resource(session, resource.id)


async def list_resources(
    session: AsyncSession,
    actor: Actor,
    *,
    community_id: int | None,
    unit_id: int | None,
    category: ResourceCategory | None,
    status: ResourceStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[Resource], int]:
    stmt = select(Resource).where(_visible_resources(actor))
    if community_id is not None:
        stmt = stmt.where(
            Resource.id.in_(
                select(ResourceCommunity.resource_id).where(ResourceCommunity.community_id == community_id)
            )
        )
    if unit_id is not None:
        stmt = stmt.where(Resource.unit_id == unit_id)
    if category is not None:
        stmt = stmt.where(Resource.category == category)
    if status is not None:
        stmt = stmt.where(Resource.status == status)
    rows = list(await session.scalars(stmt.order_by(Resource.id).limit(limit).offset(offset)))
    return rows, await page_total(session, stmt, limit, offset, len(rows))


# ---------------------------------------------------------------- quantities, on locked rows


def settle_status(resource: Resource) -> None:
    """published ⇄ used_up follows what is available; a withdrawn resource stays withdrawn."""
    if resource.status == ResourceStatus.withdrawn:
        return
    resource.status = ResourceStatus.used_up if resource.available == 0 else ResourceStatus.published


def hold(resource: Resource, quantity: int) -> None:
    resource.held += quantity
    settle_status(resource)


def deliver(resource: Resource, quantity: int) -> None:
    resource.held -= quantity
    resource.delivered += quantity
    settle_status(resource)


def release(resource: Resource, quantity: int) -> None:
    resource.held -= quantity
    settle_status(resource)

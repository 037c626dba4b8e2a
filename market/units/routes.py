from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_community_manager
from market.auth.models import MANAGER_ROLES, Role
from market.fields import PathId, query_id, query_text
from market.pagination import Limit, Offset, Page
from market.units import service
from market.units.models import ResourceCategory, ResourceStatus, UnitKind
from market.units.schemas import (
    ResourceCreate,
    ResourceRead,
    ResourceUpdate,
    UnitCreate,
    UnitRead,
    UnitUpdate,
)

readers = requires(Role.unit_admin, *MANAGER_ROLES)
unit_admins = requires(Role.unit_admin)


class UnitController(Controller):
    path = "/api/units"
    tags = ["units"]

    @post(
        "/",
        summary="Register a co-building unit (street admins, community managers)",
        guards=[requires_community_manager],
    )
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[UnitCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> UnitRead:
        unit = await service.create_unit(session, request.user, data, now)
        return (await service.unit_reads(session, [unit]))[0]

    @get("/", summary="Co-building units: your own, or those of your street", guards=[readers])
    async def list_units(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: query_id("Only units paired with this community") = None,
        kind: Annotated[UnitKind | None, QueryParameter()] = None,
        q: query_text(100, "Part of the name") = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[UnitRead]:
        units, total = await service.list_units(session, request.user, community_id, kind, q, limit, offset)
        return Page(items=await service.unit_reads(session, units), total=total, limit=limit, offset=offset)

    @get("/{unit_id:int}", summary="One unit", guards=[readers])
    async def get_unit(
        self, request: ActorRequest, unit_id: PathId, session: NamedDependency[AsyncSession]
    ) -> UnitRead:
        unit = await service.visible_unit(session, request.user, unit_id)
        return (await service.unit_reads(session, [unit]))[0]

    @patch(
        "/{unit_id:int}",
        summary="Change a unit (the managers of the area that registered it)",
        guards=[requires_community_manager],
    )
    async def update(
        self,
        request: ActorRequest,
        unit_id: PathId,
        data: JSONBody[UnitUpdate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> UnitRead:
        unit = await service.update_unit(session, request.user, unit_id, data, now)
        return (await service.unit_reads(session, [unit]))[0]


class ResourceController(Controller):
    path = "/api/resources"
    tags = ["units"]

    @post("/", summary="Publish a resource of your unit (unit admins)", guards=[unit_admins])
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[ResourceCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ResourceRead:
        resource = await service.create_resource(session, request.user, data, now)
        return (await service.resource_reads(session, [resource]))[0]

    @get("/", summary="Resources: your unit's, or those serving your community", guards=[readers])
    async def list_resources(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: query_id("Only resources serving this community") = None,
        unit_id: query_id("Only this unit's resources") = None,
        category: Annotated[ResourceCategory | None, QueryParameter()] = None,
        status: Annotated[ResourceStatus | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ResourceRead]:
        rows, total = await service.list_resources(
            session,
            request.user,
            community_id=community_id,
            unit_id=unit_id,
            category=category,
            status=status,
            limit=limit,
            offset=offset,
        )
        return Page(
            items=await service.resource_reads(session, rows), total=total, limit=limit, offset=offset
        )

    @patch("/{resource_id:int}", summary="Change a resource of your unit (unit admins)", guards=[unit_admins])
    async def update(
        self,
        request: ActorRequest,
        resource_id: PathId,
        data: JSONBody[ResourceUpdate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ResourceRead:
        resource = await service.update_resource(session, request.user, resource_id, data, now)
        return (await service.resource_reads(session, [resource]))[0]

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_community_manager, requires_manager
from market.auth.models import MANAGER_ROLES, Role
from market.fields import PathId, query_id
from market.needs import service
from market.needs.models import NeedStatus
from market.needs.schemas import (
    ApplyRequest,
    ApplyResult,
    NeedCreate,
    NeedRead,
    NeedUpdate,
    PlanCreate,
    PlanRead,
)
from market.pagination import Limit, Offset, Page
from market.projects import service as projects
from market.units.models import ResourceCategory

readers = requires(Role.unit_admin, *MANAGER_ROLES)


class NeedController(Controller):
    path = "/api/needs"
    tags = ["needs"]

    @post(
        "/",
        summary="Publish a need of your community (community managers)",
        guards=[requires_community_manager],
    )
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[NeedCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> NeedRead:
        need = await service.create_need(session, request.user, data, now)
        return (await service.need_reads(session, [need]))[0]

    @get(
        "/",
        summary="Needs of your area, or of the communities your unit works with; most pressing first",
        guards=[readers],
    )
    async def list_needs(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: query_id("Only this community's needs") = None,
        status: Annotated[NeedStatus | None, QueryParameter()] = None,
        category: Annotated[ResourceCategory | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[NeedRead]:
        rows, total = await service.list_needs(
            session,
            request.user,
            community_id=community_id,
            status=status,
            category=category,
            limit=limit,
            offset=offset,
        )
        return Page(items=await service.need_reads(session, rows), total=total, limit=limit, offset=offset)

    @get("/{need_id:int}", summary="One need, with the projects it has been part of", guards=[readers])
    async def get_need(
        self, request: ActorRequest, need_id: PathId, session: NamedDependency[AsyncSession]
    ) -> NeedRead:
        need = await service.get_need(session, request.user, need_id)
        return (await service.need_reads(session, [need]))[0]

    @patch(
        "/{need_id:int}",
        summary="Change, close or reopen an open need (community managers)",
        guards=[requires_community_manager],
    )
    async def update(
        self,
        request: ActorRequest,
        need_id: PathId,
        data: JSONBody[NeedUpdate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> NeedRead:
        need = await service.update_need(session, request.user, need_id, data, now)
        return (await service.need_reads(session, [need]))[0]


class AllocationController(Controller):
    path = "/api/allocations"
    tags = ["needs"]

    @post(
        "/plans",
        summary="Plan which resources meet the community's open needs (community managers)",
        guards=[requires_community_manager],
    )
    async def create_plan(
        self,
        request: ActorRequest,
        data: JSONBody[PlanCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> PlanRead:
        plan = await service.create_plan(session, request.user, data.community_id, now)
        return await service.plan_read(session, plan)

    @get("/plans/{plan_id:int}", summary="A plan: flows, needs left unmet and why", guards=[requires_manager])
    async def get_plan(
        self, request: ActorRequest, plan_id: PathId, session: NamedDependency[AsyncSession]
    ) -> PlanRead:
        return await service.get_plan(session, request.user, plan_id)

    @post(
        "/plans/{plan_id:int}/apply",
        summary="Turn all or chosen flows into a draft project; a plan applies once",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def apply_plan(
        self,
        request: ActorRequest,
        plan_id: PathId,
        data: JSONBody[ApplyRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ApplyResult:
        project = await service.apply_plan(session, request.user, plan_id, data, now)
        return ApplyResult(
            plan=await service.get_plan(session, request.user, plan_id),
            project=await projects.project_read(session, project.id),
        )

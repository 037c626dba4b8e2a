from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_community_manager
from market.auth.models import MANAGER_ROLES, Role
from market.fields import PathId, query_id
from market.pagination import Limit, Offset, Page
from market.projects import service
from market.projects.models import ProjectStatus
from market.projects.schemas import (
    CancelRequest,
    CloseRequest,
    DeliveryCreate,
    HoursRequest,
    ParticipantCreate,
    ProjectCreate,
    ProjectListItem,
    ProjectRead,
    ResponsibilityChange,
    ResponsibilityCreate,
)
from market.settings import Settings

units_and_managers = requires(Role.unit_admin, *MANAGER_ROLES)


class ProjectController(Controller):
    path = "/api/projects"
    tags = ["projects"]

    @post(
        "/",
        summary="Start a draft project with needs, commitments and responsibilities (community managers)",
        guards=[requires_community_manager],
    )
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[ProjectCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        project = await service.create_project(session, request.user, data, now)
        return await service.project_read(session, project.id)

    @get("/", summary="Projects you run, commit to, are responsible in or take part in")
    async def list_projects(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: query_id("Only this community's projects") = None,
        status: Annotated[ProjectStatus | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ProjectListItem]:
        items, total = await service.list_projects(
            session, request.user, community_id=community_id, status=status, limit=limit, offset=offset
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get(
        "/{project_id:int}", summary="A project with its commitments, deliveries, people, history and summary"
    )
    async def get_project(
        self, request: ActorRequest, project_id: PathId, session: NamedDependency[AsyncSession]
    ) -> ProjectRead:
        return await service.get_project(session, request.user, project_id)

    @post(
        "/{project_id:int}/commitments/{commitment_id:int}/confirm",
        summary="Confirm your unit's commitment; the last confirmation activates the project",
        status_code=200,
        guards=[requires(Role.unit_admin)],
    )
    async def confirm(
        self,
        request: ActorRequest,
        project_id: PathId,
        commitment_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.confirm_commitment(session, request.user, project_id, commitment_id, now)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/commitments/{commitment_id:int}/deliveries",
        summary="Record a delivery against a commitment (the unit's admins, the managers)",
        status_code=200,
        guards=[units_and_managers],
    )
    async def deliver(
        self,
        request: ActorRequest,
        project_id: PathId,
        commitment_id: PathId,
        data: JSONBody[DeliveryCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.record_delivery(
            session, request.user, project_id, commitment_id, data.quantity, data.note, now
        )
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/participants",
        summary="Add a volunteer to the project (community managers)",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def add_participant(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: JSONBody[ParticipantCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.add_participant(session, request.user, project_id, data.user_id, now)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/participants/{participant_id:int}/hours",
        summary="Record a participant's hours so far (community managers)",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def record_hours(
        self,
        request: ActorRequest,
        project_id: PathId,
        participant_id: PathId,
        data: JSONBody[HoursRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.record_hours(session, request.user, project_id, participant_id, data.hours, now)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/responsibilities",
        summary="Add a responsibility to a draft or active project: a unit, team or person, due by "
        "the deadline (community managers)",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def add_responsibility(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: JSONBody[ResponsibilityCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.add_responsibility(session, request.user, project_id, data, now)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/responsibilities/{responsibility_id:int}",
        summary="Hand a responsibility to another unit, team or person, or move its due date "
        "(community managers)",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def change_responsibility(
        self,
        request: ActorRequest,
        project_id: PathId,
        responsibility_id: PathId,
        data: JSONBody[ResponsibilityChange],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.change_responsibility(session, request.user, project_id, responsibility_id, data, now)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/responsibilities/{responsibility_id:int}/done",
        summary="Mark a responsibility done (whoever holds it: the person, the unit's admins, the "
        "team's leader; or a community manager)",
        status_code=200,
    )
    async def responsibility_done(
        self,
        request: ActorRequest,
        project_id: PathId,
        responsibility_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.complete_responsibility(session, request.user, project_id, responsibility_id, now)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/close",
        summary="Close the project out now: outcome, releases, needs, points (once); a project with nothing "
        "to deliver or do needs a note",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def close(
        self,
        request: ActorRequest,
        project_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        data: JSONBody[CloseRequest | None] = None,
    ) -> ProjectRead:
        note = data.note if data is not None else ""
        await service.close(session, request.user, project_id, now, settings, note)
        return await service.project_read(session, project_id)

    @post(
        "/{project_id:int}/cancel",
        summary="Cancel a draft or active project: holds released, needs reopened, no points",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def cancel(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: JSONBody[CancelRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProjectRead:
        await service.cancel(session, request.user, project_id, data.reason, now)
        return await service.project_read(session, project_id)

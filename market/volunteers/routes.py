from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_manager
from market.fields import ID_MAX, PLAIN_TEXT, PathId, query_moment
from market.pagination import Limit, Offset, Page
from market.settings import Settings
from market.volunteers import service
from market.volunteers.schemas import PauseRequest, ProfileRead, ProfileWrite, VolunteerSummary


class VolunteerController(Controller):
    path = "/api/volunteers"
    tags = ["volunteers"]

    @get("/", summary="Volunteers serving your area, with their current load", guards=[requires_manager])
    async def list_volunteers(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        area_id: Annotated[
            int | None, QueryParameter(ge=1, le=ID_MAX, description="Only those serving this subtree")
        ] = None,
        skill: Annotated[
            str | None, QueryParameter(max_length=32, pattern=PLAIN_TEXT, description="Service category code")
        ] = None,
        free_from: query_moment("Free in this window (with free_until)") = None,
        free_until: query_moment("Free in this window (with free_from)") = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[VolunteerSummary]:
        items, total = await service.list_volunteers(
            session,
            request.user,
            settings.tz,
            area_id=area_id,
            skill=skill,
            free_from=free_from,
            free_until=free_until,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{user_id:int}/profile", summary="A volunteer's skills, availability, capacity and areas")
    async def get_profile(
        self,
        request: ActorRequest,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
    ) -> ProfileRead:
        return await service.get_profile(session, request.user, user_id)

    @put("/{user_id:int}/profile", summary="Replace a volunteer's profile (the volunteer or a manager)")
    async def put_profile(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: JSONBody[ProfileWrite],
        session: NamedDependency[AsyncSession],
    ) -> ProfileRead:
        return await service.put_profile(session, request.user, user_id, data)

    @put(
        "/{user_id:int}/pause",
        summary="Take no orders until a date, away or busy (the volunteer, or a manager of where they live)",
    )
    async def pause(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: JSONBody[PauseRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> ProfileRead:
        return await service.pause(session, request.user, user_id, data, now, settings.tz)

    @delete("/{user_id:int}/pause", summary="Take orders again", status_code=200)
    async def resume(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> ProfileRead:
        return await service.resume(session, request.user, user_id)

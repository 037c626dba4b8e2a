from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_community_manager
from market.fields import PathId, query_id
from market.pagination import Limit, Offset, Page
from market.teams import service
from market.teams.models import Speciality
from market.teams.schemas import MemberAdd, TeamCreate, TeamDetail, TeamRead, TeamUpdate


class TeamController(Controller):
    path = "/api/teams"
    tags = ["teams"]

    @post(
        "/",
        summary="Create a volunteer team in a community you manage",
        guards=[requires_community_manager],
    )
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[TeamCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> TeamDetail:
        team = await service.create_team(session, request.user, data, now)
        return await service.team_detail(session, team.id)

    @get("/", summary="Volunteer teams")
    async def list_teams(
        self,
        session: NamedDependency[AsyncSession],
        area_id: query_id("Teams of the communities inside this area, or of the community it lies in") = None,
        speciality: Annotated[Speciality | None, QueryParameter()] = None,
        member_id: query_id("Teams this volunteer belongs to") = None,
        active: Annotated[bool | None, QueryParameter(description="Only active (or inactive) teams")] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[TeamRead]:
        items, total = await service.list_teams(
            session,
            area_id=area_id,
            speciality=speciality,
            member_id=member_id,
            active=active,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{team_id:int}", summary="One team with its members and history")
    async def get_team(self, team_id: PathId, session: NamedDependency[AsyncSession]) -> TeamDetail:
        return await service.team_detail(session, team_id)

    @patch(
        "/{team_id:int}",
        summary="Edit a team, change its leader, (de)activate it (community managers)",
        guards=[requires_community_manager],
    )
    async def update(
        self,
        request: ActorRequest,
        team_id: PathId,
        data: JSONBody[TeamUpdate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> TeamDetail:
        await service.update_team(session, request.user, team_id, data, now)
        return await service.team_detail(session, team_id)

    @post(
        "/{team_id:int}/members",
        summary="Add a volunteer to the team (its leader or the community's managers)",
        status_code=200,
    )
    async def add_member(
        self,
        request: ActorRequest,
        team_id: PathId,
        data: JSONBody[MemberAdd],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> TeamDetail:
        await service.add_member(session, request.user, team_id, data.user_id, now)
        return await service.team_detail(session, team_id)

    @delete(
        "/{team_id:int}/members/{user_id:int}",
        summary="Remove a member (leader or managers), or leave the team yourself",
        status_code=200,
    )
    async def remove_member(
        self,
        request: ActorRequest,
        team_id: PathId,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> TeamDetail:
        await service.remove_member(session, request.user, team_id, user_id, now)
        return await service.team_detail(session, team_id)

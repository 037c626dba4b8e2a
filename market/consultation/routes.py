from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_community_manager
from market.auth.models import Role
from market.consultation import service
from market.consultation.models import ProposalStatus
from market.consultation.schemas import (
    CommunityNeedRead,
    ProposalApprove,
    ProposalCreate,
    ProposalRead,
    ProposalReject,
)
from market.fields import PathId, query_id
from market.pagination import Limit, Offset, Page

residents = requires(Role.resident)


class CommunityNeedController(Controller):
    path = "/api/community-needs"
    tags = ["needs"]

    @get(
        "/",
        summary="Your community's published needs with residents' support (residents)",
        guards=[residents],
    )
    async def list_needs(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[CommunityNeedRead]:
        items, total = await service.community_needs(session, request.user, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/{need_id:int}/support",
        summary="Support a need of your community, once (residents)",
        status_code=200,
        guards=[residents],
    )
    async def support(
        self,
        request: ActorRequest,
        need_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> CommunityNeedRead:
        need = await service.support(session, request.user, need_id, now)
        return (await service.community_need_reads(session, request.user, [need]))[0]


class ProposalController(Controller):
    path = "/api/need-proposals"
    tags = ["needs"]

    @post("/", summary="Propose a need for your community (residents)", guards=[residents])
    async def propose(
        self,
        request: ActorRequest,
        data: JSONBody[ProposalCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProposalRead:
        proposal = await service.propose(session, request.user, data, now)
        return (await service.proposal_reads(session, [proposal]))[0]

    @get(
        "/",
        summary="Proposals to review (community managers) or your own (residents); oldest first",
        guards=[requires(Role.resident, Role.community_manager, Role.street_admin)],
    )
    async def list_proposals(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: query_id("Only this community's proposals") = None,
        status: Annotated[ProposalStatus | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ProposalRead]:
        rows, total = await service.list_proposals(
            session, request.user, community_id=community_id, status=status, limit=limit, offset=offset
        )
        return Page(
            items=await service.proposal_reads(session, rows), total=total, limit=limit, offset=offset
        )

    @post(
        "/{proposal_id:int}/approve",
        summary="Publish a proposal as a need (community managers)",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def approve(
        self,
        request: ActorRequest,
        proposal_id: PathId,
        data: JSONBody[ProposalApprove],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProposalRead:
        proposal = await service.approve(session, request.user, proposal_id, data, now)
        return (await service.proposal_reads(session, [proposal]))[0]

    @post(
        "/{proposal_id:int}/reject",
        summary="Turn a proposal down with a reason (community managers)",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def reject(
        self,
        request: ActorRequest,
        proposal_id: PathId,
        data: JSONBody[ProposalReject],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ProposalRead:
        proposal = await service.reject(session, request.user, proposal_id, data.reason, now)
        return (await service.proposal_reads(session, [proposal]))[0]

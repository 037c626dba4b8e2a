from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_manager
from market.fields import ID_MAX, PathId
from market.followups import service
from market.followups.models import FollowUpReason
from market.followups.schemas import (
    FollowUpFilters,
    FollowUpRead,
    FollowUpState,
    OutcomeRequest,
    SamplingRead,
    SamplingWrite,
)
from market.pagination import Limit, Offset, Page


class FollowUpController(Controller):
    """Follow-ups (回访) after confirmed orders: grid workers and managers, inside their area."""

    path = "/api/followups"
    tags = ["followups"]
    guards = [requires_manager]

    @get("/", summary="Follow-ups in your area: open ones soonest due first")
    async def list_followups(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        status: Annotated[
            FollowUpState | None,
            QueryParameter(description="open, due (not yet late), overdue or done"),
        ] = None,
        reason: Annotated[FollowUpReason | None, QueryParameter()] = None,
        area_id: Annotated[
            int | None, QueryParameter(ge=1, le=ID_MAX, description="Only follow-ups inside this area")
        ] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[FollowUpRead]:
        filters = FollowUpFilters(state=status, reason=reason, area_id=area_id)
        items, total = await service.list_followups(session, request.user, filters, now, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{followup_id:int}", summary="One follow-up")
    async def get_followup(
        self,
        request: ActorRequest,
        followup_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> FollowUpRead:
        return await service.get_followup(session, request.user, followup_id, now)

    @post("/{followup_id:int}/outcome", summary="Record how the follow-up call went (once)", status_code=200)
    async def record_outcome(
        self,
        request: ActorRequest,
        followup_id: PathId,
        data: JSONBody[OutcomeRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> FollowUpRead:
        await service.record_outcome(session, request.user, followup_id, data, now)
        return await service.get_followup(session, request.user, followup_id, now)

    @get("/sampling/{community_id:int}", summary="The share of a community's confirmed orders followed up")
    async def get_sampling(
        self, request: ActorRequest, community_id: PathId, session: NamedDependency[AsyncSession]
    ) -> SamplingRead:
        return await service.get_sampling(session, request.user, community_id)

    @put(
        "/sampling/{community_id:int}",
        summary="Set the share of confirmed orders followed up, 0–100 percent (community managers)",
    )
    async def set_sampling(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: JSONBody[SamplingWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> SamplingRead:
        return await service.set_sampling(session, request.user, community_id, data, now)

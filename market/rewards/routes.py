from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires
from market.auth.models import MANAGER_ROLES, Role
from market.fields import PathId
from market.pagination import Limit, Offset, Page
from market.rewards import service
from market.rewards.models import RedemptionStatus
from market.rewards.schemas import FulfilRequest, RedeemRequest, RedemptionRead, RewardCreate, RewardRead
from market.settings import Settings


class RewardController(Controller):
    path = "/api/rewards"
    tags = ["rewards"]

    @post(
        "/",
        summary="Publish a reward (unit admins and managers)",
        guards=[requires(Role.unit_admin, *MANAGER_ROLES)],
    )
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[RewardCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> RewardRead:
        return service.reward_read(await service.create_reward(session, request.user, data, now))

    @get("/", summary="Rewards you may redeem, with stock left")
    async def list_rewards(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[RewardRead]:
        rewards, total = await service.list_rewards(session, request.user, now, limit, offset)
        return Page(items=[service.reward_read(r) for r in rewards], total=total, limit=limit, offset=offset)


class RedemptionController(Controller):
    path = "/api/redemptions"
    tags = ["rewards"]

    @post("/", summary="Redeem points: holds the points and the stock until pickup")
    async def redeem(
        self,
        request: ActorRequest,
        data: JSONBody[RedeemRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> RedemptionRead:
        redemption = await service.redeem(session, request.user, data, now, settings.tz)
        return await service.get_redemption(session, request.user, redemption.id)

    @get("/", summary="Your redemptions, or those you hand out")
    async def list_redemptions(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        status: Annotated[RedemptionStatus | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[RedemptionRead]:
        rows, total = await service.list_redemptions(session, request.user, status, limit, offset)
        return Page(
            items=await service.redemption_reads(session, request.user, rows),
            total=total,
            limit=limit,
            offset=offset,
        )

    @get("/{redemption_id:int}", summary="One redemption")
    async def get_redemption(
        self, request: ActorRequest, redemption_id: PathId, session: NamedDependency[AsyncSession]
    ) -> RedemptionRead:
        return await service.get_redemption(session, request.user, redemption_id)

    @post(
        "/{redemption_id:int}/fulfil", summary="Hand the reward out against its pickup code", status_code=200
    )
    async def fulfil(
        self,
        request: ActorRequest,
        redemption_id: PathId,
        data: JSONBody[FulfilRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> RedemptionRead:
        await service.fulfil(session, request.user, redemption_id, data.pickup_code, now, settings)
        return await service.get_redemption(session, request.user, redemption_id)

    @post(
        "/{redemption_id:int}/cancel", summary="Cancel: the points and the stock come back", status_code=200
    )
    async def cancel(
        self,
        request: ActorRequest,
        redemption_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> RedemptionRead:
        await service.cancel(session, request.user, redemption_id, now, settings.tz)
        return await service.get_redemption(session, request.user, redemption_id)

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_manager
from market.auth.models import Role
from market.dispatch import board, offers, service
from market.dispatch.schemas import (
    ApplyRequest,
    ApplyResult,
    AutoDispatchRead,
    AutoDispatchWrite,
    BoardItem,
    BoardSettingRead,
    BoardSettingWrite,
    DispatchRequest,
    OfferRead,
    PlanCreate,
    PlanListItem,
    PlanRead,
    SwapRequest,
)
from market.fields import ID_MAX, PathId
from market.orders import service as orders
from market.orders.models import OfferStatus
from market.orders.schemas import OrderDetail, ReasonRequest
from market.pagination import Limit, Offset, Page
from market.settings import Settings


class OrderDispatchController(Controller):
    """Offering an order by hand, at the order's own address."""

    path = "/api/orders"
    tags = ["orders"]

    @post(
        "/{order_id:int}/dispatch",
        summary="Offer the order to one volunteer or a pool",
        status_code=200,
        guards=[requires_manager],
    )
    async def dispatch(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: JSONBody[DispatchRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await offers.dispatch(session, request.user, order_id, data, now, settings)
        return await orders.get_order(session, request.user, order_id)


class OfferController(Controller):
    path = "/api/offers"
    tags = ["orders"]

    @get("/", summary="Your offers (volunteer)", guards=[requires(Role.volunteer)])
    async def list_offers(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        status: Annotated[OfferStatus | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[OfferRead]:
        items, total = await offers.list_offers(session, request.user, status, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/{offer_id:int}/accept",
        summary="Take the order; the first valid accept wins",
        status_code=200,
        guards=[requires(Role.volunteer)],
    )
    async def accept(
        self,
        request: ActorRequest,
        offer_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        order_id = await offers.accept_offer(session, request.user, offer_id, now)
        return await orders.get_order(session, request.user, order_id)

    @post(
        "/{offer_id:int}/decline",
        summary="Decline the offer",
        status_code=204,
        guards=[requires(Role.volunteer)],
    )
    async def decline(
        self,
        request: ActorRequest,
        offer_id: PathId,
        data: JSONBody[ReasonRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> None:
        await service.decline_offer(session, request.user, offer_id, data.reason, now, settings)


class DispatchController(Controller):
    path = "/api/dispatch"
    tags = ["dispatch"]

    @post(
        "/plans",
        summary="Plan who should take the area's waiting orders (grid workers, managers)",
        guards=[requires_manager],
    )
    async def create_plan(
        self,
        request: ActorRequest,
        data: JSONBody[PlanCreate],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> PlanRead:
        plan = await service.create_plan(session, request.user, data.area_id, data.order_ids, now, settings)
        return await service.plan_read(session, plan)

    @get("/plans", summary="Plans made in your area, newest first", guards=[requires_manager])
    async def list_plans(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        area_id: Annotated[
            int | None, QueryParameter(ge=1, le=ID_MAX, description="Only plans inside this area")
        ] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[PlanListItem]:
        items, total = await service.list_plans(session, request.user, area_id, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get(
        "/plans/{plan_id:int}",
        summary="A plan: proposed pairs with their costs, orders left and why",
        guards=[requires_manager],
    )
    async def get_plan(
        self, request: ActorRequest, plan_id: PathId, session: NamedDependency[AsyncSession]
    ) -> PlanRead:
        return await service.get_plan(session, request.user, plan_id)

    @post(
        "/plans/{plan_id:int}/apply",
        summary="Offer the chosen pairs (default: every pair left), re-checking each; the rest stay",
        status_code=200,
        guards=[requires_manager],
    )
    async def apply_plan(
        self,
        request: ActorRequest,
        plan_id: PathId,
        data: JSONBody[ApplyRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> ApplyResult:
        offered, skipped = await service.apply_plan(
            session, request.user, plan_id, data.pair_ids, now, settings
        )
        return ApplyResult(
            offered=offered, skipped=skipped, plan=await service.get_plan(session, request.user, plan_id)
        )

    @post(
        "/plans/{plan_id:int}/pairs/{pair_id:int}/swap",
        summary="Propose another eligible volunteer for a pair not yet applied (grid workers, managers)",
        status_code=200,
        guards=[requires_manager],
    )
    async def swap_volunteer(
        self,
        request: ActorRequest,
        plan_id: PathId,
        pair_id: PathId,
        data: JSONBody[SwapRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> PlanRead:
        await service.swap_volunteer(
            session, request.user, plan_id, pair_id, data.volunteer_id, now, settings
        )
        return await service.get_plan(session, request.user, plan_id)

    @get(
        "/auto/{community_id:int}",
        summary="Whether the community's waiting orders are dispatched automatically",
        guards=[requires_manager],
    )
    async def get_auto(
        self, request: ActorRequest, community_id: PathId, session: NamedDependency[AsyncSession]
    ) -> AutoDispatchRead:
        return await service.get_auto_dispatch(session, request.user, community_id)

    @put(
        "/auto/{community_id:int}",
        summary="Turn auto-dispatch on or off (community managers)",
        guards=[requires_manager],
    )
    async def set_auto(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: JSONBody[AutoDispatchWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> AutoDispatchRead:
        return await service.set_auto_dispatch(session, request.user, community_id, data.enabled, now)

    @get(
        "/board/{community_id:int}",
        summary="When the community's new orders go to the open board",
        guards=[requires_manager],
    )
    async def get_board_setting(
        self, request: ActorRequest, community_id: PathId, session: NamedDependency[AsyncSession]
    ) -> BoardSettingRead:
        return await board.get_setting(session, request.user, community_id)

    @put(
        "/board/{community_id:int}",
        summary="Put new orders on the open board at once, after some minutes, or never (community managers)",
        guards=[requires_manager],
    )
    async def set_board_setting(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: JSONBody[BoardSettingWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> BoardSettingRead:
        return await board.set_setting(session, request.user, community_id, data, now)


class BoardController(Controller):
    """The open board: waiting orders a volunteer may claim themselves."""

    path = "/api/board"
    tags = ["dispatch"]

    @get(
        "/",
        summary="Open orders you may take, nearest and most urgent first (volunteer)",
        guards=[requires(Role.volunteer)],
    )
    async def list_board(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[BoardItem]:
        items, total = await board.list_board(session, request.user, now, settings, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/{order_id:int}/claim",
        summary="Take an open order; the first claim, accept or offer wins",
        status_code=200,
        guards=[requires(Role.volunteer)],
    )
    async def claim(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        order = await board.claim(session, request.user, order_id, now, settings)
        return await orders.get_order(session, request.user, order.id)

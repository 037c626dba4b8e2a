from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_manager
from market.auth.models import Role
from market.fields import ID_MAX, PLAIN_TEXT, PathId, query_day
from market.orders import service
from market.orders.models import OrderStatus
from market.orders.schemas import (
    ConfirmRequest,
    NoteRequest,
    OrderCreate,
    OrderDetail,
    OrderEntry,
    OrderFilters,
    OrderRead,
    ReasonRequest,
    ReopenRequest,
    ServiceRewardRead,
)
from market.pagination import Limit, Offset, Page
from market.settings import Settings


class OrderController(Controller):
    path = "/api/orders"
    tags = ["orders"]

    @post("/", summary="Post an order (resident)", guards=[requires(Role.resident)])
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[OrderCreate],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        order_id = await service.create_order(
            session, request.user, data, now, max_open=settings.open_orders_per_resident
        )
        return await service.get_order(session, request.user, order_id)

    @post(
        "/for-resident",
        summary="Enter an order for a resident of your area who phoned, walked in or was met on a round"
        " (grid worker or manager)",
        guards=[requires_manager],
    )
    async def enter(
        self,
        request: ActorRequest,
        data: JSONBody[OrderEntry],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        order_id = await service.enter_order(
            session, request.user, data, now, max_open=settings.open_orders_per_resident
        )
        return await service.get_order(session, request.user, order_id)

    @get("/", summary="Orders you may see: your own, offered to you, or in your area")
    async def list_orders(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        status: Annotated[OrderStatus | None, QueryParameter()] = None,
        category: Annotated[str | None, QueryParameter(max_length=32, pattern=PLAIN_TEXT)] = None,
        area_id: Annotated[
            int | None, QueryParameter(ge=1, le=ID_MAX, description="Only orders inside this area")
        ] = None,
        date_from: query_day("Service window starts on or after") = None,
        date_to: query_day("Service window starts on or before") = None,
        escalated: Annotated[
            bool | None, QueryParameter(description="true: only escalated orders; false: only the others")
        ] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[OrderRead]:
        filters = OrderFilters(
            status=status,
            category=category,
            area_id=area_id,
            date_from=date_from,
            date_to=date_to,
            escalated=escalated,
        )
        items, total = await service.list_orders(session, request.user, settings.tz, filters, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{order_id:int}", summary="One order with its full history")
    async def get_order(
        self, request: ActorRequest, order_id: PathId, session: NamedDependency[AsyncSession]
    ) -> OrderDetail:
        return await service.get_order(session, request.user, order_id)

    @post("/{order_id:int}/check-in", summary="Start the service (assigned volunteer)", status_code=200)
    async def check_in(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.check_in(session, request.user, order_id, now)
        return await service.get_order(session, request.user, order_id)

    @post(
        "/{order_id:int}/check-out",
        summary="Record the end of the service (assigned volunteer)",
        status_code=200,
    )
    async def check_out(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.check_out(session, request.user, order_id, now)
        return await service.get_order(session, request.user, order_id)

    @post("/{order_id:int}/complete", summary="Mark the service done (assigned volunteer)", status_code=200)
    async def complete(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: JSONBody[NoteRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.complete(session, request.user, order_id, data.note, now)
        return await service.get_order(session, request.user, order_id)

    @post(
        "/{order_id:int}/hurry",
        summary="Hurry the order along: its grid worker is told (resident, once per few hours)",
        status_code=200,
        guards=[requires(Role.resident)],
    )
    async def hurry(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.hurry(session, request.user, order_id, now)
        return await service.get_order(session, request.user, order_id)

    @get(
        "/service-rewards",
        summary="My rewards for orders I served, each with hours counted, rate and caps (volunteer)",
        guards=[requires(Role.volunteer)],
    )
    async def service_rewards(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ServiceRewardRead]:
        items, total = await service.list_service_rewards(session, request.user, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/{order_id:int}/confirm", summary="Confirm and rate the service (resident)", status_code=200)
    async def confirm(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: JSONBody[ConfirmRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.confirm(session, request.user, order_id, data, now, settings.tz)
        return await service.get_order(session, request.user, order_id)

    @post(
        "/{order_id:int}/cancel",
        summary="Cancel before service starts (resident or manager)",
        status_code=200,
    )
    async def cancel(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: JSONBody[ReasonRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.cancel(session, request.user, order_id, data.reason, now)
        return await service.get_order(session, request.user, order_id)

    @post(
        "/{order_id:int}/reject",
        summary="Reject the order (manager)",
        status_code=200,
        guards=[requires_manager],
    )
    async def reject(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: JSONBody[ReasonRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.reject(session, request.user, order_id, data.reason, now)
        return await service.get_order(session, request.user, order_id)

    @post(
        "/{order_id:int}/reopen",
        summary="Reopen a confirmed order within 7 days, with a reason and a new time window (resident)",
        status_code=200,
    )
    async def reopen(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: JSONBody[ReopenRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> OrderDetail:
        await service.reopen(
            session, request.user, order_id, data, now, max_open=settings.open_orders_per_resident
        )
        return await service.get_order(session, request.user, order_id)

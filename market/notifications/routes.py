from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest
from market.fields import PathId
from market.notifications import service
from market.notifications.schemas import Inbox, NotificationRead, ReadAllResult
from market.pagination import Limit, Offset


class NotificationController(Controller):
    path = "/api/notifications"
    tags = ["notifications"]

    @get("/", summary="Your inbox, newest first")
    async def list_notifications(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        unread: Annotated[bool, QueryParameter(description="Only messages not read yet")] = False,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Inbox:
        items, total, unread_count = await service.list_notifications(
            session, request.user, unread, limit, offset
        )
        return Inbox(items=items, total=total, unread=unread_count, limit=limit, offset=offset)

    @post("/{notification_id:int}/read", summary="Mark one message read", status_code=200)
    async def mark_read(
        self,
        request: ActorRequest,
        notification_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> NotificationRead:
        return await service.mark_read(session, request.user, notification_id, now)

    @post("/read-all", summary="Mark every message read", status_code=200)
    async def mark_all_read(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], now: NamedDependency[datetime]
    ) -> ReadAllResult:
        return ReadAllResult(marked=await service.mark_all_read(session, request.user, now))

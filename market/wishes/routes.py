from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires
from market.auth.models import Role
from market.fields import PathId, query_id
from market.pagination import Limit, Offset, Page
from market.settings import Settings
from market.wishes import service
from market.wishes.models import WishStatus
from market.wishes.schemas import ClaimRequest, NoteRequest, WishCreate, WishDetail, WishRead


class WishController(Controller):
    path = "/api/wishes"
    tags = ["wishes"]

    @post(
        "/", summary="Post a micro-wish on your community's wall (resident)", guards=[requires(Role.resident)]
    )
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[WishCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> WishDetail:
        wish = await service.create_wish(session, request.user, data, now)
        return await service.get_wish(session, request.user, wish.id)

    @get("/", summary="A community's wall: wishes with the resident masked for all but those involved")
    async def list_wishes(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: query_id("Only this community's wishes") = None,
        status: Annotated[WishStatus | None, QueryParameter()] = None,
        posted_by_me: Annotated[bool, QueryParameter(description="Only wishes you posted")] = False,
        claimed_by_me: Annotated[bool, QueryParameter(description="Only wishes you claimed")] = False,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[WishRead]:
        items, total = await service.list_wishes(
            session,
            request.user,
            community_id=community_id,
            status=status,
            posted_by_me=posted_by_me,
            claimed_by_me=claimed_by_me,
            limit=limit,
            offset=offset,
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{wish_id:int}", summary="One wish with its history")
    async def get_wish(
        self, request: ActorRequest, wish_id: PathId, session: NamedDependency[AsyncSession]
    ) -> WishDetail:
        return await service.get_wish(session, request.user, wish_id)

    @post(
        "/{wish_id:int}/claim",
        summary="Claim an open wish, as a volunteer or for your unit; the first claim wins",
        status_code=200,
        guards=[requires(Role.volunteer, Role.unit_admin)],
    )
    async def claim(
        self,
        request: ActorRequest,
        wish_id: PathId,
        data: JSONBody[ClaimRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> WishDetail:
        await service.claim(session, request.user, wish_id, data.claimer_kind, data.note, now)
        return await service.get_wish(session, request.user, wish_id)

    @post(
        "/{wish_id:int}/release",
        summary="Give a claimed wish back to the wall (the claimer or a manager)",
        status_code=200,
    )
    async def release(
        self,
        request: ActorRequest,
        wish_id: PathId,
        data: JSONBody[NoteRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> WishDetail:
        await service.release(session, request.user, wish_id, data.note, now)
        return await service.get_wish(session, request.user, wish_id)

    @post("/{wish_id:int}/fulfil", summary="Mark the wish fulfilled (the claimer)", status_code=200)
    async def fulfil(
        self,
        request: ActorRequest,
        wish_id: PathId,
        data: JSONBody[NoteRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> WishDetail:
        await service.fulfil(session, request.user, wish_id, data.note, now)
        return await service.get_wish(session, request.user, wish_id)

    @post(
        "/{wish_id:int}/confirm",
        summary="Confirm the wish was fulfilled (the resident); a volunteer earns wish points once",
        status_code=200,
    )
    async def confirm(
        self,
        request: ActorRequest,
        wish_id: PathId,
        data: JSONBody[NoteRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> WishDetail:
        await service.confirm(
            session, request.user, wish_id, data.note, now, settings.tz, settings.wish_points
        )
        return await service.get_wish(session, request.user, wish_id)

    @post(
        "/{wish_id:int}/withdraw",
        summary="Take an open or claimed wish down (the resident or a manager)",
        status_code=200,
    )
    async def withdraw(
        self,
        request: ActorRequest,
        wish_id: PathId,
        data: JSONBody[NoteRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> WishDetail:
        await service.withdraw(session, request.user, wish_id, data.note, now)
        return await service.get_wish(session, request.user, wish_id)

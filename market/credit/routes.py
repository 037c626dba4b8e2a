from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.auth.access import ActorRequest, requires_manager
from market.credit import service
from market.credit.schemas import CompactEntryWrite, CreditEntryRead, CreditRecord, RollRow
from market.fields import ID_MAX, PathId
from market.pagination import Limit, Offset
from market.settings import Settings

ROLL_COLUMNS = ("name", "phone", "points", "points_this_month", "entries")


class CreditController(Controller):
    """信用积分: residents' credit for taking part in community life, never redeemable."""

    path = "/api/credit"
    tags = ["credit"]

    @get("/me", summary="Your credit record: balance and entries, latest first")
    async def my_credit(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> CreditRecord:
        return await service.credit_record(session, request.user, limit, offset)

    @post(
        "/compact/{user_id:int}",
        summary="Credit a resident for keeping the residents' compact (capped per month)",
        guards=[requires_manager],
    )
    async def enter_compact(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: JSONBody[CompactEntryWrite],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> CreditEntryRead:
        return await service.enter_compact(session, request.user, user_id, data, now, settings.tz)

    @get(
        "/roll",
        summary="The community's credit roll, most points first; ?format=xlsx",
        guards=[requires_manager],
        responses=exports.json_or_download(list[RollRow]),
    )
    async def roll(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        format: Annotated[Literal["json", "xlsx"], QueryParameter()] = "json",
    ) -> list[RollRow] | Stream:
        rows = await service.credit_roll(session, request.user, community_id, now, settings.tz)
        if format == "xlsx":
            cells = [[r.name, r.phone, r.points, r.points_this_month, r.entries] for r in rows]
            return exports.download(
                "xlsx", "credit-roll", ROLL_COLUMNS, exports.one_batch(cells), sheet="credit"
            )
        return rows

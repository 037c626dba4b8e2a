from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_manager
from market.fields import query_id
from market.reports import service
from market.reports.schemas import ReportSummary
from market.settings import Settings

Months = Annotated[
    int, QueryParameter(ge=1, le=service.MAX_MONTHS, description="How many months back, this one included")
]


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get(
        "/summary",
        summary="Points issued and redeemed per month, orders by status and category, timings, ratings",
        guards=[requires_manager],
    )
    async def summary(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        area_id: query_id("Inside this area (default: your own)") = None,
        months: Months = 12,
    ) -> ReportSummary:
        return await service.summary(session, request.user, area_id, months, now, settings.tz)

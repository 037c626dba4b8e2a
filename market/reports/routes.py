from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.areas.models import AreaLevel
from market.auth.access import ActorRequest, requires_manager
from market.fields import query_id
from market.pagination import Limit, Offset
from market.reports import service
from market.reports.schemas import AreaPerformance, AreaPerformancePage, FollowUpCounts, ReportSummary
from market.settings import Settings

Months = Annotated[
    int, QueryParameter(ge=1, le=service.MAX_MONTHS, description="How many months back, this one included")
]
Month = Annotated[
    str | None,
    QueryParameter(pattern=service.MONTH_PATTERN, description="A local month, 2026-06 (default: this one)"),
]
ComparedLevel = Annotated[
    Literal["grid", "community"], QueryParameter(description="Compare the grids, or the communities")
]


FOLLOWUP_FIGURES = FollowUpCounts.__struct_fields__


def performance_columns(rows: list[AreaPerformance]) -> list[str]:
    """The download's header: the figures of `AreaPerformance`, a pair of columns per deadline."""
    deadlines = [f"{d.step}_within_{d.within_minutes}_min" for d in rows[0].on_time] if rows else []
    return [
        "rank",
        "area_code",
        "area_name",
        "received",
        "handled",
        "resolution_rate",
        *(f"{d}_{figure}" for d in deadlines for figure in ("due", "met", "rate")),
        "median_minutes_to_accept",
        "median_minutes_to_finish",
        "rated",
        "mean_rating",
        "good_rating_share",
        "complaints",
        *(f"followups_{figure}" for figure in FOLLOWUP_FIGURES),
        "reported_by_informants",
    ]


def performance_cells(row: AreaPerformance) -> list[object]:
    return [
        row.rank,
        row.area_code,
        row.area_name,
        row.received,
        row.handled,
        row.resolution_rate,
        *(figure for d in row.on_time for figure in (d.due, d.met, d.rate)),
        row.median_minutes_to_accept,
        row.median_minutes_to_finish,
        row.rated,
        row.mean_rating,
        row.good_rating_share,
        row.complaints,
        *(getattr(row.followups, figure) for figure in FOLLOWUP_FIGURES),
        row.reported_by_informants,
    ]


def summary_sheets(report: ReportSummary) -> list[exports.Sheet]:
    """Each table of the summary as a sheet of its own."""
    timings, ratings = report.timings, report.satisfaction.ratings
    tables = [
        ("points", ["month", "issued", "redeemed"], [[p.month, p.issued, p.redeemed] for p in report.points]),
        ("statuses", ["status", "orders"], [[str(s.status), s.count] for s in report.orders_by_status]),
        (
            "categories",
            ["code", "name_zh", "name_en", "orders"],
            [[c.code, c.name_zh, c.name_en, c.count] for c in report.orders_by_category],
        ),
        (
            "timings",
            ["what", "median_minutes", "orders"],
            [
                ["to_accept", timings.median_minutes_to_accept, timings.accepted],
                ["to_finish", timings.median_minutes_to_finish, timings.finished],
            ],
        ),
        ("ratings", ["rating", "ratings"], [[r.rating, r.count] for r in ratings]),
    ]
    return [exports.Sheet(name, columns, exports.one_batch(rows)) for name, columns, rows in tables]


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get(
        "/summary",
        summary="Points issued and redeemed per month, orders by status and category, timings, ratings;"
        " ?format=xlsx to download its tables",
        guards=[requires_manager],
        responses=exports.json_or_download(ReportSummary),
    )
    async def summary(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        area_id: query_id("Inside this area (default: your own)") = None,
        months: Months = 12,
        format: Annotated[Literal["json", "xlsx"], QueryParameter()] = "json",
    ) -> ReportSummary | Stream:
        report = await service.summary(session, request.user, area_id, months, now, settings.tz)
        if format == "xlsx":
            name = f"report-{months}-months-to-{service.month_of(now, settings.tz)}"
            return exports.workbook(name, summary_sheets(report))
        return report

    @get(
        "/areas",
        summary="How each grid (or community) is doing in a month, ranked; ?format=csv or xlsx to download",
        guards=[requires_manager],
        responses=exports.json_or_download(AreaPerformancePage),
    )
    async def areas(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        area_id: query_id("Inside this area (default: your own)") = None,
        level: ComparedLevel = AreaLevel.grid,
        month: Month = None,
        format: Annotated[Literal["json", "csv", "xlsx"], QueryParameter()] = "json",
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> AreaPerformancePage | Stream:
        month = month or service.month_of(now, settings.tz)
        area, rows = await service.area_performance(
            session, request.user, area_id, AreaLevel(level), month, now, settings
        )
        if format != "json":
            # Every area, not a page.
            return exports.download(
                format,
                f"{level}-performance-{month}",
                performance_columns(rows),
                exports.one_batch([performance_cells(row) for row in rows]),
                sheet=month,
            )
        return AreaPerformancePage(
            month=month,
            level=level,
            area_id=area.id if area else None,
            items=rows[offset : offset + limit],
            total=len(rows),
            limit=limit,
            offset=offset,
        )

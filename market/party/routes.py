from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.auth.access import ActorRequest
from market.fields import ID_MAX, PathId, query_text
from market.pagination import Limit, Offset, Page
from market.party import service
from market.party.models import ReportStatus
from market.party.schemas import (
    DecisionRequest,
    EvaluationRead,
    EvaluationWrite,
    MemberRead,
    ReportRequest,
    StreetRead,
    ThresholdWrite,
    YearRead,
)
from market.settings import Settings

YearPath = Annotated[int, PathParameter(ge=2000, le=2099)]
Download = Annotated[Literal["json", "xlsx"], QueryParameter()]
MEMBER_COLUMNS = ("name", "phone", "employer", "contact_name", "contact_phone", "status", "reported_at")
YEAR_COLUMNS = (
    "community", "name", "employer", "hours", "orders_served", "wishes_claimed", "projects_joined",
    "ratings", "rating_average", "grade", "comment", "commended",
)  # fmt: skip


def member_cells(m: MemberRead) -> list[object]:
    return [
        m.name,
        m.phone,
        m.employer,
        m.contact_name,
        m.contact_phone,
        str(m.status),
        m.reported_at.isoformat(),
    ]


def year_cells(year: YearRead) -> list[list[object]]:
    return [
        [
            year.community_name,
            r.member.name,
            r.member.employer,
            r.activity.hours,
            r.activity.orders_served,
            r.activity.wishes_claimed,
            r.activity.projects_joined,
            r.activity.ratings,
            r.activity.rating_average,
            str(r.evaluation.grade) if r.evaluation else "",
            r.evaluation.comment if r.evaluation else "",
            r.commended,
        ]
        for r in year.rows
    ]


class PartyController(Controller):
    """双报到: in-service party members report in to their community; its managers confirm them and
    evaluate each member's year."""

    path = "/api/party"
    tags = ["party"]

    @post("/report", summary="Report in to your home community as an in-service party member")
    async def report_in(
        self,
        request: ActorRequest,
        data: JSONBody[ReportRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> MemberRead:
        return await service.report_in(session, request.user, data, now)

    @get("/report", summary="Your report to your community (null: none)")
    async def my_report(
        self, request: ActorRequest, session: NamedDependency[AsyncSession]
    ) -> MemberRead | None:
        return await service.my_report(session, request.user)

    @get(
        "/members",
        summary="Who reported in to the community (its managers); ?format=xlsx to download",
        responses=exports.json_or_download(Page[MemberRead]),
    )
    async def list_members(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        status: Annotated[ReportStatus | None, QueryParameter()] = None,
        q: query_text(50, "Name or employer") = "",
        format: Download = "json",
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[MemberRead] | Stream:
        if format == "xlsx":
            items, _ = await service.list_members(
                session, request.user, community_id, status, q or "", None, 0
            )
            rows = [member_cells(m) for m in items]
            return exports.download(
                "xlsx", "party-members", MEMBER_COLUMNS, exports.one_batch(rows), sheet="members"
            )
        items, total = await service.list_members(
            session, request.user, community_id, status, q or "", limit, offset
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post("/members/{member_id:int}/decision", summary="Confirm or decline a report", status_code=200)
    async def decide(
        self,
        request: ActorRequest,
        member_id: PathId,
        data: JSONBody[DecisionRequest],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> MemberRead:
        return await service.decide(session, request.user, member_id, data, now)

    @put(
        "/members/{member_id:int}/evaluations/{year:int}",
        summary="The community's comment and grade of a year",
    )
    async def evaluate(
        self,
        request: ActorRequest,
        member_id: PathId,
        year: YearPath,
        data: JSONBody[EvaluationWrite],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> EvaluationRead:
        return await service.evaluate(session, request.user, member_id, year, data, now, settings.tz)

    @put("/thresholds/{community_id:int}", summary="Hours in a year above which a member is commended")
    async def set_threshold(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: JSONBody[ThresholdWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ThresholdWrite:
        return ThresholdWrite(await service.set_threshold(session, request.user, community_id, data, now))

    @get(
        "/years/{year:int}",
        summary="The community's members in a year: activity, evaluation, commendation; ?format=xlsx",
        responses=exports.json_or_download(YearRead),
    )
    async def year_of(
        self,
        request: ActorRequest,
        year: YearPath,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        format: Download = "json",
    ) -> YearRead | Stream:
        found = await service.year_of(session, request.user, community_id, year, settings.tz)
        if format == "xlsx":
            rows = year_cells(found)
            return exports.download(
                "xlsx", f"party-{year}", YEAR_COLUMNS, exports.one_batch(rows), sheet=str(year)
            )
        return found

    @get(
        "/street/{year:int}",
        summary="The list for the street: every community's members and evaluations; ?format=xlsx",
        responses=exports.json_or_download(StreetRead),
    )
    async def street_list(
        self,
        request: ActorRequest,
        year: YearPath,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        street_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        format: Download = "json",
    ) -> StreetRead | Stream:
        found = await service.street_list(session, request.user, street_id, year, settings.tz)
        if format == "xlsx":
            rows = [row for y in found.communities for row in year_cells(y)]
            return exports.download(
                "xlsx", f"party-street-{year}", YEAR_COLUMNS, exports.one_batch(rows), sheet=str(year)
            )
        return found

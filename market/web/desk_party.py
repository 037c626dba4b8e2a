"""Pages: 双报到 for a community's managers (/desk/party). Who has reported in (filter, confirm or
decline, Excel); the year (/desk/party/year): each member's activity, the community's comment and
grade, the threshold for commendation, the letters to employers and commendation letters (PDF) and
the year's list (Excel); the street's list (/desk/party/street) for the street's admins."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.areas.models import Area, AreaLevel
from market.areas.service import managed_areas
from market.auth.access import ActorRequest, requires_community_manager
from market.fields import ID_MAX, PathId, query_text
from market.pagination import Offset
from market.party import service as party
from market.party.letters import commendation_letters, employer_letters
from market.party.models import Grade, ReportStatus
from market.party.routes import MEMBER_COLUMNS, YEAR_COLUMNS, member_cells, year_cells
from market.party.schemas import DecisionRequest, EvaluationWrite, ThresholdWrite
from market.settings import Settings
from market.web.i18n import lang_of, translate
from market.web.pages import Form, FormData, form_int, handling, page, parse, see_other, url, word_options

HOME = "/desk/party"
MEMBERS_PAGE = "desk/party_members.html"
YEAR_PAGE = "desk/party_year.html"
STREET_PAGE = "desk/party_street.html"
LIMIT = 20
CommunityQuery = Annotated[int | None, QueryParameter(ge=1, le=ID_MAX)]
YearQuery = Annotated[int | None, QueryParameter(ge=2000, le=2099)]
StatusQuery = Annotated[str | None, QueryParameter(pattern="^(" + "|".join(ReportStatus) + ")?$")]


async def _communities(session: AsyncSession, request: ActorRequest) -> list[Area]:
    return await managed_areas(session, request.user, (AreaLevel.community,))


async def _community_id(session: AsyncSession, request: ActorRequest, chosen: int | None) -> int | None:
    """The community asked for, else the manager's own, else the first they manage."""
    if chosen:
        return chosen
    communities = await _communities(session, request)
    own = [c.id for c in communities if c.id == request.user.area_id]
    return (own or [c.id for c in communities] or [None])[0]


def _this_year(now: datetime, settings: Settings) -> int:
    return now.astimezone(settings.tz).year


class PartyDesk(Controller):
    path = HOME
    guards = [requires_community_manager]
    include_in_schema = False

    async def _members_context(
        self,
        request: ActorRequest,
        session: AsyncSession,
        community_id: int | None,
        status: str | None,
        q: str,
        offset: int,
    ) -> dict[str, Any]:
        community_id = await _community_id(session, request, community_id)
        items, total = [], 0
        if community_id is not None:
            chosen = ReportStatus(status) if status else None
            items, total = await party.list_members(
                session, request.user, community_id, chosen, q, LIMIT, offset
            )
        query = {"community_id": community_id, "status": status, "q": q or None}
        return {
            "communities": [(c.id, c.name) for c in await _communities(session, request)],
            "community_id": community_id,
            "items": items,
            "total": total,
            "limit": LIMIT,
            "offset": offset,
            "query": query,
            "filter_form": Form({"status": status or "", "q": q}),
            "status_options": word_options(lang_of(request), "report_status", ReportStatus),
        }

    @get("/")
    async def members(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: CommunityQuery = None,
        status: StatusQuery = None,
        q: query_text(50) = None,
        offset: Offset = 0,
    ) -> Template:
        context = await self._members_context(request, session, community_id, status, q or "", offset)
        return page(request, MEMBERS_PAGE, form=Form(), **context)

    @get("/members.xlsx")
    async def members_download(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        status: StatusQuery = None,
        q: query_text(50) = None,
    ) -> Stream:
        chosen = ReportStatus(status) if status else None
        items, _ = await party.list_members(session, request.user, community_id, chosen, q or "", None, 0)
        rows = [member_cells(m) for m in items]
        return exports.download(
            "xlsx", "party-members", MEMBER_COLUMNS, exports.one_batch(rows), sheet="members"
        )

    @post("/{member_id:int}/decision")
    async def decide(
        self,
        request: ActorRequest,
        member_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        community_id = form_int(form, "community_id", le=2**31)

        async def shown_again() -> dict[str, Any]:
            return await self._members_context(request, session, community_id, None, "", 0)

        async with handling(session, form, MEMBERS_PAGE, shown_again, shown=("reason",)):
            body = parse(form, DecisionRequest, settings.tz)
            await party.decide(session, request.user, member_id, body, now)
        notice = "party_confirmed" if body.confirm else "party_declined"
        return see_other(url(HOME, community_id=community_id), notice=notice)

    # ---------------------------------------------------------------- the year

    async def _year_context(
        self, request: ActorRequest, session: AsyncSession, community_id: int | None, year: int
    ) -> dict[str, Any]:
        community_id = await _community_id(session, request, community_id)
        settings: Settings = request.app.state.settings
        found = (
            await party.year_of(session, request.user, community_id, year, settings.tz)
            if community_id
            else None
        )
        return {
            "communities": [(c.id, c.name) for c in await _communities(session, request)],
            "community_id": community_id,
            "year": year,
            "found": found,
            "grade_options": word_options(lang_of(request), "party_grade", Grade),
        }

    @get("/year")
    async def year_page(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        community_id: CommunityQuery = None,
        year: YearQuery = None,
    ) -> Template:
        context = await self._year_context(request, session, community_id, year or _this_year(now, settings))
        return page(request, YEAR_PAGE, form=Form(), **context)

    @post("/{member_id:int}/evaluation")
    async def evaluate(
        self,
        request: ActorRequest,
        member_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        community_id = form_int(form, "community_id", le=2**31)
        year = form_int(form, "year", le=2099) or _this_year(now, settings)

        async def shown_again() -> dict[str, Any]:
            return await self._year_context(request, session, community_id, year)

        async with handling(session, form, YEAR_PAGE, shown_again, shown=("grade", "comment")):
            body = parse(form, EvaluationWrite, settings.tz)
            await party.evaluate(session, request.user, member_id, year, body, now, settings.tz)
        return see_other(url(f"{HOME}/year", community_id=community_id, year=year), notice="party_evaluated")

    @post("/threshold")
    async def set_threshold(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        community_id = form_int(form, "community_id", le=2**31)
        year = form_int(form, "year", le=2099) or _this_year(now, settings)

        async def shown_again() -> dict[str, Any]:
            return await self._year_context(request, session, community_id, year)

        async with handling(session, form, YEAR_PAGE, shown_again, shown=("hours",)):
            body = parse(form, ThresholdWrite, settings.tz)
            await party.set_threshold(session, request.user, community_id or 0, body, now)
        return see_other(
            url(f"{HOME}/year", community_id=community_id, year=year), notice="party_threshold_saved"
        )

    async def _year_read(self, request: ActorRequest, session: AsyncSession, community_id: int, year: int):
        settings: Settings = request.app.state.settings
        return await party.year_of(session, request.user, community_id, year, settings.tz)

    @get("/letters.pdf")
    async def letters(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        settings: NamedDependency[Settings],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        year: Annotated[int, QueryParameter(ge=2000, le=2099)],
    ) -> Response[bytes]:
        found = await self._year_read(request, session, community_id, year)
        say = partial(translate, lang_of(request))
        content = employer_letters(say, found, now, now.astimezone(settings.tz).date().isoformat())
        return exports.pdf_download(content, f"party-letters-{year}")

    @get("/commendations.pdf")
    async def commendations(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        settings: NamedDependency[Settings],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        year: Annotated[int, QueryParameter(ge=2000, le=2099)],
    ) -> Response[bytes]:
        found = await self._year_read(request, session, community_id, year)
        say = partial(translate, lang_of(request))
        content = commendation_letters(say, found, now, now.astimezone(settings.tz).date().isoformat())
        return exports.pdf_download(content, f"party-commendations-{year}")

    @get("/year.xlsx")
    async def year_download(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
        year: Annotated[int, QueryParameter(ge=2000, le=2099)],
    ) -> Stream:
        found = await self._year_read(request, session, community_id, year)
        rows = year_cells(found)
        return exports.download(
            "xlsx", f"party-{year}", YEAR_COLUMNS, exports.one_batch(rows), sheet=str(year)
        )

    # ---------------------------------------------------------------- the street's list

    async def _street(self, request: ActorRequest, session: AsyncSession, year: int):
        settings: Settings = request.app.state.settings
        streets = await managed_areas(session, request.user, (AreaLevel.street,))
        return [
            y
            for s in streets
            for y in (await party.street_list(session, request.user, s.id, year, settings.tz)).communities
        ]

    @get("/street")
    async def street(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: YearQuery = None,
    ) -> Template:
        year = year or _this_year(now, settings)
        return page(request, STREET_PAGE, year=year, years=await self._street(request, session, year))

    @get("/street.xlsx")
    async def street_download(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        year: Annotated[int, QueryParameter(ge=2000, le=2099)],
    ) -> Stream:
        rows = [row for y in await self._street(request, session, year) for row in year_cells(y)]
        return exports.download(
            "xlsx", f"party-street-{year}", YEAR_COLUMNS, exports.one_batch(rows), sheet=str(year)
        )


CONTROLLERS: list[type[Controller]] = [PartyDesk]

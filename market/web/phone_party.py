"""Phone pages for residents and volunteers: reporting in to the community as an in-service party
member (/r/party), one's credit record (/r/credit), and rating the units that worked on the
projects one took part in (/r/unit-ratings)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires
from market.auth.models import MANAGER_ROLES, Role
from market.credit import service as credit
from market.fields import PathId
from market.pagination import Offset
from market.party import service as party
from market.party.schemas import ReportRequest
from market.settings import Settings
from market.unit_reviews import service as reviews
from market.unit_reviews.schemas import RatingWrite
from market.web.pages import Form, FormData, form_int, handling, page, parse, see_other

PARTY_PAGE = "phone/party_report.html"
CREDIT_PAGE = "phone/credit_record.html"
RATINGS_PAGE = "phone/unit_ratings.html"
EMPLOYER_FIELDS = {"unit_not_found": "unit_id", "employer_required": "employer_name"}
LIMIT = 20


class PartyPhone(Controller):
    path = "/r/party"
    guards = [requires(Role.resident, Role.volunteer)]
    include_in_schema = False

    async def _context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        return {
            "report": await party.my_report(session, request.user),
            "units": await party.employer_units(session, request.user),
        }

    @get("/")
    async def report_page(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        return page(request, PARTY_PAGE, form=Form(), **await self._context(request, session))

    @post("/")
    async def report_in(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, PARTY_PAGE, lambda: self._context(request, session), fields=EMPLOYER_FIELDS
        ):
            body = parse(form, ReportRequest, settings.tz)
            await party.report_in(session, request.user, body, now)
        return see_other("/r/party", notice="party_reported")


class CreditPhone(Controller):
    path = "/r/credit"
    guards = [requires(Role.resident, Role.volunteer)]
    include_in_schema = False

    @get("/")
    async def record(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        found = await credit.credit_record(session, request.user, LIMIT, offset)
        return page(request, CREDIT_PAGE, record=found, limit=LIMIT, offset=offset)


class UnitRatingPhone(Controller):
    path = "/r/unit-ratings"
    guards = [requires(Role.resident, Role.volunteer, *MANAGER_ROLES)]
    include_in_schema = False

    async def _context(self, request: ActorRequest, session: AsyncSession, now: datetime) -> dict[str, Any]:
        return {"projects": await reviews.projects_to_rate(session, request.user, now)}

    @get("/")
    async def ratings_page(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], now: NamedDependency[datetime]
    ) -> Template:
        return page(request, RATINGS_PAGE, form=Form(), **await self._context(request, session, now))

    @post("/{project_id:int}")
    async def rate(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, RATINGS_PAGE, lambda: self._context(request, session, now), shown=("stars",)
        ):
            body = parse(form, RatingWrite, settings.tz, unit_id=form_int(form, "unit_id", le=2**31))
            await reviews.rate_unit(session, request.user, project_id, body, now)
        return see_other("/r/unit-ratings", notice="unit_rated")


CONTROLLERS: list[type[Controller]] = [PartyPhone, CreditPhone, UnitRatingPhone]

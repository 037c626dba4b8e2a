"""Pages: the volunteer's own service record (/v/record) — totals by year and category, every line
with its corrections, certificates requested and issued — and the public verification page a
certificate's QR code opens (/verify/<token>)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import community_code_of
from market.auth.access import ActorRequest, requires
from market.auth.models import Role
from market.errors import NotFound
from market.fields import PathId, path_text
from market.records import service as records
from market.records.routes import Year, pdf_response
from market.records.schemas import CertificateRequest
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import Form, FormData, category_names, handling, page, parse, see_other

PATH = "/v/record"
TEMPLATE = "phone/volunteer_record.html"
VERIFY_TEMPLATE = "verify.html"
Token = path_text(64)


async def _context(
    request: ActorRequest, session: AsyncSession, settings: Settings, now: datetime, year: int | None
) -> dict[str, Any]:
    record = await records.my_record(session, request.user, year, settings.tz)
    communities = await records.service_communities(session, request.user)
    return {
        "record": record,
        "year": year,
        "years": [t.year for t in record.totals],
        "categories": await category_names(session, lang_of(request)),
        "certificates": await records.my_certificates(session, request.user),
        "communities": [(c.id, c.name) for c in communities],
        # The volunteer's own community first, when it recorded some of their service.
        "default_community": next(
            (c.id for c in communities if c.code == community_code_of(request.user.area_code)),
            communities[0].id if communities else "",
        ),
        "opted_out": await records.opted_out(session, request.user),
        "today": now.astimezone(settings.tz).date().isoformat(),
    }


class VolunteerRecordPages(Controller):
    path = PATH
    guards = [requires(Role.volunteer)]
    include_in_schema = False

    @get("/")
    async def record(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: Year = None,
    ) -> Template:
        context = await _context(request, session, settings, now, year)
        return page(request, TEMPLATE, form=Form({"community_id": context["default_community"]}), **context)

    @post("/certificates")
    async def request_certificate(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        fields = {
            "period_order": "period_end",
            "period_in_future": "period_end",
            "no_service_in_period": "period_start",
        }
        async with handling(
            session, form, TEMPLATE, lambda: _context(request, session, settings, now, None), fields=fields
        ):
            body = parse(form, CertificateRequest, settings.tz)
            await records.request_certificate(session, request.user, body, now, settings.tz)
        return see_other(PATH, notice="certificate_requested")

    @get("/certificates/{certificate_id:int}/pdf")
    async def pdf(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        certificate = await records.certificate_for_download(session, request.user, certificate_id)
        if certificate.volunteer_id != request.user.id:
            raise NotFound("No such certificate.", code="certificate_not_found")
        return pdf_response(request, certificate, settings)

    @post("/honour-roll")
    async def honour_roll(
        self, request: ActorRequest, data: FormData, session: NamedDependency[AsyncSession]
    ) -> Redirect:
        # Always the caller's own setting, whatever else the form carries.
        opt_out = Form.of(data).value("opt_out") == "on"
        await records.set_opt_out(session, request.user, opt_out)
        return see_other("/v/profile", notice="honour_roll_hidden" if opt_out else "honour_roll_shown")


class VerifyPage(Controller):
    """Public: anyone holding a certificate's QR code reads whether it stands."""

    path = "/verify"
    include_in_schema = False

    @get("/{token:str}")
    async def verify(
        self,
        request: Request,
        token: Token,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        try:
            found = await records.verify(session, token, settings.tz)
        except NotFound:
            return page(request, VERIFY_TEMPLATE, status_code=404, verification=None)
        return page(request, VERIFY_TEMPLATE, verification=found)


CONTROLLERS: list[type[Controller]] = [VolunteerRecordPages, VerifyPage]

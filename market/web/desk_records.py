"""Pages: service records for a manager's area (/desk/records) — the volunteers and their hours in
a year, the Excel export, one volunteer's lines with training, awards and corrections — the
certificates a community reviews and issues (/desk/certificates) with its issuing details, and the
honour roll of a month (/desk/honour-roll) with a printable poster."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_community_manager, requires_manager
from market.errors import NotFound
from market.fields import PathId
from market.records import service as records
from market.records.models import CertificateStatus, CorrectionReason, RefusalReason, RevocationReason
from market.records.routes import Year, export_year, pdf_response
from market.records.schemas import (
    CertificateDecision,
    CertificateRevocation,
    CorrectionWrite,
    EntryWrite,
    IssuerWrite,
)
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import (
    Form,
    FormData,
    category_names,
    handling,
    page,
    parse,
    see_other,
    url,
    word_options,
)

PATH = "/desk/records"
VOLUNTEER_TEMPLATE = "desk/records_volunteer.html"
CERTIFICATES = "/desk/certificates"
CERTIFICATES_TEMPLATE = "desk/records_certificates.html"
ISSUER_TEMPLATE = "desk/records_issuer.html"
HONOUR = "/desk/honour-roll"
Status = Annotated[str | None, QueryParameter(pattern="^(" + "|".join(CertificateStatus) + ")?$")]
CommunityId = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]
OptionalMonth = Annotated[str | None, QueryParameter(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]


def _this_year(now: datetime, settings: Settings) -> int:
    return now.astimezone(settings.tz).year


class RecordPages(Controller):
    path = PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def area(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: Year = None,
    ) -> Template:
        year = year or _this_year(now, settings)
        items = await records.area_volunteers(session, request.user, year, settings.tz)
        this_year = _this_year(now, settings)
        return page(
            request,
            "desk/records_area.html",
            items=items,
            year=year,
            years=list(range(this_year, this_year - 5, -1)),
        )

    @get("/export")
    async def export(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: Year = None,
    ) -> Stream:
        return await export_year(request, session, settings, year or _this_year(now, settings))

    async def _volunteer_context(
        self,
        request: ActorRequest,
        session: AsyncSession,
        settings: Settings,
        volunteer_id: int,
        year: int | None,
    ) -> dict[str, Any]:
        lang = lang_of(request)
        return {
            "record": await records.volunteer_record(session, request.user, volunteer_id, year, settings.tz),
            "year": year,
            "categories": await category_names(session, lang),
            "reasons": word_options(lang, "correction_reason", CorrectionReason),
            "kinds": word_options(lang, "record_kind", ("training", "award")),
            "may_record": request.user.is_community_manager,
            "entry_form": Form({"kind": "training"}),
        }

    @get("/volunteers/{volunteer_id:int}")
    async def volunteer(
        self,
        request: ActorRequest,
        volunteer_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        year: Year = None,
    ) -> Template:
        context = await self._volunteer_context(request, session, settings, volunteer_id, year)
        return page(request, VOLUNTEER_TEMPLATE, form=Form(), **context)

    @post("/volunteers/{volunteer_id:int}/entries", guards=[requires_community_manager])
    async def add_entry(
        self,
        request: ActorRequest,
        volunteer_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)

        async def context() -> dict[str, Any]:
            built = await self._volunteer_context(request, session, settings, volunteer_id, None)
            return built | {"entry_form": form}

        async with handling(session, form, VOLUNTEER_TEMPLATE, context, fields={"entry_in_future": "at"}):
            body = parse(form, EntryWrite, settings.tz)
            await records.add_entry(session, request.user, volunteer_id, body, now)
        return see_other(f"{PATH}/volunteers/{volunteer_id}", notice="record_entry_added")

    @post("/volunteers/{volunteer_id:int}/corrections", guards=[requires_community_manager])
    async def correct(
        self,
        request: ActorRequest,
        volunteer_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)

        async def context() -> dict[str, Any]:
            return await self._volunteer_context(request, session, settings, volunteer_id, None)

        async with handling(session, form, VOLUNTEER_TEMPLATE, context):
            body = parse(form, CorrectionWrite, settings.tz)
            line = await records.correct(session, request.user, body, now)
            if line.volunteer_id != volunteer_id:
                # The form names the line; the page is the volunteer's: a line of another's is not here.
                raise NotFound("No such line in this record.", code="record_line_not_found")
        return see_other(f"{PATH}/volunteers/{volunteer_id}", notice="record_corrected")


async def _certificates_context(
    request: ActorRequest, session: AsyncSession, status: str | None
) -> dict[str, Any]:
    lang = lang_of(request)
    chosen = CertificateStatus(status) if status else None
    return {
        "items": await records.area_certificates(session, request.user, chosen),
        "status": status,
        "statuses": list(CertificateStatus),
        "refusal_reasons": word_options(lang, "refusal_reason", RefusalReason),
        "revocation_reasons": word_options(lang, "revocation_reason", RevocationReason),
        "communities": await records.communities_managed(session, request.user),
    }


def _deciding(request: ActorRequest, session: AsyncSession, form: Form, certificate_id: int):
    """A decision's form: refused, the list is shown again with the errors beside that certificate."""
    form.values["certificate"] = str(certificate_id)
    return handling(
        session, form, CERTIFICATES_TEMPLATE, lambda: _certificates_context(request, session, None)
    )


class CertificatePages(Controller):
    path = CERTIFICATES
    guards = [requires_community_manager]
    include_in_schema = False

    @get("/")
    async def certificates(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], status: Status = None
    ) -> Template:
        context = await _certificates_context(request, session, status)
        return page(request, CERTIFICATES_TEMPLATE, form=Form(), **context)

    @post("/{certificate_id:int}/issue")
    async def issue(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with _deciding(request, session, form, certificate_id):
            await records.issue(session, request.user, certificate_id, now, settings.tz)
        return see_other(CERTIFICATES, notice="certificate_issued")

    @post("/{certificate_id:int}/refuse")
    async def refuse(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with _deciding(request, session, form, certificate_id):
            body = parse(form, CertificateDecision, settings.tz)
            await records.refuse(session, request.user, certificate_id, body, now)
        return see_other(CERTIFICATES, notice="certificate_refused")

    @post("/{certificate_id:int}/revoke")
    async def revoke(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with _deciding(request, session, form, certificate_id):
            body = parse(form, CertificateRevocation, settings.tz)
            await records.revoke(session, request.user, certificate_id, body, now)
        return see_other(CERTIFICATES, notice="certificate_revoked")

    @get("/{certificate_id:int}/pdf")
    async def pdf(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        certificate = await records.certificate_for_download(session, request.user, certificate_id)
        return pdf_response(request, certificate, settings)

    async def _issuer_context(self, request: ActorRequest, session: AsyncSession, community_id: int | None):
        communities = await records.communities_managed(session, request.user)
        chosen = community_id or (communities[0].id if communities else None)
        issuer = await records.get_issuer(session, request.user, chosen) if chosen else None
        return {
            "communities": [(c.id, c.name) for c in communities],
            "issuer": issuer,
            "community_id": chosen,
        }

    @get("/issuer")
    async def issuer(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], community_id: CommunityId = None
    ) -> Template:
        context = await self._issuer_context(request, session, community_id)
        issuer = context["issuer"]
        values = (
            {"responsible_person": issuer.responsible_person, "contact": issuer.contact} if issuer else {}
        )
        return page(request, ISSUER_TEMPLATE, form=Form(values), **context)

    @post("/issuer/{community_id:int}")
    async def set_issuer(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, ISSUER_TEMPLATE, lambda: self._issuer_context(request, session, community_id)
        ):
            body = parse(form, IssuerWrite, settings.tz)
            await records.set_issuer(session, request.user, community_id, body, now)
        return see_other(url(f"{CERTIFICATES}/issuer", community_id=community_id), notice="issuer_saved")


class HonourRollPages(Controller):
    path = HONOUR
    guards = [requires_manager]
    include_in_schema = False

    async def _context(
        self,
        request: ActorRequest,
        session: AsyncSession,
        settings: Settings,
        now: datetime,
        community_id: int | None,
        month: str | None,
    ) -> dict[str, Any]:
        communities = await records.communities_managed(session, request.user)
        if community_id is None and communities:
            community_id = communities[0].id
        month = month or now.astimezone(settings.tz).strftime("%Y-%m")
        roll = (
            await records.honour_roll(session, request.user, community_id, month, settings.tz)
            if community_id
            else None
        )
        return {"communities": [(c.id, c.name) for c in communities], "roll": roll, "month": month}

    @get("/")
    async def honour_roll(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        community_id: CommunityId = None,
        month: OptionalMonth = None,
    ) -> Template:
        context = await self._context(request, session, settings, now, community_id, month)
        return page(request, "desk/records_honour_roll.html", **context)

    @get("/poster")
    async def poster(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        community_id: CommunityId = None,
        month: OptionalMonth = None,
    ) -> Template:
        context = await self._context(request, session, settings, now, community_id, month)
        return page(request, "desk/records_poster.html", **context)


CONTROLLERS: list[type[Controller]] = [RecordPages, CertificatePages, HonourRollPages]

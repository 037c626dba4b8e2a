from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.auth.access import ActorRequest, requires, requires_community_manager, requires_manager
from market.auth.models import Role
from market.fields import PathId
from market.records import documents, service
from market.records.models import CertificateStatus
from market.records.schemas import (
    AreaRecords,
    CertificateDecision,
    CertificateRead,
    CertificateRequest,
    CertificateRevocation,
    CorrectionWrite,
    EntryWrite,
    HonourRoll,
    IssuerRead,
    IssuerWrite,
    OptOutWrite,
    RecordLine,
    VolunteerRecord,
)
from market.settings import Settings
from market.web.i18n import lang_of, translate

Year = Annotated[int | None, QueryParameter(ge=2000, le=2099, description="A year (local time)")]
Month = Annotated[
    str, QueryParameter(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="A month, 2026-06")
]
requires_volunteer = requires(Role.volunteer)


def pdf_response(request: Request, certificate: CertificateRead, settings: Settings) -> Response[bytes]:
    """The certificate's PDF, its QR code linking to the verification page on this service."""
    assert certificate.verify_path is not None  # issued
    verify_url = str(request.base_url).rstrip("/") + certificate.verify_path
    body = documents.certificate_pdf(
        certificate, verify_url, partial(translate, lang_of(request)), settings.tz
    )
    return exports.pdf_download(body, f"certificate-{certificate.number}")


class RecordController(Controller):
    """Service records (志愿服务记录): a volunteer's own, and managers' for their area."""

    path = "/api/records"
    tags = ["records"]

    @get("/me", summary="My service record: every line and the totals by year", guards=[requires_volunteer])
    async def my_record(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        year: Year = None,
    ) -> VolunteerRecord:
        return await service.my_record(session, request.user, year, settings.tz)

    @put(
        "/me/honour-roll",
        summary="Leave me off the honour roll, or show me again",
        guards=[requires_volunteer],
    )
    async def set_opt_out(
        self, request: ActorRequest, data: JSONBody[OptOutWrite], session: NamedDependency[AsyncSession]
    ) -> OptOutWrite:
        return OptOutWrite(opt_out=await service.set_opt_out(session, request.user, data.opt_out))

    @get(
        "/",
        summary="The volunteers with service recorded in your area in a year; ?format=xlsx for every line",
        guards=[requires_manager],
        responses=exports.json_or_download(AreaRecords),
    )
    async def area(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: Year = None,
        format: Annotated[Literal["json", "xlsx"], QueryParameter()] = "json",
    ) -> AreaRecords | Stream:
        year = year or now.astimezone(settings.tz).year
        if format == "xlsx":
            return await export_year(request, session, settings, year)
        return AreaRecords(year, await service.area_volunteers(session, request.user, year, settings.tz))

    @get(
        "/volunteers/{volunteer_id:int}",
        summary="A volunteer's record in your area",
        guards=[requires_manager],
    )
    async def volunteer_record(
        self,
        request: ActorRequest,
        volunteer_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        year: Year = None,
    ) -> VolunteerRecord:
        return await service.volunteer_record(session, request.user, volunteer_id, year, settings.tz)

    @post(
        "/volunteers/{volunteer_id:int}/entries",
        summary="Record training or an award (the volunteer's community managers or above)",
        guards=[requires_community_manager],
    )
    async def add_entry(
        self,
        request: ActorRequest,
        volunteer_id: PathId,
        data: JSONBody[EntryWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> RecordLine:
        return await service.add_entry(session, request.user, volunteer_id, data, now)

    @post(
        "/corrections",
        summary="Correct a line's hours: a new entry pointing at it, with a reason (community managers)",
        guards=[requires_community_manager],
    )
    async def correct(
        self,
        request: ActorRequest,
        data: JSONBody[CorrectionWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> RecordLine:
        return await service.correct(session, request.user, data, now)

    @get(
        "/honour-roll/{community_id:int}",
        summary="A community's honour roll (光荣榜) of a month: most hours, best rated",
        guards=[requires_manager],
    )
    async def honour_roll(
        self,
        request: ActorRequest,
        community_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        month: Month,
    ) -> HonourRoll:
        return await service.honour_roll(session, request.user, community_id, month, settings.tz)


async def export_year(request: ActorRequest, session: AsyncSession, settings: Settings, year: int) -> Stream:
    """Every line recorded in the manager's area in the year, as an Excel file."""
    lines = await service.area_lines(session, request.user, year, settings.tz)
    people = await service.people(session, {line.volunteer_id for line in lines})
    t = partial(translate, lang_of(request))
    return exports.download(
        "xlsx",
        f"service-records-{year}",
        documents.export_columns(t),
        exports.one_batch(documents.export_rows(lines, people, t, settings.tz)),
        sheet=str(year),
    )


class CertificateController(Controller):
    """Certificates (志愿服务证明): volunteers request them, the recording community issues them."""

    path = "/api/certificates"
    tags = ["certificates"]

    @post(
        "/",
        summary="Request a certificate of a period from a community (volunteer)",
        guards=[requires_volunteer],
    )
    async def request_certificate(
        self,
        request: ActorRequest,
        data: JSONBody[CertificateRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> CertificateRead:
        return await service.request_certificate(session, request.user, data, now, settings.tz)

    @get("/mine", summary="My certificates and requests", guards=[requires_volunteer])
    async def mine(
        self, request: ActorRequest, session: NamedDependency[AsyncSession]
    ) -> list[CertificateRead]:
        return await service.my_certificates(session, request.user)

    @get("/", summary="Requests and certificates of your communities", guards=[requires_community_manager])
    async def area(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        status: Annotated[CertificateStatus | None, QueryParameter()] = None,
    ) -> list[CertificateRead]:
        return await service.area_certificates(session, request.user, status)

    @get("/{certificate_id:int}", summary="One certificate (its volunteer, the issuing community's managers)")
    async def get_certificate(
        self, request: ActorRequest, certificate_id: PathId, session: NamedDependency[AsyncSession]
    ) -> CertificateRead:
        return await service.get_certificate(session, request.user, certificate_id)

    @get(
        "/{certificate_id:int}/pdf",
        summary="The certificate as a PDF (its volunteer, the issuing community's managers)",
        media_type="application/pdf",
    )
    async def pdf(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        certificate = await service.certificate_for_download(session, request.user, certificate_id)
        return pdf_response(request, certificate, settings)

    @post(
        "/{certificate_id:int}/issue",
        summary="Issue a requested certificate: numbered, with the services and hours (community managers)",
        guards=[requires_community_manager],
        status_code=200,
    )
    async def issue(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> CertificateRead:
        return await service.issue(session, request.user, certificate_id, now, settings.tz)

    @post(
        "/{certificate_id:int}/refuse",
        summary="Refuse a request with a reason (community managers)",
        guards=[requires_community_manager],
        status_code=200,
    )
    async def refuse(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        data: JSONBody[CertificateDecision],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> CertificateRead:
        return await service.refuse(session, request.user, certificate_id, data, now)

    @post(
        "/{certificate_id:int}/revoke",
        summary="Revoke an issued certificate with a reason (community managers)",
        guards=[requires_community_manager],
        status_code=200,
    )
    async def revoke(
        self,
        request: ActorRequest,
        certificate_id: PathId,
        data: JSONBody[CertificateRevocation],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> CertificateRead:
        return await service.revoke(session, request.user, certificate_id, data, now)

    @get(
        "/issuers/{community_id:int}",
        summary="A community's issuing details: responsible person and contact",
        guards=[requires_manager],
    )
    async def get_issuer(
        self, request: ActorRequest, community_id: PathId, session: NamedDependency[AsyncSession]
    ) -> IssuerRead:
        return await service.get_issuer(session, request.user, community_id)

    @put(
        "/issuers/{community_id:int}",
        summary="Set a community's issuing details (community managers)",
        guards=[requires_community_manager],
    )
    async def set_issuer(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: JSONBody[IssuerWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> IssuerRead:
        return await service.set_issuer(session, request.user, community_id, data, now)

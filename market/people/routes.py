from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, client_address, requires_manager
from market.auth.routes import token_response
from market.auth.schemas import TokenResponse
from market.errors import InvalidInput
from market.fields import PathId
from market.imports import TEMPLATE_CONTENT_TYPE
from market.pagination import Limit, Offset, Page
from market.people import importing
from market.people import service as people
from market.people.models import PeopleImport
from market.people.schemas import (
    ApplicationRead,
    ImportRead,
    RowError,
    SignUp,
    VolunteerApplicationCreate,
)
from market.settings import Settings


def import_read(job: PeopleImport) -> ImportRead:
    return ImportRead(
        id=job.id,
        status=job.status,
        file_name=job.file_name,
        total=job.total,
        done=job.done,
        created=job.created,
        changed=job.changed,
        unchanged=job.unchanged,
        errors=[RowError(**e) for e in importing.errors_of(job)],
        created_at=job.created_at,
    )


class PeopleImportController(Controller):
    path = "/api/people/imports"
    tags = ["people"]
    guards = [requires_manager]

    @get("/template", summary="The import's spreadsheet template, headings in Chinese or English")
    async def template(
        self, lang: Annotated[str, QueryParameter(pattern="^(zh|en)$")] = "zh"
    ) -> Response[bytes]:
        return Response(
            importing.template_file(lang),
            media_type=TEMPLATE_CONTENT_TYPE,
            headers={"Content-Disposition": f'attachment; filename="people-{lang}.xlsx"'},
        )

    @post(
        "/",
        summary="Upload a spreadsheet of people: every row is checked and nothing is written yet",
        status_code=201,
    )
    async def upload(
        self,
        request: ActorRequest,
        data: Annotated[dict[str, UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ImportRead:
        upload = await _upload(data)
        job = await importing.preview(session, request.user, upload[1], upload[0], now)
        return import_read(job)

    @get("/{import_id:int}", summary="An import you uploaded: its errors, or how far it has got")
    async def get_import(
        self, request: ActorRequest, import_id: PathId, session: NamedDependency[AsyncSession]
    ) -> ImportRead:
        return import_read(await importing.get_import(session, request.user, import_id))

    @post(
        "/{import_id:int}/run",
        summary=f"Write the next {importing.BATCH} rows of a checked import (call until status is done)",
        status_code=200,
    )
    async def run(
        self,
        request: ActorRequest,
        import_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ImportRead:
        return import_read(await importing.run_batch(session, request.user, import_id, now))


async def _upload(data: dict[str, UploadFile]) -> tuple[str, bytes]:
    """The uploaded file (the form's `file` field): its name and its bytes."""
    upload = data.get("file") if isinstance(data, dict) else None
    if not isinstance(upload, UploadFile):
        raise InvalidInput("Send the spreadsheet as the form field 'file'.", code="file_empty")
    return upload.filename or "", await upload.read()


class SignUpController(Controller):
    path = "/api"
    tags = ["people"]

    @post(
        "/signup",
        summary="Register as a resident (throttled per client address); a grid worker approves",
        status_code=201,
        security=[{}],
    )
    async def sign_up(
        self,
        request: Request,
        data: JSONBody[SignUp],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Response[TokenResponse]:
        user = await people.sign_up(session, settings, data, client_address(request), now)
        return token_response(settings, user, now, status_code=201)

    @get("/signup/status", summary="Your applications (sign-up, volunteering) and how they stand")
    async def status(
        self, request: ActorRequest, session: NamedDependency[AsyncSession]
    ) -> list[ApplicationRead]:
        return await people.my_applications(session, request.user)

    @post(
        "/volunteer-applications", summary="Apply to volunteer with a profile; a community manager approves"
    )
    async def apply(
        self,
        request: ActorRequest,
        data: JSONBody[VolunteerApplicationCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ApplicationRead:
        application = await people.apply_to_volunteer(session, request.user, data, now)
        return (await people.application_reads(session, [application]))[0]

    @get("/approvals", summary="Applications waiting for you to decide", guards=[requires_manager])
    async def approvals(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ApplicationRead]:
        items, total = await people.list_approvals(session, request.user, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/approvals/{application_id:int}/{decision:str}",
        summary="Approve or refuse an application (decision: approve or refuse)",
        guards=[requires_manager],
        status_code=200,
    )
    async def decide(
        self,
        request: ActorRequest,
        application_id: PathId,
        decision: Annotated[str, PathParameter(pattern="^(approve|refuse)$")],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ApplicationRead:
        return await people.decide(session, request.user, application_id, decision == "approve", now)

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_manager
from market.errors import InvalidInput
from market.fields import PathId
from market.imports import TEMPLATE_CONTENT_TYPE
from market.people import importing
from market.people.models import PeopleImport
from market.people.schemas import ImportRead, RowError


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

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market import imports
from market.areas import service
from market.areas.schemas import AreaCreate, AreaNode, AreaRead, AreaRename, ImportResult
from market.auth.access import ActorRequest, requires_manager
from market.errors import InvalidInput
from market.fields import ID_MAX, PathId

# An upload may be a little larger than the file it carries (the form's boundaries and headers);
# anything larger is refused before it is read, as the file would be (`file_too_large`).
UPLOAD_MAX_BODY = imports.MAX_BYTES + 64 * 1024


def file_too_large() -> InvalidInput:
    return InvalidInput(
        f"The file is larger than the limit of {imports.MAX_BYTES // (1024 * 1024)} MB.",
        code="file_too_large",
        limit_bytes=imports.MAX_BYTES,
    )


def _too_large(request: Request, _error: HTTPException) -> Response:
    """A body over the limit (Litestar's 413) as the import's own refusal."""
    return file_too_large().to_response(request)


# The API's uploads: the 413 Litestar answers before the handler runs, as problem+json.
UPLOAD_TOO_LARGE_HANDLERS = {413: _too_large}


class AreaController(Controller):
    path = "/api/areas"
    tags = ["areas"]

    @get("/", summary="The area tree, or the subtree under ?root=")
    async def tree(
        self,
        session: NamedDependency[AsyncSession],
        root: Annotated[
            int | None, QueryParameter(ge=1, le=ID_MAX, description="Id of the subtree's root area")
        ] = None,
    ) -> list[AreaNode]:
        root_area = await service.get_area(session, root) if root is not None else None
        return service.build_tree(await service.subtree(session, root_area))

    @get("/{area_id:int}", summary="One area")
    async def get_area(self, area_id: PathId, session: NamedDependency[AsyncSession]) -> AreaRead:
        return service.area_read(await service.get_area(session, area_id))

    @post("/", summary="Add an area under one you manage", guards=[requires_manager])
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[AreaCreate],
        session: NamedDependency[AsyncSession],
    ) -> AreaRead:
        return service.area_read(await service.create_area(session, request.user, data))

    @patch("/{area_id:int}", summary="Rename an area inside your own", guards=[requires_manager])
    async def rename(
        self,
        request: ActorRequest,
        area_id: PathId,
        data: JSONBody[AreaRename],
        session: NamedDependency[AsyncSession],
    ) -> AreaRead:
        return service.area_read(await service.rename_area(session, request.user, area_id, data.name))

    @post(
        "/import",
        summary="Import the area tree from a spreadsheet (code, name, parent code); ?dry_run=true previews",
        description=(
            "A multipart upload with the field `file`: an .xlsx workbook or a CSV (UTF-8 or GB18030), "
            f"at most {imports.MAX_BYTES // (1024 * 1024)} MB. Rows are keyed by code: a new code adds "
            "the area, a known one with another name renames it, so importing a file again changes "
            "nothing. A file with any row's problem imports nothing: the preview lists them, the import "
            "answers 422 `import_has_problems` with the rows."
        ),
        status_code=200,
        guards=[requires_manager],
        request_max_body_size=UPLOAD_MAX_BODY,
        exception_handlers=UPLOAD_TOO_LARGE_HANDLERS,
    )
    async def import_tree(
        self,
        request: ActorRequest,
        data: Annotated[dict[str, UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
        session: NamedDependency[AsyncSession],
        dry_run: Annotated[bool, QueryParameter(description="Check the file and write nothing")] = False,
    ) -> ImportResult:
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Send the spreadsheet as the form field `file`.", code="file_missing")
        content = await upload.read()
        return await service.import_areas(session, request.user, content, dry_run=dry_run)

    @get(
        "/import/template",
        summary="The import's spreadsheet template",
        guards=[requires_manager],
        media_type=imports.TEMPLATE_CONTENT_TYPE,
    )
    async def import_template(
        self, lang: Annotated[Literal["zh", "en"], QueryParameter(description="Headings' language")] = "zh"
    ) -> Response[bytes]:
        return template_response(lang)


def template_response(lang: str) -> Response[bytes]:
    body = imports.template(service.AREA_COLUMNS, lang, service.TEMPLATE_EXAMPLES[lang])
    return Response(
        body,
        media_type=imports.TEMPLATE_CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="areas-template-{lang}.xlsx"'},
    )

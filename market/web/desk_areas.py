"""Pages: the area tree of a street office's desk — the areas under one's own (a street with its
communities, grids, compounds and buildings), adding an area and renaming one inside one's own
subtree, and importing the tree from a spreadsheet: a template to fill in, a preview that lists
every row's problems and writes nothing, then the import itself."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market import imports
from market.areas import service as areas
from market.areas.models import Area, AreaLevel, child_level, code_length
from market.areas.routes import UPLOAD_MAX_BODY, file_too_large, template_response
from market.areas.schemas import AreaCreate, AreaRename, ImportResult
from market.auth.access import Actor, ActorRequest, requires_manager
from market.errors import Forbidden, InvalidInput
from market.fields import PathId, query_id
from market.imports import Row
from market.web.pages import Form, FormData, handling, page, parse, see_other

TREE = "desk/areas_tree.html"
IMPORT = "desk/areas_import.html"
AREAS_PATH = "/desk/areas"
IMPORT_PATH = "/desk/areas/import"
# How many levels below the opened area the page shows (a street: its communities and grids).
DEPTH = 2
ADD_FIELDS = {"invalid_area_code": "code", "area_code_taken": "code", "area_codes_exhausted": "code"}
UPLOAD_FIELDS = {
    code: "file"
    for code in (
        "file_missing",
        "file_empty",
        "file_too_large",
        "not_a_spreadsheet",
        "columns_missing",
        "too_many_rows",
    )
}
# The rows a preview hands to its confirm form: (line, code, name, parent code).
ImportedRows = Annotated[
    list[
        tuple[
            Annotated[int, msgspec.Meta(ge=1, le=10**7)],
            Annotated[str, msgspec.Meta(max_length=200)],
            Annotated[str, msgspec.Meta(max_length=200)],
            Annotated[str, msgspec.Meta(max_length=200)],
        ]
    ],
    msgspec.Meta(max_length=imports.MAX_ROWS),
]


async def _root(session: AsyncSession, actor: Actor, root_id: int | None) -> Area | None:
    """The area the page opens: the one asked for, inside one's own; else one's own (None: every
    street, for administrators without a home area)."""
    if root_id is not None:
        area = await areas.get_area(session, root_id)
        if not actor.manages(area.code):
            raise Forbidden("That area is outside your own.", code="outside_your_area")
        return area
    return await session.get(Area, actor.area_id) if actor.area_id and not actor.is_admin else None


async def _tree_context(session: AsyncSession, actor: Actor, root: Area | None) -> dict[str, Any]:
    levels = areas.LEVELS
    top = levels.index(root.level) if root else -1
    shown = levels[top + 1 : top + 1 + DEPTH]
    below = await areas.subtree(session, root, shown)
    # How many children each shown area has, so the deepest ones can be opened.
    counted = await session.execute(
        select(Area.parent_id, func.count())
        .where(Area.parent_id.in_([a.id for a in below]))
        .group_by(Area.parent_id)
    )
    counts = {parent_id: n for parent_id, n in counted.all()}
    trail = []
    if root is not None:
        found = await areas.ancestors(session, {root.code})
        trail = [found[c] for c in sorted(found, key=len) if c != root.code and actor.manages(c)]
    may_rename = False
    if root is not None:
        parent_code = root.code[: -areas.CHILD_CODE_DIGITS] if root.level != AreaLevel.street else None
        try:
            areas.may_add_under(actor, parent_code)
            may_rename = True
        except Forbidden:
            pass
    next_level = child_level(root.level) if root else AreaLevel.street
    # Read structs, not the rows: a refused form's transaction is rolled back before the page renders.
    return {
        "root": areas.area_read(root) if root else None,
        "trail": [areas.area_read(a) for a in trail],
        "tree": areas.build_tree(below) if root is None else _children(root, below),
        "counts": counts,
        "deepest": shown[-1] if shown else None,
        "next_level": next_level,
        "may_add": next_level is not None and (actor.is_admin if root is None else actor.manages(root.code)),
        "may_rename": may_rename,
        "code_digits": code_length(next_level) if next_level else 0,
    }


def _children(root: Area, below: list[Area]) -> list[Any]:
    return [n for n in areas.build_tree([root, *below])[0].children]


class AreaPages(Controller):
    path = AREAS_PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def tree(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        root: query_id("The area to open") = None,
    ) -> Template:
        opened = await _root(session, request.user, root)
        context = await _tree_context(session, request.user, opened)
        return page(request, TREE, form=None, which="", **context)

    async def _refused_context(self, request: ActorRequest, session: AsyncSession, root_id: int | None):
        opened = await _root(session, request.user, root_id)
        return await _tree_context(session, request.user, opened)

    @post("/add")
    async def add(
        self, request: ActorRequest, data: FormData, session: NamedDependency[AsyncSession]
    ) -> Redirect:
        form = Form.of(data)
        parent_id = _form_id(form, "parent_id")

        async def context() -> dict[str, Any]:
            return {
                **await self._refused_context(request, session, parent_id),
                "which": "add",
            }

        async with handling(session, form, TREE, context, fields=ADD_FIELDS, shown={"name", "code"}):
            body = parse(form, AreaCreate, request.app.state.settings.tz, parent_id=parent_id)
            await areas.create_area(session, request.user, body)
        return see_other(AREAS_PATH + (f"?root={parent_id}" if parent_id else ""), notice="area_added")

    @post("/{area_id:int}/rename")
    async def rename(
        self,
        request: ActorRequest,
        area_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
    ) -> Redirect:
        form = Form.of(data)

        async def context() -> dict[str, Any]:
            return {**await self._refused_context(request, session, area_id), "which": "rename"}

        async with handling(session, form, TREE, context, shown={"name"}):
            body = parse(form, AreaRename, request.app.state.settings.tz)
            await areas.rename_area(session, request.user, area_id, body.name)
        return see_other(f"{AREAS_PATH}?root={area_id}", notice="area_renamed")

    # ---------------------------------------------------------------- import

    @get("/import")
    async def import_form(self, request: ActorRequest) -> Template:
        return page(request, IMPORT, form=Form(), result=None, rows_json="")

    @get("/import/template")
    async def import_template(
        self, lang: Annotated[str, QueryParameter(pattern="^(zh|en)$")] = "zh"
    ) -> Response[bytes]:
        return template_response(lang)

    @post(
        "/import",
        request_max_body_size=UPLOAD_MAX_BODY,
        exception_handlers={413: lambda request, _error: _too_large_page(request)},
    )
    async def preview(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        """Check the uploaded file and show what importing it would do; writes nothing."""
        received = await request.form()
        upload = received.get("file")
        form = Form()
        async with handling(
            session, form, IMPORT, lambda: {"result": None, "rows_json": ""}, fields=UPLOAD_FIELDS
        ):
            if upload is None or isinstance(upload, str) or not upload.filename:
                raise InvalidInput("Choose a file.", code="file_missing")
            content = await upload.read()
            rows = imports.read_table(content, areas.AREA_COLUMNS)
            result = await areas.import_rows(session, request.user, rows, dry_run=True)
        return _preview(request, form, result, rows)

    @post("/import/confirm")
    async def confirm(
        self, request: ActorRequest, data: FormData, session: NamedDependency[AsyncSession]
    ) -> Template | Redirect:
        form = Form()
        try:
            given = msgspec.json.decode(str(data.get("rows", "")), type=ImportedRows)
        except msgspec.DecodeError as error:
            raise InvalidInput("The import's rows were not sent whole.", code="invalid_input") from error
        rows = [Row(line, {"code": c, "name": n, "parent_code": p}) for line, c, n, p in given]
        # Checked again as it stands now: the tree may have changed since the preview.
        result = await areas.import_rows(session, request.user, rows, dry_run=True)
        if result.rejected or not rows:
            return _preview(request, form, result, rows)
        await areas.import_rows(session, request.user, rows, dry_run=False)
        return see_other(
            f"{AREAS_PATH}?imported={result.created}&renamed={result.renamed}", notice="areas_imported"
        )


def _form_id(form: Form, name: str) -> int | None:
    value = str(form.value(name))
    return int(value) if value.isdecimal() and len(value) <= 10 and int(value) <= 2**31 - 1 else None


def _preview(request: Request, form: Form, result: ImportResult, rows: list[Row]) -> Template:
    rows_json = msgspec.json.encode(
        [
            [r.line, r.values.get("code", ""), r.values.get("name", ""), r.values.get("parent_code", "")]
            for r in rows
        ]
    ).decode()
    return page(request, IMPORT, form=form, result=result, rows_json=rows_json if not result.rejected else "")


def _too_large_page(request: Request) -> Template:
    """An upload over the limit, refused before it is read: the import page with the refusal."""
    form = Form()
    form.refuse(file_too_large(), UPLOAD_FIELDS)
    return page(request, IMPORT, status_code=400, form=form, result=None, rows_json="")


CONTROLLERS: list[type[Controller]] = [AreaPages]

"""Phone pages for a volunteer's part in projects: open shifts and their own with sign-up and cancel,
the page the organiser's QR code opens, which checks them in, or out once they are in; and the
responsibilities they hold, to mark done."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import Actor, ActorRequest, requires
from market.auth.models import Role
from market.errors import MarketError
from market.fields import PathId
from market.pagination import Offset
from market.projects import service as projects
from market.settings import Settings
from market.shifts import service as shifts
from market.shifts.models import SignupStatus
from market.web.i18n import lang_of
from market.web.pages import Form, FormData, category_names, handling, page, see_other

OPEN = "phone/shifts_open.html"
MINE = "phone/shifts_mine.html"
SCAN = "phone/shifts_scan.html"
RESPONSIBILITIES = "phone/responsibilities.html"
PAGE_SIZE = 20
Code = Annotated[str, QueryParameter(max_length=80, pattern=r"^[0-9a-f.]*$")]

guard = requires(Role.volunteer)


async def _list_context(
    session: AsyncSession, actor: Actor, lang: str, now: datetime, mine: bool, offset: int
) -> dict[str, Any]:
    if mine:
        rows, total = await shifts.my_shifts(session, actor, PAGE_SIZE, offset)
    else:
        rows, total = await shifts.open_shifts(session, actor, now, PAGE_SIZE, offset)
    return {
        "shifts": await shifts.shift_reads(session, actor, rows),
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "categories": await category_names(session, lang),
        "now": now,
        "form": None,
    }


async def _scan_context(
    session: AsyncSession, actor: Actor, lang: str, shift_id: int, code: str, now: datetime
) -> dict[str, Any]:
    shift = await shifts.get_shift(session, actor, shift_id, now)
    (read,) = await shifts.shift_reads(session, actor, [shift])
    return {"shift": read, "code": code, "categories": await category_names(session, lang)}


class VolunteerShiftPages(Controller):
    path = "/v/shifts"
    guards = [guard]
    include_in_schema = False

    @get("/")
    async def open_shifts(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        context = await _list_context(session, request.user, lang_of(request), now, False, offset)
        return page(request, OPEN, **context)

    @get("/mine")
    async def mine(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        context = await _list_context(session, request.user, lang_of(request), now, True, offset)
        return page(request, MINE, **context)

    @post("/{shift_id:int}/sign-up")
    async def sign_up(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async with handling(
            session,
            Form(),
            OPEN,
            lambda: _list_context(session, request.user, lang_of(request), now, False, 0),
        ):
            signup = await shifts.sign_up(session, request.user, shift_id, now)
        notice = "shifts_signed_up" if signup.status == SignupStatus.signed_up else "shifts_waiting"
        return see_other("/v/shifts/mine", notice=notice)

    @post("/{shift_id:int}/cancel")
    async def cancel(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async with handling(
            session,
            Form(),
            MINE,
            lambda: _list_context(session, request.user, lang_of(request), now, True, 0),
        ):
            await shifts.cancel(session, request.user, shift_id, now)
        return see_other("/v/shifts/mine", notice="shifts_cancelled")

    @get("/{shift_id:int}/scan")
    async def scanned(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        code: Code = "",
    ) -> Template:
        """What the QR code opens: the shift and one button, to check in or out; a code already too old
        or another shift's is said at once."""
        context = await _scan_context(session, request.user, lang_of(request), shift_id, code, now)
        form = Form({"code": code})
        try:
            shifts.verify_code(settings.secret_key, shift_id, code, now)
        except MarketError as error:
            form.refuse(error, {})
        return page(request, SCAN, form=form, **context)

    @post("/{shift_id:int}/scan")
    async def check(
        self,
        request: ActorRequest,
        shift_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        code = str(form.value("code"))

        async def context() -> dict[str, Any]:
            return await _scan_context(session, request.user, lang_of(request), shift_id, code, now)

        async with handling(session, form, SCAN, context):
            shift = await shifts.get_shift(session, request.user, shift_id, now)
            (read,) = await shifts.shift_reads(session, request.user, [shift])
            checking = shifts.check_out if read.my_status == SignupStatus.checked_in else shifts.check_in
            signup = await checking(session, request.user, shift_id, code, settings.secret_key, now)
        notice = "shifts_checked_out" if signup.status == SignupStatus.checked_out else "shifts_checked_in"
        return see_other("/v/shifts/mine", notice=notice)


async def _responsibilities_context(
    session: AsyncSession, actor: Actor, now: datetime, offset: int
) -> dict[str, Any]:
    rows, total = await projects.held_responsibilities(session, actor, PAGE_SIZE, offset)
    return {
        "responsibilities": rows,
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "now": now,
        "form": None,
    }


class VolunteerResponsibilityPages(Controller):
    path = "/v/responsibilities"
    guards = [guard]
    include_in_schema = False

    @get("/")
    async def held(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        return page(
            request, RESPONSIBILITIES, **await _responsibilities_context(session, request.user, now, offset)
        )

    @post("/{project_id:int}/{responsibility_id:int}/done")
    async def done(
        self,
        request: ActorRequest,
        project_id: PathId,
        responsibility_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async with handling(
            session,
            Form(),
            RESPONSIBILITIES,
            lambda: _responsibilities_context(session, request.user, now, 0),
        ):
            await projects.complete_responsibility(session, request.user, project_id, responsibility_id, now)
        return see_other("/v/responsibilities", notice="projects_responsibility_done")


CONTROLLERS: list[type[Controller]] = [VolunteerShiftPages, VolunteerResponsibilityPages]

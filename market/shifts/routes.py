from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires, requires_community_manager, requires_manager
from market.auth.models import Role
from market.fields import PathId
from market.pagination import Limit, Offset, Page
from market.settings import Settings
from market.shifts import service
from market.shifts.models import SignupAction
from market.shifts.schemas import (
    CheckInCodeRead,
    CodeRequest,
    ShiftCancel,
    ShiftCreate,
    ShiftRead,
    SignupRead,
)

volunteers = requires(Role.volunteer)


def base_url(request: ActorRequest) -> str:
    return str(request.base_url).rstrip("/")


class ProjectShiftController(Controller):
    path = "/api/projects/{project_id:int}/shifts"
    tags = ["shifts"]

    @post(
        "/",
        summary="Recruit volunteers for a shift of the project (the community's managers)",
        guards=[requires_community_manager],
    )
    async def create(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: JSONBody[ShiftCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ShiftRead:
        shift = await service.create_shift(session, request.user, project_id, data, now)
        return (await service.shift_reads(session, request.user, [shift], roster=True))[0]

    @get("/", summary="The project's shifts, with rosters for the community's managers")
    async def list_shifts(
        self, request: ActorRequest, project_id: PathId, session: NamedDependency[AsyncSession]
    ) -> list[ShiftRead]:
        shifts = await service.project_shifts(session, request.user, project_id)
        return await service.shift_reads(session, request.user, shifts, roster=True)


class ShiftController(Controller):
    path = "/api/shifts"
    tags = ["shifts"]

    @get("/open", summary="Shifts you may sign up for, soonest first (volunteers)", guards=[volunteers])
    async def open_shifts(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ShiftRead]:
        shifts, total = await service.open_shifts(session, request.user, now, limit, offset)
        items = await service.shift_reads(session, request.user, shifts)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/mine", summary="The shifts you signed up for or wait for (volunteers)", guards=[volunteers])
    async def mine(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[ShiftRead]:
        shifts, total = await service.my_shifts(session, request.user, limit, offset)
        items = await service.shift_reads(session, request.user, shifts)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/{shift_id:int}", summary="A shift; the community's managers see its roster and waiting list")
    async def get_shift(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ShiftRead:
        shift = await service.get_shift(session, request.user, shift_id, now)
        return (await service.shift_reads(session, request.user, [shift], roster=True))[0]

    @post(
        "/{shift_id:int}/sign-up",
        summary="Sign up: a slot while there is one, else the waiting list",
        status_code=200,
        guards=[volunteers],
    )
    async def sign_up(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> SignupRead:
        return await service.sign_up(session, request.user, shift_id, now)

    @post(
        "/{shift_id:int}/cancel",
        summary="Give up your slot (until the cut-off) or leave the waiting list",
        status_code=200,
        guards=[volunteers],
    )
    async def cancel(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> SignupRead:
        return await service.cancel(session, request.user, shift_id, now)

    @get(
        "/{shift_id:int}/code",
        summary="The check-in code to show at the venue now; it changes every minute (managers)",
        guards=[requires_manager],
    )
    async def code(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> CheckInCodeRead:
        return await service.current_code(
            session, request.user, shift_id, settings.secret_key, base_url(request), now
        )

    @post(
        "/{shift_id:int}/check-in",
        summary="Check in with the code scanned at the venue",
        status_code=200,
        guards=[volunteers],
    )
    async def check_in(
        self,
        request: ActorRequest,
        shift_id: PathId,
        data: JSONBody[CodeRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> SignupRead:
        return await service.check_in(session, request.user, shift_id, data.code, settings.secret_key, now)

    @post(
        "/{shift_id:int}/check-out",
        summary="Check out with the code scanned at the venue; the hours go to the project",
        status_code=200,
        guards=[volunteers],
    )
    async def check_out(
        self,
        request: ActorRequest,
        shift_id: PathId,
        data: JSONBody[CodeRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> SignupRead:
        return await service.check_out(session, request.user, shift_id, data.code, settings.secret_key, now)

    @post(
        "/{shift_id:int}/call-off",
        summary="Cancel the shift before its start, with a reason: everyone on its lists is told",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def call_off(
        self,
        request: ActorRequest,
        shift_id: PathId,
        data: JSONBody[ShiftCancel],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> ShiftRead:
        shift = await service.cancel_shift(session, request.user, shift_id, data.reason, now)
        return (await service.shift_reads(session, request.user, [shift], roster=True))[0]

    @post(
        "/{shift_id:int}/roster/{user_id:int}/attended",
        summary="Mark a volunteer who did not scan as attended: the shift's hours go to the project",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def mark_attended(
        self,
        request: ActorRequest,
        shift_id: PathId,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> SignupRead:
        return await service.mark(session, request.user, shift_id, user_id, SignupAction.attend, now)

    @post(
        "/{shift_id:int}/roster/{user_id:int}/no-show",
        summary="Mark a volunteer as a no-show, from the shift's start on: no hours",
        status_code=200,
        guards=[requires_community_manager],
    )
    async def mark_no_show(
        self,
        request: ActorRequest,
        shift_id: PathId,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> SignupRead:
        return await service.mark(session, request.user, shift_id, user_id, SignupAction.no_show, now)

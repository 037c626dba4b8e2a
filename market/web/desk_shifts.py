"""Desk pages for recruiting (招募 / 签到): a project's shifts with the form that opens one, a shift's
roster with its waiting list and no-shows, and the check-in page the organiser shows at the venue,
whose QR code changes every minute. And the residents' proposed needs (征求民意), for review."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import segno
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.service import get_area, subtree
from market.auth.access import Actor, ActorRequest, requires_community_manager, requires_manager
from market.consultation import service as consultation
from market.consultation.models import ProposalStatus, RejectReason
from market.consultation.schemas import ProposalApprove, ProposalReject
from market.fields import PathId
from market.pagination import Offset, Page
from market.projects import service as projects
from market.projects.models import PROJECT_MACHINE, ProjectAction
from market.settings import Settings
from market.shifts import service as shifts
from market.shifts.models import ShiftCancelReason, SignupAction
from market.shifts.routes import base_url
from market.shifts.schemas import ShiftCancel, ShiftCreate
from market.units.models import ResourceCategory
from market.web.desk_projects import NEED_PLACES, runs
from market.web.i18n import lang_of, translate
from market.web.pages import Form, FormData, category_names, handling, page, parse, see_other, word_options

SHIFTS = "desk/shifts_list.html"
SHIFT = "desk/shifts_shift.html"
CHECK_IN = "desk/shifts_check_in.html"
PROPOSALS = "desk/proposals.html"
LIMIT = 20


def qr_svg(text: str) -> Markup:
    """A QR code as inline SVG, drawn as the pickup code's is (generated here, never a person's text)."""
    return Markup(segno.make(text, micro=False).svg_inline(scale=6, svgclass="qr", omitsize=True))


async def _shifts_context(session: AsyncSession, actor: Actor, lang: str, project_id: int) -> dict[str, Any]:
    project = await projects.get_project(session, actor, project_id)
    community = await get_area(session, project.community_id)
    rows = await shifts.project_shifts(session, actor, project_id)
    places = await subtree(session, community, NEED_PLACES)
    return {
        "project": project,
        "shifts": await shifts.shift_reads(session, actor, rows),
        "runs": runs(actor, community.code)
        and PROJECT_MACHINE.allows(project.status, ProjectAction.add_participant),
        "places": [(a.id, "\u3000" * NEED_PLACES.index(a.level) + a.name) for a in places],
        "skill_options": list((await category_names(session, lang, active_only=True)).items()),
        "categories": await category_names(session, lang),
        "default_cutoff": shifts.DEFAULT_CANCEL_CUTOFF_HOURS,
    }


async def _shift_context(
    session: AsyncSession, actor: Actor, lang: str, shift_id: int, now: datetime
) -> dict[str, Any]:
    shift = await shifts.get_shift(session, actor, shift_id, now)
    (read,) = await shifts.shift_reads(session, actor, [shift], roster=True)
    project = await projects.get_project(session, actor, shift.project_id)
    community = await get_area(session, project.community_id)
    roster = read.roster or []
    return {
        "shift": read,
        "project": project,
        "runs": runs(actor, community.code),
        "on_roster": [r for r in roster if r.status not in ("waiting", "cancelled")],
        "waiting": [r for r in roster if r.status == "waiting"],
        "categories": await category_names(session, lang),
        # Cancelling closes at the start; marking the roster opens then (no one marks their own).
        "started": now >= read.starts_at,
        "marks": shifts.roster_marks(shift, now),
        "actor_id": actor.id,
        "reason_options": word_options(lang, "shift_cancel_reason", ShiftCancelReason),
    }


class ShiftPages(Controller):
    path = "/desk/projects"
    guards = [requires_manager]
    include_in_schema = False

    @get("/{project_id:int}/shifts")
    async def project_shifts(
        self, request: ActorRequest, project_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        context = await _shifts_context(session, request.user, lang_of(request), project_id)
        form = Form({"slots": "10", "cancel_cutoff_hours": str(shifts.DEFAULT_CANCEL_CUTOFF_HOURS),
                     "area_id": str(context["project"].community_id)})  # fmt: skip
        return page(request, SHIFTS, form=form, **context)

    @post("/{project_id:int}/shifts", guards=[requires_community_manager])
    async def open_shift(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        fields = {
            "shift_in_past": "starts_at",
            "window_order": "ends_at",
            "shift_after_deadline": "ends_at",
            "place_outside_community": "area_id",
            "area_not_found": "area_id",
            "category_not_found": "skills",
        }
        async with handling(
            session,
            form,
            SHIFTS,
            lambda: _shifts_context(session, request.user, lang_of(request), project_id),
            fields=fields,
        ):
            body = parse(form, ShiftCreate, settings.tz)
            shift = await shifts.create_shift(session, request.user, project_id, body, now)
        return see_other(f"/desk/projects/shifts/{shift.id}", notice="shifts_opened")

    @get("/shifts/{shift_id:int}")
    async def shift(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Template:
        context = await _shift_context(session, request.user, lang_of(request), shift_id, now)
        return page(request, SHIFT, form=None, **context)

    @post("/shifts/{shift_id:int}/call-off", guards=[requires_community_manager])
    async def call_off(
        self,
        request: ActorRequest,
        shift_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        """Cancel the shift with a reason: everyone on its lists is told."""
        form = Form.of(data)
        async with handling(
            session,
            form,
            SHIFT,
            lambda: _shift_context(session, request.user, lang_of(request), shift_id, now),
            fields={"invalid_input": "reason"},
        ):
            body = parse(form, ShiftCancel, settings.tz)
            await shifts.cancel_shift(session, request.user, shift_id, body.reason, now)
        return see_other(f"/desk/projects/shifts/{shift_id}", notice="shifts_called_off")

    async def _mark(
        self,
        request: ActorRequest,
        session: AsyncSession,
        shift_id: int,
        user_id: int,
        action: SignupAction,
        now: datetime,
    ) -> Redirect:
        async with handling(
            session,
            Form(),
            SHIFT,
            lambda: _shift_context(session, request.user, lang_of(request), shift_id, now),
        ):
            await shifts.mark(session, request.user, shift_id, user_id, action, now)
        return see_other(f"/desk/projects/shifts/{shift_id}", notice=f"shifts_marked_{action}")

    @post("/shifts/{shift_id:int}/roster/{user_id:int}/attended", guards=[requires_community_manager])
    async def mark_attended(
        self,
        request: ActorRequest,
        shift_id: PathId,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await self._mark(request, session, shift_id, user_id, SignupAction.attend, now)

    @post("/shifts/{shift_id:int}/roster/{user_id:int}/no-show", guards=[requires_community_manager])
    async def mark_no_show(
        self,
        request: ActorRequest,
        shift_id: PathId,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await self._mark(request, session, shift_id, user_id, SignupAction.no_show, now)

    @get("/shifts/{shift_id:int}/check-in", guards=[requires_community_manager])
    async def check_in_code(
        self,
        request: ActorRequest,
        shift_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        """The page the organiser shows at the venue: it loads again when the code changes."""
        code = await shifts.current_code(
            session, request.user, shift_id, settings.secret_key, base_url(request), now
        )
        shift = await shifts.get_shift(session, request.user, shift_id, now)
        (read,) = await shifts.shift_reads(session, request.user, [shift], roster=True)
        return page(
            request,
            CHECK_IN,
            shift=read,
            code=code,
            qr=qr_svg(code.url),
            refresh=max(1, int((code.changes_at - now).total_seconds()) + 1),
        )


# Residents' proposed needs ------------------------------------------------------------------------


async def _proposals_context(
    session: AsyncSession, actor: Actor, lang: str, status: ProposalStatus | None, offset: int
) -> dict[str, Any]:
    rows, total = await consultation.list_proposals(
        session, actor, community_id=None, status=status, limit=LIMIT, offset=offset
    )
    return {
        "proposals": Page(await consultation.proposal_reads(session, rows), total, LIMIT, offset),
        "status": status,
        "category_options": word_options(lang, "resource_category", ResourceCategory),
        "priority_options": [(p, translate(lang, f"projects.priority_{p}")) for p in range(5, 0, -1)],
        "reason_options": word_options(lang, "proposal_reject_reason", RejectReason),
        "failed": None,
    }


class ProposalPages(Controller):
    path = "/desk/projects/proposals"
    guards = [requires_community_manager]
    include_in_schema = False

    @get("/")
    async def proposals(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        status: Annotated[ProposalStatus | None, QueryParameter()] = ProposalStatus.proposed,
        offset: Offset = 0,
    ) -> Template:
        context = await _proposals_context(session, request.user, lang_of(request), status, offset)
        return page(request, PROPOSALS, form=Form({"priority": "3"}), **context)

    async def _review(
        self, request: ActorRequest, session: AsyncSession, proposal_id: int, data: dict[str, Any], work
    ) -> Redirect:
        form = Form.of(data)

        async def context() -> dict[str, Any]:
            found = await _proposals_context(
                session, request.user, lang_of(request), ProposalStatus.proposed, 0
            )
            return {**found, "failed": proposal_id}

        fields = {"deadline_passed": "deadline", "area_not_found": "area_id"}
        async with handling(session, form, PROPOSALS, context, fields=fields):
            await work(form)
        return see_other("/desk/projects/proposals", notice="proposals_reviewed")

    @post("/{proposal_id:int}/approve")
    async def approve(
        self,
        request: ActorRequest,
        proposal_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, ProposalApprove, settings.tz)
            await consultation.approve(session, request.user, proposal_id, body, now)

        return await self._review(request, session, proposal_id, data, work)

    @post("/{proposal_id:int}/reject")
    async def reject(
        self,
        request: ActorRequest,
        proposal_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, ProposalReject, settings.tz)
            await consultation.reject(session, request.user, proposal_id, body.reason, now)

        return await self._review(request, session, proposal_id, data, work)


CONTROLLERS: list[type[Controller]] = [ShiftPages, ProposalPages]

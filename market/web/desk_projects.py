"""Desk pages for projects (项目清单): a community's board of projects, needs and resources,
publishing a need, allocation plans, and a project's page with the managers' actions.

Every action calls the service the API route calls; the pages only pick what to show and
show the forms only to those the service would let act (`runs`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel
from market.areas.schemas import AreaRead
from market.areas.service import area_read, get_area, subtree
from market.auth.access import Actor, ActorRequest, requires_community_manager, requires_manager
from market.auth.service import user_names
from market.errors import NotFound
from market.fields import ID_MAX, Id, Moment, PathId, query_id, text
from market.needs import service as needs
from market.needs.models import FlowOutcome, NeedStatus, PlanStatus
from market.needs.schemas import ApplyRequest, NeedCreate, PlanCreate
from market.pagination import Offset, Page
from market.projects import service as projects
from market.projects.models import PROJECT_MACHINE, ProjectAction, ProjectStatus
from market.projects.schemas import (
    CancelRequest,
    CloseRequest,
    DeliveryCreate,
    HoursRequest,
    ParticipantCreate,
    ProjectRead,
    ResponsibilityChange,
    ResponsibilityCreate,
)
from market.settings import Settings
from market.units import service as units
from market.units.models import ResourceCategory, ResourceStatus
from market.web.i18n import lang_of, translate
from market.web.pages import (
    Form,
    FormData,
    form_int,
    handling,
    local_input,
    page,
    parse,
    see_other,
    url,
    word_options,
)

BOARD = "desk/projects_board.html"
NEED_FORM = "desk/projects_need_form.html"
PLAN = "desk/projects_plan.html"
PROJECT = "desk/projects_project.html"
LIMIT = 20
# Needs are planned down to compounds; buildings would swamp the list.
NEED_PLACES = (AreaLevel.community, AreaLevel.grid, AreaLevel.compound)
# Event notes the service writes for these actions are what a person typed (a reason, a task);
# the others are generated in English and are shown through the page's own tables instead.
TYPED_NOTES = frozenset(
    {
        ProjectAction.cancel,
        ProjectAction.responsibility_done,
        ProjectAction.add_responsibility,
        ProjectAction.reassign_responsibility,
    }
)
# Volunteers a search for participants lists: a few to pick from, the search narrows them.
CANDIDATES = 20
SEARCH_LENGTH = 50
Search = Annotated[str, QueryParameter(max_length=SEARCH_LENGTH)]

Show = Literal["projects", "needs", "resources"]


class DeliveryForm(DeliveryCreate, kw_only=True):
    """The project page's delivery form: which commitment, then the API's fields."""

    commitment_id: Id


class HoursForm(HoursRequest, kw_only=True):
    """The project page's hours form: whose hours, then the API's field."""

    participant_id: Id


# A responsibility's holder in a form: "unit:3", "team:7" or "user:12".
Holder = Annotated[str, msgspec.Meta(pattern=r"^(unit|team|user):[0-9]{1,10}$")]
HOLDER_KINDS = {
    "unit": "projects.assignee_unit",
    "team": "projects.assignee_team",
    "user": "projects.assignee_person",
}


def _holder(holder: str | None) -> dict[str, int]:
    """The API's unit_id, team_id or user_id for a form's holder (none: keep the holder)."""
    if not holder:
        return {}
    kind, _, holder_id = holder.partition(":")
    return {f"{kind}_id": int(holder_id)}


class ResponsibilityForm(msgspec.Struct, kw_only=True):
    """The project page's form for a new responsibility: what, who (one choice), by when."""

    task: text(200, required=True)
    holder: Holder
    due_at: Moment | None = None


class ChangeForm(msgspec.Struct, kw_only=True):
    """The project page's form to reassign a responsibility or move its due date."""

    responsibility_id: Id
    # Named apart from the add form's holder: both forms are on one page.
    holder_change: Holder | None = None
    due_at: Moment | None = None


def runs(actor: Actor, community_code: str) -> bool:
    """Whether the actor may run the community's needs, plans and projects (community managers and
    street admins of its area, as the services and the API's guards decide)."""
    return actor.is_community_manager and actor.manages(community_code)


def due(now: datetime, deadline: datetime) -> tuple[str, tuple[str, dict[str, int]]]:
    """How far off a deadline is: a CSS class and the message (days left, hours left or overdue)."""
    left = deadline - now
    if left < timedelta(0):
        return "due-late", ("projects.overdue_days", {"days": math.ceil(-left / timedelta(days=1))})
    if left < timedelta(days=1):
        return "due-soon", ("projects.hours_left", {"hours": math.ceil(left / timedelta(hours=1))})
    return ("due-soon" if left < timedelta(days=3) else "due-ok"), ("projects.days_left", {"days": left.days})


def progress(pairs: Sequence[tuple[int, int]]) -> tuple[int, int, int]:
    """Commitments' (delivered, committed) as: mean share delivered (%), how many in full, of how many."""
    if not pairs:
        return 0, 0, 0
    share = sum(delivered / committed for delivered, committed in pairs) / len(pairs)
    return round(100 * share), sum(d == c for d, c in pairs), len(pairs)


async def _community(
    session: AsyncSession, actor: Actor, community_id: int | None
) -> tuple[list[AreaRead], AreaRead | None]:
    """The communities the actor follows and the one chosen: the given one, else their own, else the first."""
    followed = [area_read(a) for a in await projects.communities_followed(session, actor)]
    if community_id is not None:
        chosen = next((c for c in followed if c.id == community_id), None)
        if chosen is None:
            raise NotFound(f"Area {community_id} does not exist.", code="area_not_found")
        return followed, chosen
    own = next((c for c in followed if actor.area_code.startswith(c.code)), None)
    return followed, own or (followed[0] if followed else None)


async def _board_context(
    session: AsyncSession,
    actor: Actor,
    now: datetime,
    lang: str,
    *,
    community_id: int | None,
    show: Show | None = None,
    status: ProjectStatus | None = None,
    need_status: NeedStatus = NeedStatus.open,
    offset: int = 0,
) -> dict[str, Any]:
    followed, community = await _community(session, actor, community_id)
    context: dict[str, Any] = {
        "communities": followed,
        "community": community,
        "show": show,
        "status": status,
        "need_status": need_status,
        "limit": LIMIT,
        "runs": community is not None and runs(actor, community.code),
        "due": partial(due, now),
        "community_options": [(c.id, c.name) for c in followed],
        "project_status_options": word_options(lang, "project_status", ProjectStatus),
        "need_status_options": word_options(lang, "need_status", NeedStatus),
    }
    if community is None:
        return context
    context["filters"] = Form(
        {"community": str(community.id), "status": status or "", "need_status": need_status}
    )
    # The board shows the first page of each list; `show` pages through one of them.
    skip = offset if show else 0
    if show in (None, "projects"):
        items, total = await projects.list_projects(
            session, actor, community_id=community.id, status=status, limit=LIMIT, offset=skip
        )
        delivered = await projects.delivery_progress(session, [p.id for p in items])
        context["projects"] = Page(items, total, LIMIT, skip)
        context["progress"] = {p.id: progress(delivered.get(p.id, [])) for p in items}
    if show in (None, "needs"):
        rows, total = await needs.list_needs(
            session,
            actor,
            community_id=community.id,
            status=need_status,
            category=None,
            limit=LIMIT,
            offset=skip,
        )
        context["needs"] = Page(await needs.need_reads(session, rows), total, LIMIT, skip)
        # Residents' support beside each need's priority, and the weight plans give it.
        context["supports"] = await needs.support_counts(session, [n.id for n in rows])
        context["support_half"] = needs.SUPPORT_HALF
        context["weights"] = {
            n.id: round(needs.plan_weight(n.priority, context["supports"].get(n.id, 0)), 2) for n in rows
        }
    if show in (None, "resources"):
        rows, total = await units.list_resources(
            session,
            actor,
            community_id=community.id,
            unit_id=None,
            category=None,
            status=ResourceStatus.published,
            limit=LIMIT,
            offset=skip,
        )
        context["resources"] = Page(await units.resource_reads(session, rows), total, LIMIT, skip)
    return context


async def _need_community(session: AsyncSession, actor: Actor, community_id: int | None) -> AreaRead:
    """The community a need is published for (as `_community` chooses it), if the actor runs it."""
    _, community = await _community(session, actor, community_id)
    if community is None or not runs(actor, community.code):
        raise NotFound("No community of yours to publish needs for.", code="area_not_found")
    return community


async def _need_context(session: AsyncSession, lang: str, community: AreaRead) -> dict[str, Any]:
    places = await subtree(session, await get_area(session, community.id), NEED_PLACES)
    return {
        "community": community,
        # Deeper places are indented under their parents (the subtree comes sorted by code).
        "places": [(a.id, "\u3000" * NEED_PLACES.index(a.level) + a.name) for a in places],
        "category_options": word_options(lang, "resource_category", ResourceCategory),
        "priority_options": [(p, translate(lang, f"projects.priority_{p}")) for p in range(5, 0, -1)],
    }


async def _plan_context(session: AsyncSession, actor: Actor, plan_id: int) -> dict[str, Any]:
    plan = await needs.get_plan(session, actor, plan_id)
    community = area_read(await get_area(session, plan.community_id))
    named = await needs.needs_by_id(
        session, {f.need_id for f in plan.flows} | {u.need_id for u in plan.unmet}
    )
    return {
        "plan": plan,
        "community": community,
        "needs": {n.id: n for n in await needs.need_reads(session, named)},
        "runs": runs(actor, community.code) and plan.status == PlanStatus.proposed,
    }


async def _project_context(
    session: AsyncSession,
    actor: Actor,
    lang: str,
    project_id: int,
    now: datetime,
    form_for: str | None,
    search: str = "",
) -> dict[str, Any]:
    """The project page; `search` is what the manager looks for among the volunteers to add."""
    project = await projects.get_project(session, actor, project_id)
    community = area_read(await get_area(session, project.community_id))
    acting = runs(actor, community.code)
    found = []
    if acting and PROJECT_MACHINE.allows(project.status, ProjectAction.add_participant):
        found = await projects.participant_candidates(
            session, project.id, community.code, search.strip(), CANDIDATES + 1
        )
    deliveries = sorted(((d, c) for c in project.commitments for d in c.deliveries), key=lambda dc: dc[0].at)
    holders = await projects.holder_choices(session, project) if acting else {}
    return {
        "holder_options": [
            (
                f"{kind}:{holder_id}",
                translate(lang, "projects.holder_option", name=name, kind=translate(lang, word)),
            )
            for kind, word in HOLDER_KINDS.items()
            for holder_id, name in holders.get(kind, [])
        ],
        "open_responsibilities": [(r.id, r.task) for r in project.responsibilities if r.done_at is None],
        "project": project,
        "community": community,
        "runs": acting,
        "names": await user_names(session, _people(project)),
        "search": Form({"q": search}),
        "candidates": found[:CANDIDATES],
        "more_candidates": len(found) > CANDIDATES,
        "commitment_options": [
            (
                c.id,
                translate(
                    lang,
                    "projects.commitment_option",
                    unit=c.unit_name,
                    resource=c.resource_title,
                    n=c.outstanding,
                    measure=c.unit_of_measure,
                ),
            )
            for c in project.commitments
            if c.outstanding
        ],
        "participant_options": [(p.id, p.name) for p in project.participants],
        "deliveries": deliveries,
        "units": {c.unit_id: c.unit_name for c in project.commitments},
        "resources": {c.resource_id: c for c in project.commitments},
        "need_titles": {n.id: n.title for n in project.needs},
        "need_measures": {n.id: n.unit_of_measure for n in project.needs},
        "responsibility_due": {r.id: r.due_at for r in project.responsibilities},
        "typed_notes": TYPED_NOTES,
        "form_for": form_for,
        "due": partial(due, now),
    }


def _people(project: ProjectRead) -> set[int]:
    """Everyone the project page names by id only: participants (in the summary's points), who
    recorded, confirmed or did what, who closed it. The history carries its actors' names."""
    ids = {p.user_id for p in project.participants}
    ids |= {d.recorded_by_id for c in project.commitments for d in c.deliveries}
    ids |= {c.confirmed_by_id for c in project.commitments if c.confirmed_by_id}
    ids |= {r.done_by_id for r in project.responsibilities if r.done_by_id}
    if project.summary and project.summary.closed_by_id:
        ids.add(project.summary.closed_by_id)
    return ids


async def _act(
    request: ActorRequest,
    session: AsyncSession,
    now: datetime,
    project_id: int,
    data: Mapping[str, Any] | None,
    form_for: str,
    work: Callable[[Form], Awaitable[None]],
    fields: Mapping[str, str] | None = None,
    shown: Collection[str] | None = None,
) -> Redirect:
    """Run one of the project page's forms; on a refusal show the page again with the errors
    at that form (`form_for`). A search for volunteers (`q`) the form was sent from is kept."""
    form = Form.of(data)
    search = str(form.value("q"))[:SEARCH_LENGTH]
    async with handling(
        session,
        form,
        PROJECT,
        lambda: _project_context(session, request.user, lang_of(request), project_id, now, form_for, search),
        fields=fields,
        shown=shown,
    ):
        await work(form)
    return see_other(url(f"/desk/projects/{project_id}", q=search), notice=f"projects_{form_for}_done")


class ProjectPages(Controller):
    path = "/desk/projects"
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def board(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        community: query_id("The community shown") = None,
        show: Annotated[Show | None, QueryParameter()] = None,
        status: Annotated[ProjectStatus | None, QueryParameter()] = None,
        need_status: Annotated[NeedStatus, QueryParameter()] = NeedStatus.open,
        offset: Offset = 0,
    ) -> Template:
        context = await _board_context(
            session,
            request.user,
            now,
            lang_of(request),
            community_id=community,
            show=show,
            status=status,
            need_status=need_status,
            offset=offset,
        )
        return page(request, BOARD, form=Form(), **context)

    @get("/needs/new", guards=[requires_community_manager])
    async def need_form(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community: query_id("The community the need is for") = None,
    ) -> Template:
        chosen = await _need_community(session, request.user, community)
        form = Form({"community_id": str(chosen.id), "area_id": str(chosen.id), "priority": "3"})
        return page(request, NEED_FORM, form=form, **await _need_context(session, lang_of(request), chosen))

    @post("/needs/new", guards=[requires_community_manager])
    async def publish_need(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        chosen = await _need_community(session, request.user, form_int(form, "community_id", le=ID_MAX))
        refusals = {c: "area_id" for c in ("area_not_found", "not_in_a_community", "outside_your_area")}
        fields = {**refusals, "deadline_passed": "deadline"}
        async with handling(
            session, form, NEED_FORM, lambda: _need_context(session, lang_of(request), chosen), fields=fields
        ):
            need = await needs.create_need(session, request.user, parse(form, NeedCreate, settings.tz), now)
        back = f"/desk/projects?community={need.community_id}&show=needs"
        return see_other(back, notice="projects_need_published")

    @post("/allocations", guards=[requires_community_manager])
    async def make_plan(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        community_id = form_int(form, "community_id", le=ID_MAX)
        async with handling(
            session,
            form,
            BOARD,
            lambda: _board_context(session, request.user, now, lang_of(request), community_id=community_id),
        ):
            body = parse(form, PlanCreate, settings.tz)
            plan = await needs.create_plan(session, request.user, body.community_id, now)
        return see_other(f"/desk/projects/allocations/{plan.id}")

    @get("/allocations/{plan_id:int}")
    async def plan(
        self,
        request: ActorRequest,
        plan_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        context = await _plan_context(session, request.user, plan_id)
        plan, community = context["plan"], context["community"]
        proposed = [f for f in plan.flows if f.outcome == FlowOutcome.proposed]
        deadlines = [context["needs"][f.need_id].deadline for f in proposed]
        form = Form(
            {
                "flow_ids": [str(f.id) for f in proposed],
                "title": translate(
                    lang_of(request), "projects.plan_project_title", community=community.name, id=plan.id
                ),
                "deadline": local_input(min(deadlines), settings.tz) if deadlines else "",
            }
        )
        return page(request, PLAN, form=form, **context)

    @post("/allocations/{plan_id:int}/apply", guards=[requires_community_manager])
    async def apply_plan(
        self,
        request: ActorRequest,
        plan_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        fields = {"deadline_passed": "deadline", "window_order": "deadline", "flows_not_in_plan": "flow_ids"}
        async with handling(
            session, form, PLAN, lambda: _plan_context(session, request.user, plan_id), fields=fields
        ):
            if not form.all("flow_ids"):
                # The API applies every flow when none are named; on the page, none ticked means none.
                form.errors["flow_ids"] = ("projects.choose_flows", {})
            body = parse(form, ApplyRequest, settings.tz)
            project = await needs.apply_plan(session, request.user, plan_id, body, now)
        return see_other(f"/desk/projects/{project.id}", notice="projects_plan_applied")

    @get("/{project_id:int}")
    async def project(
        self,
        request: ActorRequest,
        project_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        commitment: query_id("The commitment the delivery form starts with") = None,
        q: Search = "",
    ) -> Template:
        context = await _project_context(
            session, request.user, lang_of(request), project_id, now, "delivery", q
        )
        return page(request, PROJECT, form=Form({"commitment_id": str(commitment or "")}), **context)

    @post("/{project_id:int}/deliveries")
    async def deliver(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, DeliveryForm, settings.tz)
            await projects.record_delivery(
                session, request.user, project_id, body.commitment_id, body.quantity, body.note, now
            )

        fields = {"exceeds_commitment": "quantity", "commitment_not_found": "commitment_id"}
        return await _act(request, session, now, project_id, data, "delivery", work, fields)

    @post("/{project_id:int}/participants", guards=[requires_community_manager])
    async def add_participant(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, ParticipantCreate, settings.tz)
            await projects.add_participant(session, request.user, project_id, body.user_id, now)

        # The volunteer is a button's value: what is wrong with it is said above the list.
        return await _act(request, session, now, project_id, data, "participant", work, shown=())

    @post("/{project_id:int}/hours", guards=[requires_community_manager])
    async def record_hours(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, HoursForm, settings.tz)
            await projects.record_hours(
                session, request.user, project_id, body.participant_id, body.hours, now
            )

        fields = {"participant_not_found": "participant_id"}
        return await _act(request, session, now, project_id, data, "hours", work, fields)

    @post("/{project_id:int}/responsibilities/{responsibility_id:int}/done")
    async def responsibility_done(
        self,
        request: ActorRequest,
        project_id: PathId,
        responsibility_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(_form: Form) -> None:
            await projects.complete_responsibility(session, request.user, project_id, responsibility_id, now)

        return await _act(request, session, now, project_id, None, "responsibility", work)

    @post("/{project_id:int}/responsibilities", guards=[requires_community_manager])
    async def add_responsibility(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, ResponsibilityForm, settings.tz)
            data = ResponsibilityCreate(task=body.task, due_at=body.due_at, **_holder(body.holder))
            await projects.add_responsibility(session, request.user, project_id, data, now)

        fields = {
            "due_passed": "due_at",
            "due_after_deadline": "due_at",
            "unit_not_found": "holder",
            "team_not_found": "holder",
            "user_not_found": "holder",
        }
        return await _act(request, session, now, project_id, data, "add_responsibility", work, fields)

    @post("/{project_id:int}/responsibilities/change", guards=[requires_community_manager])
    async def change_responsibility(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, ChangeForm, settings.tz)
            change = ResponsibilityChange(due_at=body.due_at, **_holder(body.holder_change))
            await projects.change_responsibility(
                session, request.user, project_id, body.responsibility_id, change, now
            )

        fields = {
            "due_passed": "due_at",
            "due_after_deadline": "due_at",
            "unit_not_found": "holder_change",
            "team_not_found": "holder_change",
            "user_not_found": "holder_change",
            "responsibility_not_found": "responsibility_id",
        }
        return await _act(request, session, now, project_id, data, "change_responsibility", work, fields)

    @post("/{project_id:int}/close", guards=[requires_community_manager])
    async def close(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, CloseRequest, settings.tz)
            await projects.close(session, request.user, project_id, now, settings, body.note)

        fields = {"close_note_required": "note"}
        return await _act(request, session, now, project_id, data, "close", work, fields)

    @post("/{project_id:int}/cancel", guards=[requires_community_manager])
    async def cancel(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async def work(form: Form) -> None:
            body = parse(form, CancelRequest, settings.tz)
            await projects.cancel(session, request.user, project_id, body.reason, now)

        return await _act(request, session, now, project_id, data, "cancel", work)


CONTROLLERS: list[type[Controller]] = [ProjectPages]

"""Pages: the dispatch desk of grid workers and managers. The area's waiting, late and escalated
orders; plans (run one, read each proposed pair and why, apply all or some); an order dispatched,
rejected or cancelled by hand. Every page calls the services the API calls, which keep each
person inside their own area."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, ServerSentEvent, Template
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import AreaLevel
from market.areas.schemas import AreaRead
from market.areas.service import area_read, get_area, managed_area, managed_areas, place_paths, subtree
from market.auth.access import Actor, ActorRequest, requires_manager
from market.auth.service import user_names
from market.dispatch import eligibility, offers
from market.dispatch import service as dispatch
from market.dispatch.eligibility import Reason
from market.dispatch.models import PairOutcome
from market.dispatch.schemas import ApplyRequest, DispatchRequest, PlanCreate, SwapRequest
from market.errors import Forbidden, NotFound, Unprocessable
from market.fields import PathId, query_id, query_text
from market.orders import service as orders
from market.orders.models import ORDER_MACHINE, Order, OrderAction
from market.orders.schemas import ConfirmRequest, OrderDetail, OrderRead, ReasonRequest
from market.pagination import MAX_OFFSET, Offset
from market.photos import service as photos
from market.settings import Settings
from market.teams.service import list_teams
from market.volunteers.service import list_volunteers
from market.web.i18n import Message, lang_of, translate
from market.web.live import live, render_fragment
from market.web.pages import (
    CONFIRM_FIELDS,
    Form,
    FormData,
    FormInvalid,
    category_names,
    form_int,
    handling,
    page,
    parse,
    see_other,
)

PATH = "/desk/dispatch"
BOARD = "desk/dispatch_board.html"
BOARD_LIST = "desk/dispatch_board_list.html"
PLAN = "desk/dispatch_plan.html"
ORDER = "desk/dispatch_order.html"
LIMIT = 20
RECENT_PLANS = 10
SectionName = Annotated[str, QueryParameter(pattern="^(" + "|".join(orders.BOARD_SECTIONS) + ")$")]
CategoryCode = Annotated[str | None, QueryParameter(max_length=32, pattern=r"^[a-z0-9_]*$")]

# Service refusals of a dispatch by hand, shown next to the field they are about.
DISPATCH_FIELDS = {
    "volunteers_or_team": "volunteer_ids",
    "direct_needs_one": "volunteer_ids",
    "pool_needs_several": "volunteer_ids",
    "volunteers_not_eligible": "volunteer_ids",
    "team_dispatch_is_pool": "team_id",
    "no_team_member_eligible": "team_id",
    "team_not_found": "team_id",
    "team_inactive": "team_id",
}


def skip_reason(lang: str, reason: str, order: OrderRead | None) -> str:
    """Why applying a plan skipped a pair, from its code; an order no longer waiting says what it is."""
    if reason == Reason.not_waiting and order is not None:
        return translate(
            lang, "eligibility.not_waiting_now", status=translate(lang, f"order_status.{order.status}")
        )
    return translate(lang, f"eligibility.{reason}")


def _list_offset(form: Form) -> int:
    """Where the order page's volunteer list was (its forms send it back), to show the same
    volunteers again when a form is refused; a value that is no offset starts the list over."""
    return form_int(form, "offset", le=MAX_OFFSET) or 0


def waited(now: datetime, since: datetime) -> Message:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 60:
        return ("dispatch.minutes", {"m": minutes})
    if minutes < 1440:
        return ("dispatch.hours", {"h": minutes // 60, "m": minutes % 60})
    return ("dispatch.days", {"d": minutes // 1440, "h": minutes // 60 % 24})


async def _shared(request: ActorRequest, session: AsyncSession, now: datetime) -> dict[str, Any]:
    """What every desk page shows: category names in the page's language, waiting times."""
    return {"categories": await category_names(session, lang_of(request)), "waited": partial(waited, now)}


@dataclass(frozen=True)
class BoardQuery:
    """What the board shows: the area (default: the person's own), one of its grids, a section,
    the orders found by a search and of a category, from an offset."""

    area_id: int | None = None
    grid_id: int | None = None
    section: str = "waiting"
    q: str | None = None
    category: str | None = None
    offset: int = 0

    def link(self, **changed: Any) -> dict[str, Any]:
        """The query of a link that keeps the board's filters (from the first page, unless
        `changed` names an offset)."""
        kept = {k: v for k, v in dataclasses.asdict(self).items() if k != "offset"}
        return {k: v for k, v in (kept | changed).items() if v is not None}


@dataclass(frozen=True)
class BoardScope:
    areas: list[AreaRead]
    area: AreaRead
    grids: list[AreaRead]
    # The board's orders are those inside this code: the grid chosen, or the area.
    code: str


async def _scope(session: AsyncSession, actor: Actor, query: BoardQuery) -> BoardScope:
    """The areas the board may show; refuses an area (or grid) outside the actor's own before
    anything of it is read."""
    areas = await managed_areas(session, actor)
    chosen = query.area_id or actor.area_id or next((a.id for a in areas), None)
    if chosen is None:
        raise NotFound("There are no areas yet.", code="area_not_found")
    # Plain reads, not rows: a refused form rolls the session back before the page renders again.
    row = await managed_area(session, actor, chosen)
    area = area_read(row)
    # The grids inside the area, to narrow the board to one (none for a grid's own board).
    grids = [area_read(g) for g in await subtree(session, row, [AreaLevel.grid]) if g.id != row.id]
    code = area.code
    if query.grid_id is not None:
        grid = next((g for g in grids if g.id == query.grid_id), None)
        if grid is None:
            raise NotFound(f"Area {query.grid_id} is no grid of {area.name}.", code="area_not_found")
        code = grid.code
    # A smaller area asked for by its id (a compound) is offered too, first.
    known = {a.id for a in areas}
    return BoardScope(([] if area.id in known else [area]) + [area_read(a) for a in areas], area, grids, code)


async def _board_list(
    request: ActorRequest,
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    query: BoardQuery,
    scope: BoardScope,
) -> dict[str, Any]:
    """The live part of the board: its sections' counts and the page of orders shown."""
    actor = request.user
    found = {"search": query.q or None, "category": query.category or None}
    counts = await orders.board_counts(session, actor, scope.code, now, settings, **found)
    items = await orders.list_board(
        session, actor, scope.code, query.section, now, settings, LIMIT, query.offset, **found
    )
    return {
        **await _shared(request, session, now),
        "query": query,
        "area": scope.area,
        "board_sections": orders.BOARD_SECTIONS,
        "section": query.section,
        "counts": counts,
        "items": items,
        "places": await place_paths(session, {o.area.code for o in items}),
        "pending": await orders.pending_offer_counts(session, [o.id for o in items]),
        "limit": LIMIT,
        "offset": query.offset,
        "deadlines": {
            "minutes": settings.escalate_grid_minutes,
            "community": settings.escalate_community_hours,
            "street": settings.escalate_street_hours,
        },
    }


async def _board(
    request: ActorRequest, session: AsyncSession, settings: Settings, now: datetime, query: BoardQuery
) -> dict[str, Any]:
    actor = request.user
    scope = await _scope(session, actor, query)
    plans, plan_total = await dispatch.list_plans(session, actor, scope.area.id, RECENT_PLANS, 0)
    return {
        **await _board_list(request, session, settings, now, query, scope),
        "areas": scope.areas,
        "grids": scope.grids,
        "area_names": {a.id: a.name for a in scope.areas},
        "plans": plans,
        "plan_total": plan_total,
    }


async def _plan(
    request: ActorRequest, session: AsyncSession, settings: Settings, now: datetime, plan_id: int
) -> dict[str, Any]:
    plan = await dispatch.get_plan(session, request.user, plan_id)
    order_ids = [p.order_id for p in plan.pairs] + [u.order_id for u in plan.unassigned]
    eligible = await dispatch.eligible_volunteers(session, plan, now, settings)
    names = await user_names(session, {v for ids in eligible.values() for v in ids})
    return {
        **await _shared(request, session, now),
        "plan": plan,
        "area_name": (await get_area(session, plan.area_id)).name,
        "orders": await orders.orders_by_id(session, request.user, order_ids),
        "outcomes": Counter(p.outcome for p in plan.pairs),
        "open_pairs": [p for p in plan.pairs if p.outcome == PairOutcome.proposed],
        # Whom each pair's volunteer may be swapped for, by name.
        "swaps": {
            p.id: [(v, names.get(v, "")) for v in eligible[p.id] if v != p.volunteer_id]
            for p in plan.pairs
            if p.id in eligible
        },
        "skip_reason": partial(skip_reason, lang_of(request)),
    }


async def _managed(session: AsyncSession, actor: Actor, order_id: int) -> OrderDetail:
    """The order, when the actor is one of its grid workers or managers."""
    order = await orders.get_order(session, actor, order_id)
    if not actor.manages(order.area.code):
        raise Forbidden("Only the order's grid workers and managers can do this.", code="manager_required")
    return order


async def _order(
    request: ActorRequest,
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    order_id: int,
    offset: int = 0,
) -> dict[str, Any]:
    actor = request.user
    order = await _managed(session, actor, order_id)
    can_dispatch = ORDER_MACHINE.allows(order.status, OrderAction.dispatch)
    volunteers, total = [], 0
    if can_dispatch:
        # Those GET /api/volunteers lists for the order: skilled, serving there, free and with room.
        volunteers, total = await list_volunteers(
            session,
            actor,
            settings.tz,
            area_id=order.area.id,
            skill=order.category,
            free_from=order.window_start,
            free_until=order.window_end,
            limit=LIMIT,
            offset=offset,
        )
    # The list searches by skill, place, time and room; the rule says who of them may be offered it.
    row = await session.get(Order, order_id)
    not_eligible = (
        await eligibility.check(session, row, [v.user_id for v in volunteers], now, settings.tz)
        if row is not None and volunteers
        else {}
    )
    teams, _ = await list_teams(
        session, area_id=order.area.id, speciality=None, member_id=None, active=True, limit=100, offset=0
    )
    lang = lang_of(request)
    return {
        **await _shared(request, session, now),
        "order": order,
        "photos": await photos.list_photos(session, actor, order_id),
        "can_dispatch": can_dispatch,
        "rating_options": [(n, "★" * n) for n in range(5, 0, -1)],
        "volunteers": volunteers,
        "volunteer_total": total,
        "limit": LIMIT,
        "offset": offset,
        "offered_before": {o.volunteer_id: o.status for o in order.offers},
        "not_eligible": not_eligible,
        "team_options": [
            (team.id, translate(lang, "dispatch.team_option", name=team.name, count=team.member_count))
            for team in teams
        ],
        "default_ttl": settings.offer_ttl_minutes,
        "typed_notes": orders.TYPED_NOTES,
    }


class DispatchDesk(Controller):
    path = PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def board(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        area_id: query_id("The area whose orders the board shows") = None,
        grid_id: query_id("One grid of the area") = None,
        section: SectionName = "waiting",
        q: query_text(50, "Part of the description, the place or the requester's name") = None,
        category: CategoryCode = None,
        offset: Offset = 0,
    ) -> Template:
        query = BoardQuery(area_id, grid_id, section, q, category, offset)
        context = await _board(request, session, settings, now, query)
        return page(request, BOARD, form=Form(), **context)

    @get("/stream")
    async def stream(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        area_id: query_id("The area whose orders the board shows") = None,
        grid_id: query_id("One grid of the area") = None,
        section: SectionName = "waiting",
        q: query_text(50, "Part of the description, the place or the requester's name") = None,
        category: CategoryCode = None,
        offset: Offset = 0,
    ) -> ServerSentEvent:
        """The board's orders, sent at once and again whenever the orders it shows change: a new
        order posted in the area appears without a reload. Only the actor's own area is streamed."""
        query = BoardQuery(area_id, grid_id, section, q, category, offset)
        scope = await _scope(session, request.user, query)
        found = {"search": q or None, "category": category or None}

        async def shown(poll: AsyncSession) -> tuple[dict[str, int], list[tuple[int, str]]]:
            counts = await orders.board_counts(poll, request.user, scope.code, now, settings, **found)
            items = await orders.list_board(
                poll, request.user, scope.code, section, now, settings, LIMIT, offset, **found
            )
            return counts, [(o.id, o.status) for o in items]

        async def render(poll: AsyncSession, _shown: object) -> str:
            context = await _board_list(request, poll, settings, now, query, scope)
            return render_fragment(request, BOARD_LIST, context)

        return live(session_maker, settings, shown, render)

    @post("/plans")
    async def run_plan(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        # The area is the board's, in a hidden input: what is wrong with it is said above the button.
        async with handling(
            session, form, BOARD, lambda: _board(request, session, settings, now, BoardQuery()), shown=()
        ):
            body = parse(form, PlanCreate, settings.tz)
            plan = await dispatch.create_plan(session, request.user, body.area_id, None, now, settings)
        return see_other(f"{PATH}/plans/{plan.id}", notice="dispatch_plan_made")

    @get("/plans/{plan_id:int}")
    async def plan(
        self,
        request: ActorRequest,
        plan_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        return page(request, PLAN, form=Form(), **await _plan(request, session, settings, now, plan_id))

    @post("/plans/{plan_id:int}/pairs/{pair_id:int}/swap")
    async def swap_volunteer(
        self,
        request: ActorRequest,
        plan_id: PathId,
        pair_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        """Propose another eligible volunteer for a pair not yet applied."""
        form = Form.of(data)
        async with handling(session, form, PLAN, lambda: _plan(request, session, settings, now, plan_id)):
            body = parse(form, SwapRequest, settings.tz)
            try:
                await dispatch.swap_volunteer(
                    session, request.user, plan_id, pair_id, body.volunteer_id, now, settings
                )
            except Unprocessable as refused:
                # Why in words too, from the reason codes the rule gave.
                form.problems.extend((f"eligibility.{r}", {}) for r in refused.extra.get("reasons", ()))
                raise
        return see_other(f"{PATH}/plans/{plan_id}", notice="dispatch_pair_swapped")

    @post("/plans/{plan_id:int}/apply")
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
        async with handling(
            session,
            form,
            PLAN,
            lambda: _plan(request, session, settings, now, plan_id),
            fields={"pairs_not_in_plan": "pair_ids", "pairs_already_applied": "pair_ids"},
        ):
            # "Apply all" names no pairs: the service then offers every pair still proposed.
            pair_ids = None
            if form.value("scope") != "all":
                pair_ids = parse(form, ApplyRequest, settings.tz).pair_ids
                if pair_ids is None:
                    form.errors["pair_ids"] = ("dispatch.choose_pairs", {})
                    raise FormInvalid
            await dispatch.apply_plan(session, request.user, plan_id, pair_ids, now, settings)
        return see_other(f"{PATH}/plans/{plan_id}", notice="dispatch_plan_applied")

    @get("/orders/{order_id:int}")
    async def order(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        context = await _order(request, session, settings, now, order_id, offset)
        form = Form({"mode": "direct", "offer_ttl_minutes": settings.offer_ttl_minutes})
        return page(request, ORDER, form=form, **context)

    @post("/orders/{order_id:int}/dispatch")
    async def dispatch_order(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            ORDER,
            lambda: _order(request, session, settings, now, order_id, _list_offset(form)),
            fields=DISPATCH_FIELDS,
        ):
            # The mode is about the volunteers ticked; an offer to a team is always a pool.
            mode = (form.value("mode") or None) if form.all("volunteer_ids") else None
            body = parse(form, DispatchRequest, settings.tz, mode=mode)
            await offers.dispatch(session, request.user, order_id, body, now, settings)
        return see_other(f"{PATH}/orders/{order_id}", notice="dispatch_order_offered")

    @post("/orders/{order_id:int}/reject")
    async def reject(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _close(request, data, session, settings, now, order_id, orders.reject, "rejected")

    @post("/orders/{order_id:int}/cancel")
    async def cancel(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _close(request, data, session, settings, now, order_id, _cancel, "cancelled")

    @post("/orders/{order_id:int}/confirm")
    async def confirm_for_resident(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        """Confirm an order entered for a resident, with the rating they gave when asked."""
        form = Form.of(data)
        async with handling(
            session,
            form,
            ORDER,
            lambda: _order(request, session, settings, now, order_id, _list_offset(form)),
            fields=CONFIRM_FIELDS,
        ):
            body = parse(form, ConfirmRequest, settings.tz)
            await orders.confirm(session, request.user, order_id, body, now, settings.tz)
        return see_other(f"{PATH}/orders/{order_id}", notice="dispatch_order_confirmed")


async def _cancel(session: AsyncSession, actor: Actor, order_id: int, reason: str, now: datetime) -> None:
    """Cancel from the desk only as one of the order's managers: the service also lets the resident
    who posted it, from their own page."""
    await _managed(session, actor, order_id)
    await orders.cancel(session, actor, order_id, reason, now)


async def _close(
    request: ActorRequest,
    data: dict[str, Any],
    session: AsyncSession,
    settings: Settings,
    now: datetime,
    order_id: int,
    action: Callable[[AsyncSession, Actor, int, str, datetime], Awaitable[None]],
    outcome: str,
) -> Redirect:
    """Reject or cancel an order with the reason typed."""
    form = Form.of(data)
    async with handling(
        session, form, ORDER, lambda: _order(request, session, settings, now, order_id, _list_offset(form))
    ):
        body = parse(form, ReasonRequest, settings.tz)
        await action(session, request.user, order_id, body.reason, now)
    return see_other(f"{PATH}/orders/{order_id}", notice=f"dispatch_order_{outcome}")


CONTROLLERS: list[type[Controller]] = [DispatchDesk]

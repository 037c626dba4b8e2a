"""Pages: the grid informant's phone (网格信息员) — report a neighbour's need (find them by phone or
register them on the spot, then the order, channel `informant`), and follow what became of each
report. Only in the informant's own grid (market/informants)."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.auth.access import ActorRequest, requires
from market.auth.models import Role, User
from market.errors import NotFound
from market.fields import query_id, query_text
from market.informants import service as informants
from market.informants.schemas import NeighbourCreate
from market.orders.models import Urgency
from market.orders.schemas import OrderCreate
from market.pagination import Offset
from market.privacy import mask_name
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import (
    Form,
    FormData,
    category_names,
    handling,
    local_input,
    page,
    parse,
    place_name,
    see_other,
    url,
    word_options,
)

HOME = "/i/reports"
NEW = "/i/reports/new"
PAGE = "phone/informant_report_new.html"
PAGE_SIZE = 20
REPORT_FIELDS = {
    "unknown_category": "category",
    "area_not_found": "area_id",
    "outside_your_grid": "area_id",
    "outside_their_community": "area_id",
    "area_too_broad": "area_id",
    "invalid_window": "window_end",
    "window_too_long": "window_end",
    "window_in_past": "window_start",
    "window_too_far": "window_start",
}
REGISTER_FIELDS = {
    "phone_taken": "phone",
    "area_not_found": "area_id",
    "not_a_building": "area_id",
    "outside_your_grid": "area_id",
}
# The report form's fields that show their own error; anything else is said above the form.
SHOWN = frozenset(
    {"category", "description", "area_id", "address_detail", "window_start", "window_end", "urgency"}
)


async def _context(
    request: ActorRequest, session: AsyncSession, phone: str = "", resident: User | None = None
) -> dict[str, Any]:
    actor = request.user
    places = await informants.grid_places(session, actor)
    names = {a.code: a.name for a in places}
    options = [(a.id, place_name(a.code, a.name, names)) for a in places]
    # Plain values, not rows: a refused form's page is rendered after its transaction rolled back.
    context: dict[str, Any] = {
        "phone": phone,
        "resident": {"id": resident.id, "name": mask_name(resident.name)} if resident else None,
    }
    if resident is None:
        found = await informants.find_neighbour(session, actor, phone) if phone else None
        return context | {
            "found": {"id": found.id, "name": mask_name(found.name)} if found else None,
            "buildings": [(i, n) for (i, n), a in zip(options, places, strict=True) if a.level == "building"],
        }
    return context | {
        "areas": options,
        "categories": list((await category_names(session, lang_of(request), active_only=True)).items()),
        "urgencies": word_options(lang_of(request), "urgency", Urgency),
    }


def _report_form(resident: User, now: datetime, settings: Settings) -> Form:
    local = now.astimezone(settings.tz)
    start = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if start.hour >= 20:  # late in the day: nine tomorrow
        start = datetime.combine(local.date() + timedelta(days=1), time(9), settings.tz)
    return Form(
        {
            "area_id": resident.area_id or "",
            "urgency": Urgency.normal.value,
            "window_start": local_input(start, settings.tz),
            "window_end": local_input(start + timedelta(hours=2), settings.tz),
            # One report per form shown: a second click of the same form finds the first one.
            "entry_key": secrets.token_urlsafe(16),
        }
    )


class InformantPages(Controller):
    path = HOME
    guards = [requires(Role.informant)]
    include_in_schema = False

    @get("/")
    async def reports(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        categories = await category_names(session, lang_of(request))
        items, total = await informants.my_reports(session, request.user, categories, PAGE_SIZE, offset)
        return page(
            request,
            "phone/informant_reports.html",
            reports=items,
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
        )

    @get("/new")
    async def start(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        phone: query_text(11, "The neighbour's phone number") = None,
        resident: query_id("The neighbour the report is for") = None,
    ) -> Template:
        if resident is not None:
            chosen = await informants.neighbour(session, request.user, resident)
            context = await _context(request, session, resident=chosen)
            return page(request, PAGE, form=_report_form(chosen, now, settings), **context)
        phone = (phone or "").strip()
        context = await _context(request, session, phone)
        # Nobody in the grid has that number: it is most likely the one to register.
        return page(request, PAGE, form=Form({"phone": phone if not context["found"] else ""}), **context)

    @post("/neighbour")
    async def register(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(session, form, PAGE, lambda: _context(request, session), fields=REGISTER_FIELDS):
            body = parse(form, NeighbourCreate, settings.tz)
            user = await informants.register_neighbour(session, request.user, body, now)
        return see_other(url(NEW, resident=user.id), notice="informant_neighbour_registered")

    @post("/new")
    async def report(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        resident: query_id("The neighbour the report is for") = None,
    ) -> Redirect:
        actor = request.user
        if resident is None:
            raise NotFound("Choose the neighbour first.", code="resident_not_found")
        chosen = await informants.neighbour(session, actor, resident)
        form = Form.of(data)
        key = str(form.value("entry_key"))[: idempotency.MAX_KEY_LENGTH - 10]

        async def context() -> dict[str, Any]:
            again = await informants.neighbour(session, actor, resident)
            return await _context(request, session, resident=again)

        async with handling(session, form, PAGE, context, fields=REPORT_FIELDS, shown=SHOWN):
            body = parse(form, OrderCreate, settings.tz)
            claim = None
            if key:
                fingerprint = idempotency.fingerprint("POST", f"{NEW}?resident={chosen.id}", key.encode())
                try:
                    claim = await idempotency.claim(session, actor.id, f"informant:{key}", fingerprint, now)
                except idempotency.Replay:
                    # The same form sent twice (a double click): the first one reported it.
                    return see_other(HOME, notice="informant_reported")
            await informants.report(
                session, actor, chosen.id, body, now, max_open=settings.open_orders_per_resident
            )
            if claim is not None:
                await idempotency.finish(
                    session, claim, idempotency.StoredResponse(303, "text/plain", HOME.encode())
                )
        return see_other(HOME, notice="informant_reported")


CONTROLLERS: list[type[Controller]] = [InformantPages]

"""Pages: entering an order for a resident (代下单). A grid worker or community manager finds the
resident who phoned, walked in or was met on a round by phone or name, or registers them on the
spot (phone, name, building, no password), and enters the order with the channel it came by.
The order is the resident's own: it is on their phone, and they are told of it."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.areas.models import AreaLevel
from market.areas.service import managed_areas
from market.auth import service as auth
from market.auth.access import Actor, ActorRequest, requires_manager
from market.auth.models import Role, User
from market.auth.schemas import PersonName, Phone, UserCreate
from market.errors import NotFound
from market.fields import Id, query_id, query_text
from market.orders import service as orders
from market.orders.models import ENTERED_CHANNELS, OrderChannel, Urgency
from market.orders.schemas import OrderEntry
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

PATH = "/desk/orders/new"
PAGE = "desk/orders_new.html"
FOUND = 20

ORDER_FIELDS = {
    "unknown_category": "category",
    "area_not_found": "area_id",
    "outside_their_community": "area_id",
    "outside_your_area": "area_id",
    "area_too_broad": "area_id",
    "invalid_window": "window_end",
    "window_too_long": "window_end",
    "window_in_past": "window_start",
    "window_too_far": "window_start",
    "invalid_channel": "channel",
}
REGISTER_FIELDS = {
    "phone_taken": "phone",
    "area_not_found": "area_id",
    "outside_your_area": "area_id",
}


class ResidentRegistration(msgspec.Struct):
    """The register-on-the-spot form: a resident, who gets no password (see `UserCreate`)."""

    phone: Phone
    name: PersonName
    area_id: Id


def _start(now: datetime, tz: ZoneInfo) -> datetime:
    """A suggested window start: the next whole hour, or nine tomorrow once the day is late."""
    local = now.astimezone(tz)
    start = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if start.hour >= 20:
        start = datetime.combine(local.date() + timedelta(days=1), time(9), tz)
    return start


async def _resident(session: AsyncSession, actor: Actor, resident_id: int) -> User:
    """A resident the actor may enter orders for (404 for anyone they may not see)."""
    user = await auth.get_visible_user(session, actor, resident_id)
    if Role.resident not in user.roles or user.area is None or not actor.manages(user.area.code):
        raise NotFound(f"Resident {resident_id} does not exist.", code="resident_not_found")
    return user


async def _buildings(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    """Where a new resident may live: the buildings of the actor's area."""
    areas = await managed_areas(session, actor, (AreaLevel.compound, AreaLevel.building))
    names = {a.code: a.name for a in areas}
    return [(a.id, place_name(a.code, a.name, names)) for a in areas if a.level == AreaLevel.building]


async def _context(
    request: ActorRequest, session: AsyncSession, q: str = "", resident: User | None = None
) -> dict[str, Any]:
    actor = request.user
    lang = lang_of(request)
    # Reads, not rows: a refused form's page is rendered after its transaction has rolled back.
    context: dict[str, Any] = {
        "q": q,
        "resident": auth.user_read(resident) if resident else None,
        "found": [],
        "total": 0,
    }
    if resident is None:
        if q:
            found, total = await auth.list_users(
                session, actor, role=Role.resident, query=q, limit=FOUND, offset=0
            )
            context |= {"found": [auth.user_read(u) for u in found if u.is_active], "total": total}
        context["buildings"] = await _buildings(session, actor)
        return context
    places = [a for a in await orders.order_areas(session, auth.actor_of(resident)) if actor.manages(a.code)]
    names = {a.code: a.name for a in places}
    return context | {
        "areas": [(a.id, place_name(a.code, a.name, names)) for a in places],
        "categories": list((await category_names(session, lang, active_only=True)).items()),
        "channels": word_options(lang, "order_channel", ENTERED_CHANNELS),
        "urgencies": word_options(lang, "urgency", Urgency),
    }


def _order_form(resident: User, now: datetime, tz: ZoneInfo) -> Form:
    start = _start(now, tz)
    return Form(
        {
            "channel": OrderChannel.phone.value,
            "area_id": resident.area_id or "",
            "urgency": Urgency.normal.value,
            "window_start": local_input(start, tz),
            "window_end": local_input(start + timedelta(hours=2), tz),
            # One order per form shown: a second click of the same form finds the first order.
            "entry_key": secrets.token_urlsafe(16),
        }
    )


class OrderEntryDesk(Controller):
    path = PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def start(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        q: query_text(50, "A phone number or a name") = None,
        resident: query_id("The resident the order is for") = None,
    ) -> Template:
        q = (q or "").strip()
        if resident is not None:
            chosen = await _resident(session, request.user, resident)
            context = await _context(request, session, resident=chosen)
            return page(request, PAGE, form=_order_form(chosen, now, settings.tz), **context)
        context = await _context(request, session, q)
        # Nobody has that phone number: it is most likely the one to register.
        typed_phone = q if q.isdecimal() and len(q) == 11 and not context["found"] else ""
        return page(request, PAGE, form=Form({"phone": typed_phone}), **context)

    @post("/resident")
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
            body = parse(form, ResidentRegistration, settings.tz)
            new = UserCreate(
                phone=body.phone, name=body.name, password=None, roles=[Role.resident], area_id=body.area_id
            )
            user = await auth.create_user(session, request.user, new, now)
        return see_other(url(PATH, resident=user.id), notice="desk_resident_registered")

    @post("/")
    async def enter(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        resident: query_id("The resident the order is for") = None,
    ) -> Redirect:
        actor = request.user
        if resident is None:
            raise NotFound("Choose the resident first.", code="resident_not_found")
        chosen = await _resident(session, actor, resident)
        form = Form.of(data)
        key = str(form.value("entry_key"))[: idempotency.MAX_KEY_LENGTH - 10]

        async def context() -> dict[str, Any]:
            again = await _resident(session, actor, resident)
            return await _context(request, session, resident=again)

        async with handling(session, form, PAGE, context, fields=ORDER_FIELDS, shown=_SHOWN):
            body = parse(form, OrderEntry, settings.tz, resident_id=chosen.id)
            claim = None
            if key:
                fingerprint = idempotency.fingerprint("POST", f"{PATH}?resident={chosen.id}", key.encode())
                try:
                    claim = await idempotency.claim(session, actor.id, f"desk-order:{key}", fingerprint, now)
                except idempotency.Replay as replay:
                    # The same form sent twice (a double click): show the order the first one entered.
                    return see_other(replay.response.body.decode(), notice="desk_order_entered")
            order_id = await orders.enter_order(
                session, actor, body, now, max_open=settings.open_orders_per_resident
            )
            done = f"/desk/dispatch/orders/{order_id}"
            if claim is not None:
                await idempotency.finish(
                    session, claim, idempotency.StoredResponse(303, "text/plain", done.encode())
                )
        return see_other(done, notice="desk_order_entered")


# The order form's fields that show their own error; anything else is said above the form.
_SHOWN = frozenset(
    {
        "channel",
        "category",
        "description",
        "area_id",
        "address_detail",
        "window_start",
        "window_end",
        "urgency",
    }
)

CONTROLLERS: list[type[Controller]] = [OrderEntryDesk]

"""Pages: the resident's phone — post an order, follow it (its steps, what comes next and by when,
the volunteer's phone once they took it, a hurry button), confirm and rate it —
and the community's wish wall, which volunteers share to claim and fulfil wishes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import community_code_of
from market.areas.service import ancestors
from market.auth.access import Actor, ActorRequest, requires
from market.auth.models import MANAGER_ROLES, Role
from market.doorplates import service as doorplates
from market.fields import PLAIN_TEXT, PathId
from market.orders import service as orders
from market.orders.models import ORDER_MACHINE, OrderAction, OrderStatus, Urgency
from market.orders.schemas import (
    ConfirmRequest,
    OrderCreate,
    OrderDetail,
    OrderFilters,
    ReasonRequest,
    ReopenRequest,
)
from market.pagination import Offset
from market.photos import service as photos
from market.photos.models import PhotoKind
from market.photos.storage import PhotoStorage
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import (
    CONFIRM_FIELDS,
    Form,
    FormData,
    category_names,
    handling,
    local_input,
    page,
    parse,
    place_name,
    see_other,
)
from market.web.photo_forms import PHOTO_FIELDS, PHOTO_FORM_OPTIONS, MultipartFormData, form_with_photos
from market.wishes import service as wishes
from market.wishes.models import MAX_VALUE_YUAN, WISH_MACHINE, WishAction, WishStatus
from market.wishes.schemas import WishCreate, WishRead

PAGE_SIZE = 20
ORDER_NEW = "phone/resident_order_new.html"
ORDER = "phone/resident_order.html"
WISH_NEW = "phone/wish_new.html"
WISH = "phone/wish_detail.html"

# Where each refusal of `create_order` belongs on the form.
ORDER_FIELDS = {
    "not_served_before": "preferred_volunteer_id",
    "unknown_category": "category",
    "area_not_found": "area_id",
    "outside_your_community": "area_id",
    "area_too_broad": "area_id",
    "invalid_window": "window_end",
    "window_too_long": "window_end",
    "window_in_past": "window_start",
    "window_too_far": "window_start",
    **PHOTO_FIELDS,
}
WISH_FIELDS = {"deadline_in_past": "deadline", "deadline_too_far": "deadline"}
WISH_FORM = {"max_value": MAX_VALUE_YUAN, "max_active": wishes.MAX_ACTIVE_PER_RESIDENT}
# Timeline notes a person typed (a reason, a comment), as `orders.TYPED_NOTES` for orders.
WISH_TYPED_NOTES = frozenset(
    {WishAction.claim, WishAction.release, WishAction.fulfil, WishAction.confirm, WishAction.withdraw}
)
WallFilter = Literal["all", "open", "mine", "claimed"]


def _days_ahead_at(now: datetime, tz: ZoneInfo, days: int, hour: int) -> datetime:
    """`days` after today (local time) at `hour` o'clock: a form's suggested time."""
    return datetime.combine(now.astimezone(tz).date() + timedelta(days=days), time(hour), tz)


# Orders ------------------------------------------------------------------------------------------


async def _order_form_context(request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
    areas = await orders.order_areas(session, request.user)
    names = {a.code: a.name for a in areas}
    return {
        "categories": list((await category_names(session, lang_of(request), active_only=True)).items()),
        "areas": [(a.id, place_name(a.code, a.name, names)) for a in areas],
        "urgencies": [(u.value, f"urgency.{u.value}") for u in Urgency],  # catalogue keys
        # Volunteers who served the resident before: they may ask for one of them.
        "served_by": await orders.volunteers_who_served(session, request.user.id),
    }


# What the resident who posted an order may do with it, when its state allows.
RESIDENT_ORDER_ACTIONS = (OrderAction.cancel, OrderAction.confirm)
# The steps an order goes through, as the progress bar shows them.
PROGRESS = (
    OrderStatus.submitted,
    OrderStatus.dispatched,
    OrderStatus.accepted,
    OrderStatus.in_service,
    OrderStatus.completed,
    OrderStatus.confirmed,
)


def _order_actions(order: OrderDetail, actor: Actor, now: datetime) -> list[OrderAction]:
    """What the resident who posted the order may do with it now: hurry it while unfinished,
    reopen it for a while after confirming it."""
    if order.requester.id != actor.id:
        return []
    actions = [a for a in ORDER_MACHINE.actions_from(order.status) if a in RESIDENT_ORDER_ACTIONS]
    if order.status in orders.UNFINISHED:
        actions.append(OrderAction.hurry)
    if orders.may_reopen(order, now):
        actions.append(OrderAction.reopen)
    return actions


def _completion_note(order: OrderDetail) -> str:
    """What the volunteer reported when they completed the service."""
    return next((e.note for e in reversed(order.events) if e.action == OrderAction.complete), "")


async def _order_context(
    request: ActorRequest, session: AsyncSession, settings: Settings, now: datetime, order_id: int
) -> dict[str, Any]:
    order = await orders.get_order(session, request.user, order_id)
    names = await category_names(session, lang_of(request))
    hurry_again_at = orders.hurry_again_at(order)
    actions = _order_actions(order, request.user, now)
    return {
        "order": order,
        "category": names.get(order.category, order.category),
        "actions": actions,
        "typed_notes": orders.TYPED_NOTES,
        "steps": PROGRESS,
        "step": PROGRESS.index(order.status) if order.status in PROGRESS else None,
        "next_step": orders.next_step(order, settings),
        # The tel: link: only for the resident who asked, only while the service is under way.
        "call_volunteer": order.volunteer is not None
        and order.requester.id == request.user.id
        and order.status in orders.CONTACT_STATUSES,
        "hurry_again_at": hurry_again_at if hurry_again_at and hurry_again_at > now else None,
        "completion_note": _completion_note(order),
        "reopen_days": orders.REOPEN_WINDOW.days,
        "reopen_until": order.confirmed_at + orders.REOPEN_WINDOW if "reopen" in actions else None,
        # A resident who reads the order masked (they were only offered it to serve) sees none.
        "photos": [] if order.masked else await photos.list_photos(session, request.user, order_id),
    }


class ResidentOrderPages(Controller):
    path = "/r/orders"
    guards = [requires(Role.resident)]
    include_in_schema = False

    @get("/")
    async def my_orders(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        offset: Offset = 0,
    ) -> Template:
        items, total = await orders.list_orders(
            session, request.user, settings.tz, OrderFilters(), PAGE_SIZE, offset, own=True
        )
        return page(
            request,
            "phone/resident_orders.html",
            orders=items,
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            categories=await category_names(session, lang_of(request)),
        )

    @get("/new")
    async def new_order(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        place: Annotated[
            str | None, QueryParameter(max_length=64, pattern=PLAIN_TEXT, description="A doorplate's code")
        ] = None,
    ) -> Template:
        context = await _order_form_context(request, session)
        tz = settings.tz
        start = _days_ahead_at(now, tz, 1, 9)
        # From a scanned doorplate: its place, when the resident may order there.
        plate = await doorplates.area_of_plate(session, place) if place else None
        offered = {a for a, _ in context["areas"]}
        home = next((a for a in (plate, request.user.area_id) if a is not None and a in offered), "")
        form = Form(
            {
                "area_id": home,
                "urgency": Urgency.normal.value,
                "window_start": local_input(start, tz),
                "window_end": local_input(start + timedelta(hours=2), tz),
            }
        )
        return page(request, ORDER_NEW, form=form, **context)

    @post("/new", **PHOTO_FORM_OPTIONS)
    async def post_order(
        self,
        request: ActorRequest,
        data: MultipartFormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        photo_storage: NamedDependency[PhotoStorage],
    ) -> Redirect:
        form, files = await form_with_photos(data)
        async with handling(
            session, form, ORDER_NEW, lambda: _order_form_context(request, session), fields=ORDER_FIELDS
        ):
            body = parse(form, OrderCreate, settings.tz)
            order_id = await orders.create_order(
                session, request.user, body, now, max_open=settings.open_orders_per_resident
            )
            if files:  # the order and its photos are posted together, or neither is
                await photos.add_photos(
                    session, request.user, order_id, PhotoKind.posted, files, now, settings, photo_storage
                )
        return see_other(f"/r/orders/{order_id}", notice="resident_order_posted")

    @get("/{order_id:int}")
    async def order(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        context = await _order_context(request, session, settings, now, order_id)
        # The reopen form suggests tomorrow morning, as a new order's form does.
        start = _days_ahead_at(now, settings.tz, 1, 9)
        window = {"window_start": start, "window_end": start + timedelta(hours=2)}
        form = Form({name: local_input(moment, settings.tz) for name, moment in window.items()})
        return page(request, ORDER, form=form, **context)

    @post("/{order_id:int}/hurry")
    async def hurry(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async with handling(
            session, Form(), ORDER, lambda: _order_context(request, session, settings, now, order_id)
        ):
            await orders.hurry(session, request.user, order_id, now)
        return see_other(f"/r/orders/{order_id}", notice="resident_order_hurried")

    @post("/{order_id:int}/cancel")
    async def cancel(
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
            session, form, ORDER, lambda: _order_context(request, session, settings, now, order_id)
        ):
            body = parse(form, ReasonRequest, settings.tz)
            await orders.cancel(session, request.user, order_id, body.reason, now)
        return see_other(f"/r/orders/{order_id}", notice="resident_order_cancelled")

    @post("/{order_id:int}/confirm")
    async def confirm(
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
            lambda: _order_context(request, session, settings, now, order_id),
            fields=CONFIRM_FIELDS,
        ):
            body = parse(form, ConfirmRequest, settings.tz)
            await orders.confirm(session, request.user, order_id, body, now, settings.tz)
        return see_other(f"/r/orders/{order_id}", notice="resident_order_confirmed")

    @post("/{order_id:int}/reopen")
    async def reopen(
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
            lambda: _order_context(request, session, settings, now, order_id),
            fields=ORDER_FIELDS,
        ):
            body = parse(form, ReopenRequest, settings.tz)
            await orders.reopen(
                session, request.user, order_id, body, now, max_open=settings.open_orders_per_resident
            )
        return see_other(f"/r/orders/{order_id}", notice="resident_order_reopened")


# Wishes ------------------------------------------------------------------------------------------


def _wish_actions(wish: WishRead, actor: Actor) -> list[str]:
    """What the actor may do with the wish now: its resident, its claimer, or a volunteer."""
    mine = wish.resident.id == actor.id
    claimer = wish.claimer is not None and wish.claimer.id == actor.id
    allowed = {
        WishAction.claim: actor.has(Role.volunteer) and not mine,
        WishAction.fulfil: claimer,
        WishAction.release: claimer,
        WishAction.confirm: mine,
        WishAction.withdraw: mine,
    }
    return [a for a in WISH_MACHINE.actions_from(wish.status) if allowed.get(a)]


async def _community_id(session: AsyncSession, actor: Actor) -> int | None:
    """The actor's home community, whose wall they see; None for those above a community."""
    community = community_code_of(actor.area_code)
    if community is None:
        return None
    return (await ancestors(session, {actor.area_code}))[community].id


async def _wish_context(request: ActorRequest, session: AsyncSession, wish_id: int) -> dict[str, Any]:
    wish = await wishes.get_wish(session, request.user, wish_id)
    return {"wish": wish, "actions": _wish_actions(wish, request.user), "typed_notes": WISH_TYPED_NOTES}


async def _act_on_wish(
    request: ActorRequest,
    session: AsyncSession,
    wish_id: int,
    notice: str,
    work: Callable[[], Awaitable[None]],
) -> Redirect:
    """One button on the wish's page: do it and say so, or show the page again with the refusal."""
    async with handling(session, Form(), WISH, lambda: _wish_context(request, session, wish_id)):
        await work()
    return see_other(f"/r/wishes/{wish_id}", notice=notice)


class WishPages(Controller):
    path = "/r/wishes"
    # Residents post, volunteers claim; managers may look.
    guards = [requires(Role.resident, Role.volunteer, *MANAGER_ROLES)]
    include_in_schema = False

    @get("/")
    async def wall(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        show: Annotated[WallFilter, QueryParameter()] = "all",
        offset: Offset = 0,
    ) -> Template:
        # One's own wishes and claims are listed wherever they are; the rest is the home wall.
        personal = show in ("mine", "claimed")
        items, total = await wishes.list_wishes(
            session,
            request.user,
            community_id=None if personal else await _community_id(session, request.user),
            status=WishStatus.open if show == "open" else None,
            posted_by_me=show == "mine",
            claimed_by_me=show == "claimed",
            limit=PAGE_SIZE,
            offset=offset,
        )
        actor = request.user
        filters = ["all", "open"]
        filters += ["mine"] if actor.has(Role.resident) else []
        filters += ["claimed"] if actor.has(Role.volunteer) else []
        return page(
            request,
            "phone/wish_wall.html",
            wishes=items,
            claimable={w.id for w in items if "claim" in _wish_actions(w, actor)},
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            show=show,
            filters=filters,
            can_post=actor.has(Role.resident),
        )

    @get("/new", guards=[requires(Role.resident)])
    async def new_wish(
        self,
        request: ActorRequest,
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        deadline = _days_ahead_at(now, settings.tz, 7, 18)
        form = Form({"deadline": local_input(deadline, settings.tz)})
        return page(request, WISH_NEW, form=form, **WISH_FORM)

    @post("/new", guards=[requires(Role.resident)])
    async def post_wish(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(session, form, WISH_NEW, lambda: WISH_FORM, fields=WISH_FIELDS):
            body = parse(form, WishCreate, settings.tz)
            wish = await wishes.create_wish(session, request.user, body, now)
        return see_other(f"/r/wishes/{wish.id}", notice="wishes_posted")

    @get("/{wish_id:int}")
    async def wish(
        self, request: ActorRequest, wish_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        return page(request, WISH, form=Form(), **await _wish_context(request, session, wish_id))

    @post("/{wish_id:int}/claim", guards=[requires(Role.volunteer)])
    async def claim(
        self,
        request: ActorRequest,
        wish_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _act_on_wish(
            request,
            session,
            wish_id,
            "wishes_claimed",
            lambda: wishes.claim(session, request.user, wish_id, None, "", now),
        )

    @post("/{wish_id:int}/release")
    async def release(
        self,
        request: ActorRequest,
        wish_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _act_on_wish(
            request,
            session,
            wish_id,
            "wishes_released",
            lambda: wishes.release(session, request.user, wish_id, "", now),
        )

    @post("/{wish_id:int}/fulfil")
    async def fulfil(
        self,
        request: ActorRequest,
        wish_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _act_on_wish(
            request,
            session,
            wish_id,
            "wishes_fulfilled",
            lambda: wishes.fulfil(session, request.user, wish_id, "", now),
        )

    @post("/{wish_id:int}/confirm")
    async def confirm(
        self,
        request: ActorRequest,
        wish_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _act_on_wish(
            request,
            session,
            wish_id,
            "wishes_confirmed",
            lambda: wishes.confirm(
                session, request.user, wish_id, "", now, settings.tz, settings.wish_points
            ),
        )

    @post("/{wish_id:int}/withdraw")
    async def withdraw(
        self,
        request: ActorRequest,
        wish_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        return await _act_on_wish(
            request,
            session,
            wish_id,
            "wishes_withdrawn",
            lambda: wishes.withdraw(session, request.user, wish_id, "", now),
        )


CONTROLLERS: list[type[Controller]] = [ResidentOrderPages, WishPages]

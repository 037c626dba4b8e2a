"""Pages: the volunteer's phone — new offers arriving live (server-sent events) with accept and
decline, the tasks they serve (check in, check out, complete), their points, and the rewards they
may redeem with a pickup code to show at the counter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import segno
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, ServerSentEvent, Template
from litestar.response.sse import ServerSentEventMessage
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.service import ancestors
from market.auth.access import ActorRequest, requires
from market.auth.models import Role
from market.db import read_only
from market.dispatch import board, offers
from market.dispatch import service as dispatch
from market.fields import PathId
from market.ledger import service as ledger
from market.orders import service as orders
from market.orders.models import OfferStatus
from market.orders.schemas import NoteRequest, ReasonRequest
from market.pagination import Offset
from market.photos import service as photos
from market.photos.models import PhotoKind
from market.photos.storage import PhotoStorage
from market.rewards import service as rewards
from market.rewards.models import RedemptionStatus
from market.rewards.schemas import RedeemRequest
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import Form, FormData, category_names, handling, page, parse, place_name, see_other
from market.web.photo_forms import PHOTO_FIELDS, PHOTO_FORM_OPTIONS, MultipartFormData, form_with_photos

PAGE_SIZE = 20
OFFERS = "phone/volunteer_offers.html"
OFFER_LIST = "phone/volunteer_offer_list.html"
BOARD = "phone/volunteer_board.html"
TASKS = "phone/volunteer_tasks.html"
POINTS = "phone/volunteer_points.html"
REWARDS = "phone/volunteer_rewards.html"
REDEMPTION = "phone/volunteer_redemption.html"
# A comment this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS = 15
# How long the browser waits before it reconnects to a stream that ended.
RECONNECT_MS = 3000
# Refusals of a redemption that are about the quantity asked for.
REDEEM_FIELDS = {
    "out_of_stock": "quantity",
    "limit_per_person_reached": "quantity",
    "exceeds_credits": "quantity",
}
RewardsTab = Literal["catalogue", "mine"]

guard = requires(Role.volunteer)


# Offers ------------------------------------------------------------------------------------------


async def _offers_context(
    request: ActorRequest, session: AsyncSession, offset: int, failed: int | None = None
) -> dict[str, Any]:
    items, total = await offers.list_offers(session, request.user, OfferStatus.pending, PAGE_SIZE, offset)
    return {
        "offers": items,
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "categories": await category_names(session, lang_of(request)),
        # The offer whose decline form failed: its errors and what was typed are shown with it.
        "failed": failed,
        "form": None,
    }


def _render(request: ActorRequest, template: str, context: dict[str, Any]) -> str:
    """A template as a page would render it (same context, same CSRF field), outside a response."""
    response = page(request, template, **context)
    engine = request.app.template_engine
    assert engine is not None  # the app is configured with templates
    return engine.get_template(template).render(**response.create_template_context(request))


async def _offer_events(
    request: ActorRequest,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    offset: int,
) -> AsyncIterator[ServerSentEventMessage]:
    """The offers list, sent at once and again whenever the volunteer's pending offers change.

    Each poll is a short read in its own session, so that no transaction stays open and every API
    process sees what the others changed.
    """
    end = time.monotonic() + settings.offer_stream_seconds
    seen: list[int] | None = None
    last_sent = time.monotonic()
    while time.monotonic() < end:
        async with session_maker() as session:
            # Read-only: on SQLite a poll every few seconds per open page must not take the write lock
            # (every transaction begins IMMEDIATE there) and queue the writers behind it.
            await read_only(session)
            ids = await offers.pending_offer_ids(session, request.user.id)
            context = await _offers_context(request, session, offset) if ids != seen else None
        if context is not None:
            seen = ids
            yield ServerSentEventMessage(data=_render(request, OFFER_LIST, context))
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
            last_sent = time.monotonic()
        await asyncio.sleep(settings.offer_stream_poll_seconds)


class VolunteerOfferPages(Controller):
    path = "/v/offers"
    guards = [guard]
    include_in_schema = False

    @get("/")
    async def offers(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        return page(request, OFFERS, **await _offers_context(request, session, offset))

    @get("/stream")
    async def stream(
        self,
        request: ActorRequest,
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
        offset: Offset = 0,
    ) -> ServerSentEvent:
        return ServerSentEvent(
            _offer_events(request, session_maker, settings, offset), retry_duration=RECONNECT_MS
        )

    @post("/{offer_id:int}/accept")
    async def accept(
        self,
        request: ActorRequest,
        offer_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Redirect:
        async with handling(session, Form(), OFFERS, lambda: _offers_context(request, session, offset)):
            await offers.accept_offer(session, request.user, offer_id, now)
        return see_other("/v/tasks", notice="volunteer_offer_accepted")

    @post("/{offer_id:int}/decline")
    async def decline(
        self,
        request: ActorRequest,
        offer_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, OFFERS, lambda: _offers_context(request, session, offset, offer_id)
        ):
            body = parse(form, ReasonRequest, settings.tz)
            await dispatch.decline_offer(session, request.user, offer_id, body.reason, now, settings)
        return see_other("/v/offers", notice="volunteer_offer_declined")


# The open board ----------------------------------------------------------------------------------


async def _board_context(
    request: ActorRequest, session: AsyncSession, settings: Settings, now: datetime, offset: int
) -> dict[str, Any]:
    items, total = await board.list_board(session, request.user, now, settings, PAGE_SIZE, offset)
    return {
        "items": items,
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "categories": await category_names(session, lang_of(request)),
        "form": None,
    }


class VolunteerBoardPages(Controller):
    """Open orders the volunteer may take themselves, and the claim that takes one."""

    path = "/v/board"
    guards = [guard]
    include_in_schema = False

    @get("/")
    async def board(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        return page(request, BOARD, **await _board_context(request, session, settings, now, offset))

    @post("/{order_id:int}/claim")
    async def claim(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Redirect:
        async with handling(
            session, Form(), BOARD, lambda: _board_context(request, session, settings, now, offset)
        ):
            await board.claim(session, request.user, order_id, now, settings)
        return see_other("/v/tasks", notice="volunteer_order_claimed")


# Tasks -------------------------------------------------------------------------------------------


async def _tasks_context(
    request: ActorRequest, session: AsyncSession, offset: int = 0, failed: int | None = None
) -> dict[str, Any]:
    items, total = await orders.list_tasks(session, request.user, PAGE_SIZE, offset)
    # Where to go: a building with its compound ("Garden 1 · Building 3"), or the compound.
    above = {code: a.name for code, a in (await ancestors(session, {o.area.code for o in items})).items()}
    return {
        "tasks": items,
        "places": {o.id: place_name(o.area.code, o.area.name, above) for o in items},
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "categories": await category_names(session, lang_of(request)),
        # The order whose completion form failed.
        "failed": failed,
        "form": None,
    }


class VolunteerTaskPages(Controller):
    path = "/v/tasks"
    guards = [guard]
    include_in_schema = False

    @get("/")
    async def tasks(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        return page(request, TASKS, **await _tasks_context(request, session, offset))

    @post("/{order_id:int}/check-in")
    async def check_in(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Redirect:
        async with handling(session, Form(), TASKS, lambda: _tasks_context(request, session, offset)):
            await orders.check_in(session, request.user, order_id, now)
        return see_other("/v/tasks", notice="volunteer_checked_in")

    @post("/{order_id:int}/check-out")
    async def check_out(
        self,
        request: ActorRequest,
        order_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Redirect:
        async with handling(session, Form(), TASKS, lambda: _tasks_context(request, session, offset)):
            await orders.check_out(session, request.user, order_id, now)
        return see_other("/v/tasks", notice="volunteer_checked_out")

    @post("/{order_id:int}/complete", **PHOTO_FORM_OPTIONS)
    async def complete(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: MultipartFormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        photo_storage: NamedDependency[PhotoStorage],
        offset: Offset = 0,
    ) -> Redirect:
        form, files = await form_with_photos(data)
        async with handling(
            session,
            form,
            TASKS,
            lambda: _tasks_context(request, session, offset, order_id),
            fields=PHOTO_FIELDS,
        ):
            body = parse(form, NoteRequest, settings.tz)
            if files:  # the result photos and the completion are kept together, or neither is
                await photos.add_photos(
                    session, request.user, order_id, PhotoKind.result, files, now, settings, photo_storage
                )
            await orders.complete(session, request.user, order_id, body.note, now)
        return see_other("/v/tasks", notice="volunteer_completed")


# Points and rewards ------------------------------------------------------------------------------


async def _rewards_context(
    request: ActorRequest,
    session: AsyncSession,
    now: datetime,
    show: RewardsTab = "catalogue",
    offset: int = 0,
    failed: int | None = None,
) -> dict[str, Any]:
    account = await ledger.member_account(session, request.user.id)
    if show == "mine":
        rows, total = await rewards.list_redemptions(session, request.user, None, PAGE_SIZE, offset, own=True)
        items: list[Any] = await rewards.redemption_reads(session, request.user, rows)
    else:
        found, total = await rewards.list_rewards(session, request.user, now, PAGE_SIZE, offset)
        items = [rewards.reward_read(r) for r in found]
    return {
        "show": show,
        "items": items,
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "available": account.available,
        # The reward whose redeem form failed.
        "failed": failed,
        "form": None,
    }


async def _redemption_context(
    request: ActorRequest, session: AsyncSession, redemption_id: int
) -> dict[str, Any]:
    redemption = await rewards.get_redemption(session, request.user, redemption_id)
    qr = None
    if redemption.pickup_code and redemption.status == RedemptionStatus.pending:
        # A full QR code (segno would pick a Micro QR for six digits, which few phone scanners read),
        # drawn here as SVG: generated from digits, never from a person's text.
        code = segno.make(redemption.pickup_code, micro=False)
        qr = Markup(code.svg_inline(scale=8, svgclass="qr", omitsize=True))
    return {"redemption": redemption, "qr": qr, "form": None}


class VolunteerPointsPages(Controller):
    path = "/v"
    guards = [guard]
    include_in_schema = False

    @get("/points")
    async def points(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        # The member's own service-points account, as the API lists it (created on first look).
        mine = await ledger.member_account(session, request.user.id)
        account = await ledger.get_account(session, request.user, mine.id)
        entries, total = await ledger.entries(
            session, request.user, mine.id, code=None, since=None, until=None, limit=PAGE_SIZE, offset=offset
        )
        return page(
            request, POINTS, account=account, entries=entries, total=total, limit=PAGE_SIZE, offset=offset
        )

    @get("/rewards")
    async def catalogue(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        show: Annotated[RewardsTab, QueryParameter()] = "catalogue",
        offset: Offset = 0,
    ) -> Template:
        return page(request, REWARDS, **await _rewards_context(request, session, now, show, offset))

    @post("/rewards/{reward_id:int}/redeem")
    async def redeem(
        self,
        request: ActorRequest,
        reward_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Redirect:
        form = Form.of(data)
        # The catalogue tab, where the redeem forms are, at the page the form was sent from.
        async with handling(
            session,
            form,
            REWARDS,
            lambda: _rewards_context(request, session, now, "catalogue", offset, reward_id),
            fields=REDEEM_FIELDS,
        ):
            body = parse(form, RedeemRequest, settings.tz, reward_id=reward_id)
            redemption = await rewards.redeem(session, request.user, body, now, settings.tz)
        return see_other(f"/v/redemptions/{redemption.id}", notice="volunteer_redeemed")

    @get("/redemptions/{redemption_id:int}")
    async def redemption(
        self, request: ActorRequest, redemption_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        return page(request, REDEMPTION, **await _redemption_context(request, session, redemption_id))

    @post("/redemptions/{redemption_id:int}/cancel")
    async def cancel_redemption(
        self,
        request: ActorRequest,
        redemption_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async with handling(
            session, Form(), REDEMPTION, lambda: _redemption_context(request, session, redemption_id)
        ):
            await rewards.cancel(session, request.user, redemption_id, now, settings.tz)
        return see_other(f"/v/redemptions/{redemption_id}", notice="volunteer_redemption_cancelled")


CONTROLLERS: list[type[Controller]] = [
    VolunteerOfferPages,
    VolunteerBoardPages,
    VolunteerTaskPages,
    VolunteerPointsPages,
]

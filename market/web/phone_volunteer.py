"""Pages: the volunteer's phone — new offers arriving live (server-sent events) with accept and
decline, the tasks they serve (check in; check out and complete in one step), their points with how
each service reward was reckoned, and the rewards they
may redeem with a pickup code to show at the counter."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

import segno
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, ServerSentEvent, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.service import ancestors
from market.auth.access import ActorRequest, requires
from market.auth.models import Role
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
from market.projects import service as projects
from market.rewards import service as rewards
from market.rewards.models import RedemptionStatus
from market.rewards.schemas import RedeemRequest
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.live import live, render_fragment
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
# Refusals of a redemption that are about the quantity asked for.
REDEEM_FIELDS = {
    "out_of_stock": "quantity",
    "limit_per_person_reached": "quantity",
    "exceeds_credits": "quantity",
}
RewardsTab = Literal["catalogue", "mine"]
PointsTab = Literal["history", "served"]

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
        """The offers list, sent at once and again whenever the volunteer's pending offers change."""

        async def render(session: AsyncSession, _ids: list[int]) -> str:
            return render_fragment(request, OFFER_LIST, await _offers_context(request, session, offset))

        return live(
            session_maker, settings, partial(offers.pending_offer_ids, volunteer_id=request.user.id), render
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
    _, held = await projects.held_responsibilities(session, request.user, 1, 0)
    # Where to go: a building with its compound ("Garden 1 · Building 3"), or the compound.
    above = {code: a.name for code, a in (await ancestors(session, {o.area.code for o in items})).items()}
    return {
        "tasks": items,
        "responsibilities_held": held,
        "places": {o.id: place_name(o.area.code, o.area.name, above) for o in items},
        "check_in_opens": {o.id: orders.check_in_opens_at(o.window_start) for o in items},
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
            await orders.finish(session, request.user, order_id, body.note, now)
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
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        show: Annotated[PointsTab, QueryParameter()] = "history",
        offset: Offset = 0,
    ) -> Template:
        # The member's own service-points account, as the API lists it (created on first look).
        mine = await ledger.member_account(session, request.user.id)
        account = await ledger.get_account(session, request.user, mine.id)
        if show == "served":
            # Each served order's reward as it was reckoned on confirmation: hours × rate, then caps.
            items: list[Any]
            items, total = await orders.list_service_rewards(session, request.user, PAGE_SIZE, offset)
        else:
            items, total = await ledger.entries(
                session,
                request.user,
                mine.id,
                code=None,
                since=None,
                until=None,
                limit=PAGE_SIZE,
                offset=offset,
            )
        return page(
            request,
            POINTS,
            account=account,
            show=show,
            items=items,
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            categories=await category_names(session, lang_of(request)) if show == "served" else {},
            tolerance_minutes=int(orders.HOURS_TOLERANCE.total_seconds()) // 60,
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

"""Desk pages: the half-year's unit reviews (述职评议) with the score's formula beside the scores,
as a page, a PDF for the street's review meeting and Excel (/desk/unit-reviews); the community's
credit roll with compact entries (/desk/credit)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Stream, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.areas.models import Area, AreaLevel, community_code_of
from market.areas.service import managed_areas
from market.auth import service as auth
from market.auth.access import ActorRequest, requires, requires_manager
from market.auth.models import Role
from market.credit import service as credit
from market.credit.models import CompactReason
from market.credit.routes import ROLL_COLUMNS
from market.credit.schemas import CompactEntryWrite
from market.documents.pdf import PdfDocument
from market.errors import MarketError
from market.fields import ID_MAX
from market.settings import Settings
from market.unit_reviews import service as reviews
from market.unit_reviews.routes import REVIEW_COLUMNS, review_cells
from market.unit_reviews.schemas import UnitReview
from market.unit_reviews.score import WEIGHTS
from market.web.i18n import lang_of, translate
from market.web.pages import (
    Form,
    FormData,
    FormInvalid,
    form_int,
    handling,
    page,
    parse,
    see_other,
    url,
    word_options,
)

REVIEWS_PAGE = "desk/unit_reviews.html"
CREDIT_PAGE = "desk/credit_roll.html"
YearQuery = Annotated[int | None, QueryParameter(ge=2000, le=2099)]
HalfQuery = Annotated[int | None, QueryParameter(ge=1, le=2)]
COMPACT_FIELDS = {"user_not_found": "phone", "own_account": "phone", "credit_monthly_cap": "points"}


def _period(now: datetime, settings: Settings, year: int | None, half: int | None) -> tuple[int, int]:
    local = now.astimezone(settings.tz)
    return year or local.year, half or (1 if local.month <= 6 else 2)


def review_pdf(say, found: list[UnitReview], year: int, half: int, at: datetime) -> bytes:
    """The review meeting's report: the formula, the table of scores, each unit's figures."""
    title = say("reviews.title_period", year=year, half=half)
    pdf = PdfDocument(title, created_at=at)
    pdf.heading(title)
    pdf.paragraph(say("reviews.formula", **WEIGHTS))
    header = [say("reviews.col.unit"), say("reviews.col.commitments"), say("reviews.col.delivered"),
              say("reviews.col.ratings"), say("reviews.col.giving"), say("reviews.col.score")]  # fmt: skip
    rows = [
        [
            r.unit_name,
            say(
                "reviews.commitments",
                made=r.commitments_made,
                kept=r.commitments_kept,
                late=r.commitments_late,
            ),
            str(r.quantity_delivered),
            say(
                "reviews.ratings",
                residents=r.resident_average if r.resident_average is not None else "—",
                communities=r.community_average if r.community_average is not None else "—",
            ),
            say(
                "reviews.giving",
                wishes=r.wishes_claimed,
                donated=r.rewards_donated,
                redeemed=r.rewards_redeemed,
            ),
            say(
                "reviews.score_parts",
                total=r.score.total,
                keeping=r.score.keeping,
                residents=r.score.residents,
                communities=r.score.communities,
                giving=r.score.giving,
            ),
        ]
        for r in found
    ]
    pdf.table(header, rows, widths=(30, 25, 15, 30, 30, 40))
    return pdf.to_bytes()


class UnitReviewDesk(Controller):
    path = "/desk/unit-reviews"
    guards = [requires(Role.unit_admin, Role.community_manager, Role.street_admin)]
    include_in_schema = False

    @get("/")
    async def reviews_page(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: YearQuery = None,
        half: HalfQuery = None,
    ) -> Template:
        year, half = _period(now, settings, year, half)
        found = await reviews.reviews(session, request.user, year, half, settings.tz)
        return page(request, REVIEWS_PAGE, year=year, half=half, items=found, weights=WEIGHTS)

    @get("/report.pdf")
    async def report(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: YearQuery = None,
        half: HalfQuery = None,
    ) -> Response[bytes]:
        year, half = _period(now, settings, year, half)
        found = await reviews.reviews(session, request.user, year, half, settings.tz)
        content = review_pdf(partial(translate, lang_of(request)), found, year, half, now)
        return exports.pdf_download(content, f"unit-reviews-{year}-H{half}")

    @get("/report.xlsx")
    async def download(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        year: YearQuery = None,
        half: HalfQuery = None,
    ) -> Stream:
        year, half = _period(now, settings, year, half)
        found = await reviews.reviews(session, request.user, year, half, settings.tz)
        rows = [review_cells(r) for r in found]
        return exports.download(
            "xlsx",
            f"unit-reviews-{year}-H{half}",
            REVIEW_COLUMNS,
            exports.one_batch(rows),
            sheet=f"{year}H{half}",
        )


class CreditDesk(Controller):
    path = "/desk/credit"
    guards = [requires_manager]
    include_in_schema = False

    async def _context(
        self, request: ActorRequest, session: AsyncSession, community_id: int | None, now: datetime
    ) -> dict[str, Any]:
        settings: Settings = request.app.state.settings
        communities = await managed_areas(session, request.user, (AreaLevel.community,))
        if not communities and (code := community_code_of(request.user.area_code)):
            # A grid worker reads the roll of the community their grid lies in.
            communities = list(await session.scalars(select(Area).where(Area.code == code)))
        chosen = community_id or next(
            (c.id for c in communities if c.id == request.user.area_id),
            communities[0].id if communities else None,
        )
        roll = await credit.credit_roll(session, request.user, chosen, now, settings.tz) if chosen else []
        return {
            "communities": [(c.id, c.name) for c in communities],
            "community_id": chosen,
            "roll": roll,
            "reason_options": word_options(lang_of(request), "compact_reason", CompactReason),
            "cap": credit.COMPACT_MONTHLY_CAP,
        }

    @get("/")
    async def roll_page(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        community_id: Annotated[int | None, QueryParameter(ge=1, le=ID_MAX)] = None,
    ) -> Template:
        return page(
            request, CREDIT_PAGE, form=Form(), **await self._context(request, session, community_id, now)
        )

    @get("/roll.xlsx")
    async def roll_download(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        community_id: Annotated[int, QueryParameter(ge=1, le=ID_MAX)],
    ) -> Stream:
        rows = await credit.credit_roll(session, request.user, community_id, now, settings.tz)
        cells = [[r.name, r.phone, r.points, r.points_this_month, r.entries] for r in rows]
        return exports.download("xlsx", "credit-roll", ROLL_COLUMNS, exports.one_batch(cells), sheet="credit")

    @post("/compact")
    async def enter_compact(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        community_id = form_int(form, "community_id", le=2**31)
        async with handling(
            session,
            form,
            CREDIT_PAGE,
            lambda: self._context(request, session, community_id, now),
            fields=COMPACT_FIELDS,
        ):
            phone = "".join(str(form.value("phone")).split())
            user_id = None
            if not phone:
                form.errors["phone"] = ("form.required", {})
            else:
                try:
                    user_id = (await auth.visible_user_by_phone(session, request.user, phone)).id
                except MarketError as error:
                    form.refuse(error, COMPACT_FIELDS)
            body = parse(form, CompactEntryWrite, settings.tz)
            if form.errors or user_id is None:
                raise FormInvalid
            await credit.enter_compact(session, request.user, user_id, body, now, settings.tz)
        return see_other(url("/desk/credit", community_id=community_id), notice="credit_entered")


CONTROLLERS: list[type[Controller]] = [UnitReviewDesk, CreditDesk]

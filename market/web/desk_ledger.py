"""Pages: the desk's ledger — find an account, read and download its statement, the trial
balance, rewards owed or withheld; adjust a member's points, post or void the adjustments that
wait for a second manager, set a street's adjustment threshold, reverse a transfer — and the
reports page, where ECharts draws the figures of GET /api/reports/summary, rendered into the page
as JSON (and as tables for those without scripts). Filters are GET forms, parsed like any form so
that a bad value is shown next to its field."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel, code_length
from market.areas.service import managed_areas
from market.auth.access import Actor, ActorRequest, requires_manager, requires_street_admin
from market.auth.models import Role
from market.fields import EARLIEST, ID_MAX, LATEST, Day, Id, PathId, text
from market.ledger import authority
from market.ledger import service as ledger
from market.ledger.models import (
    AccountKind,
    AdjustmentReason,
    Asset,
    OwedStatus,
    PendingStatus,
    TransferCode,
)
from market.ledger.schemas import AdjustmentRequest, PathTransferId, ReverseRequest, StreetPolicyWrite
from market.pagination import MAX_OFFSET
from market.reports import service as report_service
from market.reports.schemas import AreaPerformance, ReportSummary
from market.settings import Settings
from market.web.i18n import lang_of, translate
from market.web.pages import (
    Form,
    FormData,
    form_int,
    handling,
    page,
    parse,
    see_other,
    word_options,
)

S = TypeVar("S", bound=msgspec.Struct)

PAGE_SIZE = 20
ACCOUNTS = "desk/ledger_accounts.html"
ACCOUNT = "desk/ledger_account.html"
BALANCE = "desk/ledger_balance.html"
OWED = "desk/ledger_owed.html"
ADJUSTMENTS = "desk/ledger_adjustments.html"
ADJUST = "desk/ledger_adjust.html"
REVERSE = "desk/ledger_reverse.html"
ADJUSTMENTS_PATH = "/desk/ledger/adjustments"
# Refusals shown next to the field they are about.
ADJUST_FIELDS = {
    "adjustment_memo_required": "memo",
    "adjustment_reason_required": "reason",
    "exceeds_credits": "amount",
}
REPORTS = "desk/reports.html"
REPORT_MONTHS = (3, 6, 12, 24)
# Texts the charts draw (titles, series, axes), handed to reports.js with the figures.
CHART_TEXT = (
    "points_title",
    "issued",
    "redeemed",
    "points_axis",
    "status_title",
    "category_title",
    "orders_axis",
    "timings_title",
    "to_accept",
    "to_finish",
    "minutes_axis",
    "ratings_title",
)
Skip = Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET)]


class AccountFilters(msgspec.Struct):
    q: text(50) | None = None
    kind: AccountKind | None = None
    asset: Asset | None = None
    offset: Skip = 0


class StatementFilters(msgspec.Struct):
    code: TransferCode | None = None
    # Local dates, both included.
    since: Day | None = None
    until: Day | None = None
    offset: Skip = 0


class BalanceFilters(msgspec.Struct):
    asset: Asset = Asset.service


class OwedFilters(msgspec.Struct):
    status: Literal["owed", "posted", "withheld", "all"] = "owed"
    offset: Skip = 0


class PageFilters(msgspec.Struct):
    offset: Skip = 0


class SettleForm(msgspec.Struct):
    action: Literal["post", "void"]


class ReportFilters(msgspec.Struct):
    area_id: Id | None = None
    months: Annotated[int, msgspec.Meta(ge=1, le=report_service.MAX_MONTHS)] = 12
    # The month the grids are ranked over (default: this one).
    month: Annotated[str, msgspec.Meta(pattern=report_service.MONTH_PATTERN)] | None = None


async def _filters(
    request: Request,
    session: AsyncSession,
    schema: type[S],
    template: str,
    context: dict[str, Any],
    tz: ZoneInfo,
) -> tuple[Form, S]:
    """The page's query as a filter form; a bad value shows the page again with its error."""
    form = Form.of(dict(request.query_params.items()))
    async with handling(session, form, template, lambda: context):
        return form, parse(form, schema, tz)


def _owner_label(lang: str, name: str) -> str:
    """An account's owner in the page's language: the ledger names a street's or community's
    account by the area's name and the account's kind in English ("X community pool")."""
    for kind in AccountKind:
        suffix = " " + kind.replace("_", " ")
        if kind != AccountKind.member and name.endswith(suffix):
            return f"{name.removesuffix(suffix)} · {translate(lang, f'account_kind.{kind}')}"
    return name


def _ledger_context(request: Request, **values: Any) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        # The trial balance's tab: for the street's admins and admins, whom its route admits.
        "may_see_balance": request.user.has(Role.street_admin, Role.admin),
        "owner": partial(_owner_label, lang),
        "kind_options": word_options(lang, "account_kind", AccountKind),
        "asset_options": word_options(lang, "asset", Asset),
        "code_options": word_options(lang, "transfer_code", TransferCode),
        "reason_options": word_options(lang, "adjustment_reason", AdjustmentReason),
        "direction_options": word_options(lang, "ledger.direction", ("give", "take")),
        "owed_options": [
            *word_options(lang, "owed_status", OwedStatus),
            ("all", translate(lang, "ledger.owed_all")),
        ],
        "limit": PAGE_SIZE,
        "offset": 0,
        "total": 0,
        **values,
    }


def _local_bounds(filters: StatementFilters, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """The statement's dates as moments: from the start of `since` to the end of `until`."""
    since = datetime.combine(filters.since, time.min, tz) if filters.since else None
    until = datetime.combine(filters.until + timedelta(days=1), time.min, tz) if filters.until else None
    return since, until


async def _report_areas(session: AsyncSession, actor: Actor, lang: str) -> list[tuple[int, str]]:
    return [
        (a.id, f"{a.name} · {translate(lang, f'area_level.{a.level}')}")
        for a in await managed_areas(session, actor)
    ]


def _minutes(lang: str, value: float | None) -> str:
    return (
        translate(lang, "reports.none_yet")
        if value is None
        else translate(lang, "reports.minutes", n=f"{value:g}")
    )


def _tables(report: ReportSummary, chart: dict[str, Any], lang: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of the tables under the charts: each chart's figures, for those without scripts."""
    timings = report.timings
    return {
        "points": list(zip(chart["months"], chart["issued"], chart["redeemed"], strict=True)),
        "statuses": [(s["name"], s["value"]) for s in chart["statuses"]],
        "categories": [(c["name"], c["value"]) for c in chart["categories"]],
        "timings": [
            (translate(lang, "reports.to_accept"), _minutes(lang, timings.median_minutes_to_accept)),
            (translate(lang, "reports.to_finish"), _minutes(lang, timings.median_minutes_to_finish)),
        ],
        "ratings": list(zip(chart["rating_labels"], chart["ratings"], strict=True)),
    }


def _span(lang: str, minutes: int) -> str:
    """A deadline's length in the largest whole unit: 3 days, 1 h, 90 min."""
    for unit, size in (("days", 1440), ("hours", 60)):
        if minutes % size == 0:
            return translate(lang, f"reports.span_{unit}", n=minutes // size)
    return translate(lang, "reports.minutes", n=minutes)


def _ranking(rows: list[AreaPerformance], lang: str) -> dict[str, Any]:
    """A ranking table: its deadline columns' headings, and each area's cells as the page shows them."""

    def percent(rate: float | None) -> str:
        return translate(lang, "reports.none_yet") if rate is None else f"{rate:.1%}"

    deadlines = [
        translate(lang, f"reports.kept_{d.step}", span=_span(lang, d.within_minutes))
        for d in (rows[0].on_time if rows else [])
    ]
    return {
        "deadlines": deadlines,
        "rows": [
            [
                row.rank,
                row.area_name,
                row.received,
                row.handled,
                percent(row.resolution_rate),
                *(f"{percent(d.rate)} ({d.met}/{d.due})" if d.due else percent(None) for d in row.on_time),
                _minutes(lang, row.median_minutes_to_accept),
                _minutes(lang, row.median_minutes_to_finish),
                translate(lang, "reports.none_yet") if row.mean_rating is None else f"{row.mean_rating:.2f}",
                percent(row.good_rating_share),
                row.complaints,
                f"{row.followups.total - row.followups.open}/{row.followups.total}",
                row.followups.unresolved,
                row.reported_by_informants,
            ]
            for row in rows
        ],
    }


def _chart(report: ReportSummary, lang: str) -> dict[str, Any]:
    """What reports.js draws: the figures with their labels already in the page's language."""
    t = partial(translate, lang)
    return {
        "months": [p.month for p in report.points],
        "issued": [p.issued for p in report.points],
        "redeemed": [p.redeemed for p in report.points],
        "statuses": [
            {"name": t(f"order_status.{s.status}"), "value": s.count}
            for s in report.orders_by_status
            if s.count
        ],
        "categories": [
            {"name": c.name_zh if lang == "zh" else c.name_en, "value": c.count}
            for c in report.orders_by_category
        ],
        "timings": [report.timings.median_minutes_to_accept, report.timings.median_minutes_to_finish],
        "ratings": [r.count for r in report.satisfaction.ratings],
        "rating_labels": [t("reports.stars", n=r.rating) for r in report.satisfaction.ratings],
        "text": {key: t(f"reports.{key}") for key in CHART_TEXT},
    }


class LedgerPages(Controller):
    path = "/desk"
    guards = [requires_manager]
    include_in_schema = False

    @get("/ledger")
    async def accounts(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        context = _ledger_context(request, items=[], query={})
        form, f = await _filters(request, session, AccountFilters, ACCOUNTS, context, settings.tz)
        items, total = await ledger.list_accounts(
            session,
            request.user,
            user_id=None,
            kind=f.kind,
            asset=f.asset,
            limit=PAGE_SIZE,
            offset=f.offset,
            q=f.q,
        )
        context.update(
            items=items, total=total, offset=f.offset, query={"q": f.q, "kind": f.kind, "asset": f.asset}
        )
        return page(request, ACCOUNTS, form=form, **context)

    @get("/ledger/accounts/{account_id:int}")
    async def account(
        self,
        request: ActorRequest,
        account_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        detail = await ledger.get_account(session, request.user, account_id)
        context = _ledger_context(
            request, account=detail, entries=[], query={}, api_query={}, dates=(EARLIEST, LATEST)
        )
        form, f = await _filters(request, session, StatementFilters, ACCOUNT, context, settings.tz)
        since, until = _local_bounds(f, settings.tz)
        entries, total = await ledger.entries(
            session,
            request.user,
            account_id,
            code=f.code,
            since=since,
            until=until,
            limit=PAGE_SIZE,
            offset=f.offset,
        )
        context.update(
            entries=entries,
            total=total,
            offset=f.offset,
            query={"code": f.code, "since": f.since, "until": f.until},
            # The API's statement takes moments; the downloads hold what the table shows.
            api_query={
                "code": f.code,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
        return page(request, ACCOUNT, form=form, **context)

    @get("/ledger/trial-balance", guards=[requires_street_admin])
    async def trial_balance(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        context = _ledger_context(request, balance=None)
        form, f = await _filters(request, session, BalanceFilters, BALANCE, context, settings.tz)
        context.update(balance=await ledger.trial_balance(session, f.asset, request.user, journal=True))
        return page(request, BALANCE, form=form, **context)

    @get("/ledger/owed")
    async def owed(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        context = _ledger_context(request, rows=[], names={}, query={})
        form, f = await _filters(request, session, OwedFilters, OWED, context, settings.tz)
        status = None if f.status == "all" else OwedStatus(f.status)
        rows, names, total = await ledger.list_owed(session, request.user, status, PAGE_SIZE, f.offset)
        context.update(rows=rows, names=names, total=total, offset=f.offset, query={"status": f.status})
        return page(request, OWED, form=form, **context)

    # ---------------------------------------------------------------- adjustments and reversals

    async def _adjustments_context(
        self,
        request: ActorRequest,
        session: AsyncSession,
        now: datetime,
        offset: int = 0,
        street_id: int | None = None,
    ) -> dict[str, Any]:
        items, total = await ledger.pending_adjustments(session, request.user, now, PAGE_SIZE, offset)
        return _ledger_context(
            request,
            pending=items,
            total=total,
            offset=offset,
            streets=await ledger.street_policies(session, request.user),
            hold_days=authority.ADJUSTMENT_HOLD.days,
            # The street whose threshold form was refused: its field shows what was typed.
            form_street=street_id,
        )

    @get("/ledger/adjustments")
    async def adjustments(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        context = _ledger_context(request, pending=[], streets=[], hold_days=0, form_street=None)
        _, f = await _filters(request, session, PageFilters, ADJUSTMENTS, context, settings.tz)
        context = await self._adjustments_context(request, session, now, f.offset)
        return page(request, ADJUSTMENTS, form=None, **context)

    @post("/ledger/adjustments/{transfer_id:str}/settle")
    async def settle_adjustment(
        self,
        request: ActorRequest,
        transfer_id: PathTransferId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, ADJUSTMENTS, lambda: self._adjustments_context(request, session, now), shown=()
        ):
            chosen = parse(form, SettleForm, settings.tz)
            await ledger.settle_adjustment(
                session, request.user, transfer_id, post=chosen.action == "post", now=now, tz=settings.tz
            )
        return see_other(
            ADJUSTMENTS_PATH,
            notice="ledger_adjustment_posted" if chosen.action == "post" else "ledger_adjustment_voided",
        )

    @post("/ledger/streets/{street_id:int}/threshold")
    async def set_threshold(
        self,
        request: ActorRequest,
        street_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            ADJUSTMENTS,
            lambda: self._adjustments_context(request, session, now, street_id=street_id),
            shown={"adjustment_threshold"},
        ):
            body = parse(form, StreetPolicyWrite, settings.tz)
            await ledger.put_street_policy(session, request.user, street_id, body)
        return see_other(ADJUSTMENTS_PATH, notice="ledger_threshold_saved")

    async def _adjust_context(
        self, request: ActorRequest, session: AsyncSession, account_id: int
    ) -> dict[str, Any]:
        account = await ledger.visible_account(session, request.user, account_id)
        return _ledger_context(
            request,
            account=await ledger.get_account(session, request.user, account_id),
            threshold=await ledger.adjustment_threshold(session, account),
            hold_days=authority.ADJUSTMENT_HOLD.days,
        )

    @get("/ledger/accounts/{account_id:int}/adjust")
    async def adjust_form(
        self, request: ActorRequest, account_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        context = await self._adjust_context(request, session, account_id)
        return page(request, ADJUST, form=Form({"direction": "give"}), **context)

    @post("/ledger/accounts/{account_id:int}/adjust")
    async def adjust(
        self,
        request: ActorRequest,
        account_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            ADJUST,
            lambda: self._adjust_context(request, session, account_id),
            fields=ADJUST_FIELDS,
        ):
            body = parse(form, AdjustmentRequest, settings.tz, account_id=account_id)
            made = await ledger.adjust(session, request.user, body, now, settings.tz)
        held = made.pending_status == PendingStatus.pending
        return see_other(
            f"/desk/ledger/accounts/{account_id}",
            notice="ledger_adjustment_held" if held else "ledger_adjusted",
        )

    async def _reverse_context(
        self, request: ActorRequest, session: AsyncSession, transfer_id: str, account: int | None
    ) -> dict[str, Any]:
        found = await ledger.visible_transfer(session, request.user, transfer_id)
        return _ledger_context(request, transfer=ledger.transfer_read(found), back_account=account)

    @get("/ledger/transfers/{transfer_id:str}/reverse")
    async def reverse_form(
        self, request: ActorRequest, transfer_id: PathTransferId, session: NamedDependency[AsyncSession]
    ) -> Template:
        account = form_int(Form.of(dict(request.query_params.items())), "account", le=ID_MAX)
        context = await self._reverse_context(request, session, transfer_id, account)
        return page(request, REVERSE, form=Form(), **context)

    @post("/ledger/transfers/{transfer_id:str}/reverse")
    async def reverse(
        self,
        request: ActorRequest,
        transfer_id: PathTransferId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        account = form_int(form, "account", le=ID_MAX)
        async with handling(
            session,
            form,
            REVERSE,
            lambda: self._reverse_context(request, session, transfer_id, account),
            shown={"reason"},
        ):
            body = parse(form, ReverseRequest, settings.tz)
            await ledger.reverse(session, request.user, transfer_id, body.reason, now, settings.tz)
        back = f"/desk/ledger/accounts/{account}" if account else "/desk/ledger"
        return see_other(back, notice="ledger_reversed")

    @get("/reports")
    async def reports(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        lang = lang_of(request)
        context = {
            "areas": await _report_areas(session, request.user, lang),
            "month_options": [(n, translate(lang, "reports.months_n", n=n)) for n in REPORT_MONTHS],
            "month_choices": [
                (m, m) for m in report_service.recent_months(now, settings.tz, report_service.MAX_MONTHS)
            ],
            "report": None,
        }
        _, f = await _filters(request, session, ReportFilters, REPORTS, context, settings.tz)
        report = await report_service.summary(session, request.user, f.area_id, f.months, now, settings.tz)
        chart = _chart(report, lang)
        month = f.month or report_service.month_of(now, settings.tz)
        area, grids = await report_service.area_performance(
            session, request.user, f.area_id, AreaLevel.grid, month, now, settings
        )
        rankings = {AreaLevel.grid: _ranking(grids, lang)}
        # Communities are compared where the area holds whole communities (not inside a grid's).
        if area is None or len(area.code) <= code_length(AreaLevel.community):
            _, communities = await report_service.area_performance(
                session, request.user, f.area_id, AreaLevel.community, month, now, settings
            )
            rankings[AreaLevel.community] = _ranking(communities, lang)
        context.update(
            report=report,
            chart=chart,
            tables=_tables(report, chart, lang),
            minutes=partial(_minutes, lang),
            rankings=rankings,
            api_query={"area_id": report.area_id, "months": f.months},
            month=month,
        )
        # The area shown, the person's own when they chose none.
        form = Form({"area_id": report.area_id or "", "months": f.months, "month": month})
        return page(request, REPORTS, form=form, **context)


CONTROLLERS: list[type[Controller]] = [LedgerPages]

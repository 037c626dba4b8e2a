"""Figures for the desk's charts, over the last months of an area.

Orders count by where they were posted and when (posted in the period). Points count by
the member's home: the member account's area, so that the figures add up to the entries
of the member statements the same managers can read. Issued points are the rewards paid
from community pools to members (service, wish and project rewards; a later reversal is a
correction of its own and is not netted); redeemed points are redemptions posted at pickup.
Months are calendar months in local time; their boundaries are computed here and compared
in SQL, so the grouping is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Float, Select, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, code_length
from market.areas.service import managed_area, subtree
from market.auth.access import Actor
from market.categories.models import ServiceCategory
from market.errors import Unprocessable
from market.followups.models import FollowUp, FollowUpOutcome, FollowUpReason
from market.ledger.models import Account, AccountKind, Asset, Transfer, TransferCode
from market.orders.models import Order, OrderChannel, OrderStatus
from market.orders.service import WAITING, escalation_rules
from market.reports.models import PointsMonth
from market.reports.schemas import (
    AreaPerformance,
    CategoryCount,
    DeadlineKept,
    FollowUpCounts,
    MonthPoints,
    RatingCount,
    ReportSummary,
    Satisfaction,
    StatusCount,
    Timings,
)
from market.settings import Settings

MAX_MONTHS = 24
# A local month, as the reports name it ("2026-06").
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
REWARD_CODES = (TransferCode.service_reward, TransferCode.wish_reward, TransferCode.project_reward)
RATINGS = range(1, 6)
# The levels whose areas are compared with each other, month by month.
COMPARED_LEVELS = (AreaLevel.grid, AreaLevel.community)
HANDLED = (OrderStatus.completed, OrderStatus.confirmed)
# Orders taken back before they were served: they count for no deadline.
WITHDRAWN = (OrderStatus.cancelled, OrderStatus.rejected)
GOOD_RATING = 4


def month_starts(now: datetime, tz: ZoneInfo, months: int) -> list[datetime]:
    """The first moments of the last `months` local months, and of the month after (in UTC)."""
    local = now.astimezone(tz)
    current = local.year * 12 + local.month - 1
    return [
        datetime(index // 12, index % 12 + 1, 1, tzinfo=tz).astimezone(UTC)
        for index in range(current - months + 1, current + 2)
    ]


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The first moment of a local month ("2026-06") and of the month after, in UTC."""
    year, number = int(month[:4]), int(month[5:7])
    after = (year + number // 12, number % 12 + 1)
    return (
        datetime(year, number, 1, tzinfo=tz).astimezone(UTC),
        datetime(*after, 1, tzinfo=tz).astimezone(UTC),
    )


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m")


def recent_months(now: datetime, tz: ZoneInfo, months: int) -> list[str]:
    """The last `months` local months, this one first."""
    return [month_of(start, tz) for start in reversed(month_starts(now, tz, months)[:-1])]


async def _report_area(session: AsyncSession, actor: Actor, area_id: int | None) -> Area | None:
    if area_id is None and actor.area_id is None:
        return None  # an administrator without a home area: every area
    return await managed_area(session, actor, area_id if area_id is not None else actor.area_id)


# Each figure of MonthPoints: the member's side of its transfers, and their codes.
POINT_FLOWS = (
    (Transfer.credit_account_id, REWARD_CODES),  # issued
    (Transfer.debit_account_id, (TransferCode.redemption,)),  # redeemed
)
# A month is rolled up this long after it ends, when every transfer posted in it has long committed.
ROLL_UP_AFTER = timedelta(hours=1)


def _points_moved(
    member_side: ColumnElement[int],
    codes: tuple[TransferCode, ...],
    since: datetime,
    until: datetime,
    *columns: ColumnElement[Any],
) -> Select:
    """`columns` of the posted service points moved to or from members (`member_side`) in [since, until)."""
    return (
        select(*columns)
        .select_from(Transfer)
        .join(Account, Account.id == member_side)
        .where(
            Transfer.asset == Asset.service,
            Transfer.code.in_(codes),
            ~Transfer.pending,
            ~Transfer.void_pending,
            Transfer.timestamp >= since,
            Transfer.timestamp < until,
            Account.kind == AccountKind.member,
        )
    )


async def _points_from_transfers(
    session: AsyncSession, prefix: str, bounds: list[datetime]
) -> list[tuple[int, int]]:
    """(issued, redeemed) for members of the area, per month between `bounds`, read from the transfers."""
    month = case(*((Transfer.timestamp < end, index) for index, end in enumerate(bounds[1:])))
    per_flow = []
    for member_side, codes in POINT_FLOWS:
        moved = (
            _points_moved(member_side, codes, bounds[0], bounds[-1], month.label("month"), Transfer.amount)
            .where(Account.area_code.startswith(prefix, autoescape=True))
            .subquery()
        )
        totals = dict(
            (
                await session.execute(select(moved.c.month, func.sum(moved.c.amount)).group_by(moved.c.month))
            ).all()
        )
        per_flow.append([int(totals.get(index, 0)) for index in range(len(bounds) - 1)])
    return list(zip(*per_flow, strict=True))


async def _points(
    session: AsyncSession, prefix: str, bounds: list[datetime], tz: ZoneInfo
) -> list[MonthPoints]:
    """Points per month for members of the area: the rolled-up months from their sums, the months
    from the first one not rolled up (this one, at least) from the transfers."""
    months = [month_of(start, tz) for start in bounds[:-1]]
    in_area = PointsMonth.area_code.startswith(prefix, autoescape=True)
    rolled = {
        month: (int(issued), int(redeemed))
        for month, issued, redeemed in await session.execute(
            select(
                PointsMonth.month,
                func.coalesce(func.sum(PointsMonth.issued).filter(in_area), 0),
                func.coalesce(func.sum(PointsMonth.redeemed).filter(in_area), 0),
            )
            .where(
                PointsMonth.time_zone == tz.key,
                PointsMonth.month.in_(months),
                # The empty code's row marks a rolled-up month, also when the area moved nothing.
                in_area | (PointsMonth.area_code == ""),
            )
            .group_by(PointsMonth.month)
        )
    }
    first_live = next((i for i, month in enumerate(months) if month not in rolled), len(months))
    figures = [rolled[month] for month in months[:first_live]]
    if first_live < len(months):
        figures += await _points_from_transfers(session, prefix, bounds[first_live:])
    return [
        MonthPoints(month=month, issued=issued, redeemed=redeemed)
        for month, (issued, redeemed) in zip(months, figures, strict=True)
    ]


async def roll_up_points(session: AsyncSession, now: datetime, tz: ZoneInfo) -> int:
    """Sum the points of each ended month of the last MAX_MONTHS not rolled up yet, per member home
    area (job `roll_up_points`). Returns how many months it rolled up."""
    starts = month_starts(now, tz, MAX_MONTHS)
    ended = {
        month_of(start, tz): (start, end) for start, end in pairwise(starts) if end <= now - ROLL_UP_AFTER
    }
    done = set(
        await session.scalars(
            select(PointsMonth.month).where(
                PointsMonth.time_zone == tz.key, PointsMonth.month.in_(ended), PointsMonth.area_code == ""
            )
        )
    )
    for month, (start, end) in ended.items():
        if month in done:
            continue
        sums: dict[str, list[int]] = {"": [0, 0]}
        for index, (member_side, codes) in enumerate(POINT_FLOWS):
            moved = _points_moved(
                member_side, codes, start, end, Account.area_code, func.sum(Transfer.amount)
            )
            for area_code, amount in await session.execute(moved.group_by(Account.area_code)):
                sums.setdefault(area_code, [0, 0])[index] = int(amount)
        session.add_all(
            PointsMonth(time_zone=tz.key, month=month, area_code=code, issued=issued, redeemed=redeemed)
            for code, (issued, redeemed) in sums.items()
        )
    return len(ended) - len(done)


def _measured(session: AsyncSession, start: ColumnElement[datetime], end: ColumnElement[datetime]):
    """Whether `_minutes` from `start` to `end` has a value: a cheaper test than computing it."""
    known = start.is_not(None) & end.is_not(None)
    if session.get_bind().dialect.name == "postgresql":
        # asyncpg stores the very last moment (9999-12-31 23:59:59.999999) as infinity: no duration.
        return known & func.isfinite(start) & func.isfinite(end)
    return known


def _minutes(session: AsyncSession, start: ColumnElement[datetime], end: ColumnElement[datetime]):
    """Minutes from `start` to `end` in SQL (NULL when either is), as Python's timedelta would count them."""
    if session.get_bind().dialect.name == "postgresql":
        minutes = cast(func.extract("epoch", end - start), Float) / 60
    else:
        # SQLite keeps timestamps as text: julianday's days, back to whole microseconds.
        minutes = func.round((func.julianday(end) - func.julianday(start)) * 86400, 6) / 60
    return case((_measured(session, start, end), minutes), else_=None)


async def _medians(
    session: AsyncSession,
    values: list[ColumnElement[float]],
    where: list[ColumnElement[bool]],
    key: ColumnElement[str] | None = None,
) -> dict[str | None, list[float | None]]:
    """The medians of the non-NULL `values` of the orders `where` selects, per `key` (or of them all,
    under None), computed in the database."""
    keys = [] if key is None else [key.label("key")]
    if session.get_bind().dialect.name == "postgresql":
        # One pass over the orders for every median.
        medians = [func.percentile_cont(0.5).within_group(v) for v in values]
        rows = await session.execute(select(*keys, *medians).where(*where).group_by(*keys))
        return {row[0] if keys else None: list(row[len(keys) :]) for row in rows}
    # SQLite has no percentile: the middle row, or the mean of the middle two, by rank.
    found: dict[str | None, list[float | None]] = {}
    partition = None if key is None else [key]
    for index, value in enumerate(values):
        ranked = (
            select(
                *keys,
                value.label("value"),
                func.row_number().over(partition_by=partition, order_by=value).label("rank"),
                func.count().over(partition_by=partition).label("n"),
            )
            .where(*where, value.is_not(None))
            .subquery()
        )
        middle = ranked.c.rank.in_(((ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2))
        grouped = [] if key is None else [ranked.c.key]
        for *group, median in await session.execute(
            select(*grouped, func.avg(ranked.c.value)).where(middle).group_by(*grouped)
        ):
            found.setdefault(group[0] if group else None, [None] * len(values))[index] = median
    return found


# The spans whose medians the reports show.
TO_ACCEPT = (Order.created_at, Order.accepted_at)
TO_FINISH = (Order.accepted_at, Order.completed_at)


def _spans(session: AsyncSession) -> list[ColumnElement[float]]:
    """Minutes to accept and to finish, in that order, for `_medians`."""
    return [_minutes(session, *TO_ACCEPT), _minutes(session, *TO_FINISH)]


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


async def _orders(session: AsyncSession, in_period: ColumnElement[bool]) -> dict[str, Any]:
    """The order figures of the summary: counts in one pass over the period's orders (grouped by
    status, category and rating, added up here), the two medians in another."""
    by_status: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    ratings: Counter[int] = Counter()
    accepted = finished = 0
    groups = await session.execute(
        select(
            Order.status,
            Order.category_code,
            Order.rating,
            func.count(),
            func.count().filter(_measured(session, *TO_ACCEPT)),
            func.count().filter(_measured(session, *TO_FINISH)),
        )
        .where(in_period)
        .group_by(Order.status, Order.category_code, Order.rating)
    )
    for status, category, rating, n, n_accepted, n_finished in groups:
        by_status[status] += n
        by_category[category] += n
        if status == OrderStatus.confirmed and rating is not None:
            ratings[rating] += n
        accepted += n_accepted
        finished += n_finished
    names = {
        code: (zh, en)
        for code, zh, en in await session.execute(
            select(ServiceCategory.code, ServiceCategory.name_zh, ServiceCategory.name_en).where(
                ServiceCategory.code.in_(by_category)
            )
        )
    }
    to_accept_median, to_finish_median = (await _medians(session, _spans(session), [in_period])).get(
        None, [None, None]
    )
    rated = ratings.total()
    return {
        "orders": by_status.total(),
        "orders_by_status": [StatusCount(status=s, count=by_status[s]) for s in OrderStatus],
        "orders_by_category": [
            CategoryCount(code=code, name_zh=names[code][0], name_en=names[code][1], count=n)
            for code, n in sorted(by_category.items(), key=lambda item: (-item[1], item[0]))
        ],
        "timings": Timings(
            median_minutes_to_accept=_rounded(to_accept_median),
            accepted=accepted,
            median_minutes_to_finish=_rounded(to_finish_median),
            finished=finished,
        ),
        "satisfaction": Satisfaction(
            ratings=[RatingCount(rating=r, count=ratings[r]) for r in RATINGS],
            rated=rated,
            mean=round(sum(r * n for r, n in ratings.items()) / rated, 2) if rated else None,
        ),
    }


async def summary(
    session: AsyncSession, actor: Actor, area_id: int | None, months: int, now: datetime, tz: ZoneInfo
) -> ReportSummary:
    area = await _report_area(session, actor, area_id)
    prefix = area.code if area else ""
    bounds = month_starts(now, tz, months)
    in_period = Order.area_code.startswith(prefix, autoescape=True) & (Order.created_at >= bounds[0])
    return ReportSummary(
        area_id=area.id if area else None,
        area_name=area.name if area else "",
        months=months,
        since=bounds[0],
        until=now,
        points=await _points(session, prefix, bounds, tz),
        **await _orders(session, in_period),
    )


async def _followups(
    session: AsyncSession, unit: ColumnElement[str], where: list[ColumnElement[bool]]
) -> dict[str, tuple[int, FollowUpCounts]]:
    """Per area: the complaints and the follow-ups of the orders chosen by `where`."""
    rows = await session.execute(
        select(
            unit,
            func.count().filter(FollowUp.reason == FollowUpReason.complaint),
            func.count(),
            func.count().filter(FollowUp.outcome.is_(None)),
            *(func.count().filter(FollowUp.outcome == outcome) for outcome in FollowUpOutcome),
        )
        .join(Order, Order.id == FollowUp.order_id)
        .where(*where)
        .group_by(unit)
    )
    return {
        code: (
            complaints,
            FollowUpCounts(total=total, open=still_open, **dict(zip(FollowUpOutcome, outcomes, strict=True))),
        )
        for code, complaints, total, still_open, *outcomes in rows
    }


NO_FOLLOWUPS = (0, FollowUpCounts(total=0, open=0, satisfied=0, resolved=0, unresolved=0, unreachable=0))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def area_performance(
    session: AsyncSession,
    actor: Actor,
    area_id: int | None,
    level: AreaLevel,
    month: str,
    now: datetime,
    settings: Settings,
) -> tuple[Area | None, list[AreaPerformance]]:
    """The area (None: every area), and every grid (or community) inside it with its figures for the
    orders posted in `month`, ranked: one GROUP BY over the month's orders by the code prefix of
    `level`, and one for the medians."""
    area = await _report_area(session, actor, area_id)
    prefix = area.code if area else ""
    length = code_length(level)
    if len(prefix) > length:
        raise Unprocessable(f"Your area is inside one {level}.", code="report_level_above_area", level=level)
    start, end = month_bounds(month, settings.tz)
    unit = func.substr(Order.area_code, 1, length)
    where = [
        Order.area_code.startswith(prefix, autoescape=True),
        Order.created_at >= start,
        Order.created_at < end,
    ]
    # Each deadline of the "1130" rule: accepting for the rules on waiting orders, finishing otherwise.
    deadlines = [
        (rule_level, "accept" if statuses == WAITING else "finish", int(after.total_seconds()) // 60)
        for rule_level, statuses, after, _why in reversed(escalation_rules(settings))
    ]
    kept = []
    for _level, step, minutes in deadlines:
        taken = Order.accepted_at if step == "accept" else Order.completed_at
        met = taken.is_not(None) & (_minutes(session, Order.created_at, taken) <= minutes)
        passed = ~Order.status.in_(WITHDRAWN) & (Order.created_at <= now - timedelta(minutes=minutes))
        kept += [func.count().filter(met), func.count().filter(met | taken.is_not(None) | passed)]
    rated = (Order.status == OrderStatus.confirmed) & Order.rating.is_not(None)
    counts = {
        code: tuple(row)
        for code, *row in await session.execute(
            select(
                unit,
                func.count(),
                func.count().filter(Order.status.in_(HANDLED)),
                *kept,
                func.count().filter(rated),
                func.sum(Order.rating).filter(rated),
                func.count().filter(rated & (Order.rating >= GOOD_RATING)),
                func.count().filter(Order.channel == OrderChannel.informant),
            )
            .where(*where)
            .group_by(unit)
        )
    }
    followups = await _followups(session, unit, where)
    medians = await _medians(session, _spans(session), where, unit)
    rows = []
    for compared in await subtree(session, area, [level]):
        received, handled, *figures, informed = counts.get(compared.code, (0,) * (2 + 2 * len(deadlines) + 4))
        n_rated, rating_sum, good = figures[-3:]
        rows.append(
            AreaPerformance(
                rank=0,
                area_id=compared.id,
                area_code=compared.code,
                area_name=compared.name,
                received=received,
                handled=handled,
                resolution_rate=_rate(handled, received),
                on_time=[
                    DeadlineKept(
                        level=rule_level,
                        step=step,
                        within_minutes=minutes,
                        due=figures[2 * i + 1],
                        met=figures[2 * i],
                        rate=_rate(figures[2 * i], figures[2 * i + 1]),
                    )
                    for i, (rule_level, step, minutes) in enumerate(deadlines)
                ],
                median_minutes_to_accept=_rounded(medians.get(compared.code, [None, None])[0]),
                median_minutes_to_finish=_rounded(medians.get(compared.code, [None, None])[1]),
                rated=n_rated,
                mean_rating=round(rating_sum / n_rated, 2) if n_rated else None,
                good_rating_share=_rate(good, n_rated),
                complaints=followups.get(compared.code, NO_FOLLOWUPS)[0],
                followups=followups.get(compared.code, NO_FOLLOWUPS)[1],
                reported_by_informants=informed,
            )
        )

    def standing(row: AreaPerformance) -> tuple:
        # Best first; an area without a figure after every area with one.
        rates = [row.resolution_rate, *(d.rate for d in row.on_time)]
        return (*((rate is None, -(rate or 0)) for rate in rates), row.area_code)

    rows.sort(key=standing)
    for rank, row in enumerate(rows, 1):
        row.rank = rank
    return area, rows

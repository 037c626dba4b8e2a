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

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Float, Label, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area
from market.areas.service import managed_area
from market.auth.access import Actor
from market.categories.models import ServiceCategory
from market.ledger.models import Account, AccountKind, Asset, Transfer, TransferCode
from market.orders.models import Order, OrderEvent, OrderStatus
from market.reports.schemas import (
    CategoryCount,
    MonthPoints,
    RatingCount,
    ReportSummary,
    Satisfaction,
    StatusCount,
    Timings,
)

MAX_MONTHS = 24
REWARD_CODES = (TransferCode.service_reward, TransferCode.wish_reward, TransferCode.project_reward)
RATINGS = range(1, 6)


def month_starts(now: datetime, tz: ZoneInfo, months: int) -> list[datetime]:
    """The first moments of the last `months` local months, and of the month after (in UTC)."""
    local = now.astimezone(tz)
    current = local.year * 12 + local.month - 1
    return [
        datetime(index // 12, index % 12 + 1, 1, tzinfo=tz).astimezone(UTC)
        for index in range(current - months + 1, current + 2)
    ]


async def _report_area(session: AsyncSession, actor: Actor, area_id: int | None) -> Area | None:
    if area_id is None and actor.area_id is None:
        return None  # an administrator without a home area: every area
    return await managed_area(session, actor, area_id if area_id is not None else actor.area_id)


async def _points_per_month(
    session: AsyncSession,
    member_side: ColumnElement[int],
    codes: tuple[TransferCode, ...],
    prefix: str,
    bounds: list[datetime],
) -> list[int]:
    """Posted service points moved to or from members of the area (`member_side`), per month."""
    month = case(*((Transfer.timestamp < end, index) for index, end in enumerate(bounds[1:])))
    moved = (
        select(month.label("month"), Transfer.amount)
        .join(Account, Account.id == member_side)
        .where(
            Transfer.asset == Asset.service,
            Transfer.code.in_(codes),
            ~Transfer.pending,
            ~Transfer.void_pending,
            Transfer.timestamp >= bounds[0],
            Transfer.timestamp < bounds[-1],
            Account.kind == AccountKind.member,
            Account.area_code.startswith(prefix, autoescape=True),
        )
        .subquery()
    )
    totals = dict(
        (await session.execute(select(moved.c.month, func.sum(moved.c.amount)).group_by(moved.c.month))).all()
    )
    return [int(totals.get(index, 0)) for index in range(len(bounds) - 1)]


def _minutes(session: AsyncSession, start: ColumnElement[datetime], end: ColumnElement[datetime]):
    """Minutes from `start` to `end` in SQL (NULL when either is), as Python's timedelta would count them."""
    if session.get_bind().dialect.name == "postgresql":
        # asyncpg stores the very last moment (9999-12-31 23:59:59.999999) as infinity: no duration.
        finite = func.isfinite(start) & func.isfinite(end)
        return case((finite, cast(func.extract("epoch", end - start), Float) / 60), else_=None)
    # SQLite keeps timestamps as text: julianday's days, back to whole microseconds.
    return func.round((func.julianday(end) - func.julianday(start)) * 86400, 6) / 60


def _median(session: AsyncSession, values: ColumnElement[float], source: CTE) -> ColumnElement[float]:
    """The median of the non-NULL `values` of `source`, computed where the rows are: an aggregate
    over `source`."""
    if session.get_bind().dialect.name == "postgresql":
        return func.percentile_cont(0.5).within_group(values)
    # SQLite has no percentile: the middle row, or the mean of the middle two, by rank.
    ranked = (
        select(
            values.label("value"),
            func.row_number().over(order_by=values).label("rank"),
            func.count().over().label("n"),
        )
        .select_from(source)
        .where(values.is_not(None))
        .subquery()
    )
    middle = ranked.c.rank.in_(((ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2))
    return select(func.avg(ranked.c.value)).where(middle).scalar_subquery()


async def _timings(session: AsyncSession, in_period: ColumnElement[bool]) -> Timings:
    """Medians from the orders' own history: first post, accept and complete events."""

    def first(action: str) -> Label[datetime]:
        return func.min(OrderEvent.at).filter(OrderEvent.action == action).label(action)

    history = (
        select(first("post"), first("accept"), first("complete"))
        .join(Order, Order.id == OrderEvent.order_id)
        .where(in_period, OrderEvent.action.in_(("post", "accept", "complete")))
        .group_by(OrderEvent.order_id)
        .cte("history")
    )
    to_accept = _minutes(session, history.c.post, history.c.accept)
    to_finish = _minutes(session, history.c.accept, history.c.complete)
    row = (
        await session.execute(
            select(
                _median(session, to_accept, history),
                func.count(to_accept),
                _median(session, to_finish, history),
                func.count(to_finish),
            ).select_from(history)
        )
    ).one()
    median_to_accept, accepted, median_to_finish, finished = row
    return Timings(
        median_minutes_to_accept=None if median_to_accept is None else round(median_to_accept, 1),
        accepted=accepted,
        median_minutes_to_finish=None if median_to_finish is None else round(median_to_finish, 1),
        finished=finished,
    )


async def _satisfaction(session: AsyncSession, in_period: ColumnElement[bool]) -> Satisfaction:
    counts = dict(
        (
            await session.execute(
                select(Order.rating, func.count())
                .where(in_period, Order.status == OrderStatus.confirmed, Order.rating.is_not(None))
                .group_by(Order.rating)
            )
        ).all()
    )
    rated = sum(counts.values())
    mean = round(sum(r * n for r, n in counts.items()) / rated, 2) if rated else None
    return Satisfaction(
        ratings=[RatingCount(rating=r, count=counts.get(r, 0)) for r in RATINGS], rated=rated, mean=mean
    )


async def summary(
    session: AsyncSession, actor: Actor, area_id: int | None, months: int, now: datetime, tz: ZoneInfo
) -> ReportSummary:
    area = await _report_area(session, actor, area_id)
    prefix = area.code if area else ""
    bounds = month_starts(now, tz, months)
    issued = await _points_per_month(session, Transfer.credit_account_id, REWARD_CODES, prefix, bounds)
    redeemed = await _points_per_month(
        session, Transfer.debit_account_id, (TransferCode.redemption,), prefix, bounds
    )
    in_period = Order.area_code.startswith(prefix, autoescape=True) & (Order.created_at >= bounds[0])
    statuses = select(Order.status, func.count()).where(in_period).group_by(Order.status)
    by_status = dict((await session.execute(statuses)).all())
    by_category = await session.execute(
        select(ServiceCategory.code, ServiceCategory.name_zh, ServiceCategory.name_en, func.count())
        .join(Order, Order.category_code == ServiceCategory.code)
        .where(in_period)
        .group_by(ServiceCategory.code, ServiceCategory.name_zh, ServiceCategory.name_en)
        .order_by(func.count().desc(), ServiceCategory.code)
    )
    return ReportSummary(
        area_id=area.id if area else None,
        area_name=area.name if area else "",
        months=months,
        since=bounds[0],
        until=now,
        points=[
            MonthPoints(month=start.astimezone(tz).strftime("%Y-%m"), issued=i, redeemed=r)
            for start, i, r in zip(bounds[:-1], issued, redeemed, strict=True)
        ],
        orders=sum(by_status.values()),
        orders_by_status=[StatusCount(status=s, count=by_status.get(s, 0)) for s in OrderStatus],
        orders_by_category=[
            CategoryCount(code=code, name_zh=zh, name_en=en, count=n) for code, zh, en, n in by_category
        ],
        timings=await _timings(session, in_period),
        satisfaction=await _satisfaction(session, in_period),
    )

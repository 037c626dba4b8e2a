from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from market.areas.models import AreaLevel
from market.orders.models import EscalationLevel, OrderStatus


class MonthPoints(msgspec.Struct):
    # "2025-03": a calendar month in local time (settings.timezone).
    month: str
    # Rewards paid from community pools to members (service, wish and project rewards).
    issued: int
    # Redemptions posted at pickup (a held redemption counts once it is handed out).
    redeemed: int


class StatusCount(msgspec.Struct):
    status: OrderStatus
    count: int


class CategoryCount(msgspec.Struct):
    code: str
    name_zh: str
    name_en: str
    count: int


class Timings(msgspec.Struct):
    # Posting to acceptance, over the orders that were accepted.
    median_minutes_to_accept: float | None
    accepted: int
    # Acceptance to completion, over the orders that were completed.
    median_minutes_to_finish: float | None
    finished: int


class RatingCount(msgspec.Struct):
    rating: int
    count: int


class Satisfaction(msgspec.Struct):
    # Ratings 1–5 of the confirmed orders (an order confirmed by the job has none).
    ratings: list[RatingCount]
    rated: int
    mean: float | None


class ReportSummary(msgspec.Struct):
    # None: every area (an administrator without a home area).
    area_id: int | None
    area_name: str
    months: int
    # The period: from the first day of the earliest month (local time) until now.
    since: datetime
    until: datetime
    points: list[MonthPoints]
    # Orders posted in the period.
    orders: int
    orders_by_status: list[StatusCount]
    orders_by_category: list[CategoryCount]
    timings: Timings
    satisfaction: Satisfaction


class DeadlineKept(msgspec.Struct):
    """How often one deadline of the "1130" rule was kept (market.orders.service.escalation_rules)."""

    # Who is told when it is missed, and what must have happened by then, counted from posting.
    level: EscalationLevel
    step: Literal["accept", "finish"]
    within_minutes: int
    # Orders whose outcome is known: the step taken (in time or late), or the deadline passed
    # without it. An order cancelled or rejected before the step counts for neither.
    due: int
    met: int
    rate: float | None


class FollowUpCounts(msgspec.Struct):
    """The follow-up visits (回访) of an area's orders: how many, how many still to make, and how
    those made went (market.followups.models.FollowUpOutcome)."""

    total: int
    open: int
    satisfied: int
    resolved: int
    unresolved: int
    unreachable: int


class AreaPerformance(msgspec.Struct):
    """One grid's (or community's) month: the orders posted inside it in that month."""

    # 1 for the best: by resolution rate, then by the on-time rates in the order of `on_time`;
    # areas without orders come last.
    rank: int
    area_id: int
    area_code: str
    area_name: str
    received: int
    # Completed or confirmed.
    handled: int
    # handled ÷ received (化解率).
    resolution_rate: float | None
    on_time: list[DeadlineKept]
    median_minutes_to_accept: float | None
    median_minutes_to_finish: float | None
    # Ratings 1–5 of the confirmed orders: their mean, and the share of 4 and 5.
    rated: int
    mean_rating: float | None
    good_rating_share: float | None
    # Confirmations the resident marked as a complaint.
    complaints: int
    followups: FollowUpCounts
    # Orders grid informants (网格信息员) reported for residents (channel `informant`).
    reported_by_informants: int


class AreaPerformancePage(msgspec.Struct):
    # "2026-06": a calendar month in local time.
    month: str
    level: AreaLevel
    # The area whose grids (or communities) are listed; None: every area.
    area_id: int | None
    items: list[AreaPerformance]
    total: int
    limit: int
    offset: int

from __future__ import annotations

from datetime import datetime

import msgspec

from market.orders.models import OrderStatus


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

"""Weekly availability against concrete time windows (pure, no database)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from matching.dispatch import ENOUGH_MINUTES

MINUTES_PER_DAY = 1440
WEEK = timedelta(days=7)


def overlap_minutes(
    windows: Iterable[tuple[int, int, int]], start: datetime, end: datetime, tz: ZoneInfo
) -> int:
    """Minutes of [start, end) that fall inside weekly (weekday, start_minute, end_minute) windows."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    by_day: dict[int, list[tuple[int, int]]] = {}
    # Overlapping windows of a day are merged, so no minute counts twice.
    for weekday, lo, hi in sorted(windows):
        day = by_day.setdefault(weekday, [])
        if day and lo <= day[-1][1]:
            day[-1] = (day[-1][0], max(day[-1][1], hi))
        else:
            day.append((lo, hi))
    total = 0
    day = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    # Orders span days at most, so walking day by day is cheap; cap it at two weeks.
    for _ in range(15):
        if day >= local_end:
            break
        day_lo = max(0, int((local_start - day).total_seconds() // 60))
        day_hi = min(MINUTES_PER_DAY, int((local_end - day).total_seconds() // 60))
        for lo, hi in by_day.get(day.weekday(), ()):
            total += max(0, min(hi, day_hi) - max(lo, day_lo))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)
    return total


def is_free(windows: Iterable[tuple[int, int, int]], start: datetime, end: datetime, tz: ZoneInfo) -> bool:
    """The windows give the order at least `ENOUGH_MINUTES` (the solver's threshold), or all of a
    shorter order. Weekly windows repeat, so a window's first week says all there is."""
    needed = min(ENOUGH_MINUTES, int((end - start).total_seconds() // 60))
    return overlap_minutes(windows, start, min(end, start + WEEK), tz) >= max(needed, 1)

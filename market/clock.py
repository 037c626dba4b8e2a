"""Time is injected: the app holds a clock that tests can replace and move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until moved; for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def clock_at(now: datetime | None) -> Clock:
    """The service's clock: the real one, or one standing at `now` (MARKET_NOW, never in production),
    so that a demo or a test server behaves the same at whatever hour it runs."""
    return system_clock if now is None else FrozenClock(now)


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, held at the calendar's first or last moment when it would pass either: a
    deadline counted from a year-1 or year-9999 date (stored before dates were checked) is then
    "never" or "long ago", not an error."""
    try:
        return moment + delta
    except OverflowError:
        edge = datetime.max if delta > timedelta(0) else datetime.min
        return edge.replace(tzinfo=moment.tzinfo)

"""Failed attempts slow further attempts down; nothing is ever locked.

Logins and pickup codes share one rule. Every failure is recorded (`FailedAttempt`). An attempt is
held to a few limits, each counting the recent failures that concern it (those of one account from
one client address, of one client address, ...): a limit lets `free` failures within the window pass,
then every further attempt waits first_wait·2^(failures−free) seconds after the last failure, at most
`max_wait`. A refused attempt is not tried, and so adds no failure. A success erases nothing.

Concurrent attempts must see each other's failures, so each flow takes one lock before it checks
(an advisory lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already lets one writer in at a time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.models import AttemptKind, FailedAttempt
from market.errors import TooManyRequests
from market.settings import Settings


@dataclass(frozen=True, slots=True)
class Limit:
    """The failures that count against one attempt, and how many of them pass without a wait."""

    counts: ColumnElement[bool]
    free: int


@dataclass(frozen=True, slots=True)
class Guard:
    """What one attempt is held to: its limits, and the lock that lines up attempts that share them."""

    lock: str
    limits: Sequence[Limit]


def login_guard(settings: Settings, phone: str, client: str) -> Guard:
    """A login, or a password typed again to change it: by account and address, by address across
    accounts (spraying), and by account across addresses (high, so that a stranger alone cannot
    slow the owner down)."""
    login = FailedAttempt.kind == AttemptKind.login
    account, address = FailedAttempt.account == phone, FailedAttempt.client == client
    return Guard(
        lock=f"login:{client}",
        limits=(
            Limit(and_(login, account, address), settings.login_free_failures),
            Limit(and_(login, address), settings.login_client_free_failures),
            Limit(and_(login, account), settings.login_account_free_failures),
        ),
    )


def pickup_guard(settings: Settings, person_id: int, counter_id: int) -> Guard:
    """A pickup code: by the person typing it, and by the counter it is tried at (everyone's)."""
    pickup = FailedAttempt.kind == AttemptKind.pickup_code
    return Guard(
        lock=f"pickup:{person_id}",
        limits=(
            Limit(and_(pickup, FailedAttempt.actor_id == person_id), settings.pickup_free_failures),
            Limit(and_(pickup, FailedAttempt.user_id == counter_id), settings.pickup_counter_free_failures),
        ),
    )


def _wait_after(failures: int, free: int, settings: Settings) -> timedelta:
    """How long after the last failure the next attempt waits, given the failures within the window."""
    if failures < free:
        return timedelta(0)
    growth = min(failures - free, 32)  # 2**32 seconds is past any sensible cap
    seconds = min(settings.throttle_max_wait_seconds, settings.throttle_first_wait_seconds * 2**growth)
    return timedelta(seconds=seconds)


async def _counts(
    session: AsyncSession, limit: Limit, settings: Settings, now: datetime
) -> tuple[int, datetime | None]:
    since = now - timedelta(minutes=settings.throttle_window_minutes)
    failures, last = (
        await session.execute(
            select(func.count(), func.max(FailedAttempt.at)).where(limit.counts, FailedAttempt.at > since)
        )
    ).one()
    return failures, last


async def _lock(session: AsyncSession, name: str) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    # A stable 64-bit key (Python's own hash() differs between processes).
    key = int.from_bytes(
        hashlib.blake2b(f"market.throttle:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def refuse_if_waiting(session: AsyncSession, guard: Guard, settings: Settings, now: datetime) -> None:
    """Refuse (429, with Retry-After) an attempt that comes before its wait is over.

    Takes the guard's lock for the rest of the transaction: record the failure in the same one.
    """
    await _lock(session, guard.lock)
    waits = []
    for limit in guard.limits:
        failures, last = await _counts(session, limit, settings, now)
        if last is not None:
            waits.append(last + _wait_after(failures, limit.free, settings) - now)
    wait = max(waits, default=timedelta(0))
    if wait > timedelta(0):
        seconds = int(wait.total_seconds()) + (wait.microseconds > 0)
        raise TooManyRequests(
            f"Too many failed attempts. Try again in {seconds} seconds.",
            code="too_many_failed_attempts",
            headers={"Retry-After": str(seconds)},
            retry_after_seconds=seconds,
        )


async def record_failure(
    session: AsyncSession,
    guard: Guard,
    settings: Settings,
    now: datetime,
    kind: AttemptKind,
    *,
    account: str | None = None,
    user_id: int | None = None,
    actor_id: int | None = None,
    client: str | None = None,
) -> tuple[FailedAttempt, bool]:
    """Record a failure; also say whether it used up the last free attempt of one of the guard's
    limits (the moment to tell someone)."""
    failure = FailedAttempt(
        kind=kind, account=account, user_id=user_id, actor_id=actor_id, client=client and client[:64], at=now
    )
    session.add(failure)
    await session.flush()
    counts = [(await _counts(session, limit, settings, now))[0] == limit.free for limit in guard.limits]
    return failure, any(counts)


async def purge_failed_attempts(session: AsyncSession, now: datetime, keep_days: int) -> int:
    result = await session.execute(
        delete(FailedAttempt).where(FailedAttempt.at < now - timedelta(days=keep_days))
    )
    return result.rowcount or 0

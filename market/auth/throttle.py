"""Failed attempts slow further attempts down; nothing is ever locked for the owner.

Logins and pickup codes share one rule. Every failure is recorded (`FailedAttempt`). An attempt is
held to a few limits, each counting the failures that concern it (those of one account from one
client address, of one client address, of one device, ...): a limit lets `free` failures pass, then
every further attempt waits first_wait·2^(failures−free) seconds after the last failure, at most
`max_wait`. A refused attempt is not tried, and so adds no failure.

A failure counts until a success clears it (the same account from the same address or device, the
same person's code at the same counter: see `Guard.clears`) or until it is older than the window.
The window is many times the longest wait (Settings.check), so a guesser who goes on reaches the
longest wait and stays there; a success keeps every record for administrators, only marked cleared.

Logins follow OWASP's device cookies: a login from a device the account has logged in on before
(a valid device token for that account, market/auth/tokens.py) is held only to that device's own
limit, so no stranger, however many addresses they use, can slow the owner down there; logins
without one are held to the limits of the account and of the address.

Concurrent attempts must see each other's failures, so each flow takes its locks before it checks
(advisory locks on PostgreSQL, in one order; SQLite's BEGIN IMMEDIATE lets one writer in at a time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select, update
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
    """What one attempt is held to: its limits, the locks that line up attempts sharing them, and
    the failures a success clears."""

    locks: tuple[str, ...]
    limits: Sequence[Limit]
    clears: ColumnElement[bool]


def login_guard(settings: Settings, phone: str, client: str, device: str | None) -> Guard:
    """A login, or a password typed again to change it.

    With a device the account has logged in on before (`device`, the hash of a valid device token
    for this account): that device's own failures only. Without one: by account and address, by
    address across accounts (spraying), and by account across addresses (many addresses) — counting
    only failures without a device token, so a stranger's guesses never touch the owner's devices.
    """
    login, account = FailedAttempt.kind == AttemptKind.login, FailedAttempt.account == phone
    if device is not None:
        own = and_(login, FailedAttempt.device == device)
        return Guard(
            locks=(f"login-device:{device}",),
            limits=(Limit(own, settings.login_device_free_failures),),
            clears=and_(own, account),
        )
    untrusted, address = and_(login, FailedAttempt.device.is_(None)), FailedAttempt.client == client
    return Guard(
        locks=(f"login-account:{phone}", f"login-client:{client}"),
        limits=(
            Limit(and_(untrusted, account, address), settings.login_free_failures),
            Limit(and_(untrusted, address), settings.login_client_free_failures),
            Limit(and_(untrusted, account), settings.login_account_free_failures),
        ),
        clears=and_(untrusted, account, address),
    )


def pickup_guard(settings: Settings, person_id: int, counter_id: int) -> Guard:
    """A pickup code: by the person typing it, and by the counter it is tried at (everyone's)."""
    pickup = FailedAttempt.kind == AttemptKind.pickup_code
    person, counter = FailedAttempt.actor_id == person_id, FailedAttempt.user_id == counter_id
    return Guard(
        locks=(f"pickup:{person_id}",),
        limits=(
            Limit(and_(pickup, person), settings.pickup_free_failures),
            Limit(and_(pickup, counter), settings.pickup_counter_free_failures),
        ),
        clears=and_(pickup, person, counter),
    )


def wait_after(failures: int, free: int, settings: Settings) -> timedelta:
    """How long after the last failure the next attempt waits, given the failures that count."""
    if failures < free:
        return timedelta(0)
    growth = min(failures - free, 32)  # 2**32 seconds is past any sensible cap
    seconds = min(settings.throttle_max_wait_seconds, settings.throttle_first_wait_seconds * 2**growth)
    return timedelta(seconds=seconds)


def _counting(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Failures that still count: within the window, and not cleared by a success since."""
    since = now - timedelta(minutes=settings.throttle_window_minutes)
    return and_(FailedAttempt.at > since, FailedAttempt.cleared_at.is_(None))


async def _counts(
    session: AsyncSession, limit: Limit, settings: Settings, now: datetime
) -> tuple[int, datetime | None]:
    failures, last = (
        await session.execute(
            select(func.count(), func.max(FailedAttempt.at)).where(limit.counts, _counting(settings, now))
        )
    ).one()
    return failures, last


async def _lock(session: AsyncSession, names: tuple[str, ...]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(names):  # one order for every flow: no two attempts wait for each other
        # A stable 64-bit key (Python's own hash() differs between processes).
        key = int.from_bytes(
            hashlib.blake2b(f"market.throttle:{name}".encode(), digest_size=8).digest(), "big", signed=True
        )
        await session.execute(select(func.pg_advisory_xact_lock(key)))


async def refuse_if_waiting(session: AsyncSession, guard: Guard, settings: Settings, now: datetime) -> None:
    """Refuse (429, with Retry-After) an attempt that comes before its wait is over.

    Takes the guard's locks for the rest of the transaction: record the failure in the same one.
    """
    await _lock(session, guard.locks)
    waits = []
    for limit in guard.limits:
        failures, last = await _counts(session, limit, settings, now)
        if last is not None:
            waits.append(last + wait_after(failures, limit.free, settings) - now)
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
    device: str | None = None,
) -> tuple[FailedAttempt, bool]:
    """Record a failure; also say whether it used up the last free attempt of one of the guard's
    limits (the moment to tell someone)."""
    failure = FailedAttempt(
        kind=kind,
        account=account,
        user_id=user_id,
        actor_id=actor_id,
        client=client and client[:64],
        device=device,
        at=now,
    )
    session.add(failure)
    await session.flush()
    counts = [(await _counts(session, limit, settings, now))[0] == limit.free for limit in guard.limits]
    return failure, any(counts)


async def clear_failures(session: AsyncSession, guard: Guard, settings: Settings, now: datetime) -> None:
    """A success: the failures it vouches for stop counting (their records stay)."""
    await session.execute(
        update(FailedAttempt).where(guard.clears, _counting(settings, now)).values(cleared_at=now)
    )


async def purge_failed_attempts(session: AsyncSession, now: datetime, keep_days: int) -> int:
    result = await session.execute(
        delete(FailedAttempt).where(FailedAttempt.at < now - timedelta(days=keep_days))
    )
    return result.rowcount or 0

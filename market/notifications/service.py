"""Inboxes. Flows and jobs call `notify` inside their own transaction, so a message exists
exactly when the change it announces does."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, Insert, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import Actor
from market.db import connection_of
from market.errors import NotFound
from market.notifications.models import Notification, NotificationCode
from market.notifications.schemas import NotificationRead
from market.pagination import page_total


async def notify(
    session: AsyncSession,
    user_ids: Iterable[int],
    code: NotificationCode,
    now: datetime,
    *,
    subject: tuple[str, int] | None = None,
    **params: Any,
) -> None:
    """Leave a message for each of `user_ids`: its code and the values its text takes (JSON:
    numbers, names, other codes, moments as ISO text). Pages pick up what is committed by polling.

    Nothing reads a message back as an object: the ORM's flush of one cost twice the Python calls of
    the statement `leave` runs."""
    await leave(
        session, [message(user_id, code, now, subject=subject, **params) for user_id in sorted(set(user_ids))]
    )


async def leave(session: AsyncSession, messages: list[dict[str, Any]]) -> None:
    """Leave the messages (rows `message` gives) in one INSERT on the transaction's connection."""
    if messages:
        await (await connection_of(session)).run_sync(leave_on, messages)


def leave_on(connection: Connection, messages: list[dict[str, Any]]) -> None:
    """`leave` (at least one message), on the transaction's connection as `AsyncConnection.run_sync`
    gives it: for a change that runs its statements one after another in one call."""
    connection.execute(_new_message(), messages)


def message(
    user_id: int,
    code: NotificationCode,
    now: datetime,
    /,
    *,
    subject: tuple[str, int] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """One message's row, as `notify` leaves it and `message_for_each` takes it as parameters."""
    subject_type, subject_id = subject if subject else ("", None)
    return {
        "user_id": user_id,
        "code": code,
        "params": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()},
        "subject_type": subject_type,
        "subject_id": subject_id,
        "created_at": now,
    }


@functools.cache
def _new_message() -> Insert:
    return insert(Notification.__table__)


_MESSAGE = ("user_id", "code", "params", "subject_type", "subject_id", "created_at")


def message_for_each(rows: FromClause) -> Insert:
    """The message whose row (`message`) the statement's parameters give (`message_parameters`), left
    once for each of `rows`: inside the statement that writes them (a CTE's), it exists exactly when
    the change it announces does, without a statement of its own."""
    notifications = Notification.__table__
    given = (bindparam(f"message_{key}", type_=notifications.c[key].type) for key in _MESSAGE)
    return insert(notifications).from_select(_MESSAGE, select(*given).select_from(rows))


def message_parameters(row: dict[str, Any]) -> dict[str, Any]:
    """A message's row as `message_for_each`'s parameters, named apart from the columns of a table
    the statement writes (an INSERT or UPDATE sets a column from a parameter of its name)."""
    return {f"message_{key}": value for key, value in row.items()}


def _read(n: Notification) -> NotificationRead:
    return NotificationRead(
        id=n.id,
        code=n.code,
        params=n.params,
        subject_type=n.subject_type,
        subject_id=n.subject_id,
        created_at=n.created_at,
        read_at=n.read_at,
    )


async def list_notifications(
    session: AsyncSession, actor: Actor, unread: bool, limit: int, offset: int
) -> tuple[list[NotificationRead], int, int]:
    """The actor's inbox, newest first, with the total and the unread count."""
    mine = select(Notification).where(Notification.user_id == actor.id)
    if unread:
        mine = mine.where(Notification.read_at.is_(None))
    unread_count = (
        await session.scalar(
            select(func.count()).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        )
        or 0
    )
    rows = (
        await session.scalars(
            mine.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit).offset(offset)
        )
    ).all()
    total = await page_total(session, mine, limit, offset, len(rows))
    return [_read(n) for n in rows], total, unread_count


async def mark_read(
    session: AsyncSession, actor: Actor, notification_id: int, now: datetime
) -> NotificationRead:
    n = await session.get(Notification, notification_id)
    if n is None or n.user_id != actor.id:
        raise NotFound(f"Notification {notification_id} does not exist.", code="notification_not_found")
    if n.read_at is None:
        n.read_at = now
        await session.flush()
    return _read(n)


async def mark_all_read(session: AsyncSession, actor: Actor, now: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=now)
    )
    return result.rowcount


async def inbox_state(session: AsyncSession, user_id: int) -> tuple[int, int | None]:
    """How many messages the person has not read and the newest one's id: one quick read that
    tells whether the bell has changed."""
    unread, newest = (
        await session.execute(
            select(func.count().filter(Notification.read_at.is_(None)), func.max(Notification.id)).where(
                Notification.user_id == user_id
            )
        )
    ).one()
    return unread, newest

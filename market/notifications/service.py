"""Inboxes. Flows and jobs call `notify` inside their own transaction, so a message exists
exactly when the change it announces does."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import Actor
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

    One INSERT on the transaction's connection: nothing reads a message back as an object, and the
    ORM's flush of one cost twice the Python calls of the statement."""
    subject_type, subject_id = subject if subject else ("", None)
    stored = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}
    messages = [
        {
            "user_id": user_id,
            "code": code,
            "params": stored,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "created_at": now,
        }
        for user_id in sorted(set(user_ids))
    ]
    if messages:
        await (await session.connection()).execute(_new_message(), messages)


@functools.cache
def _new_message() -> Insert:
    return insert(Notification.__table__)


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

from __future__ import annotations

from datetime import datetime

import msgspec


class NotificationRead(msgspec.Struct):
    id: int
    kind: str
    title: str
    body: str
    subject_type: str
    subject_id: int | None
    created_at: datetime
    read_at: datetime | None


class ReadAllResult(msgspec.Struct):
    marked: int


class Inbox(msgspec.Struct):
    items: list[NotificationRead]
    total: int
    unread: int
    limit: int
    offset: int

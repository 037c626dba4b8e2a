from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class NotificationRead(msgspec.Struct):
    id: int
    # What happened (NotificationCode) and the values its text takes; pages render them.
    code: str
    params: dict[str, Any]
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

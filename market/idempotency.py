"""`Idempotency-Key` for POSTs that move points or stock.

The first request with a key runs and its response is stored; a retry with the
same key and body replays that response; the same key with a different body is
a 422; a retry while the first is still running is a 409. Keys are per caller.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from market.clock import Clock
from market.db import Base
from market.errors import PROBLEM_TYPE_PREFIX

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 200
KEEP_FOR = timedelta(hours=24)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("caller_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # 0 for requests without a logged-in caller.
    caller_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still running.
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


def _problem(status: int, code: str, detail: str) -> tuple[int, bytes]:
    return status, msgspec.json.encode(
        {
            "status": status,
            "type": PROBLEM_TYPE_PREFIX + code,
            "title": "Conflict" if status == 409 else "Unprocessable input",
            "detail": detail,
            "code": code,
        }
    )


class IdempotencyMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, session_maker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.session_maker = session_maker
        self.clock = clock

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        key = dict(scope["headers"]).get(HEADER)
        if scope["method"] != "POST" or key is None:
            await next_app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            await _send(
                send,
                *_problem(
                    422,
                    "invalid_idempotency_key",
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                ),
            )
            return
        body = await _read_body(receive)
        user = scope.get("user")
        caller_id = getattr(user, "id", 0) or 0
        fingerprint = hashlib.sha256(
            scope["method"].encode() + scope["path"].encode() + b"\0" + body
        ).hexdigest()
        record = await self._claim(caller_id, key.decode("latin-1"), fingerprint)
        if record is not None:
            if record.fingerprint != fingerprint:
                await _send(
                    send,
                    *_problem(
                        422,
                        "idempotency_key_reused",
                        "This Idempotency-Key was used with a different request.",
                    ),
                )
            elif record.status_code is None:
                await _send(
                    send,
                    *_problem(
                        409,
                        "idempotency_request_in_progress",
                        "A request with this Idempotency-Key is still running; retry shortly.",
                    ),
                )
            else:
                await _send(send, record.status_code, record.body or b"", record.content_type, replayed=True)
            return
        captured: dict[str, Any] = {"status": 500, "body": b"", "content_type": None}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["content_type"] = dict(message.get("headers", [])).get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await next_app(scope, _replay(body), capture)
        finally:
            await self._finish(caller_id, key.decode("latin-1"), captured)

    async def _claim(self, caller_id: int, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Insert the key as running; return the earlier record when there is one."""
        async with self.session_maker() as session, session.begin():
            dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
            inserted = await session.execute(
                dialect.insert(IdempotencyRecord)
                .values(caller_id=caller_id, key=key, fingerprint=fingerprint, created_at=self.clock())
                .on_conflict_do_nothing(index_elements=["caller_id", "key"])
            )
            if inserted.rowcount:
                return None
            return await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.caller_id == caller_id, IdempotencyRecord.key == key
                )
            )

    async def _finish(self, caller_id: int, key: str, captured: dict[str, Any]) -> None:
        async with self.session_maker() as session, session.begin():
            record = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.caller_id == caller_id, IdempotencyRecord.key == key
                )
            )
            if captured["status"] >= 500:
                # Nothing was done: let the client try again with the same key.
                await session.delete(record)
                return
            record.status_code = captured["status"]
            record.content_type = captured["content_type"]
            record.body = captured["body"]


async def purge_idempotency_keys(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP_FOR)
    )
    return result.rowcount or 0


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: str | None = "application/problem+json",
    *,
    replayed: bool = False,
) -> None:
    headers = [
        (b"content-type", (content_type or "application/json").encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

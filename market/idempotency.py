"""`Idempotency-Key` on the API's POSTs (those that move points or stock are the ones that matter).

The key is claimed inside the request's own transaction, and the response is stored in that same
transaction just before it commits. So a key is either done, its response stored with the change it
describes, or absent, and the retry runs: a crash, a refusal or an error in between leaves nothing
behind. While the first request runs, a retry with the same key waits on the claimed row (SQLite
lets one writer in at a time; PostgreSQL holds the second insert until the first transaction ends)
and then replays the stored response. The same key with another request is a 422. Keys belong to
their caller; requests without a logged-in caller, and responses that carry credentials (a
login's token, a cookie), are never stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, upsert
from market.errors import Unprocessable

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
KEEP_FOR = timedelta(hours=24)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("caller_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    caller_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None only inside the transaction of the request that claimed the key: it never commits so.
    status_code: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    content_type: str
    body: bytes


class Replay(Exception):
    """The key is done: answer with its stored response instead of running the request."""

    def __init__(self, response: StoredResponse) -> None:
        self.response = response


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + path.encode() + b"\0" + body).hexdigest()


async def claim(
    session: AsyncSession, caller_id: int, key: str, request_fingerprint: str, now: datetime
) -> IdempotencyRecord:
    """Claim the key in the request's transaction; raise Replay when it is already done."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Unprocessable(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.", code="invalid_idempotency_key"
        )
    await session.execute(
        upsert(session, IdempotencyRecord)
        .values(caller_id=caller_id, key=key, fingerprint=request_fingerprint, created_at=now)
        .on_conflict_do_nothing(index_elements=["caller_id", "key"])
    )
    record = await session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.caller_id == caller_id, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )
    if record.fingerprint != request_fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was used with a different request.", code="idempotency_key_reused"
        )
    if record.status_code is not None:
        raise Replay(StoredResponse(record.status_code, record.content_type or "", record.body or b""))
    return record


async def finish(session: AsyncSession, record: IdempotencyRecord, response: StoredResponse | None) -> None:
    """Store the response with the change it describes, or give the key up when there is none to keep."""
    if response is None:
        await session.delete(record)
        return
    record.status_code = response.status_code
    record.content_type = response.content_type
    record.body = response.body


async def purge_idempotency_keys(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP_FOR)
    )
    return result.rowcount or 0

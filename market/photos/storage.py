"""Where photo files live: a folder (by default ./var/photos) or an S3-compatible bucket
(MARKET_PHOTO_STORAGE=s3://bucket/prefix, with the endpoint and credentials boto3 reads from the
usual AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION variables).

A file is written only after its photo passed every check, under a fresh key its row names. Keys
written in a transaction are remembered on the session: when it rolls back instead of committing
(a refusal after the write, a failed commit, a race run again), the files are deleted, so no
file outlives the row that would have named it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from market.errors import NotFound

WRITTEN = "photo_keys_written"


@runtime_checkable  # Litestar checks what a dependency provides against its annotation
class PhotoStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    def discard(self, keys: Sequence[str]) -> None:
        """Delete these files if they exist. Blocking: called only when a transaction rolls back."""


def new_key(order_id: int, extension: str) -> str:
    return f"orders/{order_id}/{secrets.token_hex(16)}.{extension}"


def thumbnail_key(key: str) -> str:
    stem, _, extension = key.rpartition(".")
    return f"{stem}-thumb.{extension}"


def _missing(key: str) -> NotFound:
    return NotFound("The photo's file is missing from the storage.", code="photo_not_found")


class FolderStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._write, self._path(key), data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Written whole under another name first: a reader never sees half a photo.
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        draft.write_bytes(data)
        os.replace(draft, path)

    async def get(self, key: str) -> bytes:
        try:
            return await anyio.to_thread.run_sync(self._path(key).read_bytes)
        except FileNotFoundError as error:
            raise _missing(key) from error

    def discard(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


class S3Storage:
    """boto3 is synchronous: each call runs in a worker thread (its clients are thread-safe)."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client = client

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )
        )

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
            except self.client.exceptions.NoSuchKey as error:
                raise _missing(key) from error

        return await anyio.to_thread.run_sync(read)

    def discard(self, keys: Sequence[str]) -> None:
        if keys:
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": self._key(k)} for k in keys], "Quiet": True}
            )


def storage_for(setting: str) -> PhotoStorage:
    """The storage MARKET_PHOTO_STORAGE names."""
    if setting.startswith("s3://"):
        import boto3  # only an install that keeps photos in S3 loads it

        bucket, _, prefix = setting.removeprefix("s3://").partition("/")
        prefix = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        return S3Storage(bucket, prefix, boto3.client("s3"))
    return FolderStorage(Path(setting))


def remember_written(session: AsyncSession, storage: PhotoStorage, keys: Sequence[str]) -> None:
    """Delete these files unless the session's transaction commits."""
    session.info.setdefault(WRITTEN, []).append((storage, list(keys)))


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop(WRITTEN, None)


@event.listens_for(Session, "after_rollback")
def _discard_unkept(session: Session) -> None:
    for storage, keys in session.info.pop(WRITTEN, []):
        storage.discard(keys)

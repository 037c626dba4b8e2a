"""Password hashing with Argon2id; run off the event loop because it is slow on purpose."""

from __future__ import annotations

from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    return await anyio.to_thread.run_sync(_verify, password_hash, password)


@cache
def dummy_hash() -> str:
    """Compared against when the phone is unknown, so a miss costs as long as a wrong password.
    Made on first use: a hash costs a quarter of a second, which no process should pay at import."""
    return hash_password_sync("not-a-real-password")

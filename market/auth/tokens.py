"""Access tokens: JWTs signed with the service's secret, dated by the service's clock, carrying
the account's token version (raising it ends every token issued before).

Device tokens (OWASP's "device cookies"): handed out with every successful login, they say "this
device has logged in to this account before", which spares its logins the limits a stranger can
run up (market/auth/throttle.py). One is "<user id>.<expiry>.<random>.<signature>": the signature
is an HMAC with a key derived from the install's secret (so it is never an access token, nor one
the other way round), nothing of it is stored, and failures record only its hash.

The clock is injected (MARKET_NOW stops it for demos and tests), so a token's expiry is checked
against that clock when the caller is loaded, not against the machine's: Litestar's own Token
checks `exp` and `iat` against the real time, which a stopped clock would contradict.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.exceptions import ImproperlyConfiguredException
from litestar.security.jwt import Token
from litestar.security.jwt.token import JWTDecodeOptions

from market.auth.models import User
from market.settings import Settings

TOKEN_ALGORITHM = "HS256"
# The pages keep the same token in this cookie ("Bearer <token>"), so a logged-in browser may also
# read the API (downloads) without handling tokens itself.
TOKEN_COOKIE = "market_token"
# The pages keep the device token in this cookie; API clients send it back in the login's body.
DEVICE_COOKIE = "market_device"
# The claim carrying the account's token version.
VERSION_CLAIM = "ver"
# Whom a token names: the account's id and the token version it was issued at.
TokenHolder = tuple[int, int]


@dataclass
class ServiceToken(Token):
    def __post_init__(self) -> None:
        if not self.sub:
            raise ImproperlyConfiguredException("sub must be a string with a length greater than 0")

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        options: JWTDecodeOptions | None = None,
    ) -> Any:
        # PyJWT would hold `iat` and `exp` against the machine's clock.
        options = {**(options or {}), "verify_iat": False, "verify_exp": False}  # type: ignore[typeddict-unknown-key]
        checks = json.dumps([algorithms, issuer, audience, options], sort_keys=True)
        # Token.decode rewrites the payload it is given: each request gets a copy of its own.
        return copy.deepcopy(_verified_payload(encoded_token, secret, checks))

    def expired(self, now: datetime) -> bool:
        return self.exp <= now

    def holder(self) -> TokenHolder | None:
        """The account's id and the token version the token was issued at, if it names both."""
        version = self.extras.get(VERSION_CLAIM)
        if not self.sub.isdecimal() or len(self.sub) > 18 or type(version) is not int:
            return None
        return int(self.sub), version


@functools.lru_cache(maxsize=4096)
def _verified_payload(encoded_token: str, secret: str, checks: str) -> Any:
    """The claims of a token whose signature held, checked once a process: a caller sends the same
    token with every request, and checking it was ~8% of a read's time. The verdict cannot go
    stale. It rests only on the token's bytes, the secret and the checks (`checks`, as JSON), all
    part of the key; what can end a token (its expiry, the account's token version) is checked on
    every request, when the caller is loaded. A token that fails raises, and nothing is kept."""
    algorithms, issuer, audience, options = json.loads(checks)
    return Token.decode_payload(encoded_token, secret, algorithms, issuer, audience, options)


def issue_token(settings: Settings, user: User, now: datetime) -> tuple[str, datetime]:
    issued_at = now.replace(microsecond=0)
    expires_at = issued_at + timedelta(hours=settings.token_hours)
    token = ServiceToken(
        sub=str(user.id), exp=expires_at, iat=issued_at, extras={VERSION_CLAIM: user.token_version}
    )
    return token.encode(secret=settings.secret_key, algorithm=TOKEN_ALGORITHM), expires_at


def _device_signature(settings: Settings, body: str) -> str:
    key = hmac.new(settings.secret_key.encode(), b"market.device-token", hashlib.sha256).digest()
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_device_token(settings: Settings, user: User, now: datetime) -> tuple[str, datetime]:
    """A device token for `user`, valid for `device_token_days`."""
    expires_at = now.replace(microsecond=0) + timedelta(days=settings.device_token_days)
    body = f"{user.id}.{int(expires_at.timestamp())}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_device_signature(settings, body)}", expires_at


@dataclass(frozen=True, slots=True)
class Device:
    """A valid device token: the account it was issued to, and its hash (what failures record)."""

    user_id: int
    id: str


def read_device_token(settings: Settings, token: str | None, now: datetime) -> Device | None:
    """The device a token names, if it is one this install signed and it has not expired."""
    token = token or ""
    body, _, signature = token.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdecimal() and len(p) <= 18 for p in parts[:2]):
        return None
    if not hmac.compare_digest(signature.encode(), _device_signature(settings, body).encode()):
        return None
    if int(parts[1]) <= now.timestamp():
        return None
    return Device(user_id=int(parts[0]), id=hashlib.sha256(token.encode()).hexdigest())

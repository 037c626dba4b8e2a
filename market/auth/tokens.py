"""Access tokens: JWTs signed with the service's secret, dated by the service's clock, carrying
the account's token version (raising it ends every token issued before).

The clock is injected (MARKET_NOW stops it for demos and tests), so a token's expiry is checked
against that clock when the caller is loaded, not against the machine's: Litestar's own Token
checks `exp` and `iat` against the real time, which a stopped clock would contradict.
"""

from __future__ import annotations

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
# The claim carrying the account's token version.
VERSION_CLAIM = "ver"


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
        return super().decode_payload(encoded_token, secret, algorithms, issuer, audience, options)

    def expired(self, now: datetime) -> bool:
        return self.exp <= now

    def holder(self) -> tuple[int, int] | None:
        """The account's id and the token version the token was issued at, if it names both."""
        version = self.extras.get(VERSION_CLAIM)
        if not self.sub.isdecimal() or len(self.sub) > 18 or type(version) is not int:
            return None
        return int(self.sub), version


def issue_token(settings: Settings, user: User, now: datetime) -> tuple[str, datetime]:
    issued_at = now.replace(microsecond=0)
    expires_at = issued_at + timedelta(hours=settings.token_hours)
    token = ServiceToken(
        sub=str(user.id), exp=expires_at, iat=issued_at, extras={VERSION_CLAIM: user.token_version}
    )
    return token.encode(secret=settings.secret_key, algorithm=TOKEN_ALGORITHM), expires_at

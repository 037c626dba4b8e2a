from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.auth.models import AttemptKind, Role
from market.fields import PLAIN_TEXT, Id, text

# A mainland China mobile number: 11 digits starting 13–19.
Phone = Annotated[
    str,
    msgspec.Meta(pattern=r"^1[3-9][0-9]{9}$", examples=["13800138000"], description="Mainland mobile number"),
]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128, pattern=PLAIN_TEXT)]
PersonName = text(50, required=True)


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=PLAIN_TEXT)]


class UserRead(msgspec.Struct):
    id: int
    phone: str
    name: str
    roles: list[Role]
    area_id: int | None
    area_code: str | None
    area_name: str | None
    is_active: bool
    created_at: datetime


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_at: datetime
    user: UserRead


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=PLAIN_TEXT)]
    new_password: Password


class FailedAttemptRead(msgspec.Struct):
    id: int
    kind: AttemptKind
    at: datetime
    # A login: the phone number typed, and its account when there is one.
    account: str | None
    # A login: that account. A pickup code: the counter it was tried at.
    user_id: int | None
    user_name: str | None
    # A pickup code: who typed it.
    actor_id: int | None
    actor_name: str | None
    client: str | None


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    name: PersonName
    password: Password
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=7)]
    area_id: Id | None = None

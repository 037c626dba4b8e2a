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


# The device token a successful login handed out (TokenResponse.device_token), sent back with the
# next logins: they are then held only to that device's own failures, never to a stranger's.
DeviceToken = (
    Annotated[
        str,
        msgspec.Meta(
            max_length=200,
            pattern=PLAIN_TEXT,
            description="The device_token of this device's last login: spares it the limits strangers run up",
        ),
    ]
    | None
)


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=PLAIN_TEXT)]
    device_token: DeviceToken = None


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
    # False for people imported or registered for someone, until a reset gives them one.
    has_password: bool = True
    # After a password reset, until the person chooses a new one.
    must_change_password: bool = False
    # A sign-up waiting for approval ("pending") or turned down ("refused").
    approval: str | None = None


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_at: datetime
    user: UserRead
    # Keep it (not a login: it only vouches that this device has logged in before) and send it with
    # the next login; a new one comes with every success.
    device_token: str


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=PLAIN_TEXT)]
    new_password: Password
    device_token: DeviceToken = None


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
    # A login: made with a valid device token for the account (a device that logged in before).
    known_device: bool
    # A later success (same account from the same address or device; the same person's code at the
    # same counter) vouched for it: most likely a typing slip. It no longer slows anyone down.
    cleared: bool


Roles = Annotated[list[Role], msgspec.Meta(min_length=1, max_length=7)]


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    name: PersonName
    # Without one the person cannot log in until a manager resets it (they are told it then).
    password: Password | None = None
    roles: Roles = msgspec.field(default_factory=lambda: [Role.resident])
    area_id: Id | None = None


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What a manager corrects about a person; fields left out stay as they are."""

    phone: Phone | None = None
    name: PersonName | None = None
    area_id: Id | None = None


class RolesWrite(msgspec.Struct, forbid_unknown_fields=True):
    """Every role the person is to hold: those added and those withdrawn must be the caller's to give."""

    roles: Roles


class PasswordReset(msgspec.Struct):
    user: UserRead
    # Shown once: the person logs in with it and must choose their own at once.
    one_time_password: str

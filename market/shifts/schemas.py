from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Id, Moment, text
from market.shifts.models import ShiftCancelReason, ShiftStatus, SignupStatus

Slots = Annotated[int, msgspec.Meta(ge=1, le=1000, description="Volunteers the shift needs")]
CutoffHours = Annotated[
    int, msgspec.Meta(ge=0, le=168, description="Cancelling closes this many hours before the start")
]
# What the organiser's QR code carries: "<shift>.<minute>.<signature>".
CheckInCode = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"^[0-9a-f.]+$")]


class ShiftCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: text(100, required=True)
    # The project's community or a place inside it.
    area_id: Id
    starts_at: Moment
    ends_at: Moment
    slots: Slots
    # Service categories; a volunteer with any one of them may sign up. None wanted: anyone.
    skills: Annotated[list[Annotated[str, msgspec.Meta(max_length=32)]], msgspec.Meta(max_length=20)] = []
    cancel_cutoff_hours: CutoffHours | None = None
    description: text(2000) = ""


class ShiftCancel(msgspec.Struct, forbid_unknown_fields=True):
    reason: ShiftCancelReason


class CodeRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: CheckInCode


class RosterEntry(msgspec.Struct):
    user_id: int
    name: str
    status: SignupStatus
    arrival: int
    # Place on the waiting list (1 = next to move up); None when not waiting.
    waiting_position: int | None
    signed_up_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: float


class ShiftRead(msgspec.Struct):
    id: int
    project_id: int
    project_title: str
    title: str
    description: str
    area_id: int
    place: str
    starts_at: datetime
    ends_at: datetime
    slots: int
    # Slots taken: signed up, checked in or out, or no-show.
    taken: int
    waiting: int
    skills: list[str]
    cancel_cutoff_hours: int
    cancel_closes_at: datetime
    roll_called_at: datetime | None
    # Open, or cancelled by the organiser (when, and a ShiftCancelReason).
    status: ShiftStatus
    cancelled_at: datetime | None
    cancel_reason: ShiftCancelReason | None
    # The caller's own sign-up, when they have one.
    my_status: SignupStatus | None = None
    my_waiting_position: int | None = None
    # Organisers only: everyone on the roster and the waiting list, in arrival order.
    roster: list[RosterEntry] | None = None


class SignupRead(msgspec.Struct):
    shift_id: int
    user_id: int
    status: SignupStatus
    arrival: int
    waiting_position: int | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: float


class CheckInCodeRead(msgspec.Struct):
    shift_id: int
    code: str
    # The phone page the QR code opens.
    url: str
    # The code changes at the next minute; the previous minute's code is still accepted.
    changes_at: datetime

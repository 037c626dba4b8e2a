from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Day, Id, text
from market.volunteers.models import PauseReason

# "HH:MM", 00:00–24:00.
ClockTime = Annotated[
    str, msgspec.Meta(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", examples=["08:30"])
]


class Skill(msgspec.Struct, forbid_unknown_fields=True):
    category: text(32, required=True)
    # 1 = can help, 2 = experienced, 3 = professional.
    level: Annotated[int, msgspec.Meta(ge=1, le=3)] = 1


class Window(msgspec.Struct, forbid_unknown_fields=True):
    # 0 = Monday … 6 = Sunday, local time of the service.
    weekday: Annotated[int, msgspec.Meta(ge=0, le=6)]
    start: ClockTime
    end: ClockTime


class ProfileWrite(msgspec.Struct, forbid_unknown_fields=True):
    capacity: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    skills: Annotated[list[Skill], msgspec.Meta(max_length=30)] = msgspec.field(default_factory=list)
    availability: Annotated[list[Window], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    serving_area_ids: Annotated[list[Id], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)


class PauseRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Take no orders up to and including `until` (a local date), being away or busy."""

    until: Day
    reason: PauseReason = PauseReason.away


class ServingAreaRead(msgspec.Struct):
    id: int
    code: str
    name: str


class ProfileRead(msgspec.Struct):
    user_id: int
    name: str
    capacity: int
    load: int
    rating: float | None
    rating_count: int
    skills: list[Skill]
    availability: list[Window]
    serving_areas: list[ServingAreaRead]
    # Taking no orders until this moment (None: taking orders), and why.
    paused_until: datetime | None = None
    pause_reason: PauseReason | None = None


class VolunteerSummary(msgspec.Struct):
    user_id: int
    name: str
    phone: str
    home_area_id: int | None
    capacity: int
    load: int
    rating: float | None
    skills: list[Skill]
    serving_area_ids: list[int]
    # Taking no orders until then (None: taking orders).
    paused_until: datetime | None = None

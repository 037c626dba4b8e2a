from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.auth.schemas import Phone
from market.fields import Id, text
from market.party.models import Grade, ReportStatus

Year = Annotated[int, msgspec.Meta(ge=2000, le=2099)]


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The employer: a co-building unit of the registry, or an organisation with a contact."""

    unit_id: Id | None = None
    employer_name: text(100) = ""
    contact_name: text(50) = ""
    contact_phone: Phone | None = None


class DecisionRequest(msgspec.Struct, forbid_unknown_fields=True):
    confirm: bool
    reason: text(500) = ""


class EvaluationWrite(msgspec.Struct, forbid_unknown_fields=True):
    grade: Grade
    comment: text(1000, required=True)


class ThresholdWrite(msgspec.Struct, forbid_unknown_fields=True):
    hours: Annotated[int, msgspec.Meta(ge=0, le=10000)]


class Activity(msgspec.Struct):
    """A member's year in the community, as the orders, wishes and projects record it."""

    orders_served: int
    # Hours counted for served orders plus hours recorded on projects, to a tenth.
    hours: float
    wishes_claimed: int
    projects_joined: int
    ratings: int
    # The residents' average rating of their orders, to a tenth; None without ratings.
    rating_average: float | None


class MemberRead(msgspec.Struct):
    id: int
    user_id: int
    name: str
    phone: str
    community_id: int
    community_name: str
    unit_id: int | None
    # The unit's name, or the organisation's.
    employer: str
    contact_name: str
    contact_phone: str
    status: ReportStatus
    reported_at: datetime
    decided_at: datetime | None
    decline_reason: str


class EvaluationRead(msgspec.Struct):
    year: int
    grade: Grade
    comment: str
    activity: Activity
    evaluated_at: datetime


class YearRow(msgspec.Struct):
    """One confirmed member in the community's year: what they did and the community's word."""

    member: MemberRead
    activity: Activity
    evaluation: EvaluationRead | None
    # Above the community's threshold: a commendation letter too.
    commended: bool


class YearRead(msgspec.Struct):
    community_id: int
    community_name: str
    year: int
    threshold_hours: int | None
    rows: list[YearRow]


class StreetRead(msgspec.Struct):
    """The list for the street: each of its communities' year."""

    street_id: int
    year: int
    communities: list[YearRead]

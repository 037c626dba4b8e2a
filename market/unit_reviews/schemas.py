from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Id, text
from market.unit_reviews.models import RaterKind

Stars = Annotated[int, msgspec.Meta(ge=1, le=5)]
Half = Annotated[int, msgspec.Meta(ge=1, le=2)]


class RatingWrite(msgspec.Struct, forbid_unknown_fields=True):
    unit_id: Id
    stars: Stars
    comment: text(500) = ""


class RatingRead(msgspec.Struct):
    id: int
    project_id: int
    unit_id: int
    rater_kind: RaterKind
    stars: int
    comment: str
    created_at: datetime


class ScoreRead(msgspec.Struct):
    keeping: float
    residents: float
    communities: float
    giving: float
    total: float


class UnitReview(msgspec.Struct):
    """A co-building unit's half-year, as the street's review meeting (述职评议) reads it."""

    unit_id: int
    unit_name: str
    year: int
    half: int
    commitments_made: int
    commitments_kept: int
    commitments_late: int
    quantity_delivered: int
    wishes_claimed: int
    rewards_donated: int
    rewards_redeemed: int
    resident_ratings: int
    resident_average: float | None
    community_ratings: int
    community_average: float | None
    score: ScoreRead

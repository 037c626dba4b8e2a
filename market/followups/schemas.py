from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from market.fields import text
from market.followups.models import FollowUpOutcome, FollowUpReason
from market.privacy import PersonRef

# Which follow-ups a list shows: `due` (open, not yet past its due date), `overdue` (open and past
# it), `open` (both) or `done` (outcome recorded).
FollowUpState = Literal["open", "due", "overdue", "done"]


class OutcomeRequest(msgspec.Struct, forbid_unknown_fields=True):
    outcome: FollowUpOutcome
    note: text(1000) = ""


class SamplingWrite(msgspec.Struct, forbid_unknown_fields=True):
    percent: Annotated[int, msgspec.Meta(ge=0, le=100)]


class SamplingRead(msgspec.Struct):
    community_id: int
    percent: int
    updated_by_id: int | None
    updated_at: datetime | None


class FollowUpRead(msgspec.Struct):
    id: int
    order_id: int
    reason: FollowUpReason
    created_at: datetime
    due_at: datetime
    overdue: bool
    # What the call is about: the order's service, the resident to call, who served, how it was rated.
    category: str
    area_name: str
    resident: PersonRef
    volunteer: PersonRef | None
    rating: int | None
    comment: str | None
    outcome: FollowUpOutcome | None
    note: str
    recorded_by: PersonRef | None
    recorded_at: datetime | None


class FollowUpFilters(msgspec.Struct):
    state: FollowUpState | None = None
    reason: FollowUpReason | None = None
    area_id: int | None = None

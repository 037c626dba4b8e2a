from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Moment, text
from market.orders.schemas import AreaRef
from market.privacy import PersonRef
from market.wishes.models import MAX_VALUE_YUAN, ClaimerKind, WishStatus

Note = text(500)


class WishCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: text(100, required=True)
    # What fulfilling it is likely to cost, in whole yuan.
    value_yuan: Annotated[int, msgspec.Meta(ge=1, le=MAX_VALUE_YUAN)]
    # In the future, at most 90 days ahead; an open wish nobody claimed expires then.
    deadline: Moment
    description: text(1000) = ""


class ClaimRequest(msgspec.Struct, forbid_unknown_fields=True):
    # Default: volunteer for volunteers, unit for unit admins who are not volunteers.
    claimer_kind: ClaimerKind | None = None
    note: Note = ""


class NoteRequest(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class WishEventRead(msgspec.Struct):
    id: int
    action: str
    from_status: WishStatus | None
    to_status: WishStatus
    note: str
    at: datetime
    actor_id: int | None
    # The resident's name is masked here as everywhere else for those who see the wish masked.
    actor_name: str | None


class WishRead(msgspec.Struct):
    id: int
    status: WishStatus
    title: str
    description: str
    value_yuan: int
    deadline: datetime
    community_id: int
    # The resident, masked (and the compound instead of the building) for all but the resident,
    # the area's managers and the claimer.
    masked: bool
    resident: PersonRef
    area: AreaRef
    claimer: PersonRef | None
    claimer_kind: ClaimerKind | None
    claimed_at: datetime | None
    fulfilled_at: datetime | None
    confirmed_at: datetime | None
    points: int | None
    created_at: datetime
    updated_at: datetime


class WishDetail(WishRead):
    events: list[WishEventRead]

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Id, Moment, text
from market.rewards.models import RedemptionStatus

Text = text(1000)


class RewardCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: text(100, required=True)
    price: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    stock: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    pickup_place: text(200, required=True)
    valid_until: Moment
    community_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
    description: Text = ""
    limit_per_person: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    donor: text(100) = ""


class RewardRead(msgspec.Struct):
    id: int
    name: str
    description: str
    price: int
    stock: int
    stock_left: int
    limit_per_person: int
    pickup_place: str
    valid_until: datetime
    donor: str
    community_ids: list[int]
    is_active: bool


class RedeemRequest(msgspec.Struct, forbid_unknown_fields=True):
    reward_id: Id
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1


class FulfilRequest(msgspec.Struct, forbid_unknown_fields=True):
    pickup_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$")]


class RedemptionRead(msgspec.Struct):
    id: int
    reward_id: int
    reward_name: str
    pickup_place: str
    user_id: int
    user_name: str
    quantity: int
    points: int
    status: RedemptionStatus
    # Shown to the member who redeemed; others see null.
    pickup_code: str | None
    pickup_deadline: datetime
    created_at: datetime
    settled_at: datetime | None

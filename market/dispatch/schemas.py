from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.dispatch.eligibility import Reason
from market.dispatch.models import BoardMode, PairOutcome, PlanStatus
from market.fields import Id
from market.orders.models import DispatchMode, OfferStatus
from market.orders.schemas import OrderRead


class DispatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Offer to `volunteer_ids`, or to the eligible members of a volunteer team (`team_id`)."""

    volunteer_ids: Annotated[list[Id], msgspec.Meta(max_length=20)] = []
    team_id: Id | None = None
    # Default: direct for volunteer_ids; a team dispatch is always a pool.
    mode: DispatchMode | None = None
    offer_ttl_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None


class OfferRead(msgspec.Struct):
    id: int
    order_id: int
    mode: DispatchMode
    status: OfferStatus
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None
    decline_reason: str | None
    order: OrderRead


class PlanCreate(msgspec.Struct, forbid_unknown_fields=True):
    area_id: Id
    # Default: every order in the area waiting for dispatch.
    order_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=2000)] | None = None


class ApplyRequest(msgspec.Struct, forbid_unknown_fields=True):
    # Default: every proposed pair.
    pair_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=2000)] | None = None


class SwapRequest(msgspec.Struct, forbid_unknown_fields=True):
    volunteer_id: Id


class PairRead(msgspec.Struct):
    id: int
    order_id: int
    volunteer_id: int
    volunteer_name: str
    cost: int
    # same_building, same_compound, same_grid, same_community, same_street or farther.
    distance: str
    # Cost per term (distance, load, rating, skill); the terms add up to `cost`.
    breakdown: dict[str, int]
    # Why this volunteer, as codes from the cost terms: nearer, less_busy, better_rated,
    # more_skilled, or best_overall when no term stands out.
    why: list[str]
    outcome: PairOutcome
    # Why apply skipped the pair: a `Reason`, or "" when it was not skipped.
    note: str
    offer_id: int | None


class UnassignedRead(msgspec.Struct):
    order_id: int
    reason: str
    explanation: str
    penalty: int
    # Volunteers left after each filter: serving (area and skill), eligible, free, with_capacity.
    candidates: dict[str, int]


class PlanSummary(msgspec.Struct):
    orders: int
    assigned: int
    coverage: float
    total_cost: int
    distances: dict[str, int]
    mean_distance_cost: float
    load_spread: float
    max_load: int


class PlanRead(msgspec.Struct):
    id: int
    area_id: int
    status: PlanStatus
    automatic: bool
    created_by_id: int | None
    created_at: datetime
    applied_at: datetime | None
    applied_by_id: int | None
    weights: dict[str, float]
    summary: PlanSummary
    pairs: list[PairRead]
    unassigned: list[UnassignedRead]


class PlanListItem(msgspec.Struct):
    id: int
    area_id: int
    status: PlanStatus
    automatic: bool
    created_at: datetime
    applied_at: datetime | None
    summary: PlanSummary


class SkippedPair(msgspec.Struct):
    pair_id: int
    order_id: int
    volunteer_id: int
    reason: Reason


class ApplyResult(msgspec.Struct):
    offered: int
    skipped: list[SkippedPair]
    plan: PlanRead


class AutoDispatchWrite(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool


class AutoDispatchRead(msgspec.Struct):
    community_id: int
    enabled: bool
    updated_by_id: int | None
    updated_at: datetime | None


class BoardItem(msgspec.Struct):
    """An order on a volunteer's open board, masked as any order they do not hold."""

    order: OrderRead
    # How far it is from the volunteer's home: same_building … farther.
    distance: str


class BoardSettingWrite(msgspec.Struct, forbid_unknown_fields=True):
    # at_once, after `after_minutes` without dispatch, or never.
    mode: BoardMode
    after_minutes: Annotated[int, msgspec.Meta(ge=0, le=7 * 24 * 60)] | None = None


class BoardSettingRead(msgspec.Struct):
    community_id: int
    mode: BoardMode
    after_minutes: int
    updated_by_id: int | None
    updated_at: datetime | None

from __future__ import annotations

from datetime import datetime

import msgspec

from market.consultation.models import ProposalStatus, RejectReason
from market.fields import Id, Moment, text
from market.needs.models import NeedStatus
from market.needs.schemas import Priority
from market.units.models import ResourceCategory
from market.units.schemas import Quantity, UnitOfMeasure


class CommunityNeedRead(msgspec.Struct):
    """A published need of the resident's community, with the residents' support."""

    id: int
    title: str
    description: str
    category: ResourceCategory
    quantity: int
    unit_of_measure: str
    priority: int
    supports: int
    # The need's weight in allocation plans (market.needs.service.plan_weight).
    plan_weight: float
    supported_by_me: bool
    status: NeedStatus
    deadline: datetime


class ProposalCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: text(100, required=True)
    description: text(2000) = ""


class ProposalApprove(msgspec.Struct, forbid_unknown_fields=True):
    """What a published need takes that a resident's proposal does not say."""

    category: ResourceCategory
    quantity: Quantity
    unit_of_measure: UnitOfMeasure
    deadline: Moment
    priority: Priority = 3
    # Default: the proposal's community; or a place inside it.
    area_id: Id | None = None
    # Default: the proposal's title.
    title: text(100, required=True) | None = None


class ProposalReject(msgspec.Struct, forbid_unknown_fields=True):
    reason: RejectReason


class ProposalRead(msgspec.Struct):
    id: int
    community_id: int
    proposed_by_id: int
    proposed_by_name: str
    title: str
    description: str
    status: ProposalStatus
    created_at: datetime
    reviewed_at: datetime | None
    reject_reason: RejectReason | None
    need_id: int | None

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Id, Moment, text
from market.needs.models import FlowOutcome, NeedStatus, PlanStatus
from market.projects.schemas import ProjectRead
from market.units.models import ResourceCategory
from market.units.schemas import Quantity, UnitOfMeasure

Priority = Annotated[int, msgspec.Meta(ge=1, le=5, description="1 (can wait) … 5 (most pressing)")]


class NeedCreate(msgspec.Struct, forbid_unknown_fields=True):
    # The community itself or a place inside it, within your area.
    area_id: Id
    category: ResourceCategory
    title: text(100, required=True)
    quantity: Quantity
    unit_of_measure: UnitOfMeasure
    deadline: Moment
    priority: Priority = 3
    description: text(2000) = ""


class NeedUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; a need in a project cannot change. `status`: open or closed."""

    title: text(100, required=True) | None = None
    description: text(2000) | None = None
    quantity: Quantity | None = None
    unit_of_measure: UnitOfMeasure | None = None
    priority: Priority | None = None
    deadline: Moment | None = None
    status: NeedStatus | None = None


class NeedRead(msgspec.Struct):
    id: int
    community_id: int
    area_id: int
    category: ResourceCategory
    title: str
    description: str
    quantity: int
    unit_of_measure: str
    priority: int
    deadline: datetime
    status: NeedStatus
    # Delivered across every project that served it; quantity - delivered is what it still lacks.
    delivered: int
    # What the last project left undone, when it went back to open.
    note: str
    # Every project the need has been part of, oldest first.
    project_ids: list[int]
    created_at: datetime
    updated_at: datetime


class PlanCreate(msgspec.Struct, forbid_unknown_fields=True):
    community_id: Id


class FlowRead(msgspec.Struct):
    id: int
    resource_id: int
    resource_title: str
    unit_id: int
    need_id: int
    quantity: int
    unit_of_measure: str
    # Per unit of quantity: 1 + days until the resource is available + 2 per other community it serves.
    cost: int
    outcome: FlowOutcome
    note: str


class UnmetRead(msgspec.Struct):
    need_id: int
    requested: int
    planned: int
    reason: str
    explanation: str


class PlanSummary(msgspec.Struct):
    needs: int
    resources: int
    requested: int
    planned: int
    fully_met: int
    partly_met: int
    unmet: int
    total_cost: int


class PlanRead(msgspec.Struct):
    id: int
    community_id: int
    status: PlanStatus
    created_by_id: int
    created_at: datetime
    applied_at: datetime | None
    applied_by_id: int | None
    project_id: int | None
    summary: PlanSummary
    flows: list[FlowRead]
    unmet: list[UnmetRead]


class ApplyRequest(msgspec.Struct, forbid_unknown_fields=True):
    # Default: every proposed flow.
    flow_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=2000)] | None = None
    # Defaults: "<community> plan <id>", starting now, due at the earliest deadline of its needs.
    title: text(100, required=True) | None = None
    description: text(2000) = ""
    start_at: Moment | None = None
    deadline: Moment | None = None


class ApplyResult(msgspec.Struct):
    plan: PlanRead
    project: ProjectRead

"""Community needs (需求清单) and the allocation plans that match resources to them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base
from market.units.models import ResourceCategory


class NeedStatus(enum.StrEnum):
    open = "open"
    # Attached to a draft or active project.
    planned = "planned"
    # Some of it was delivered and no project serves it now: the rest waits for the next plan.
    partly_met = "partly_met"
    # Everything it asked for was delivered.
    met = "met"
    closed = "closed"


class Need(Base):
    __tablename__ = "needs"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        Index("ix_needs_community_status", "community_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    # Copied from the area so that subtree scoping is an indexed prefix match.
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[ResourceCategory] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int]
    unit_of_measure: Mapped[str] = mapped_column(String(20))
    # 1 (can wait) … 5 (most pressing): weighs the demand in allocation plans.
    priority: Mapped[int] = mapped_column(default=3)
    deadline: Mapped[datetime]
    status: Mapped[NeedStatus] = mapped_column(String(16), default=NeedStatus.open)
    # What a closed-out project left undone, shown when the need goes back to open.
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlanStatus(enum.StrEnum):
    proposed = "proposed"
    applied = "applied"


class FlowOutcome(enum.StrEnum):
    proposed = "proposed"
    # Became a commitment of the plan's project.
    applied = "applied"
    # Re-checked at apply time and no longer possible; `note` says why.
    skipped = "skipped"
    not_chosen = "not_chosen"


class AllocationPlan(Base):
    """A solver's proposal for a community's open needs, kept as it was made."""

    __tablename__ = "allocation_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(32), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    status: Mapped[PlanStatus] = mapped_column(String(16), default=PlanStatus.proposed)
    applied_at: Mapped[datetime | None]
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)

    flows: Mapped[list[AllocationFlow]] = relationship(
        lazy="raise", order_by="AllocationFlow.id", cascade="all, delete-orphan"
    )
    unmet: Mapped[list[AllocationUnmet]] = relationship(
        lazy="raise", order_by="AllocationUnmet.id", cascade="all, delete-orphan"
    )


class AllocationFlow(Base):
    """So much of a resource proposed for a need."""

    __tablename__ = "allocation_flows"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("allocation_plans.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    quantity: Mapped[int]
    # Per unit of quantity (see needs.service.pair_cost).
    cost: Mapped[int]
    outcome: Mapped[FlowOutcome] = mapped_column(String(16), default=FlowOutcome.proposed)
    note: Mapped[str] = mapped_column(String(200), default="")


class AllocationUnmet(Base):
    """A need the plan meets only in part or not at all, and why."""

    __tablename__ = "allocation_unmet"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("allocation_plans.id", ondelete="CASCADE"), index=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)
    requested: Mapped[int]
    planned: Mapped[int]
    reason: Mapped[str] = mapped_column(String(40))

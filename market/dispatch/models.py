from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base


class PlanStatus(enum.StrEnum):
    proposed = "proposed"
    applied = "applied"


class PairOutcome(enum.StrEnum):
    proposed = "proposed"
    offered = "offered"
    # Re-checked at apply time and found no longer valid; `note` says why.
    skipped = "skipped"
    # Left out of a partial apply: plans applied before the pairs left out stayed proposed hold it.
    not_chosen = "not_chosen"


class DispatchPlan(Base):
    """A solver's proposal for the waiting orders of an area, kept as it was made."""

    __tablename__ = "dispatch_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    # None for plans made by auto-dispatch.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    status: Mapped[PlanStatus] = mapped_column(String(16), default=PlanStatus.proposed)
    applied_at: Mapped[datetime | None]
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The weights the plan was made with, and its summary figures (matching.dispatch.Summary).
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)

    pairs: Mapped[list[PlanPair]] = relationship(
        lazy="raise", order_by="PlanPair.id", cascade="all, delete-orphan"
    )
    unassigned: Mapped[list[PlanUnassigned]] = relationship(
        lazy="raise", order_by="PlanUnassigned.id", cascade="all, delete-orphan"
    )


class PlanPair(Base):
    __tablename__ = "dispatch_plan_pairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("dispatch_plans.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cost: Mapped[int]
    distance: Mapped[str] = mapped_column(String(32))
    breakdown: Mapped[dict[str, int]] = mapped_column(JSON)
    outcome: Mapped[PairOutcome] = mapped_column(String(16), default=PairOutcome.proposed)
    note: Mapped[str] = mapped_column(String(200), default="")
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))


class PlanUnassigned(Base):
    __tablename__ = "dispatch_plan_unassigned"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("dispatch_plans.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    penalty: Mapped[int]
    # How many volunteers passed each filtering stage (matching.dispatch.STAGES).
    candidates: Mapped[dict[str, int]] = mapped_column(JSON)


class BoardMode(enum.StrEnum):
    """When a community's new orders go to the open board, where volunteers claim them."""

    at_once = "at_once"
    # After `board_after_minutes` without being dispatched.
    after = "after"
    never = "never"


DEFAULT_BOARD_AFTER_MINUTES = 30


class AutoDispatch(Base):
    """A community's dispatch settings: whether the scheduler plans and offers its waiting orders,
    and when they go to the open board. No row: neither auto-dispatch, and the board after 30 minutes."""

    __tablename__ = "auto_dispatch"

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    board_mode: Mapped[BoardMode] = mapped_column(
        String(16), default=BoardMode.after, server_default=BoardMode.after.value
    )
    board_after_minutes: Mapped[int] = mapped_column(
        default=DEFAULT_BOARD_AFTER_MINUTES, server_default=str(DEFAULT_BOARD_AFTER_MINUTES)
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

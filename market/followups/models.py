"""Follow-ups (回访): a grid worker's call to a resident after a confirmed order, and how it went."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.auth.models import User
from market.db import Base
from market.orders.models import Order

# How long the grid worker has to call after the order is confirmed; past it the follow-up is overdue.
FOLLOWUP_DUE_AFTER = timedelta(days=3)
# The share of confirmed orders a community follows up on although nothing went wrong, unless it sets
# another (percent).
DEFAULT_SAMPLE_PERCENT = 10


class FollowUpReason(enum.StrEnum):
    """Why an order is followed up, in the order the reasons are chosen when several apply."""

    complaint = "complaint"  # the resident marked their comment as a complaint
    low_rating = "low_rating"  # rated 3 stars or fewer
    sample = "sample"  # picked by the community's sample


class FollowUpOutcome(enum.StrEnum):
    satisfied = "satisfied"
    resolved = "resolved"
    unresolved = "unresolved"
    unreachable = "unreachable"


class FollowUp(Base):
    __tablename__ = "followups"
    __table_args__ = (
        # Scoped like orders: `area_code LIKE 'prefix%'` (see market.orders.models).
        Index("ix_followups_area_code", "area_code", postgresql_ops={"area_code": "varchar_pattern_ops"}),
        CheckConstraint("(outcome IS NULL) = (recorded_at IS NULL)", name="outcome_recorded_together"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # The order's place, copied so that scoping to a reader's area is an indexed prefix match.
    area_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[FollowUpReason] = mapped_column(String(16))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(index=True)
    # None until the call is recorded.
    outcome: Mapped[FollowUpOutcome | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(lazy="raise")
    recorded_by: Mapped[User | None] = relationship(lazy="raise")


class FollowUpSampling(Base):
    """A community's sample: the percent of its confirmed orders followed up although nothing went
    wrong. No row: `DEFAULT_SAMPLE_PERCENT`."""

    __tablename__ = "followup_sampling"
    __table_args__ = (CheckConstraint("percent BETWEEN 0 AND 100", name="percent_range"),)

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    percent: Mapped[int]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

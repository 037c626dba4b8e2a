"""Ratings of co-building units after a project: by the residents who took part and by the
project's community (its managers). They feed the half-yearly unit review (述职评议)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class RaterKind(enum.StrEnum):
    resident = "resident"  # a participant of the project
    community = "community"  # a manager of the project's community, for the community


class UnitRating(Base):
    __tablename__ = "unit_ratings"
    __table_args__ = (
        # Once per person per project (and unit the project worked with).
        UniqueConstraint("project_id", "unit_id", "rater_id"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rater_kind: Mapped[RaterKind] = mapped_column(String(16))
    stars: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]

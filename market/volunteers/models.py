from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base


class PauseReason(enum.StrEnum):
    away = "away"
    busy = "busy"


class VolunteerProfile(Base):
    __tablename__ = "volunteer_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # The most orders this volunteer holds at once (accepted or in service).
    capacity: Mapped[int] = mapped_column(default=1)
    # Ratings from confirmed orders; the average is derived, so both stay exact.
    rating_sum: Mapped[int] = mapped_column(default=0)
    rating_count: Mapped[int] = mapped_column(default=0)
    # Taking no orders until this moment (the end of the day the volunteer chose), and why:
    # `away` or `busy`. Dispatch and auto-dispatch pass over a paused volunteer until then.
    paused_until: Mapped[datetime | None]
    pause_reason: Mapped[PauseReason | None] = mapped_column(String(16))

    skills: Mapped[list[VolunteerSkill]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="VolunteerSkill.category_code"
    )
    availability: Mapped[list[AvailabilityWindow]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="(AvailabilityWindow.weekday, AvailabilityWindow.start_minute)",
    )
    serving_areas: Mapped[list[ServingArea]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ServingArea.area_id"
    )

    @property
    def rating(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 2) if self.rating_count else None


class VolunteerSkill(Base):
    __tablename__ = "volunteer_skills"
    __table_args__ = (
        UniqueConstraint("user_id", "category_code"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_profiles.user_id", ondelete="CASCADE"), index=True
    )
    category_code: Mapped[str] = mapped_column(ForeignKey("service_categories.code"), index=True)
    # 1 = can help, 2 = experienced, 3 = professional.
    level: Mapped[int] = mapped_column(default=1)


class AvailabilityWindow(Base):
    """A weekly window, in local time: weekday 0 = Monday, minutes after midnight."""

    __tablename__ = "volunteer_availability"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute", name="minute_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_profiles.user_id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]
    start_minute: Mapped[int]
    end_minute: Mapped[int]


class ServingArea(Base):
    __tablename__ = "volunteer_serving_areas"
    __table_args__ = (UniqueConstraint("user_id", "area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_profiles.user_id", ondelete="CASCADE"), index=True
    )
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    # Denormalised from the area so "who serves this building" is one prefix query.
    area_code: Mapped[str] = mapped_column(String(32), index=True)

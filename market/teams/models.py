"""Volunteer teams (志愿服务队): a community's standing group of volunteers with a speciality."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base


class Speciality(enum.StrEnum):
    legal_aid = "legal_aid"
    health = "health"
    elderly_care = "elderly_care"
    mediation = "mediation"
    culture = "culture"
    education = "education"
    environment = "environment"
    safety = "safety"
    other = "other"


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    speciality: Mapped[Speciality] = mapped_column(String(32), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    # The community's code, so that a manager's subtree is an indexed prefix match.
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # An inactive team keeps its history but takes no members and no dispatches.
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    members: Mapped[list[TeamMember]] = relationship(
        lazy="raise", order_by="TeamMember.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[TeamEvent]] = relationship(
        lazy="raise", order_by="TeamEvent.id", cascade="all, delete-orphan"
    )


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    joined_at: Mapped[datetime]


class TeamEvent(Base):
    """One change to a team: created, edited, a member added or removed, a new leader."""

    __tablename__ = "team_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    # The member concerned, for membership changes.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

"""Projects (项目清单): needs, resource commitments, responsibilities and volunteers, with a deadline."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base
from market.state_machine import STAYS, Machine


class ProjectStatus(enum.StrEnum):
    draft = "draft"
    active = "active"
    completed = "completed"
    overdue = "overdue"
    cancelled = "cancelled"


class ProjectAction(enum.StrEnum):
    create = "create"
    # Every commitment is confirmed: the project starts.
    activate = "activate"
    confirm_commitment = "confirm_commitment"
    deliver = "deliver"
    add_participant = "add_participant"
    record_hours = "record_hours"
    add_responsibility = "add_responsibility"
    reassign_responsibility = "reassign_responsibility"
    responsibility_done = "responsibility_done"
    # A responsibility past its due date told to its owner, then to the community's managers.
    escalate_responsibility = "escalate_responsibility"
    cancel = "cancel"
    # At or after the deadline: completed when everything was delivered and done, else overdue.
    close = "close"


_S, _A = ProjectStatus, ProjectAction
PROJECT_MACHINE = Machine(
    "project",
    {
        _A.activate: ({_S.draft}, _S.active),
        _A.confirm_commitment: ({_S.draft}, STAYS),
        _A.deliver: ({_S.active}, STAYS),
        _A.add_participant: ({_S.draft, _S.active}, STAYS),
        _A.record_hours: ({_S.active}, STAYS),
        # Responsibilities change and are done at any time before the project closes.
        _A.add_responsibility: ({_S.draft, _S.active}, STAYS),
        _A.reassign_responsibility: ({_S.draft, _S.active}, STAYS),
        _A.responsibility_done: ({_S.draft, _S.active}, STAYS),
        _A.escalate_responsibility: ({_S.draft, _S.active}, STAYS),
        _A.cancel: ({_S.draft, _S.active}, _S.cancelled),
        _A.close: ({_S.active}, frozenset({_S.completed, _S.overdue})),
    },
)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("start_at < deadline", name="window_order"),
        Index("ix_projects_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    community_code: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[ProjectStatus] = mapped_column(String(16), default=ProjectStatus.draft)
    start_at: Mapped[datetime]
    deadline: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # When the managers were told the deadline is near: they are told once.
    warned_at: Mapped[datetime | None]
    # The close-out's outcome: what was delivered, what is missing, who got which points.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    needs: Mapped[list[ProjectNeed]] = relationship(
        lazy="raise", order_by="ProjectNeed.need_id", cascade="all, delete-orphan"
    )
    commitments: Mapped[list[Commitment]] = relationship(
        lazy="raise", order_by="Commitment.id", cascade="all, delete-orphan"
    )
    responsibilities: Mapped[list[Responsibility]] = relationship(
        lazy="raise", order_by="Responsibility.id", cascade="all, delete-orphan"
    )
    participants: Mapped[list[Participant]] = relationship(
        lazy="raise", order_by="Participant.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[ProjectEvent]] = relationship(
        lazy="raise", order_by="ProjectEvent.id", cascade="all, delete-orphan"
    )


class ProjectNeed(Base):
    __tablename__ = "project_needs"
    __table_args__ = (UniqueConstraint("project_id", "need_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id"), index=True)


class Commitment(Base):
    """So much of a unit's resource promised to the project for one of its needs: held on the
    resource until delivered, or released at close-out. What is delivered counts for that need."""

    __tablename__ = "project_commitments"
    __table_args__ = (
        UniqueConstraint("project_id", "resource_id", "need_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "delivered >= 0 AND released >= 0 AND delivered + released <= quantity", name="quantity_balance"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    # None for a project that serves no need, and for commitments made before they named their need
    # whose need could not be told.
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"), index=True)
    quantity: Mapped[int]
    delivered: Mapped[int] = mapped_column(default=0)
    released: Mapped[int] = mapped_column(default=0)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    deliveries: Mapped[list[Delivery]] = relationship(
        lazy="raise", order_by="Delivery.id", cascade="all, delete-orphan"
    )


class Delivery(Base):
    __tablename__ = "project_deliveries"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commitment_id: Mapped[int] = mapped_column(
        ForeignKey("project_commitments.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]


class ResponsibilityEscalation(enum.StrEnum):
    """Who has been told that a responsibility is past its due date: its owner first, then the
    community's managers."""

    owner = "owner"
    community = "community"


class Responsibility(Base):
    """Who does what by when (责任清单): a unit, a volunteer team or a person."""

    __tablename__ = "project_responsibilities"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN unit_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN team_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_assignee",
        ),
        Index("ix_project_responsibilities_due", "done_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The highest level told that it is overdue; reassigning or a new due date starts again.
    escalation: Mapped[ResponsibilityEscalation | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None]


class Participant(Base):
    """A volunteer taking part; their hours are recorded by the project's managers."""

    __tablename__ = "project_participants"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id"),
        CheckConstraint("tenths >= 0", name="hours_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Tenths of an hour are enough for a service record and keep the column an integer.
    tenths: Mapped[int] = mapped_column(default=0)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime]

    @property
    def hours(self) -> float:
        return self.tenths / 10


class ProjectEvent(Base):
    """One change to a project: who, when, what."""

    __tablename__ = "project_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    # None when a scheduled job made the change.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[ProjectStatus | None] = mapped_column(String(16))
    to_status: Mapped[ProjectStatus | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

"""双报到: in-service party members (在职党员) reporting in to their home community, naming their
employer, and the community's yearly evaluation of each (comment and grade) sent to the employer."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base
from market.state_machine import Machine


class ReportStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    declined = "declined"


class ReportAction(enum.StrEnum):
    confirm = "confirm"
    decline = "decline"
    # A declined member reports in again (with corrected details): pending once more.
    report_again = "report_again"


_S, _A = ReportStatus, ReportAction
REPORT_MACHINE = Machine(
    "report",
    {
        _A.confirm: ({_S.pending}, _S.confirmed),
        _A.decline: ({_S.pending}, _S.declined),
        _A.report_again: ({_S.declined}, _S.pending),
    },
)


class Grade(enum.StrEnum):
    """The community's grade of a member's year, as the party's evaluations write them."""

    excellent = "excellent"  # 优秀
    qualified = "qualified"  # 合格
    basically_qualified = "basically_qualified"  # 基本合格
    unqualified = "unqualified"  # 不合格


class PartyMember(Base):
    """One person's report to their home community: at most one per person."""

    __tablename__ = "party_members"
    __table_args__ = (
        # The employer is a co-building unit of the registry, or an organisation named with a contact.
        CheckConstraint(
            "unit_id IS NOT NULL OR (employer_name <> '' AND contact_name <> '' AND contact_phone <> '')",
            name="employer_named",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # An organisation outside the registry (empty when the employer is a unit).
    employer_name: Mapped[str] = mapped_column(String(100), default="")
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[ReportStatus] = mapped_column(String(16), default=ReportStatus.pending, index=True)
    reported_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(Text, default="")


class PartyEvaluation(Base):
    """The community's word on a member's year: comment and grade, with the year's activity as it
    stood when they were written (the letter to the employer says what the community saw)."""

    __tablename__ = "party_evaluations"
    __table_args__ = (UniqueConstraint("member_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("party_members.id", ondelete="CASCADE"), index=True)
    year: Mapped[int]
    grade: Mapped[Grade] = mapped_column(String(24))
    comment: Mapped[str] = mapped_column(Text)
    # market.party.service.Activity as a dict.
    activity: Mapped[dict[str, Any]] = mapped_column(JSON)
    evaluated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    evaluated_at: Mapped[datetime]


class CommendationThreshold(Base):
    """The hours in a year above which a community's members also get a commendation letter (表扬信)."""

    __tablename__ = "party_commendation_thresholds"
    __table_args__ = (CheckConstraint("hours >= 0", name="hours_non_negative"),)

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    hours: Mapped[int]
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

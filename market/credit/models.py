"""Resident credit (信用积分, 信用档案): points for taking part in community life, kept on the
ledger's credit asset (never redeemable). Each entry says where the points came from."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base
from market.ledger.models import TRANSFER_ID


class CreditSource(enum.StrEnum):
    project = "project"  # took part in a project or activity that closed
    wish = "wish"  # fulfilled a wish (微心愿)
    compact = "compact"  # kept the residents' compact (居民公约), entered by a manager


class CompactReason(enum.StrEnum):
    """Why a manager enters compact credit; the memo says the rest."""

    environment = "environment"  # 爱护环境
    neighbourly_help = "neighbourly_help"  # 邻里互助
    civility = "civility"  # 文明行为
    safety = "safety"  # 平安巡防
    other = "other"


class CreditEntry(Base):
    __tablename__ = "credit_entries"
    __table_args__ = (
        # A project or wish gives its credit once per person (compact entries have no subject).
        UniqueConstraint("source", "subject_id", "user_id"),
        CheckConstraint("points > 0", name="points_positive"),
        Index("ix_credit_entries_user_month", "user_id", "source", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    source: Mapped[CreditSource] = mapped_column(String(16))
    # The project's or wish's id; None for a compact entry.
    subject_id: Mapped[int | None]
    reason: Mapped[CompactReason | None] = mapped_column(String(24))
    memo: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int]
    # The month the entry counts in, in the service's time zone ("2026-03"): caps are per month.
    month: Mapped[str] = mapped_column(String(7))
    transfer_id: Mapped[str] = mapped_column(TRANSFER_ID, unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class JobOutcome(enum.StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    # Another scheduler held the job's lock, so this one left the work to it.
    skipped = "skipped"
    # Stopped at shutdown; its transaction was rolled back.
    cancelled = "cancelled"


class JobRun(Base):
    """One run of a scheduled job, written after the run in a transaction of its own."""

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started_at", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[JobOutcome] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime]
    handled: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]

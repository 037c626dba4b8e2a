"""Sign-up applications waiting for approval, and spreadsheet imports of people in progress."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class ApplicationKind(enum.StrEnum):
    # A resident who registered on the phone: a grid worker of their building's grid approves.
    resident = "resident"
    # A resident who applies to volunteer: a community manager of their community approves.
    volunteer = "volunteer"


class ApplicationStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    refused = "refused"


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_status_area_code", "status", "area_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ApplicationKind] = mapped_column(String(16))
    status: Mapped[ApplicationStatus] = mapped_column(String(16))
    # The applicant's home (a building): who may decide is found by prefix, as for everything else.
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    area_code: Mapped[str] = mapped_column(String(32))
    # A volunteer application: the profile asked for (skills, availability, serving areas) as JSON.
    details: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]


class ImportStatus(enum.StrEnum):
    # Checked and found wrong: nothing can be written; the importer fixes the file and uploads again.
    refused = "refused"
    # Checked and found right: waiting for the importer to confirm.
    ready = "ready"
    # Being written, one batch per request; `done` rows so far.
    running = "running"
    done = "done"


class PeopleImport(Base):
    """One uploaded spreadsheet of people: its rows as checked, and how far writing them has got."""

    __tablename__ = "people_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[ImportStatus] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(200), default="")
    # The checked rows, as JSON: [{line, phone, name, area_id, roles, skills, availability}].
    rows: Mapped[str] = mapped_column(Text)
    # Every row's errors, as JSON: [{line, column, code, value}].
    errors: Mapped[str] = mapped_column(Text, default="[]")
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]

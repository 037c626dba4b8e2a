from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class Notification(Base):
    """One message in a user's inbox, written by the flow or job that needs their attention."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What happened, for clients to branch on: offer, escalation, project_closing, redemption_ready, …
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # What it is about, e.g. ("order", 12): enough for a page to link to it.
    subject_type: Mapped[str] = mapped_column(String(32), default="")
    subject_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    read_at: Mapped[datetime | None]

"""Micro-wishes (微心愿): a resident's small wish on the community's wall, claimed and fulfilled
by a volunteer or a co-building unit."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.auth.models import User
from market.db import Base
from market.state_machine import Machine

MAX_VALUE_YUAN = 2000


class WishStatus(enum.StrEnum):
    open = "open"
    claimed = "claimed"
    fulfilled = "fulfilled"
    confirmed = "confirmed"
    withdrawn = "withdrawn"
    expired = "expired"


class WishAction(enum.StrEnum):
    post = "post"
    claim = "claim"
    release = "release"
    fulfil = "fulfil"
    confirm = "confirm"
    withdraw = "withdraw"
    expire = "expire"


_S, _A = WishStatus, WishAction
WISH_MACHINE = Machine(
    "wish",
    {
        _A.claim: ({_S.open}, _S.claimed),
        _A.release: ({_S.claimed}, _S.open),
        _A.fulfil: ({_S.claimed}, _S.fulfilled),
        _A.confirm: ({_S.fulfilled}, _S.confirmed),
        _A.withdraw: ({_S.open, _S.claimed}, _S.withdrawn),
        _A.expire: ({_S.open}, _S.expired),
    },
)


class ClaimerKind(enum.StrEnum):
    volunteer = "volunteer"
    # A unit admin claiming on behalf of their co-building unit.
    unit = "unit"


class Wish(Base):
    __tablename__ = "wishes"
    __table_args__ = (
        CheckConstraint(f"value_yuan BETWEEN 1 AND {MAX_VALUE_YUAN}", name="value_range"),
        # A claimer and its kind come and go together.
        CheckConstraint("(claimer_id IS NULL) = (claimer_kind IS NULL)", name="claimer_kind_set"),
        Index("ix_wishes_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    # The resident's home area when posted, so that managers' subtrees are a prefix match.
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    value_yuan: Mapped[int]
    deadline: Mapped[datetime]
    status: Mapped[WishStatus] = mapped_column(String(16), default=WishStatus.open, index=True)
    claimer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    claimer_kind: Mapped[ClaimerKind | None] = mapped_column(String(16))
    claimed_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    # Wish points paid to a volunteer claimer on confirmation (None: none were due).
    points: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]

    resident: Mapped[User] = relationship(foreign_keys=[resident_id], lazy="raise")
    claimer: Mapped[User | None] = relationship(foreign_keys=[claimer_id], lazy="raise")
    events: Mapped[list[WishEvent]] = relationship(
        lazy="raise", order_by="WishEvent.id", cascade="all, delete-orphan"
    )


class WishEvent(Base):
    """One transition of a wish: who moved it, when, from which state to which."""

    __tablename__ = "wish_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    wish_id: Mapped[int] = mapped_column(ForeignKey("wishes.id", ondelete="CASCADE"), index=True)
    # None when a scheduled job made the change.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[WishStatus | None] = mapped_column(String(16))
    to_status: Mapped[WishStatus] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

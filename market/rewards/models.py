"""The reward catalogue (goods donated by co-building units) and redemptions of it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base
from market.ledger.models import TRANSFER_ID


class Reward(Base):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        # Stock is held by pending redemptions and handed out by fulfilled ones; never more than there is.
        CheckConstraint("held >= 0 AND fulfilled >= 0 AND held + fulfilled <= stock", name="stock_balance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[int]
    stock: Mapped[int]
    held: Mapped[int] = mapped_column(default=0)
    fulfilled: Mapped[int] = mapped_column(default=0)
    limit_per_person: Mapped[int] = mapped_column(default=1)
    pickup_place: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[datetime]
    donor: Mapped[str] = mapped_column(String(100), default="")
    # The area the reward was published in: its publisher's and managers' scope.
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    communities: Mapped[list[RewardCommunity]] = relationship(lazy="raise", cascade="all, delete-orphan")

    @property
    def stock_left(self) -> int:
        return self.stock - self.held - self.fulfilled


class RewardCommunity(Base):
    """A community whose members may redeem the reward."""

    __tablename__ = "reward_communities"
    __table_args__ = (UniqueConstraint("reward_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)


class RedemptionStatus(enum.StrEnum):
    pending = "pending"
    fulfilled = "fulfilled"
    cancelled = "cancelled"
    expired = "expired"


class Redemption(Base):
    __tablename__ = "redemptions"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    quantity: Mapped[int]
    points: Mapped[int]
    # The pending ledger transfer that reserves the points.
    transfer_id: Mapped[str] = mapped_column(TRANSFER_ID, unique=True)
    status: Mapped[RedemptionStatus] = mapped_column(String(16), default=RedemptionStatus.pending, index=True)
    pickup_code: Mapped[str] = mapped_column(String(6))
    pickup_deadline: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    reward: Mapped[Reward] = relationship(lazy="raise")

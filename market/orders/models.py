from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.areas.models import Area
from market.auth.models import User
from market.db import Base
from market.state_machine import STAYS, Machine


class OrderStatus(enum.StrEnum):
    submitted = "submitted"
    dispatched = "dispatched"
    accepted = "accepted"
    in_service = "in_service"
    completed = "completed"
    confirmed = "confirmed"
    rejected = "rejected"
    cancelled = "cancelled"
    expired = "expired"


FINAL_STATUSES = frozenset(
    {OrderStatus.confirmed, OrderStatus.rejected, OrderStatus.cancelled, OrderStatus.expired}
)
# Orders a volunteer is holding: they count against the volunteer's capacity.
HELD_STATUSES = frozenset({OrderStatus.accepted, OrderStatus.in_service})


class OrderAction(enum.StrEnum):
    """What happens to an order, as its history records it."""

    post = "post"
    dispatch = "dispatch"
    accept = "accept"
    # A volunteer takes a waiting order from the open board.
    claim = "claim"
    requeue = "requeue"
    check_in = "check_in"
    check_out = "check_out"
    complete = "complete"
    confirm = "confirm"
    reject = "reject"
    cancel = "cancel"
    expire = "expire"
    # The resident was not satisfied after all: the order waits to be dispatched again.
    reopen = "reopen"
    # Recorded without a move: told someone it is late, passed over the volunteer the resident asked for.
    escalate = "escalate"
    pass_preferred = "pass_preferred"
    # The resident asks to hurry it along (催办).
    hurry = "hurry"


_S, _A = OrderStatus, OrderAction
ORDER_MACHINE = Machine(
    "order",
    {
        _A.dispatch: ({_S.submitted}, _S.dispatched),
        _A.accept: ({_S.dispatched}, _S.accepted),
        _A.claim: ({_S.submitted}, _S.accepted),
        _A.requeue: ({_S.dispatched}, _S.submitted),
        _A.check_in: ({_S.accepted}, _S.in_service),
        _A.check_out: ({_S.in_service}, STAYS),
        _A.complete: ({_S.in_service}, _S.completed),
        _A.confirm: ({_S.completed}, _S.confirmed),
        _A.reject: ({_S.submitted, _S.dispatched}, _S.rejected),
        _A.cancel: ({_S.submitted, _S.dispatched, _S.accepted}, _S.cancelled),
        _A.expire: ({_S.submitted, _S.dispatched}, _S.expired),
        _A.reopen: ({_S.confirmed}, _S.submitted),
    },
)


class EscalationLevel(enum.StrEnum):
    """Who has been told that an order is late, in the order the levels are reached."""

    grid = "grid"
    community = "community"
    street = "street"


ESCALATION_RANK = {None: 0, EscalationLevel.grid: 1, EscalationLevel.community: 2, EscalationLevel.street: 3}


class Urgency(enum.StrEnum):
    normal = "normal"
    urgent = "urgent"


class OrderChannel(enum.StrEnum):
    """How an order reached the service: the resident's own page, or entered for them by a grid
    worker or community manager after a phone call, a visit to the office, or a round."""

    page = "page"
    phone = "phone"
    walk_in = "walk_in"
    patrol = "patrol"
    # Reported for the resident by a grid informant (网格信息员) of their grid.
    informant = "informant"


# The channels of an order entered for a resident by someone else.
ENTERED_CHANNELS = (OrderChannel.phone, OrderChannel.walk_in, OrderChannel.patrol)


class OfferStatus(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"


class OfferAction(enum.StrEnum):
    accept = "accept"
    decline = "decline"
    expire = "expire"
    # Closed because the order was taken by another volunteer, cancelled, rejected or expired.
    withdraw = "withdraw"


OFFER_MACHINE = Machine(
    "offer",
    {
        OfferAction.accept: ({OfferStatus.pending}, OfferStatus.accepted),
        OfferAction.decline: ({OfferStatus.pending}, OfferStatus.declined),
        OfferAction.expire: ({OfferStatus.pending}, OfferStatus.expired),
        OfferAction.withdraw: ({OfferStatus.pending}, OfferStatus.withdrawn),
    },
)


class DispatchMode(enum.StrEnum):
    direct = "direct"
    pool = "pool"
    # Claimed by the volunteer from the open board: an offer made and accepted at once.
    board = "board"


# What the reports count of an order, besides when it was posted (market/reports/service.py).
REPORTED_COLUMNS = ("area_code", "status", "category_code", "rating", "accepted_at", "completed_at")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("window_start < window_end", name="window_order"),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_orders_status_window_end", "status", "window_end"),
        # Subtree scoping is `area_code LIKE 'prefix%'`: PostgreSQL's btree serves a LIKE only with
        # the pattern operators (or the C collation); equality uses them too.
        Index("ix_orders_area_code", "area_code", postgresql_ops={"area_code": "varchar_pattern_ops"}),
        # The reports read a period's orders by when they were posted: on PostgreSQL the index holds
        # every column they count, so they read the index alone, not the wide rows.
        Index("ix_orders_created_at", "created_at", postgresql_include=list(REPORTED_COLUMNS)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    # Copied from the area so that subtree scoping is an indexed prefix match.
    area_code: Mapped[str] = mapped_column(String(32))
    category_code: Mapped[str] = mapped_column(ForeignKey("service_categories.code"), index=True)
    description: Mapped[str] = mapped_column(Text)
    # Room, unit, directions: shown to the volunteer only once they hold the order.
    address_detail: Mapped[str] = mapped_column(String(200), default="")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    urgency: Mapped[Urgency] = mapped_column(String(16), default=Urgency.normal)
    status: Mapped[OrderStatus] = mapped_column(String(16), default=OrderStatus.submitted)
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The first accept (an offer accepted, or the order claimed from the board): reports time it.
    accepted_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    rating: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    # The highest level told that the order is late (see escalate_orders); it only goes up.
    escalation_level: Mapped[EscalationLevel | None] = mapped_column(String(16))
    escalated_at: Mapped[datetime | None]
    # Who entered the order for the resident (None: the resident posted it), and how it came in.
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[OrderChannel] = mapped_column(
        String(16), default=OrderChannel.page, server_default="page"
    )
    # A volunteer who served the resident before and whom they asked for: offered the order first
    # (market.dispatch.offers.offer_to_preferred); cleared when they cannot be offered it.
    preferred_volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="raise")
    volunteer: Mapped[User | None] = relationship(foreign_keys=[volunteer_id], lazy="raise")
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id], lazy="raise")
    area: Mapped[Area] = relationship(lazy="raise")
    events: Mapped[list[OrderEvent]] = relationship(
        lazy="raise", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    offers: Mapped[list[Offer]] = relationship(
        back_populates="order", lazy="raise", order_by="Offer.id", cascade="all, delete-orphan"
    )


class OrderEvent(Base):
    """One transition of an order: who moved it, when, from which state to which."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    # None when a scheduled job made the change.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[OrderStatus | None] = mapped_column(String(16))
    to_status: Mapped[OrderStatus] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

    actor: Mapped[User | None] = relationship(lazy="raise")


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (
        # A volunteer's offers (of a status) as their list pages them, newest first
        # (`dispatch.offers._offers_page`).
        Index("ix_offers_volunteer_status", "volunteer_id", "status", "created_at", "id"),
        Index("ix_offers_volunteer_created", "volunteer_id", "created_at", "id"),
        Index("ix_offers_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mode: Mapped[DispatchMode] = mapped_column(String(16))
    status: Mapped[OfferStatus] = mapped_column(String(16), default=OfferStatus.pending)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="offers", lazy="raise")


class ServiceReward(Base):
    """How a confirmed order's service points were reckoned, kept when they are paid so that the
    volunteer's points page explains each reward (and a reward of 0) without reckoning it again."""

    __tablename__ = "order_service_rewards"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    # 1 for the first service; a reopened order served again is paid in the next round.
    round: Mapped[int] = mapped_column(primary_key=True, default=1)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # From check-in to check-out, and the part of it that counts (inside the window, capped by it).
    hours_served: Mapped[float]
    hours_counted: Mapped[float]
    # Points per hour of the order's category in the community's policy; hours × rate.
    rate: Mapped[int]
    points: Mapped[int]
    # What was paid or is owed after the policy's caps.
    awarded: Mapped[int]
    # Why the points are fewer than the hours served would make them: codes such as
    # "started_early", "ran_over", "window_length", "daily_cap" (see market.orders.service.reckon_hours).
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]

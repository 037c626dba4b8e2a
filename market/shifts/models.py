"""Recruiting (招募 / 签到): a project's shifts that volunteers sign up for, wait for when full,
and check in to and out of by scanning the organiser's rotating code."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base
from market.state_machine import STAYS, Machine


class SignupStatus(enum.StrEnum):
    signed_up = "signed_up"
    # The shift was full: moves up, in arrival order, when a signed-up volunteer cancels.
    waiting = "waiting"
    cancelled = "cancelled"
    checked_in = "checked_in"
    checked_out = "checked_out"
    # Signed up and never checked in by the shift's end, or so marked by the organiser after the start.
    no_show = "no_show"
    # The organiser cancelled the whole shift (ShiftStatus.cancelled): no hours, no signing up again.
    called_off = "called_off"


class SignupAction(enum.StrEnum):
    # Again after cancelling: a new arrival, at the end of the queue.
    sign_up = "sign_up"
    cancel = "cancel"
    promote = "promote"
    check_in = "check_in"
    check_out = "check_out"
    no_show = "no_show"
    # The organiser, after the start, vouches for a volunteer who did not scan in or out.
    attend = "attend"
    # The organiser cancels the shift: every one on its lists is told.
    call_off = "call_off"


_S, _A = SignupStatus, SignupAction
SIGNUP_MACHINE = Machine(
    "signup",
    {
        _A.sign_up: ({_S.cancelled}, frozenset({_S.signed_up, _S.waiting})),
        _A.cancel: ({_S.signed_up, _S.waiting}, _S.cancelled),
        _A.promote: ({_S.waiting}, _S.signed_up),
        _A.check_in: ({_S.signed_up}, _S.checked_in),
        _A.check_out: ({_S.checked_in}, _S.checked_out),
        # The job after the end (signed up only), or the organiser after the start.
        _A.no_show: ({_S.signed_up, _S.checked_in}, _S.no_show),
        _A.attend: ({_S.signed_up, _S.checked_in, _S.no_show}, _S.checked_out),
        _A.call_off: ({_S.signed_up, _S.waiting, _S.checked_in}, _S.called_off),
    },
)
# What the organiser marks on the roster after the start (the others are the volunteer's own).
ROSTER_MARKS = (_A.attend, _A.no_show)


class ShiftStatus(enum.StrEnum):
    open = "open"
    cancelled = "cancelled"


class ShiftAction(enum.StrEnum):
    # Volunteers sign up (the state stays); the organiser cancels before the start.
    sign_up = "sign_up"
    cancel = "cancel"


class ShiftCancelReason(enum.StrEnum):
    weather = "weather"
    venue_unavailable = "venue_unavailable"
    too_few_volunteers = "too_few_volunteers"
    project_changed = "project_changed"
    safety = "safety"
    other = "other"


SHIFT_MACHINE = Machine(
    "shift",
    {
        ShiftAction.sign_up: ({ShiftStatus.open}, STAYS),
        ShiftAction.cancel: ({ShiftStatus.open}, ShiftStatus.cancelled),
    },
)


class Shift(Base):
    """A stretch of a project's work that needs so many volunteers, at a place, with skills wanted."""

    __tablename__ = "shifts"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="window_order"),
        CheckConstraint("slots > 0", name="slots_positive"),
        CheckConstraint("cancel_cutoff_hours >= 0", name="cutoff_non_negative"),
        Index("ix_shifts_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    # A place of the project's community (the area tree): the community itself or inside it.
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    slots: Mapped[int]
    # Cancelling a sign-up closes this many hours before the start (the organiser must find others).
    cancel_cutoff_hours: Mapped[int]
    # Every sign-up so far, counted on the locked row: each arrival's place in the queue.
    arrivals: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    # When those who never checked in were recorded as no-shows (once, after the end).
    roll_called_at: Mapped[datetime | None]
    status: Mapped[ShiftStatus] = mapped_column(String(16), default=ShiftStatus.open, server_default="open")
    # The organiser's cancelling: when, who, and why (a ShiftCancelReason).
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[ShiftCancelReason | None] = mapped_column(String(24))

    skills: Mapped[list[ShiftSkill]] = relationship(
        lazy="raise", order_by="ShiftSkill.category_code", cascade="all, delete-orphan"
    )


class ShiftSkill(Base):
    """A skill the shift wants: a volunteer with any one of them may sign up (none: anyone)."""

    __tablename__ = "shift_skills"
    __table_args__ = (UniqueConstraint("shift_id", "category_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("service_categories.code"))


class ShiftSignup(Base):
    """One volunteer on a shift's roster or waiting list; a cancelled one signs up again on this row."""

    __tablename__ = "shift_signups"
    __table_args__ = (
        UniqueConstraint("shift_id", "user_id"),
        UniqueConstraint("shift_id", "arrival", name="uq_shift_signups_arrival"),
        CheckConstraint("tenths >= 0", name="hours_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[SignupStatus] = mapped_column(String(16))
    # The shift's arrival count when this volunteer (last) signed up: the waiting list's order.
    arrival: Mapped[int]
    signed_up_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    # The hours check-in and check-out recorded (inside the shift's window), in tenths.
    tenths: Mapped[int] = mapped_column(default=0)

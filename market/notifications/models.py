from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class NotificationCode(StrEnum):
    """What a message says, for pages to render in the reader's language (`notification.<code>` in
    the pages' catalogue, filled from the message's params) and for clients to branch on."""

    # Messages stored as English prose before messages were codes: params {"title", "body"}.
    earlier_message = "earlier_message"
    # The resident's order, step by step: {"order_id"}, and …
    order_entered = "order_entered"  # … "channel": an order someone entered for them
    order_dispatched = "order_dispatched"
    order_accepted = "order_accepted"  # … "volunteer": their masked name
    order_checked_in = "order_checked_in"
    order_completed = "order_completed"
    order_auto_confirmed = "order_auto_confirmed"  # … "days"
    order_cancelled = "order_cancelled"  # … "reason": as typed
    order_rejected = "order_rejected"  # … "reason": as typed
    order_expired = "order_expired"  # … "reason_code"
    order_escalated = "order_escalated"  # … "level"
    # The volunteer: {"order_id", "answer_by"}, and an order they held that was cancelled.
    offer = "offer"
    task_cancelled = "task_cancelled"  # {"order_id", "reason"}
    # Managers: {"order_id", "level", "late": not_accepted | not_completed, "minutes"}.
    escalation = "escalation"
    # Grid workers: the resident hurries an order (催办), {"order_id"}.
    order_hurried = "order_hurried"
    # Grid workers: the resident reopened a confirmed order, {"order_id", "reason": as typed}.
    order_reopened = "order_reopened"
    # Grid workers: a follow-up visit (回访) to make, {"order_id", "followup_reason", "due_at"}.
    followup_due = "followup_due"
    # Managers who may decide it: {"application_kind": resident | volunteer, "name"}.
    approval_pending = "approval_pending"
    # The applicant: no params.
    signup_approved = "signup_approved"
    signup_refused = "signup_refused"
    volunteer_approved = "volunteer_approved"
    volunteer_refused = "volunteer_refused"
    team_joined = "team_joined"  # {"team"}
    # Projects: {"project"}, and …
    commitment_to_confirm = "commitment_to_confirm"  # … "quantity", "measure", "resource"
    project_active = "project_active"  # … "deadline"
    project_joined = "project_joined"
    project_cancelled = "project_cancelled"  # … "reason"
    project_closed = "project_closed"  # … "outcome"
    project_closing = "project_closing"  # … "deadline", "undelivered"
    # … "task", "due_at": to whoever now holds a responsibility.
    responsibility_assigned = "responsibility_assigned"
    # … "task", "due_at", "level": owner (its holder) | community (the managers).
    responsibility_overdue = "responsibility_overdue"
    # Recruiting: a freed slot went to the first on the waiting list, {"shift", "project", "starts_at"}.
    shift_promoted = "shift_promoted"
    # The organiser cancelled a shift: {"shift", "project", "starts_at", "reason_code"} (a ShiftCancelReason).
    shift_cancelled = "shift_cancelled"
    # Residents' proposed needs: {"title"}, and "reject_reason" (a RejectReason) when rejected.
    proposal_approved = "proposal_approved"
    proposal_rejected = "proposal_rejected"
    # Rewards: {"reward", "pickup_code", "place", "pickup_by"}; {"name"} of who tried wrong codes.
    redemption_ready = "redemption_ready"
    pickup_codes_guessed = "pickup_codes_guessed"
    # Wishes: {"wish"}, and "points" (confirmed), "name" (claimed).
    wish_confirmed = "wish_confirmed"
    wish_withdrawn = "wish_withdrawn"
    wish_claimed = "wish_claimed"
    wish_released = "wish_released"
    wish_fulfilled = "wish_fulfilled"
    wish_expired = "wish_expired"
    # Certificates (志愿服务证明), {"community"}, and …: to the managers who may issue it, "name"
    # (who asks); to the volunteer, "number" (issued, revoked), "refusal_reason" (a RefusalReason),
    # "revocation_reason" (a RevocationReason).
    certificate_requested = "certificate_requested"
    certificate_issued = "certificate_issued"
    certificate_refused = "certificate_refused"
    certificate_revoked = "certificate_revoked"
    # The volunteer: a line of their service record corrected, {"community", "what", "served_at",
    # "was" and "hours" (the line's hours before and now), "correction_reason" (a CorrectionReason)}.
    service_record_corrected = "service_record_corrected"
    # 双报到, {"community"}, and …: to its managers, "name" (who reported in) and "community_id" (the
    # desk page to open); to the member, the outcome, and "reason" (as typed) when declined.
    party_report_pending = "party_report_pending"
    party_report_confirmed = "party_report_confirmed"
    party_report_declined = "party_report_declined"


class Notification(Base):
    """One message in a user's inbox, written by the flow or job that needs their attention."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code: Mapped[NotificationCode] = mapped_column(String(32))
    # The values the code's text takes: numbers, names, typed reasons, other codes, ISO moments.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What it is about, e.g. ("order", 12): enough for a page to link to it.
    subject_type: Mapped[str] = mapped_column(String(32), default="")
    subject_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    read_at: Mapped[datetime | None]

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from market.areas.models import AreaLevel
from market.fields import Id, Moment, text
from market.orders.models import (
    DispatchMode,
    EscalationLevel,
    OfferStatus,
    OrderChannel,
    OrderStatus,
    Urgency,
)
from market.privacy import PersonRef

Reason = text(500, required=True)
Note = text(500)


class OrderCreate(msgspec.Struct, forbid_unknown_fields=True):
    category: text(32, required=True)
    description: text(1000, required=True)
    # A building or compound in the resident's own community.
    area_id: Id
    window_start: Moment
    window_end: Moment
    urgency: Urgency = Urgency.normal
    # Room, unit or directions; shown to the volunteer only after they accept.
    address_detail: text(200) = ""
    # A volunteer who served the resident before: offered the order first.
    preferred_volunteer_id: Id | None = None


class OrderEntry(OrderCreate, forbid_unknown_fields=True, kw_only=True):
    """An order a grid worker or community manager enters for a resident of their area (代下单)."""

    resident_id: Id
    # How the order came in: `phone`, `walk_in` or `patrol` (`page` is the resident's own).
    channel: OrderChannel


class ReasonRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class NoteRequest(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class ConfirmRequest(msgspec.Struct, forbid_unknown_fields=True):
    rating: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: text(1000) = ""
    # The resident marks the comment as a complaint: the grid worker follows the order up.
    complaint: bool = False


class ReopenRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A confirmed order the resident reopens: why, and when the service is needed this time."""

    reason: Reason
    window_start: Moment
    window_end: Moment


class AreaRef(msgspec.Struct):
    id: int
    code: str
    name: str
    level: AreaLevel


class EventRead(msgspec.Struct):
    id: int
    action: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    note: str
    at: datetime
    actor_id: int | None
    # The resident's name is masked here, as in the order, for those who see the order masked.
    actor_name: str | None


class OfferSummary(msgspec.Struct):
    id: int
    volunteer_id: int
    volunteer_name: str
    mode: DispatchMode
    status: OfferStatus
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None
    decline_reason: str | None


class OrderRead(msgspec.Struct):
    id: int
    status: OrderStatus
    category: str
    description: str
    urgency: Urgency
    window_start: datetime
    window_end: datetime
    # Before a volunteer holds the order they see only the compound, a masked name and phone, and
    # the free text (description, comment, the history's notes) masked alike (market.privacy).
    masked: bool
    area: AreaRef
    address_detail: str | None
    requester: PersonRef
    volunteer: PersonRef | None
    created_at: datetime
    updated_at: datetime
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    completed_at: datetime | None
    confirmed_at: datetime | None
    service_hours: float | None
    rating: int | None
    comment: str | None
    # Raised by a job when the order is late: grid, then community, then street (None: on time).
    escalation_level: EscalationLevel | None
    escalated_at: datetime | None
    # `page`: the resident posted it; otherwise who entered it for them, and how it came in: an
    # `OrderChannel`, or the name of the Open311 system it came through.
    channel: str
    entered_by: PersonRef | None


class OrderDetail(OrderRead):
    events: list[EventRead]
    # Offers are listed for the requester's managers; a volunteer sees only their own.
    offers: list[OfferSummary]


class OrderFilters(msgspec.Struct):
    status: OrderStatus | None = None
    category: str | None = None
    area_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    escalated: bool | None = None


class ServiceRewardRead(msgspec.Struct):
    """How a served order's points were reckoned: hours × rate, then the caps (`reasons`)."""

    order_id: int
    category: str
    hours_served: float
    hours_counted: float
    rate: int
    points: int
    awarded: int
    reasons: list[str]
    created_at: datetime

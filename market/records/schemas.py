from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from market.fields import Day, Id, Moment, text
from market.records.models import CertificateStatus, CorrectionReason, RefusalReason, RevocationReason

Hours = Annotated[float, msgspec.Meta(ge=0, le=10000)]
# Where a line comes from: an order served, a closed project, or a manager's entry.
LineKind = Literal["order", "project", "training", "award"]


class Correction(msgspec.Struct):
    """A correction of a line: the hours it set, who made it, when and why."""

    id: int
    hours: float
    reason: str
    memo: str
    recorded_by: str
    recorded_at: datetime


class RecordLine(msgspec.Struct):
    """One line of a service record: what, where, when, how many hours, recorded by whom."""

    ref: str
    kind: LineKind
    volunteer_id: int
    community_code: str
    # A service category's code for an order; "project", "training" or "award" otherwise.
    category: str
    what: str
    place: str
    at: datetime
    # The hours that count: the last correction's, else the source's.
    hours: float
    original_hours: float
    recorded_by: str
    corrections: list[Correction] = []


class YearTotal(msgspec.Struct):
    year: int
    # Hours of service (orders and projects), of training, and by category.
    service_hours: float
    training_hours: float
    awards: int
    by_category: dict[str, float]


class VolunteerRecord(msgspec.Struct):
    volunteer_id: int
    name: str
    lines: list[RecordLine]
    totals: list[YearTotal]


class EntryWrite(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["training", "award"]
    title: text(200, required=True)
    at: Moment
    place: text(200) = ""
    hours: Hours = 0
    memo: text(1000) = ""


class CorrectionWrite(msgspec.Struct, forbid_unknown_fields=True):
    corrects: Annotated[str, msgspec.Meta(max_length=40, pattern=r"^(order:\d+:\d+|project:\d+|entry:\d+)$")]
    hours: Hours
    reason: CorrectionReason
    memo: text(1000) = ""


class AreaVolunteer(msgspec.Struct):
    """A volunteer in a manager's view: their hours in the year, in the manager's area."""

    volunteer_id: int
    name: str
    phone: str
    service_hours: float
    training_hours: float
    awards: int
    lines: int


class AreaRecords(msgspec.Struct):
    year: int
    items: list[AreaVolunteer]


class CertificateRequest(msgspec.Struct, forbid_unknown_fields=True):
    community_id: Id
    period_start: Day
    period_end: Day


class CertificateDecision(msgspec.Struct, forbid_unknown_fields=True):
    reason: RefusalReason
    memo: text(1000) = ""


class CertificateRevocation(msgspec.Struct, forbid_unknown_fields=True):
    reason: RevocationReason
    memo: text(1000) = ""


class ServiceOnCertificate(msgspec.Struct):
    what: str
    place: str
    at: str
    hours: float


class CertificateRead(msgspec.Struct):
    id: int
    volunteer_id: int
    volunteer_name: str
    community_id: int
    community_name: str
    period_start: date
    period_end: date
    status: CertificateStatus
    requested_at: datetime
    number: str | None
    total_hours: float | None
    services: list[ServiceOnCertificate]
    issuer_name: str
    responsible_person: str
    handler_name: str
    contact: str
    decided_at: datetime | None
    reason: str
    memo: str
    revoked_at: datetime | None
    # Only for the volunteer and the issuing community's managers: the verification page's address.
    verify_path: str | None


class Verification(msgspec.Struct):
    """All the public verification page shows."""

    number: str
    masked_name: str
    total_hours: float
    issuer_name: str
    issued_on: date
    valid: bool
    revoked_reason: str | None


class IssuerWrite(msgspec.Struct, forbid_unknown_fields=True):
    responsible_person: text(50, required=True)
    contact: text(50, required=True)


class IssuerRead(msgspec.Struct):
    community_id: int
    community_name: str
    responsible_person: str
    contact: str
    updated_at: datetime | None


class HonourRow(msgspec.Struct):
    volunteer_id: int
    name: str
    hours: float
    rating: float | None
    ratings: int


class HonourRoll(msgspec.Struct):
    community_id: int
    community_name: str
    month: str
    by_hours: list[HonourRow]
    by_rating: list[HonourRow]


class OptOutWrite(msgspec.Struct, forbid_unknown_fields=True):
    opt_out: bool

"""Service records (志愿服务记录) and certificates (志愿服务证明), after 民政部令第67号.

Services are not copied here: a volunteer's record is read from where each service is kept (the
hours an order counted, `ServiceReward`; a closed project's participants), so the rule of what
counts stays in one place. This domain keeps only what has no other home: training and awards
recorded by managers, corrections (a new entry pointing at the line it corrects, never an edit),
the certificates and their numbering, and each community's issuing details.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base
from market.state_machine import Machine


class EntryKind(enum.StrEnum):
    training = "training"
    award = "award"
    # Another line's hours, set anew: the line it corrects stays as it was.
    correction = "correction"


class CorrectionReason(enum.StrEnum):
    wrong_hours = "wrong_hours"
    not_served = "not_served"
    duplicate = "duplicate"
    other = "other"


class RefusalReason(enum.StrEnum):
    no_service = "no_service"
    not_our_service = "not_our_service"
    record_under_review = "record_under_review"
    other = "other"


class RevocationReason(enum.StrEnum):
    issued_in_error = "issued_in_error"
    record_corrected = "record_corrected"
    misuse = "misuse"
    other = "other"


class RecordEntry(Base):
    """A line of a service record a manager writes: training, an award, or a correction."""

    __tablename__ = "record_entries"
    __table_args__ = (
        # A line is corrected once; a later correction corrects the correction (a chain, so the
        # last word is always the one no other entry points at).
        UniqueConstraint("corrects", name="uq_record_entries_corrects"),
        CheckConstraint("hours >= 0 AND hours <= 10000", name="hours_range"),
        CheckConstraint("(kind = 'correction') = (corrects IS NOT NULL)", name="correction_points_back"),
        Index(
            "ix_record_entries_community_code",
            "community_code",
            postgresql_ops={"community_code": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The community that records it (and certifies it): the volunteer's, or the corrected line's.
    community_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[EntryKind] = mapped_column(String(16))
    # The line corrected: "order:<id>:<round>", "project:<participant id>" or "entry:<id>".
    corrects: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime]
    hours: Mapped[float] = mapped_column(default=0)
    # Why a correction was made (CorrectionReason); empty for training and awards.
    reason: Mapped[str] = mapped_column(String(32), default="")
    memo: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class CertificateStatus(enum.StrEnum):
    requested = "requested"
    issued = "issued"
    refused = "refused"
    revoked = "revoked"


class CertificateAction(enum.StrEnum):
    issue = "issue"
    refuse = "refuse"
    revoke = "revoke"


_S, _A = CertificateStatus, CertificateAction
CERTIFICATE_MACHINE = Machine(
    "certificate",
    {
        _A.issue: ({_S.requested}, _S.issued),
        _A.refuse: ({_S.requested}, _S.refused),
        _A.revoke: ({_S.issued}, _S.revoked),
    },
)


WAITING = "status = 'requested'"


class Certificate(Base):
    """A volunteer's request for a certificate of a period, and the certificate once issued: what
    it states is kept as issued (later corrections do not change a letter already handed out)."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("community_id", "year", "serial", name="uq_certificates_serial"),
        CheckConstraint("period_start <= period_end", name="period_order"),
        Index("ix_certificates_community_status", "community_id", "status"),
        # One request waits at a community per volunteer: two sent at once cannot both be made.
        Index(
            "uq_certificates_one_waiting",
            "volunteer_id",
            "community_id",
            unique=True,
            sqlite_where=text(WAITING),
            postgresql_where=text(WAITING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    community_code: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[CertificateStatus] = mapped_column(String(16), default=CertificateStatus.requested)
    requested_at: Mapped[datetime]
    # Set when issued: "<community code>-<year>-<serial, 4 digits>", gap-free per community and year.
    number: Mapped[str | None] = mapped_column(String(48), unique=True)
    year: Mapped[int | None]
    serial: Mapped[int | None]
    # What the QR code links to: unguessable, unlike the number.
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    total_hours: Mapped[float | None]
    # The services as issued: [{"what", "place", "at", "hours"}].
    services: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    volunteer_name: Mapped[str] = mapped_column(String(50), default="")
    issuer_name: Mapped[str] = mapped_column(String(100), default="")
    responsible_person: Mapped[str] = mapped_column(String(50), default="")
    contact: Mapped[str] = mapped_column(String(50), default="")
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handler_name: Mapped[str] = mapped_column(String(50), default="")
    decided_at: Mapped[datetime | None]
    # A refusal's or revocation's reason code (RefusalReason, RevocationReason) and memo.
    reason: Mapped[str] = mapped_column(String(32), default="")
    memo: Mapped[str] = mapped_column(Text, default="")
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]


class CertificateCounter(Base):
    """The last serial a community gave in a year; locked while the next is taken, so two
    certificates issued at once get consecutive numbers and none is skipped."""

    __tablename__ = "certificate_counters"

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class CertificateIssuer(Base):
    """What a community's certificates name besides the community: its responsible person and a
    contact (the handler is the manager who issues each one)."""

    __tablename__ = "certificate_issuers"

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    responsible_person: Mapped[str] = mapped_column(String(50))
    contact: Mapped[str] = mapped_column(String(50))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]

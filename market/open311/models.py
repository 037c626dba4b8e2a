from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.areas.models import Area
from market.db import Base


class Open311Key(Base):
    """The `api_key` of one system that posts service requests through Open311 (a hotline's case
    system, a city platform), issued by an administrator or street admin for one street: the
    jurisdiction the system reports into. Only the key's hash is kept; the key is shown once."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    # The system's short name: the channel its orders are recorded as (`Order.channel`).
    system: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the key, hex.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's first characters, so that people can tell keys apart in the list.
    key_prefix: Mapped[str] = mapped_column(String(12))
    # Orders come in as entered by this person (`orders.service.enter_order`): the key works while
    # they are active and still manage the street.
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None]

    street: Mapped[Area] = relationship(lazy="raise")

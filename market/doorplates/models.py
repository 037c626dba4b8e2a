from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class Doorplate(Base):
    """The code on a building's or compound's doorplate (数字门牌码上服务): a random token the QR code
    carries instead of the area's id, so that a scanned plate leads to that place and no other.
    Issued once and kept, so every reprint carries the same code, until a manager revokes it
    (`RevokedDoorplate`); the place then gets a new one."""

    __tablename__ = "doorplates"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[datetime]


class RevokedDoorplate(Base):
    """A code no longer in use (a plate torn off, copied where it should not be): its page says the
    code was revoked instead of leading to the place."""

    __tablename__ = "revoked_doorplates"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    issued_at: Mapped[datetime]
    revoked_at: Mapped[datetime]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

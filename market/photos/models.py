from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class PhotoKind(enum.StrEnum):
    """`posted`: the resident's, showing what needs doing; `result`: the volunteer's, showing it done."""

    posted = "posted"
    result = "result"


# Photos of one kind an order may carry.
MAX_PER_KIND = 3


class Photo(Base):
    """A photo of an order. The file (and its thumbnail) live in the photo storage under
    `storage_key`; the row is written in the same transaction as whatever the upload belonged to."""

    __tablename__ = "photos"
    __table_args__ = (Index("ix_photos_order_id_kind", "order_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    kind: Mapped[PhotoKind] = mapped_column(String(16))
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    created_at: Mapped[datetime]

from __future__ import annotations

from datetime import datetime

from msgspec import Struct

from market.photos.models import PhotoKind


class PhotoRead(Struct):
    id: int
    order_id: int
    kind: PhotoKind
    uploader_id: int
    content_type: str
    width: int
    height: int
    bytes: int
    created_at: datetime
    # Both answer only to those who may see the order's photos, as this list does.
    url: str
    thumbnail_url: str


class PhotoFile(Struct):
    """A file as uploaded: what it was called and its bytes (the name is never trusted)."""

    filename: str
    data: bytes

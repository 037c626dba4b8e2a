from __future__ import annotations

from typing import Annotated

import msgspec


class CategoryRead(msgspec.Struct):
    code: str
    name_zh: str
    name_en: str
    is_active: bool


class CategoryCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    name_zh: Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"\S")]
    name_en: Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"\S")]

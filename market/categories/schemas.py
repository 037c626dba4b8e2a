from __future__ import annotations

from typing import Annotated

import msgspec

from market.fields import text


class CategoryRead(msgspec.Struct):
    code: str
    name_zh: str
    name_en: str
    is_active: bool


class CategoryCreate(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    name_zh: text(50, required=True)
    name_en: text(50, required=True)


class CategoryUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Rename a category, or retire it (no new orders or skills of it) and bring it back."""

    name_zh: text(50, required=True) | None = None
    name_en: text(50, required=True) | None = None
    is_active: bool | None = None

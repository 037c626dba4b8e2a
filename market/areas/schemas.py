from __future__ import annotations

from typing import Annotated

import msgspec

from market.areas.models import AreaLevel
from market.fields import Id, text


class AreaNode(msgspec.Struct):
    id: int
    code: str
    name: str
    level: AreaLevel
    parent_id: int | None
    children: list[AreaNode] = msgspec.field(default_factory=list)


class AreaRead(msgspec.Struct):
    id: int
    code: str
    name: str
    level: AreaLevel
    parent_id: int | None


class AreaCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: text(100, required=True)
    # None creates a street (administrators only); otherwise the new area is one level below its parent.
    parent_id: Id | None = None
    # Optional: the full hierarchical code. Children get the next free three-digit suffix by default.
    code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{9,21}$")] | None = None

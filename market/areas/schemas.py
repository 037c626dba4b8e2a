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


class AreaRename(msgspec.Struct, forbid_unknown_fields=True):
    name: text(100, required=True)


class ImportProblem(msgspec.Struct):
    """Why a row cannot be imported: a refusal code (texts: `error.<code>`) and the column it is about."""

    code: str
    column: str


class ImportRowRead(msgspec.Struct):
    # The row's line in the file, as a spreadsheet program numbers it.
    line: int
    code: str
    name: str
    parent_code: str
    # create, rename or unchanged; "" for a row with problems.
    action: str
    problems: list[ImportProblem] = msgspec.field(default_factory=list)
    level: AreaLevel | None = None


class ImportResult(msgspec.Struct):
    # True when nothing was written: a preview (dry run), or a file with problems.
    dry_run: bool
    rows: list[ImportRowRead]
    created: int
    renamed: int
    unchanged: int
    # Rows with at least one problem; a file with any is not imported at all.
    rejected: int

"""Field types shared by request schemas: ids that fit the database and text without NUL.

Ids are 32-bit integer columns on PostgreSQL, and PostgreSQL text cannot hold a
NUL character; checking both at the edge turns such input into a 400, not a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter, QueryParameter

ID_MAX = 2**31 - 1
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"

Id = Annotated[int, msgspec.Meta(ge=1, le=ID_MAX)]
PathId = Annotated[int, PathParameter(ge=1, le=ID_MAX)]


def query_id(description: str) -> Any:
    return Annotated[int | None, QueryParameter(ge=1, le=ID_MAX, description=description)]


def query_text(max_length: int, description: str = "") -> Any:
    return Annotated[
        str | None, QueryParameter(max_length=max_length, pattern=NO_NUL, description=description)
    ]


def text(max_length: int, *, required: bool = False) -> Any:
    """A string of at most `max_length` characters; `required` ones must not be blank."""
    if required:
        return Annotated[str, msgspec.Meta(min_length=1, max_length=max_length, pattern=NOT_BLANK)]
    return Annotated[str, msgspec.Meta(max_length=max_length, pattern=NO_NUL)]

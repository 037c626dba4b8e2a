"""Offset pagination shared by every list endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

MAX_PAGE_SIZE = 100
# The furthest a list can be paged; pages that send an offset back in a form check it against this.
MAX_OFFSET = 1_000_000

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
Offset = Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="Items to skip")]


class Page(msgspec.Struct, Generic[T]):
    items: Sequence[T]
    total: int
    limit: int
    offset: int


async def count_rows(session: AsyncSession, query: Select, params: Mapping[str, Any] | None = None) -> int:
    """How many rows `query` (with its bound `params`) returns, before any limit and offset: a
    page's `total`."""
    return await session.scalar(select(func.count()).select_from(query.subquery()), params) or 0


async def page_total(
    session: AsyncSession,
    query: Select,
    limit: int,
    offset: int,
    shown: int,
    params: Mapping[str, Any] | None = None,
) -> int:
    """The `total` of a page of `query` (with its bound `params`) that showed `shown` rows: a page
    with room left over ends the list, so it tells the total itself (most people's lists fit on one
    page), unless it is empty past the first page; otherwise the rows are counted (`count_rows`)."""
    if shown < limit and (shown > 0 or offset == 0):
        return offset + shown
    return await count_rows(session, query, params)

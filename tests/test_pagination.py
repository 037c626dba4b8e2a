"""A page's total: told by the page itself when it can, counted otherwise, and right either way."""

from __future__ import annotations

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.categories.models import ServiceCategory
from market.pagination import page_total


async def test_every_page_tells_the_total_and_only_a_full_or_overshot_page_counts(
    engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    sent: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    query = select(ServiceCategory)
    async with session_maker() as session:
        rows = await session.scalar(select(func.count()).select_from(ServiceCategory))
        assert rows > 2
        for limit in range(1, rows + 3):
            for offset in range(rows + 3):
                page = (
                    await session.scalars(query.order_by(ServiceCategory.code).limit(limit).offset(offset))
                ).all()
                sent.clear()
                assert await page_total(session, query, limit, offset, len(page)) == rows, (limit, offset)
                counted = len(page) == limit or (not page and offset > 0)
                assert len(sent) == (1 if counted else 0), (limit, offset)

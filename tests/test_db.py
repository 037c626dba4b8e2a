"""The database layer: SQLite transactions that only read take no write lock."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.categories.models import ServiceCategory
from market.db import read_only


async def test_a_read_only_session_reads_while_another_transaction_writes(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    async with session_maker() as writer, writer.begin():
        # On SQLite every other transaction begins with BEGIN IMMEDIATE and would wait for this one.
        await writer.execute(text("UPDATE service_categories SET is_active = is_active"))
        async with session_maker() as reader:
            await read_only(reader)
            counting = reader.scalar(select(func.count()).select_from(ServiceCategory))
            count = await asyncio.wait_for(counting, 5)
    assert count > 0

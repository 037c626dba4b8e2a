"""The database layer: SQLite transactions that only read take no write lock, and write nothing."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.categories.models import ServiceCategory
from market.db import WriteInReadOnlyTransaction, create_engine, read_only
from market.settings import Settings
from tests.world import World


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


async def test_a_write_in_a_read_only_transaction_is_refused(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with async_sessionmaker(engine)() as session:
            await read_only(session)
            with pytest.raises(WriteInReadOnlyTransaction):
                await session.execute(update(ServiceCategory).values(is_active=ServiceCategory.is_active))
    finally:
        await engine.dispose()


async def test_an_api_read_goes_on_while_another_transaction_writes(
    session_maker: async_sessionmaker[AsyncSession], client: AsyncTestClient, world: World
) -> None:
    async with session_maker() as writer, writer.begin():
        await writer.execute(text("UPDATE service_categories SET is_active = is_active"))
        # Loading the caller and reading take no write lock: neither waits for the writer.
        me = await asyncio.wait_for(client.get("/api/me", headers=world.auth("resident")), 5)
        orders = await asyncio.wait_for(client.get("/api/orders", headers=world.auth("resident")), 5)
    assert me.status_code == 200 and me.json()["id"] == world.id("resident")
    assert orders.status_code == 200

"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from market import migrate
from market.models import metadata
from tests.conftest import _run_in_thread


async def _schema_diff(url: str) -> list:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()


async def test_an_empty_database_upgrades_to_head_and_matches_the_models(tmp_path: Path) -> None:
    # The folder does not exist yet, as ./var/ on a new machine.
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'market.db'}"
    _run_in_thread(migrate.upgrade, url)
    assert await _schema_diff(url) == []


async def test_the_suite_database_matches_the_models(database_url: str) -> None:
    # conftest built it with the migrations; under MARKET_TEST_DATABASE_URL this is PostgreSQL.
    assert await _schema_diff(database_url) == []

"""The test database between tests: emptied before each one, and rows a fixture made once copied
back in for the next test that needs the same (the test world is the same in every test of a run).
This work runs on a connection each worker keeps for the whole run (`BetweenTests`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from market.db import engine_for
from market.models import metadata

T = TypeVar("T")

KEEP_TABLES = {"service_categories", "alembic_version"}
# Children before parents, so that deleting never trips a foreign key.
EMPTIED_TABLES = [t for t in reversed(metadata.sorted_tables) if t.name not in KEEP_TABLES]
# PostgreSQL: one round trip that deletes everything and restarts every id at 1. The replica role
# skips the foreign keys' triggers (the suite connects as a superuser), which would otherwise plan
# a check of every referring table on each new connection: a tenth of a second a test for `users`.
_EMPTY_POSTGRES = " ".join(
    [
        "SET LOCAL session_replication_role = replica;",
        *(f"DELETE FROM {t.name};" for t in EMPTIED_TABLES),
        "SELECT "
        + ", ".join(
            f"setval(pg_get_serial_sequence('{t.name}', '{t.autoincrement_column.name}'), 1, false)"
            for t in EMPTIED_TABLES
            if t.autoincrement_column is not None
        )
        + ";",
    ]
)

# Each table's rows, parents first.
Rows = list[tuple[Table, list[dict[str, Any]]]]


async def empty_tables(conn: AsyncConnection) -> None:
    """Delete the rows the last test left and start the ids at 1 again (as SQLite does). DELETE, not
    TRUNCATE: on PostgreSQL a TRUNCATE makes new files for each table, about a second a test for
    all of them, while a test's few rows delete in milliseconds."""
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(_EMPTY_POSTGRES)  # simple protocol: many statements
        return
    used = await used_tables(conn)
    for table in EMPTIED_TABLES:
        if table.name in used:
            await conn.execute(table.delete())


async def take_rows(conn: AsyncConnection) -> Rows:
    """Every row of the emptied tables, to be put back by `put_rows` in a later test."""
    used = await used_tables(conn)
    rows: Rows = []
    for table in reversed(EMPTIED_TABLES):
        if table.name in used:
            result = await conn.execute(table.select().order_by(*table.primary_key.columns))
            rows.append((table, [{c.key: row[c] for c in table.columns} for row in result.mappings()]))
    return rows


async def put_rows(conn: AsyncConnection, rows: Rows) -> None:
    """Write `rows` into an emptied database, ids and all, as one statement per table; PostgreSQL's
    sequences then go on from the largest id, as they would have after the inserts that made them.
    The foreign keys are checked at commit (SQLite) or, like the emptying, not at all (PostgreSQL):
    a copy of rows that were consistent when taken."""
    postgres = conn.dialect.name == "postgresql"
    await conn.execute(
        text("SET LOCAL session_replication_role = replica" if postgres else "PRAGMA defer_foreign_keys = ON")
    )
    for table, table_rows in rows:
        await conn.execute(table.insert(), table_rows)
    if postgres:
        sequences = [
            f"setval(pg_get_serial_sequence('{table.name}', '{column.name}'), {last})"
            for table, table_rows in rows
            if (column := table.autoincrement_column) is not None
            and (last := max(r[column.key] for r in table_rows))
        ]
        if sequences:
            await conn.execute(text("SELECT " + ", ".join(sequences)))


async def used_tables(conn: AsyncConnection, tables: list[Table] = EMPTIED_TABLES) -> set[str]:
    """The names of those of `tables` that hold rows."""
    query = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {t.name})" for t in tables)
    return set(await conn.scalars(text(query)))


class BetweenTests:
    """An engine of one connection, on an event loop of its own thread, for the suite's work between
    tests. Each test runs on a new event loop, where a new connection costs a connect, the dialect's
    set-up queries and cold statement caches (on PostgreSQL emptying the database took 30 ms that
    way, and 3 ms on a connection kept warm)."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="between-tests", daemon=True)
        self._thread.start()
        # Pinged before use: a test that restarts the server's connections ends this one too.
        self.engine = engine_for(url, pool_size=1, max_overflow=0, pool_pre_ping=True)

    def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(work(self.engine), self._loop).result()

    def close(self) -> None:
        self.run(lambda engine: engine.dispose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

"""SQLAlchemy's aiosqlite adapter, with each statement run in the driver's thread in one trip.

aiosqlite runs every call in a thread of the connection's own, and SQLAlchemy's adapter makes four
calls a statement: make a cursor, execute, fetch the rows, close the cursor. Each is a hand-over to
that thread and back to the event loop (a queue, a wake-up through the loop's self-pipe), which cost
more than the statement itself: ~140 µs of CPU a statement against ~35 µs in one trip, measured on
this machine. Here the four happen in one call; everything else is SQLAlchemy's own (server-side
cursors for `session.stream` included). Installed by `market.db.engine_for` through `module=`.

A writer's BEGIN IMMEDIATE waits for another process's write lock here too (`begin_immediate`).
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT, await_only

# How long a writer sleeps between two tries for the write lock another process holds.
WRITE_LOCK_POLL_SECONDS = 0.001


def _run(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, int, int | None, list[Any] | None]:
    """In the driver's thread: the statement, and what a cursor would tell of it afterwards."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _begin_immediate(connection: sqlite3.Connection) -> None:
    """In the driver's thread: BEGIN IMMEDIATE, tried again every `WRITE_LOCK_POLL_SECONDS` while
    another connection holds the write lock, for as long as the connection's busy timeout.

    SQLite's own busy handler sleeps longer and longer between its tries (1 ms at first, 100 ms
    after a quarter of a second), so a writer that had waited long tried rarely, and newcomers took
    the lock before it: with two worker processes, 1 write in 50 waited ~20 times the median.
    Within a process writers take turns before this (`market.db.WriterQueue`), so only one
    connection a process tries here."""
    (busy_timeout_ms,) = connection.execute("PRAGMA busy_timeout").fetchone()
    deadline = time.monotonic() + busy_timeout_ms / 1000
    connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                # Any SQLITE_BUSY: another writer, or another process recovering the WAL.
                busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(WRITE_LOCK_POLL_SECONDS)
    finally:
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor of SQLAlchemy's adapter holding one statement's outcome, made in one trip."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # no driver cursor outlives a statement
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self._arraysize = 1

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._lastrowid

    async def _async_soft_close(self) -> None:
        """Nothing to close: the statement's cursor closed in its trip."""

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection: aiosqlite.Connection = self._connection
            description, rowcount, lastrowid, rows = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid
        self._rows = deque(rows or ())

    def nextset(self) -> None:
        raise NotImplementedError("SQLite runs one statement at a time")


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE in one trip, waiting for another process's write lock (`_begin_immediate`);
        raises sqlite3's errors (aiosqlite's own, a closed connection say, translated as SQLAlchemy's
        adapter does)."""
        try:
            await_only(self._begin_immediate())
        except Exception as error:
            self._handle_exception(error)

    async def _begin_immediate(self) -> None:
        async with self._execute_mutex:
            await self._connection._execute(_begin_immediate, self._connection._conn)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`create_async_engine(module=…)`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)

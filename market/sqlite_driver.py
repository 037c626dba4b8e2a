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
) -> tuple[Any, int, int | None, list[Any] | None, bool]:
    """In the driver's thread: the statement, what a cursor would tell of it afterwards, and whether
    a transaction is open after it (a SAVEPOINT outside one opens one)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows, connection.in_transaction
    finally:
        cursor.close()


def _begin(connection: sqlite3.Connection) -> None:
    connection.execute("BEGIN")


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
        adapted: OneTripConnection = self._adapt_connection
        async with adapted._execute_mutex:
            connection: aiosqlite.Connection = self._connection
            description, rowcount, lastrowid, rows, adapted._transaction_open = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid
        self._rows = deque(rows or ())

    def nextset(self) -> None:
        raise NotImplementedError("SQLite runs one statement at a time")


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's adapted connection, which knows whether a transaction is open: its transactions
    begin here (`market.db` calls `begin` or `begin_immediate`, or neither for reads whose
    statements run on their own), and each statement's trip brings back sqlite3's `in_transaction`.
    A COMMIT or ROLLBACK with none open (after such reads, or the pool's ROLLBACK at check-in after
    a COMMIT) costs no trip to the driver's thread. As the connection's `isolation_level` is None,
    sqlite3 never begins one by itself."""

    __slots__ = ("_transaction_open",)
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)
        self._transaction_open = False

    def begin(self) -> None:
        """BEGIN (deferred: it takes no lock until its first statement) in one trip."""
        self._begin_in_one_trip(_begin)

    def begin_immediate(self) -> None:
        """BEGIN IMMEDIATE in one trip, waiting for another process's write lock (`_begin_immediate`)."""
        self._begin_in_one_trip(_begin_immediate)

    def _begin_in_one_trip(self, begin: Any) -> None:
        """Raises sqlite3's errors (aiosqlite's own, a closed connection say, translated as
        SQLAlchemy's adapter does). The transaction counts as open from before the trip: one that
        failed, or whose caller was cancelled while the driver's thread began it, gets its ROLLBACK."""
        self._transaction_open = True
        try:
            await_only(self._run_in_one_trip(begin))
        except Exception as error:
            self._handle_exception(error)

    async def _run_in_one_trip(self, function: Any) -> None:
        async with self._execute_mutex:
            await self._connection._execute(function, self._connection._conn)

    def commit(self) -> None:
        if self._transaction_open:
            super().commit()
            self._transaction_open = False

    def rollback(self) -> None:
        if self._transaction_open:
            super().rollback()
            self._transaction_open = False


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`create_async_engine(module=…)`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)

"""SQLAlchemy's aiosqlite adapter, with each statement run in the driver's thread in one trip.

aiosqlite runs every call in a thread of the connection's own, and SQLAlchemy's adapter makes four
calls a statement: make a cursor, execute, fetch the rows, close the cursor. Each is a hand-over to
that thread and back to the event loop (a queue, a wake-up through the loop's self-pipe), which cost
more than the statement itself: ~140 µs of CPU a statement against ~35 µs in one trip, measured on
this machine. Here the four happen in one call; everything else is SQLAlchemy's own (server-side
cursors for `session.stream` included). Installed by `market.db.engine_for` through `module=`.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


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


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`create_async_engine(module=…)`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)

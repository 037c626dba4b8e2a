"""Engine, declarative base, SQLite's connection set-up and read-only transactions.

SQLite is the embedded default, so its connections get WAL, foreign keys and a
busy timeout, and every transaction starts with BEGIN IMMEDIATE: SQLite ignores
SELECT ... FOR UPDATE, and a deferred transaction that reads and then writes
fails at once with "database is locked" when another writer got there first.
Within a process, writers queue for that lock in turn (`WriterQueue`).
PostgreSQL uses row locks (`with_for_update`) in the services instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from time import monotonic
from typing import Any, ClassVar

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    MetaData,
    Select,
    any_,
    event,
    exc,
    func,
    literal,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.pool import NullPool
from sqlalchemy.util import LRUCache, await_only

from market import sqlite_driver
from market.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# An execution option marking a connection whose transaction only reads (see `read_only`).
READ_ONLY = "market_read_only"
# With READ_ONLY on SQLite: no BEGIN at all, each statement runs on its own (see `read_only`).
AUTOCOMMIT_READS = "market_autocommit_reads"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(DateTimeUTC):
    """advanced_alchemy's `DateTimeUTC` (aware datetimes in, stored as UTC), each value read in one
    call. Its own reading passes every value through two Python calls after the driver's, ~2 µs a
    value on SQLite: a twentieth of the CPU of a page of offers, each row of which holds thirteen.
    SQLite holds SQLAlchemy's text of the UTC time without an offset: parsed with one added, it
    comes out aware (`replace(tzinfo=…)` after the parse would cost four times the parse). Text of
    another shape (another program's) is parsed as it is and put in UTC. PostgreSQL's `timestamptz`
    arrives aware, but for ±infinity, which asyncpg gives as naive `datetime.max` and
    `datetime.min`. New migrations name it `DateTimeUTC` (`migrate.render_item`): in the database
    the two are one type."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return _aware
        return _parsed_aware


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo is not None else value.replace(tzinfo=UTC)


# The lengths of the text SQLAlchemy writes SQLite's timestamps as ("YYYY-MM-DD HH:MM:SS.ffffff") and
# of CURRENT_TIMESTAMP's ("YYYY-MM-DD HH:MM:SS"): both UTC, without an offset.
_UTC_TEXT_LENGTHS = frozenset({19, 26})


def _parsed_aware(value: str | None) -> datetime | None:
    if value is None:
        return None
    if len(value) in _UTC_TEXT_LENGTHS:
        return datetime.fromisoformat(value + "+00:00")
    # Another program's text (an offset, a "Z", a date alone).
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every timestamp is timezone-aware UTC, on SQLite as on PostgreSQL.
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(timezone=True)}


class WriterQueue:
    """SQLite's writers of one engine take the write lock in the order they asked for it.

    SQLite's busy handler makes a waiting writer poll with growing sleeps (up to 100 ms), and a
    newcomer can take the lock between two polls, so under load some writers waited seconds. Here
    a writer first waits its turn on an asyncio lock (first come, first served) and holds it until
    its transaction ends; then it waits for other processes' writers by trying at a steady pace
    (`sqlite_driver.begin_immediate`), not in the busy handler. One lock per
    event loop: an asyncio lock belongs to one loop, and tests run the app on a loop of its own."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def take_turn(self, info: dict[str, Any]) -> None:
        """Wait for this connection's turn to write (`info`: the connection's own dictionary); a
        connection that has it already keeps it. As long as SQLite's busy timeout at most."""
        if _WRITE_TURN in info:
            return
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
        try:
            await_only(asyncio.wait_for(lock.acquire(), SQLITE_BUSY_TIMEOUT_MS / 1000))
        except TimeoutError:
            # What SQLite itself says when its busy timeout runs out.
            locked = sqlite3.OperationalError("database is locked")
            raise exc.OperationalError("BEGIN IMMEDIATE", None, locked) from None
        info[_WRITE_TURN] = lock

    @staticmethod
    def end_turn(info: dict[str, Any]) -> None:
        lock = info.pop(_WRITE_TURN, None)
        if lock is not None:
            lock.release()


# Where a connection's `info` keeps the writer lock it holds.
_WRITE_TURN = "market_write_turn"


# A SQLite connection's execution option: its transaction, begun without a BEGIN (the caller's reads
# ran on their own), sends BEGIN IMMEDIATE before its next statement (`begin_writing`).
_BEGIN_AT_NEXT_STATEMENT = "market_begin_at_next_statement"

# Each SQLite engine's writers' queue, by the engine's dialect: one of its own, which a copy of the
# engine with other options shares and which outlives its pool's disposal.
_WRITERS: weakref.WeakKeyDictionary[Dialect, WriterQueue] = weakref.WeakKeyDictionary()


def _begin_sqlite(connection: Connection, *, writing: bool) -> None:
    """BEGIN IMMEDIATE for `writing`, which takes the database's write lock, in its turn among the
    engine's writers; else BEGIN (deferred: it takes no lock)."""
    driver = connection.connection.dbapi_connection
    if writing:
        _WRITERS[connection.dialect].take_turn(connection.info)
    statement, begin = ("BEGIN IMMEDIATE", driver.begin_immediate) if writing else ("BEGIN", driver.begin)
    try:
        begin()
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(statement, None, error, sqlite3.Error) from error


def _configure_sqlite(engine: AsyncEngine) -> None:
    writers = _WRITERS[engine.sync_engine.dialect] = WriterQueue()

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of the driver's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        if not options.get(READ_ONLY):
            _begin_sqlite(connection, writing=True)
        elif not options.get(AUTOCOMMIT_READS):  # else each statement runs on its own (SQLite's autocommit)
            _begin_sqlite(connection, writing=False)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _on_statement(connection: Connection, *_statement: Any) -> None:
        if connection.get_execution_options().get(_BEGIN_AT_NEXT_STATEMENT):
            connection.execution_options(**{_BEGIN_AT_NEXT_STATEMENT: False})
            _begin_sqlite(connection, writing=True)

    # The turn ends with the transaction: the next writer's BEGIN may meet this COMMIT still under
    # way, and tries again until it is done. A connection returned to the
    # pool without either (its BEGIN failed, say) ends its turn there.
    @event.listens_for(engine.sync_engine, "commit")
    @event.listens_for(engine.sync_engine, "rollback")
    def _on_end(connection: Any) -> None:
        writers.end_turn(connection.info)

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        writers.end_turn(record.info)


# Where a session's `info` keeps its transaction's connection (`connection_of`).
_CONNECTION = "market_connection"


async def connection_of(session: AsyncSession) -> AsyncConnection:
    """The connection of the session's transaction, as `session.connection()` gives it, which it
    begins when none is. It is kept in the session's `info` with the transaction it belongs to:
    asking SQLAlchemy again costs a greenlet's start and switch, ~10 µs, 3 to 7 times a request.
    The transaction is kept by a weak reference: it refers to the session, and a cycle through the
    session's `info` would leave every request's session to the garbage collector."""
    transaction = session.sync_session.get_transaction()
    kept = session.info.get(_CONNECTION)
    # An inactive transaction (a failed flush's) is left to `session.connection()` to refuse.
    if kept is not None and transaction is not None and kept[0]() is transaction and session.is_active:
        return kept[1]
    connection = await session.connection()
    session.info[_CONNECTION] = (weakref.ref(session.sync_session.get_transaction()), connection)
    return connection


async def lock_rows(session: AsyncSession, stmt: Select[Any], params: dict[str, Any] | None = None) -> None:
    """Take the row locks of `stmt` (a SELECT … FOR UPDATE whose rows nobody reads) on PostgreSQL. On
    SQLite the transaction's BEGIN IMMEDIATE, sent with its first statement, takes the database's
    write lock, and FOR UPDATE is dropped: the statement would only cost a trip to the driver's
    thread. The rows being unread, the statement runs on the session's connection, past the ORM's
    set-up for a statement."""
    if session.bind.dialect.name == "postgresql":
        await (await connection_of(session)).execute(stmt, params)


async def read_columns(
    session: AsyncSession, stmt: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a statement that reads columns, not entities, on the session's connection, after the flush
    `session.execute` would make: past the ORM's set-up for the statement and for each of its
    columns, which gives columns nothing and cost a page read a sixth of its CPU."""
    if holds_changes(session):
        await session.flush()
    return await (await connection_of(session)).execute(stmt, params)


def holds_changes(session: AsyncSession) -> bool:
    """Whether the session holds objects added, changed or deleted and not yet flushed: the test
    `Session.flush` makes before it returns at once."""
    return bool(session.new or session.dirty or session.deleted)


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (…)` of fixed values (at least one), each its own bound parameter, for statements
    that run on every request. `column.in_(values)` binds one "expanding" parameter instead, whose SQL
    is rendered again at each execution: 2-4% of a post's or an accept's CPU, whose statements are
    long. No values would give an expanding parameter again."""
    bound = [literal(value, column.type) for value in sorted(values)]
    if not bound:
        raise ValueError("one_of needs at least one value")
    return column.in_(bound)


def in_subquery(column: ColumnElement[Any], ids: Select[Any], postgres: bool) -> ColumnElement[bool]:
    """`column IN (ids)`, `ids` a subquery standing alone (never tied to the statement around it).
    On PostgreSQL `column = ANY (ARRAY(ids))`: the subquery runs once, into an array that an index
    can look up beside other conditions (a bitmap OR; `IN (subquery)` under an OR filters every
    row), and whose length the planner guesses the same whatever the subquery's parameters, so that
    one plan can serve them all (`IN` is costed from the rows it estimates the subquery gives)."""
    ids = ids.correlate(None)
    if postgres:
        return column == any_(func.array(ids.scalar_subquery()))
    return column.in_(ids)


def sync_loaded(session: AsyncSession, model: type, rows: Iterable[Any], columns: tuple[str, ...]) -> None:
    """Give the ORM objects the session holds for these rows (written by a statement, not the unit of
    work) their new values, as if read again."""
    by_id = {row.id: row for row in rows}
    for key, obj in session.identity_map.items():
        if key[0] is model and (row := by_id.get(key[1][0])) is not None:  # key: (class, (id,), token)
            for name in columns:
                set_committed_value(obj, name, getattr(row, name))


def keep_loaded(session: AsyncSession, model: type, row_id: int, values: Mapping[str, Any]) -> None:
    """Give the ORM object the session holds for one row, if it holds one, the values a statement
    wrote to it as its committed state (`sync_loaded`, for a row whose values are known): writing
    the row by a statement and keeping the object in step costs a third of the Python calls of the
    ORM's flush. (A rollback of the whole transaction expires the object; a savepoint's would not,
    so no such write runs inside one.)"""
    obj = session.identity_map.get(identity_key(model, row_id))
    if obj is not None:
        for name, value in values.items():
            set_committed_value(obj, name, value)


def upsert(session: AsyncSession, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say what to do on a conflict (`on_conflict_do_nothing/_update`), in the
    session's database's own words: both PostgreSQL and SQLite have it, SQLAlchemy's core INSERT does not."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


async def read_only(session: AsyncSession, *, autocommit: bool = False, snapshot: bool = False) -> None:
    """Begin the session's transaction for reading only. On SQLite that is a deferred BEGIN, which
    takes no write lock: a page polling every few seconds must not queue the writers behind it.
    A write in such a transaction is refused (`_refuse_writes`): on SQLite it could not wait for
    the lock a deferred transaction never took.

    With `autocommit`, each statement runs on its own instead, as PostgreSQL's READ COMMITTED gives
    a transaction's statements no common snapshot anyway; it saves BEGIN and COMMIT, two round trips
    (on SQLite two hand-overs to the driver's thread). A server-side cursor (`session.stream`) needs
    a transaction: not for those. With `snapshot`, every statement reads the same snapshot, on
    PostgreSQL too (REPEATABLE READ); on SQLite a deferred transaction already does."""
    options: dict[str, Any] = {READ_ONLY: True}
    postgres = session.bind.dialect.name == "postgresql"
    if autocommit and postgres:
        options["isolation_level"] = "AUTOCOMMIT"
    elif autocommit:
        options[AUTOCOMMIT_READS] = True
    elif snapshot and postgres:
        options["isolation_level"] = "REPEATABLE READ"
    await session.connection(execution_options=options)


async def read_until_writing(session: AsyncSession) -> None:
    """Begin a change's work with reads that take no lock (its caller's), on the connection the
    change goes on in (`begin_writing`): one checkout for both. On SQLite each statement runs on its
    own until then (`read_only`'s autocommit), as a transaction would hold the database's write lock
    from its first statement, and a refusal (by a guard, say) should not wait for that lock. On
    PostgreSQL they run in the change's own transaction, whose reads lock nothing."""
    if session.bind.dialect.name != "postgresql":
        await read_only(session, autocommit=True)


async def begin_writing(session: AsyncSession) -> None:
    """The change `read_until_writing` began goes on to write: on SQLite its transaction begins on the
    same connection, with its next statement, as any change's does (BEGIN IMMEDIATE in its writers'
    turn): not before, so that what comes first (checking the body, parsing a form) holds no lock.
    Giving the connection back to the pool and taking it again instead cost 5% of an accept's CPU.
    Else nothing: on PostgreSQL the transaction began with the first read, and a session that has
    begun no work begins its transaction with its first statement, as ever."""
    if session.in_transaction() and session.bind.dialect.name != "postgresql":
        connection = (await connection_of(session)).sync_connection
        if connection.get_execution_options().get(AUTOCOMMIT_READS):
            writing = {READ_ONLY: False, AUTOCOMMIT_READS: False, _BEGIN_AT_NEXT_STATEMENT: True}
            connection.execution_options(**writing)


class WriteInReadOnlyTransaction(RuntimeError):
    """A statement that changes data ran in a transaction begun by `read_only`: a programming error."""


def _refuse_writes(
    connection: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
) -> None:
    if (
        context is not None
        and (context.isinsert or context.isupdate or context.isdelete)
        and connection.get_execution_options().get(READ_ONLY)
    ):
        raise WriteInReadOnlyTransaction(f"A read-only transaction may not run: {statement[:80]}")


class CompiledCache:
    """SQLAlchemy's cache of compiled statements (its `compiled_cache` execution option), which finds
    a statement built once by the identity of its cache key.

    SQLAlchemy looks a statement's compiled form up by its cache key, a nested tuple (3,900 items for
    an order's detail) that Python hashes afresh at every execution: 5% of a page of offers. The
    product builds each statement it runs on every request once (`functools.cache`), and SQLAlchemy
    keeps that statement's key, so it is the same object every time. Once a lookup by key finds the
    very object it was stored under, later lookups find it by `id` (the object kept, and checked to
    be the one: an `id` is reused only once its object is gone). Statements built afresh (equal
    keys, new objects) are looked up by key, as in SQLAlchemy's own cache, of the same size."""

    def __init__(self, capacity: int = 500) -> None:
        self._capacity = capacity
        self._by_key: LRUCache[Any, tuple[Any, Any]] = LRUCache(capacity)
        self._by_identity: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        # SQLAlchemy's key: (dialect, the statement's cache key, column keys, schema translated, many).
        dialect, statement_key, *rest = key
        identity = (id(dialect), id(statement_key), *rest)
        found = self._by_identity.get(identity)
        if found is not None and found[0] is dialect and found[1] is statement_key:
            return found[2]
        stored = self._by_key.get(key)
        if stored is None:
            return default
        stored_under, compiled = stored
        if stored_under[0] is dialect and stored_under[1] is statement_key:
            if len(self._by_identity) >= self._capacity:
                self._by_identity.clear()
            self._by_identity[identity] = (dialect, statement_key, compiled)
        return compiled

    def __setitem__(self, key: tuple[Any, ...], compiled: Any) -> None:
        self._by_key[key] = (key, compiled)


def create_engine(settings: Settings) -> AsyncEngine:
    options: dict[str, Any] = {
        "echo": settings.database_echo,
        "execution_options": {"compiled_cache": CompiledCache()},
    }
    if not settings.is_sqlite:
        # PostgreSQL compiles a query costed above jit_above_cost to machine code first, which
        # takes a few hundred milliseconds: more than the reports' scans it would speed up.
        options["connect_args"] = {"server_settings": {"jit": "off"}}
    if not settings.database_pool:
        options["poolclass"] = NullPool
    elif not settings.is_sqlite:
        options.update(pool_size=10, max_overflow=20)
    engine = engine_for(settings.database_url, **options)
    if settings.database_pool and not settings.is_sqlite:
        event.listen(engine.sync_engine.pool, "checkout", _ping)
        for made_or_given_back in ("connect", "checkin"):
            event.listen(engine.sync_engine.pool, made_or_given_back, _given_back)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_writes)
    return engine


# How long (seconds) a pooled connection given back is trusted without its ping (`_ping`). The ping
# is a round trip: measured in-process, about a tenth of a read's CPU in the server and a quarter
# of PostgreSQL's. HikariCP trusts its connections as long (aliveBypassWindowMs).
TRUSTED_FOR = 0.5
_GIVEN_BACK_AT = "market_given_back_at"


def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Each PostgreSQL connection the pool hands out is tried first: one that died in the pool (a
    restart) would otherwise fail a request part-way, perhaps after another of its sessions had
    committed, which is not something to run again. The pool replaces a connection whose try fails
    (`DisconnectionError`).

    One whose socket the server closed (a restart ends every session) fails at once. One made or
    given back less than TRUSTED_FOR ago is trusted without a round trip: it was working then.
    Only one that died since in a way this process has not yet seen (its host lost, the network
    cut, a close not yet read) gets past: its request fails, and SQLAlchemy then replaces every
    connection the pool holds. Any other is pinged with one statement (SQLAlchemy's own
    `pool_pre_ping` wraps it in BEGIN and ROLLBACK, for PgBouncer's transaction mode: three round
    trips where this takes one)."""
    driver = dbapi_connection.driver_connection  # asyncpg's
    if driver.is_closed():
        raise exc.DisconnectionError("the pooled connection was closed by the server")
    given_back = record.info.get(_GIVEN_BACK_AT)
    if given_back is not None and monotonic() - given_back < TRUSTED_FOR:
        return
    try:
        await_only(driver.execute("SELECT 1"))
    except Exception as error:
        raise exc.DisconnectionError(f"the pooled connection failed its ping: {error!r}") from error


def _given_back(dbapi_connection: Any, record: Any) -> None:
    """When the connection was given back, or made (`_ping`). An invalidated one is not: SQLAlchemy
    forgets its `info` as it makes the next."""
    if dbapi_connection is not None:
        record.info[_GIVEN_BACK_AT] = monotonic()


def engine_for(url: str, **options: Any) -> AsyncEngine:
    """`create_async_engine`, and on SQLite the product's driver (`sqlite_driver`) and connection
    set-up (WAL, foreign keys, BEGIN IMMEDIATE, the writers' queue): what every engine on the
    product's database needs, tests' and benchmarks' too."""
    if not url.startswith("sqlite"):
        return create_async_engine(url, **options)
    engine = create_async_engine(url, module=sqlite_driver.dbapi(), **options)
    _configure_sqlite(engine)
    return engine

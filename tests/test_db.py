"""The database layer: SQLite transactions that only read take no write lock, and write nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import aiosqlite
import anyio
import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import Column, Integer, MetaData, Table, event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from market import db, sqlite_driver
from market.app import create_app
from market.auth import service as auth_service
from market.auth.models import User
from market.categories.models import ServiceCategory
from market.clock import FrozenClock
from market.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    CompiledCache,
    UTCDateTime,
    WriteInReadOnlyTransaction,
    begin_writing,
    connection_of,
    create_engine,
    engine_for,
    read_only,
    read_until_writing,
)
from market.settings import Settings
from market.unit_of_work import ONE_SNAPSHOT, begin
from tests.conftest import serving
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


async def test_an_api_read_that_changes_what_it_read_is_refused_and_changes_nothing(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An API read ends without a commit, as its transaction only reads: a change its handler left
    in the session is a programming error, refused (a 500), not lost unseen behind a 200."""
    resident = world.users["resident"]
    real_get_user = auth_service.get_user

    async def renaming(session: AsyncSession, user_id: int) -> User:
        user = await real_get_user(session, user_id)
        user.name = "Renamed by a read"
        return user

    monkeypatch.setattr(auth_service, "get_user", renaming)
    r = await client.get("/api/me", headers=world.auth("resident"))

    assert r.status_code == 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "internal_error"
    async with session_maker() as session:
        assert await session.scalar(select(User.name).where(User.id == resident.id)) == resident.name


async def test_an_autocommit_read_on_sqlite_sends_no_begin_and_ends_without_a_trip(
    database_url: str, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API read's statements run on their own (`read_only(autocommit=True)`): no BEGIN, and the
    COMMIT or ROLLBACK that ends the session, and the pool's at check-in, cost no hand-over to the
    driver's thread; nor does the pool's ROLLBACK after a COMMIT. The pooled connection then begins
    its next transactions as before, and ends them."""
    if is_postgres:
        pytest.skip("PostgreSQL's autocommit is its own isolation level")
    engine = engine_for(database_url, pool_size=1, max_overflow=0)
    sent: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    trips: list[object] = []
    real_execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        trips.append(fn)
        return await real_execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    sessions = async_sessionmaker(engine)
    active = select(func.count()).select_from(ServiceCategory).where(ServiceCategory.is_active)
    async with sessions() as session:
        codes = select(ServiceCategory.code).where(ServiceCategory.is_active)
        were_active = set(await session.scalars(codes))
    try:
        for end in ("commit", "rollback"):
            sent.clear()
            trips.clear()
            async with sessions() as session:
                await read_only(session, autocommit=True)
                assert await session.scalar(active) > 0
                await getattr(session, end)()
            assert len(sent) == 1 and sent[0].startswith("SELECT")
            assert len(trips) == 1, end  # the SELECT's
        # The same connection (a pool of one) writes in a transaction, which it commits ...
        trips.clear()
        async with sessions() as session, session.begin():
            await session.execute(update(ServiceCategory).values(is_active=False))
        assert len(trips) == 3  # BEGIN IMMEDIATE, UPDATE, COMMIT: no ROLLBACK at check-in after it
        # ... or rolls back.
        async with sessions() as session, session.begin():
            await session.execute(update(ServiceCategory).values(is_active=True))
            await session.rollback()
        async with sessions() as session:
            await read_only(session)
            assert await session.scalar(active) == 0
    finally:
        async with engine.begin() as conn:
            restore = update(ServiceCategory).values(is_active=ServiceCategory.code.in_(were_active))
            await conn.execute(restore)
        await engine.dispose()


async def test_a_savepoint_outside_a_transaction_is_ended_too(database_url: str, is_postgres: bool) -> None:
    """SQLite opens a transaction for a SAVEPOINT sent outside one; the driver learns it from the
    statement's trip, so the COMMIT is sent and the pooled connection reads the present after it."""
    if is_postgres:
        pytest.skip("the driver that skips COMMITs is SQLite's")
    engine = engine_for(database_url, pool_size=1, max_overflow=0)
    sessions = async_sessionmaker(engine)
    count = select(func.count()).select_from(ServiceCategory)
    try:
        async with sessions() as session:
            await read_only(session, autocommit=True)
            savepoint = await session.begin_nested()
            before = await session.scalar(count)
            # Its ROLLBACK TO leaves the transaction open (where a RELEASE would have ended it).
            await savepoint.rollback()
            await session.commit()
        another = engine_for(database_url, poolclass=NullPool)
        async with async_sessionmaker(another)() as other, other.begin():
            other.add(ServiceCategory(code="test_savepoint", name_zh="测", name_en="test"))
        await another.dispose()
        async with sessions() as session:
            await read_only(session, autocommit=True)
            assert await session.scalar(count) == before + 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("one_snapshot", [False, True])
async def test_an_api_read_sees_one_snapshot_only_when_its_handler_asks(
    session_maker: async_sessionmaker[AsyncSession], one_snapshot: bool
) -> None:
    """An API read's statements each see the database as it is (`begin`), unless its handler is
    flagged ONE_SNAPSHOT (the trial balance): then a write committed between two of them is unseen."""
    handler = SimpleNamespace(opt={ONE_SNAPSHOT: True} if one_snapshot else {})
    scope = {"method": "GET", "path": "/api/ledger/trial-balance", "route_handler": handler}
    count = select(func.count()).select_from(ServiceCategory)
    async with session_maker() as reader:
        await begin(reader, scope)
        before = await reader.scalar(count)
        async with session_maker() as writer, writer.begin():
            writer.add(ServiceCategory(code="test_snapshot", name_zh="测", name_en="test"))
        after = await reader.scalar(count)
    assert after == (before if one_snapshot else before + 1)


@pytest.mark.parametrize(
    ("path", "method"), [("/api/me", "GET"), ("/api/offers/{offer_id:int}/accept", "POST")]
)
def test_a_handler_asking_for_its_session_and_the_moment_resolves_them_without_a_task_group(
    client: AsyncTestClient, path: str, method: str
) -> None:
    # Litestar resolves dependencies of one level side by side, in a task group spawning a task for
    # each; the session's provider asks for `now` only, so these resolve one by one.
    route = next(r for r in client.app.routes if r.path == path)
    _handler, kwargs = route.route_handler_map[method]
    assert [[d.key for d in batch] for batch in kwargs.dependency_batches] == [["now"], ["session"]]


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


async def test_a_refused_change_does_not_wait_for_another_transaction_s_write(
    session_maker: async_sessionmaker[AsyncSession], client: AsyncTestClient, world: World
) -> None:
    """A change refused by a guard is refused at once: loading its caller took no write lock (on
    SQLite, BEGIN IMMEDIATE would wait for the writer)."""
    async with session_maker() as writer, writer.begin():
        await writer.execute(text("UPDATE service_categories SET is_active = is_active"))
        body = {"code": "tutoring", "name_zh": "辅导", "name_en": "Tutoring"}
        r = await asyncio.wait_for(
            client.post("/api/categories", json=body, headers=world.auth("resident")), 5
        )
    assert r.status_code == 403, r.text


async def test_a_change_reads_its_caller_in_one_trip_before_its_transaction(
    client: AsyncTestClient, world: World, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a request that changes data reads its caller in a statement of its own, outside any
    transaction: no BEGIN and COMMIT around it, only the write's own BEGIN IMMEDIATE after it."""
    if is_postgres:
        pytest.skip("on PostgreSQL the caller is read in the write's transaction (see test_idempotency)")
    trips: list[str] = []
    real_execute = aiosqlite.Connection._execute

    async def named(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> object:
        trips.append(args[1].split()[0] if fn is sqlite_driver._run else fn.__name__)
        return await real_execute(self, fn, *args, **kwargs)

    def sent() -> list[str]:  # a new connection's set-up (PRAGMAs, functions) aside
        kept = {"SELECT", "INSERT", "_begin", "_begin_immediate", "commit", "rollback"}
        return [t for t in trips if t in kept]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", named)
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    assert sent()[:2] == ["SELECT", "_begin_immediate"]
    assert sent()[-1] == "commit" and sent().count("commit") == 1
    # The place with its category, the order (the INSERT reads the requester's open orders; no lock
    # statement: BEGIN IMMEDIATE holds the lock), its first event, and the answer.
    assert sent()[2:-1] == ["SELECT", "INSERT", "INSERT", "SELECT"]


async def test_a_pooled_connection_that_died_is_replaced_before_a_request_uses_it(
    settings: Settings, clock: FrozenClock, world: World, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a database restart, the pool's ping finds each dead connection before a request uses
    it: no request fails part-way, also one that reads in sessions of its own (a login). Here no
    connection is trusted for any time (`TRUSTED_FOR` 0): each is found by its closed socket or by
    its ping, whichever comes first (each alone: `..._replaced_before_anything_uses_it`)."""
    if not is_postgres:
        pytest.skip("SQLite has no server to lose the connection to")
    monkeypatch.setattr(db, "TRUSTED_FOR", 0)
    app = create_app(replace(settings, database_pool=True), clock=clock)

    async def drop_connections() -> None:
        engine = create_async_engine(settings.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                where = " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                assert all(await conn.scalars(text(sql + where)))
        finally:
            await engine.dispose()

    resident = world.auth("resident")
    with serving(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            assert (await http.get("/api/me", headers=resident)).status_code == 200
            await drop_connections()
            assert (await http.get("/api/orders", headers=resident)).status_code == 200
            await drop_connections()
            r = await http.post("/api/orders", json=world.order_body(), headers=resident)
            assert r.status_code == 201, r.text
            await drop_connections()
            login = {"phone": world.users["resident"].phone, "password": "not the password"}
            assert (await http.post("/api/auth/login", json=login)).status_code == 401


class _PoolClock:
    """The pool's clock (`db.monotonic`), moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_pooled_connection_is_pinged_in_one_round_trip_unless_just_given_back(
    settings: Settings, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout pays the ping (one statement, not SQLAlchemy's BEGIN, ping and ROLLBACK) unless the
    connection was given back less than `TRUSTED_FOR` ago."""
    if not is_postgres:
        pytest.skip("SQLite's pool is never pinged: its file does not restart")
    pool_clock = _PoolClock()
    monkeypatch.setattr(db, "monotonic", pool_clock)
    engine = create_engine(replace(settings, database_pool=True))
    sent: list[str] = []
    real_execute = asyncpg.Connection.execute

    async def recorded(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> str:
        sent.append(query)
        return await real_execute(self, query, *args, **kwargs)

    async def check_out_again(after: float) -> list[str]:
        pool_clock.now += after
        sent.clear()
        async with engine.connect() as conn:  # the same connection, checked out again
            assert await conn.scalar(text("SELECT 2")) == 2
        return list(sent)

    try:
        async with engine.connect() as conn:  # the pool's first connection, set up
            await conn.execute(text("SELECT 2"))
        monkeypatch.setattr(asyncpg.Connection, "execute", recorded)
        half = db.TRUSTED_FOR / 2
        assert await check_out_again(half) == ["BEGIN;", "ROLLBACK;"]  # no ping
        # The window runs from the last time it was given back, not from when it was made.
        assert await check_out_again(half) == ["BEGIN;", "ROLLBACK;"]
        assert await check_out_again(db.TRUSTED_FOR) == ["SELECT 1", "BEGIN;", "ROLLBACK;"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("closing_seen", [True, False], ids=["closed socket", "failed ping"])
async def test_a_pooled_connection_the_server_ended_is_replaced_before_anything_uses_it(
    settings: Settings, is_postgres: bool, monkeypatch: pytest.MonkeyPatch, closing_seen: bool
) -> None:
    """A restart ends every session, each connection's socket with it. A connection given back a
    moment before is replaced at once, without a ping, as its socket is closed; one this process
    has not yet seen closed, past `TRUSTED_FOR`, fails its ping and is replaced as well."""
    if not is_postgres:
        pytest.skip("SQLite has no server to lose the connection to")
    pool_clock = _PoolClock()
    monkeypatch.setattr(db, "monotonic", pool_clock)
    engine = create_engine(replace(settings, database_pool=True))
    killer = create_async_engine(settings.database_url, poolclass=NullPool)
    pings = 0
    real_execute = asyncpg.Connection.execute

    async def counted(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> str:
        nonlocal pings
        pings += query == "SELECT 1"
        return await real_execute(self, query, *args, **kwargs)

    try:
        closed = asyncio.Event()
        async with engine.connect() as conn:
            ended = await conn.scalar(text("SELECT pg_backend_pid()"))
            (await conn.get_raw_connection()).driver_connection.add_termination_listener(
                lambda _connection: closed.set()
            )
        async with killer.connect() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
        with anyio.fail_after(30):  # until this process has read the end of the socket
            await closed.wait()
        if not closing_seen:
            monkeypatch.setattr(asyncpg.Connection, "is_closed", lambda _self: False)
            pool_clock.now += db.TRUSTED_FOR
        monkeypatch.setattr(asyncpg.Connection, "execute", counted)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != ended
        assert pings == (0 if closing_seen else 1)  # the new connection, just made, is not pinged
    finally:
        await engine.dispose()
        await killer.dispose()


async def test_sqlite_writers_take_the_write_lock_in_the_order_they_asked(
    engine: AsyncEngine, session_maker: async_sessionmaker[AsyncSession], is_postgres: bool
) -> None:
    """SQLite's busy handler lets a late writer in ahead of one that has polled for seconds; within
    a process writers queue instead, first come, first served."""
    if is_postgres:
        pytest.skip("PostgreSQL locks rows, not the database")
    began: list[int] = []

    async def write(number: int, asked: asyncio.Event) -> None:
        # Connected first: on a loaded machine opening a connection took longer than the pause
        # between two writers, and a later writer asked first.
        async with engine.connect() as conn:
            asked.set()
            async with conn.begin():
                await conn.execute(text("UPDATE service_categories SET is_active = is_active"))
                began.append(number)

    async with session_maker() as holder, holder.begin():
        await holder.execute(text("UPDATE service_categories SET is_active = is_active"))
        writers = []
        for number in range(6):
            asked = asyncio.Event()
            writers.append(asyncio.create_task(write(number, asked)))
            await asked.wait()
            await asyncio.sleep(0.05)  # its BEGIN is waiting before the next one asks
        assert began == []
    await asyncio.wait_for(asyncio.gather(*writers), 10)
    assert began == list(range(6))


async def test_a_sqlite_writer_gives_up_its_turn_however_its_transaction_ends(
    session_maker: async_sessionmaker[AsyncSession], is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("PostgreSQL locks rows, not the database")
    touch = text("UPDATE service_categories SET is_active = is_active")

    async def next_writer_gets_in() -> None:
        async with session_maker() as session, session.begin():
            await asyncio.wait_for(session.execute(touch), 5)

    with pytest.raises(RuntimeError):
        async with session_maker() as session, session.begin():
            await session.execute(touch)
            raise RuntimeError("rolled back")
    await next_writer_gets_in()
    async with session_maker() as session:
        await session.execute(touch)
        await session.commit()
        await session.execute(touch)  # a second transaction on the session, closed unfinished
    await next_writer_gets_in()


async def test_a_sqlite_writer_waits_no_longer_than_the_busy_timeout(
    session_maker: async_sessionmaker[AsyncSession], is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if is_postgres:
        pytest.skip("PostgreSQL locks rows, not the database")
    monkeypatch.setattr("market.db.SQLITE_BUSY_TIMEOUT_MS", 100)
    touch = text("UPDATE service_categories SET is_active = is_active")
    async with session_maker() as holder, holder.begin():
        await holder.execute(touch)
        async with session_maker() as waiter:
            with pytest.raises(OperationalError, match="database is locked"):
                await waiter.execute(touch)
    async with session_maker() as session, session.begin():
        await asyncio.wait_for(session.execute(touch), 5)


class _CountsItsHashing:
    hashed = 0

    def __hash__(self) -> int:
        type(self).hashed += 1
        return 1


def test_a_statement_built_once_is_found_by_the_identity_of_its_key_without_hashing_it_again() -> None:
    """`CompiledCache`: a key's first lookup is by its value; once that finds the very key object
    it was stored under, lookups are by identity, and never hash the (nested) key again. An equal
    key of another object is found by value; a key that differs in anything else is not found."""
    dialect, part = object(), _CountsItsHashing()
    statement_key = ("select", (part, ("column", 1)))
    cache = CompiledCache(capacity=2)

    def key(statement: tuple[Any, ...], columns: tuple[str, ...] = ()) -> tuple[Any, ...]:
        return (dialect, statement, columns, False, False)

    assert cache.get(key(statement_key)) is None
    cache[key(statement_key)] = "compiled"
    assert cache.get(key(statement_key)) == "compiled"  # by value: the very object, kept by identity
    hashed = _CountsItsHashing.hashed
    for _ in range(3):
        assert cache.get(key(statement_key)) == "compiled"
    assert _CountsItsHashing.hashed == hashed
    assert cache.get(key(("select", (part, ("column", 1))))) == "compiled"
    assert _CountsItsHashing.hashed > hashed
    assert cache.get(key(statement_key, ("id",))) is None
    assert cache.get((object(), *key(statement_key)[1:])) is None
    # Past its capacity the cache forgets identities, never gives another statement's compiled form.
    for n in range(3):
        other = ("select", n)
        cache[key(other)] = f"compiled {n}"
        assert cache.get(key(other)) == cache.get(key(other)) == f"compiled {n}"
    assert cache.get(key(("select", 0))) in (None, "compiled 0")


async def test_a_session_s_connection_is_kept_for_its_transaction_only(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """`connection_of` gives the connection `session.connection()` gives, asked once a transaction;
    after a failed flush it refuses as `session.connection()` does."""
    async with session_maker() as session:
        first = await connection_of(session)
        assert first.sync_connection is (await session.connection()).sync_connection
        assert await connection_of(session) is first
        await session.commit()
        second = await connection_of(session)
        assert second is not first
        assert second.sync_connection is (await session.connection()).sync_connection
        assert (await second.execute(text("SELECT 1"))).scalar() == 1
        await session.rollback()
        assert (await connection_of(session)).sync_connection is (await session.connection()).sync_connection
        code = (await session.scalars(select(ServiceCategory.code).limit(1))).one()
        session.add(ServiceCategory(code=code, name_zh="重", name_en="Again"))
        with pytest.raises(IntegrityError):
            await session.flush()
        with pytest.raises(PendingRollbackError):
            await connection_of(session)


async def test_a_change_read_before_it_writes_takes_the_write_lock_with_its_first_statement(
    settings: Settings, is_postgres: bool
) -> None:
    """`read_until_writing`: the change's first reads take no lock, and may not write. `begin_writing`:
    its transaction begins on the same connection with its next statement, in its turn among the
    process's writers, holds SQLite's write lock until it commits, and keeps what it wrote."""
    if is_postgres:
        pytest.skip("PostgreSQL locks rows, not the database")
    engine = create_engine(settings)
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    other = sqlite3.connect(engine.url.database, isolation_level=None, timeout=0)

    def lock_is_free() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            assert "database is locked" in str(error)
            return False
        other.execute("ROLLBACK")
        return True

    async def another_writer() -> None:
        async with session_maker() as session, session.begin():
            await session.execute(update(ServiceCategory).values(is_active=True))

    try:
        async with session_maker() as session:
            await read_until_writing(session)
            reading_on = await session.connection()
            assert await session.scalar(select(func.count()).select_from(ServiceCategory))
            assert lock_is_free()
            with pytest.raises(WriteInReadOnlyTransaction):
                await session.execute(update(ServiceCategory).values(is_active=True))
            await begin_writing(session)
            assert lock_is_free()  # not before its first statement
            assert await session.connection() is reading_on
            await session.execute(
                insert(ServiceCategory).values(code="test_held", name_zh="留", name_en="Held")
            )
            assert not lock_is_free()
            waiting = asyncio.create_task(another_writer())
            await asyncio.sleep(0.2)
            assert not waiting.done()  # its turn comes after this transaction
            await begin_writing(session)  # once begun, nothing more
            await session.commit()
        await asyncio.wait_for(waiting, 10)
        assert lock_is_free()  # given back with the commits
        async with session_maker() as session:
            name = select(ServiceCategory.name_en).where(ServiceCategory.code == "test_held")
            assert await session.scalar(name) == "Held"
    finally:
        other.close()
        await engine.dispose()


async def test_a_sqlite_writer_tries_for_another_process_s_lock_at_a_steady_pace(
    engine: AsyncEngine, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer of another process (here: a plain sqlite3 connection) holds the write lock. SQLite's
    busy handler would try again after longer and longer sleeps, letting newcomers in first; the
    driver tries every WRITE_LOCK_POLL_SECONDS instead, gets in once the lock is free, and leaves
    the connection's busy timeout as it was."""
    if is_postgres:
        pytest.skip("PostgreSQL locks rows, not the database")
    slept: list[float] = []
    tried_often = threading.Event()

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) >= 5:
            tried_often.set()
        time.sleep(seconds)

    monkeypatch.setattr(sqlite_driver, "time", SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    other = sqlite3.connect(engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    async with engine.connect() as conn:
        writing = asyncio.create_task(conn.execute(text("UPDATE service_categories SET is_active = 1")))
        assert await asyncio.to_thread(tried_often.wait, 10), "the writer did not try again"
        assert not writing.done()
        other.execute("ROLLBACK")
        await asyncio.wait_for(writing, 10)
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == SQLITE_BUSY_TIMEOUT_MS
        await conn.commit()
    other.close()
    assert set(slept) == {sqlite_driver.WRITE_LOCK_POLL_SECONDS}


async def test_a_sqlite_writer_waits_for_another_process_no_longer_than_the_busy_timeout(
    engine: AsyncEngine, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if is_postgres:
        pytest.skip("PostgreSQL locks rows, not the database")
    monkeypatch.setattr("market.db.SQLITE_BUSY_TIMEOUT_MS", 100)
    other = sqlite3.connect(engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with engine.connect() as conn:
            with pytest.raises(OperationalError, match="database is locked"):
                await asyncio.wait_for(conn.execute(text("UPDATE service_categories SET is_active = 1")), 10)
    finally:
        other.close()


async def test_the_sqlite_driver_tells_what_sqlite3_tells_of_each_statement(
    engine: AsyncEngine, is_postgres: bool
) -> None:
    """Each statement runs in one trip to the driver's thread (`market.sqlite_driver`); what a
    cursor tells afterwards is still there: rows, row counts, the new row's id and errors."""
    if is_postgres:
        pytest.skip("the driver adapter is SQLite's")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TEMP TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE)"))
        inserted = await conn.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert inserted.lastrowid == 1 and inserted.rowcount == 1
        many = await conn.execute(
            text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "b"}, {"body": "c"}]
        )
        assert many.rowcount == 2
        changed = await conn.execute(text("UPDATE notes SET body = body || '!' WHERE id > 1"))
        assert changed.rowcount == 2
        rows = await conn.execute(text("SELECT id, body FROM notes ORDER BY id"))
        assert list(rows.keys()) == ["id", "body"]
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b!"), (3, "c!")]
        returned = await conn.execute(text("INSERT INTO notes (body) VALUES ('d') RETURNING id, body"))
        assert returned.one() == (4, "d")
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        streamed = await conn.stream(text("SELECT body FROM notes ORDER BY id"))
        assert [body async for (body,) in streamed] == ["a", "b!", "c!", "d"]


async def test_a_moment_reads_back_as_the_instant_written_aware_and_in_utc(settings: Settings) -> None:
    """`UTCDateTime` reads a value (on SQLite from text without an offset, with or without its
    microseconds, or in another program's shape; on PostgreSQL as asyncpg gives it) aware and in UTC,
    the extremes a page must survive too, and NULL as None: as a column and through an aggregate."""
    moments = Table(
        "moments_read_back",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime(timezone=True)),
    )
    beijing = timezone(timedelta(hours=8))
    written = [
        datetime(2026, 3, 12, 10, 0, 0, 123456, tzinfo=beijing),
        datetime(2026, 3, 12, 1, 0, tzinfo=UTC),
        None,
        # asyncpg gives these two as naive datetime.max and datetime.min.
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ]
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(moments.create)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    insert(moments), [{"id": i, "at": at} for i, at in enumerate(written)]
                )
                if not settings.database_url.startswith("postgresql"):
                    # As CURRENT_TIMESTAMP writes it (no fraction), and as other programs might (an
                    # offset, a "Z", a date alone).
                    await connection.execute(
                        text("UPDATE moments_read_back SET at = '2026-03-12 01:00:00' WHERE id = 1")
                    )
                    await connection.execute(
                        text(
                            "INSERT INTO moments_read_back (id, at) VALUES (5, '2026-03-12 09:00:00+08:00'),"
                            " (6, '2026-03-12T01:00:00Z'), (7, '2026-03-12')"
                        )
                    )
                    written += [written[1], written[1], datetime(2026, 3, 12, tzinfo=UTC)]
                read = (await connection.execute(select(moments.c.at).order_by(moments.c.id))).scalars().all()
                latest = await connection.scalar(select(func.max(moments.c.at)))
        finally:
            async with engine.begin() as connection:
                await connection.run_sync(moments.drop)
    finally:
        await engine.dispose()
    assert read == written
    assert [at.utcoffset() for at in read if at is not None] == [timedelta(0)] * (len(written) - 1)
    assert read[0] == datetime(2026, 3, 12, 2, 0, 0, 123456, tzinfo=UTC)
    assert latest == written[3] and latest.utcoffset() == timedelta(0)

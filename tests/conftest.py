"""Test set-up: one database per run (SQLite by default, PostgreSQL when
MARKET_TEST_DATABASE_URL is set), upgraded by the real migrations, emptied
between tests. The app under test has a pooled engine of its own: each AsyncTestClient runs it on
an event loop of its own, and the app's lifespan empties the pool when the client closes, so a
connection never outlives its loop. The apps served in threads use NullPool."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from market import migrate
from market.app import create_app
from market.clock import Clock, FrozenClock, system_clock
from market.db import engine_for
from market.settings import Settings
from tests.database import BetweenTests, empty_tables
from tests.world import World, world_in

TEST_SECRET = "test-secret-0123456789abcdefghijklmnopqrstuv"
# The moment the suite's clock stands at: never the real time, so that no test depends on the hour
# or the date it runs at. These sit where days, weeks, months and years turn over in the service's
# zone (Asia/Shanghai) or in UTC. `MARKET_TEST_NOW` picks one (or any ISO moment with an offset);
# with CI=true one of these is drawn at random and printed in the header, so a failure can be replayed.
TEST_MOMENTS = (
    "2026-03-11T15:57:00+08:00",  # the afternoon hour that once decided which volunteer was free
    "2026-03-12T10:00:00+08:00",  # an ordinary Thursday morning
    "2026-01-31T23:59:30+08:00",  # the last seconds of a month, local time
    "2026-06-01T00:00:30+08:00",  # the first seconds of a month (still 31 May in UTC)
    "2026-02-28T23:30:00+08:00",  # the end of February
    "2028-02-29T12:00:00+08:00",  # a leap day
    "2026-12-31T23:45:00+08:00",  # the end of the year
    "2027-01-01T00:05:00+08:00",  # the new year, still the old one in UTC
    "2026-08-09T23:30:00+08:00",  # Sunday night: weekly windows wrap to Monday
    "2026-10-15T08:00:00+08:00",  # midnight UTC
    "2026-05-20T04:00:00+08:00",  # before dawn
)
DEFAULT_TEST_MOMENT = "2026-03-12T10:00:00+08:00"
# CI=true: the CI profile. A moment drawn at random, a missing tool (Chromium, poppler) fails the
# run instead of skipping, and the heaviest walks and fuzzing take a smaller, still searching, size.
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    """A port nothing listens on, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    # Chosen once, by the controlling process: xdist's workers inherit the environment.
    if hasattr(config, "workerinput") or os.environ.get("MARKET_TEST_NOW"):
        return
    os.environ["MARKET_TEST_NOW"] = random.choice(TEST_MOMENTS) if IN_CI else DEFAULT_TEST_MOMENT


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The SQLite pass of `make test` (`-m "not fuzz"`) runs nothing of the schema fuzz: do not
    import it there, which builds the app and two schemas in every worker."""
    if collection_path.name == "test_api_schema.py" and config.option.markexpr == "not fuzz":
        return True
    return None


@pytest.hookimpl(trylast=True)  # after `-m` has deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, only the tests that reach a database: the others ran in the SQLite pass. Then
    the long tests' modules go first in the workers' shares."""
    if os.environ.get("MARKET_TEST_DATABASE_URL"):
        pure = [item for item in items if "database_url" not in getattr(item, "fixturenames", ())]
        if pure:
            config.hook.pytest_deselected(items=pure)
            items[:] = [item for item in items if "database_url" in getattr(item, "fixturenames", ())]
    items[:] = _long_modules_first(items, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def _long_modules_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """`items` with each module holding a test marked `long` at the start of a worker's share, one
    module a share in turn. pytest-xdist's worksteal hands each worker an equal run of the list
    and lets idle workers take from the end of the others' runs: a test of minutes left at the end
    of a run started last and held the whole pass up. Modules move whole, so that their fixtures
    are set up once."""
    long = list(dict.fromkeys(item.path for item in items if item.get_closest_marker("long")))
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for i, path in enumerate(long):
        shares[i % workers] += [item for item in items if item.path == path]
    rest = iter([item for item in items if item.path not in long])
    ordered: list[pytest.Item] = []
    for i, share in enumerate(shares):
        size = (len(items) - len(ordered)) // (workers - i)  # as worksteal divides them
        ordered += share + list(itertools.islice(rest, max(0, size - len(share))))
    return ordered + list(rest)


def pytest_report_header() -> str:
    return f"clock: MARKET_TEST_NOW={os.environ['MARKET_TEST_NOW']} (set it to replay a run at that moment)"


def test_moment() -> datetime:
    return datetime.fromisoformat(os.environ["MARKET_TEST_NOW"]).astimezone(UTC)


test_moment.__test__ = False  # a helper, not a test, in the modules that import it


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("MARKET_TEST_DATABASE_URL")
    if not url:
        return f"sqlite+aiosqlite:///{tmp_root / 'market-test.db'}"
    # Under pytest-xdist each worker gets a database of its own, next to the one named.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return str(make_url(url).set(database=f"{make_url(url).database}_{worker}")) if worker else url


def _run_in_thread(fn, *args) -> None:
    """Alembic's env.py runs its own event loop; keep it off the test loop's thread."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)
        except BaseException as error:  # re-raised below
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


async def _reset_schema(url: str) -> None:
    await _create_database(url)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    except OSError as error:
        pytest.exit(f"PostgreSQL at {url} is not reachable: {error}", returncode=3)
    finally:
        await engine.dispose()


async def _create_database(url: str) -> None:
    """Create the (worker's) database if it is missing, from the server's maintenance database."""
    target = make_url(url)
    engine = create_async_engine(
        target.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{target.database}"'))
            # A test database needs no durability: commits need not wait for the disk.
            await conn.execute(text(f'ALTER DATABASE "{target.database}" SET synchronous_commit TO off'))
    except OSError as error:
        pytest.exit(f"PostgreSQL at {url} is not reachable: {error}", returncode=3)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _database_url(tmp_path_factory.mktemp("db"))
    if url.startswith("postgresql"):
        _run_in_thread(lambda: asyncio.run(_reset_schema(url)))
    _run_in_thread(migrate.upgrade, url)
    return url


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = engine_for(database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def between_tests(database_url: str) -> Iterator[BetweenTests]:
    between = BetweenTests(database_url)
    yield between
    between.close()


@pytest.fixture(autouse=True)
def _empty_database(request: pytest.FixtureRequest) -> None:
    """Each test that reaches the database starts from an empty one (the categories kept)."""
    if "database_url" in request.fixturenames:
        request.getfixturevalue("between_tests").run(_empty)


async def _empty(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await empty_tables(conn)
        await conn.execute(text("DELETE FROM service_categories WHERE code LIKE 'test%'"))


@pytest.fixture
def session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(test_moment())


@pytest.fixture
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        scheduler=False,
        secret_key=TEST_SECRET,
        # Never the working copy's ./var/photos: one folder per test session (and xdist worker).
        photo_storage=str(tmp_path_factory.getbasetemp() / "photos"),
    )


class RunningTestClock:
    """The clock the shared apps hold: it reads whichever clock the running test has."""

    def __init__(self) -> None:
        self.current: Clock = system_clock

    def __call__(self) -> datetime:
        return self.current()


_RUNNING_TEST_CLOCK = RunningTestClock()
_APPS: dict[Settings, Litestar] = {}


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Litestar:
    """The app under test. Building one registers 300-odd handlers (half a second), so each worker
    builds one per distinct settings and reuses it; the app keeps no state of its own between
    requests (the database holds it all)."""
    return _shared_app(settings, clock)


def _shared_app(settings: Settings, clock: FrozenClock) -> Litestar:
    _RUNNING_TEST_CLOCK.current = clock
    if settings not in _APPS:
        _APPS[settings] = create_app(settings, clock=_RUNNING_TEST_CLOCK)
    return _APPS[settings]


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as client:
        yield client


def another_client(client: AsyncTestClient, calling_from: str | None = None) -> AsyncTestClient:
    """A second client of `client`'s app with a cookie jar of its own (another phone, someone without
    a login), perhaps calling from another address, served on `client`'s event loop: the app's pooled
    connections belong to that loop."""
    app = client.app
    if calling_from is not None:

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await client.app({**scope, "client": (calling_from, 50000)}, receive, send)

    other = AsyncTestClient(app=app)
    other.blocking_portal = client.blocking_portal
    return other


@pytest.fixture
def world(between_tests: BetweenTests, settings: Settings, clock: FrozenClock) -> World:
    return between_tests.run(lambda engine: world_in(engine, settings, clock))


@pytest.fixture
def live_server(settings: Settings, clock: FrozenClock) -> Iterator[str]:
    """The app served by uvicorn in a thread, for tests that need truly parallel requests (the
    in-process test client handles one request at a time). Its engine has no pool: the test's
    client may use the other app at the same time, on another loop."""
    with serving(_shared_app(replace(settings, database_pool=False), clock)) as url:
        yield url


@contextlib.contextmanager
def serving(app: Litestar) -> Iterator[str]:
    """`app` served by uvicorn in a thread, on its own event loop, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    else:
        raise RuntimeError("the test server did not start")
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

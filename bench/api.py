"""API throughput: the product's endpoints against a floor app, under the same server and load.

    .venv/bin/python -m bench.api [--db sqlite,postgres] [--workers 1,2,4] [--endpoints me,order,...]
                                  [--duration 5] [--rounds 3] [--connections 8] [--baseline ../before]

For each database (a fresh SQLite file, and PostgreSQL: by default
postgresql+asyncpg://postgres@127.0.0.1:5432/bench_api, created with `createdb` when missing, its
`public` schema dropped and migrated again) the demo street is loaded, with 1,000 more residents (so
that POST /api/orders stays under the open-orders limit) and 20 volunteers. Before each accept point
they are offered more orders than it can accept: as many as the floor wrote just before, and a
quarter more. Before each write's point the orders earlier points left open are cancelled
(`cancel_open_orders`), so that every server starts from the same open and held orders, and before
each point PostgreSQL's statistics and visibility map are brought up to date (`fresh_statistics`).
Then for each worker count the floor app (below, served by `market.serving.serve_app`, what
`market serve` runs) and the product (`market serve`; with --baseline, another checkout's too,
measured in turn with this one's) are started, each measured once all its workers are serving, and
`wrk` (installed with apt-get when missing) drives each endpoint for --duration seconds with 8
connections, in --rounds rounds: in each, for each endpoint, the floor's point, then the endpoint's
on each server in turn, a different server first each round. This machine is shared: the same code
has served 0.24 and 0.34 of the floor in single points minutes apart, as its neighbours took CPU
time, so each ratio is the median of the rounds', each round's point against the floor measured just
before it. The table shows req/s, p50 and p99 and failed requests (of the round of median req/s) and
product ÷ floor, then the CPU time each request took in the server, in PostgreSQL and in wrk; with 1
and 2 workers, each server's 2-worker ÷ 1-worker req/s, the most the machine's CPUs allow it (as
many requests as they hold at the CPU time each took with 2 workers, over one worker's req/s) and
how many of them were busy with 2 workers.

The floor is the least any endpoint can cost through this stack: Litestar with the same JWT decode
and, per request, one primary-key SELECT (reads, in a read-only transaction) or one INSERT in a
write transaction (writes) through the same engine set-up (`market.db.create_engine`).

A write's own statements cost round trips the floor's one does not make. So each write is also
measured against the floor making as many statements in its transaction (primary-key SELECTs, then
its INSERT), the number counted by sending the write once to this checkout's product in-process
(`statements_of`): what is left between the two is the product's own work, not its round trips.

Targets (marked `<` when missed): reads ≥ 0.5 of the floor, writes ≥ 0.3, p99 ≤ 5 × p50, and on
PostgreSQL 2 workers ≥ 1.6 × one. Not part of the test suite (pytest collects only tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from litestar import Litestar, get, post
from litestar.connection import ASGIConnection
from litestar.security.jwt import JWTAuth
from litestar.testing import TestClient
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from market import demo, migrate
from market.app import create_app
from market.areas.models import Area
from market.auth.models import Role, User, UserRole
from market.auth.tokens import TOKEN_ALGORITHM, ServiceToken, issue_token
from market.clock import FrozenClock
from market.db import READ_ONLY, create_engine
from market.orders.models import (
    HELD_STATUSES,
    DispatchMode,
    Offer,
    OfferStatus,
    Order,
    OrderEvent,
    OrderStatus,
)
from market.serving import frozen
from market.settings import Settings
from market.volunteers.models import ServingArea, VolunteerProfile

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_api"
NOW = "2026-03-11T15:57:00+08:00"
SECRET = "bench-api-secret-" + "x" * 32
ENDPOINTS = ("me", "order", "orders", "offers", "post_order", "accept")
WRITES = {"post_order", "accept"}
LABELS = {
    "me": "GET /api/me",
    "order": "GET /api/orders/{id}",
    "orders": "GET /api/orders",
    "offers": "GET /api/offers",
    "post_order": "POST /api/orders",
    "accept": "POST /api/offers/{id}/accept",
}
# Each may have 10 orders open: 10,000 POSTs a point, whose orders are cancelled before the next one
# (`cancel_open_orders`).
POSTING_RESIDENTS = 1000
# Volunteers who accept (an accept locks the volunteer's profile: one volunteer would queue them).
TAKERS = 20
# Offers made for each second of an accept point, at least (see `offers_for`).
MIN_ACCEPTS_PER_SECOND = 500
# The demo's resident (who reads and whose building the orders are at), volunteer and grid worker.
DEMO_RESIDENT, DEMO_VOLUNTEER, DEMO_GRID_WORKER = "13700000000", "13900000000", "13800000020"
# The phone prefixes of the residents who post, those whose orders are offered, and the takers.
POSTER_PHONES, ASKER_PHONES, TAKER_PHONES = "136", "134", "135"
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- the floor app

_READ = text("SELECT id, name, phone FROM users WHERE id = :id")


def floor_app() -> Litestar:
    """Litestar, the product's JWT decode, one statement per request through the product's engine."""
    settings = Settings.from_env()
    engine = create_engine(settings)

    async def holder(token: ServiceToken, _connection: ASGIConnection) -> int | None:
        found = token.holder()
        return found[0] if found else None

    auth = JWTAuth[int](
        retrieve_user_handler=holder,
        token_secret=settings.secret_key,
        algorithm=TOKEN_ALGORITHM,
        token_cls=ServiceToken,
        verify_expiry=False,
        exclude=["^/health$"],
    )

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get("/floor")
    async def read(request: Any) -> dict[str, Any]:
        async with engine.connect() as conn:
            conn = await conn.execution_options(**{READ_ONLY: True})
            row = (await conn.execute(_READ, {"id": request.user})).one()
            await conn.commit()
        return {"id": row.id, "name": row.name, "phone": row.phone}

    @post("/floor/{statements:int}")
    async def write(request: Any, statements: int) -> dict[str, Any]:
        """The INSERT, after `statements` − 1 primary-key SELECTs in the same transaction."""
        body = await request.body()
        async with engine.begin() as conn:
            for _ in range(statements - 1):
                (await conn.execute(_READ, {"id": request.user})).one()
            await conn.execute(
                text("INSERT INTO bench_floor (user_id, body) VALUES (:user_id, :body)"),
                {"user_id": request.user, "body": body.decode()},
            )
        return {"user_id": request.user}

    return frozen(Litestar([health, read, write], on_app_init=[auth.on_app_init]))


# ---------------------------------------------------------------- data


@dataclass
class Fixture:
    resident_token: str
    volunteer_token: str
    order_id: int
    order_body: str
    poster_tokens: list[str]
    # Each taker's token by their id: an offer's volunteer accepts it.
    taker_tokens: dict[int, str]


@contextlib.asynccontextmanager
async def _sessions(url: str) -> AsyncIterator[tuple[Settings, async_sessionmaker[AsyncSession]]]:
    """The benchmark's settings and sessions on the database at `url`, through the product's engine."""
    settings = Settings(database_url=url, database_pool=False, secret_key=SECRET)
    engine = create_engine(settings)
    try:
        yield settings, async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


async def prepare(url: str) -> Fixture:
    """The demo street, residents who post, and volunteers to take offers (`add_offers`)."""
    now = datetime.fromisoformat(NOW)
    async with _sessions(url) as (settings, sessions):
        async with sessions() as session, session.begin():
            await demo.load_demo(session, now)
            await session.execute(
                text(
                    "CREATE TABLE bench_floor (id INTEGER PRIMARY KEY"
                    + ("" if url.startswith("sqlite") else " GENERATED ALWAYS AS IDENTITY")
                    + ", user_id INTEGER, body TEXT)"
                )
            )
        async with sessions() as session, session.begin():
            return await _fixture(session, settings, now)


def _order_fields(home: Area, now: datetime) -> dict[str, Any]:
    """What every benchmark order asks for: shopping, tomorrow, at the demo resident's building."""
    start = (now + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    return {
        "category": "shopping",
        "description": "帮忙买一周的米面油",
        "area_id": home.id,
        "window_start": start,
        "window_end": start + timedelta(hours=6),
    }


async def _fixture(session: AsyncSession, settings: Settings, now: datetime) -> Fixture:
    by_phone = {u.phone: u for u in await session.scalars(select(User))}
    resident, volunteer = by_phone[DEMO_RESIDENT], by_phone[DEMO_VOLUNTEER]
    home = await session.get(Area, resident.area_id)
    community = await session.scalar(select(Area).where(Area.code == home.code[:9]))
    order_id = await session.scalar(select(Order.id).where(Order.requester_id == resident.id).limit(1))

    def add(phone: str, roles: list[Role]) -> User:
        user = User(
            phone=phone,
            name="压测" + phone[-4:],
            area_id=home.id,
            is_active=True,
            created_at=now,
            role_rows=[UserRole(role=r) for r in roles],
        )
        session.add(user)
        return user

    posters = [add(f"{POSTER_PHONES}{i:08d}", [Role.resident]) for i in range(POSTING_RESIDENTS)]
    for i in range(TAKERS):
        add(f"{ASKER_PHONES}{i:08d}", [Role.resident])
    takers = [add(f"{TAKER_PHONES}{i:08d}", [Role.volunteer]) for i in range(TAKERS)]
    await session.flush()
    for taker in takers:
        session.add(
            VolunteerProfile(
                user_id=taker.id,
                capacity=10**6,
                rating_sum=0,
                rating_count=0,
                serving_areas=[ServingArea(area_id=community.id, area_code=community.code)],
            )
        )
    order = _order_fields(home, now)
    window = {k: order[k].isoformat() for k in ("window_start", "window_end")}
    return Fixture(
        resident_token=issue_token(settings, resident, now)[0],
        volunteer_token=issue_token(settings, volunteer, now)[0],
        order_id=order_id,
        order_body=json.dumps(order | window),
        poster_tokens=[issue_token(settings, p, now)[0] for p in posters],
        taker_tokens={t.id: issue_token(settings, t, now)[0] for t in takers},
    )


async def add_offers(url: str, fx: Fixture, count: int) -> list[tuple[int, str]]:
    """`count` orders dispatched to the takers in turn, each with its pending offer: (offer id, its
    volunteer's token). Written as the services would leave them (posted, then offered directly),
    in bulk: making thousands through the services takes minutes."""
    now = datetime.fromisoformat(NOW)
    asker_phones = [f"{ASKER_PHONES}{i:08d}" for i in range(TAKERS)]
    taker_phones = [f"{TAKER_PHONES}{i:08d}" for i in range(TAKERS)]
    phones = [DEMO_RESIDENT, DEMO_GRID_WORKER, *asker_phones, *taker_phones]
    async with _sessions(url) as (_settings, sessions), sessions() as session, session.begin():
        by_phone = {u.phone: u for u in await session.scalars(select(User).where(User.phone.in_(phones)))}
        home = await session.get(Area, by_phone[DEMO_RESIDENT].area_id)
        grid_worker = by_phone[DEMO_GRID_WORKER]
        askers = [by_phone[phone] for phone in asker_phones]
        takers = [by_phone[phone] for phone in taker_phones]
        order = _order_fields(home, now)
        offered = [
            Order(
                requester_id=askers[i % TAKERS].id,
                area_code=home.code,
                category_code=order["category"],
                description=order["description"],
                area_id=home.id,
                window_start=order["window_start"],
                window_end=order["window_end"],
                status=OrderStatus.dispatched,
                created_at=now,
                updated_at=now,
                events=[
                    OrderEvent(
                        actor_id=askers[i % TAKERS].id,
                        action="post",
                        to_status=OrderStatus.submitted,
                        at=now,
                    ),
                    OrderEvent(
                        actor_id=grid_worker.id,
                        action="dispatch",
                        from_status=OrderStatus.submitted,
                        to_status=OrderStatus.dispatched,
                        at=now,
                    ),
                ],
                offers=[
                    Offer(
                        volunteer_id=takers[i % TAKERS].id,
                        dispatched_by_id=grid_worker.id,
                        mode=DispatchMode.direct,
                        status=OfferStatus.pending,
                        created_at=now,
                        expires_at=now + timedelta(days=1),
                    )
                ],
            )
            for i in range(count)
        ]
        session.add_all(offered)
        await session.flush()
        return [(o.offers[0].id, fx.taker_tokens[o.offers[0].volunteer_id]) for o in offered]


async def cancel_open_orders(url: str) -> None:
    """The orders earlier points left open, cancelled in bulk: the posting residents' (each may have
    10 open, and a run's rounds and worker counts post more than that in all) and those the takers
    hold (every accept counts its taker's held orders: their growth from point to point would slow
    each point more than the one before)."""
    async with _sessions(url) as (_settings, sessions), sessions() as session, session.begin():
        posters = select(User.id).where(User.phone.startswith(POSTER_PHONES))
        takers = select(User.id).where(User.phone.startswith(TAKER_PHONES))
        posted = Order.requester_id.in_(posters) & (Order.status == OrderStatus.submitted)
        held = Order.volunteer_id.in_(takers) & Order.status.in_(HELD_STATUSES)
        await session.execute(update(Order).where(posted | held).values(status=OrderStatus.cancelled))


async def fresh_statistics(url: str) -> None:
    """VACUUM ANALYZE on PostgreSQL, as autovacuum does on a running database once enough rows are
    written: this machine's PostgreSQL runs without it (CI's settings). Without statistics its
    planner works from guesses that a running database's never does; without a vacuum, no page
    written since is marked all-visible (the visibility map), so an index-only scan is costed as
    reading each row's table page too. The plans measured would be none that serves a street."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    async with _sessions(url) as (_settings, sessions), sessions() as session:
        # VACUUM cannot run inside a transaction.
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        await connection.execute(text("VACUUM ANALYZE"))


# ---------------------------------------------------------------- load


@dataclass
class Point:
    rps: float
    p50_ms: float
    p99_ms: float
    failed: int
    busy_cores: float  # of the whole machine while wrk ran: the server, the database and wrk
    # CPU time per request, in ms: the server's processes, PostgreSQL's (none on SQLite), wrk's.
    server_ms: float
    database_ms: float
    wrk_ms: float


@dataclass
class Served:
    url: str
    group: int  # the server's process group: its supervisor and workers


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        print("-- installing wrk with apt-get", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is missing and apt-get did not install it")
    return found


# A wrk script sending the requests of the file named after `--` in turn, one a line: method, path,
# token and body (empty for none), separated by tabs. They are read at start, not written into the
# script as constants: LuaJIT refuses a function of more than 65,536, and wrk then sends `GET /`.
_SCRIPT = """
local prepared = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
    prepared[#prepared + 1] = wrk.format(method, path, headers, body ~= "" and body or nil)
  end
  if #prepared == 0 then error("no requests in " .. args[1]) end
end
function request()
  i = i + 1
  if i > #prepared then i = 1 end
  return prepared[i]
end
"""


def _request_lines(requests: list[tuple[str, str, str, str | None]]) -> str:
    rows = ["\t".join((*request[:3], request[3] or "")) for request in requests]
    if any(row.count("\t") != 3 or "\n" in row for row in rows):
        raise ValueError("a request holds a tab or a line break")
    return "".join(row + "\n" for row in rows)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, server: Served, requests: list, duration: int, connections: int) -> Point:
    with tempfile.TemporaryDirectory() as folder:
        script, lines = Path(folder, "requests.lua"), Path(folder, "requests.tsv")
        script.write_text(_SCRIPT)
        lines.write_text(_request_lines(requests), encoding="utf-8")
        command = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script)]
        busy_before, all_before = _cpu_ticks()
        cpu_before, wrk_before = _cpu_of(server.group), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([*command, server.url, "--", str(lines)], capture_output=True, text=True)
        busy_after, all_after = _cpu_ticks()
        cpu_after, wrk_after = _cpu_of(server.group), resource.getrusage(resource.RUSAGE_CHILDREN)
    # A script that fails to load is reported on stderr, and wrk may still exit 0, having sent `GET /`.
    if done.returncode != 0 or done.stderr.strip():
        sys.exit(f"wrk failed (exit {done.returncode}): {done.stderr.strip()}")
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, errors.groups())) if errors else 0)
    busy_cores = (busy_after - busy_before) / max(all_after - all_before, 1) * os.cpu_count()
    per_request = 1000 / max(int(re.search(r"(\d+) requests in", out).group(1)), 1)
    wrk_seconds = sum(getattr(wrk_after, f) - getattr(wrk_before, f) for f in ("ru_utime", "ru_stime"))
    return Point(
        rps,
        p50,
        p99,
        failed,
        busy_cores,
        server_ms=(cpu_after[0] - cpu_before[0]) * per_request,
        database_ms=(cpu_after[1] - cpu_before[1]) * per_request,
        wrk_ms=wrk_seconds * per_request,
    )


def _cpu_of(group: int) -> tuple[float, float]:
    """CPU seconds so far of the processes in `group`, and of PostgreSQL's (Linux's /proc)."""
    server = database = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            name, _, rest = stat.read_text().rpartition(") ")
            fields = rest.split()
            ticks = int(fields[11]) + int(fields[12])  # user and system time
            if int(fields[2]) == group:
                server += ticks
            elif name.endswith("(postgres"):
                database += ticks
    hz = os.sysconf("SC_CLK_TCK")
    return server / hz, database / hz


def _cpu_ticks() -> tuple[int, int]:
    """(busy, all) time of the machine's CPUs so far, in ticks (Linux's /proc/stat)."""
    # user, nice, system, idle, iowait, irq, softirq, steal (the guests' time is in user and nice)
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    return sum(ticks) - idle, sum(ticks)


@contextlib.contextmanager
def served(root: Path | None, url: str, workers: int):
    """`market serve` of the checkout at `root`, or with `root` None the floor app served by this
    checkout's `market.serving.serve_app` (what `market serve` runs), in a child process until the
    block ends; yields its address and process group."""
    port = _free_port()
    env = {
        **os.environ,
        "MARKET_DATABASE_URL": url,
        "MARKET_SECRET_KEY": SECRET,
        "MARKET_NOW": NOW,
        "MARKET_SCHEDULER": "off",
    }
    if root is None:
        code = (
            "from market.serving import serve_app; from market.settings import Settings; "
            f"serve_app('bench.api:floor_app', '127.0.0.1', {port}, {workers}, "
            "Settings.from_env().worker_timeout_seconds)"
        )
        command = [sys.executable, "-c", code]
    else:
        command = [
            sys.executable,
            "-m",
            "market.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    with tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log") as log:
        child = subprocess.Popen(
            command,
            cwd=root or ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            # Every worker, not only the first to answer: connections opened while one is still starting
            # all go to the others, and wrk keeps them for the whole point.
            deadline = time.monotonic() + 60
            while True:
                said = Path(log.name).read_text(errors="replace")
                if said.count("Application startup complete.") >= workers:
                    with contextlib.suppress(OSError):
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                        break
                if child.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"{' '.join(command)} did not start (in {root or ROOT}):\n{said[-2000:]}")
                time.sleep(0.2)
            yield Served(f"http://127.0.0.1:{port}", group=child.pid)
        finally:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the run


def product_requests(fx: Fixture, endpoint: str, accepts: list[tuple[int, str]]) -> list:
    get_ = {
        "me": ("/api/me", fx.resident_token),
        "order": (f"/api/orders/{fx.order_id}", fx.resident_token),
        "orders": ("/api/orders", fx.resident_token),
        "offers": ("/api/offers", fx.volunteer_token),
    }
    if endpoint in get_:
        path, token = get_[endpoint]
        return [("GET", path, token, None)]
    if endpoint == "post_order":
        return [("POST", "/api/orders", t, fx.order_body) for t in fx.poster_tokens]
    return [("POST", f"/api/offers/{offer}/accept", token, None) for offer, token in accepts]


def floor_requests(fx: Fixture, endpoint: str, statements: int = 1) -> list:
    if endpoint in WRITES:
        return [("POST", f"/floor/{statements}", fx.resident_token, fx.order_body)]
    return [("GET", "/floor", fx.resident_token, None)]


def statements_of(url: str, request: tuple[str, str, str, str | None]) -> int:
    """The SQL statements this checkout's product sends for `request` (made once, in-process),
    BEGIN, COMMIT and the pool's ping aside, as the floor's are: a floor making as many
    (`/floor/{statements}`) shows what those round trips cost alone, and the rest is the product's."""
    counted = 0

    def count(*_args: Any) -> None:
        nonlocal counted
        counted += 1

    settings = Settings(database_url=url, secret_key=SECRET, scheduler=False)
    app = create_app(settings, clock=FrozenClock(datetime.fromisoformat(NOW)))
    method, path, token, body = request
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line for the one request
    with TestClient(app) as client:
        event.listen(Engine, "before_cursor_execute", count)
        try:
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, content=body, timeout=60
            )
        finally:
            event.remove(Engine, "before_cursor_execute", count)
    if not response.is_success:
        sys.exit(f"{method} {path} failed while its statements were counted: {response.text[:500]}")
    return counted


# (server, workers, endpoint): a point for each round; the floor's, each measured just before the
# endpoint's, under "floor" and, for a write, the floor making as many statements under
# STATEMENTS_FLOOR.
Results = dict[tuple[str, int, str], list[Point]]
STATEMENTS_FLOOR = "floor of as many statements"


def typical(points: list[Point]) -> Point:
    """The round of median req/s (the lower of the middle two for an even number of rounds)."""
    return sorted(points, key=lambda p: p.rps)[(len(points) - 1) // 2]


def ratio(points: list[Point], floors: list[Point]) -> float:
    """The median over the rounds of each round's req/s over its floor's, measured just before it:
    a machine that slows for a while slows both, and the ratio stays."""
    ratios = sorted(p.rps / f.rps for p, f in zip(points, floors, strict=True))
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def floor_kind(endpoint: str) -> str:
    return "write" if endpoint in WRITES else "read"


# The least product ÷ floor each kind of endpoint is to reach.
TARGETS = {"read": 0.5, "write": 0.3}


def offers_for(floor_writes: Point, duration: int, connections: int) -> int:
    """Offers enough for an accept point: more than it can accept, or wrk sends the first ones again
    and they fail (already accepted). An accept does more than the floor's one INSERT a request, so
    the floor's writes in the same run bound it; a quarter more, and never fewer than
    `MIN_ACCEPTS_PER_SECOND`, leave room for a floor measured in a slow moment."""
    return int(max(floor_writes.rps, MIN_ACCEPTS_PER_SECOND) * duration * 1.25) + connections


def measure(args: argparse.Namespace, name: str, url: str, wrk: str) -> tuple[Results, dict[str, int]]:
    """For each worker count, --rounds rounds of: for each endpoint, the floor's point (and a write's
    floor making as many statements), then the endpoint's on each server in turn, a different one
    first each round; and the statements each write sends (`statements_of`)."""
    products = {"product": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
    started = time.monotonic()
    fx = asyncio.run(prepare(url))
    asyncio.run(fresh_statistics(url))
    print(f"-- {name}: data ready in {time.monotonic() - started:.0f} s", flush=True)
    results: Results = collections.defaultdict(list)
    statements = {}
    for endpoint in [e for e in args.endpoints if e in WRITES]:
        accepts = asyncio.run(add_offers(url, fx, 1)) if endpoint == "accept" else []
        statements[endpoint] = statements_of(url, product_requests(fx, endpoint, accepts)[0])

    def point(server: Served, requests: list) -> Point:
        return run_wrk(wrk, server, requests, args.duration, args.connections)

    for workers in args.workers:
        with contextlib.ExitStack() as servers:
            floor = servers.enter_context(served(None, url, workers))
            point(floor, floor_requests(fx, "me"))  # warm-up
            bases = []
            for label, root in products.items():
                bases.append((label, servers.enter_context(served(root, url, workers))))
                point(bases[-1][1], product_requests(fx, "me", []))  # warm-up
            for round_ in range(args.rounds):
                in_turn = bases[round_ % len(bases) :] + bases[: round_ % len(bases)]
                for endpoint in args.endpoints:
                    kind = floor_kind(endpoint)
                    floor_point = point(floor, floor_requests(fx, "post_order" if kind == "write" else "me"))
                    results[("floor", workers, endpoint)].append(floor_point)
                    if endpoint in statements:
                        requests = floor_requests(fx, endpoint, statements[endpoint])
                        results[(STATEMENTS_FLOOR, workers, endpoint)].append(point(floor, requests))
                    for label, base in in_turn:
                        accepts = []
                        if endpoint in WRITES:
                            asyncio.run(cancel_open_orders(url))
                        if endpoint == "accept":
                            count = offers_for(floor_point, args.duration, args.connections)
                            accepts = asyncio.run(add_offers(url, fx, count))
                        # What the points before wrote, and the orders and offers just made.
                        asyncio.run(fresh_statistics(url))
                        measured = point(base, product_requests(fx, endpoint, accepts))
                        results[(label, workers, endpoint)].append(measured)
                        print(
                            f"   {name} round {round_ + 1} {label} w={workers} {LABELS[endpoint]}:"
                            f" {measured.rps:.0f} req/s",
                            flush=True,
                        )
    return results, statements


def report(name: str, measured: tuple[Results, dict[str, int]], args: argparse.Namespace) -> None:
    results, statements = measured
    rounds = f"median of {args.rounds} rounds, " if args.rounds > 1 else ""
    print(
        f"\n{name}: req/s, p50 and p99 in ms, failed requests ({rounds}the round of median req/s);"
        " ratio = product ÷ floor, each round against its own floor's (< : below target)"
    )
    servers = ["product"] + (["baseline"] if args.baseline else [])
    head = f"{'endpoint':<30}{'w':>2}{'floor/s':>8}{'p50':>6}{'p99':>7}"
    for label in servers:
        head += f" | {label + '/s':>10}{'p50':>7}{'p99':>7}{'fail':>5}{'ratio':>7}{'p99/p50':>8}"
    print(head + (f" | {'product ÷ baseline':>18}" if args.baseline else ""))
    for endpoint in args.endpoints:
        for w in args.workers:
            floors = results[("floor", w, endpoint)]
            f = typical(floors)
            line = f"{LABELS[endpoint]:<30}{w:>2}{f.rps:>8.0f}{f.p50_ms:>6.1f}{f.p99_ms:>7.1f}"
            for label in servers:
                p = typical(results[(label, w, endpoint)])
                of_floor = ratio(results[(label, w, endpoint)], floors)
                tail = p.p99_ms / p.p50_ms if p.p50_ms else 0.0
                low = of_floor < TARGETS[floor_kind(endpoint)]
                line += f" | {p.rps:>10.0f}{p.p50_ms:>7.1f}{p.p99_ms:>7.1f}{p.failed:>5}"
                line += f"{of_floor:>6.3f}{'<' if low else ' '}{tail:>7.1f}{'<' if tail > 5 else ' '}"
            if args.baseline:
                gain = ratio(results[("product", w, endpoint)], results[("baseline", w, endpoint)])
                line += f" | {gain:>18.2f}"
            print(line)
    print("CPU ms per request: the server's processes / PostgreSQL's / wrk's")
    print(f"{'endpoint':<30}{'w':>2}" + "".join(f"{label:>22}" for label in ["floor", *servers]))
    for endpoint in args.endpoints:
        for w in args.workers:
            keys = [("floor", w, endpoint), *((label, w, endpoint) for label in servers)]
            points = [typical(results[key]) for key in keys]
            cpu = "".join(f"{p.server_ms:>10.2f} /{p.database_ms:>5.2f} /{p.wrk_ms:>4.2f}" for p in points)
            print(f"{LABELS[endpoint]:<30}{w:>2}{cpu}")
    if statements:
        print(
            "Writes against a floor making as many statements in its transaction (primary-key SELECTs,"
            " then its INSERT), and the server's CPU ms a request of that floor took:"
        )
        # This checkout's statements: a baseline's writes may send other numbers of them.
        print(f"{'endpoint':<30}{'w':>2}{'statements':>11}{'floor/s':>9}{'CPU ms':>8}{'product ÷':>11}")
        for endpoint, count in statements.items():
            for w in args.workers:
                floors = results[(STATEMENTS_FLOOR, w, endpoint)]
                f = typical(floors)
                line = f"{LABELS[endpoint]:<30}{w:>2}{count:>11}{f.rps:>9.0f}{f.server_ms:>8.2f}"
                print(f"{line}{ratio(results[('product', w, endpoint)], floors):>11.3f}")
    if 1 in args.workers and 2 in args.workers:
        # With 2 workers on 2 CPUs the machine runs out before the workers do: the database and wrk
        # share the CPUs, so a server scales only as far as they leave it room (the floor as well).
        # The most 2 workers can give is what the CPUs hold of requests at the CPU each took (the
        # server's, the database's and wrk's), over one worker's rate; and never more than two
        # workers of one CPU each, or wrk's one thread, hold (where the machine has more CPUs).
        print(
            f"2 workers ÷ 1 (target ≥ 1.6 on PostgreSQL), the most the {os.cpu_count()} CPUs allow,"
            " and the CPUs busy with 2 workers:"
        )
        for endpoint in args.endpoints:
            line = f"  {LABELS[endpoint]:<30}"
            for label in ["floor", *servers]:
                one, two = typical(results[(label, 1, endpoint)]), typical(results[(label, 2, endpoint)])
                # (CPUs, CPU ms a request took of them)
                shares = [
                    (os.cpu_count(), two.server_ms + two.database_ms + two.wrk_ms),
                    (2, two.server_ms),
                    (1, two.wrk_ms),
                ]
                most = min(cpus * 1000 / ms for cpus, ms in shares if ms > 0) / one.rps
                line += f"{label} {two.rps / one.rps:.2f} of {most:.2f} ({two.busy_cores:.2f})  "
            print(line)


def _postgres(url: str) -> str | None:
    """Reset (or create) the PostgreSQL database and migrate it; None when it worked, else why not."""
    u = make_url(url)

    async def reset() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(reset())
    except Exception as error:
        if "does not exist" not in str(error) or not shutil.which("createdb"):
            return f"{type(error).__name__}: {str(error).splitlines()[0]}"
        command = ["createdb", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432)]
        done = subprocess.run([*command, "-U", u.username or "postgres", u.database], capture_output=True)
        if done.returncode != 0:
            return f"createdb failed: {done.stderr.decode().strip()}"
    migrate.upgrade(url)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--db", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, e.g. 1,2,4")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="of " + ", ".join(ENDPOINTS))
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per point")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--rounds", type=int, default=3, help="points of each endpoint, each after its floor's (medians)"
    )
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES, help="the PostgreSQL to reset and use")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of the project (e.g. `git worktree add --detach ../before main`) whose "
        "`market serve` is measured too, in turn with this one's, against the same floor",
    )
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    args.endpoints = list(dict.fromkeys(e for e in args.endpoints.split(",") if e))
    if unknown := set(args.endpoints) - set(ENDPOINTS):
        parser.error(f"unknown endpoints {sorted(unknown)}")
    if not make_url(args.database_url).database.startswith("bench"):
        parser.error("the PostgreSQL database's name must start with bench: its schema is dropped")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    wrk = ensure_wrk()
    rounds = f"{args.rounds} round{'s' if args.rounds > 1 else ''}"
    print(
        f"-- wrk -t1 -c{args.connections}, {args.duration:g} s a point, {rounds}, {os.cpu_count()} CPUs",
        flush=True,
    )
    for name in args.db.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                migrate.upgrade(url)
                report("SQLite", measure(args, "SQLite", url, wrk), args)
        elif name == "postgres":
            if problem := _postgres(args.database_url):
                print(f"-- PostgreSQL skipped: {problem}")
                continue
            report("PostgreSQL", measure(args, "PostgreSQL", args.database_url, wrk), args)
        else:
            parser.error(f"unknown database {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Scheduled jobs: run records, the per-job lock, cancellation at shutdown, `market worker`
and the administrators' view of the runs."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import migrate
from market import scheduler as scheduler_module
from market.app import create_app
from market.clock import FrozenClock
from market.jobs.models import JobOutcome, JobRun
from market.jobs.service import lock_key
from market.notifications.models import Notification, NotificationCode
from market.notifications.service import notify
from market.orders.models import Order
from market.orders.service import escalate_orders
from market.scheduler import Job, jobs, run_job, running_scheduler
from market.settings import Settings
from tests.conftest import _run_in_thread
from tests.world import World

ROOT = Path(__file__).resolve().parent.parent
HOUR = timedelta(hours=1)


async def count(session_maker: async_sessionmaker[AsyncSession], model: type, *where: object) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def records(session_maker: async_sessionmaker[AsyncSession]) -> list[JobRun]:
    async with session_maker() as session:
        return list(await session.scalars(select(JobRun).order_by(JobRun.id)))


async def late_order(client: AsyncTestClient, world: World, clock: FrozenClock) -> int:
    """An order no one took for an hour: the escalation job has one thing to do."""
    start = clock() + timedelta(days=2)
    body = world.order_body(window_start=start.isoformat(), window_end=(start + HOUR).isoformat())
    r = await client.post("/api/orders", json=body, headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    clock.advance(HOUR)
    return r.json()["id"]


def escalate(settings: Settings) -> Job:
    return lambda session, now: escalate_orders(session, now, settings)


def blocking(work: Job, inside: asyncio.Event) -> Job:
    """`work`, then wait until cancelled, with its changes flushed but not committed."""

    async def job(session: AsyncSession, now: datetime) -> int:
        await work(session, now)
        await session.flush()
        inside.set()
        await asyncio.Event().wait()  # until cancelled
        return 0

    return job


# ---------------------------------------------------------------- run records


async def test_a_run_is_recorded_with_what_it_handled(
    session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    async def job(_session: AsyncSession, now: datetime) -> int:
        assert now == clock()
        return 3

    run = await run_job(session_maker, clock, "count_to_three", job)

    (stored,) = await records(session_maker)
    assert (stored.job, stored.outcome, stored.handled, stored.error) == (
        "count_to_three",
        JobOutcome.succeeded,
        3,
        None,
    )
    assert (stored.started_at, stored.finished_at) == (clock(), clock())
    assert (stored.host, stored.pid) == (socket.gethostname(), os.getpid())
    assert run.id == stored.id


async def test_a_failed_run_changes_nothing_and_still_leaves_its_record(
    session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock, world: World
) -> None:
    async def job(session: AsyncSession, now: datetime) -> int:
        await notify(
            session, [world.id("resident")], NotificationCode.earlier_message, now, title="half done", body=""
        )
        await session.flush()
        raise RuntimeError("the pool ran dry")

    run = await run_job(session_maker, clock, "half_done", job)

    assert (run.outcome, run.error) == (JobOutcome.failed, "RuntimeError: the pool ran dry")
    assert await count(session_maker, Notification) == 0
    assert [(r.job, r.outcome) for r in await records(session_maker)] == [("half_done", "failed")]


async def test_a_cancelled_run_leaves_no_changes(
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
    client: AsyncTestClient,
    world: World,
) -> None:
    order_id = await late_order(client, world, clock)
    inside = asyncio.Event()
    task = asyncio.create_task(
        run_job(session_maker, clock, "escalate_orders", blocking(escalate(settings), inside))
    )
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await count(session_maker, Order, Order.escalation_level.is_not(None)) == 0
    assert await count(session_maker, Notification) == 0
    assert [r.outcome for r in await records(session_maker)] == ["cancelled"]
    # The next run does the work the cancelled one gave up.
    assert (await run_job(session_maker, clock, "escalate_orders", escalate(settings))).handled == 1
    assert await count(session_maker, Order, Order.id == order_id, Order.escalation_level == "grid") == 1


async def test_stopping_the_scheduler_cancels_a_run_in_flight_and_keeps_nothing_of_it(
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
    client: AsyncTestClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await late_order(client, world, clock)
    inside = asyncio.Event()
    monkeypatch.setattr(
        scheduler_module, "jobs", lambda _settings: {"blocker": (blocking(escalate(settings), inside), 3600)}
    )
    async with running_scheduler(session_maker, clock, settings):
        await asyncio.wait_for(inside.wait(), 10)  # the first run starts at once

    assert await count(session_maker, Order, Order.escalation_level.is_not(None)) == 0
    assert await count(session_maker, Notification) == 0
    assert [(r.job, r.outcome) for r in await records(session_maker)] == [("blocker", "cancelled")]


# ---------------------------------------------------------------- two schedulers


async def test_two_runs_of_one_job_at_once_do_its_work_once(
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
    client: AsyncTestClient,
    world: World,
    is_postgres: bool,
) -> None:
    await late_order(client, world, clock)
    runs = await asyncio.gather(
        *(run_job(session_maker, clock, "escalate_orders", escalate(settings)) for _ in range(2))
    )
    # PostgreSQL skips the run that finds the lock taken (or, if they did not overlap, the second
    # finds nothing to do); SQLite lets them in one after the other.
    outcomes = sorted((r.outcome, r.handled) for r in runs)
    assert outcomes in ([("skipped", 0), ("succeeded", 1)], [("succeeded", 0), ("succeeded", 1)])
    if not is_postgres:
        assert outcomes == [("succeeded", 0), ("succeeded", 1)]
    assert await count(session_maker, Notification, Notification.code == NotificationCode.escalation) == 1


async def test_a_second_scheduler_skips_a_job_the_first_is_running(
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
    client: AsyncTestClient,
    world: World,
    is_postgres: bool,
) -> None:
    if not is_postgres:
        pytest.skip("the advisory lock is PostgreSQL's; SQLite's writers wait for each other")
    await late_order(client, world, clock)
    inside, release = asyncio.Event(), asyncio.Event()

    async def first_job(session: AsyncSession, now: datetime) -> int:
        handled = await escalate_orders(session, now, settings)
        inside.set()
        await release.wait()
        return handled

    async def must_not_run(_session: AsyncSession, _now: datetime) -> int:
        raise AssertionError("ran while another scheduler held the job")

    async def nothing(_session: AsyncSession, _now: datetime) -> int:
        return 0

    first = asyncio.create_task(run_job(session_maker, clock, "escalate_orders", first_job))
    await inside.wait()
    second = await run_job(session_maker, clock, "escalate_orders", must_not_run)
    other = await run_job(session_maker, clock, "expire_offers", nothing)  # another job, another lock
    release.set()
    first_run = await first

    assert (second.outcome, second.handled, second.error) == ("skipped", 0, None)
    assert other.outcome == "succeeded"
    assert (first_run.outcome, first_run.handled) == ("succeeded", 1)
    assert await count(session_maker, Notification, Notification.code == NotificationCode.escalation) == 1
    assert await count(session_maker, JobRun, JobRun.outcome == "skipped") == 1
    assert lock_key("escalate_orders") != lock_key("expire_offers")


# ---------------------------------------------------------------- where the scheduler runs


async def test_the_app_runs_every_job_when_its_scheduler_is_on(
    session_maker: async_sessionmaker[AsyncSession], settings: Settings, clock: FrozenClock
) -> None:
    app: Litestar = create_app(dataclasses.replace(settings, scheduler=True), clock=clock)
    expected = set(jobs(settings))
    async with AsyncTestClient(app=app):
        for _ in range(200):
            done = {r.job for r in await records(session_maker)}
            if done >= expected:
                break
            await asyncio.sleep(0.05)
    runs = await records(session_maker)
    assert {r.job for r in runs} == expected
    assert {r.outcome for r in runs} <= {"succeeded", "cancelled"}, [(r.job, r.error) for r in runs]


def test_market_worker_runs_the_jobs_alone_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, is_postgres: bool
) -> None:
    if is_postgres:
        pytest.skip("runs on its own SQLite file; once is enough")
    path = tmp_path / "worker.db"
    url = f"sqlite+aiosqlite:///{path}"
    _run_in_thread(migrate.upgrade, url)
    env = {**os.environ, "MARKET_DATABASE_URL": url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "market.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    expected = set(jobs(Settings()))
    try:
        # Generous: on a loaded machine starting the worker alone takes seconds.
        deadline = time.monotonic() + 180
        done: set[str] = set()
        while time.monotonic() < deadline and done != expected and worker.poll() is None:
            time.sleep(0.2)
            with sqlite3.connect(path) as db:
                done = {job for (job,) in db.execute("SELECT DISTINCT job FROM job_runs")}
        worker.send_signal(signal.SIGINT)
        output, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert done == expected, output
    assert worker.returncode == 0, output
    assert "scheduler running" in output
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT DISTINCT outcome FROM job_runs").fetchall() == [("succeeded",)]


# ---------------------------------------------------------------- the administrators' view


async def seed_runs(session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock) -> None:
    t = clock()
    rows = [
        ("expire_offers", "succeeded", t - 3 * HOUR, 2, None),
        ("expire_offers", "failed", t - 2 * HOUR, 0, "RuntimeError: boom"),
        ("escalate_orders", "skipped", t - 90 * timedelta(minutes=1), 0, None),
        ("expire_offers", "succeeded", t - HOUR, 0, None),
    ]
    async with session_maker() as session, session.begin():
        session.add_all(
            JobRun(
                job=job,
                outcome=outcome,
                started_at=at,
                finished_at=at + timedelta(seconds=1.5),
                handled=handled,
                error=error,
                host="worker-1",
                pid=42,
            )
            for job, outcome, at, handled, error in rows
        )


async def test_administrators_read_the_runs_newest_first_and_filtered(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await seed_runs(session_maker, clock)
    headers = world.auth("admin")

    r = await client.get("/api/admin/jobs", headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 4
    assert [(i["job"], i["outcome"]) for i in page["items"]] == [
        ("expire_offers", "succeeded"),
        ("escalate_orders", "skipped"),
        ("expire_offers", "failed"),
        ("expire_offers", "succeeded"),
    ]
    assert page["items"][0]["seconds"] == 1.5 and page["items"][0]["host"] == "worker-1"

    r = await client.get("/api/admin/jobs", params={"job": "expire_offers", "limit": 1}, headers=headers)
    assert (r.json()["total"], len(r.json()["items"])) == (3, 1)
    r = await client.get("/api/admin/jobs", params={"outcome": "failed"}, headers=headers)
    assert [i["error"] for i in r.json()["items"]] == ["RuntimeError: boom"]

    r = await client.get("/api/admin/jobs/summary", headers=headers)
    assert r.status_code == 200, r.text
    summary = {s["job"]: s for s in r.json()}
    assert set(summary) == set(jobs(world.settings))
    offers = summary["expire_offers"]
    assert offers["every_seconds"] == 60
    assert offers["last_run"]["outcome"] == "succeeded"
    assert datetime.fromisoformat(offers["last_success_at"]) == clock() - HOUR
    assert offers["last_failure"]["error"] == "RuntimeError: boom"
    assert summary["escalate_orders"]["last_run"]["outcome"] == "skipped"
    assert summary["escalate_orders"]["last_success_at"] is None
    assert summary["expire_points"]["last_run"] is None


@pytest.mark.parametrize(
    "who", ["street_admin", "manager", "grid_worker", "unit_admin", "volunteer", "resident"]
)
async def test_only_administrators_see_the_runs(client: AsyncTestClient, world: World, who: str) -> None:
    for path in ("/api/admin/jobs", "/api/admin/jobs/summary"):
        r = await client.get(path, headers=world.auth(who))
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "role_required"


async def test_old_run_records_are_purged(
    session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock, settings: Settings
) -> None:
    await seed_runs(session_maker, clock)
    clock.advance(timedelta(days=settings.job_runs_keep_days) - 75 * timedelta(minutes=1))

    run = await run_job(session_maker, clock, "purge_job_runs", jobs(settings)["purge_job_runs"][0])

    assert run.handled == 3  # the three started more than 30 days before the clock
    assert [(r.job, r.outcome) for r in await records(session_maker)] == [
        ("expire_offers", "succeeded"),
        ("purge_job_runs", "succeeded"),
    ]

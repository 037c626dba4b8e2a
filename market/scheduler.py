"""Scheduled jobs on APScheduler 3, started inside the app's lifespan or by `market worker`.

Several schedulers may run against one database (API processes with MARKET_SCHEDULER=on,
one or more `market worker`s). Each run is one transaction that first takes the job's lock
(an advisory lock on PostgreSQL; a run that cannot get it is skipped), and the jobs
re-check every row under its row lock, so nothing is done twice even without that lock.
Every run leaves a record in `job_runs`, written in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth import throttle
from market.clock import Clock
from market.credit import service as credit
from market.dispatch import offers
from market.dispatch import service as dispatch
from market.idempotency import purge_idempotency_keys
from market.jobs import service as job_runs
from market.jobs.models import JobOutcome, JobRun
from market.ledger import engine
from market.ledger import service as ledger
from market.orders import service as orders
from market.projects import service as projects
from market.reports import service as reports
from market.rewards import service as rewards
from market.settings import Settings
from market.shifts import service as shifts
from market.wishes import service as wishes

log = logging.getLogger(__name__)

Job = Callable[[AsyncSession, datetime], Awaitable[int]]


def jobs(settings: Settings) -> dict[str, tuple[Job, int]]:
    """name -> (job, seconds between runs)."""
    tz = settings.tz
    return {
        "expire_offers": (offers.expire_offers, 60),
        "offer_to_preferred": (lambda s, now: offers.offer_to_preferred(s, now, settings), 60),
        "expire_orders": (orders.expire_orders, 300),
        "auto_dispatch": (
            lambda s, now: dispatch.auto_dispatch(s, now, settings),
            settings.auto_dispatch_seconds,
        ),
        "escalate_orders": (lambda s, now: orders.escalate_orders(s, now, settings), 60),
        "auto_confirm_orders": (
            lambda s, now: orders.auto_confirm_orders(s, now, tz, settings.auto_confirm_days),
            900,
        ),
        "expire_wishes": (wishes.expire_wishes, 300),
        "warn_closing_projects": (lambda s, now: projects.warn_closing_projects(s, now, settings), 900),
        "close_due_projects": (lambda s, now: projects.close_due_projects(s, now, settings), 300),
        "escalate_responsibilities": (
            lambda s, now: projects.escalate_responsibilities(s, now, settings),
            300,
        ),
        "record_shift_no_shows": (shifts.record_no_shows, 300),
        "expire_pending_transfers": (engine.expire_pending, 60),
        "award_resident_credit": (lambda s, now: credit.award_credit(s, now, tz), 900),
        "post_owed_rewards": (lambda s, now: ledger.post_owed_rewards(s, now, tz), 300),
        "expire_points": (lambda s, now: ledger.expire_points(s, now, tz), 3600),
        "check_journal": (ledger.check_journal, 86400),
        "roll_up_points": (lambda s, now: reports.roll_up_points(s, now, tz), 3600),
        "expire_redemptions": (lambda s, now: rewards.expire_redemptions(s, now, tz), 300),
        "purge_idempotency_keys": (purge_idempotency_keys, 3600),
        "purge_dispatch_plans": (
            lambda s, now: dispatch.purge_plans(s, now, settings.plan_keep_days),
            3600,
        ),
        "purge_failed_attempts": (
            lambda s, now: throttle.purge_failed_attempts(s, now, settings.failed_attempts_keep_days),
            3600,
        ),
        "purge_job_runs": (
            lambda s, now: job_runs.purge_job_runs(s, now, settings.job_runs_keep_days),
            3600,
        ),
    }


async def run_job(
    session_maker: async_sessionmaker[AsyncSession], clock: Clock, name: str, job: Job
) -> JobRun:
    """Run one job in its own transaction and record the run.

    A failure or a cancellation rolls back everything the run did; the record of it is
    written afterwards, in a transaction of its own, so it survives either.
    """
    run = JobRun(
        job=name,
        outcome=JobOutcome.succeeded,
        started_at=clock(),
        handled=0,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
    )
    try:
        async with session_maker() as session, session.begin():
            if await job_runs.try_job_lock(session, name):
                run.handled = await job(session, run.started_at)
            else:
                run.outcome = JobOutcome.skipped
    except asyncio.CancelledError:
        run.outcome = JobOutcome.cancelled
        await _record(session_maker, clock, run)
        raise
    except Exception as error:
        log.exception("job %s failed", name)
        run.outcome, run.error = JobOutcome.failed, job_runs.error_text(error)
    if run.handled:
        log.info("job %s handled %d item(s)", name, run.handled)
    await _record(session_maker, clock, run)
    return run


async def _record(session_maker: async_sessionmaker[AsyncSession], clock: Clock, run: JobRun) -> None:
    run.finished_at = clock()
    try:
        async with session_maker() as session, session.begin():
            session.add(run)
    except Exception:
        # A lost record must not turn a finished run into a failure; the log still has it.
        log.exception("could not record a run of job %s (%s)", run.job, run.outcome)


@asynccontextmanager
async def running_scheduler(
    session_maker: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> AsyncIterator[AsyncIOScheduler]:
    # APScheduler logs every run at INFO; our jobs log what they handled themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    in_flight: set[asyncio.Task] = set()

    async def scheduled(name: str, job: Job) -> None:
        task = asyncio.current_task()
        in_flight.add(task)
        try:
            await run_job(session_maker, clock, name, job)
        finally:
            in_flight.discard(task)

    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, (job, seconds) in jobs(settings).items():
        scheduler.add_job(
            scheduled,
            "interval",
            seconds=seconds,
            args=[name, job],
            id=name,
            max_instances=1,
            coalesce=True,
            # A run that starts late (a busy machine) still runs: APScheduler's default skips any
            # run more than a second late, so a loaded worker silently missed its first runs.
            misfire_grace_time=None,
            # First run at start: a process restarted more often than an hourly job's
            # interval would otherwise never run that job.
            next_run_time=datetime.now(UTC),
        )
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        # Runs still going are cancelled and awaited here, while the engine is still open:
        # each rolls back its one transaction, and the next start does that work again.
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)

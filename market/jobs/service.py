"""Run records of the scheduled jobs, and the lock that lets one scheduler at a time run a job."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.jobs.models import JobOutcome, JobRun
from market.jobs.schemas import JobRunRead, JobSummary
from market.pagination import page_total

ERROR_CHARS = 2000


def lock_key(name: str) -> int:
    """A stable 64-bit key per job name (Python's own hash() differs between processes)."""
    digest = hashlib.blake2b(f"market.job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def try_job_lock(session: AsyncSession, name: str) -> bool:
    """Take the job's lock for this transaction, or report that another scheduler holds it.

    On PostgreSQL this is a transaction-level advisory lock, released by the commit or
    rollback, so a run that dies never leaves it behind. SQLite needs none: BEGIN
    IMMEDIATE already lets one writer in at a time, and the second run finds nothing left.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(lock_key(name)))))


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_CHARS]


def run_read(run: JobRun) -> JobRunRead:
    return JobRunRead(
        id=run.id,
        job=run.job,
        outcome=run.outcome,
        started_at=run.started_at,
        finished_at=run.finished_at,
        seconds=round((run.finished_at - run.started_at).total_seconds(), 3),
        handled=run.handled,
        error=run.error,
        host=run.host,
        pid=run.pid,
    )


async def list_runs(
    session: AsyncSession, job: str | None, outcome: JobOutcome | None, limit: int, offset: int
) -> tuple[list[JobRunRead], int]:
    stmt = select(JobRun)
    if job is not None:
        stmt = stmt.where(JobRun.job == job)
    if outcome is not None:
        stmt = stmt.where(JobRun.outcome == outcome)
    runs = (
        await session.scalars(
            stmt.order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit).offset(offset)
        )
    ).all()
    return [run_read(r) for r in runs], await page_total(session, stmt, limit, offset, len(runs))


async def summaries(session: AsyncSession, every_seconds: Mapping[str, int]) -> list[JobSummary]:
    """Per registered job: its newest run, its newest success and its newest failure."""
    newest_ids = (
        select(func.max(JobRun.id)).where(JobRun.job.in_(every_seconds)).group_by(JobRun.job, JobRun.outcome)
    )
    newest: dict[str, dict[JobOutcome, JobRun]] = {}
    for run in await session.scalars(select(JobRun).where(JobRun.id.in_(newest_ids))):
        newest.setdefault(run.job, {})[run.outcome] = run
    result = []
    for job, seconds in every_seconds.items():
        runs = newest.get(job, {})
        last = max(runs.values(), key=lambda r: (r.started_at, r.id), default=None)
        success = runs.get(JobOutcome.succeeded)
        failure = runs.get(JobOutcome.failed)
        result.append(
            JobSummary(
                job=job,
                every_seconds=seconds,
                last_run=run_read(last) if last else None,
                last_success_at=success.started_at if success else None,
                last_failure=run_read(failure) if failure else None,
            )
        )
    return result


async def purge_job_runs(session: AsyncSession, now: datetime, keep_days: int) -> int:
    result = await session.execute(delete(JobRun).where(JobRun.started_at < now - timedelta(days=keep_days)))
    return result.rowcount or 0

"""Scheduled jobs on APScheduler 3, started inside the app's lifespan or by `market worker`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import Clock
from market.orders import service as orders

log = logging.getLogger(__name__)

Job = Callable[[AsyncSession, datetime], Awaitable[int]]

# name -> (job, seconds between runs)
JOBS: dict[str, tuple[Job, int]] = {
    "expire_offers": (orders.expire_offers, 60),
    "expire_orders": (orders.expire_orders, 300),
}


async def run_job(session_maker: async_sessionmaker[AsyncSession], clock: Clock, name: str) -> int:
    """Run one job in its own transaction; a failure rolls back everything it did."""
    job, _ = JOBS[name]
    async with session_maker() as session, session.begin():
        handled = await job(session, clock())
    if handled:
        log.info("job %s handled %d item(s)", name, handled)
    return handled


@asynccontextmanager
async def running_scheduler(
    session_maker: async_sessionmaker[AsyncSession], clock: Clock
) -> AsyncIterator[AsyncIOScheduler]:
    # APScheduler logs every run at INFO; our jobs log what they handled themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, (_, seconds) in JOBS.items():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=seconds,
            args=[session_maker, clock, name],
            id=name,
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)

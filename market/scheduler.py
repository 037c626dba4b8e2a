"""Scheduled jobs on APScheduler 3, started inside the app's lifespan or by `market worker`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import Clock
from market.dispatch import service as dispatch
from market.idempotency import purge_idempotency_keys
from market.ledger import engine
from market.ledger import service as ledger
from market.orders import service as orders
from market.rewards import service as rewards
from market.settings import Settings

log = logging.getLogger(__name__)

Job = Callable[[AsyncSession, datetime], Awaitable[int]]


def jobs(settings: Settings) -> dict[str, tuple[Job, int]]:
    """name -> (job, seconds between runs)."""
    tz = settings.tz
    return {
        "expire_offers": (orders.expire_offers, 60),
        "expire_orders": (orders.expire_orders, 300),
        "auto_dispatch": (
            lambda s, now: dispatch.auto_dispatch(s, now, settings),
            settings.auto_dispatch_seconds,
        ),
        "expire_pending_transfers": (engine.expire_pending, 60),
        "post_owed_rewards": (lambda s, now: ledger.post_owed_rewards(s, now, tz), 300),
        "expire_points": (lambda s, now: ledger.expire_points(s, now, tz), 3600),
        "expire_redemptions": (lambda s, now: rewards.expire_redemptions(s, now, tz), 300),
        "purge_idempotency_keys": (purge_idempotency_keys, 3600),
    }


async def run_job(session_maker: async_sessionmaker[AsyncSession], clock: Clock, name: str, job: Job) -> int:
    """Run one job in its own transaction; a failure rolls back everything it did."""
    async with session_maker() as session, session.begin():
        handled = await job(session, clock())
    if handled:
        log.info("job %s handled %d item(s)", name, handled)
    return handled


@asynccontextmanager
async def running_scheduler(
    session_maker: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
) -> AsyncIterator[AsyncIOScheduler]:
    # APScheduler logs every run at INFO; our jobs log what they handled themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, (job, seconds) in jobs(settings).items():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=seconds,
            args=[session_maker, clock, name, job],
            id=name,
            max_instances=1,
            coalesce=True,
        )
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)

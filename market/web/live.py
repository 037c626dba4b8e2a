"""Parts of a page kept current without a reload: server-sent events that send the part again
whenever what it shows changes. The volunteer's offers and the dispatch desk's board use it; the
browser side is /static/live.js.

Each stream polls the database in short read-only sessions rather than waiting for a message from
the process that made the change: several API processes may serve one database, and whatever any
of them commits is seen by the next poll of every stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.access import ActorRequest
from market.db import read_only
from market.settings import Settings
from market.web.pages import page

# A comment this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS = 15
# How long the browser waits before it reconnects to a stream that ended.
RECONNECT_MS = 3000


def render_part(request: ActorRequest, template: str, context: dict[str, Any]) -> str:
    """A template as a page would render it (same context, same CSRF field), outside a response."""
    response = page(request, template, **context)
    engine = request.app.template_engine
    assert engine is not None  # the app is configured with templates
    return engine.get_template(template).render(**response.create_template_context(request))


async def _events(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    snapshot: Callable[[AsyncSession], Awaitable[object]],
    render: Callable[[AsyncSession], Awaitable[str]],
) -> AsyncIterator[ServerSentEventMessage]:
    end = time.monotonic() + settings.offer_stream_seconds
    seen: object = None
    first = True
    last_sent = time.monotonic()
    while time.monotonic() < end:
        async with session_maker() as session:
            # Read-only: on SQLite a poll every few seconds per open page must not take the write lock
            # (every transaction begins IMMEDIATE there) and queue the writers behind it.
            await read_only(session)
            now_seen = await snapshot(session)
            html = await render(session) if first or now_seen != seen else None
        if html is not None:
            seen, first = now_seen, False
            yield ServerSentEventMessage(data=html)
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
            last_sent = time.monotonic()
        await asyncio.sleep(settings.offer_stream_poll_seconds)


def live(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    snapshot: Callable[[AsyncSession], Awaitable[object]],
    render: Callable[[AsyncSession], Awaitable[str]],
) -> ServerSentEvent:
    """The part `render` makes, sent at once and again whenever `snapshot` (a cheap read of what it
    shows) changes; the stream ends after `offer_stream_seconds`, when the browser reconnects."""
    return ServerSentEvent(_events(session_maker, settings, snapshot, render), retry_duration=RECONNECT_MS)

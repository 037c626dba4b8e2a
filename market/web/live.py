"""Parts of pages kept current without a reload: server-sent events that send a fragment at once
and again whenever what it shows changes (the volunteer's offers, the dispatch desk's board, the
bell in the top bar). The browser side is /static/live.js (and notifications.js for the bell).

Each stream polls the database in short read-only sessions rather than waiting for a message
from the writer: what a poll reads is committed, and every API process sees what the others
changed, with nothing kept in memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from litestar.connection import ASGIConnection
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import read_only
from market.settings import Settings
from market.web.pages import page

# A comment this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS = 15
# How long the browser waits before it reconnects to a stream that ended.
RECONNECT_MS = 3000

State = TypeVar("State")


def render_fragment(request: ASGIConnection, template: str, context: dict[str, Any]) -> str:
    """A template as a page would render it (same context, same CSRF field), outside a response."""
    response = page(request, template, **context)
    engine = request.app.template_engine
    assert engine is not None  # the app is configured with templates
    return engine.get_template(template).render(**response.create_template_context(request))


async def _events(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    state: Callable[[AsyncSession], Awaitable[State]],
    render: Callable[[AsyncSession, State], Awaitable[str]],
) -> AsyncIterator[ServerSentEventMessage]:
    end = time.monotonic() + settings.offer_stream_seconds
    seen: list[State] = []
    last_sent = time.monotonic()
    while time.monotonic() < end:
        async with session_maker() as session:
            # Read-only: on SQLite a poll every few seconds per open page must not take the write lock
            # (every transaction begins IMMEDIATE there) and queue the writers behind it.
            await read_only(session)
            now_state = await state(session)
            html = await render(session, now_state) if seen != [now_state] else None
        if html is not None:
            seen = [now_state]
            yield ServerSentEventMessage(data=html)
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
            last_sent = time.monotonic()
        await asyncio.sleep(settings.offer_stream_poll_seconds)


def live(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    state: Callable[[AsyncSession], Awaitable[State]],
    render: Callable[[AsyncSession, State], Awaitable[str]],
) -> ServerSentEvent:
    """A stream of `render`'s fragment: sent at once, then whenever `state` (a cheap read that
    changes when the fragment would) reads differently. It ends after a while; browsers reconnect."""
    return ServerSentEvent(_events(session_maker, settings, state, render), retry_duration=RECONNECT_MS)

"""Each request's unit of work: one transaction, committed when the handler succeeds and rolled back
otherwise, with its Idempotency-Key claimed and its response stored inside that same transaction,
and run again from the start when the database says it lost a race it may win on a second try
(a deadlock or a serialisation failure on PostgreSQL, see `errors.lost_a_race`); when every attempt
loses, the person is told to try again (503), never a 500.

Three pieces cooperate through one `Attempt` per try: `RetryTransient` (middleware) runs the
attempts, `provide_transaction` (the `session` dependency) owns the transaction, and
`remember_response` (an after-request hook) renders the response the transaction stores. In each
attempt `LoadCaller` (middleware) loads the caller first.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import anyio
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.serialization import get_serializer
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from market import idempotency
from market.auth.access import SAFE, Actor, refuse_if_restricted
from market.db import (
    WriteInReadOnlyTransaction,
    begin_writing,
    holds_changes,
    read_only,
    read_until_writing,
)
from market.errors import MarketError, lost_a_race

ATTEMPTS = 4


@dataclass
class Attempt:
    """One try at a request."""

    may_retry: bool
    lost_race: bool = False
    claim: idempotency.IdempotencyRecord | None = None
    response: idempotency.StoredResponse | None = None


_ATTEMPT: ContextVar[Attempt | None] = ContextVar("market_attempt", default=None)


class RetryTransient(ASGIMiddleware):
    """Runs a request again, from its first byte, when its transaction lost a race (see above)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, release_session: Callable[[Message, Scope], Awaitable[None]]) -> None:
        # The SQLAlchemy plugin's hook that closes the request's session when a response starts.
        self.release_session = release_session

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        body = await _read_body(scope, receive)
        if body.end is BodyEnd.client_gone:
            # The client left before its body was read: nothing to run (the caller is not loaded yet),
            # nobody to answer.
            return
        if body.end is BodyEnd.over_limit:
            # Over the route's limit: Litestar refuses it (413) when something reads it. Run once.
            await next_app(scope, _replay(body.data, receive, more_body=True), send)
            return
        for number in range(1, ATTEMPTS + 1):
            attempt = Attempt(may_retry=number < ATTEMPTS)
            swallowed = False

            async def send_unless_retrying(message: Message, attempt: Attempt = attempt) -> None:
                nonlocal swallowed
                if message["type"] == "http.response.start" and attempt.lost_race and attempt.may_retry:
                    swallowed = True
                if not swallowed:
                    await send(message)

            token = _ATTEMPT.set(attempt)
            try:
                await next_app(scope, _replay(body.data, receive), send_unless_retrying)
            finally:
                _ATTEMPT.reset(token)
            if not swallowed:
                return
            await self.release_session({"type": "http.response.start", "status": 503, "headers": []}, scope)
            # Litestar keeps the form it parsed in the scope, and closed its files as the attempt ended:
            # the next attempt parses the body anew.
            ScopeState.from_scope(scope).form = Empty
            await anyio.sleep(random.uniform(0.005, 0.02) * number)


class LoadCaller(ASGIMiddleware):
    """Loads the caller a checked token names (`load`, see `load_caller`), in each attempt: it runs
    after `RetryTransient`, so the body is in first and each attempt loads its caller in its own
    session. Authentication, before both, checked the token alone and left its holder as the user:
    a request without a valid token is refused before any byte of its body is read. A restricted
    caller is refused here what their restriction does not allow (`refuse_if_restricted`), before
    any guard or handler runs."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, load: Callable[[Scope], Awaitable[Actor | None]]) -> None:
        self.load = load

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("auth") is not None:  # the token authentication checked: not a public path
            actor = await self.load(scope)
            if actor is None:
                raise NotAuthorizedException()
            scope["user"] = actor  # an error page may read who is refused
            refuse_if_restricted(actor, scope["path"])
        await next_app(scope, receive, send)


def transaction_provider(
    plugin_session: Callable[[State, Scope], AsyncSession],
) -> Callable[[Request[Any, Any, Any], datetime], AsyncGenerator[AsyncSession, None]]:
    """The `session` dependency: the request's unit of work, in the session the SQLAlchemy plugin keeps
    for the request (`plugin_session`, which loading the caller used too).

    It asks for one dependency, `now` (the moment its Idempotency-Key is claimed): Litestar resolves
    the dependencies of one level side by side, a task each in a task group, which costs 5-7% of a
    write (litestar-org/litestar#4563). Asking for the plugin's session as a dependency as well would
    put it beside `now`; a handler asking for `session` and `now` resolves them one after the other."""

    async def provide_transaction(
        request: Request[Any, Any, Any], now: NamedDependency[datetime]
    ) -> AsyncGenerator[AsyncSession, None]:
        # Litestar runs this cleanup after the response is rendered and before it is sent, so a
        # failed commit becomes an error response instead of a success that never happened.
        db_session = plugin_session(request.app.state, request.scope)
        attempt = _ATTEMPT.get() or Attempt(may_retry=False)
        try:
            await begin(db_session, request.scope)
            attempt.claim = await _claim(db_session, request, now)
        except BaseException:
            await db_session.rollback()
            raise
        try:
            yield db_session
        except MarketError as error:
            # Some refusals are facts worth keeping (a wrong pickup code counts toward a wait).
            if error.keep_changes:
                if attempt.claim is not None:
                    await idempotency.finish(db_session, attempt.claim, None)
                await db_session.commit()
            else:
                await db_session.rollback()
            attempt.lost_race = lost_a_race(error)
            raise
        except BaseException as error:
            await db_session.rollback()
            attempt.lost_race = lost_a_race(error)
            raise
        else:
            if reads_only(request.scope):
                # A read's transaction only read (`begin`): nothing to commit, and the plugin's session
                # ends as the response starts. Committing it anyway was ~5% of a read's CPU. A change
                # left in the session would be lost unseen: refused, as its flush would have been.
                if holds_changes(db_session):
                    raise WriteInReadOnlyTransaction(
                        f"{request.method} {request.url.path} changed what it read"
                    )
                return
            try:
                if attempt.claim is not None:
                    await idempotency.finish(db_session, attempt.claim, attempt.response)
                await db_session.commit()
            except DBAPIError as error:
                await db_session.rollback()
                attempt.lost_race = lost_a_race(error)
                raise

    return provide_transaction


# A route handler's `opt` flag: its GET may write (it opens the ledger accounts it shows the first
# time they are looked at), so it keeps the write lock like any change.
OPENS_ON_READ = "opens_on_read"
# A route handler's `opt` flag: its GET reads in several statements that must agree (a trial
# balance's sums and counters), so they read one snapshot of the database, not each their own.
ONE_SNAPSHOT = "one_snapshot"


def reads_only(scope: Scope) -> bool:
    """Whether the request's transaction only reads: an API read (GET, HEAD; Open311's too) not flagged
    `OPENS_ON_READ`. On SQLite it then takes no write lock, so reads neither queue behind writers
    nor hold them up. Pages keep the write lock on GET: some open the ledger account they show."""
    handler = scope.get("route_handler")
    return (
        scope["method"] in SAFE
        and scope["path"].startswith(("/api/", "/open311/"))
        and not (handler is not None and handler.opt.get(OPENS_ON_READ))
    )


async def begin(session: AsyncSession, scope: Scope) -> None:
    """Begin the request's transaction, unless loading the caller already began it (`load_caller`); a
    change whose caller was read on its connection goes on there (`begin_writing`). An API read's
    statements each run on their own (`read_only`), unless its handler asks for `ONE_SNAPSHOT`."""
    if not reads_only(scope):
        await begin_writing(session)
    elif not session.in_transaction():
        handler = scope.get("route_handler")
        if handler is not None and handler.opt.get(ONE_SNAPSHOT):
            await read_only(session, snapshot=True)
        else:
            await read_only(session, autocommit=True)


async def load_caller(
    session: AsyncSession, scope: Scope, load: Callable[[], Awaitable[Actor | None]]
) -> Actor | None:
    """Load the caller (`load`) in the request's session, which its handler's `session` carries on.

    An API read carries on in that transaction. So does a change whose handler works in that
    session: its caller is read on the connection the change is made on, one checkout for both,
    and without a lock (`read_until_writing`): on SQLite the change's transaction, which holds the
    database's write lock from its first statement (BEGIN IMMEDIATE), begins with the change's
    first statement (`begin_writing`), so a refusal, by a guard or of the body, never waits for
    that lock. The body is in by then (`LoadCaller` runs after `RetryTransient`), so no slow client
    holds the transaction open.

    Anything else reads the caller in one statement of its own, outside any transaction, and gives
    the connection back: a page's GET may hold its stream open for minutes, and a handler that works
    in sessions of its own (`session_maker`) holds no idle connection meanwhile."""
    if reads_only(scope):
        await begin(session, scope)
        return await load()
    if _changes_in_the_request_session(scope):
        await read_until_writing(session)
        return await load()
    await read_only(session, autocommit=True)
    actor = await load()
    await session.commit()
    return actor


def _changes_in_the_request_session(scope: Scope) -> bool:
    handler = scope.get("route_handler")
    return (
        scope["method"] not in SAFE
        and handler is not None
        and "session" in (asks_for := handler.parsed_fn_signature.parameters)
        and "session_maker" not in asks_for
    )


async def _claim(
    session: AsyncSession, request: Request[Any, Any, Any], now: datetime
) -> idempotency.IdempotencyRecord | None:
    key = request.headers.get(idempotency.HEADER)
    actor = request.scope.get("user")
    if key is None or request.method != "POST" or not request.url.path.startswith("/api/"):
        return None
    if not isinstance(actor, Actor):
        return None  # no caller to keep the key for: a login, whose response is a credential anyway
    request_fingerprint = idempotency.fingerprint(request.method, request.url.path, await request.body())
    return await idempotency.claim(session, actor.id, key, request_fingerprint, now)


async def remember_response(response: Response) -> Response:
    """After-request hook: render the response a claimed key will replay, unless it carries
    credentials (a token, a cookie), which are never stored."""
    attempt = _ATTEMPT.get()
    if attempt is None or attempt.claim is None:
        return response
    no_store = any(k.lower() == "cache-control" and "no-store" in v for k, v in response.headers.items())
    if response.cookies or no_store or response.status_code >= 500:
        return response
    media_type = str(response.media_type or "application/json")
    try:
        body = response.render(response.content, media_type, get_serializer(response.response_type_encoders))
    except Exception:  # a stream or a file: there is nothing to keep, so the key is given up
        return response
    attempt.response = idempotency.StoredResponse(response.status_code, media_type, body)
    return response


def replay_response(_request: Request[Any, Any, Any], replay: idempotency.Replay) -> Response[bytes]:
    stored = replay.response
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        media_type=stored.content_type or "application/json",
        headers={"Idempotent-Replayed": "true"},
    )


class BodyEnd(Enum):
    """How reading a request's body ended."""

    whole = "whole"
    over_limit = "over_limit"  # the route's limit: what came until then is kept
    client_gone = "client_gone"  # before the body's end


@dataclass(frozen=True)
class Body:
    """A request's body, as far as it was read."""

    end: BodyEnd
    data: bytes


async def _read_body(scope: Scope, receive: Receive) -> Body:
    """The request's body, read once for every attempt. Reading stops once the body is over the
    route's limit (`request_max_body_size`), as sent in its Content-Length or as the bytes come."""
    handler = scope.get("route_handler")
    limit = (handler.resolve_request_max_body_size() if handler is not None else None) or math.inf
    announced = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
    if announced.isdigit() and len(announced) < 20 and int(announced) > limit:
        return Body(BodyEnd.over_limit, b"")
    data = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return Body(BodyEnd.client_gone, bytes(data))
        data += message.get("body", b"")
        if len(data) > limit:
            return Body(BodyEnd.over_limit, bytes(data))
        if not message.get("more_body"):
            return Body(BodyEnd.whole, bytes(data))


def _replay(body: bytes, receive: Receive, *, more_body: bool = False) -> Receive:
    """The body read once, then the connection's own messages (the rest of a body read in part; a
    stream waits for its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more_body}

    return replayed

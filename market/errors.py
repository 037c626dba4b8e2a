"""Every error leaves the service as application/problem+json (RFC 9457).

A problem carries a stable `code` (also the last segment of its `type`) that
clients may branch on, and a `detail` a person can act on.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Litestar
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

PROBLEM_TYPE_PREFIX = "/problems/"

_TITLES = {
    HTTP_400_BAD_REQUEST: "Bad request",
    HTTP_401_UNAUTHORIZED: "Not authenticated",
    HTTP_403_FORBIDDEN: "Forbidden",
    HTTP_404_NOT_FOUND: "Not found",
    HTTP_405_METHOD_NOT_ALLOWED: "Method not allowed",
    HTTP_409_CONFLICT: "Conflict",
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: "Request too large",
    HTTP_422_UNPROCESSABLE_ENTITY: "Unprocessable input",
    HTTP_429_TOO_MANY_REQUESTS: "Too many requests",
    HTTP_500_INTERNAL_SERVER_ERROR: "Internal error",
    HTTP_503_SERVICE_UNAVAILABLE: "Service busy",
}

_CODES = {
    HTTP_400_BAD_REQUEST: "invalid_input",
    HTTP_401_UNAUTHORIZED: "not_authenticated",
    HTTP_403_FORBIDDEN: "forbidden",
    HTTP_404_NOT_FOUND: "not_found",
    HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    HTTP_409_CONFLICT: "conflict",
    # A body over the service's limit, refused before any handler reads it (an upload of 10 MB).
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: "request_too_large",
    HTTP_422_UNPROCESSABLE_ENTITY: "unprocessable",
    HTTP_429_TOO_MANY_REQUESTS: "too_many_requests",
}


class MarketError(ProblemDetailsException):
    """A refusal the domain understands. Subclasses fix the status; `code` names the case."""

    status = HTTP_400_BAD_REQUEST
    default_code = "invalid_input"
    # When True the request's transaction is committed although the request fails.
    keep_changes = False

    def __init__(
        self, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        self.code = code or self.default_code
        super().__init__(
            detail=detail,
            status_code=self.status,
            headers=headers,
            type_=PROBLEM_TYPE_PREFIX + self.code,
            title=_TITLES.get(self.status),
            extra={"code": self.code, **extra},
        )


class InvalidInput(MarketError):
    status = HTTP_400_BAD_REQUEST
    default_code = "invalid_input"


class NotAuthenticated(MarketError):
    status = HTTP_401_UNAUTHORIZED
    default_code = "not_authenticated"


class Forbidden(MarketError):
    status = HTTP_403_FORBIDDEN
    default_code = "forbidden"


class NotFound(MarketError):
    status = HTTP_404_NOT_FOUND
    default_code = "not_found"


class Conflict(MarketError):
    status = HTTP_409_CONFLICT
    default_code = "conflict"


class Unprocessable(MarketError):
    status = HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


class TooManyRequests(MarketError):
    status = HTTP_429_TOO_MANY_REQUESTS
    default_code = "too_many_requests"


class Busy(MarketError):
    status = HTTP_503_SERVICE_UNAVAILABLE
    default_code = "busy_try_again"


# SQLSTATEs of a transaction that lost a race it may win on a second try (deadlock detected,
# serialization failure); the request is run again (market/unit_of_work.py) before anyone sees them.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def lost_a_race(error: BaseException) -> bool:
    """Whether running the same request again from the start is expected to get past `error`."""
    if isinstance(error, MarketError):
        # Two requests inserted the same transfer id at once: run again, it reports "exists".
        return error.code == "transfer_conflict"
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "pgcode", None) or getattr(error.orig, "sqlstate", None)
        return code in TRANSIENT_SQLSTATES
    return False


def _from_http_exception(exc: HTTPException) -> ProblemDetailsException:
    code = _CODES.get(exc.status_code, "http_error")
    extra: dict[str, Any] = {"code": code}
    detail = exc.detail
    if isinstance(exc, ValidationException):
        # Litestar lists each bad field; expose them as `errors` with a uniform shape.
        extra["errors"] = [
            {"field": item.get("key"), "source": item.get("source"), "message": item.get("message")}
            for item in (exc.extra or [])
            if isinstance(item, dict)
        ]
        detail = "The request is not valid: " + (
            "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in extra["errors"]) or exc.detail
        )
    elif isinstance(exc.extra, dict):
        extra.update(exc.extra)
    return ProblemDetailsException(
        detail=detail,
        status_code=exc.status_code,
        headers=exc.headers,
        type_=PROBLEM_TYPE_PREFIX + code,
        title=_TITLES.get(exc.status_code, "Error"),
        extra=extra,
    )


def as_problem(exc: HTTPException) -> ProblemDetailsException:
    """An HTTP error as the API answers it (for handlers that answer pages and the API alike)."""
    return _from_http_exception(exc)


def _from_unexpected(exc: Exception) -> ProblemDetailsException:
    if lost_a_race(exc):  # every attempt lost: not a fault, a busy moment
        return Busy(
            "The service was busy with the same records; nothing was changed. Please try again.",
            headers={"Retry-After": "1"},
        )
    log.exception("unexpected error", exc_info=exc)
    return ProblemDetailsException(
        detail="Something went wrong on our side; nothing was changed. Please try again.",
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        type_=PROBLEM_TYPE_PREFIX + "internal_error",
        title=_TITLES[HTTP_500_INTERNAL_SERVER_ERROR],
        extra={"code": "internal_error"},
    )


class FieldProblem(msgspec.Struct):
    """One field a 400 found wrong (`Problem.errors`)."""

    field: str | None
    source: str | None
    message: str


class Problem(msgspec.Struct):
    """A problem as the API document describes it. Besides these members a problem carries its
    code's parameters (a limit, a status), each a member of its own."""

    status: int
    type: str
    title: str
    detail: str
    code: str
    errors: list[FieldProblem] | None = None


def describe_bad_requests(app: Litestar) -> None:
    """Litestar's document gives every operation with parameters a 400 of its own default shape
    (`status_code`, `detail`, `extra`, as application/json). The API answers problem details
    instead (`_from_http_exception`, and the services' refusals), so every API operation's 400 is
    described as sent. The handlers changed are this app's own copies (Litestar copies each one
    it registers)."""
    bad_request = ResponseSpec(
        data_container=Problem,
        media_type="application/problem+json",
        description="The request is not valid (problem details; a malformed field is named in `errors`)",
        generate_examples=False,
    )
    for route in app.routes:
        if route.path.startswith("/api/"):
            for handler in getattr(route, "route_handlers", ()):
                handler.responses = {HTTP_400_BAD_REQUEST: bad_request, **(handler.responses or {})}


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={HTTPException: _from_http_exception, Exception: _from_unexpected}
        )
    )

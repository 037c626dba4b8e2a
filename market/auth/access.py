"""Who is calling, and the guards that check roles before a handler runs.

Area scoping needs data, so services check it with `Actor.manages`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTCookieAuthenticationMiddleware, Token

from market.auth.models import MANAGER_ROLES, Role
from market.errors import Forbidden

# A manager may give others only the roles below their own.
ROLE_RANK = {
    Role.resident: 0,
    Role.volunteer: 0,
    Role.informant: 0,
    Role.unit_admin: 1,
    Role.grid_worker: 1,
    Role.community_manager: 2,
    Role.street_admin: 3,
    Role.admin: 4,
}
# Those who run a community (its needs, projects, teams, units, points policy, budgets and
# dispatch settings): its community managers and the managers above them, not grid workers.
COMMUNITY_MANAGER_ROLES = frozenset({Role.community_manager, Role.street_admin, Role.admin})


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller, as loaded once per request."""

    id: int
    name: str
    roles: frozenset[Role]
    area_id: int | None
    # Empty for administrators without a home area: the prefix of every code.
    area_code: str
    # What the person must settle before doing anything else (`RESTRICTIONS`), or None.
    restriction: str | None = None
    # The person's 长辈模式 (User.large_text): pages draw larger text and buttons.
    large_text: bool = False

    def has(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_admin(self) -> bool:
        return Role.admin in self.roles

    @property
    def is_manager(self) -> bool:
        return self.has(*MANAGER_ROLES)

    @property
    def is_community_manager(self) -> bool:
        """A community manager or above; which communities, `manages` decides."""
        return self.has(*COMMUNITY_MANAGER_ROLES)

    def manages(self, area_code: str) -> bool:
        """True when the caller manages the area with this code (their subtree)."""
        if self.is_admin:
            return True
        return self.is_manager and area_code.startswith(self.area_code)

    @property
    def rank(self) -> int:
        return max(ROLE_RANK[r] for r in self.roles) if self.roles else -1

    def refuse_own_service(self, volunteer_id: int) -> None:
        """Nobody records, marks, corrects or certifies their own service: a manager who also
        volunteers has another manager do it."""
        if volunteer_id == self.id:
            raise Forbidden("Nobody records their own service; another manager does.", code="own_hours")


def requires(*roles: Role):
    """A guard admitting callers who hold any of `roles` (administrators always pass)."""
    allowed = frozenset(roles) | {Role.admin}

    # A coroutine: Litestar hands a plain function guard to a worker thread, a thread hop per request.
    async def guard(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
        # OPTIONS is answered without a login (it names the methods, nothing else): no caller to judge.
        if connection.scope["method"] == "OPTIONS":
            return
        actor: Actor = connection.user
        if actor.roles.isdisjoint(allowed):
            raise Forbidden(
                "This action needs one of these roles: " + ", ".join(sorted(allowed)),
                code="role_required",
            )

    return guard


requires_manager = requires(*MANAGER_ROLES)
requires_community_manager = requires(*COMMUNITY_MANAGER_ROLES)
# The trial balance lists every account's key and counters: the street's admins (theirs) and admins.
requires_street_admin = requires(Role.street_admin)

# A person who must choose a new password (after a reset), or whose sign-up is not approved,
# may only reach these paths: the API refuses everything else with the restriction's code (403),
# the pages send the person to the page that settles it.
RESTRICTIONS = {
    "password_change_required": "/account/password",
    "approval_pending": "/signup/status",
    "approval_refused": "/signup/status",
}
RESTRICTED_MAY_USE = (
    "/api/me",
    "/api/auth/",
    "/api/signup/status",
    "/account/password",
    "/signup/status",
    "/logout",
    "/lang",
    "/static/",
)


def refuse_if_restricted(actor: Actor, path: str) -> None:
    """A restricted person reaches only `RESTRICTED_MAY_USE`. Checked as the caller is loaded, for
    every request (`unit_of_work.LoadCaller`), not as an application-wide guard: Litestar hands each
    guard a copy of the route's handler, ~14 µs a request."""
    if actor.restriction is None:
        return
    if any(path == p or (p.endswith("/") and path.startswith(p)) for p in RESTRICTED_MAY_USE):
        return
    raise Forbidden(
        "Settle this first: " + actor.restriction,
        code=actor.restriction,
        go_to=RESTRICTIONS[actor.restriction],
    )


# The request type every authenticated handler receives.
ActorRequest = Request[Actor, Token, object]


SAFE = ("GET", "HEAD", "OPTIONS")


def client_address(connection: ASGIConnection) -> str:
    """Where a request comes from: the peer's address, which uvicorn replaces by X-Forwarded-For
    only when the peer is a trusted proxy (FORWARDED_ALLOW_IPS)."""
    return connection.client.host if connection.client else ""


class CookieReadsOnlyMiddleware(JWTCookieAuthenticationMiddleware):
    """Authentication by bearer header or by the pages' login cookie.

    The cookie logs a browser in to the pages, whose forms carry a CSRF token, and lets it read the
    API (statement downloads). A change through the API must name its token in the Authorization
    header: a browser never adds that by itself, so another site cannot use a logged-in browser
    to change anything. A request that sends the header is judged by it alone, whatever it holds:
    the cookie beside it is never a fallback.
    """

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        sent = connection.headers.getall(self.auth_header, [])
        if sent:
            return await self.authenticate_token(_bearer(sent), connection)
        if connection.scope["path"].startswith("/api/") and connection.scope.get("method") not in SAFE:
            raise NotAuthorizedException(
                "A change through the API needs its token in the Authorization header."
            )
        return await self.authenticate_token(
            _bearer([connection.cookies.get(self.auth_cookie_key, "")]), connection
        )


def _bearer(values: list[str]) -> str:
    """The token of exactly one "Bearer <token>"; anything else is no login at all."""
    if len(values) == 1:
        scheme, _, token = values[0].strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip() and " " not in token.strip():
            return token.strip()
    raise NotAuthorizedException("Send one 'Authorization: Bearer <token>'.")

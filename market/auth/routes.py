from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.service import get_area
from market.auth import service
from market.auth.access import ActorRequest, client_address, requires, requires_manager
from market.auth.models import AttemptKind, Role, User
from market.auth.schemas import (
    FailedAttemptRead,
    LoginRequest,
    PasswordChange,
    PasswordReset,
    RolesWrite,
    TokenResponse,
    UserCreate,
    UserRead,
    UserUpdate,
)
from market.auth.tokens import issue_device_token, issue_token
from market.fields import PathId, query_id, query_text
from market.pagination import Limit, Offset, Page
from market.settings import Settings


class AuthController(Controller):
    path = "/api"
    tags = ["people"]

    @post(
        "/auth/login",
        summary="Log in with phone and password (failures slow further attempts down)",
        status_code=200,
        security=[{}],
    )
    async def login(
        self,
        request: Request,
        data: JSONBody[LoginRequest],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Response[TokenResponse]:
        user = await service.login(
            session_maker,
            settings,
            data.phone,
            data.password,
            client_address(request),
            now,
            data.device_token,
        )
        return token_response(settings, user, now)

    @post(
        "/auth/password",
        summary="Change your own password: every other token ends, a fresh one is returned",
        status_code=200,
    )
    async def change_password(
        self,
        request: ActorRequest,
        data: JSONBody[PasswordChange],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Response[TokenResponse]:
        user = await service.change_password(
            session_maker,
            settings,
            request.user,
            data.current_password,
            data.new_password,
            client_address(request),
            now,
            data.device_token,
        )
        return token_response(settings, user, now)

    @post("/auth/logout", summary="Log out: every token of yours ends, on every device", status_code=204)
    async def logout(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> None:
        await service.end_tokens(session, request.user.id)

    @get(
        "/admin/failed-attempts",
        summary="Recent failed logins and pickup codes (administrators; a street's administrators: theirs)",
        guards=[requires(Role.street_admin)],
        tags=["admin"],
    )
    async def failed_attempts(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        kind: Annotated[
            AttemptKind | None, QueryParameter(description="Only logins, or only pickup codes")
        ] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[FailedAttemptRead]:
        items, total = await service.list_failed_attempts(session, request.user, kind, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/me", summary="The logged-in account")
    async def me(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> UserRead:
        return service.user_read(await service.get_user(session, request.user.id))

    @post("/users", summary="Create an account in your area", guards=[requires_manager])
    async def create_user(
        self,
        request: ActorRequest,
        data: JSONBody[UserCreate],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> UserRead:
        return service.user_read(await service.create_user(session, request.user, data, now))

    @get("/users", summary="Accounts in your area", guards=[requires_manager])
    async def list_users(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        role: Annotated[Role | None, QueryParameter(description="Only accounts holding this role")] = None,
        q: query_text(50, "Part of a name or phone") = None,
        area_id: query_id("Only people living in this area (and the areas inside it)") = None,
        active: Annotated[bool | None, QueryParameter(description="Only active, or only deactivated")] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[UserRead]:
        area_code = (await get_area(session, area_id)).code if area_id is not None else None
        users, total = await service.list_users(
            session,
            request.user,
            role=role,
            query=q,
            limit=limit,
            offset=offset,
            area_code=area_code,
            active=active,
        )
        return Page(items=[service.user_read(u) for u in users], total=total, limit=limit, offset=offset)

    @get("/users/{user_id:int}", summary="One account (yourself, or someone in your area)")
    async def get_user(
        self,
        request: ActorRequest,
        user_id: PathId,
        session: NamedDependency[AsyncSession],
    ) -> UserRead:
        return service.user_read(await service.get_visible_user(session, request.user, user_id))

    @patch(
        "/users/{user_id:int}",
        summary="Correct a person's name, phone or home area (people living in your area, below your role)",
        guards=[requires_manager],
    )
    async def update_user(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: JSONBody[UserUpdate],
        session: NamedDependency[AsyncSession],
    ) -> UserRead:
        return service.user_read(await service.update_user(session, request.user, user_id, data))

    @put(
        "/users/{user_id:int}/roles",
        summary="Set a person's roles: each one added or withdrawn must be below your own",
        guards=[requires_manager],
    )
    async def set_roles(
        self,
        request: ActorRequest,
        user_id: PathId,
        data: JSONBody[RolesWrite],
        session: NamedDependency[AsyncSession],
    ) -> UserRead:
        return service.user_read(await service.set_roles(session, request.user, user_id, data.roles))

    @post(
        "/users/{user_id:int}/deactivate",
        summary="Deactivate a person: they cannot log in, and every token of theirs ends at once",
        guards=[requires_manager],
        status_code=200,
    )
    async def deactivate(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> UserRead:
        return service.user_read(await service.set_active(session, request.user, user_id, False))

    @post(
        "/users/{user_id:int}/reactivate",
        summary="Reactivate a deactivated person",
        guards=[requires_manager],
        status_code=200,
    )
    async def reactivate(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> UserRead:
        return service.user_read(await service.set_active(session, request.user, user_id, True))

    @post(
        "/users/{user_id:int}/password-reset",
        summary="A one-time password, shown once; the person must choose their own at their next login",
        guards=[requires_manager],
        status_code=200,
    )
    async def reset_password(
        self, request: ActorRequest, user_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Response[PasswordReset]:
        user, one_time = await service.reset_password(session, request.user, user_id)
        body = PasswordReset(user=service.user_read(user), one_time_password=one_time)
        # A credential: no cache keeps it (market/unit_of_work.py stores no-store answers for no replay).
        return Response(body, headers={"Cache-Control": "no-store"})


def token_response(
    settings: Settings, user: User, now: datetime, status_code: int = 200
) -> Response[TokenResponse]:
    """The access token and this device's token for a person who has just proved who they are."""
    token, expires_at = issue_token(settings, user, now)
    body = TokenResponse(
        access_token=token,
        token_type="bearer",
        expires_at=expires_at,
        user=service.user_read(user),
        device_token=issue_device_token(settings, user, now)[0],
    )
    # A credential: no cache keeps it, and no Idempotency-Key stores it (market/unit_of_work.py).
    return Response(body, status_code=status_code, headers={"Cache-Control": "no-store"})

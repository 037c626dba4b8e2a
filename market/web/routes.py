"""The pages: logging in and out, changing one's password, the language switch, and the router
that gathers every page controller with HTML error pages, templates and static files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

from litestar import Controller, Request, Router, get, post
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth import service as auth
from market.auth.access import ActorRequest, client_address
from market.auth.models import User
from market.auth.schemas import LoginRequest, PasswordChange
from market.auth.tokens import DEVICE_COOKIE, TOKEN_COOKIE, issue_device_token, issue_token
from market.fields import PLAIN_TEXT
from market.settings import Settings
from market.web import (
    desk_areas,
    desk_dispatch,
    desk_doorplates,
    desk_failed_attempts,
    desk_followups,
    desk_home,
    desk_ledger,
    desk_open311,
    desk_orders,
    desk_party,
    desk_people,
    desk_projects,
    desk_records,
    desk_reviews,
    desk_setup,
    desk_shifts,
    desk_teams,
    desk_units,
    desk_units_registry,
    notifications,
    phone_informant,
    phone_needs,
    phone_party,
    phone_place,
    phone_profile,
    phone_records,
    phone_resident,
    phone_shifts,
    phone_volunteer,
)
from market.web.i18n import LANG_COOKIE, LANGS
from market.web.pages import (
    LOGIN_PATH,
    PAGE_EXCEPTION_HANDLERS,
    Form,
    FormData,
    FormInvalid,
    handling,
    home_path,
    page,
    parse,
    safe_next,
    see_other,
)
from market.web.static import StaticFileSystem

HERE = Path(__file__).parent
NextPath = Annotated[str | None, QueryParameter(max_length=500, pattern=PLAIN_TEXT)]
# Paths the pages serve without a login (regular expressions, matched from the start).
PUBLIC_PAGE_PATHS = ["^/login$", "^/lang$", "^/static/", "^/signup$", "^/verify/", "^/p/"]
PASSWORD_PATH = "/account/password"
PASSWORD_PAGE = "account_password.html"
LARGE_TEXT_PATH = "/account/large-text"


def _log_in(response: Redirect, settings: Settings, user: User, now: datetime) -> Redirect:
    """Keep a fresh token for `user` in the browser's login cookie, and a fresh device token in its
    device cookie (kept past logging out: it spares this browser the limits strangers run up)."""
    device, device_expires_at = issue_device_token(settings, user, now)
    response.set_cookie(
        Cookie(
            key=DEVICE_COOKIE,
            value=device,
            max_age=int((device_expires_at - now).total_seconds()),
            httponly=True,
            samesite="lax",
            secure=settings.env == "production",
        )
    )
    token, expires_at = issue_token(settings, user, now)
    response.set_cookie(
        Cookie(
            key=TOKEN_COOKIE,
            value=f"Bearer {token}",
            # Gone with the token: a shared phone does not stay logged in past it.
            max_age=int((expires_at - now).total_seconds()),
            httponly=True,
            samesite="lax",
            secure=settings.env == "production",
        )
    )
    return response


# Signing up logs the new resident in as logging in does.
log_in = _log_in


class SessionPages(Controller):
    include_in_schema = False

    @get("/", summary="Home: each person's first section")
    async def home(self, request: ActorRequest) -> Redirect:
        return Redirect(home_path(request.user), status_code=303)

    @get(LOGIN_PATH)
    async def login_form(self, request: Request, next: NextPath = None) -> Template:
        return page(request, "login.html", form=Form(), next=safe_next(next, ""))

    @post(LOGIN_PATH)
    async def login(
        self,
        request: Request,
        data: FormData,
        session: NamedDependency[AsyncSession],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        back = safe_next(form.value("next"), "")
        async with handling(
            session,
            form,
            "login.html",
            lambda: {"next": back},
            fields={"invalid_credentials": "password", "too_many_failed_attempts": "password"},
        ):
            credentials = parse(form, LoginRequest, settings.tz)
            user = await auth.login(
                session_maker,
                settings,
                credentials.phone,
                credentials.password,
                client_address(request),
                now,
                request.cookies.get(DEVICE_COOKIE),
            )
        response = Redirect(back or home_path(auth.actor_of(user)), status_code=303)
        return _log_in(response, settings, user, now)

    @post("/logout")
    async def logout(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Redirect:
        # Ends every token of the person's, not only this browser's cookie.
        await auth.end_tokens(session, request.user.id)
        response = see_other(LOGIN_PATH, notice="logged_out")
        response.delete_cookie(TOKEN_COOKIE)
        return response

    @get(PASSWORD_PATH)
    async def password_form(self, request: ActorRequest) -> Template:
        return page(request, PASSWORD_PAGE, form=Form())

    @post(PASSWORD_PATH)
    async def change_password(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        fields = {
            "wrong_current_password": "current_password",
            "too_many_failed_attempts": "current_password",
        }
        async with handling(session, form, PASSWORD_PAGE, dict, fields=fields):
            change = parse(form, PasswordChange, settings.tz)
            if form.value("new_password_again") != change.new_password:
                form.errors["new_password_again"] = ("account.password_mismatch", {})
                raise FormInvalid
            user = await auth.change_password(
                session_maker,
                settings,
                request.user,
                change.current_password,
                change.new_password,
                client_address(request),
                now,
                request.cookies.get(DEVICE_COOKIE),
            )
        # Every other token ended with the old password; this browser goes on with a fresh one.
        return _log_in(see_other(home_path(request.user), notice="password_changed"), settings, user, now)

    @post(LARGE_TEXT_PATH)
    async def switch_large_text(
        self, request: ActorRequest, data: FormData, session: NamedDependency[AsyncSession]
    ) -> Redirect:
        # Always the caller's own: the form names no person, whatever else it carries.
        on = Form.of(data).value("large_text") == "on"
        await auth.set_large_text(session, request.user, on)
        back = safe_next(Form.of(data).value("next"), home_path(request.user))
        return see_other(back, notice="large_text_on" if on else "large_text_off")

    @get("/lang")
    async def switch_language(
        self,
        to: Annotated[str, QueryParameter(pattern="^(" + "|".join(LANGS) + ")$")],
        next: NextPath = None,
    ) -> Redirect:
        response = Redirect(safe_next(next), status_code=303)
        response.set_cookie(Cookie(key=LANG_COOKIE, value=to, max_age=365 * 24 * 3600, samesite="lax"))
        return response


def template_config() -> TemplateConfig:
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)


def web_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            SessionPages,
            *phone_resident.CONTROLLERS,
            *phone_volunteer.CONTROLLERS,
            *phone_profile.CONTROLLERS,
            *phone_shifts.CONTROLLERS,
            *phone_needs.CONTROLLERS,
            *phone_records.CONTROLLERS,
            *desk_home.CONTROLLERS,
            *desk_dispatch.CONTROLLERS,
            *desk_followups.CONTROLLERS,
            *desk_orders.CONTROLLERS,
            *desk_projects.CONTROLLERS,
            *desk_shifts.CONTROLLERS,
            *desk_records.CONTROLLERS,
            *desk_ledger.CONTROLLERS,
            *desk_units.CONTROLLERS,
            *desk_units_registry.CONTROLLERS,
            *desk_teams.CONTROLLERS,
            *desk_failed_attempts.CONTROLLERS,
            *desk_open311.CONTROLLERS,
            *desk_areas.CONTROLLERS,
            *desk_doorplates.CONTROLLERS,
            *phone_place.CONTROLLERS,
            *phone_informant.CONTROLLERS,
            *desk_setup.CONTROLLERS,
            *desk_people.CONTROLLERS,
            *desk_party.CONTROLLERS,
            *desk_reviews.CONTROLLERS,
            *phone_party.CONTROLLERS,
            *notifications.CONTROLLERS,
            # Static files are small and change only with a release; an hour of caching spares slow phones.
            create_static_files_router(
                path="/static",
                directories=[HERE / "static"],
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=3600),
                file_system=StaticFileSystem(),
            ),
        ],
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )

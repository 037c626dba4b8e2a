"""Pages: the Open311 keys of integrating systems, for administrators and street admins — issue
one for a street (shown once), list them, revoke one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires
from market.auth.models import Role
from market.fields import Id, PathId, text
from market.open311 import service as open311
from market.settings import Settings
from market.web.pages import Form, FormData, handling, page, parse, see_other

HOME = "/desk/open311"
PAGE = "desk/open311_keys.html"


class KeyIssue(msgspec.Struct):
    street_id: Id
    system: text(16, required=True)


async def _context(request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
    streets = await open311.streets_to_issue(session, request.user)
    return {
        "keys": await open311.list_keys(session, request.user),
        "streets": [(s.id, f"{s.name} ({s.code})") for s in streets],
        "new_key": None,
    }


class Open311KeyPages(Controller):
    path = HOME
    guards = [requires(Role.street_admin)]
    include_in_schema = False

    @get("/")
    async def keys(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        context = await _context(request, session)
        street = context["streets"][0][0] if len(context["streets"]) == 1 else ""
        return page(request, PAGE, form=Form({"street_id": street}), **context)

    @post("/")
    async def issue(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        form = Form.of(data)
        async with handling(
            session, form, PAGE, lambda: _context(request, session), fields={"street_required": "street_id"}
        ):
            body = parse(form, KeyIssue, settings.tz)
            _, secret = await open311.issue_key(session, request.user, body.street_id, body.system, now)
        # The key is shown on this answer only: it is not kept, so there is no page to come back to.
        context = await _context(request, session) | {"new_key": secret}
        response = page(request, PAGE, form=Form({"street_id": body.street_id}), **context)
        response.headers["Cache-Control"] = "no-store"
        return response

    @post("/{key_id:int}/revoke")
    async def revoke(
        self,
        request: ActorRequest,
        key_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await open311.revoke_key(session, request.user, key_id, now)
        return see_other(HOME, notice="api_key_revoked")


CONTROLLERS: list[type[Controller]] = [Open311KeyPages]

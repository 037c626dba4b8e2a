"""Pages: recent failed logins and pickup codes, for administrators (a street's administrators see
those about their street's accounts and people)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth import service as auth
from market.auth.access import ActorRequest, requires
from market.auth.models import AttemptKind, Role
from market.pagination import Offset
from market.web.i18n import lang_of
from market.web.pages import Form, page, word_options

HOME = "/desk/failed-attempts"
LIMIT = 50
KIND = "^(" + "|".join(AttemptKind) + ")?$"


class FailedAttemptPages(Controller):
    path = HOME
    guards = [requires(Role.street_admin)]
    include_in_schema = False

    @get("/")
    async def failed_attempts(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        # Empty when the filter's "any" is chosen.
        kind: Annotated[str | None, QueryParameter(pattern=KIND)] = None,
        offset: Offset = 0,
    ) -> Template:
        chosen = AttemptKind(kind) if kind else None
        items, total = await auth.list_failed_attempts(session, request.user, chosen, LIMIT, offset)
        return page(
            request,
            "desk/failed_attempts.html",
            form=Form({"kind": kind or ""}),
            kind_options=word_options(lang_of(request), "attempt_kind", AttemptKind),
            items=items,
            total=total,
            limit=LIMIT,
            offset=offset,
            query={"kind": chosen},
        )


CONTROLLERS: list[type[Controller]] = [FailedAttemptPages]

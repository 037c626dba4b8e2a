"""Pages: follow-ups (回访) — the calls a grid worker makes after a confirmed order with a low
rating, a complaint or in the community's sample: due, overdue and done, in the reader's area,
each open one with a form to record how the call went."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest, requires_manager
from market.fields import PathId
from market.followups import service as followups
from market.followups.models import FollowUpOutcome, FollowUpReason
from market.followups.schemas import FollowUpFilters, OutcomeRequest
from market.pagination import Offset
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import (
    Form,
    FormData,
    category_names,
    handling,
    page,
    parse,
    see_other,
    url,
    word_options,
)

PATH = "/desk/followups"
TEMPLATE = "desk/followups.html"
LIMIT = 20
SHOWS = ("open", "due", "overdue", "done")
Show = Annotated[str, QueryParameter(pattern="^(" + "|".join(SHOWS) + ")$")]
Reason = Annotated[str | None, QueryParameter(pattern="^(" + "|".join(FollowUpReason) + ")?$")]


async def _context(
    request: ActorRequest, session: AsyncSession, now: datetime, show: str, reason: str | None, offset: int
) -> dict[str, Any]:
    chosen = FollowUpReason(reason) if reason else None
    filters = FollowUpFilters(state=show, reason=chosen)
    items, total = await followups.list_followups(session, request.user, filters, now, LIMIT, offset)
    lang = lang_of(request)
    counts = await followups.open_counts(session, request.user, now)
    return {
        "items": items,
        "total": total,
        "limit": LIMIT,
        "offset": offset,
        "show": show,
        "shows": SHOWS,
        "counts": counts,
        "query": {"status": show, "reason": reason},
        "filter_form": Form({"reason": reason or ""}),
        "reason_options": word_options(lang, "followup_reason", FollowUpReason),
        "outcome_options": word_options(lang, "followup_outcome", FollowUpOutcome),
        "categories": await category_names(session, lang),
    }


class FollowUpPages(Controller):
    path = PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def followups_page(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        status: Show = "open",
        reason: Reason = None,
        offset: Offset = 0,
    ) -> Template:
        context = await _context(request, session, now, status, reason, offset)
        return page(request, TEMPLATE, form=Form(), **context)

    @post("/{followup_id:int}/outcome")
    async def record_outcome(
        self,
        request: ActorRequest,
        followup_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        # The list the form was sent from, to show again (its values are checked as the query's are).
        show = form.value("status") if form.value("status") in SHOWS else "open"
        reason = form.value("reason") if form.value("reason") in set(FollowUpReason) else None

        async def shown_again() -> dict[str, Any]:
            return await _context(request, session, now, show, reason, 0)

        async with handling(session, form, TEMPLATE, shown_again):
            body = parse(form, OutcomeRequest, settings.tz)
            await followups.record_outcome(session, request.user, followup_id, body, now)
        return see_other(url(PATH, status=show, reason=reason), notice="followup_recorded")


CONTROLLERS: list[type[Controller]] = [FollowUpPages]

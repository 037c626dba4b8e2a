"""Phone pages for residents shaping the need list (征求民意): their community's published needs with a
support button, proposing a need, and their proposals with the managers' answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.service import area_read
from market.auth.access import Actor, ActorRequest, requires
from market.auth.models import Role
from market.consultation import service as consultation
from market.consultation.schemas import ProposalCreate
from market.fields import PathId
from market.needs.service import SUPPORT_HALF
from market.pagination import Offset
from market.settings import Settings
from market.web.pages import Form, FormData, handling, page, parse, see_other

NEEDS = "phone/needs_list.html"
PROPOSE = "phone/needs_propose.html"
PROPOSALS = "phone/needs_proposals.html"
PAGE_SIZE = 20

guard = requires(Role.resident)


async def _needs_context(session: AsyncSession, actor: Actor, offset: int) -> dict[str, Any]:
    items, total = await consultation.community_needs(session, actor, PAGE_SIZE, offset)
    return {
        "needs": items,
        "total": total,
        "limit": PAGE_SIZE,
        "offset": offset,
        "support_half": SUPPORT_HALF,
        "form": None,
    }


class ResidentNeedPages(Controller):
    path = "/r/needs"
    guards = [guard]
    include_in_schema = False

    @get("/")
    async def needs(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        return page(request, NEEDS, **await _needs_context(session, request.user, offset))

    @post("/{need_id:int}/support")
    async def support(
        self,
        request: ActorRequest,
        need_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        async with handling(session, Form(), NEEDS, lambda: _needs_context(session, request.user, 0)):
            await consultation.support(session, request.user, need_id, now)
        return see_other("/r/needs", notice="needs_supported")

    @get("/propose")
    async def propose_form(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        community = area_read(await consultation.home_community(session, request.user))
        return page(request, PROPOSE, form=Form(), community=community)

    @post("/propose")
    async def propose(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        # Read before the work: a refused form rolls the transaction back, and its rows with it.
        community = area_read(await consultation.home_community(session, request.user))
        async with handling(session, form, PROPOSE, lambda: {"community": community}):
            await consultation.propose(session, request.user, parse(form, ProposalCreate, settings.tz), now)
        return see_other("/r/needs/proposals", notice="needs_proposed")

    @get("/proposals")
    async def proposals(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        rows, total = await consultation.list_proposals(
            session, request.user, community_id=None, status=None, limit=PAGE_SIZE, offset=offset
        )
        items = await consultation.proposal_reads(session, rows)
        return page(request, PROPOSALS, items=items, total=total, limit=PAGE_SIZE, offset=offset)


CONTROLLERS: list[type[Controller]] = [ResidentNeedPages]

"""Pages: setting a street up — budgets (a street admin funds its communities' pools, once per
form however often it is sent; everyone who runs a community sees each pool's balance and latest
budgets), a community's points policy, auto-dispatch on or off, and the service categories."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel
from market.areas.service import managed_areas
from market.auth.access import Actor, ActorRequest, requires, requires_community_manager
from market.auth.models import Role
from market.categories import service as categories
from market.categories.schemas import CategoryCreate, CategoryUpdate
from market.dispatch import board
from market.dispatch import service as dispatch
from market.dispatch.models import BoardMode
from market.dispatch.schemas import BoardSettingWrite
from market.errors import NotFound
from market.fields import PathId, path_text, query_id
from market.followups import service as followups
from market.followups.schemas import SamplingWrite
from market.ledger import service as ledger
from market.ledger.models import ExpiryPolicy
from market.ledger.schemas import BudgetRequest, PolicyWrite
from market.settings import Settings
from market.web.i18n import lang_of
from market.web.pages import Form, FormData, FormInvalid, handling, page, parse, see_other, word_options

BUDGETS = "desk/setup_budgets.html"
POLICY = "desk/setup_policy.html"
AUTO = "desk/setup_auto_dispatch.html"
CATEGORIES = "desk/setup_categories.html"
BUDGETS_PATH = "/desk/budgets"
POLICY_PATH = "/desk/policy"
AUTO_PATH = "/desk/auto-dispatch"
CATEGORIES_PATH = "/desk/categories"
BUDGET_FIELDS = {
    "community_not_found": "community_id",
    "role_may_not_transfer": "community_id",
    "account_outside_your_area": "community_id",
    "exists_with_different_fields": "amount",
}
POLICY_NUMBERS = ("default_rate", "daily_cap", "monthly_cap", "gift_max", "gift_monthly_max")
RATE_MAX = 1000


def _may_fund(actor: Actor) -> bool:
    """Whether the budgets page offers the funding form (the authority table decides the transfer)."""
    return actor.has(Role.street_admin, Role.admin)


async def _communities(session: AsyncSession, actor: Actor) -> list[tuple[int, str]]:
    return [(a.id, a.name) for a in await managed_areas(session, actor, (AreaLevel.community,))]


async def _chosen_community(
    session: AsyncSession, actor: Actor, community_id: int | None
) -> tuple[list[tuple[int, str]], int | None]:
    """The communities the actor runs, and the one a page is about (the first by default)."""
    found = await _communities(session, actor)
    if community_id is None:
        return found, found[0][0] if found else None
    if community_id not in {c for c, _ in found}:
        raise NotFound(f"Community {community_id} does not exist.", code="community_not_found")
    return found, community_id


class BudgetPages(Controller):
    path = BUDGETS_PATH
    guards = [requires_community_manager]
    include_in_schema = False

    async def _context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        return {
            "pools": await ledger.pools(session, request.user),
            "communities": await _communities(session, request.user),
            "may_fund": _may_fund(request.user),
        }

    @get("/")
    async def budgets(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        # The form's one-time key: sent twice (a double click, a reload), it funds once.
        form = Form({"request_id": uuid.uuid4().hex})
        return page(request, BUDGETS, form=form, **await self._context(request, session))

    @post("/")
    async def fund(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            BUDGETS,
            lambda: self._context(request, session),
            fields=BUDGET_FIELDS,
            shown={"community_id", "amount", "memo"},
        ):
            body = parse(form, BudgetRequest, settings.tz)
            await ledger.fund_pool(session, request.user, body, now, settings.tz)
        return see_other(BUDGETS_PATH, notice="budget_funded")


class PolicyPages(Controller):
    path = POLICY_PATH
    guards = [requires_community_manager]
    include_in_schema = False

    async def _context(
        self, request: ActorRequest, session: AsyncSession, community_id: int | None
    ) -> dict[str, Any]:
        lang = lang_of(request)
        found, chosen = await _chosen_community(session, request.user, community_id)
        return {
            "communities": found,
            "community_id": chosen,
            "categories": [
                (c.code, c.name_zh if lang == "zh" else c.name_en)
                for c in await categories.list_categories(session)
                if c.is_active
            ],
            "expiry_options": word_options(lang, "expiry_policy", ExpiryPolicy),
        }

    @get("/")
    async def policy(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        community: query_id("The community whose policy to show") = None,
    ) -> Template:
        context = await self._context(request, session, community)
        form = Form()
        if context["community_id"] is not None:
            current = await ledger.get_policy(session, context["community_id"])
            form = Form(
                {
                    **{name: str(getattr(current, name)) for name in POLICY_NUMBERS},
                    "expiry": current.expiry,
                    "expiry_months": str(current.expiry_months or ""),
                    **{f"rate_{code}": str(rate) for code, rate in current.rates.items()},
                }
            )
        return page(request, POLICY, form=form, **context)

    @post("/{community_id:int}")
    async def save(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session,
            form,
            POLICY,
            lambda: self._context(request, session, community_id),
            fields={"expiry_months_required": "expiry_months"},
        ):
            rates = _rates(form)
            body = parse(form, PolicyWrite, settings.tz, rates=rates)
            await ledger.put_policy(session, request.user, community_id, body)
        return see_other(f"{POLICY_PATH}?community={community_id}", notice="policy_saved")


def _rates(form: Form) -> dict[str, int]:
    """The per-category rates typed into `rate_<code>` fields; an empty field uses the default."""
    rates: dict[str, int] = {}
    for name in list(form.values):
        if not name.startswith("rate_"):
            continue
        value = str(form.value(name)).strip()
        if not value:
            continue
        if not value.isdecimal() or len(value) > 4 or int(value) > RATE_MAX:
            form.errors[name] = ("form.out_of_range", {})
            continue
        rates[name.removeprefix("rate_")[:32]] = int(value)
    if form.errors:
        raise FormInvalid
    return rates


class AutoDispatchPages(Controller):
    path = AUTO_PATH
    guards = [requires_community_manager]
    include_in_schema = False

    async def _context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        rows = []
        for community_id, name in await _communities(session, request.user):
            setting = await dispatch.get_auto_dispatch(session, request.user, community_id)
            on_board = await board.get_setting(session, request.user, community_id)
            sample = await followups.get_sampling(session, request.user, community_id)
            rows.append((community_id, name, setting.enabled, setting.updated_at, on_board, sample.percent))
        return {"rows": rows, "board_modes": list(BoardMode)}

    @get("/")
    async def settings_page(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        return page(request, AUTO, form=None, **await self._context(request, session))

    @post("/{community_id:int}")
    async def switch(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(session, form, AUTO, lambda: self._context(request, session), shown=()):
            enabled = form.value("enabled") == "true"
            await dispatch.set_auto_dispatch(session, request.user, community_id, enabled, now)
        return see_other(AUTO_PATH, notice="auto_dispatch_on" if enabled else "auto_dispatch_off")

    @post("/{community_id:int}/board")
    async def board_setting(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        """When the community's new orders go to the open board."""
        form = Form.of(data)
        async with handling(session, form, AUTO, lambda: self._context(request, session), shown=()):
            body = parse(form, BoardSettingWrite, settings.tz)
            await board.set_setting(session, request.user, community_id, body, now)
        return see_other(AUTO_PATH, notice="board_setting_saved")

    @post("/{community_id:int}/sample")
    async def followup_sample(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        """The share of the community's confirmed orders followed up although nothing went wrong."""
        form = Form.of(data)
        async with handling(session, form, AUTO, lambda: self._context(request, session), shown=()):
            body = parse(form, SamplingWrite, settings.tz)
            await followups.set_sampling(session, request.user, community_id, body, now)
        return see_other(AUTO_PATH, notice="followup_sample_saved")


class CategoryPages(Controller):
    path = CATEGORIES_PATH
    guards = [requires()]
    include_in_schema = False

    async def _context(self, session: AsyncSession, editing: str | None = None) -> dict[str, Any]:
        # Read structs: a refused form's transaction is rolled back before the page renders.
        found = [categories.category_read(c) for c in await categories.list_categories(session)]
        return {"categories": found, "editing": editing}

    @get("/")
    async def list_page(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        return page(request, CATEGORIES, form=Form(), **await self._context(session))

    @post("/")
    async def add(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, CATEGORIES, lambda: self._context(session), fields={"category_exists": "code"}
        ):
            body = parse(form, CategoryCreate, settings.tz)
            await categories.create_category(session, body)
        return see_other(CATEGORIES_PATH, notice="category_added")

    @post("/{code:str}")
    async def update(
        self,
        request: ActorRequest,
        code: path_text(32),
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, CATEGORIES, lambda: self._context(session, code), shown={"name_zh", "name_en"}
        ):
            action = form.value("action")
            if action in ("retire", "restore"):
                body = CategoryUpdate(is_active=action == "restore")
            else:
                body = parse(form, CategoryUpdate, settings.tz)
                if body.name_zh is None or body.name_en is None:
                    form.errors.update(
                        {n: ("form.required", {}) for n in ("name_zh", "name_en") if getattr(body, n) is None}
                    )
                    raise FormInvalid
            await categories.update_category(session, code, body)
        return see_other(CATEGORIES_PATH, notice="category_saved")


CONTROLLERS: list[type[Controller]] = [BudgetPages, PolicyPages, AutoDispatchPages, CategoryPages]

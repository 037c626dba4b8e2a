"""Pages: the desk of a co-building unit's admins. Their units' resource lists, the units'
commitments to projects and their deliveries, the rewards they published, and handing a
redemption out by its pickup code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.service import area_names
from market.auth.access import Actor, ActorRequest, requires
from market.auth.models import Role
from market.errors import Conflict, NotFound
from market.fields import Id, PathId, query_id
from market.pagination import MAX_OFFSET, Offset
from market.projects import service as projects
from market.projects.schemas import DeliveryCreate
from market.rewards import service as rewards
from market.rewards.models import RedemptionStatus, Reward
from market.rewards.schemas import FulfilRequest, RewardCreate
from market.settings import Settings
from market.units import service as units
from market.units.models import Resource, ResourceCategory, ResourceStatus
from market.units.schemas import ResourceCreate, ResourceUpdate, UnitRead
from market.web.i18n import lang_of
from market.web.pages import (
    Form,
    FormData,
    FormInvalid,
    form_int,
    handling,
    local_input,
    page,
    parse,
    see_other,
    url,
    word_options,
)

HOME = "/desk/unit"
COMMITMENTS = f"{HOME}/commitments"
REWARDS = f"{HOME}/rewards"
FULFIL = f"{HOME}/fulfil"
LIMIT = 20
# The responsibilities of the units listed above their commitments, the soonest due first.
RESPONSIBILITIES_SHOWN = 50
RESOURCE_FORM = "desk/unit_resource_form.html"
COMMITMENTS_PAGE = "desk/unit_commitments.html"
REWARD_FORM = "desk/unit_reward_form.html"
FULFIL_PAGE = "desk/unit_fulfil.html"

RESOURCE_FIELDS = {
    "window_order": "available_until",
    "already_expired": "available_until",
    "community_not_paired": "community_ids",
    "quantity_below_committed": "quantity",
    "status_not_settable": "status",
}
REWARD_FIELDS = {
    "already_expired": "valid_until",
    "outside_your_area": "community_ids",
    "not_a_community": "community_ids",
}
FULFIL_FIELDS = {
    code: "pickup_code"
    for code in (
        "wrong_pickup_code",
        "redemption_not_pending",
        "pickup_deadline_passed",
        "redemption_not_found",
        "pickup_code_ambiguous",
        "too_many_failed_attempts",
    )
}
# A resource's edit form sets these; used up is the service's to set.
SETTABLE_STATUSES = (ResourceStatus.published, ResourceStatus.withdrawn)


class FulfilConfirm(FulfilRequest):
    """The API's body, plus the redemption the counter checked (or chose among several)."""

    redemption_id: Id


F = TypeVar("F", bound=FulfilRequest)


class RewardRow(NamedTuple):
    reward: Reward
    # active, expired or inactive: `unit.reward_state.<state>`.
    state: str
    community_ids: list[int]


async def _my_units(session: AsyncSession, actor: Actor) -> list[UnitRead]:
    """The units the actor acts for."""
    return await units.unit_reads(session, await units.units_of(session, actor))


def _chosen(mine: list[UnitRead], unit_id: int | None) -> UnitRead | None:
    """The unit a page is about: the one asked for (if the actor acts for it), else the first."""
    if unit_id is None:
        return mine[0] if mine else None
    for unit in mine:
        if unit.id == unit_id:
            return unit
    raise NotFound(f"Unit {unit_id} does not exist.", code="unit_not_found")


def _offset(form: Form) -> int:
    """The list page a form was sent from, to show that page again if the form is refused."""
    return form_int(form, "offset", le=MAX_OFFSET) or 0


def _reward_state(reward: Reward, now: datetime) -> str:
    if not reward.is_active:
        return "inactive"
    return "expired" if reward.valid_until <= now else "active"


def _pickup_code(form: Form, schema: type[F], tz: ZoneInfo) -> F:
    """The form as `schema`; people read codes out in groups ("123 456")."""
    form.values["pickup_code"] = "".join(str(form.value("pickup_code")).split())
    try:
        return parse(form, schema, tz)
    except FormInvalid:
        if "pickup_code" in form.errors and form.value("pickup_code"):
            form.errors["pickup_code"] = ("unit.fulfil.code_format", {})
        raise


def _resource_values(resource: Resource, tz: ZoneInfo) -> dict[str, Any]:
    """A resource as its edit form shows it."""
    return {
        "title": resource.title,
        "quantity": str(resource.quantity),
        "community_ids": sorted(str(c.community_id) for c in resource.communities),
        "available_from": local_input(resource.available_from, tz),
        "available_until": local_input(resource.available_until, tz),
        "description": resource.description,
        # The form offers published and withdrawn; a used-up resource stays used up when "published".
        "status": "withdrawn" if resource.status == ResourceStatus.withdrawn else "published",
    }


class UnitDesk(Controller):
    path = HOME
    guards = [requires(Role.unit_admin)]
    include_in_schema = False

    # ---------------------------------------------------------------- resources

    @get("/")
    async def overview(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        unit: query_id("The unit to show") = None,
        offset: Offset = 0,
    ) -> Template:
        mine = await _my_units(session, request.user)
        chosen = _chosen(mine, unit)
        resources, total = [], 0
        if chosen:
            rows, total = await units.list_resources(
                session,
                request.user,
                community_id=None,
                unit_id=chosen.id,
                category=None,
                status=None,
                limit=LIMIT,
                offset=offset,
            )
            resources = await units.resource_reads(session, rows)
        return page(
            request,
            "desk/unit_overview.html",
            units=mine,
            unit=chosen,
            communities=await area_names(session, chosen.community_ids if chosen else []),
            resources=resources,
            total=total,
            limit=LIMIT,
            offset=offset,
        )

    async def _resource_context(
        self,
        request: ActorRequest,
        session: AsyncSession,
        mine: list[UnitRead],
        unit: UnitRead,
        resource: Resource | None = None,
    ) -> dict[str, Any]:
        lang = lang_of(request)
        return {
            "units": mine,
            "unit": unit,
            "resource": (await units.resource_reads(session, [resource]))[0] if resource else None,
            "categories": word_options(lang, "resource_category", ResourceCategory),
            "statuses": word_options(lang, "resource_status", SETTABLE_STATUSES),
            "communities": await area_names(session, unit.community_ids),
        }

    async def _edit_context(
        self, request: ActorRequest, session: AsyncSession, resource: Resource
    ) -> dict[str, Any]:
        mine = await _my_units(session, request.user)
        return await self._resource_context(request, session, mine, _chosen(mine, resource.unit_id), resource)

    @get("/resources/new")
    async def new_resource_form(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        unit: query_id("The unit publishing") = None,
    ) -> Template:
        mine = await _my_units(session, request.user)
        chosen = _chosen(mine, unit)
        if chosen is None:
            raise NotFound("You act for no unit.", code="unit_not_found")
        form = Form({"available_from": local_input(now, settings.tz)})
        context = await self._resource_context(request, session, mine, chosen)
        return page(request, RESOURCE_FORM, form=form, **context)

    @post("/resources/new")
    async def new_resource(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        unit: query_id("The unit publishing") = None,
    ) -> Redirect:
        mine = await _my_units(session, request.user)
        chosen = _chosen(mine, unit)
        if chosen is None:
            raise NotFound("You act for no unit.", code="unit_not_found")
        form = Form.of(data)
        async with handling(
            session,
            form,
            RESOURCE_FORM,
            lambda: self._resource_context(request, session, mine, chosen),
            fields=RESOURCE_FIELDS,
        ):
            body = parse(form, ResourceCreate, settings.tz, unit_id=chosen.id)
            await units.create_resource(session, request.user, body, now)
        return see_other(f"{HOME}?unit={chosen.id}", notice="unit_resource_published")

    @get("/resources/{resource_id:int}")
    async def edit_resource_form(
        self,
        request: ActorRequest,
        resource_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
    ) -> Template:
        resource = await units.visible_resource(session, request.user, resource_id)
        form = Form(_resource_values(resource, settings.tz))
        return page(request, RESOURCE_FORM, form=form, **await self._edit_context(request, session, resource))

    @post("/resources/{resource_id:int}")
    async def edit_resource(
        self,
        request: ActorRequest,
        resource_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        resource = await units.visible_resource(session, request.user, resource_id)
        unit_id = resource.unit_id
        shown = _resource_values(resource, settings.tz)
        form = Form.of(data)

        async def context() -> dict[str, Any]:
            # Read again: the rollback of the refused form expired the row read above.
            again = await units.visible_resource(session, request.user, resource_id)
            return await self._edit_context(request, session, again)

        async with handling(session, form, RESOURCE_FORM, context, fields=RESOURCE_FIELDS):
            # A blank field means "unchanged" to the API; on this form it is a mistake.
            blank = {
                name: None
                for name in ("title", "quantity", "community_ids", "available_from")
                if not any(str(v).strip() for v in form.all(name))
            }
            form.errors.update({name: ("form.required", {}) for name in blank})
            body = parse(form, ResourceUpdate, settings.tz, **blank)
            # Send only what changed, as the API's PATCH does: the form shows times to the minute,
            # and a resource whose window has ended can still be withdrawn.
            unchanged = {
                name: None
                for name, value in shown.items()
                if (sorted(form.all(name)) if isinstance(value, list) else form.value(name)) == value
            }
            body = msgspec.structs.replace(body, **unchanged)
            await units.update_resource(session, request.user, resource_id, body, now)
        return see_other(f"{HOME}?unit={unit_id}", notice="unit_resource_saved")

    # ---------------------------------------------------------------- commitments and deliveries

    async def _commitments_context(
        self, session: AsyncSession, actor: Actor, now: datetime, offset: int, form_for: int | None = None
    ) -> dict[str, Any]:
        found, total = await projects.unit_commitments(session, actor, LIMIT, offset)
        return {
            "responsibilities": await projects.unit_responsibilities(session, actor, RESPONSIBILITIES_SHOWN),
            "now": now,
            "projects": found,
            "communities": await area_names(session, {p.community_id for p in found}),
            # Name the unit of each commitment only when the page shows more than one.
            "several_units": len({c.unit_id for p in found for c in p.commitments}) > 1,
            "form_for": form_for,
            "total": total,
            "limit": LIMIT,
            "offset": offset,
        }

    @get("/commitments")
    async def commitment_list(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        context = await self._commitments_context(session, request.user, now, offset)
        return page(request, COMMITMENTS_PAGE, form=None, **context)

    @post("/projects/{project_id:int}/commitments/{commitment_id:int}/confirm")
    async def confirm(
        self,
        request: ActorRequest,
        project_id: PathId,
        commitment_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        offset = _offset(form)
        async with handling(
            session,
            form,
            COMMITMENTS_PAGE,
            lambda: self._commitments_context(session, request.user, now, offset),
        ):
            await projects.confirm_commitment(session, request.user, project_id, commitment_id, now)
        return see_other(url(COMMITMENTS, offset=offset or None), notice="unit_commitment_confirmed")

    @post("/projects/{project_id:int}/commitments/{commitment_id:int}/deliveries")
    async def deliver(
        self,
        request: ActorRequest,
        project_id: PathId,
        commitment_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        offset = _offset(form)
        async with handling(
            session,
            form,
            COMMITMENTS_PAGE,
            lambda: self._commitments_context(session, request.user, now, offset, form_for=commitment_id),
            fields={"exceeds_commitment": "quantity"},
        ):
            body = parse(form, DeliveryCreate, settings.tz)
            await projects.record_delivery(
                session, request.user, project_id, commitment_id, body.quantity, body.note, now
            )
        return see_other(url(COMMITMENTS, offset=offset or None), notice="unit_delivery_recorded")

    @post("/projects/{project_id:int}/responsibilities/{responsibility_id:int}/done")
    async def responsibility_done(
        self,
        request: ActorRequest,
        project_id: PathId,
        responsibility_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        offset = _offset(form)
        async with handling(
            session,
            form,
            COMMITMENTS_PAGE,
            lambda: self._commitments_context(session, request.user, now, offset),
        ):
            await projects.complete_responsibility(session, request.user, project_id, responsibility_id, now)
        return see_other(url(COMMITMENTS, offset=offset or None), notice="unit_responsibility_done")

    # ---------------------------------------------------------------- rewards

    @get("/rewards")
    async def reward_list(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        offset: Offset = 0,
    ) -> Template:
        found, total = await rewards.published_rewards(session, request.user, LIMIT, offset)
        return page(
            request,
            "desk/unit_rewards.html",
            rows=[
                RewardRow(r, _reward_state(r, now), sorted(c.community_id for c in r.communities))
                for r in found
            ],
            communities=await area_names(session, {c.community_id for r in found for c in r.communities}),
            total=total,
            limit=LIMIT,
            offset=offset,
        )

    async def _reward_context(self, session: AsyncSession, mine: list[UnitRead]) -> dict[str, Any]:
        paired = {i for u in mine for i in u.community_ids}
        return {"communities": await area_names(session, paired)}

    @get("/rewards/new")
    async def new_reward_form(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        mine = await _my_units(session, request.user)
        form = Form(
            {
                "limit_per_person": "1",
                "valid_until": local_input(now + timedelta(days=30), settings.tz),
                "donor": mine[0].name if len(mine) == 1 else "",
            }
        )
        context = await self._reward_context(session, mine)
        return page(request, REWARD_FORM, form=form, **context)

    @post("/rewards/new")
    async def new_reward(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)

        async def context() -> dict[str, Any]:
            return await self._reward_context(session, await _my_units(session, request.user))

        async with handling(session, form, REWARD_FORM, context, fields=REWARD_FIELDS):
            body = parse(form, RewardCreate, settings.tz)
            await rewards.create_reward(session, request.user, body, now)
        return see_other(REWARDS, notice="unit_reward_published")

    # ---------------------------------------------------------------- handing out by pickup code

    async def _fulfil_context(
        self, session: AsyncSession, actor: Actor, offset: int = 0, choices: Sequence[int] = ()
    ) -> dict[str, Any]:
        """The counter's page; `choices` are the redemptions a code opens when it opens several."""
        rows, total = await rewards.list_redemptions(
            session, actor, RedemptionStatus.pending, LIMIT, offset, to_hand_out=True
        )
        return {
            "pending": await rewards.redemption_reads(session, actor, rows),
            "total": total,
            "limit": LIMIT,
            "offset": offset,
            "done": None,
            "checking": None,
            "choices": [await rewards.get_redemption(session, actor, i) for i in choices],
        }

    @get("/fulfil")
    async def fulfil_form(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        done: query_id("The redemption just handed out") = None,
        offset: Offset = 0,
    ) -> Template:
        context = await self._fulfil_context(session, request.user, offset)
        if done is not None:
            handed = await rewards.get_redemption(session, request.user, done)
            context["done"] = handed if handed.status == RedemptionStatus.fulfilled else None
        return page(request, FULFIL_PAGE, form=Form(), **context)

    @post("/fulfil")
    async def check_code(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        """Whose redemption the code opens, for the counter to check before handing it out: a
        mistyped code can open another member's. Changes nothing."""
        actor = request.user
        form = Form.of(data)
        choices: list[int] = []
        async with handling(
            session,
            form,
            FULFIL_PAGE,
            lambda: self._fulfil_context(session, actor, choices=choices),
            fields=FULFIL_FIELDS,
        ):
            body = _pickup_code(form, FulfilRequest, settings.tz)
            try:
                checking = await rewards.redemption_by_code(session, actor, body.pickup_code, now, settings)
            except Conflict as error:
                if error.code == "pickup_code_ambiguous":
                    # The counter picks the member standing there among those the code belongs to.
                    choices.extend(error.extra["redemption_ids"])
                raise
        context = await self._fulfil_context(session, actor) | {"checking": checking}
        return page(request, FULFIL_PAGE, form=form, **context)

    @post("/fulfil/confirm")
    async def fulfil(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        actor = request.user
        form = Form.of(data)
        # The redemption checked is a hidden input: what is wrong with it is said above the form.
        async with handling(
            session,
            form,
            FULFIL_PAGE,
            lambda: self._fulfil_context(session, actor),
            fields=FULFIL_FIELDS,
            shown={"pickup_code"},
        ):
            body = _pickup_code(form, FulfilConfirm, settings.tz)
            # Only with its code: a redemption id alone tells nothing and hands nothing out.
            redemption = await rewards.fulfil_by_code(
                session, actor, body.pickup_code, now, settings, body.redemption_id
            )
        return see_other(f"{FULFIL}?done={redemption.id}")


CONTROLLERS: list[type[Controller]] = [UnitDesk]

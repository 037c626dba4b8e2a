"""Pages: the street's and communities' register of co-building units (/desk/units). Register a
unit, pair it with communities in one's own area, appoint and withdraw its admins. The units'
own admins work at /desk/unit (desk_units.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel
from market.areas.service import area_names, managed_areas
from market.auth.access import Actor, ActorRequest, requires_community_manager
from market.auth.models import User
from market.auth.service import user_names
from market.fields import PathId, query_text
from market.pagination import Offset
from market.settings import Settings
from market.units import service as units
from market.units.models import Unit, UnitKind
from market.units.schemas import UnitCreate, UnitUpdate
from market.web.i18n import lang_of
from market.web.pages import Form, FormData, FormInvalid, handling, page, parse, see_other, word_options

HOME = "/desk/units"
LIMIT = 20
LIST_PAGE = "desk/units_list.html"
NEW_PAGE = "desk/units_new.html"
UNIT_PAGE = "desk/units_unit.html"
UNIT_FIELDS = {
    "outside_your_area": "community_ids",
    "not_a_community": "community_ids",
    "community_in_use": "community_ids",
    "unit_name_taken": "name",
}
APPOINT_FIELDS = {
    code: "phone"
    for code in (
        "user_not_found",
        "person_inactive",
        "already_unit_admin",
        "unit_admins_full",
        "outside_your_area",
        "role_not_grantable",
    )
}
EDITED = ("name", "kind", "contact_name", "contact_phone", "community_ids")


async def _scope_communities(session: AsyncSession, actor: Actor) -> dict[int, str]:
    """The communities the actor may pair a unit with: those in their own area."""
    return {a.id: a.name for a in await managed_areas(session, actor, (AreaLevel.community,))}


def _values(unit: Unit) -> dict[str, Any]:
    return {
        "name": unit.name,
        "kind": unit.kind,
        "contact_name": unit.contact_name,
        "contact_phone": unit.contact_phone,
        "community_ids": [str(c.community_id) for c in unit.communities],
    }


class UnitRegistryDesk(Controller):
    path = HOME
    guards = [requires_community_manager]
    include_in_schema = False

    @get("/")
    async def unit_list(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        q: query_text(100, "Part of the name") = None,
        offset: Offset = 0,
    ) -> Template:
        found, total = await units.list_units(session, request.user, None, None, q, LIMIT, offset)
        reads = await units.unit_reads(session, found)
        return page(
            request,
            LIST_PAGE,
            form=Form({"q": q or ""}),
            units=reads,
            communities=await area_names(session, {i for u in reads for i in u.community_ids}),
            total=total,
            limit=LIMIT,
            offset=offset,
            q=q or "",
        )

    async def _new_context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        return {
            "kinds": word_options(lang_of(request), "unit_kind", UnitKind),
            "communities": await _scope_communities(session, request.user),
        }

    @get("/new")
    async def register_form(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        return page(request, NEW_PAGE, form=Form(), **await self._new_context(request, session))

    @post("/new")
    async def register(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, NEW_PAGE, lambda: self._new_context(request, session), fields=UNIT_FIELDS
        ):
            body = parse(form, UnitCreate, settings.tz, admin_ids=None)
            unit = await units.create_unit(session, request.user, body, now)
        return see_other(f"{HOME}/{unit.id}", notice="unit_registered")

    # ---------------------------------------------------------------- one unit

    async def _unit_context(
        self, request: ActorRequest, session: AsyncSession, unit_id: int, which: str | None = None
    ) -> dict[str, Any]:
        actor = request.user
        unit = await units.visible_unit(session, actor, unit_id)
        (read,) = await units.unit_reads(session, [unit])
        mine = await _scope_communities(session, actor)
        # The communities it is paired with stay on the form even when outside one's area.
        names = await area_names(session, set(mine) | set(read.community_ids))
        return {
            "unit": read,
            "editable": actor.manages(unit.area_code),
            "edit": Form(_values(unit)),
            "which": which,
            "kinds": word_options(lang_of(request), "unit_kind", UnitKind),
            "communities": names,
            "phones": await _phones(session, [a.user_id for a in read.admins]),
            "registered_by": (await user_names(session, {unit.created_by_id})).get(unit.created_by_id, ""),
        }

    @get("/{unit_id:int}")
    async def unit_page(
        self, request: ActorRequest, unit_id: PathId, session: NamedDependency[AsyncSession]
    ) -> Template:
        context = await self._unit_context(request, session, unit_id)
        return page(request, UNIT_PAGE, form=None, **context)

    @post("/{unit_id:int}")
    async def save(
        self,
        request: ActorRequest,
        unit_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await units.visible_unit(session, request.user, unit_id)
        form = Form.of(data)
        async with handling(
            session,
            form,
            UNIT_PAGE,
            lambda: self._unit_context(request, session, unit_id, "edit"),
            fields=UNIT_FIELDS,
        ):
            # A blank field means "unchanged" to the API; on this form it is a mistake.
            blank = {name: None for name in EDITED if not any(str(v).strip() for v in form.all(name))}
            form.errors.update({name: ("form.required", {}) for name in blank})
            body = parse(form, UnitUpdate, settings.tz, admin_ids=None, **blank)
            if form.errors:
                raise FormInvalid
            await units.update_unit(session, request.user, unit_id, body, now)
        return see_other(f"{HOME}/{unit_id}", notice="unit_saved")

    @post("/{unit_id:int}/admins")
    async def appoint(
        self,
        request: ActorRequest,
        unit_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await units.visible_unit(session, request.user, unit_id)
        form = Form.of(data)
        async with handling(
            session,
            form,
            UNIT_PAGE,
            lambda: self._unit_context(request, session, unit_id, "appoint"),
            fields=APPOINT_FIELDS,
        ):
            phone = "".join(str(form.value("phone")).split())
            if not phone:
                form.errors["phone"] = ("form.required", {})
                raise FormInvalid
            await units.appoint_admin(session, request.user, unit_id, phone, now)
        return see_other(f"{HOME}/{unit_id}", notice="unit_admin_appointed")

    @post("/{unit_id:int}/admins/{user_id:int}/withdraw")
    async def withdraw(
        self,
        request: ActorRequest,
        unit_id: PathId,
        user_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await units.visible_unit(session, request.user, unit_id)
        form = Form.of(data)
        async with handling(
            session, form, UNIT_PAGE, lambda: self._unit_context(request, session, unit_id, "withdraw")
        ):
            await units.withdraw_admin(session, request.user, unit_id, user_id, now)
        return see_other(f"{HOME}/{unit_id}", notice="unit_admin_withdrawn")


async def _phones(session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    """The admins' phone numbers: the registrar calls them."""
    if not user_ids:
        return {}
    return dict((await session.execute(select(User.id, User.phone).where(User.id.in_(user_ids)))).all())


CONTROLLERS: list[type[Controller]] = [UnitRegistryDesk]

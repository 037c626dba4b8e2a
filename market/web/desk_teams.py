"""Pages: the volunteer teams of the communities one manages (/desk/teams). Create a team, rename
it, add volunteers found by phone or name, and remove members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel
from market.areas.service import managed_areas
from market.auth import service as auth
from market.auth.access import ActorRequest, requires_community_manager
from market.auth.models import Role
from market.errors import MarketError, NotFound
from market.fields import PathId, query_text
from market.pagination import Offset
from market.settings import Settings
from market.teams import service as teams
from market.teams.models import Speciality
from market.teams.schemas import TeamCreate, TeamUpdate
from market.web.i18n import lang_of
from market.web.pages import Form, FormData, FormInvalid, handling, page, parse, see_other, word_options

HOME = "/desk/teams"
LIMIT = 20
# Volunteers a search on the team page offers at once.
CANDIDATES = 20
LIST_PAGE = "desk/teams_list.html"
NEW_PAGE = "desk/teams_new.html"
TEAM_PAGE = "desk/teams_team.html"
CREATE_FIELDS = {
    "outside_your_area": "community_id",
    "not_a_community": "community_id",
    "area_not_found": "community_id",
    "team_name_taken": "name",
    "user_not_found": "leader_phone",
    "not_a_volunteer": "leader_phone",
    "volunteer_outside_community": "leader_phone",
}
RENAME_FIELDS = {"team_name_taken": "name"}


async def _team(session: AsyncSession, request: ActorRequest, team_id: int) -> None:
    """The team, when the actor runs it; another community's team does not exist on this desk."""
    team = await teams.get_team(session, team_id)
    if not teams.manages_team(request.user, team):
        raise NotFound(f"Team {team_id} does not exist.", code="team_not_found")


class TeamDesk(Controller):
    path = HOME
    guards = [requires_community_manager]
    include_in_schema = False

    @get("/")
    async def team_list(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], offset: Offset = 0
    ) -> Template:
        found, total = await teams.list_teams(
            session,
            area_id=request.user.area_id,
            speciality=None,
            member_id=None,
            active=None,
            limit=LIMIT,
            offset=offset,
        )
        return page(request, LIST_PAGE, teams=found, total=total, limit=LIMIT, offset=offset)

    async def _new_context(self, request: ActorRequest, session: AsyncSession) -> dict[str, Any]:
        communities = await managed_areas(session, request.user, (AreaLevel.community,))
        return {
            "specialities": word_options(lang_of(request), "speciality", Speciality),
            "communities": [(a.id, a.name) for a in communities],
        }

    @get("/new")
    async def new_form(self, request: ActorRequest, session: NamedDependency[AsyncSession]) -> Template:
        return page(request, NEW_PAGE, form=Form(), **await self._new_context(request, session))

    @post("/new")
    async def create(
        self,
        request: ActorRequest,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        form = Form.of(data)
        async with handling(
            session, form, NEW_PAGE, lambda: self._new_context(request, session), fields=CREATE_FIELDS
        ):
            phone = "".join(str(form.value("leader_phone")).split())
            leader_id = None
            if not phone:
                form.errors["leader_phone"] = ("form.required", {})
            else:
                try:
                    leader_id = (await auth.visible_user_by_phone(session, request.user, phone)).id
                except MarketError as error:
                    form.refuse(error, CREATE_FIELDS)
            body = parse(form, TeamCreate, settings.tz, leader_id=leader_id, member_ids=None)
            if form.errors:
                raise FormInvalid
            team = await teams.create_team(session, request.user, body, now)
        return see_other(f"{HOME}/{team.id}", notice="team_created")

    # ---------------------------------------------------------------- one team

    async def _team_context(
        self,
        request: ActorRequest,
        session: AsyncSession,
        team_id: int,
        q: str = "",
        which: str | None = None,
    ) -> dict[str, Any]:
        detail = await teams.team_detail(session, team_id)
        members = {m.user_id for m in detail.members}
        candidates = []
        if q:
            found, _ = await auth.list_users(
                session, request.user, role=Role.volunteer, query=q, limit=CANDIDATES, offset=0
            )
            candidates = [u for u in found if u.is_active and u.id not in members]
        return {
            "team": detail,
            "q": q,
            "candidates": candidates,
            "rename": Form({"name": detail.name}),
            "which": which,
        }

    @get("/{team_id:int}")
    async def team_page(
        self,
        request: ActorRequest,
        team_id: PathId,
        session: NamedDependency[AsyncSession],
        q: query_text(50, "A volunteer's name or phone number") = None,
    ) -> Template:
        await _team(session, request, team_id)
        context = await self._team_context(request, session, team_id, (q or "").strip())
        return page(request, TEAM_PAGE, form=None, **context)

    @post("/{team_id:int}")
    async def rename(
        self,
        request: ActorRequest,
        team_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await _team(session, request, team_id)
        form = Form.of(data)
        async with handling(
            session,
            form,
            TEAM_PAGE,
            lambda: self._team_context(request, session, team_id, which="rename"),
            fields=RENAME_FIELDS,
        ):
            if not str(form.value("name")).strip():
                form.errors["name"] = ("form.required", {})
            body = parse(form, TeamUpdate, settings.tz)
            await teams.update_team(session, request.user, team_id, TeamUpdate(name=body.name), now)
        return see_other(f"{HOME}/{team_id}", notice="team_saved")

    @post("/{team_id:int}/members")
    async def add(
        self,
        request: ActorRequest,
        team_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await _team(session, request, team_id)
        form = Form.of(data)
        q = str(form.value("q")).strip()[:50]
        async with handling(
            session, form, TEAM_PAGE, lambda: self._team_context(request, session, team_id, q, "members")
        ):
            user_id = str(form.value("user_id"))
            if not user_id.isdecimal() or len(user_id) > 18:
                raise NotFound("No such person.", code="user_not_found")
            # Only someone the manager may see: an id typed into the form tells nothing more.
            await auth.get_visible_user(session, request.user, int(user_id))
            await teams.add_member(session, request.user, team_id, int(user_id), now)
        return see_other(f"{HOME}/{team_id}", notice="team_member_added")

    @post("/{team_id:int}/members/{user_id:int}/remove")
    async def remove(
        self,
        request: ActorRequest,
        team_id: PathId,
        user_id: PathId,
        data: FormData,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> Redirect:
        await _team(session, request, team_id)
        form = Form.of(data)
        async with handling(
            session, form, TEAM_PAGE, lambda: self._team_context(request, session, team_id, which="members")
        ):
            await teams.remove_member(session, request.user, team_id, user_id, now)
        return see_other(f"{HOME}/{team_id}", notice="team_member_removed")


CONTROLLERS: list[type[Controller]] = [TeamDesk]

"""Volunteer teams: created and edited by the community's managers; membership kept by the
team leader or the managers; a member may leave on their own. Every change is a team event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel
from market.areas.service import get_area
from market.auth.access import Actor
from market.auth.models import Role, User
from market.auth.service import user_names
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.pagination import page_total
from market.teams.models import Speciality, Team, TeamEvent, TeamMember
from market.teams.schemas import (
    MAX_MEMBERS,
    MemberRead,
    TeamCreate,
    TeamDetail,
    TeamEventRead,
    TeamRead,
    TeamUpdate,
)
from market.volunteers.service import lives_in_or_serves

# Teams are a community's own business: grid workers see them but do not run them.


def manages_team(actor: Actor, team: Team) -> bool:
    return actor.is_community_manager and actor.manages(team.area_code)


async def get_team(session: AsyncSession, team_id: int, *, for_update: bool = False) -> Team:
    stmt = select(Team).where(Team.id == team_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    team = await session.scalar(stmt)
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.", code="team_not_found")
    return team


async def _member_ids(session: AsyncSession, team_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(TeamMember.user_id).where(TeamMember.team_id == team_id).order_by(TeamMember.id)
        )
    )


async def _check_volunteer(session: AsyncSession, team: Team, user_id: int) -> User:
    """A member must be an active volunteer who lives in or serves the team's community."""
    user = await session.scalar(
        select(User).where(User.id == user_id).options(selectinload(User.role_rows), selectinload(User.area))
    )
    if user is None or not user.is_active or Role.volunteer not in user.roles:
        raise Unprocessable(f"User {user_id} is not an active volunteer.", code="not_a_volunteer")
    if not await session.scalar(
        select(User.id).where(User.id == user_id, lives_in_or_serves(team.area_code))
    ):
        raise Unprocessable(
            f"{user.name} neither lives in nor serves the team's community.",
            code="volunteer_outside_community",
        )
    return user


def _event(
    team: Team, actor: Actor, action: str, now: datetime, user_id: int | None = None, note: str = ""
) -> TeamEvent:
    return TeamEvent(team_id=team.id, actor_id=actor.id, action=action, user_id=user_id, note=note, at=now)


def _refuse_inactive(team: Team) -> None:
    if not team.is_active:
        raise Conflict(f"Team {team.name} is inactive; reactivate it first.", code="team_inactive")


# ---------------------------------------------------------------- reading


async def team_reads(session: AsyncSession, teams: Sequence[Team]) -> list[TeamRead]:
    ids = [t.id for t in teams]
    counts = dict(
        (
            await session.execute(
                select(TeamMember.team_id, func.count())
                .where(TeamMember.team_id.in_(ids))
                .group_by(TeamMember.team_id)
            )
        ).all()
    )
    communities = dict(
        (
            await session.execute(
                select(Area.id, Area.name).where(Area.id.in_({t.community_id for t in teams}))
            )
        ).all()
    )
    leaders = await user_names(session, {t.leader_id for t in teams})
    return [
        TeamRead(
            id=t.id,
            name=t.name,
            speciality=t.speciality,
            description=t.description,
            community_id=t.community_id,
            community_name=communities.get(t.community_id, ""),
            leader_id=t.leader_id,
            leader_name=leaders.get(t.leader_id, ""),
            member_count=counts.get(t.id, 0),
            is_active=t.is_active,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )
        for t in teams
    ]


async def team_detail(session: AsyncSession, team_id: int) -> TeamDetail:
    team = await session.scalar(
        select(Team)
        .where(Team.id == team_id)
        .options(selectinload(Team.members), selectinload(Team.events))
        .execution_options(populate_existing=True)
    )
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.", code="team_not_found")
    (read,) = await team_reads(session, [team])
    names = await user_names(
        session,
        {m.user_id for m in team.members}
        | {e.actor_id for e in team.events}
        | {e.user_id for e in team.events if e.user_id},
    )
    return TeamDetail(
        **{f: getattr(read, f) for f in read.__struct_fields__},
        members=[
            MemberRead(
                user_id=m.user_id,
                name=names.get(m.user_id, ""),
                is_leader=m.user_id == team.leader_id,
                joined_at=m.joined_at,
            )
            for m in team.members
        ],
        events=[
            TeamEventRead(
                id=e.id,
                action=e.action,
                actor_id=e.actor_id,
                actor_name=names.get(e.actor_id, ""),
                user_id=e.user_id,
                user_name=names.get(e.user_id) if e.user_id else None,
                note=e.note,
                at=e.at,
            )
            for e in team.events
        ],
    )


async def list_teams(
    session: AsyncSession,
    *,
    area_id: int | None,
    speciality: Speciality | None,
    member_id: int | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[TeamRead], int]:
    stmt: Select = select(Team)
    if area_id is not None:
        code = (await get_area(session, area_id)).code
        # The teams of the communities inside the area, or of the community the area lies in.
        stmt = stmt.where(
            or_(Team.area_code.startswith(code, autoescape=True), literal(code).startswith(Team.area_code))
        )
    if speciality is not None:
        stmt = stmt.where(Team.speciality == speciality)
    if member_id is not None:
        stmt = stmt.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == member_id)))
    if active is not None:
        stmt = stmt.where(Team.is_active == active)
    teams = list(
        await session.scalars(stmt.order_by(Team.area_code, Team.name, Team.id).limit(limit).offset(offset))
    )
    total = await page_total(session, stmt, limit, offset, len(teams))
    return await team_reads(session, teams), total


# ---------------------------------------------------------------- managers: create, edit


async def create_team(session: AsyncSession, actor: Actor, data: TeamCreate, now: datetime) -> Team:
    community = await get_area(session, data.community_id)
    if community.level != AreaLevel.community:
        raise InvalidInput("A team belongs to a community: choose a community.", code="not_a_community")
    if not (actor.is_community_manager and actor.manages(community.code)):
        raise Forbidden("You can create teams only for communities in your area.", code="outside_your_area")
    name = data.name.strip()
    if await session.scalar(select(Team.id).where(Team.community_id == community.id, Team.name == name)):
        raise Conflict(f"{community.name} already has a team called {name}.", code="team_name_taken")
    member_ids = list(dict.fromkeys([data.leader_id, *data.member_ids]))
    if len(member_ids) > MAX_MEMBERS:
        raise InvalidInput(f"A team can have at most {MAX_MEMBERS} members.", code="team_full")
    team = Team(
        name=name,
        speciality=data.speciality,
        description=data.description,
        community_id=community.id,
        area_code=community.code,
        leader_id=data.leader_id,
        is_active=True,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    for user_id in member_ids:
        await _check_volunteer(session, team, user_id)
    session.add(team)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"{community.name} already has a team called {name}.", code="team_name_taken"
        ) from error
    session.add(_event(team, actor, "created", now, note=name))
    for user_id in member_ids:
        session.add(TeamMember(team_id=team.id, user_id=user_id, added_by_id=actor.id, joined_at=now))
        session.add(_event(team, actor, "member_added", now, user_id))
    await _notify_added(session, team, [u for u in member_ids if u != actor.id], now)
    await session.flush()
    return team


async def _notify_added(session: AsyncSession, team: Team, user_ids: list[int], now: datetime) -> None:
    await notify(
        session,
        user_ids,
        NotificationCode.team_joined,
        now,
        subject=("team", team.id),
        team=team.name,
    )


async def update_team(
    session: AsyncSession, actor: Actor, team_id: int, data: TeamUpdate, now: datetime
) -> None:
    team = await get_team(session, team_id, for_update=True)
    if not manages_team(actor, team):
        raise Forbidden("Only the community's managers can edit a team.", code="team_manager_required")
    changed = []
    if data.name is not None and data.name.strip() != team.name:
        name = data.name.strip()
        if await session.scalar(
            select(Team.id).where(
                Team.community_id == team.community_id, Team.name == name, Team.id != team.id
            )
        ):
            raise Conflict(f"The community already has a team called {name}.", code="team_name_taken")
        team.name = name
        changed.append("name")
    if data.speciality is not None and data.speciality != team.speciality:
        team.speciality = data.speciality
        changed.append("speciality")
    if data.description is not None and data.description != team.description:
        team.description = data.description
        changed.append("description")
    if changed:
        session.add(_event(team, actor, "updated", now, note=", ".join(changed)))
    if data.is_active is not None and data.is_active != team.is_active:
        team.is_active = data.is_active
        session.add(_event(team, actor, "reactivated" if data.is_active else "deactivated", now))
        changed.append("is_active")
    if data.leader_id is not None and data.leader_id != team.leader_id:
        if data.leader_id not in await _member_ids(session, team.id):
            raise Unprocessable("The new leader must be a member of the team.", code="leader_not_member")
        await _check_volunteer(session, team, data.leader_id)
        team.leader_id = data.leader_id
        session.add(_event(team, actor, "leader_changed", now, data.leader_id))
        changed.append("leader")
    if changed:
        team.updated_at = now
    await session.flush()


# ---------------------------------------------------------------- membership


async def add_member(session: AsyncSession, actor: Actor, team_id: int, user_id: int, now: datetime) -> None:
    team = await get_team(session, team_id, for_update=True)
    if actor.id != team.leader_id and not manages_team(actor, team):
        raise Forbidden(
            "Only the team leader or the community's managers can add members.",
            code="leader_or_manager_required",
        )
    _refuse_inactive(team)
    members = await _member_ids(session, team.id)
    if user_id in members:
        raise Conflict("That volunteer is already a member of the team.", code="already_a_member")
    if len(members) >= MAX_MEMBERS:
        raise Conflict(f"A team can have at most {MAX_MEMBERS} members.", code="team_full")
    await _check_volunteer(session, team, user_id)
    session.add(TeamMember(team_id=team.id, user_id=user_id, added_by_id=actor.id, joined_at=now))
    session.add(_event(team, actor, "member_added", now, user_id))
    team.updated_at = now
    if user_id != actor.id:
        await _notify_added(session, team, [user_id], now)
    await session.flush()


async def remove_member(
    session: AsyncSession, actor: Actor, team_id: int, user_id: int, now: datetime
) -> None:
    """The leader or a manager removes a member; a member may also leave on their own."""
    team = await get_team(session, team_id, for_update=True)
    leaving = user_id == actor.id
    if not leaving and actor.id != team.leader_id and not manages_team(actor, team):
        raise Forbidden(
            "Only the team leader or the community's managers can remove members.",
            code="leader_or_manager_required",
        )
    member = await session.scalar(
        select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
    )
    if member is None:
        raise NotFound("That user is not a member of the team.", code="member_not_found")
    if user_id == team.leader_id:
        raise Conflict(
            "The leader cannot leave the team; make another member the leader first.",
            code="leader_cannot_leave",
        )
    await session.delete(member)
    session.add(_event(team, actor, "member_left" if leaving else "member_removed", now, user_id))
    team.updated_at = now
    await session.flush()


# ---------------------------------------------------------------- dispatch


async def team_for_dispatch(session: AsyncSession, team_id: int) -> tuple[Team, list[int]]:
    """An active team and its members, for a pool dispatch of an order."""
    team = await get_team(session, team_id)
    _refuse_inactive(team)
    return team, await _member_ids(session, team.id)

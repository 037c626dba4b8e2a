"""Projects: needs, resource commitments, responsibilities and volunteers, closed out once.

States: draft → active (when every committing unit has confirmed) → completed or
overdue (close-out, by a manager or at the deadline by the scheduler), and
draft/active → cancelled. Every change locks the project row first and records
an event. Rows are locked in one order everywhere: project, needs, resources
(each by id), then ledger accounts (the ledger's own order), so that concurrent
requests queue instead of deadlocking.

Close-out happens exactly once: it re-checks the state on the locked row, and
the points it pays use deterministic transfer ids, so even a retry after a
partial failure elsewhere cannot pay twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import ColumnElement, Row, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel, community_scope
from market.areas.service import get_area, require_community
from market.auth.access import Actor
from market.auth.models import Role, User, UserRole
from market.auth.service import user_names
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, Transfer, TransferCode
from market.needs.models import Need, NeedStatus
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.pagination import page_total
from market.projects.models import (
    PROJECT_MACHINE,
    Commitment,
    Delivery,
    Participant,
    Project,
    ProjectAction,
    ProjectEvent,
    ProjectNeed,
    ProjectStatus,
    Responsibility,
    ResponsibilityEscalation,
)
from market.projects.schemas import (
    CommitmentOutcome,
    CommitmentRead,
    DeliveryRead,
    EventRead,
    MissingItem,
    NeedBrief,
    NeedOutcome,
    ParticipantRead,
    ProjectCreate,
    ProjectListItem,
    ProjectRead,
    ProjectSummary,
    ResponsibilityChange,
    ResponsibilityCreate,
    ResponsibilityRead,
    UnitPoints,
    VolunteerPoints,
)
from market.settings import Settings
from market.teams.models import Team
from market.units import service as units
from market.units.models import Resource, ResourceStatus, Unit, UnitCommunity
from market.volunteers.service import lives_in_or_serves, serves_area

S = ProjectStatus
A = ProjectAction
# Volunteers earn the community policy's rate for this category per hour (its default rate when unset).
POINTS_CATEGORY = "project"
# Credit points (信用积分) a unit earns for each commitment it delivered in full.
UNIT_CREDIT_PER_COMMITMENT = 10
# Managers are told this long before the deadline that a project is about to close.
WARN_BEFORE = timedelta(hours=24)


# ---------------------------------------------------------------- loading and scope


def _visible(actor: Actor):
    """Projects a caller may read: managers their community's (grid workers included), units those
    they commit to or are responsible in, people those they take part in or are responsible for."""
    if actor.is_admin:
        return Project.id.is_not(None)
    mine = units.my_units(actor)
    conditions = [
        Project.created_by_id == actor.id,
        Project.id.in_(select(Participant.project_id).where(Participant.user_id == actor.id)),
        Project.id.in_(
            select(Responsibility.project_id).where(
                or_(
                    Responsibility.user_id == actor.id,
                    Responsibility.unit_id.in_(mine),
                    Responsibility.team_id.in_(select(Team.id).where(Team.leader_id == actor.id)),
                )
            )
        ),
        Project.id.in_(select(Commitment.project_id).where(Commitment.unit_id.in_(mine))),
    ]
    if actor.is_manager:
        conditions.append(
            Project.community_code.startswith(community_scope(actor.area_code), autoescape=True)
        )
    return or_(*conditions)


async def lock_project(session: AsyncSession, actor: Actor | None, project_id: int) -> Project:
    """The project row, locked, with everything close-out and the actions need."""
    if actor is not None and not await session.scalar(
        select(Project.id).where(Project.id == project_id, _visible(actor))
    ):
        raise NotFound(f"Project {project_id} does not exist.", code="project_not_found")
    project = await session.scalar(
        select(Project)
        .where(Project.id == project_id)
        .options(
            selectinload(Project.needs),
            selectinload(Project.commitments).selectinload(Commitment.deliveries),
            selectinload(Project.responsibilities),
            selectinload(Project.participants),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.", code="project_not_found")
    return project


def _require_manager(actor: Actor, project: Project) -> None:
    if not actor.manages(project.community_code):
        raise Forbidden("Only the community's managers can do this.", code="manager_required")


def _event(
    session: AsyncSession,
    project: Project,
    actor_id: int | None,
    action: ProjectAction,
    now: datetime,
    note: str = "",
    outcome: ProjectStatus | None = None,
) -> None:
    """Record an action, moving the project as `PROJECT_MACHINE` says (or refusing). The event's
    to_status is None when the state stays."""
    if action == A.create:
        # A new project comes from nowhere, in the state it was made in.
        before, after = None, project.status
    else:
        before = project.status
        after = PROJECT_MACHINE.next(before, action, outcome)
    session.add(
        ProjectEvent(
            project_id=project.id,
            actor_id=actor_id,
            action=action,
            from_status=before,
            to_status=None if after == before else after,
            note=note,
            at=now,
        )
    )
    project.status = after
    project.updated_at = now


async def managers_of(session: AsyncSession, project: Project) -> set[int]:
    """Whom to tell about the project as a whole: its creator and the community's managers."""
    managers = set(
        await session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.area_id == project.community_id,
                User.is_active,
                UserRole.role == Role.community_manager,
            )
        )
    )
    return managers | {project.created_by_id}


async def _everyone(session: AsyncSession, project: Project) -> set[int]:
    admins = await units.admins_of(session, {c.unit_id for c in project.commitments})
    return (
        await managers_of(session, project)
        | {p.user_id for p in project.participants}
        | {user_id for ids in admins.values() for user_id in ids}
    )


# ---------------------------------------------------------------- creating


async def community_for(session: AsyncSession, actor: Actor, community_id: int) -> Area:
    area = require_community(await get_area(session, community_id))
    if not actor.manages(area.code):
        raise Forbidden("That community is outside your area.", code="outside_your_area")
    return area


async def communities_followed(session: AsyncSession, actor: Actor) -> list[Area]:
    """The communities whose projects a manager follows: those inside their area, or the one their
    grid lies in (grid workers read their community's projects)."""
    stmt = select(Area).where(Area.level == AreaLevel.community).order_by(Area.code)
    if not actor.is_admin:
        stmt = stmt.where(
            or_(
                Area.code.startswith(actor.area_code, autoescape=True),
                Area.code == community_scope(actor.area_code),
            )
        )
    return list(await session.scalars(stmt))


async def lock_needs(session: AsyncSession, need_ids: Iterable[int]) -> dict[int, Need]:
    rows = await session.scalars(
        select(Need)
        .where(Need.id.in_(sorted(set(need_ids))))
        .order_by(Need.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {n.id: n for n in rows}


# Needs a plan or a project may take up: nothing serves them now and they still lack something.
PLANNABLE = frozenset({NeedStatus.open, NeedStatus.partly_met})


async def delivered_to_needs(session: AsyncSession, need_ids: Iterable[int]) -> dict[int, int]:
    """What was delivered to each need across every project that served it (closed, cancelled or
    running): the one place a need's delivered quantity comes from, for close-out, plans and pages."""
    delivered = dict.fromkeys(sorted(set(need_ids)), 0)
    for need_id, quantity in await session.execute(
        select(Commitment.need_id, func.sum(Delivery.quantity))
        .join(Delivery, Delivery.commitment_id == Commitment.id)
        .where(Commitment.need_id.in_(delivered))
        .group_by(Commitment.need_id)
    ):
        delivered[need_id] = int(quantity)
    return delivered


def settled_status(quantity: int, delivered: int) -> NeedStatus:
    """A need's state when no project serves it: met only when everything it asked was delivered."""
    if delivered >= quantity:
        return NeedStatus.met
    return NeedStatus.partly_met if delivered else NeedStatus.open


def need_problem(need: Need | None, community: Area, now: datetime) -> str | None:
    """Why a need cannot join a project now, or None."""
    if need is None or need.community_id != community.id:
        return f"is not a need of {community.name}"
    if need.status not in PLANNABLE:
        return f"is {need.status}, not open"
    if need.deadline <= now:
        return "is past its deadline"
    return None


async def resource_problem(
    session: AsyncSession,
    resource: Resource | None,
    quantity: int,
    community: Area,
    deadline: datetime,
    now: datetime,
) -> str | None:
    """Why so much of a resource cannot be committed to a project in the community now, or None."""
    if resource is None:
        return "does not exist"
    if resource.status == ResourceStatus.withdrawn:
        return "has been withdrawn"
    served = await session.scalar(
        select(func.count())
        .select_from(Resource)
        .where(Resource.id == resource.id, Resource.communities.any(community_id=community.id))
    )
    if not served:
        return f"does not serve {community.name}"
    if resource.available_until is not None and resource.available_until <= now:
        return "is no longer available"
    if resource.available_from > deadline:
        return "becomes available only after the deadline"
    if resource.available < quantity:
        return f"has only {resource.available} {resource.unit_of_measure} available"
    return None


async def _check_holder(
    session: AsyncSession, community_id: int, unit_id: int | None, user_id: int | None, team_id: int | None
) -> None:
    """Exactly one holder, and it exists: an active person, a unit, an active team of the community."""
    if (unit_id is not None) + (user_id is not None) + (team_id is not None) != 1:
        raise InvalidInput("Name exactly one of unit_id, user_id and team_id.", code="one_assignee")
    if unit_id is not None and await session.get(Unit, unit_id) is None:
        raise Unprocessable(f"Unit {unit_id} does not exist.", code="unit_not_found", unit_id=unit_id)
    if user_id is not None:
        user = await session.get(User, user_id)
        if user is None or not user.is_active:
            raise Unprocessable(f"User {user_id} does not exist.", code="user_not_found", user_id=user_id)
    if team_id is not None:
        team = await session.get(Team, team_id)
        if team is None or not team.is_active or team.community_id != community_id:
            raise Unprocessable(
                f"Team {team_id} is not an active team of the project's community.",
                code="team_not_found",
                team_id=team_id,
            )


def _due(due_at: datetime | None, deadline: datetime, now: datetime) -> datetime:
    """A responsibility's due date: not past, not after the project's deadline (its default)."""
    if due_at is None:
        return deadline
    if due_at <= now:
        raise InvalidInput("The due date must be in the future.", code="due_passed")
    if due_at > deadline:
        raise InvalidInput(
            "A responsibility is due by the project's deadline at the latest.",
            code="due_after_deadline",
            deadline=deadline,
        )
    return due_at


async def _check_responsibilities(
    session: AsyncSession,
    items: Sequence[ResponsibilityCreate],
    community_id: int,
    deadline: datetime,
    now: datetime,
) -> None:
    for r in items:
        await _check_holder(session, community_id, r.unit_id, r.user_id, r.team_id)
        _due(r.due_at, deadline, now)


async def _check_volunteers(session: AsyncSession, user_ids: Iterable[int], community_code: str) -> None:
    """Participants are active volunteers who live in or serve the project's community."""
    wanted = set(user_ids)
    found = set(
        await session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.id.in_(wanted), User.is_active, UserRole.role == Role.volunteer)
        )
    )
    if missing := sorted(wanted - found):
        raise Unprocessable(
            f"Users {', '.join(map(str, missing))} are not active volunteers.",
            code="not_a_volunteer",
            user_ids=missing,
        )
    near = set(
        await session.scalars(select(User.id).where(User.id.in_(wanted), lives_in_or_serves(community_code)))
    )
    if outside := sorted(wanted - near):
        raise Unprocessable(
            f"Users {', '.join(map(str, outside))} neither live in nor serve the project's community.",
            code="volunteer_outside_community",
            user_ids=outside,
        )


async def open_project(
    session: AsyncSession,
    actor: Actor,
    *,
    community: Area,
    title: str,
    description: str,
    start_at: datetime,
    deadline: datetime,
    needs: Sequence[Need],
    commitments: Sequence[tuple[Resource, int, Need | None]],
    responsibilities: Sequence[ResponsibilityCreate] = (),
    participant_ids: Iterable[int] = (),
    now: datetime,
) -> Project:
    """A draft project over checked, locked needs and resources: holds the quantities, plans the
    needs and asks the units to confirm. Without commitments there is nothing to confirm: active.
    Each commitment names the need it serves (None: the project serves no need)."""
    if deadline <= now:
        raise InvalidInput("The deadline must be in the future.", code="deadline_passed")
    if start_at >= deadline:
        raise InvalidInput("start_at must be before the deadline.", code="window_order")
    project = Project(
        title=title.strip(),
        description=description,
        community_id=community.id,
        community_code=community.code,
        status=S.draft,
        start_at=start_at,
        deadline=deadline,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        needs=[ProjectNeed(need_id=n.id) for n in needs],
        commitments=[
            Commitment(
                resource_id=r.id,
                unit_id=r.unit_id,
                need_id=n.id if n else None,
                quantity=q,
                delivered=0,
                released=0,
            )
            for r, q, n in commitments
        ],
        responsibilities=[
            Responsibility(
                task=r.task.strip(),
                unit_id=r.unit_id,
                user_id=r.user_id,
                team_id=r.team_id,
                due_at=_due(r.due_at, deadline, now),
            )
            for r in responsibilities
        ],
        participants=[
            Participant(user_id=i, tenths=0, added_by_id=actor.id, added_at=now)
            for i in sorted(set(participant_ids))
        ],
    )
    session.add(project)
    for resource, quantity, _need in commitments:
        units.hold(resource, quantity)
        resource.updated_at = now
    for need in needs:
        need.status, need.note, need.updated_at = NeedStatus.planned, "", now
    await session.flush()
    _event(
        session,
        project,
        actor.id,
        A.create,
        now,
        f"{len(needs)} need(s), {len(commitments)} commitment(s), "
        f"{len(responsibilities)} responsibility(ies)",
    )
    admins = await units.admins_of(session, {r.unit_id for r, _, _ in commitments})
    for resource, quantity, _need in commitments:
        await notify(
            session,
            admins.get(resource.unit_id, []),
            NotificationCode.commitment_to_confirm,
            now,
            subject=("project", project.id),
            project=project.title,
            quantity=quantity,
            measure=resource.unit_of_measure,
            resource=resource.title,
        )
    if not commitments:
        await _activate(session, project, actor.id, now)
    await session.flush()
    return project


async def create_project(session: AsyncSession, actor: Actor, data: ProjectCreate, now: datetime) -> Project:
    community = await community_for(session, actor, data.community_id)
    start_at = data.start_at or now
    resource_ids = [c.resource_id for c in data.commitments]
    need_ids = sorted(set(data.need_ids))
    # A commitment left without a need serves the project's only need.
    served = [c.need_id or (need_ids[0] if len(need_ids) == 1 else None) for c in data.commitments]
    if len(set(zip(resource_ids, served, strict=True))) != len(resource_ids):
        raise InvalidInput(
            "Each resource may be committed once per need of a project.", code="duplicate_resource"
        )
    if need_ids and None in served:
        raise InvalidInput("Say which of the project's needs each commitment serves.", code="need_required")
    if outside := sorted({n for n in served if n is not None} - set(need_ids)):
        raise Unprocessable(
            "A commitment serves one of the project's needs.", code="need_not_in_project", need_ids=outside
        )
    await _check_responsibilities(session, data.responsibilities, community.id, data.deadline, now)
    await _check_volunteers(session, data.participant_ids, community.code)
    needs = await lock_needs(session, need_ids)
    for need_id in need_ids:
        if problem := need_problem(needs.get(need_id), community, now):
            raise Conflict(f"Need {need_id} {problem}.", code="need_not_available", need_id=need_id)
    # Nobody promises a need more than it still lacks (what would be delivered twice).
    lacking = {i: needs[i].quantity - d for i, d in (await delivered_to_needs(session, need_ids)).items()}
    promised = Counter()
    for c, need_id in zip(data.commitments, served, strict=True):
        if need_id is not None:
            promised[need_id] += c.quantity
    for need_id in sorted(promised):
        if promised[need_id] > lacking[need_id]:
            raise Conflict(
                f"Need {need_id} lacks only {lacking[need_id]}.",
                code="exceeds_need",
                need_id=need_id,
                lacking=lacking[need_id],
            )
    resources = await units.lock_resources(session, resource_ids)
    taken: Counter[int] = Counter()
    commitments = []
    for c, need_id in zip(data.commitments, served, strict=True):
        resource = resources.get(c.resource_id)
        taken[c.resource_id] += c.quantity
        if problem := await resource_problem(
            session, resource, taken[c.resource_id], community, data.deadline, now
        ):
            raise Conflict(
                f"Resource {c.resource_id} {problem}.",
                code="resource_not_available",
                resource_id=c.resource_id,
            )
        commitments.append((resource, c.quantity, needs[need_id] if need_id else None))
    return await open_project(
        session,
        actor,
        community=community,
        title=data.title,
        description=data.description,
        start_at=start_at,
        deadline=data.deadline,
        needs=[needs[i] for i in need_ids],
        commitments=commitments,
        responsibilities=data.responsibilities,
        participant_ids=data.participant_ids,
        now=now,
    )


# ---------------------------------------------------------------- actions


async def _activate(session: AsyncSession, project: Project, actor_id: int | None, now: datetime) -> None:
    _event(session, project, actor_id, A.activate, now)
    project.activated_at = now
    await notify(
        session,
        await managers_of(session, project) | {p.user_id for p in project.participants},
        NotificationCode.project_active,
        now,
        subject=("project", project.id),
        project=project.title,
        deadline=project.deadline,
    )


def _commitment(project: Project, commitment_id: int) -> Commitment:
    for c in project.commitments:
        if c.id == commitment_id:
            return c
    raise NotFound(f"Project {project.id} has no commitment {commitment_id}.", code="commitment_not_found")


async def confirm_commitment(
    session: AsyncSession, actor: Actor, project_id: int, commitment_id: int, now: datetime
) -> None:
    project = await lock_project(session, actor, project_id)
    commitment = _commitment(project, commitment_id)
    if not await units.acts_for(session, actor, commitment.unit_id):
        raise Forbidden("Only the committing unit's admins confirm its commitment.", code="not_your_unit")
    if commitment.confirmed_at is not None:
        raise Conflict("This commitment is already confirmed.", code="already_confirmed")
    PROJECT_MACHINE.check(project.status, A.confirm_commitment)
    commitment.confirmed_at, commitment.confirmed_by_id = now, actor.id
    _event(session, project, actor.id, A.confirm_commitment, now, f"commitment {commitment.id}")
    if all(c.confirmed_at is not None for c in project.commitments):
        await _activate(session, project, actor.id, now)
    await session.flush()


async def record_delivery(
    session: AsyncSession,
    actor: Actor,
    project_id: int,
    commitment_id: int,
    quantity: int,
    note: str,
    now: datetime,
) -> None:
    project = await lock_project(session, actor, project_id)
    commitment = _commitment(project, commitment_id)
    if not (
        actor.manages(project.community_code) or await units.acts_for(session, actor, commitment.unit_id)
    ):
        raise Forbidden(
            "Only the committing unit's admins or the community's managers record deliveries.",
            code="not_your_unit",
        )
    PROJECT_MACHINE.check(project.status, A.deliver)
    outstanding = commitment.quantity - commitment.delivered - commitment.released
    if quantity > outstanding:
        raise Conflict(
            f"Only {outstanding} of this commitment are still to deliver.",
            code="exceeds_commitment",
            outstanding=outstanding,
        )
    resource = (await units.lock_resources(session, [commitment.resource_id]))[commitment.resource_id]
    units.deliver(resource, quantity)
    resource.updated_at = now
    commitment.delivered += quantity
    session.add(
        Delivery(commitment_id=commitment.id, quantity=quantity, note=note, recorded_by_id=actor.id, at=now)
    )
    _event(
        session,
        project,
        actor.id,
        A.deliver,
        now,
        f"commitment {commitment.id}: {quantity} {resource.unit_of_measure}" + (f" ({note})" if note else ""),
    )
    await session.flush()


async def add_participant(
    session: AsyncSession, actor: Actor, project_id: int, user_id: int, now: datetime
) -> None:
    project = await lock_project(session, actor, project_id)
    _require_manager(actor, project)
    PROJECT_MACHINE.check(project.status, A.add_participant)
    await _check_volunteers(session, [user_id], project.community_code)
    if any(p.user_id == user_id for p in project.participants):
        raise Conflict("That volunteer already takes part.", code="already_participating")
    session.add(
        Participant(project_id=project.id, user_id=user_id, tenths=0, added_by_id=actor.id, added_at=now)
    )
    _event(session, project, actor.id, A.add_participant, now, f"user {user_id}")
    await notify(
        session,
        [user_id],
        NotificationCode.project_joined,
        now,
        subject=("project", project.id),
        project=project.title,
    )
    await session.flush()


async def participant_candidates(
    session: AsyncSession, project_id: int, community_code: str, search: str, limit: int
) -> list[Row[tuple[int, str, str]]]:
    """(id, name, phone) of the active volunteers serving the community who do not take part in
    the project yet, and whose name or phone holds `search`: the first `limit`, by name."""
    stmt = (
        select(User.id, User.name, User.phone)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.is_active,
            UserRole.role == Role.volunteer,
            serves_area(community_code),
            ~exists().where(Participant.project_id == project_id, Participant.user_id == User.id),
        )
        .order_by(User.name, User.id)
        .limit(limit)
    )
    if search:
        stmt = stmt.where(
            or_(User.name.icontains(search, autoescape=True), User.phone.contains(search, autoescape=True))
        )
    return list(await session.execute(stmt))


async def record_hours(
    session: AsyncSession, actor: Actor, project_id: int, participant_id: int, hours: float, now: datetime
) -> None:
    project = await lock_project(session, actor, project_id)
    _require_manager(actor, project)
    participant = next((p for p in project.participants if p.id == participant_id), None)
    if participant is None:
        raise NotFound(
            f"Project {project.id} has no participant {participant_id}.", code="participant_not_found"
        )
    actor.refuse_own_service(participant.user_id)
    PROJECT_MACHINE.check(project.status, A.record_hours)
    # Nobody serves longer than the project has run.
    span = (project.deadline - project.start_at).total_seconds() / 3600
    if hours > span:
        raise InvalidInput(
            f"The project runs {span:g} hours; nobody served more.",
            code="hours_beyond_span",
            max_hours=int(span),
        )
    before, participant.tenths = participant.hours, round(hours * 10)
    _event(
        session,
        project,
        actor.id,
        A.record_hours,
        now,
        f"user {participant.user_id}: {before} h → {participant.hours} h",
    )
    await session.flush()


async def credit_shift(
    session: AsyncSession, project: Project, user_id: int, tenths: int, note: str, now: datetime
) -> None:
    """A volunteer who served one of the project's shifts (checked out, or marked attended) takes
    part, and the shift's hours are added to their participant record, which close-out pays as any
    other. Not at check-in: one called off or marked a no-show after it took no part.
    The caller holds the project's row lock; the project is active."""
    participant = next((p for p in project.participants if p.user_id == user_id), None)
    if participant is None:
        participant = Participant(
            project_id=project.id, user_id=user_id, tenths=0, added_by_id=user_id, added_at=now
        )
        session.add(participant)
        project.participants.append(participant)
        _event(session, project, user_id, A.add_participant, now, f"user {user_id}: {note}")
    if tenths:
        before, participant.tenths = participant.hours, participant.tenths + tenths
        _event(
            session,
            project,
            user_id,
            A.record_hours,
            now,
            f"user {user_id}: {before} h → {participant.hours} h ({note})",
        )
    await session.flush()


def _responsibility(project: Project, responsibility_id: int) -> Responsibility:
    item = next((r for r in project.responsibilities if r.id == responsibility_id), None)
    if item is None:
        raise NotFound(
            f"Project {project.id} has no responsibility {responsibility_id}.",
            code="responsibility_not_found",
        )
    return item


async def holders_of(session: AsyncSession, item: Responsibility) -> set[int]:
    """Who holds a responsibility: the person, the unit's admins, or the team's leader."""
    if item.user_id is not None:
        return {item.user_id}
    if item.unit_id is not None:
        return set((await units.admins_of(session, [item.unit_id])).get(item.unit_id, []))
    leader = await session.scalar(select(Team.leader_id).where(Team.id == item.team_id))
    return {leader} if leader is not None else set()


async def add_responsibility(
    session: AsyncSession, actor: Actor, project_id: int, data: ResponsibilityCreate, now: datetime
) -> Responsibility:
    """A new responsibility on a draft or active project, however it was made (a plan's too)."""
    project = await lock_project(session, actor, project_id)
    _require_manager(actor, project)
    PROJECT_MACHINE.check(project.status, A.add_responsibility)
    await _check_holder(session, project.community_id, data.unit_id, data.user_id, data.team_id)
    item = Responsibility(
        project_id=project.id,
        task=data.task.strip(),
        unit_id=data.unit_id,
        user_id=data.user_id,
        team_id=data.team_id,
        due_at=_due(data.due_at, project.deadline, now),
    )
    session.add(item)
    _event(session, project, actor.id, A.add_responsibility, now, item.task)
    await session.flush()
    await _tell_holders(session, project, item, now)
    return item


async def _tell_holders(session: AsyncSession, project: Project, item: Responsibility, now: datetime) -> None:
    """Whoever now holds the responsibility is told what to do and by when."""
    await notify(
        session,
        await holders_of(session, item),
        NotificationCode.responsibility_assigned,
        now,
        subject=("project", project.id),
        project=project.title,
        task=item.task,
        due_at=item.due_at,
    )


async def change_responsibility(
    session: AsyncSession,
    actor: Actor,
    project_id: int,
    responsibility_id: int,
    data: ResponsibilityChange,
    now: datetime,
) -> None:
    """Hand a responsibility to another holder, move its due date, or both; its escalation starts over."""
    project = await lock_project(session, actor, project_id)
    _require_manager(actor, project)
    item = _responsibility(project, responsibility_id)
    PROJECT_MACHINE.check(project.status, A.reassign_responsibility)
    if item.done_at is not None:
        raise Conflict("This responsibility is already done.", code="already_done")
    new_holder = (data.unit_id, data.user_id, data.team_id) != (None, None, None)
    if not new_holder and data.due_at is None:
        raise InvalidInput("Give a new holder, a new due date or both.", code="nothing_to_change")
    if new_holder:
        await _check_holder(session, project.community_id, data.unit_id, data.user_id, data.team_id)
        item.unit_id, item.user_id, item.team_id = data.unit_id, data.user_id, data.team_id
    if data.due_at is not None:
        item.due_at = _due(data.due_at, project.deadline, now)
    item.escalation, item.escalated_at = None, None
    _event(session, project, actor.id, A.reassign_responsibility, now, item.task)
    await session.flush()
    await _tell_holders(session, project, item, now)


async def may_mark_done(session: AsyncSession, actor: Actor, project: Project, item: Responsibility) -> bool:
    """The community's managers and street admins, the person holding it, the holding unit's
    admins and the holding team's leader mark a responsibility done."""
    if actor.is_community_manager and actor.manages(project.community_code):
        return True
    if item.unit_id is not None:
        return await units.acts_for(session, actor, item.unit_id)
    return actor.id in await holders_of(session, item)


async def complete_responsibility(
    session: AsyncSession, actor: Actor, project_id: int, responsibility_id: int, now: datetime
) -> None:
    project = await lock_project(session, actor, project_id)
    item = _responsibility(project, responsibility_id)
    if not await may_mark_done(session, actor, project, item):
        raise Forbidden("Only whoever is responsible or a manager marks this done.", code="not_responsible")
    if item.done_at is not None:
        raise Conflict("This responsibility is already done.", code="already_done")
    PROJECT_MACHINE.check(project.status, A.responsibility_done)
    item.done_at, item.done_by_id = now, actor.id
    _event(session, project, actor.id, A.responsibility_done, now, item.task)
    await session.flush()


async def escalate_responsibilities(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """The scheduled job: a responsibility past its due date is told to its holder; still not done
    `escalate_community_hours` later, to the community's managers. Each level once."""
    later = timedelta(hours=settings.escalate_community_hours)
    candidates = (
        await session.execute(
            select(Responsibility.project_id, Responsibility.id)
            .join(Project, Project.id == Responsibility.project_id)
            .where(
                Responsibility.done_at.is_(None),
                Responsibility.due_at <= now,
                or_(
                    Responsibility.escalation.is_(None),
                    Responsibility.escalation != ResponsibilityEscalation.community,
                ),
                Project.status.in_(PROJECT_MACHINE.sources(A.escalate_responsibility)),
            )
            .order_by(Responsibility.project_id, Responsibility.id)
        )
    ).all()
    raised = 0
    for project_id, responsibility_id in candidates:
        project = await lock_project(session, None, project_id)
        item = _responsibility(project, responsibility_id)
        # Decided on the locked rows, so two schedulers cannot both tell one level.
        if not PROJECT_MACHINE.allows(project.status, A.escalate_responsibility) or item.done_at is not None:
            continue
        if item.due_at > now:
            continue
        if item.escalation is None:
            level, whom = ResponsibilityEscalation.owner, await holders_of(session, item)
        elif item.escalation == ResponsibilityEscalation.owner and item.escalated_at + later <= now:
            level, whom = ResponsibilityEscalation.community, await managers_of(session, project)
        else:
            continue
        item.escalation, item.escalated_at = level, now
        _event(session, project, None, A.escalate_responsibility, now, f"{item.task}: {level}")
        await notify(
            session,
            whom,
            NotificationCode.responsibility_overdue,
            now,
            subject=("project", project.id),
            project=project.title,
            task=item.task,
            due_at=item.due_at,
            level=str(level),
        )
        raised += 1
    await session.flush()
    return raised


async def unit_responsibilities(
    session: AsyncSession, actor: Actor, limit: int
) -> list[Row[tuple[int, str, int, str, datetime, str]]]:
    """(project id, project title, responsibility id, task, due, unit name) of what the actor's units
    still have to do in running projects, the soonest due first."""
    return list(
        await session.execute(
            select(
                Project.id,
                Project.title,
                Responsibility.id,
                Responsibility.task,
                Responsibility.due_at,
                Unit.name,
            )
            .join(Project, Project.id == Responsibility.project_id)
            .join(Unit, Unit.id == Responsibility.unit_id)
            .where(
                Responsibility.unit_id.in_(units.my_units(actor)),
                Responsibility.done_at.is_(None),
                Project.status.in_(PROJECT_MACHINE.sources(A.responsibility_done)),
            )
            .order_by(Responsibility.due_at, Responsibility.id)
            .limit(limit)
        )
    )


async def held_responsibilities(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[Row[tuple[int, str, int, str, datetime]]], int]:
    """What the actor holds as the person or as the team's leader (as `holders_of` says) and has
    still to do in running projects (see `_open_responsibilities`)."""
    held = or_(
        Responsibility.user_id == actor.id,
        Responsibility.team_id.in_(select(Team.id).where(Team.leader_id == actor.id)),
    )
    return await _open_responsibilities(session, [held], limit, offset)


async def holder_choices(session: AsyncSession, project: ProjectRead) -> dict[str, list[tuple[int, str]]]:
    """Who may hold a responsibility of the project, as (id, name) by kind: the units paired with
    its community, the community's active teams, and its people (participants and managers)."""
    unit_rows = await session.execute(
        select(Unit.id, Unit.name)
        .where(
            Unit.id.in_(
                select(UnitCommunity.unit_id).where(UnitCommunity.community_id == project.community_id)
            )
        )
        .order_by(Unit.name, Unit.id)
    )
    team_rows = await session.execute(
        select(Team.id, Team.name)
        .where(Team.community_id == project.community_id, Team.is_active)
        .order_by(Team.name, Team.id)
    )
    managers = select(UserRole.user_id).where(UserRole.role == Role.community_manager)
    people = await session.execute(
        select(User.id, User.name)
        .where(
            User.is_active,
            or_(
                User.id.in_([p.user_id for p in project.participants]),
                User.id.in_(managers) & (User.area_id == project.community_id),
            ),
        )
        .order_by(User.name, User.id)
    )
    return {
        "unit": [tuple(r) for r in unit_rows],
        "team": [tuple(r) for r in team_rows],
        "user": [tuple(r) for r in people],
    }


async def overdue_responsibilities(
    session: AsyncSession, actor: Actor, now: datetime, limit: int
) -> tuple[list[Row[tuple[int, str, int, str, datetime]]], int]:
    """The responsibilities past their due date in the running projects the actor may read (see
    `_open_responsibilities`): the longest overdue first."""
    return await _open_responsibilities(session, [_visible(actor), Responsibility.due_at <= now], limit)


async def _open_responsibilities(
    session: AsyncSession, where: list[ColumnElement[bool]], limit: int, offset: int = 0
) -> tuple[list[Row[tuple[int, str, int, str, datetime]]], int]:
    """(project id, project title, responsibility id, task, due) of the responsibilities `where`
    chooses that are still to do in running projects, the soonest due first; and how many."""
    stmt = (
        select(Project.id, Project.title, Responsibility.id, Responsibility.task, Responsibility.due_at)
        .join(Project, Project.id == Responsibility.project_id)
        .where(
            *where,
            Responsibility.done_at.is_(None),
            Project.status.in_(PROJECT_MACHINE.sources(A.responsibility_done)),
        )
    )
    page = stmt.order_by(Responsibility.due_at, Responsibility.id).limit(limit).offset(offset)
    rows = (await session.execute(page)).all()
    return rows, await page_total(session, stmt, limit, offset, len(rows))


async def _release_holds(session: AsyncSession, project: Project, now: datetime) -> None:
    outstanding = {c.id: c.quantity - c.delivered - c.released for c in project.commitments}
    resources = await units.lock_resources(
        session, [c.resource_id for c in project.commitments if outstanding[c.id] > 0]
    )
    for c in project.commitments:
        if outstanding[c.id] > 0:
            units.release(resources[c.resource_id], outstanding[c.id])
            resources[c.resource_id].updated_at = now
            c.released += outstanding[c.id]


def _outcomes(project: Project) -> list[CommitmentOutcome]:
    return [
        CommitmentOutcome(
            commitment_id=c.id,
            resource_id=c.resource_id,
            unit_id=c.unit_id,
            committed=c.quantity,
            delivered=c.delivered,
            released=c.released,
        )
        for c in project.commitments
    ]


async def cancel(session: AsyncSession, actor: Actor, project_id: int, reason: str, now: datetime) -> None:
    """Cancel a draft or active project: holds go back to the resources, needs back to open, no points."""
    project = await lock_project(session, actor, project_id)
    _require_manager(actor, project)
    PROJECT_MACHINE.check(project.status, A.cancel)
    needs = await lock_needs(session, [n.need_id for n in project.needs])
    await _release_holds(session, project, now)
    settled = await _settle_needs(session, needs, f"Project {project.id} was cancelled: {reason}", now)
    _event(session, project, actor.id, A.cancel, now, reason)
    project.closed_at = now
    project.summary = msgspec.to_builtins(
        ProjectSummary(
            outcome=S.cancelled,
            closed_at=now,
            closed_by_id=actor.id,
            commitments=_outcomes(project),
            missing=[],
            needs_met=[o.need_id for o in settled if o.status == NeedStatus.met],
            needs_reopened=[o.need_id for o in settled if o.status != NeedStatus.met],
            points_per_hour=0,
            volunteer_points=[],
            unit_points=[],
            note=reason,
            needs=settled,
        )
    )
    await notify(
        session,
        await _everyone(session, project),
        NotificationCode.project_cancelled,
        now,
        subject=("project", project.id),
        project=project.title,
        reason=reason,
    )
    await session.flush()


# ---------------------------------------------------------------- close-out


async def close(
    session: AsyncSession, actor: Actor, project_id: int, now: datetime, settings: Settings, note: str = ""
) -> None:
    project = await lock_project(session, actor, project_id)
    _require_manager(actor, project)
    PROJECT_MACHINE.check(project.status, A.close)
    if _idle(project) and not note.strip():
        raise Conflict(
            "Nothing was to be delivered or done: say why the project is complete.",
            code="close_note_required",
        )
    await _close_out(session, project, actor.id, now, settings, note.strip())


def _idle(project: Project) -> bool:
    """Nothing to deliver and nobody responsible for anything: nothing shows the project was done."""
    return not project.commitments and not project.responsibilities


def _missing(project: Project, note: str) -> list[MissingItem]:
    """What keeps the project from completing, each item a code with its params."""
    missing = [
        MissingItem(
            "commitment_short",
            {
                "commitment_id": c.id,
                "resource_id": c.resource_id,
                "delivered": c.delivered,
                "committed": c.quantity,
            },
        )
        for c in project.commitments
        if c.delivered < c.quantity
    ]
    missing += [
        MissingItem(
            "responsibility_not_done",
            {"responsibility_id": r.id, "task": r.task, "due_at": r.due_at.isoformat()},
        )
        for r in project.responsibilities
        if r.done_at is None
    ]
    if _idle(project) and not note:
        missing.append(MissingItem("close_note_missing", {}))
    return missing


async def _settle_needs(
    session: AsyncSession, needs: dict[int, Need], note: str, now: datetime
) -> list[NeedOutcome]:
    """Each locked need's state from what was delivered to it across every project: met only in
    full, else partly met or open with the remainder waiting for the next plan."""
    delivered = await delivered_to_needs(session, needs)
    outcomes = []
    for need_id, need in sorted(needs.items()):
        need.status = settled_status(need.quantity, delivered[need_id])
        need.note = (
            ""
            if need.status == NeedStatus.met
            else f"{note}: {delivered[need_id]} of {need.quantity} delivered"
        )
        need.updated_at = now
        outcomes.append(NeedOutcome(need_id, need.quantity, delivered[need_id], need.status))
    return outcomes


async def _award_points(
    session: AsyncSession, project: Project, community: Area, now: datetime, settings: Settings
) -> tuple[int, list[VolunteerPoints], list[UnitPoints]]:
    policy = await ledger.policy_for(session, community.id)
    rate = policy.rates.get(POINTS_CATEGORY, policy.default_rate)
    earned = [(p, (p.tenths * rate + 5) // 10) for p in project.participants]
    earned = [(p, points) for p, points in earned if points > 0]
    # Every account these postings touch is locked once, in id order, before any is paid: paying
    # one participant after another would lock members in participant order, and a gift between
    # two of them at the same moment would then deadlock with the close-out.
    pool = await ledger.area_account(session, community, AccountKind.community_pool, Asset.service)
    members = [await ledger.member_account(session, p.user_id) for p, _ in earned]
    await ledger.lock_accounts(session, {pool.id, *(m.id for m in members)})
    volunteers = []
    for p, points in earned:
        # Within the community's daily and monthly caps, as service and wish rewards are.
        paid = await ledger.capped_reward(
            session,
            transfer_id=f"~project:{project.id}:user:{p.user_id}",
            code=TransferCode.project_reward,
            reference=f"project:{project.id}",
            user_id=p.user_id,
            community=community,
            amount=points,
            memo=f"{project.title[:150]}: {p.hours} h",
            now=now,
            tz=settings.tz,
        )
        owed = paid > 0 and not await session.scalar(
            select(Transfer.id).where(Transfer.id == f"~project:{project.id}:user:{p.user_id}")
        )
        volunteers.append(
            VolunteerPoints(user_id=p.user_id, hours=p.hours, points=paid, owed=owed, withheld=points - paid)
        )
    completed = Counter(c.unit_id for c in project.commitments if c.delivered == c.quantity)
    unit_points = []
    if completed:
        street = await ledger.street_of(session, community.code)
        issuance = await ledger.area_account(session, street, AccountKind.street_issuance, Asset.credit)
        drafts = []
        for unit_id in sorted(completed):
            account = await units.unit_account(session, await session.get(Unit, unit_id), Asset.credit)
            amount = completed[unit_id] * UNIT_CREDIT_PER_COMMITMENT
            drafts.append(
                Draft(
                    id=f"~project:{project.id}:unit:{unit_id}",
                    debit_account_id=issuance.id,
                    credit_account_id=account.id,
                    amount=amount,
                    code=TransferCode.project_reward,
                    reference=f"project:{project.id}",
                    memo=f"{project.title[:150]}: {completed[unit_id]} commitment(s) delivered",
                )
            )
            unit_points.append(
                UnitPoints(unit_id=unit_id, completed_commitments=completed[unit_id], credit_points=amount)
            )
        # One batch: the engine locks the issuance and every unit's account once, in id order.
        for result in await ledger.transfer(session, drafts, now, settings.tz):
            ledger.refuse(result, "The unit's credit points were refused")
    return rate, volunteers, unit_points


async def _close_out(
    session: AsyncSession,
    project: Project,
    actor_id: int | None,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> None:
    """Decide the outcome, release what was not delivered, settle the needs, pay points, tell everyone.
    The caller holds the project's row lock and has checked that it is active. Completed only when
    every commitment was delivered and every responsibility done (or, with nothing of either, a
    manager's note says so); otherwise overdue, naming each missing item."""
    missing = _missing(project, note)
    outcome = S.overdue if missing else S.completed
    needs = await lock_needs(session, [n.need_id for n in project.needs])
    await _release_holds(session, project, now)
    settled = await _settle_needs(session, needs, f"Project {project.id} closed {outcome}", now)
    community = await session.get(Area, project.community_id)
    rate, volunteers, unit_points = await _award_points(session, project, community, now, settings)
    summary = ProjectSummary(
        outcome=outcome,
        closed_at=now,
        closed_by_id=actor_id,
        commitments=_outcomes(project),
        missing=missing,
        needs_met=[o.need_id for o in settled if o.status == NeedStatus.met],
        needs_reopened=[o.need_id for o in settled if o.status != NeedStatus.met],
        points_per_hour=rate,
        volunteer_points=volunteers,
        unit_points=unit_points,
        note=note,
        needs=settled,
    )
    project.summary = msgspec.to_builtins(summary)
    project.closed_at = now
    _event(
        session,
        project,
        actor_id,
        A.close,
        now,
        note or ", ".join(sorted({m.code for m in missing})),
        outcome=outcome,
    )
    await notify(
        session,
        await _everyone(session, project),
        NotificationCode.project_closed,
        now,
        subject=("project", project.id),
        project=project.title,
        outcome=str(outcome),
    )
    await session.flush()


async def close_due_projects(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """The scheduled job: close out every active project whose deadline has come."""
    due = list(
        await session.scalars(
            select(Project.id)
            .where(Project.status.in_(PROJECT_MACHINE.sources(A.close)), Project.deadline <= now)
            .order_by(Project.id)
        )
    )
    closed = 0
    for project_id in due:
        project = await lock_project(session, None, project_id)
        # Another closer may have got here first: the locked row says.
        if PROJECT_MACHINE.allows(project.status, A.close) and project.deadline <= now:
            await _close_out(session, project, None, now, settings)
            closed += 1
    return closed


async def warn_closing_projects(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """The scheduled job: tell the managers, once, of active projects due within a day."""
    due = list(
        await session.scalars(
            select(Project.id)
            .where(
                Project.status.in_(PROJECT_MACHINE.sources(A.close)),
                Project.warned_at.is_(None),
                Project.deadline > now,
                Project.deadline <= now + WARN_BEFORE,
            )
            .order_by(Project.id)
        )
    )
    warned = 0
    for project_id in due:
        project = await session.scalar(
            select(Project)
            .where(Project.id == project_id)
            .options(selectinload(Project.commitments))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if not PROJECT_MACHINE.allows(project.status, A.close) or project.warned_at is not None:
            continue
        undelivered = sum(c.quantity - c.delivered for c in project.commitments)
        await notify(
            session,
            await managers_of(session, project),
            NotificationCode.project_closing,
            now,
            subject=("project", project.id),
            project=project.title,
            deadline=project.deadline,
            undelivered=undelivered,
        )
        project.warned_at = now
        warned += 1
    await session.flush()
    return warned


# ---------------------------------------------------------------- reading


async def get_project(session: AsyncSession, actor: Actor, project_id: int) -> ProjectRead:
    if not await session.scalar(select(Project.id).where(Project.id == project_id, _visible(actor))):
        raise NotFound(f"Project {project_id} does not exist.", code="project_not_found")
    return await project_read(session, project_id)


async def project_read(session: AsyncSession, project_id: int) -> ProjectRead:
    project = await session.scalar(
        select(Project)
        .where(Project.id == project_id)
        .options(
            selectinload(Project.needs),
            selectinload(Project.commitments).selectinload(Commitment.deliveries),
            selectinload(Project.responsibilities),
            selectinload(Project.participants),
            selectinload(Project.events),
        )
        .execution_options(populate_existing=True)
    )
    needs = {
        n.id: n
        for n in await session.scalars(select(Need).where(Need.id.in_([pn.need_id for pn in project.needs])))
    }
    delivered = await delivered_to_needs(session, needs)
    resources = {
        r.id: r
        for r in await session.scalars(
            select(Resource).where(Resource.id.in_([c.resource_id for c in project.commitments]))
        )
    }
    unit_ids = {c.unit_id for c in project.commitments} | {
        r.unit_id for r in project.responsibilities if r.unit_id
    }
    unit_names = dict((await session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))).all())
    team_names = dict(
        (
            await session.execute(
                select(Team.id, Team.name).where(
                    Team.id.in_({r.team_id for r in project.responsibilities if r.team_id})
                )
            )
        ).all()
    )
    names = await user_names(
        session,
        {p.user_id for p in project.participants}
        | {r.user_id for r in project.responsibilities if r.user_id}
        | {e.actor_id for e in project.events if e.actor_id},
    )
    return ProjectRead(
        id=project.id,
        title=project.title,
        description=project.description,
        community_id=project.community_id,
        status=project.status,
        start_at=project.start_at,
        deadline=project.deadline,
        created_by_id=project.created_by_id,
        created_at=project.created_at,
        updated_at=project.updated_at,
        activated_at=project.activated_at,
        closed_at=project.closed_at,
        needs=[
            NeedBrief(
                id=n.id,
                title=n.title,
                quantity=n.quantity,
                unit_of_measure=n.unit_of_measure,
                status=n.status,
                delivered=delivered[n.id],
            )
            for n in (needs[pn.need_id] for pn in project.needs)
        ],
        commitments=[
            _commitment_read(c, resources[c.resource_id], unit_names.get(c.unit_id, ""))
            for c in project.commitments
        ],
        responsibilities=[
            ResponsibilityRead(
                id=r.id,
                task=r.task,
                unit_id=r.unit_id,
                user_id=r.user_id,
                team_id=r.team_id,
                assignee=unit_names.get(r.unit_id, "")
                if r.unit_id
                else names.get(r.user_id, "")
                if r.user_id
                else team_names.get(r.team_id, ""),
                due_at=r.due_at,
                done_at=r.done_at,
                done_by_id=r.done_by_id,
                escalation=r.escalation,
            )
            for r in project.responsibilities
        ],
        participants=[
            ParticipantRead(
                id=p.id, user_id=p.user_id, name=names.get(p.user_id, ""), hours=p.hours, added_at=p.added_at
            )
            for p in project.participants
        ],
        events=[
            EventRead(
                id=e.id,
                actor_id=e.actor_id,
                actor_name=names.get(e.actor_id, "") if e.actor_id else "",
                action=e.action,
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
                at=e.at,
            )
            for e in project.events
        ],
        summary=msgspec.convert(project.summary, ProjectSummary) if project.summary else None,
    )


def _commitment_read(c: Commitment, resource: Resource, unit_name: str) -> CommitmentRead:
    return CommitmentRead(
        id=c.id,
        resource_id=c.resource_id,
        resource_title=resource.title,
        unit_id=c.unit_id,
        unit_name=unit_name,
        need_id=c.need_id,
        quantity=c.quantity,
        unit_of_measure=resource.unit_of_measure,
        delivered=c.delivered,
        released=c.released,
        outstanding=c.quantity - c.delivered - c.released,
        confirmed_at=c.confirmed_at,
        confirmed_by_id=c.confirmed_by_id,
        deliveries=[DeliveryRead(d.id, d.quantity, d.note, d.recorded_by_id, d.at) for d in c.deliveries],
    )


class UnitCommitments(msgspec.Struct):
    """A project as its committing units' desk lists it: those units' commitments to it."""

    id: int
    title: str
    community_id: int
    status: ProjectStatus
    deadline: datetime
    commitments: list[CommitmentRead]


async def commitments_to_confirm(session: AsyncSession, actor: Actor) -> int:
    """Commitments of units to the draft projects of the actor's area still waiting for the unit to
    confirm them: a project starts once every commitment is confirmed."""
    inside = Project.community_code.startswith(community_scope(actor.area_code), autoescape=True)
    stmt = (
        select(func.count(Commitment.id))
        .join(Project, Project.id == Commitment.project_id)
        .where(
            Commitment.confirmed_at.is_(None),
            Project.status.in_(PROJECT_MACHINE.sources(A.confirm_commitment)),
        )
    )
    if not actor.is_admin:
        stmt = stmt.where(inside)
    return await session.scalar(stmt) or 0


async def unit_commitments(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[UnitCommitments], int]:
    """The projects the actor's units commit resources to, newest first, with those commitments and
    their deliveries (other units' commitments are left out)."""
    mine = units.my_units(actor)
    stmt = select(Project.id, Project.title, Project.community_id, Project.status, Project.deadline).where(
        Project.id.in_(select(Commitment.project_id).where(Commitment.unit_id.in_(mine)))
    )
    projects = (await session.execute(stmt.order_by(Project.id.desc()).limit(limit).offset(offset))).all()
    total = await page_total(session, stmt, limit, offset, len(projects))
    commitments: dict[int, list[CommitmentRead]] = {p.id: [] for p in projects}
    for commitment, resource, unit_name in await session.execute(
        select(Commitment, Resource, Unit.name)
        .join(Resource, Resource.id == Commitment.resource_id)
        .join(Unit, Unit.id == Commitment.unit_id)
        .where(Commitment.project_id.in_(commitments), Commitment.unit_id.in_(mine))
        .options(selectinload(Commitment.deliveries))
        .order_by(Commitment.id)
        .execution_options(populate_existing=True)
    ):
        commitments[commitment.project_id].append(_commitment_read(commitment, resource, unit_name))
    return [
        UnitCommitments(p.id, p.title, p.community_id, p.status, p.deadline, commitments[p.id])
        for p in projects
    ], total


async def delivery_progress(
    session: AsyncSession, project_ids: Iterable[int]
) -> dict[int, list[tuple[int, int]]]:
    """Each project's commitments as (delivered, committed), for progress bars on lists."""
    progress: dict[int, list[tuple[int, int]]] = {}
    for project_id, delivered, quantity in await session.execute(
        select(Commitment.project_id, Commitment.delivered, Commitment.quantity)
        .where(Commitment.project_id.in_(set(project_ids)))
        .order_by(Commitment.id)
    ):
        progress.setdefault(project_id, []).append((delivered, quantity))
    return progress


async def list_projects(
    session: AsyncSession,
    actor: Actor,
    *,
    community_id: int | None,
    status: ProjectStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[ProjectListItem], int]:
    stmt = select(Project).where(_visible(actor))
    if community_id is not None:
        stmt = stmt.where(Project.community_id == community_id)
    if status is not None:
        stmt = stmt.where(Project.status == status)
    projects = list(
        await session.scalars(
            stmt.options(selectinload(Project.commitments))
            .order_by(Project.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(projects))
    return [
        ProjectListItem(
            id=p.id,
            title=p.title,
            community_id=p.community_id,
            status=p.status,
            start_at=p.start_at,
            deadline=p.deadline,
            commitments=len(p.commitments),
            confirmed=sum(c.confirmed_at is not None for c in p.commitments),
            created_at=p.created_at,
            closed_at=p.closed_at,
        )
        for p in projects
    ], total

"""Community needs, and allocation plans that match the community's resources to them.

A plan is a transportation problem: supplies are the available quantities of
the published resources serving the community, demands what the open and partly
met needs still lack (asked minus delivered, `projects.delivered_to_needs`)
weighted by priority and residents' support (`plan_weight`). A (resource, need)
pair is allowed when the categories and units of measure match, the resource is
available before the need's deadline and has not ended. Its cost per unit is 1, plus 1 per day until
the resource becomes available (so what is ready now goes first), plus 2 per
other community it serves (so resources shared with other communities are left
for them when a dedicated one will do). The solver meets as much weighted demand
as it can and then minimises cost; a manager turns all or some of its flows into
a draft project, once.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

import anyio.to_thread
import numpy as np
from scipy import sparse
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, community_code_of
from market.auth.access import Actor
from market.consultation.models import NeedSupport
from market.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable
from market.needs.models import (
    AllocationFlow,
    AllocationPlan,
    AllocationUnmet,
    FlowOutcome,
    Need,
    NeedStatus,
    PlanStatus,
)
from market.needs.schemas import (
    ApplyRequest,
    FlowRead,
    NeedCreate,
    NeedRead,
    NeedUpdate,
    PlanRead,
    PlanSummary,
    UnmetRead,
)
from market.pagination import page_total
from market.projects import service as projects
from market.projects.models import Project, ProjectNeed
from market.units import service as units
from market.units.models import Resource, ResourceCommunity, ResourceStatus, UnitCommunity
from matching.transport import Transport, solve_transport

MAX_WAIT_DAYS = 365
SHARED_COST = 2
# The support count at which residents' support raises a need's weight by half its priority.
SUPPORT_HALF = 10

REASONS = {
    "deadline_passed": "The need's deadline has passed.",
    "no_resource_of_category": "No resource of this category with quantity left serves the community.",
    "unit_of_measure_differs": "Resources of this category are measured in other units.",
    "none_available_before_deadline": "No matching resource becomes available before the deadline.",
    "not_enough_quantity": "Matching resources do not have enough left (or more pressing needs took it).",
}


# ---------------------------------------------------------------- needs


def _visible(actor: Actor):
    """Managers see the needs of their area; unit admins those of the communities their units work with."""
    if actor.is_admin:
        return Need.id.is_not(None)
    conditions = [
        Need.community_id.in_(
            select(UnitCommunity.community_id).where(UnitCommunity.unit_id.in_(units.my_units(actor)))
        )
    ]
    if actor.is_manager:
        conditions.append(Need.area_code.startswith(actor.area_code, autoescape=True))
    return or_(*conditions)


def _measure(unit_of_measure: str) -> str:
    return unit_of_measure.strip().casefold()


async def need_reads(session: AsyncSession, needs: list[Need]) -> list[NeedRead]:
    projects_of: dict[int, list[int]] = defaultdict(list)
    for need_id, project_id in await session.execute(
        select(ProjectNeed.need_id, ProjectNeed.project_id)
        .where(ProjectNeed.need_id.in_([n.id for n in needs]))
        .order_by(ProjectNeed.project_id)
    ):
        projects_of[need_id].append(project_id)
    delivered = await projects.delivered_to_needs(session, [n.id for n in needs])
    return [
        NeedRead(
            id=n.id,
            community_id=n.community_id,
            area_id=n.area_id,
            category=n.category,
            title=n.title,
            description=n.description,
            quantity=n.quantity,
            unit_of_measure=n.unit_of_measure,
            priority=n.priority,
            deadline=n.deadline,
            status=n.status,
            delivered=delivered[n.id],
            note=n.note,
            project_ids=projects_of[n.id],
            created_at=n.created_at,
            updated_at=n.updated_at,
        )
        for n in needs
    ]


async def needs_by_id(session: AsyncSession, need_ids: Iterable[int]) -> list[Need]:
    """Needs by id, unscoped: for naming the needs of something the caller may already see (a plan)."""
    return list(await session.scalars(select(Need).where(Need.id.in_(set(need_ids))).order_by(Need.id)))


async def get_need(session: AsyncSession, actor: Actor, need_id: int) -> Need:
    need = await session.scalar(
        select(Need).where(Need.id == need_id, _visible(actor)).execution_options(populate_existing=True)
    )
    if need is None:
        raise NotFound(f"Need {need_id} does not exist.", code="need_not_found")
    return need


async def create_need(session: AsyncSession, actor: Actor, data: NeedCreate, now: datetime) -> Need:
    area = await session.get(Area, data.area_id)
    if area is None:
        raise NotFound(f"Area {data.area_id} does not exist.", code="area_not_found")
    community_code = community_code_of(area.code)
    if community_code is None:
        raise Unprocessable("A need belongs to a community or a place inside one.", code="not_in_a_community")
    if not actor.manages(area.code):
        raise Forbidden("That place is outside your area.", code="outside_your_area")
    if data.deadline <= now:
        raise InvalidInput("The deadline must be in the future.", code="deadline_passed")
    community = await session.scalar(select(Area).where(Area.code == community_code))
    need = Need(
        community_id=community.id,
        area_id=area.id,
        area_code=area.code,
        category=data.category,
        title=data.title.strip(),
        description=data.description,
        quantity=data.quantity,
        unit_of_measure=data.unit_of_measure.strip(),
        priority=data.priority,
        deadline=data.deadline,
        status=NeedStatus.open,
        note="",
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(need)
    await session.flush()
    return need


async def update_need(
    session: AsyncSession, actor: Actor, need_id: int, data: NeedUpdate, now: datetime
) -> Need:
    await get_need(session, actor, need_id)
    need = (await projects.lock_needs(session, [need_id]))[need_id]
    if not actor.manages(need.area_code):
        raise Forbidden("Only the managers of the need's area change it.", code="outside_your_area")
    if need.status in (NeedStatus.planned, NeedStatus.met, NeedStatus.partly_met):
        raise Conflict(
            f"This need is {need.status}; it can no longer change.",
            code="need_not_editable",
            need_status=str(need.status),
        )
    if data.status is not None and data.status not in (NeedStatus.open, NeedStatus.closed):
        raise InvalidInput(
            "A need is opened or closed here; projects plan and meet it.", code="status_not_settable"
        )
    if data.deadline is not None and data.deadline <= now:
        raise InvalidInput("The deadline must be in the future.", code="deadline_passed")
    for name in ("title", "unit_of_measure"):
        if (value := getattr(data, name)) is not None:
            setattr(need, name, value.strip())
    for name in ("description", "quantity", "priority", "deadline", "status"):
        if (value := getattr(data, name)) is not None:
            setattr(need, name, value)
    need.updated_at = now
    await session.flush()
    return need


async def list_needs(
    session: AsyncSession,
    actor: Actor,
    *,
    community_id: int | None,
    status: NeedStatus | None,
    category: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Need], int]:
    stmt = select(Need).where(_visible(actor))
    if community_id is not None:
        stmt = stmt.where(Need.community_id == community_id)
    if status is not None:
        stmt = stmt.where(Need.status == status)
    if category is not None:
        stmt = stmt.where(Need.category == category)
    rows = list(
        await session.scalars(
            stmt.order_by(Need.priority.desc(), Need.deadline, Need.id).limit(limit).offset(offset)
        )
    )
    return rows, await page_total(session, stmt, limit, offset, len(rows))


# ---------------------------------------------------------------- allocation plans


def plan_weight(priority: int, supports: int) -> float:
    """The weight of a need's demand in an allocation plan: the manager's priority, raised by the
    residents who support the need (征求民意), with diminishing returns and never beyond double:

        weight = priority × (1 + supports / (supports + SUPPORT_HALF)),   SUPPORT_HALF = 10

    Worked: priority 3 with no support weighs 3; with 10 supports 3 × (1 + 10/20) = 4.5; with 30,
    3 × (1 + 30/40) = 5.25. A priority-5 need with no support (5) still outweighs a priority-3 need
    with 10 supports (4.5): the residents' voice moves needs up, the manager's judgement leads."""
    return priority * (1 + supports / (supports + SUPPORT_HALF))


async def support_counts(session: AsyncSession, need_ids: Iterable[int]) -> dict[int, int]:
    """How many residents support each need (needs nobody supports are left out)."""
    rows = await session.execute(
        select(NeedSupport.need_id, func.count())
        .where(NeedSupport.need_id.in_(set(need_ids)))
        .group_by(NeedSupport.need_id)
    )
    return dict(rows.all())


def pair_cost(resource: Resource, communities_served: int, now: datetime) -> int:
    wait = max(timedelta(0), resource.available_from - now)
    days = min(MAX_WAIT_DAYS, math.ceil(wait / timedelta(days=1)))
    return 1 + days + SHARED_COST * (communities_served - 1)


def _reason(need: Need, resources: list[Resource], now: datetime) -> str | None:
    """Why a need has no allowed pair at all, or None when it has some."""
    if need.deadline <= now:
        return "deadline_passed"
    same = [r for r in resources if r.category == need.category]
    if not same:
        return "no_resource_of_category"
    same = [r for r in same if _measure(r.unit_of_measure) == _measure(need.unit_of_measure)]
    if not same:
        return "unit_of_measure_differs"
    if not any(r.available_from <= need.deadline for r in same):
        return "none_available_before_deadline"
    return None


async def _plannable_resources(session: AsyncSession, community: Area, now: datetime) -> list[Resource]:
    """Published resources serving the community, of units still paired with it, with quantity left."""
    return list(
        await session.scalars(
            select(Resource)
            .where(
                Resource.status == ResourceStatus.published,
                Resource.quantity - Resource.held - Resource.delivered > 0,
                or_(Resource.available_until.is_(None), Resource.available_until > now),
                Resource.communities.any(ResourceCommunity.community_id == community.id),
                Resource.unit_id.in_(
                    select(UnitCommunity.unit_id).where(UnitCommunity.community_id == community.id)
                ),
            )
            .options(selectinload(Resource.communities))
            .order_by(Resource.id)
        )
    )


async def create_plan(
    session: AsyncSession, actor: Actor, community_id: int, now: datetime
) -> AllocationPlan:
    community = await projects.community_for(session, actor, community_id)
    needs = list(
        await session.scalars(
            select(Need)
            .where(Need.community_id == community.id, Need.status.in_(projects.PLANNABLE))
            .order_by(Need.id)
        )
    )
    delivered = await projects.delivered_to_needs(session, [n.id for n in needs])
    # What each need still lacks: no plan proposes more, so nothing is delivered twice.
    lacking = {n.id: n.quantity - delivered[n.id] for n in needs}
    needs = [n for n in needs if lacking[n.id] > 0]
    resources = await _plannable_resources(session, community, now)
    reasons = {n.id: _reason(n, resources, now) for n in needs}
    candidates = [n for n in needs if reasons[n.id] is None]
    rows, cols, costs = [], [], []
    for i, r in enumerate(resources):
        cost = pair_cost(r, len(r.communities), now)
        for j, n in enumerate(candidates):
            if (
                r.category == n.category
                and _measure(r.unit_of_measure) == _measure(n.unit_of_measure)
                and r.available_from <= n.deadline
            ):
                rows.append(i)
                cols.append(j)
                costs.append(cost)
    solved: Transport | None = None
    supports = await support_counts(session, [n.id for n in candidates])
    if rows:
        matrix = sparse.coo_array(
            (np.array(costs, dtype=float), (rows, cols)), shape=(len(resources), len(candidates))
        )
        solved = await anyio.to_thread.run_sync(
            functools.partial(
                solve_transport,
                [r.available for r in resources],
                [lacking[n.id] for n in candidates],
                matrix,
                priority=[plan_weight(n.priority, supports.get(n.id, 0)) for n in candidates],
            )
        )
    met = dict.fromkeys((n.id for n in needs), 0)
    flows = []
    if solved is not None:
        cost_of = {(i, j): c for i, j, c in zip(rows, cols, costs, strict=True)}
        for i, j, quantity in solved.flows:
            flows.append(
                AllocationFlow(
                    resource_id=resources[i].id,
                    need_id=candidates[j].id,
                    quantity=quantity,
                    cost=cost_of[i, j],
                    outcome=FlowOutcome.proposed,
                    note="",
                )
            )
            met[candidates[j].id] += quantity
    unmet = [
        AllocationUnmet(
            need_id=n.id,
            requested=lacking[n.id],
            planned=met[n.id],
            reason=reasons[n.id] or "not_enough_quantity",
        )
        for n in needs
        if met[n.id] < lacking[n.id]
    ]
    plan = AllocationPlan(
        community_id=community.id,
        community_code=community.code,
        created_by_id=actor.id,
        created_at=now,
        status=PlanStatus.proposed,
        summary={
            "needs": len(needs),
            "resources": len(resources),
            "requested": sum(lacking[n.id] for n in needs),
            "planned": sum(met.values()),
            "fully_met": sum(met[n.id] == lacking[n.id] for n in needs),
            "partly_met": sum(0 < met[n.id] < lacking[n.id] for n in needs),
            "unmet": sum(met[n.id] == 0 for n in needs),
            "total_cost": sum(f.quantity * f.cost for f in flows),
        },
        flows=flows,
        unmet=unmet,
    )
    session.add(plan)
    await session.flush()
    return plan


async def _plan(
    session: AsyncSession, actor: Actor, plan_id: int, *, for_update: bool = False
) -> AllocationPlan:
    stmt = (
        select(AllocationPlan)
        .where(AllocationPlan.id == plan_id)
        .options(selectinload(AllocationPlan.flows), selectinload(AllocationPlan.unmet))
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    plan = await session.scalar(stmt)
    if plan is None or not actor.manages(plan.community_code):
        raise NotFound(f"Allocation plan {plan_id} does not exist.", code="plan_not_found")
    return plan


async def get_plan(session: AsyncSession, actor: Actor, plan_id: int) -> PlanRead:
    return await plan_read(session, await _plan(session, actor, plan_id))


async def plan_read(session: AsyncSession, plan: AllocationPlan) -> PlanRead:
    resources = {
        r.id: r
        for r in await session.scalars(
            select(Resource).where(Resource.id.in_({f.resource_id for f in plan.flows}))
        )
    }
    return PlanRead(
        id=plan.id,
        community_id=plan.community_id,
        status=plan.status,
        created_by_id=plan.created_by_id,
        created_at=plan.created_at,
        applied_at=plan.applied_at,
        applied_by_id=plan.applied_by_id,
        project_id=plan.project_id,
        summary=PlanSummary(**plan.summary),
        flows=[
            FlowRead(
                id=f.id,
                resource_id=f.resource_id,
                resource_title=resources[f.resource_id].title,
                unit_id=resources[f.resource_id].unit_id,
                need_id=f.need_id,
                quantity=f.quantity,
                unit_of_measure=resources[f.resource_id].unit_of_measure,
                cost=f.cost,
                outcome=f.outcome,
                note=f.note,
            )
            for f in plan.flows
        ],
        unmet=[
            UnmetRead(
                need_id=u.need_id,
                requested=u.requested,
                planned=u.planned,
                reason=u.reason,
                explanation=REASONS[u.reason],
            )
            for u in plan.unmet
        ],
    )


async def apply_plan(
    session: AsyncSession, actor: Actor, plan_id: int, data: ApplyRequest, now: datetime
) -> Project:
    """Turn the chosen flows (default: all) into a draft project, re-checking each; once per plan."""
    plan = await _plan(session, actor, plan_id, for_update=True)
    if plan.status == PlanStatus.applied:
        raise Conflict(
            f"This plan has already been applied (project {plan.project_id}); make a new one.",
            code="plan_already_applied",
        )
    by_id = {f.id: f for f in plan.flows}
    chosen = set(by_id) if data.flow_ids is None else set(data.flow_ids)
    if unknown := sorted(chosen - set(by_id)):
        raise Unprocessable(
            f"Flows {', '.join(map(str, unknown))} are not in plan {plan_id}.",
            code="flows_not_in_plan",
            flow_ids=unknown,
        )
    community = await projects.community_for(session, actor, plan.community_id)
    picked = [f for f in plan.flows if f.id in chosen]
    needs = await projects.lock_needs(session, [f.need_id for f in picked])
    resources = await units.lock_resources(session, [f.resource_id for f in picked])
    if not picked:
        raise Conflict("The plan proposes nothing to apply.", code="nothing_to_apply")
    taken: dict[int, int] = defaultdict(int)
    for flow in plan.flows:
        if flow.id not in chosen:
            flow.outcome = FlowOutcome.not_chosen
            continue
        problem = projects.need_problem(needs.get(flow.need_id), community, now)
        problem = f"the need {problem}" if problem else None
        if problem is None:
            resource_problem = await projects.resource_problem(
                session,
                resources.get(flow.resource_id),
                taken.get(flow.resource_id, 0) + flow.quantity,
                community,
                data.deadline or needs[flow.need_id].deadline,
                now,
            )
            problem = f"the resource {resource_problem}" if resource_problem else None
        if problem is not None:
            flow.outcome, flow.note = FlowOutcome.skipped, problem[:200]
            continue
        flow.outcome = FlowOutcome.applied
        taken[flow.resource_id] += flow.quantity
    applied = [f for f in plan.flows if f.outcome == FlowOutcome.applied]
    if not applied:
        raise Conflict(
            "Nothing in the plan can be applied any more: "
            + "; ".join(f"flow {f.id}: {f.note}" for f in plan.flows if f.outcome == FlowOutcome.skipped),
            code="nothing_to_apply",
        )
    planned_needs = [needs[i] for i in sorted({f.need_id for f in applied})]
    for_need: dict[tuple[int, int], int] = defaultdict(int)
    for flow in applied:
        for_need[flow.resource_id, flow.need_id] += flow.quantity
    project = await projects.open_project(
        session,
        actor,
        community=community,
        title=data.title or f"{community.name} allocation plan {plan.id}",
        description=data.description,
        start_at=data.start_at or now,
        deadline=data.deadline or min(n.deadline for n in planned_needs),
        needs=planned_needs,
        # One commitment per resource and need, so that each delivery counts for its need.
        commitments=[(resources[r], q, needs[n]) for (r, n), q in sorted(for_need.items())],
        now=now,
    )
    plan.status, plan.applied_at, plan.applied_by_id, plan.project_id = (
        PlanStatus.applied,
        now,
        actor.id,
        project.id,
    )
    await session.flush()
    return project

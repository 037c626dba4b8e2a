"""Batch dispatch: plan who should take the waiting orders of an area, then offer them.

A plan is built from current data by `matching.dispatch.plan_dispatch` (run in
a worker thread: the solver must not block the event loop), stored as it was
made, and applied pair by pair: the pairs a manager applies now are offered, the
others stay proposed for a later apply, and every pair is re-checked against the
state at that moment, because orders and volunteers move on between the two. A
manager may swap a proposed pair's volunteer for another the eligibility rule
allows before applying it.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import delete, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from market.areas.models import Area, community_code_of
from market.areas.service import community_for_reading, get_area, managed_area, require_community
from market.auth.access import Actor
from market.auth.models import User
from market.auth.service import user_names
from market.db import lock_rows, upsert
from market.dispatch import eligibility, offers
from market.dispatch.eligibility import Reason, VolunteerFacts
from market.dispatch.models import (
    AutoDispatch,
    DispatchPlan,
    PairOutcome,
    PlanPair,
    PlanStatus,
    PlanUnassigned,
)
from market.dispatch.schemas import (
    AutoDispatchRead,
    PairRead,
    PlanListItem,
    PlanRead,
    PlanSummary,
    SkippedPair,
    UnassignedRead,
)
from market.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unprocessable
from market.orders import service as orders
from market.orders.models import (
    DispatchMode,
    OfferAction,
    Order,
    OrderStatus,
)
from market.pagination import page_total
from market.settings import Settings
from market.volunteers.models import ServingArea
from matching.dispatch import REASONS, Weights, plan_dispatch, price_pair
from matching.dispatch import DispatchPlan as Plan

# Reasons an order asked for by id is not in the plan's problem at all.
NOT_WAITING = Reason.not_waiting
EXPLANATIONS = REASONS | {NOT_WAITING: "The order is no longer waiting for dispatch."}
PLAN_RATE_WINDOW = timedelta(minutes=1)


# ---------------------------------------------------------------- building the problem


async def _waiting_orders(
    session: AsyncSession, area: Area, order_ids: list[int] | None, now: datetime
) -> list[Order]:
    stmt = (
        select(Order)
        .where(
            Order.area_code.startswith(area.code, autoescape=True),
            Order.status == OrderStatus.submitted,
            Order.window_end > now,
            ~offers.awaiting_preferred(),
        )
        .order_by(Order.id)
    )
    if order_ids is not None:
        stmt = stmt.where(Order.id.in_(order_ids))
    return list(await session.scalars(stmt))


async def _volunteer_facts(session: AsyncSession, area: Area, now: datetime) -> list[VolunteerFacts]:
    """The volunteers serving somewhere overlapping the area (inside it or above it)."""
    serving = select(ServingArea.user_id).where(
        or_(
            ServingArea.area_code.startswith(area.code, autoescape=True),
            literal(area.code).startswith(ServingArea.area_code),
        )
    )
    return await eligibility.volunteer_facts(session, now, User.id.in_(serving))


# ---------------------------------------------------------------- plans


async def create_plan(
    session: AsyncSession,
    actor: Actor | None,
    area_id: int,
    order_ids: list[int] | None,
    now: datetime,
    settings: Settings,
) -> DispatchPlan:
    """Plan the area's waiting orders (or the given ones). `actor` None: auto-dispatch."""
    area = await managed_area(session, actor, area_id)
    if actor is not None:
        await _within_plan_rate(session, actor, now, settings.plans_per_minute)
    asked = sorted(set(order_ids)) if order_ids is not None else None
    if asked is not None:
        inside = set(
            await session.scalars(
                select(Order.id).where(
                    Order.id.in_(asked), Order.area_code.startswith(area.code, autoescape=True)
                )
            )
        )
        if outside := [i for i in asked if i not in inside]:
            raise Unprocessable(
                f"Orders {', '.join(map(str, outside))} are not in {area.name}.",
                code="orders_outside_area",
                order_ids=outside,
            )
    waiting = await _waiting_orders(session, area, asked, now)
    order_specs, volunteer_specs = eligibility.solver_inputs(
        await eligibility.order_facts(session, waiting),
        await _volunteer_facts(session, area, now),
        now,
        settings.tz,
    )
    weights = settings.dispatch_weights
    plan: Plan = await anyio.to_thread.run_sync(plan_dispatch, order_specs, volunteer_specs, weights)

    row = DispatchPlan(
        area_id=area.id,
        area_code=area.code,
        created_by_id=actor.id if actor else None,
        created_at=now,
        status=PlanStatus.proposed,
        weights=dataclasses.asdict(weights),
        summary=dataclasses.asdict(plan.summary),
    )
    row.pairs = [
        PlanPair(
            order_id=p.order_id,
            volunteer_id=p.volunteer_id,
            cost=p.cost,
            distance=p.distance,
            breakdown=p.breakdown,
            outcome=PairOutcome.proposed,
            note="",
        )
        for p in plan.proposals
    ]
    planned = {o.id for o in waiting}
    row.unassigned = [
        PlanUnassigned(order_id=u.order_id, reason=u.reason, penalty=u.penalty, candidates=u.candidates)
        for u in plan.unassigned
    ] + [
        PlanUnassigned(order_id=i, reason=NOT_WAITING, penalty=0, candidates={})
        for i in (asked or [])
        if i not in planned
    ]
    session.add(row)
    await session.flush()
    return row


async def _within_plan_rate(session: AsyncSession, actor: Actor, now: datetime, per_minute: int) -> None:
    """A plan costs the solver seconds of CPU: one person runs at most `per_minute` a minute."""
    # Lock the person first, so that plans started at once are counted one after the other.
    await lock_rows(session, select(User.id).where(User.id == actor.id).with_for_update())
    recent = list(
        await session.scalars(
            select(DispatchPlan.created_at)
            .where(DispatchPlan.created_by_id == actor.id, DispatchPlan.created_at > now - PLAN_RATE_WINDOW)
            .order_by(DispatchPlan.created_at)
        )
    )
    if len(recent) >= per_minute:
        wait = max(1, math.ceil((recent[0] + PLAN_RATE_WINDOW - now).total_seconds()))
        raise TooManyRequests(
            f"You can run {per_minute} plans a minute; try again in {wait} seconds.",
            code="too_many_plans",
            headers={"Retry-After": str(wait)},
            retry_after_seconds=wait,
        )


async def purge_plans(session: AsyncSession, now: datetime, keep_days: int) -> int:
    """Delete plans older than `keep_days` (their pairs and unassigned orders go with them); the
    offers they made and the orders' histories keep what was done."""
    result = await session.execute(
        delete(DispatchPlan).where(DispatchPlan.created_at < now - timedelta(days=keep_days))
    )
    return result.rowcount or 0


async def _plan(session: AsyncSession, plan_id: int, *, for_update: bool = False) -> DispatchPlan:
    stmt = (
        select(DispatchPlan)
        .where(DispatchPlan.id == plan_id)
        .options(selectinload(DispatchPlan.pairs), selectinload(DispatchPlan.unassigned))
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update()
    plan = await session.scalar(stmt)
    if plan is None:
        raise NotFound(f"Dispatch plan {plan_id} does not exist.", code="plan_not_found")
    return plan


async def get_plan(session: AsyncSession, actor: Actor, plan_id: int) -> PlanRead:
    plan = await _plan(session, plan_id)
    if not actor.manages(plan.area_code):
        raise NotFound(f"Dispatch plan {plan_id} does not exist.", code="plan_not_found")
    return await plan_read(session, plan)


# Why a pair's volunteer, from its cost terms: each code names a term that is low for the plan's
# weights. The page says them in the reader's language ("nearer", "less busy" …).
WHY_CODES = ("nearer", "less_busy", "better_rated", "more_skilled")


def why(breakdown: dict[str, int], weights: dict[str, float]) -> list[str]:
    """The codes of the terms that make the pair cheap; `best_overall` when none stands out, as the
    solver chose the pair for the plan as a whole."""
    found = [
        code
        for code, low in zip(
            WHY_CODES,
            (
                # Lives in the order's grid or nearer.
                breakdown.get("distance", 0) <= weights["same_grid"],
                # Holds no order and has no other in this plan.
                breakdown.get("load", 0) == 0,
                # Rated above an unrated volunteer.
                breakdown.get("rating", 0) < weights["rating"] * (5 - weights["unrated_stars"]),
                # The top skill level.
                breakdown.get("skill", 0) == 0,
            ),
            strict=True,
        )
        if low
    ]
    return found or ["best_overall"]


async def plan_read(session: AsyncSession, plan: DispatchPlan) -> PlanRead:
    names = await user_names(session, {p.volunteer_id for p in plan.pairs})
    return PlanRead(
        id=plan.id,
        area_id=plan.area_id,
        status=plan.status,
        automatic=plan.created_by_id is None,
        created_by_id=plan.created_by_id,
        created_at=plan.created_at,
        applied_at=plan.applied_at,
        applied_by_id=plan.applied_by_id,
        weights=plan.weights,
        summary=PlanSummary(**plan.summary),
        pairs=[
            PairRead(
                id=p.id,
                order_id=p.order_id,
                volunteer_id=p.volunteer_id,
                volunteer_name=names.get(p.volunteer_id, ""),
                cost=p.cost,
                distance=p.distance,
                breakdown=p.breakdown,
                why=why(p.breakdown, plan.weights),
                outcome=p.outcome,
                note=p.note,
                offer_id=p.offer_id,
            )
            for p in plan.pairs
        ],
        unassigned=[
            UnassignedRead(
                order_id=u.order_id,
                reason=u.reason,
                explanation=EXPLANATIONS[u.reason],
                penalty=u.penalty,
                candidates=u.candidates,
            )
            for u in plan.unassigned
        ],
    )


async def list_plans(
    session: AsyncSession, actor: Actor, area_id: int | None, limit: int, offset: int
) -> tuple[list[PlanListItem], int]:
    root = (await managed_area(session, actor, area_id)).code if area_id is not None else actor.area_code
    stmt = select(DispatchPlan).where(DispatchPlan.area_code.startswith(root, autoescape=True))
    plans = (await session.scalars(stmt.order_by(DispatchPlan.id.desc()).limit(limit).offset(offset))).all()
    total = await page_total(session, stmt, limit, offset, len(plans))
    return [
        PlanListItem(
            id=p.id,
            area_id=p.area_id,
            status=p.status,
            automatic=p.created_by_id is None,
            created_at=p.created_at,
            applied_at=p.applied_at,
            summary=PlanSummary(**p.summary),
        )
        for p in plans
    ], total


# ---------------------------------------------------------------- applying a plan


async def apply_plan(
    session: AsyncSession,
    actor: Actor | None,
    plan_id: int,
    pair_ids: list[int] | None,
    now: datetime,
    settings: Settings,
) -> tuple[int, list[SkippedPair]]:
    """Offer the chosen pairs (default: every pair still proposed) directly, re-checking each. The
    pairs not chosen stay proposed for a later apply; the plan is applied once none is left.

    The plan is locked first, so of two managers applying the same pair at once one offers it and
    the other is refused (`pairs_already_applied`, or `plan_already_applied` when nothing is left).
    """
    plan = await _locked_plan(session, actor, plan_id)
    by_id = {p.id: p for p in plan.pairs}
    chosen = (
        {p.id for p in plan.pairs if p.outcome == PairOutcome.proposed} if pair_ids is None else set(pair_ids)
    )
    if unknown := sorted(chosen - set(by_id)):
        raise Unprocessable(
            f"Pairs {', '.join(map(str, unknown))} are not in plan {plan_id}.",
            code="pairs_not_in_plan",
            pair_ids=unknown,
        )
    if done := sorted(i for i in chosen if by_id[i].outcome != PairOutcome.proposed):
        raise Conflict(
            f"Pairs {', '.join(map(str, done))} have already been applied.",
            code="pairs_already_applied",
            pair_ids=done,
        )
    offered, skipped = 0, []
    for pair in plan.pairs:
        if pair.id not in chosen:
            continue
        order = await orders.lock_order(session, pair.order_id)
        # The rule as the plan was made, against the state now: the offers this apply made so far count.
        problems = await eligibility.check(session, order, [pair.volunteer_id], now, settings.tz)
        if reasons := problems.get(pair.volunteer_id):
            pair.outcome, pair.note = PairOutcome.skipped, reasons[0]
            skipped.append(SkippedPair(pair.id, pair.order_id, pair.volunteer_id, reasons[0]))
            continue
        (offer,) = await offers.make_offers(
            session,
            order,
            [pair.volunteer_id],
            DispatchMode.direct,
            actor.id if actor else None,
            now,
            settings.offer_ttl_minutes,
        )
        pair.outcome, pair.offer_id = PairOutcome.offered, offer.id
        offered += 1
    if all(p.outcome != PairOutcome.proposed for p in plan.pairs):
        plan.status = PlanStatus.applied
    # The latest apply: each offer keeps who made it.
    plan.applied_at = now
    plan.applied_by_id = actor.id if actor else None
    await session.flush()
    return offered, skipped


async def _locked_plan(session: AsyncSession, actor: Actor | None, plan_id: int) -> DispatchPlan:
    """The plan, locked, while something of it is left to apply."""
    plan = await _plan(session, plan_id, for_update=True)
    if actor is not None and not actor.manages(plan.area_code):
        raise NotFound(f"Dispatch plan {plan_id} does not exist.", code="plan_not_found")
    if plan.status == PlanStatus.applied:
        raise Conflict(
            "Every pair of this plan has been applied; make a new one.", code="plan_already_applied"
        )
    return plan


# ---------------------------------------------------------------- a person's choice of volunteer


async def eligible_volunteers(
    session: AsyncSession, plan: PlanRead, now: datetime, settings: Settings
) -> dict[int, list[int]]:
    """For each pair still proposed, the volunteers who may be offered its order now (the
    eligibility rule), by id: whom a manager may swap the proposed volunteer for."""
    proposed = [p for p in plan.pairs if p.outcome == PairOutcome.proposed]
    if not proposed:
        return {}
    area = await get_area(session, plan.area_id)
    found = await session.scalars(select(Order).where(Order.id.in_([p.order_id for p in proposed])))
    # An order no longer waiting can be offered to no one.
    waiting = [o for o in found if not eligibility.order_reasons(o.status, o.window_end, now)]
    facts = {o.id: o for o in await eligibility.order_facts(session, waiting)}
    # Only those with the order's skill can pass the rule: a street's plan must not ask it of every
    # volunteer for every pair.
    by_skill: dict[str, list[VolunteerFacts]] = {}
    for volunteer in await _volunteer_facts(session, area, now):
        for skill in volunteer.skills:
            by_skill.setdefault(skill, []).append(volunteer)
    return {
        p.id: [
            v.id for v in by_skill.get(order.category, []) if not eligibility.reasons(order, v, settings.tz)
        ]
        for p in proposed
        if (order := facts.get(p.order_id)) is not None
    }


async def swap_volunteer(
    session: AsyncSession,
    actor: Actor,
    plan_id: int,
    pair_id: int,
    volunteer_id: int,
    now: datetime,
    settings: Settings,
) -> None:
    """Propose another volunteer for a pair not yet applied, when the rule allows them; the pair is
    priced as the plan prices its pairs, so its cost terms say why as the others do. Applying
    re-checks it like every pair."""
    plan = await _locked_plan(session, actor, plan_id)
    pair = next((p for p in plan.pairs if p.id == pair_id), None)
    if pair is None:
        raise NotFound(f"Pair {pair_id} is not in plan {plan_id}.", code="pair_not_found")
    if pair.outcome != PairOutcome.proposed:
        raise Conflict(
            f"Pair {pair_id} has already been applied.", code="pairs_already_applied", pair_ids=[pair_id]
        )
    order = await orders.lock_order(session, pair.order_id)
    if reasons := (await eligibility.check(session, order, [volunteer_id], now, settings.tz)).get(
        volunteer_id
    ):
        raise Unprocessable(
            f"Volunteer {volunteer_id} may not be offered order {order.id}: {', '.join(reasons)}.",
            code="volunteer_not_eligible",
            reasons=list(reasons),
        )
    (order_facts,) = await eligibility.order_facts(session, [order])
    (volunteer,) = await eligibility.volunteer_facts(session, now, ids=[volunteer_id])
    # The volunteer's other orders in this plan count as the solver counts them.
    slot = sum(
        1
        for p in plan.pairs
        if p.id != pair.id and p.volunteer_id == volunteer_id and p.outcome == PairOutcome.proposed
    )
    priced = price_pair(
        eligibility.order_spec(order_facts, now, settings.tz),
        eligibility.volunteer_spec(volunteer),
        Weights(**plan.weights),
        slot,
    )
    # The solver's candidate graph applies the same rule (a property test holds them equal).
    assert priced is not None
    pair.volunteer_id = volunteer_id
    pair.cost, pair.distance, pair.breakdown = priced.cost, priced.distance, priced.breakdown
    await session.flush()


# ---------------------------------------------------------------- auto-dispatch


async def get_auto_dispatch(session: AsyncSession, actor: Actor, community_id: int) -> AutoDispatchRead:
    """Managers of the community and the grid workers inside it may read the setting."""
    area = await community_for_reading(session, actor, community_id)
    row = await session.get(AutoDispatch, area.id)
    if row is None:
        return AutoDispatchRead(community_id=area.id, enabled=False, updated_by_id=None, updated_at=None)
    return AutoDispatchRead(area.id, row.enabled, row.updated_by_id, row.updated_at)


async def set_auto_dispatch(
    session: AsyncSession, actor: Actor, community_id: int, enabled: bool, now: datetime
) -> AutoDispatchRead:
    if not actor.is_community_manager:
        raise Forbidden("Only community managers turn auto-dispatch on or off.", code="manager_required")
    area = require_community(await managed_area(session, actor, community_id))
    values = {"enabled": enabled, "updated_by_id": actor.id, "updated_at": now}
    # One statement that inserts or updates: the first two PUTs of a community at once would
    # otherwise both find no row and both insert it.
    await session.execute(
        upsert(session, AutoDispatch)
        .values(community_id=area.id, **values)
        .on_conflict_do_update(index_elements=[AutoDispatch.community_id], set_=values)
    )
    row = await session.get(AutoDispatch, area.id, populate_existing=True)
    assert row is not None  # just written
    return AutoDispatchRead(area.id, row.enabled, row.updated_by_id, row.updated_at)


async def _auto_dispatch_area(
    session: AsyncSession, community: Area, order_ids: list[int] | None, now: datetime, settings: Settings
) -> int:
    if not await _waiting_orders(session, community, order_ids, now):
        return 0  # nothing waiting: no empty plan every few minutes
    plan = await create_plan(session, None, community.id, order_ids, now, settings)
    offered, _ = await apply_plan(session, None, plan.id, None, now, settings)
    return offered


async def auto_dispatch(session: AsyncSession, now: datetime, settings: Settings) -> int:
    """The scheduled job: plan and offer the waiting orders of every community that asked for it."""
    communities = await session.scalars(
        select(Area)
        .join(AutoDispatch, AutoDispatch.community_id == Area.id)
        .where(AutoDispatch.enabled)
        .order_by(Area.id)
    )
    offered = 0
    for community in communities.all():
        offered += await _auto_dispatch_area(session, community, None, now, settings)
    return offered


async def redispatch(
    session: AsyncSession, order_id: int, area_code: str, now: datetime, settings: Settings
) -> int:
    """After a decline has put the order (of `area_code`) back to waiting, as its caller checked: in an
    auto-dispatch community, offer it to the next best volunteer at once."""
    community_code = community_code_of(area_code)
    community = await session.scalar(
        select(Area)
        .join(AutoDispatch, AutoDispatch.community_id == Area.id)
        .where(Area.code == community_code, AutoDispatch.enabled)
    )
    if community is None:
        return 0
    return await _auto_dispatch_area(session, community, [order_id], now, settings)


async def decline_offer(
    session: AsyncSession, actor: Actor, offer_id: int, reason: str, now: datetime, settings: Settings
) -> None:
    """A volunteer declines an offer; when it was the order's last pending one, in an auto-dispatch
    community the order goes straight on to the next best volunteer."""
    offer, order = await offers.own_offer_locked(session, actor, offer_id)
    await orders.answer_offer(session, offer, OfferAction.decline, now, decline_reason=reason)
    note = "every offer was declined or expired"
    if await orders.requeue_if_unoffered(session, order, now, note, actor.id):
        await redispatch(session, order.id, order.area_code, now, settings)

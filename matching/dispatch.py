"""Orders × volunteers: who should take what, and why.

Plain descriptions in (`OrderSpec`, `VolunteerSpec`, `Weights`), a `DispatchPlan`
out. The candidate graph is built column-wise with numpy so a city (100k orders,
200k volunteers) stays a matter of seconds:

1. serving: the volunteer serves an area overlapping the order's (one is a prefix
   of the other) and has the order's skill - a sort-and-search join on
   (area code, skill);
2. eligible: not the resident who posted it, has not declined it before;
3. free: weekly availability gives enough of the order's window;
4. has capacity left (held orders and pending offers count).

Each stage's count per order explains an order left unassigned. The cheapest
`Weights.candidates_per_order` pairs per order go to `solve_assignment`, with a
rising cost per extra order a volunteer gets in the same plan (fairness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
from scipy import sparse

from matching.assignment import solve_assignment

MINUTES_PER_WEEK = 7 * 1440
# A volunteer is free for an order when their windows cover this much of it (or all of a shorter one).
ENOUGH_MINUTES = 60
# Area codes: a 9-digit street, then 3 digits per level below it.
LEVEL_CODE_LENGTHS = {"street": 9, "community": 12, "grid": 15, "compound": 18, "building": 21}
# How far the order is from the volunteer's home, nearest first.
DISTANCES = ("same_building", "same_compound", "same_grid", "same_community", "same_street", "farther")


@dataclass(frozen=True)
class Weights:
    """Cost units per term; every pair cost and penalty is an integer. Defaults keep the
    smallest unassigned penalty above the dearest pair, so the plan covers what it can."""

    # Distance from the volunteer's home area to the order's area.
    same_building: int = 0
    same_compound: int = 10
    same_grid: int = 20
    same_community: int = 40
    same_street: int = 80  # a neighbouring community
    farther: int = 120
    # Per order the volunteer already holds or has been offered, and per extra order in this plan.
    load: int = 15
    # Per star below 5; an unrated volunteer counts as `unrated_stars`.
    rating: int = 10
    unrated_stars: float = 4.0
    # Per skill level below 3 (professional).
    skill: int = 10
    # Leaving an order unassigned: a base, more when urgent, more the longer it has waited.
    unassigned: int = 500
    urgent: int = 500
    waiting_per_hour: int = 10
    waiting_cap_hours: int = 72
    # Only the cheapest candidates of each order go to the solver.
    candidates_per_order: int = 20

    def __post_init__(self) -> None:
        negative = [f.name for f in fields(self) if getattr(self, f.name) < 0]
        if negative or self.candidates_per_order < 1:
            raise ValueError(
                f"weights must not be negative ({', '.join(negative) or 'none'}), candidates_per_order ≥ 1"
            )

    def distance_cost(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in DISTANCES], dtype=np.int64)


@dataclass(frozen=True)
class OrderSpec:
    id: int
    area_code: str
    skill: str
    # Local minutes since any Monday 00:00; only the weekday, time of day and length matter.
    start: int
    end: int
    urgent: bool
    waited_minutes: int
    requester_id: int
    declined_by: frozenset[int] = frozenset()


@dataclass(frozen=True)
class VolunteerSpec:
    id: int
    # Where the volunteer lives; None when unknown (counts as `farther`).
    home_code: str | None
    serves: tuple[str, ...]
    # Skill (category code) → level 1-3.
    skills: dict[str, int]
    # Weekly windows: (weekday 0 = Monday, start minute, end minute).
    windows: tuple[tuple[int, int, int], ...]
    capacity: int
    # Orders held (accepted, in service) plus pending offers.
    load: int
    rating: float | None


@dataclass(frozen=True)
class Proposal:
    order_id: int
    volunteer_id: int
    cost: int
    distance: str
    # Cost per term: distance, load, rating, skill (they add up to `cost`).
    breakdown: dict[str, int]


# Why an order is left unassigned, first stage that leaves it without candidates.
REASONS = {
    "no_one_serves_area": "No volunteer serves this order's area.",
    "no_one_with_skill": "No volunteer serving this area has the skill.",
    "no_one_eligible": "Everyone with the skill posted or declined this order.",
    "no_one_free": "No one with the skill is free in the order's time window.",
    "everyone_at_capacity": "Everyone who could take it is at capacity.",
    "outbid": "The volunteers who could take it went to more urgent or better-suited orders.",
    "penalty_below_cost": "Its unassigned penalty is below the cost of every volunteer who could take it.",
}


@dataclass(frozen=True)
class Unassigned:
    order_id: int
    reason: str
    penalty: int
    # How many volunteers passed each stage: serving, eligible, free, with capacity.
    candidates: dict[str, int]


@dataclass(frozen=True)
class Summary:
    orders: int
    assigned: int
    coverage: float
    total_cost: int
    # Assigned orders by distance from the volunteer's home, and the mean distance cost.
    distances: dict[str, int]
    mean_distance_cost: float
    # Load after the plan over every volunteer who was a candidate: spread (standard deviation) and peak.
    load_spread: float
    max_load: int


@dataclass(frozen=True)
class DispatchPlan:
    proposals: list[Proposal]
    unassigned: list[Unassigned]
    summary: Summary
    weights: Weights = field(default_factory=Weights)


# --- the plan ----------------------------------------------------------------------------------


def plan_dispatch(
    orders: Sequence[OrderSpec], volunteers: Sequence[VolunteerSpec], weights: Weights | None = None
) -> DispatchPlan:
    """The cheapest assignment of orders to volunteers over the candidate graph, each pair with
    its cost breakdown and each order left over with its reason. The same input gives the same plan."""
    weights = weights or Weights()
    graph = candidate_graph(orders, volunteers, weights)
    n_orders, n_volunteers = len(orders), len(volunteers)
    penalty = np.array([unassigned_penalty(o, weights) for o in orders], dtype=np.int64)
    room = np.maximum(graph.capacity - graph.load, 0)
    result = solve_assignment(
        sparse.coo_array((graph.cost, (graph.order, graph.volunteer)), shape=(n_orders, n_volunteers)),
        capacities=room,
        unassigned_penalty=penalty,
        slot_costs=np.full(n_volunteers, weights.load, dtype=np.int64),
    )

    pair_index = {
        pair: k for k, pair in enumerate(zip(graph.order.tolist(), graph.volunteer.tolist(), strict=True))
    }
    # Which of its plan's orders a volunteer takes first is arbitrary; by order id keeps breakdowns stable.
    extra: dict[int, int] = {}
    proposals = []
    planned = np.zeros(n_volunteers, dtype=np.int64)
    for o, v in sorted(result.pairs, key=lambda pair: (orders[pair[0]].id, pair[1])):
        k = pair_index[(o, v)]
        slot = extra.get(v, 0)
        extra[v] = slot + 1
        planned[v] += 1
        breakdown = {
            "distance": int(graph.distance_cost[k]),
            "load": weights.load * (int(graph.load[v]) + slot),
            "rating": int(graph.rating_cost[k]),
            "skill": int(graph.skill_cost[k]),
        }
        proposals.append(
            Proposal(
                order_id=orders[o].id,
                volunteer_id=volunteers[v].id,
                cost=int(graph.cost[k]) + weights.load * slot,
                distance=DISTANCES[graph.distance[k]],
                breakdown=breakdown,
            )
        )
    proposals.sort(key=lambda p: p.order_id)

    left_room = room - planned
    unassigned = []
    for o in result.unassigned:
        counts = {stage: int(graph.stage_counts[stage][o]) for stage in STAGES}
        reason = _reason(counts, graph.serves_area[o])
        if reason is None:
            mine = graph.volunteer[graph.order == o]
            reason = "penalty_below_cost" if np.any(left_room[mine] > 0) else "outbid"
        unassigned.append(Unassigned(orders[o].id, reason, int(penalty[o]), counts))
    unassigned.sort(key=lambda u: u.order_id)
    return DispatchPlan(
        proposals, unassigned, _summary(proposals, graph, planned, len(orders), weights), weights
    )


STAGES = ("serving", "eligible", "free", "with_capacity")


def _reason(counts: dict[str, int], serves_area: bool) -> str | None:
    if not serves_area:
        return "no_one_serves_area"
    for stage, reason in zip(
        STAGES, ("no_one_with_skill", "no_one_eligible", "no_one_free", "everyone_at_capacity"), strict=True
    ):
        if counts[stage] == 0:
            return reason
    return None


def unassigned_penalty(order: OrderSpec, weights: Weights) -> int:
    waited_hours = min(max(order.waited_minutes, 0) // 60, weights.waiting_cap_hours)
    return weights.unassigned + weights.urgent * order.urgent + weights.waiting_per_hour * waited_hours


def _summary(
    proposals: list[Proposal], graph: CandidateGraph, planned: np.ndarray, n_orders: int, weights: Weights
) -> Summary:
    distances = {name: 0 for name in DISTANCES}
    for p in proposals:
        distances[p.distance] += 1
    candidates = np.unique(graph.volunteer)
    final_load = (graph.load + planned)[candidates]
    return Summary(
        orders=n_orders,
        assigned=len(proposals),
        coverage=round(len(proposals) / n_orders, 4) if n_orders else 1.0,
        total_cost=sum(p.cost for p in proposals),
        distances=distances,
        mean_distance_cost=round(sum(p.breakdown["distance"] for p in proposals) / len(proposals), 2)
        if proposals
        else 0.0,
        load_spread=round(float(final_load.std()), 3) if len(final_load) else 0.0,
        max_load=int(final_load.max()) if len(final_load) else 0,
    )


# --- the candidate graph -----------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateGraph:
    """Candidate pairs (order row, volunteer row) with their cost terms, at most
    `candidates_per_order` per order, plus what each filtering stage left per order."""

    order: np.ndarray
    volunteer: np.ndarray
    cost: np.ndarray
    distance: np.ndarray
    distance_cost: np.ndarray
    rating_cost: np.ndarray
    skill_cost: np.ndarray
    capacity: np.ndarray
    load: np.ndarray
    serves_area: np.ndarray
    stage_counts: dict[str, np.ndarray]


def candidate_graph(
    orders: Sequence[OrderSpec], volunteers: Sequence[VolunteerSpec], weights: Weights
) -> CandidateGraph:
    n_orders, n_volunteers = len(orders), max(len(volunteers), 1)
    skill_ids: dict[str, int] = {}
    order_skill = np.fromiter(
        (skill_ids.setdefault(o.skill, len(skill_ids)) for o in orders), np.int64, n_orders
    )
    order_codes = [o.area_code for o in orders]

    # One row per (serving area, skill) of each volunteer.
    area_codes, area_owner = [], []
    row_codes, row_skill, row_owner, row_level = [], [], [], []
    for index, v in enumerate(volunteers):
        for code in v.serves:
            area_codes.append(code)
            area_owner.append(index)
            for skill, level in v.skills.items():
                row_codes.append(code)
                row_skill.append(skill_ids.setdefault(skill, len(skill_ids)))
                row_owner.append(index)
                row_level.append(level)
    serves_area = np.zeros(n_orders, dtype=bool)
    serves_area[
        _overlapping(
            order_codes, np.zeros(n_orders, np.int64), area_codes, np.zeros(len(area_codes), np.int64)
        )[0]
    ] = True
    o, row = _overlapping(order_codes, order_skill, row_codes, np.asarray(row_skill, np.int64))
    v = np.asarray(row_owner, np.int64)[row] if len(row) else np.zeros(0, np.int64)
    level = np.asarray(row_level, np.int64)[row] if len(row) else np.zeros(0, np.int64)
    # A volunteer may serve both a community and a grid inside it: keep one pair.
    _, first = np.unique(o * n_volunteers + v, return_index=True)
    o, v, level = o[first], v[first], level[first]
    counts = {"serving": np.bincount(o, minlength=n_orders)}

    volunteer_id = np.array([x.id for x in volunteers], dtype=np.int64)
    requester = np.array([x.requester_id for x in orders], dtype=np.int64)
    keep = volunteer_id[v] != requester[o]
    row_of = {x.id: index for index, x in enumerate(volunteers)}
    declined = [
        i * n_volunteers + row_of[d] for i, x in enumerate(orders) for d in x.declined_by if d in row_of
    ]
    if declined:
        keep &= ~np.isin(o * n_volunteers + v, declined)
    o, v, level = o[keep], v[keep], level[keep]
    counts["eligible"] = np.bincount(o, minlength=n_orders)

    start = np.array([x.start for x in orders], dtype=np.int64)
    length = np.array([x.end - x.start for x in orders], dtype=np.int64)
    week_start = start % MINUTES_PER_WEEK
    week_end = week_start + np.minimum(length, MINUTES_PER_WEEK)
    minutes = _available_minutes(_weekly_windows(volunteers), v, week_start[o], week_end[o])
    keep = minutes >= np.maximum(np.minimum(ENOUGH_MINUTES, length[o]), 1)
    o, v, level = o[keep], v[keep], level[keep]
    counts["free"] = np.bincount(o, minlength=n_orders)

    capacity = np.array([x.capacity for x in volunteers], dtype=np.int64)
    load = np.array([x.load for x in volunteers], dtype=np.int64)
    keep = capacity[v] > load[v]
    o, v, level = o[keep], v[keep], level[keep]
    counts["with_capacity"] = np.bincount(o, minlength=n_orders)

    home = [x.home_code or "" for x in volunteers]
    distance = _distance(order_codes, home, o, v)
    distance_cost = weights.distance_cost()[distance]
    stars = np.array(
        [weights.unrated_stars if x.rating is None else x.rating for x in volunteers], dtype=float
    )
    rating_cost = np.rint(weights.rating * (5 - stars[v])).astype(np.int64)
    skill_cost = weights.skill * (3 - level)
    cost = distance_cost + weights.load * load[v] + rating_cost + skill_cost

    # The cheapest candidates of each order, ties by volunteer id.
    order_by = np.lexsort((volunteer_id[v], cost, o))
    o_sorted = o[order_by]
    group_start = np.searchsorted(o_sorted, o_sorted, side="left")
    top = order_by[(np.arange(len(order_by)) - group_start) < weights.candidates_per_order]
    top.sort()
    return CandidateGraph(
        order=o[top],
        volunteer=v[top],
        cost=cost[top],
        distance=distance[top],
        distance_cost=distance_cost[top],
        rating_cost=rating_cost[top],
        skill_cost=skill_cost[top],
        capacity=capacity,
        load=load,
        serves_area=serves_area,
        stage_counts=counts,
    )


# --- area codes --------------------------------------------------------------------------------


def _cut(codes: Sequence[str]) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Each code cut to each level's length ('' where the code is shallower), and its length."""
    array = np.asarray(codes, dtype="<U32") if len(codes) else np.zeros(0, dtype="<U32")
    lengths = np.char.str_len(array)
    return {
        n: np.where(lengths >= n, array.astype(f"<U{n}"), "") for n in LEVEL_CODE_LENGTHS.values()
    }, lengths


def _ids(*arrays: np.ndarray) -> list[np.ndarray]:
    """The same integer for the same string across the arrays."""
    _, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    return np.split(inverse.astype(np.int64), np.cumsum([len(a) for a in arrays])[:-1])


def _overlapping(
    order_codes: Sequence[str], order_key: np.ndarray, serving_codes: Sequence[str], serving_key: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(order row, serving row) where the keys match and one area code is a prefix of the other:
    the serving area contains the order's area, or lies inside it."""
    if not len(order_codes) or not len(serving_codes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    orders_cut, order_len = _cut(order_codes)
    serving_cut, serving_len = _cut(serving_codes)
    width = int(max(order_key.max(initial=0), serving_key.max(initial=0))) + 1
    found_o, found_s = [], []
    for n in LEVEL_CODE_LENGTHS.values():
        # A serving area at this level containing the order: the order's code cut to n …
        at_n = np.flatnonzero(serving_len == n)
        left, right = _ids(orders_cut[n], serving_cut[n][at_n])
        i, j = _join(left * width + order_key, right * width + serving_key[at_n])
        keep = order_len[i] >= n  # an order shallower than n has no ancestor at n
        found_o.append(i[keep])
        found_s.append(at_n[j[keep]])
        # … or an order at this level containing the serving area: the serving code cut to n.
        orders_at_n = np.flatnonzero(order_len == n)
        deeper = np.flatnonzero(serving_len > n)
        left, right = _ids(orders_cut[n][orders_at_n], serving_cut[n][deeper])
        i, j = _join(left * width + order_key[orders_at_n], right * width + serving_key[deeper])
        found_o.append(orders_at_n[i])
        found_s.append(deeper[j])
    return np.concatenate(found_o), np.concatenate(found_s)


def _join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with left[i] == right[j]."""
    by_key = np.argsort(right, kind="stable")
    lo = np.searchsorted(right[by_key], left, side="left")
    counts = np.searchsorted(right[by_key], left, side="right") - lo
    i = np.repeat(np.arange(len(left)), counts)
    # Position within each left row's run of matches, added to where that run starts.
    within = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, by_key[np.repeat(lo, counts) + within]


def _distance(
    order_codes: Sequence[str], home_codes: Sequence[str], o: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """Index into DISTANCES for each pair: the deepest level at which order and home agree."""
    orders_cut, _ = _cut(order_codes)
    homes_cut, _ = _cut(home_codes)
    distance = np.full(len(o), len(DISTANCES) - 1, dtype=np.int64)
    for index, n in enumerate(sorted(LEVEL_CODE_LENGTHS.values(), reverse=True)):
        left, right = _ids(orders_cut[n], homes_cut[n])
        same = (left[o] == right[v]) & (orders_cut[n][o] != "")
        distance = np.where(same & (distance == len(DISTANCES) - 1), index, distance)
    return distance


# --- availability ------------------------------------------------------------------------------


def _weekly_windows(volunteers: Sequence[VolunteerSpec]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each volunteer's weekly windows merged into disjoint minute-of-week ranges, flattened:
    starts, ends, and where each volunteer's windows begin (volunteer i owns offsets[i]:offsets[i + 1])."""
    starts: list[int] = []
    ends: list[int] = []
    offsets = [0]
    for v in volunteers:
        merged: list[list[int]] = []
        for lo, hi in sorted((d * 1440 + lo, d * 1440 + hi) for d, lo, hi in v.windows):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        for lo, hi in merged:
            starts.append(lo)
            ends.append(hi)
        offsets.append(len(starts))
    return np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(offsets, np.int64)


def _available_minutes(
    windows: tuple[np.ndarray, np.ndarray, np.ndarray],
    volunteer: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> np.ndarray:
    """Minutes of [start, end) inside each volunteer's weekly windows, for start within the first
    week and end before the second ends: the part past Sunday midnight counts from Monday again."""
    minutes = _overlap(windows, volunteer, start, np.minimum(end, MINUTES_PER_WEEK))
    wraps = np.flatnonzero(end > MINUTES_PER_WEEK)
    minutes[wraps] += _overlap(
        windows, volunteer[wraps], np.zeros(len(wraps), np.int64), end[wraps] - MINUTES_PER_WEEK
    )
    return minutes


def _overlap(
    windows: tuple[np.ndarray, np.ndarray, np.ndarray],
    volunteer: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> np.ndarray:
    """One pass per window position: a volunteer has a handful of windows, so this beats
    searching them for millions of pairs."""
    lo, hi, offsets = windows
    first = offsets[volunteer]
    count = offsets[volunteer + 1] - first
    minutes = np.zeros(len(volunteer), np.int64)
    active = np.arange(len(volunteer))
    for position in range(int(count.max(initial=0))):
        active = active[count[active] > position]
        window = first[active] + position
        overlap = np.minimum(hi[window], end[active]) - np.maximum(lo[window], start[active])
        minutes[active] += np.maximum(overlap, 0)
    return minutes

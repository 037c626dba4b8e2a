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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from itertools import chain
from operator import attrgetter

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

    # Which of its plan's orders a volunteer takes first is arbitrary; by order id keeps breakdowns stable.
    pairs = sorted(result.pairs, key=lambda pair: (orders[pair[0]].id, pair[1]))
    extra: dict[int, int] = {}
    proposals = []
    planned = np.zeros(n_volunteers, dtype=np.int64)
    for (o, v), k in zip(pairs, graph.positions(pairs).tolist(), strict=True):
        slot = extra.get(v, 0)
        extra[v] = slot + 1
        planned[v] += 1
        proposals.append(_proposal(graph, k, orders[o].id, volunteers[v].id, slot, weights))
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


def _proposal(
    graph: CandidateGraph, k: int, order_id: int, volunteer_id: int, slot: int, weights: Weights
) -> Proposal:
    """The pair at position `k` of the graph, as the volunteer's `slot`-th extra order in a plan."""
    v = int(graph.volunteer[k])
    return Proposal(
        order_id=order_id,
        volunteer_id=volunteer_id,
        cost=int(graph.cost[k]) + weights.load * slot,
        distance=DISTANCES[graph.distance[k]],
        breakdown={
            "distance": int(graph.distance_cost[k]),
            "load": weights.load * (int(graph.load[v]) + slot),
            "rating": int(graph.rating_cost[k]),
            "skill": int(graph.skill_cost[k]),
        },
    )


def price_pair(
    order: OrderSpec, volunteer: VolunteerSpec, weights: Weights, slot: int = 0
) -> Proposal | None:
    """One pair priced as a plan prices it (a person's choice instead of the solver's), with the
    volunteer's `slot` other orders in the same plan; None when the pair is no candidate."""
    graph = candidate_graph([order], [volunteer], weights)
    if not len(graph.order):
        return None
    return _proposal(graph, 0, order.id, volunteer.id, slot, weights)


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

    def positions(self, pairs: list[tuple[int, int]]) -> np.ndarray:
        """Where each (order row, volunteer row) pair is in the graph."""
        width = len(self.capacity)
        keys = self.order * width + self.volunteer
        by_key = np.argsort(keys)
        wanted = np.array([o * width + v for o, v in pairs], dtype=np.int64)
        return by_key[np.searchsorted(keys, wanted, sorter=by_key)]


def candidate_graph(
    orders: Sequence[OrderSpec], volunteers: Sequence[VolunteerSpec], weights: Weights
) -> CandidateGraph:
    """Each spec is read once into integer columns (area codes and skills as integer ids); every
    stage after that is numpy over the candidate pairs."""
    n_orders, n_volunteers = len(orders), len(volunteers)
    skills = list(map(attrgetter("skills"), volunteers))
    skill_ids = {
        name: i for i, name in enumerate(dict.fromkeys(chain(map(attrgetter("skill"), orders), *skills)))
    }
    order_skill = _ints(map(skill_ids.__getitem__, map(attrgetter("skill"), orders)), n_orders)
    skill_count = _ints(map(len, skills), n_volunteers)
    skill = _ints(map(skill_ids.__getitem__, chain.from_iterable(skills)))
    skill_level = _ints(chain.from_iterable(map(dict.values, skills)))
    serves = list(map(attrgetter("serves"), volunteers))
    serve_count = _ints(map(len, serves), n_volunteers)
    serve_owner = np.repeat(np.arange(n_volunteers), serve_count)
    (order_area, serve_area, home_area), areas = _area_codes(
        list(map(attrgetter("area_code"), orders)),
        list(chain.from_iterable(serves)),
        [x.home_code or "" for x in volunteers],
    )

    serves_area = _serves_area(order_area, serve_area, areas)
    # One row per (serving area, skill) of each volunteer.
    per_area = skill_count[serve_owner]
    row_area = np.repeat(np.arange(len(serve_area)), per_area)
    first_skill = (np.cumsum(skill_count) - skill_count)[serve_owner]
    within = np.arange(len(row_area)) - np.repeat(np.cumsum(per_area) - per_area, per_area)
    row_skill = first_skill[row_area] + within
    o, row = _overlapping(
        order_area, order_skill, serve_area[row_area], skill[row_skill], areas, len(skill_ids)
    )
    v = serve_owner[row_area[row]]
    level = skill_level[row_skill[row]]
    # A volunteer may serve both a community and a grid inside it: keep one pair. Only volunteers with
    # several serving areas can repeat one.
    several = np.flatnonzero(serve_count[v] > 1)
    if len(several):
        _, first = np.unique(o[several] * n_volunteers + v[several], return_index=True)
        keep = serve_count[v] == 1
        keep[several[first]] = True
        o, v, level = o[keep], v[keep], level[keep]
    counts = {"serving": np.bincount(o, minlength=n_orders)}

    volunteer_id = _column(volunteers, "id")
    requester = _column(orders, "requester_id")
    keep = volunteer_id[v] != requester[o]
    row_of = {x.id: index for index, x in enumerate(volunteers)}
    declined = [
        i * n_volunteers + row_of[d] for i, x in enumerate(orders) for d in x.declined_by if d in row_of
    ]
    if declined:
        # A few declines against millions of pairs: a search in the sorted declines, not isin's sort
        # of both.
        declined_keys = np.unique(declined)
        keys = o * n_volunteers + v
        found = np.minimum(np.searchsorted(declined_keys, keys), len(declined_keys) - 1)
        keep &= declined_keys[found] != keys
    o, v, level = o[keep], v[keep], level[keep]
    counts["eligible"] = np.bincount(o, minlength=n_orders)

    start = _column(orders, "start")
    length_of_order = _column(orders, "end") - start
    # Minutes of a week fit 32 bits: half the memory traffic over millions of pairs.
    week_start = (start % MINUTES_PER_WEEK).astype(np.int32)
    week_end = week_start + np.minimum(length_of_order, MINUTES_PER_WEEK).astype(np.int32)
    minutes = _available_minutes(_weekly_windows(volunteers), v, week_start[o], week_end[o])
    keep = minutes >= np.maximum(np.minimum(ENOUGH_MINUTES, length_of_order[o]), 1)
    o, v, level = o[keep], v[keep], level[keep]
    counts["free"] = np.bincount(o, minlength=n_orders)

    capacity = _column(volunteers, "capacity")
    load = _column(volunteers, "load")
    keep = capacity[v] > load[v]
    o, v, level = o[keep], v[keep], level[keep]
    counts["with_capacity"] = np.bincount(o, minlength=n_orders)

    distance = _distance(order_area[o], home_area[v], areas)
    distance_cost = weights.distance_cost()[distance]
    stars = np.array(list(map(attrgetter("rating"), volunteers)), dtype=float).reshape(-1)  # None: nan
    stars[np.isnan(stars)] = weights.unrated_stars
    rating_cost = np.rint(weights.rating * (5 - stars[v])).astype(np.int64)
    skill_cost = weights.skill * (3 - level)
    cost = distance_cost + weights.load * load[v] + rating_cost + skill_cost

    # The cheapest candidates of each order, ties by volunteer id; the graph keeps this order.
    by = _cheapest_first(o, cost, volunteer_id, v)
    o_sorted = o[by]
    group_start = np.searchsorted(o_sorted, o_sorted, side="left")
    top = by[(np.arange(len(by)) - group_start) < weights.candidates_per_order]
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


def _cheapest_first(o: np.ndarray, cost: np.ndarray, volunteer_id: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Positions of the pairs by order, then cost, then volunteer id. As one int64 key they sort ten
    times faster than in lexsort's three stable passes (1.4M pairs: 0.04 s against 0.35). The key gives
    lexsort's order where it is unique (an order and a volunteer make one pair at most): with integer
    costs and distinct volunteer ids, and where it fits in int64; otherwise lexsort it is."""
    ids, id_rank = np.unique(volunteer_id, return_inverse=True)
    if cost.dtype.kind in "iu" and len(ids) == len(volunteer_id):
        lowest = int(cost.min(initial=0))
        span = int(cost.max(initial=0)) - lowest + 1
        if (int(o.max(initial=0)) + 1) * span * len(ids) < 2**63:
            key = (o.astype(np.int64) * span + (cost.astype(np.int64) - lowest)) * len(ids) + id_rank[v]
            return np.argsort(key)
    return np.lexsort((volunteer_id[v], cost, o))


def _ints(values: Iterable[int], count: int = -1) -> np.ndarray:
    return np.fromiter(values, np.int64, count)


def _column(specs: Sequence[OrderSpec] | Sequence[VolunteerSpec], name: str) -> np.ndarray:
    return _ints(map(attrgetter(name), specs), len(specs))


# --- area codes --------------------------------------------------------------------------------

LEVELS = np.array(sorted(LEVEL_CODE_LENGTHS.values()))


@dataclass(frozen=True)
class _Areas:
    """Per distinct area code: the id of its prefix at each level (a column per LEVELS entry, -1 where
    the code is shorter; ids differ between levels), its length, and its own id (its prefix at its own
    length, -1 for a length that is no level)."""

    prefixes: np.ndarray
    length: np.ndarray
    own: np.ndarray


def _area_codes(*groups: list[str]) -> tuple[list[np.ndarray], _Areas]:
    """Area codes as integers, so that comparing areas is comparing integers: each group's codes as
    indices into the distinct codes, and what `_Areas` tells of those."""
    distinct = list(dict.fromkeys(chain(*groups)))
    index = {code: i for i, code in enumerate(distinct)}
    ids = [_ints(map(index.__getitem__, group), len(group)) for group in groups]
    array = np.array(distinct, dtype=str)
    length = np.char.str_len(array).astype(np.int64)
    prefixes = np.full((len(distinct), len(LEVELS)), -1, dtype=np.int64)
    for column, n in enumerate(LEVELS.tolist()):
        long_enough = length >= n
        _, inverse = np.unique(array[long_enough].astype(f"<U{n}"), return_inverse=True)
        prefixes[long_enough, column] = column * len(distinct) + inverse
    is_level = length[:, None] == LEVELS[None, :]
    own = np.where(is_level.any(axis=1), prefixes[np.arange(len(distinct)), is_level.argmax(axis=1)], -1)
    return ids, _Areas(prefixes, length, own)


def _serves_area(order_area: np.ndarray, serve_area: np.ndarray, areas: _Areas) -> np.ndarray:
    """Whether any serving area overlaps each order's area (one a prefix of the other)."""
    serving = areas.own[serve_area]
    contains = np.isin(areas.prefixes[order_area], serving[serving >= 0]).any(axis=1)
    return contains | np.isin(areas.own[order_area], _shallower_prefixes(serve_area, areas)[0])


def _shallower_prefixes(area: np.ndarray, areas: _Areas) -> tuple[np.ndarray, np.ndarray]:
    """Each area's prefixes at the levels strictly shorter than it: (prefix id, index into `area`)."""
    shorter = LEVELS[None, :] < areas.length[area][:, None]
    index, _ = np.nonzero(shorter)
    return areas.prefixes[area][shorter], index


def _overlapping(
    order_area: np.ndarray,
    order_skill: np.ndarray,
    row_area: np.ndarray,
    row_skill: np.ndarray,
    areas: _Areas,
    n_skills: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(order, serving row) where the skills match and one area is a prefix of the other: the serving
    area contains the order's area (equal included), or lies inside it."""
    width = max(n_skills, 1)
    # The serving area contains the order's: it is the order's prefix at some level.
    table = areas.prefixes[order_area]
    o, _ = np.nonzero(table >= 0)
    i, j = _join(table[table >= 0] * width + order_skill[o], areas.own[row_area] * width + row_skill)
    found_o, found_row = [o[i]], [j]
    # The order's area contains the serving area: it is the serving area's prefix at a shorter level.
    above, row = _shallower_prefixes(row_area, areas)
    i, j = _join(areas.own[order_area] * width + order_skill, above * width + row_skill[row])
    found_o.append(i)
    found_row.append(row[j])
    return np.concatenate(found_o), np.concatenate(found_row)


def _join(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with left[i] == right[j]."""
    by_key = np.argsort(right, kind="stable")
    lo = np.searchsorted(right[by_key], left, side="left")
    counts = np.searchsorted(right[by_key], left, side="right") - lo
    i = np.repeat(np.arange(len(left)), counts)
    # Position within each left row's run of matches, added to where that run starts.
    within = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, by_key[np.repeat(lo, counts) + within]


def _distance(order_area: np.ndarray, home_area: np.ndarray, areas: _Areas) -> np.ndarray:
    """Index into DISTANCES for each pair: the deepest level at which order and home agree."""
    distance = np.full(len(order_area), len(DISTANCES) - 1, dtype=np.int64)
    # Shallow to deep, so the deepest agreement is written last.
    for column in range(len(LEVELS)):
        ours = areas.prefixes[order_area, column]
        distance[(ours >= 0) & (ours == areas.prefixes[home_area, column])] = len(LEVELS) - 1 - column
    return distance


# --- availability ------------------------------------------------------------------------------


def _weekly_windows(volunteers: Sequence[VolunteerSpec]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each volunteer's weekly windows merged into disjoint minute-of-week ranges, flattened:
    starts, ends, and where each volunteer's windows begin (volunteer i owns offsets[i]:offsets[i + 1])."""
    windows = list(map(attrgetter("windows"), volunteers))
    count = _ints(map(len, windows), len(volunteers))
    day, lo, hi = _ints(chain.from_iterable(chain.from_iterable(windows))).reshape(-1, 3).T
    owner = np.repeat(np.arange(len(volunteers)), count)
    lo, hi = day * 1440 + lo, day * 1440 + hi
    by = np.lexsort((hi, lo, owner))
    owner, lo, hi = owner[by], lo[by], hi[by]
    # The furthest end so far within each volunteer's windows: lifting each volunteer above the
    # previous ones lets one running maximum serve them all.
    base = min(lo.min(initial=0), hi.min(initial=0))
    lift = owner * (max(lo.max(initial=0), hi.max(initial=0)) - base + 1)
    reach = np.maximum.accumulate(hi - base + lift) + base - lift
    starts = np.ones(len(lo), dtype=bool)
    starts[1:] = (owner[1:] != owner[:-1]) | (lo[1:] > reach[:-1])
    first = np.flatnonzero(starts)
    ends = np.maximum.reduceat(hi, first) if len(first) else hi[:0]
    runs = np.bincount(owner[first], minlength=len(volunteers))
    return lo[first], ends, np.concatenate([[0], np.cumsum(runs)])


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
    searching them for millions of pairs. The pairs are sorted by their volunteer's window count,
    most first (a radix sort of small integers), so each pass reads a prefix of them rather than
    gathering the ones still active. In 32 bits (minutes of a week, pair positions): half the memory
    traffic."""
    lo, hi, offsets = (a.astype(np.int32) for a in windows)
    counts = np.diff(offsets)
    count = counts.astype(np.min_scalar_type(counts.max(initial=0)))[volunteer]
    by = np.argsort(count, kind="stable")[::-1]
    count = count[by]
    first = offsets[:-1][volunteer[by]]
    start, end = start[by].astype(np.int32), end[by].astype(np.int32)
    minutes = np.zeros(len(by), np.int32)
    # How many pairs have more than `position` windows, for each position.
    active = len(count) - np.searchsorted(count[::-1], np.arange(int(count[0]) if len(count) else 0), "right")
    for position, n in enumerate(active.tolist()):
        window = first[:n] + position
        overlap = np.minimum(hi[window], end[:n])
        overlap -= np.maximum(lo[window], start[:n])
        minutes[:n] += np.maximum(overlap, 0)
    result = np.empty_like(minutes)
    result[by] = minutes
    return result

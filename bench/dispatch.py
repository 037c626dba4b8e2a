"""Batch dispatch at city scale: the solver against greedy first-come-first-served and OR-tools.

    .venv/bin/python bench/dispatch.py [--scales 1k,10k,100k] [--seed 7] [--giant] [--methods plan,or-tools]

A seeded generator builds a city shaped like the real thing: streets of ten
communities, each with grids, compounds and buildings; most volunteers serve
their own community and some (15%) also a neighbouring one in the same street;
skills, weekly availability, capacities (1-3) and current loads drawn from
plausible distributions; orders spread over the week, a few urgent, some
already declined by someone. Per scale (orders × volunteers: 1k × 2k,
10k × 20k, 100k × 200k), each method runs in a fresh process so its peak
memory is its own:

* `plan`     `matching.dispatch.plan_dispatch`: candidate graph, then `solve_assignment`;
* `greedy`   orders in arrival order, each takes the nearest volunteer with room among
             its candidates (the baseline: today's first come, first served);
* `or-tools` `SimpleMinCostFlow` on the same candidate graph (source → order → volunteer
             → slot arcs of rising cost → sink, a reject arc per order at its penalty):
             the optimality and speed reference. Needs `pip install -e .[bench]`.

It prints CPU seconds (graph building and solving apart), peak memory (the process's
maximum resident set, the generated city included), coverage, mean distance cost, load
spread and the objective (pair costs plus penalties of orders left out), then the
ratios: plan ÷ greedy cost, and the plan's solve and build + solve ÷ OR-tools' solve.
Targets: the plan's objective equals OR-tools'; at 100k × 200k build + solve no slower
than OR-tools' solve, in at most 1.5 GB; with `--giant` (the neighbouring community a
volunteer also serves may be in another street, so the graph is one city-wide component)
within 1.5× of OR-tools; coverage never below greedy; cost at least 10% below greedy.

Not part of the test suite (pytest collects only tests/).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from dataclasses import dataclass

import numpy as np

from matching.assignment import solve_assignment
from matching.dispatch import (
    CandidateGraph,
    OrderSpec,
    VolunteerSpec,
    Weights,
    candidate_graph,
    unassigned_penalty,
)

SCALES = {"1k": (1_000, 2_000), "10k": (10_000, 20_000), "100k": (100_000, 200_000)}
SKILLS = {  # share of orders per category; volunteers' skills follow the same shape
    "escort": 0.14, "shopping": 0.16, "repair": 0.12, "elderly_care": 0.14, "cleaning": 0.08,
    "legal": 0.05, "health": 0.07, "psychological": 0.03, "mediation": 0.04, "culture": 0.04,
    "policy": 0.05, "tutoring": 0.08,
}  # fmt: skip
VOLUNTEERS_PER_COMMUNITY = 200
COMMUNITIES_PER_STREET = 10
GRIDS, COMPOUNDS, BUILDINGS = 4, 5, 8  # per community, per grid, per compound


# --- the city ------------------------------------------------------------------------------------


def city(
    n_orders: int, n_volunteers: int, seed: int, giant: bool = False
) -> tuple[list[OrderSpec], list[VolunteerSpec]]:
    """`giant`: the neighbouring community a volunteer also serves may be in any street, so the
    candidate graph is one city-wide component instead of one per street."""
    rng = np.random.default_rng(seed)
    communities = max(1, n_volunteers // VOLUNTEERS_PER_COMMUNITY)

    def community_code(c: int) -> str:
        street, within = divmod(c, COMMUNITIES_PER_STREET)
        return f"110105{street + 1:03d}{within + 1:03d}"

    def building(c: int) -> str:
        g, p, b = rng.integers(GRIDS) + 1, rng.integers(COMPOUNDS) + 1, rng.integers(BUILDINGS) + 1
        return f"{community_code(c)}{g:03d}{p:03d}{b:03d}"

    skills, shares = list(SKILLS), np.array(list(SKILLS.values()))
    shares = shares / shares.sum()
    volunteers = []
    for v in range(n_volunteers):
        c = v % communities
        serves = [community_code(c)]
        if rng.random() < 0.15:  # also a neighbouring community of the same street
            street_first = 0 if giant else c - c % COMMUNITIES_PER_STREET
            size = communities if giant else min(COMMUNITIES_PER_STREET, communities - street_first)
            if size > 1:
                neighbour = street_first + (c - street_first + 1 + rng.integers(size - 1)) % size
                serves.append(community_code(neighbour))
        own = rng.choice(len(skills), size=rng.integers(1, 4), replace=False, p=shares)
        capacity = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
        volunteers.append(
            VolunteerSpec(
                id=v + 1,
                home_code=building(c),
                serves=tuple(serves),
                skills={skills[s]: int(rng.integers(1, 4)) for s in own},
                windows=_availability(rng),
                capacity=capacity,
                load=int(rng.random() < 0.2) if capacity > 1 else 0,
                rating=None if rng.random() < 0.3 else round(float(rng.uniform(3.0, 5.0)), 1),
            )
        )
    orders = []
    busy = rng.gamma(2.0, 1.0, communities)  # some communities ask for much more than others
    for o in range(n_orders):
        c = int(rng.choice(communities, p=busy / busy.sum()))
        area = building(c) if rng.random() < 0.8 else building(c)[:18]  # or a whole compound
        day, hour = int(rng.integers(7)), int(rng.integers(7, 20))
        start = day * 1440 + hour * 60 + int(rng.choice([0, 30]))
        declined = frozenset({int(rng.integers(n_volunteers)) + 1}) if rng.random() < 0.05 else frozenset()
        orders.append(
            OrderSpec(
                id=o + 1,
                area_code=area,
                skill=skills[int(rng.choice(len(skills), p=shares))],
                start=start,
                end=start + int(rng.choice([60, 90, 120, 180, 240])),
                urgent=bool(rng.random() < 0.15),
                waited_minutes=int(rng.integers(0, 48 * 60)),
                # Residents mostly; now and then a volunteer asks for help too.
                requester_id=int(rng.integers(n_volunteers)) + 1 if rng.random() < 0.02 else 10**7 + o,
                declined_by=declined,
            )
        )
    return orders, volunteers


def _availability(rng: np.random.Generator) -> tuple[tuple[int, int, int], ...]:
    kind = rng.choice(["evenings", "weekends", "retired", "scattered"], p=[0.35, 0.25, 0.3, 0.1])
    if kind == "evenings":
        return tuple((d, 18 * 60, 21 * 60) for d in range(5))
    if kind == "weekends":
        return tuple((d, 9 * 60, 17 * 60) for d in (5, 6))
    if kind == "retired":
        return tuple((d, 8 * 60, 17 * 60) for d in range(7) if rng.random() < 0.8)
    return tuple(
        (int(d), int(h) * 60, int(h) * 60 + 180)
        for d, h in zip(rng.integers(0, 7, 4), rng.integers(7, 20, 4), strict=True)
    )


# --- the three methods -----------------------------------------------------------------------


@dataclass
class Outcome:
    method: str
    build_s: float
    solve_s: float
    peak_mb: float
    orders: int
    assigned: int
    mean_distance: float
    load_spread: float
    objective: int


def _pairs_outcome(
    method: str,
    graph: CandidateGraph,
    penalty: np.ndarray,
    weights: Weights,
    chosen: np.ndarray,
    build_s: float,
    solve_s: float,
) -> Outcome:
    """Objective of chosen candidate pairs (positions in the graph) with the plan's own cost rules."""
    planned = np.bincount(graph.volunteer[chosen], minlength=len(graph.capacity))
    # The k-th extra order of a volunteer costs k × load on top: Σ_k k = t(t-1)/2.
    slot_cost = int((weights.load * planned * (planned - 1) // 2).sum())
    assigned = np.zeros(len(penalty), dtype=bool)
    assigned[graph.order[chosen]] = True
    candidates = np.unique(graph.volunteer)
    final_load = (graph.load + planned)[candidates]
    return Outcome(
        method=method,
        build_s=build_s,
        solve_s=solve_s,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        orders=len(penalty),
        assigned=int(assigned.sum()),
        mean_distance=float(graph.distance_cost[chosen].mean()) if chosen.any() else 0.0,
        load_spread=float(final_load.std()) if len(final_load) else 0.0,
        objective=int(graph.cost[chosen].sum()) + slot_cost + int(penalty[~assigned].sum()),
    )


def run(method: str, scale: str, seed: int, giant: bool) -> Outcome:
    orders, volunteers = city(*SCALES[scale], seed, giant)
    weights = Weights()
    penalty = np.array([unassigned_penalty(o, weights) for o in orders], dtype=np.int64)
    started = cpu_seconds()
    graph = candidate_graph(orders, volunteers, weights)
    build_s = cpu_seconds() - started
    started = cpu_seconds()
    chosen = {"plan": _plan, "greedy": _greedy, "or-tools": _or_tools}[method](graph, penalty, weights)
    return _pairs_outcome(method, graph, penalty, weights, chosen, build_s, cpu_seconds() - started)


def cpu_seconds() -> float:
    """CPU time of this process: on a machine shared with other work, wall time measures the
    neighbours as much as the method."""
    return time.process_time()


def _plan(graph: CandidateGraph, penalty: np.ndarray, weights: Weights) -> np.ndarray:
    """The same call `plan_dispatch` makes, on the graph it builds."""
    from scipy import sparse

    n_orders, n_volunteers = len(penalty), len(graph.capacity)
    result = solve_assignment(
        sparse.coo_array((graph.cost, (graph.order, graph.volunteer)), shape=(n_orders, n_volunteers)),
        capacities=np.maximum(graph.capacity - graph.load, 0),
        unassigned_penalty=penalty,
        slot_costs=np.full(n_volunteers, weights.load, dtype=np.int64),
    )
    chosen = np.zeros(len(graph.cost), dtype=bool)
    chosen[graph.positions(result.pairs)] = True
    return chosen


def _greedy(graph: CandidateGraph, penalty: np.ndarray, weights: Weights) -> np.ndarray:
    """First come, first served: orders by id (arrival), each to its nearest candidate with room."""
    room = np.maximum(graph.capacity - graph.load, 0)
    chosen = np.zeros(len(graph.cost), dtype=bool)
    by_order = np.lexsort((graph.volunteer, graph.distance_cost, graph.order))
    starts = np.searchsorted(graph.order[by_order], np.arange(len(penalty) + 1))
    for o in range(len(penalty)):
        for k in by_order[starts[o] : starts[o + 1]]:
            v = graph.volunteer[k]
            if room[v] > 0:
                room[v] -= 1
                chosen[k] = True
                break
    return chosen


def _or_tools(graph: CandidateGraph, penalty: np.ndarray, weights: Weights) -> np.ndarray:
    from ortools.graph.python import min_cost_flow

    n_orders, n_volunteers = len(penalty), len(graph.capacity)
    room = np.maximum(graph.capacity - graph.load, 0)
    source, sink = n_orders + n_volunteers, n_orders + n_volunteers + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    orders = np.arange(n_orders)
    flow.add_arcs_with_capacity_and_unit_cost(
        np.full(n_orders, source), orders, np.ones(n_orders, np.int64), np.zeros(n_orders, np.int64)
    )
    pair_arcs = flow.add_arcs_with_capacity_and_unit_cost(
        graph.order,
        n_orders + graph.volunteer,
        np.ones(len(graph.cost), np.int64),
        graph.cost.astype(np.int64),
    )
    flow.add_arcs_with_capacity_and_unit_cost(
        orders, np.full(n_orders, sink), np.ones(n_orders, np.int64), penalty
    )
    # Slot k of a volunteer costs k × load: arcs of rising cost, filled in order.
    volunteer_of_slot = np.repeat(np.arange(n_volunteers), room)
    slot = np.arange(len(volunteer_of_slot)) - np.repeat(np.cumsum(room) - room, room)
    flow.add_arcs_with_capacity_and_unit_cost(
        n_orders + volunteer_of_slot,
        np.full(len(slot), sink),
        np.ones(len(slot), np.int64),
        weights.load * slot,
    )
    flow.set_nodes_supplies(np.array([source, sink]), np.array([n_orders, -n_orders]))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"OR-tools min cost flow: status {status}")
    return flow.flows(pair_arcs) > 0


# --- the report -------------------------------------------------------------------------------


def _in_child(method: str, scale: str, seed: int, giant: bool, results: multiprocessing.Queue) -> None:
    results.put(run(method, scale, seed, giant))


def measure(method: str, scale: str, seed: int, giant: bool) -> Outcome:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_in_child, args=(method, scale, seed, giant, results))
    child.start()
    outcome = results.get()
    child.join()
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1k,10k,100k", help="comma-separated: " + ", ".join(SCALES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--methods", default="plan,greedy,or-tools", help="comma-separated")
    parser.add_argument(
        "--giant", action="store_true", help="volunteers also serve communities of other streets"
    )
    args = parser.parse_args()
    try:
        import ortools  # noqa: F401

        methods = args.methods.split(",")
    except ImportError:
        print("OR-tools is not installed (pip install -e '.[bench]'): no reference column\n")
        methods = [m for m in args.methods.split(",") if m != "or-tools"]
    print(
        f"{'scale':>6} {'method':>9} {'build s':>8} {'solve s':>8} {'peak MB':>8} {'coverage':>9}"
        f" {'mean dist':>9} {'load sd':>8} {'objective':>13}"
    )
    for scale in args.scales.split(","):
        outcomes = {m: measure(m, scale, args.seed, args.giant) for m in methods}
        for o in outcomes.values():
            print(
                f"{scale:>6} {o.method:>9} {o.build_s:8.2f} {o.solve_s:8.2f} {o.peak_mb:8.0f}"
                f" {o.assigned / o.orders:9.4f} {o.mean_distance:9.2f} {o.load_spread:8.3f} {o.objective:13,}"
            )
        plan, greedy, reference = (outcomes.get(m) for m in ("plan", "greedy", "or-tools"))
        if plan and greedy:
            print(
                f"{scale:>6}  plan ÷ greedy: objective {plan.objective / greedy.objective:.3f},"
                f" coverage {plan.assigned - greedy.assigned:+d} orders"
            )
        if plan and reference:
            same = "identical" if reference.objective == plan.objective else "DIFFERENT"
            print(
                f"{scale:>6}  plan ÷ or-tools solve: solve {plan.solve_s / reference.solve_s:.2f},"
                f" build + solve {(plan.build_s + plan.solve_s) / reference.solve_s:.2f}, objective {same}"
            )


if __name__ == "__main__":
    main()

"""Optimal assignment of tasks to agents with capacities, rising slot costs and optional rejection.

The problem is a min-cost flow: source → task → agent → sink, plus a reject arc per task at its penalty.
An agent of capacity c is c parallel arcs to the sink, its k-th slot (k = 0, 1, …) costing
k × its slot cost. Slot costs are non-negative, so cheaper slots fill first and an agent with t tasks
pays slot_cost × (0 + 1 + … + t-1).

A plain assignment (every agent takes at most one task, every task must be placed, no more tasks than
agents) goes straight to scipy: `linear_sum_assignment` on a dense matrix, LAPJVsp on a sparse one with
small integer costs (bench/solvers.py: within a few percent of calling them directly).

Otherwise the candidate graph is split into connected components, each solved exactly:

* with integer costs (dispatch's are), as that min-cost flow by LEMON's network simplex (pylmcf): one
  city-wide component of 100k orders and 200k volunteers in ~2.2 CPU-s, where OR-tools' min-cost flow
  takes 4.8-5.9 (bench/dispatch.py --giant).
  Before it, each agent slot was a column of a sparse perfect matching for scipy's LAPJVsp
  (`min_weight_full_bipartite_matching`), whose port resets its distances over every column for each
  row its initialisation leaves unmatched: ~18 s on that component. Tried there and slower: solving each
  task's 2 cheapest pairs first, then adding pairs of negative reduced cost (the added pairs re-form the
  giant component), reordering or transposing the matrix, HiGHS dual simplex and interior point, and
  primal-dual phases with csgraph; what it needed was a compiled min-cost flow that keeps its potentials;
* with fractional costs, as a linear program with HiGHS, whose constraint matrix is totally unimodular,
  so the optimal vertex is integral.

All in one process: a second one (forked, the components pickled to it and back) used to halve the
time of LAPJVsp's street components, but the network simplex solves the 100k city's street components
in 0.5 CPU-s, and two processes took 0.7-0.9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pylmcf import pylmcf_cpp
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog
from scipy.sparse.csgraph import connected_components, maximum_flow, min_weight_full_bipartite_matching

INTEGRAL_TOLERANCE = 1e-6
# LAPJVsp and the network simplex get only integer costs below this: sums of a few million of them
# stay exact in float64 (LAPJVsp's) and far inside int64 (the network simplex's).
INTEGER_LIMIT = 2**31


class Infeasible(ValueError):
    """Without penalties every task must be assigned, and these cannot be."""

    def __init__(self, tasks: list[int]) -> None:
        self.tasks = tasks
        shown = ", ".join(map(str, tasks[:20])) + (" …" if len(tasks) > 20 else "")
        super().__init__(f"{len(tasks)} task(s) cannot be assigned: {shown}")


@dataclass(frozen=True)
class Assignment:
    # (task, agent), sorted by task.
    pairs: list[tuple[int, int]]
    unassigned: list[int]
    # Pair costs, slot costs and the penalties of the unassigned tasks.
    total_cost: float


@dataclass(frozen=True)
class _Edges:
    task: np.ndarray
    agent: np.ndarray
    cost: np.ndarray


@dataclass(frozen=True)
class _Component:
    """A connected component, its tasks and agents numbered from 0. An agent's capacity is cut to its
    degree: each task takes at most one slot."""

    edges: _Edges
    n_tasks: int
    capacity: np.ndarray
    slot_cost: np.ndarray
    penalty: np.ndarray | None


def _shape(costs: np.ndarray | sparse.sparray | sparse.spmatrix) -> tuple[int, int]:
    shape = costs.shape if sparse.issparse(costs) else np.shape(costs)
    if len(shape) != 2:
        raise ValueError("costs must be a 2-D array (tasks × agents)")
    return shape


def _wide(costs: np.ndarray) -> np.ndarray:
    """Costs in float64 or int64: in a narrow type (float32, int8, bool, …) their shifts and sums would
    round or wrap around."""
    return costs.astype(np.float64 if costs.dtype.kind == "f" else np.int64, copy=False)


def _csr(costs: sparse.sparray | sparse.spmatrix) -> sparse.csr_array:
    """Duplicate entries summed, as scipy reads them; explicit zeros stay: an allowed, free pair."""
    matrix = sparse.csr_array(costs, copy=True)
    matrix = sparse.csr_array((_wide(matrix.data), matrix.indices, matrix.indptr), matrix.shape)
    matrix.sum_duplicates()
    if np.any(~np.isfinite(matrix.data)):
        raise ValueError("allowed pairs must have finite costs")
    return matrix


def _edges(costs: np.ndarray | sparse.sparray | sparse.spmatrix) -> _Edges:
    """The allowed pairs: a sparse matrix's entries, a dense matrix's finite cells."""
    _shape(costs)
    if sparse.issparse(costs):
        coo = _csr(costs).tocoo()
        task, agent, cost = coo.row, coo.col, coo.data
    else:
        dense = _wide(np.asarray(costs))
        task, agent = np.nonzero(np.isfinite(dense))
        cost = dense[task, agent]
    return _Edges(task.astype(np.int64), agent.astype(np.int64), cost)


def _plain_assignment(costs: np.ndarray | sparse.sparray | sparse.spmatrix) -> Assignment | None:
    """Every task to its own agent at least cost, with `linear_sum_assignment` on a dense matrix and
    LAPJVsp on a sparse one; None when that is infeasible (the general path names the tasks) or the
    sparse costs are not small integers (LAPJVsp compares reduced costs for equality: with fractional
    costs it can loop forever)."""
    if sparse.issparse(costs):
        matrix = _csr(costs)
        if not _small_integer_values(matrix.data):
            return None
        data = matrix.data
        # LAPJVsp drops zero weights: shifted to a minimum of 1, as every task takes exactly one pair.
        shifted = sparse.csr_array(
            (data - data.min(initial=0) + 1, matrix.indices, matrix.indptr), matrix.shape
        )
        try:
            rows, cols = min_weight_full_bipartite_matching(shifted)
        except ValueError:
            return None
        total = matrix[rows, cols].sum()
    else:
        dense = _wide(np.asarray(costs))
        finite = np.isfinite(dense)
        try:
            rows, cols = linear_sum_assignment(dense if finite.all() else np.where(finite, dense, np.inf))
        except ValueError:
            return None
        total = dense[rows, cols].sum()
    return Assignment(
        pairs=list(zip(rows.tolist(), cols.tolist(), strict=True)),
        unassigned=[],
        total_cost=np.asarray(total).item(),
    )


def solve_assignment(
    costs: np.ndarray | sparse.sparray | sparse.spmatrix,
    *,
    capacities: np.ndarray | list[int] | None = None,
    unassigned_penalty: np.ndarray | list[float] | None = None,
    slot_costs: np.ndarray | list[float] | float | None = None,
) -> Assignment:
    """Assign each task (row) to at most one agent (column), each agent taking at most
    `capacities[j]` tasks (default 1), minimising total cost plus the penalties of the
    tasks left unassigned. Without penalties every task must be assigned.

    The k-th task an agent takes (k = 0, 1, …) costs `k * slot_costs[j]` on top of its pair cost, so work
    spreads over agents when it can (default 0: capacity is free). A single number applies to all."""
    n_tasks, n_agents = _shape(costs)
    capacity = (
        np.ones(n_agents, dtype=np.int64) if capacities is None else np.asarray(capacities, dtype=np.int64)
    )
    if capacity.shape != (n_agents,) or np.any(capacity < 0):
        raise ValueError("capacities must give a non-negative integer per agent")
    slot_cost = np.zeros(n_agents, dtype=np.int64) if slot_costs is None else np.asarray(slot_costs)
    if slot_cost.ndim == 0:
        slot_cost = np.full(n_agents, slot_cost)
    if (
        slot_cost.shape != (n_agents,)
        or not np.issubdtype(slot_cost.dtype, np.number)
        or np.any(~np.isfinite(slot_cost) | (slot_cost < 0))
    ):
        raise ValueError("slot_costs must give a finite, non-negative number per agent")
    penalty = None if unassigned_penalty is None else np.asarray(unassigned_penalty, dtype=float)
    if penalty is not None and (penalty.shape != (n_tasks,) or np.any(~np.isfinite(penalty))):
        raise ValueError("unassigned_penalty must give a finite number per task")
    if penalty is None and n_tasks <= n_agents and np.all(capacity == 1):
        # A plain assignment (slot costs apply from a second task on): scipy's own solvers.
        plain = _plain_assignment(costs)
        if plain is not None:
            return plain
    edges = _edges(costs)
    usable = capacity[edges.agent] > 0
    edges = _Edges(edges.task[usable], edges.agent[usable], edges.cost[usable])

    if penalty is None:
        _raise_if_infeasible(edges, n_tasks, n_agents, capacity)

    chosen = np.zeros(len(edges.task), dtype=bool)
    for where, component in _split(edges, n_tasks, n_agents, capacity, slot_cost, penalty):
        chosen[where] = _solve_component(component)

    pairs = sorted(zip(edges.task[chosen].tolist(), edges.agent[chosen].tolist(), strict=True))
    assigned = np.zeros(n_tasks, dtype=bool)
    assigned[edges.task[chosen]] = True
    unassigned = np.flatnonzero(~assigned).tolist()
    load = np.bincount(edges.agent[chosen], minlength=n_agents)
    total = (
        edges.cost[chosen].sum()
        + (slot_cost * (load * (load - 1) // 2)).sum()
        + (penalty[~assigned].sum() if penalty is not None else 0)
    )
    return Assignment(pairs=pairs, unassigned=unassigned, total_cost=np.asarray(total).item())


def _split(
    edges: _Edges,
    n_tasks: int,
    n_agents: int,
    capacity: np.ndarray,
    slot_cost: np.ndarray,
    penalty: np.ndarray | None,
) -> list[tuple[np.ndarray, _Component]]:
    """The connected components that have edges, each with the positions of its edges in `edges`.
    Renumbering is done for all components at once: it costs a few sorts, not a few per component."""
    size = n_tasks + n_agents
    graph = sparse.coo_array(
        (np.ones(len(edges.task)), (edges.task, n_tasks + edges.agent)), shape=(size, size)
    ).tocsr()
    n_labels, labels = connected_components(graph, directed=False)
    task_order, task_starts, task_rank = _group(labels[:n_tasks], n_labels)
    agent_order, agent_starts, agent_rank = _group(labels[n_tasks:], n_labels)
    edge_order, edge_starts, _ = _group(labels[edges.task], n_labels)

    pieces = []
    for label in np.flatnonzero(np.diff(edge_starts)):
        where = edge_order[edge_starts[label] : edge_starts[label + 1]]
        tasks = task_order[task_starts[label] : task_starts[label + 1]]
        agents = agent_order[agent_starts[label] : agent_starts[label + 1]]
        local_edges = _Edges(task_rank[edges.task[where]], agent_rank[edges.agent[where]], edges.cost[where])
        degree = np.bincount(local_edges.agent, minlength=len(agents))
        component = _Component(
            edges=local_edges,
            n_tasks=len(tasks),
            capacity=np.minimum(capacity[agents], degree),
            slot_cost=slot_cost[agents],
            penalty=penalty[tasks] if penalty is not None else None,
        )
        pieces.append((where, component))
    return pieces


def _group(labels: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items sorted by component label, where each label starts in that order, and each item's rank
    within its component."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(n_labels + 1))
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - starts[labels[order]]
    return order, starts, rank


def _solve_component(component: _Component) -> np.ndarray:
    """Which of the component's edges are chosen."""
    if _small_integers(component):
        return _min_cost_flow(component)
    return _linear_program(component)


def _small_integers(component: _Component) -> bool:
    """Whether every cost is an integer below INTEGER_LIMIT (the network simplex works in integers).
    A slot's cost is at most slot cost × capacity, multiplied in float64 so that it cannot wrap."""
    values = [component.edges.cost, component.slot_cost.astype(np.float64) * component.capacity]
    if component.penalty is not None:
        values.append(component.penalty)
    return all(_small_integer_values(v) for v in values)


def _small_integer_values(values: np.ndarray) -> bool:
    whole = np.all(values == np.round(values))
    return bool(whole and np.all((values > -INTEGER_LIMIT) & (values < INTEGER_LIMIT)))


def _slots(capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every agent's slots, in order: (agent, k) for k = 0 … capacity - 1."""
    agent = np.repeat(np.arange(len(capacity)), capacity)
    return agent, np.arange(len(agent)) - np.repeat(np.cumsum(capacity) - capacity, capacity)


def _min_cost_flow(component: _Component) -> np.ndarray:
    """The component as the min-cost flow of the module's docstring, solved by LEMON's network simplex.
    Nodes: the tasks (a supply of 1 each), the agents, then the sink. Arcs, each of capacity 1: the
    edges first, then a reject arc per task to the sink, then an agent's slots to the sink, its k-th
    costing k × its slot cost.

    The network simplex takes non-negative costs only: every edge and reject arc of the component is
    raised by the lowest of them. Each task sends its one unit over exactly one of those arcs, so every
    flow costs the same amount more and the cheapest stays the cheapest. All in int64, the network
    simplex's type."""
    edges, capacity, penalty, n = component.edges, component.capacity, component.penalty, component.n_tasks
    m = len(capacity)
    sink = n + m
    slot_agent, slot_k = _slots(capacity)
    starts = [edges.task, n + slot_agent]
    ends = [n + edges.agent, np.full(len(slot_agent), sink)]
    costs = [edges.cost, slot_k * component.slot_cost[slot_agent]]
    if penalty is not None:
        starts.insert(1, np.arange(n))
        ends.insert(1, np.full(n, sink))
        costs.insert(1, penalty)
    costs = [np.rint(c).astype(np.int64) for c in costs]
    lowest = min(c.min(initial=0) for c in costs[:-1])
    costs[:-1] = [c - lowest for c in costs[:-1]]
    supply = np.zeros(sink + 1, dtype=np.int64)
    supply[:n], supply[sink] = 1, -n
    flows = pylmcf_cpp.lmcf(
        supply,
        np.concatenate(starts).astype(np.int64),
        np.concatenate(ends).astype(np.int64),
        np.ones(sum(len(s) for s in starts), dtype=np.int64),
        np.concatenate(costs),
    )
    return flows[: len(edges.cost)] > 0


def _linear_program(component: _Component) -> np.ndarray:
    """The min-cost flow as an LP: a variable per edge, per extra slot (k ≥ 1, cost k × slot cost) and per
    reject; per task Σ edges + reject = 1, per agent Σ edges - Σ extra slots ≤ 1, all variables in [0, 1].
    An incidence matrix plus unit columns is totally unimodular, so the optimal vertex is integral.
    Presolve is off: measured twice as fast on these LPs."""
    edges, capacity, penalty, n = component.edges, component.capacity, component.penalty, component.n_tasks
    e, m = len(edges.cost), len(capacity)
    slot_agent, slot_k = _slots(capacity)
    extra = slot_k >= 1
    slot_agent, slot_k = slot_agent[extra], slot_k[extra]
    s = len(slot_agent)
    task_rows = sparse.hstack(
        [sparse.coo_array((np.ones(e), (edges.task, np.arange(e))), shape=(n, e)), sparse.coo_array((n, s))]
    )
    agent_rows = sparse.hstack(
        [
            sparse.coo_array((np.ones(e), (edges.agent, np.arange(e))), shape=(m, e)),
            sparse.coo_array((-np.ones(s), (slot_agent, np.arange(s))), shape=(m, s)),
        ]
    )
    # In float64: slot costs too large for the flow would wrap around in int64.
    objective = np.concatenate([edges.cost, slot_k * component.slot_cost[slot_agent].astype(float)])
    if penalty is not None:
        task_rows = sparse.hstack([task_rows, sparse.eye_array(n)])
        agent_rows = sparse.hstack([agent_rows, sparse.coo_array((m, n))])
        objective = np.concatenate([objective, penalty])
    result = linprog(
        objective,
        A_ub=agent_rows.tocsr(),
        b_ub=np.ones(m),
        A_eq=task_rows.tocsr(),
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs",
        options={"presolve": False},
    )
    if result.status != 0:
        raise RuntimeError(f"the assignment LP failed: {result.message}")
    x = result.x[:e]
    if np.any(np.abs(x - np.round(x)) > INTEGRAL_TOLERANCE):
        raise RuntimeError("the assignment LP returned a fractional vertex")
    return x > 0.5


def _raise_if_infeasible(edges: _Edges, n_tasks: int, n_agents: int, capacity: np.ndarray) -> None:
    """Name the tasks a maximum flow leaves unassigned (none when every task fits)."""
    source, sink = n_tasks + n_agents, n_tasks + n_agents + 1
    rows = np.concatenate([np.full(n_tasks, source), edges.task, n_tasks + np.arange(n_agents)])
    cols = np.concatenate([np.arange(n_tasks), n_tasks + edges.agent, np.full(n_agents, sink)])
    caps = np.concatenate([np.ones(n_tasks), np.ones(len(edges.task)), np.minimum(capacity, n_tasks)]).astype(
        np.int32
    )
    size = n_tasks + n_agents + 2
    graph = sparse.csr_array(sparse.coo_array((caps, (rows, cols)), shape=(size, size)))
    graph.sum_duplicates()
    flow = maximum_flow(graph, source, sink)
    if flow.flow_value == n_tasks:
        return
    out_of_source = flow.flow.tocsr()[[source]].toarray().ravel()[:n_tasks]
    raise Infeasible(np.flatnonzero(out_of_source < 1).tolist())

"""Optimal assignment of tasks to agents with capacities and optional rejection.

The problem is a min-cost flow (source → task → agent → sink, plus a reject arc
per task at its penalty). It is split into connected components of the
candidate graph; each is solved exactly, small ones with the Hungarian method
on a dense matrix (`linear_sum_assignment`), larger ones as a linear program
with HiGHS, whose constraint matrix is totally unimodular, so the optimal
vertex is integral (and checked to be).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog
from scipy.sparse.csgraph import connected_components, maximum_flow

# Components whose dense Hungarian matrix stays below this many cells use it; bigger ones use the LP.
DENSE_CELLS = 40_000
INTEGRAL_TOLERANCE = 1e-6


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
    total_cost: float


@dataclass(frozen=True)
class _Edges:
    task: np.ndarray
    agent: np.ndarray
    cost: np.ndarray


def _edges(costs: np.ndarray | sparse.sparray | sparse.spmatrix) -> tuple[_Edges, int, int]:
    if sparse.issparse(costs):
        coo = sparse.coo_array(costs)  # explicit zeros stay: a stored zero is an allowed, free pair
        n_tasks, n_agents = coo.shape
        task, agent, cost = coo.row, coo.col, coo.data
    else:
        dense = np.asarray(costs)
        if dense.ndim != 2:
            raise ValueError("costs must be a 2-D array (tasks × agents)")
        n_tasks, n_agents = dense.shape
        task, agent = np.nonzero(np.isfinite(dense))
        cost = dense[task, agent]
    if np.any(~np.isfinite(cost)):
        raise ValueError("allowed pairs must have finite costs")
    return _Edges(task.astype(np.int64), agent.astype(np.int64), cost), n_tasks, n_agents


def solve_assignment(
    costs: np.ndarray | sparse.sparray | sparse.spmatrix,
    *,
    capacities: np.ndarray | list[int] | None = None,
    unassigned_penalty: np.ndarray | list[float] | None = None,
) -> Assignment:
    """Assign each task (row) to at most one agent (column), each agent taking at most
    `capacities[j]` tasks (default 1), minimising total cost plus the penalties of the
    tasks left unassigned. Without penalties every task must be assigned."""
    edges, n_tasks, n_agents = _edges(costs)
    capacity = (
        np.ones(n_agents, dtype=np.int64) if capacities is None else np.asarray(capacities, dtype=np.int64)
    )
    if capacity.shape != (n_agents,) or np.any(capacity < 0):
        raise ValueError("capacities must give a non-negative integer per agent")
    penalty = None if unassigned_penalty is None else np.asarray(unassigned_penalty, dtype=float)
    if penalty is not None and (penalty.shape != (n_tasks,) or np.any(~np.isfinite(penalty))):
        raise ValueError("unassigned_penalty must give a finite number per task")
    usable = capacity[edges.agent] > 0
    edges = _Edges(edges.task[usable], edges.agent[usable], edges.cost[usable])

    if penalty is None:
        _raise_if_infeasible(edges, n_tasks, n_agents, capacity)

    labels = _components(edges, n_tasks, n_agents)
    chosen = np.zeros(len(edges.task), dtype=bool)
    order = np.argsort(labels[edges.task], kind="stable")
    bounds = np.searchsorted(labels[edges.task][order], np.arange(labels.max() + 2 if len(labels) else 1))
    for component in range(len(bounds) - 1):
        in_component = order[bounds[component] : bounds[component + 1]]
        if len(in_component):
            chosen[in_component] = _solve_component(edges, in_component, capacity, penalty)

    pairs = sorted(zip(edges.task[chosen].tolist(), edges.agent[chosen].tolist(), strict=True))
    assigned = np.zeros(n_tasks, dtype=bool)
    assigned[edges.task[chosen]] = True
    unassigned = np.flatnonzero(~assigned).tolist()
    total = edges.cost[chosen].sum() + (penalty[~assigned].sum() if penalty is not None else 0)
    return Assignment(
        pairs=pairs, unassigned=unassigned, total_cost=total.item() if hasattr(total, "item") else total
    )


def _components(edges: _Edges, n_tasks: int, n_agents: int) -> np.ndarray:
    """Component label of each task in the bipartite candidate graph."""
    size = n_tasks + n_agents
    graph = sparse.coo_array(
        (np.ones(len(edges.task)), (edges.task, n_tasks + edges.agent)), shape=(size, size)
    ).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels[:n_tasks]


def _solve_component(
    edges: _Edges, index: np.ndarray, capacity: np.ndarray, penalty: np.ndarray | None
) -> np.ndarray:
    """Which of the component's edges (positions in `index`) are chosen."""
    tasks, task_of = np.unique(edges.task[index], return_inverse=True)
    agents, agent_of = np.unique(edges.agent[index], return_inverse=True)
    cap = np.minimum(capacity[agents], len(tasks))
    slots = int(cap.sum())
    if len(tasks) * (slots + (len(tasks) if penalty is not None else 0)) <= DENSE_CELLS:
        return _hungarian(
            edges.cost[index],
            task_of,
            agent_of,
            len(tasks),
            cap,
            penalty[tasks] if penalty is not None else None,
        )
    return _linear_program(
        edges.cost[index], task_of, agent_of, len(tasks), cap, penalty[tasks] if penalty is not None else None
    )


def _hungarian(
    cost: np.ndarray,
    task_of: np.ndarray,
    agent_of: np.ndarray,
    n: int,
    cap: np.ndarray,
    penalty: np.ndarray | None,
) -> np.ndarray:
    """Agents copied once per slot, plus a private reject column per task."""
    first_slot = np.concatenate([[0], np.cumsum(cap)[:-1]])
    slots = int(cap.sum())
    width = slots + (n if penalty is not None else 0)
    big = float(np.abs(cost).sum() + (np.abs(penalty).sum() if penalty is not None else 0) + 1) * 2
    matrix = np.full((n, width), big)
    edge_at = np.full((n, slots), -1, dtype=np.int64)
    for copy in range(int(cap.max())):
        has_copy = cap[agent_of] > copy
        columns = first_slot[agent_of[has_copy]] + copy
        matrix[task_of[has_copy], columns] = cost[has_copy]
        edge_at[task_of[has_copy], columns] = np.flatnonzero(has_copy)
    if penalty is not None:
        matrix[np.arange(n), slots + np.arange(n)] = penalty
    rows, columns = linear_sum_assignment(matrix)
    chosen = np.zeros(len(cost), dtype=bool)
    real = columns < slots
    picked = edge_at[rows[real], columns[real]]
    chosen[picked[picked >= 0]] = True
    return chosen


def _linear_program(
    cost: np.ndarray,
    task_of: np.ndarray,
    agent_of: np.ndarray,
    n: int,
    cap: np.ndarray,
    penalty: np.ndarray | None,
) -> np.ndarray:
    e = len(cost)
    columns = np.arange(e)
    task_rows = sparse.coo_array((np.ones(e), (task_of, columns)), shape=(n, e))
    agent_rows = sparse.coo_array((np.ones(e), (agent_of, columns)), shape=(len(cap), e))
    objective = cost.astype(float)
    if penalty is not None:
        # One reject variable per task closes its row: Σ x + r = 1.
        task_rows = sparse.hstack([task_rows, sparse.eye_array(n)])
        agent_rows = sparse.hstack([agent_rows, sparse.coo_array((len(cap), n))])
        objective = np.concatenate([objective, penalty])
    result = linprog(
        objective,
        A_ub=agent_rows.tocsr(),
        b_ub=cap.astype(float),
        A_eq=task_rows.tocsr(),
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"the assignment LP failed: {result.message}")
    x = result.x[:e]
    if np.any(np.abs(x - np.round(x)) > INTEGRAL_TOLERANCE):
        # A totally unimodular LP has an integral optimum; HiGHS returns a vertex, so this is a safeguard.
        return _hungarian(cost, task_of, agent_of, n, cap, penalty)
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

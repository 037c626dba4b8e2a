"""Allocating quantities of resources to needs: a transportation problem.

Maximise the priority-weighted demand met, then minimise cost, over the allowed
(resource, need) pairs. Both goals go into one linear objective (each unit of
weighted demand is worth more than any possible difference in cost), so the
constraint matrix stays a transportation matrix: totally unimodular, with an
integral optimum for integral supplies and demands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint, linprog, milp

from matching.assignment import INTEGRAL_TOLERANCE, _edges


@dataclass(frozen=True)
class Transport:
    # (resource, need, quantity) for every pair that carries something, sorted.
    flows: list[tuple[int, int, int]]
    # How much of each need is met, and of each resource used.
    met: list[int]
    used: list[int]
    total_cost: float


def solve_transport(
    supply: np.ndarray | list[int],
    demand: np.ndarray | list[int],
    costs: np.ndarray | sparse.sparray | sparse.spmatrix,
    *,
    priority: np.ndarray | list[float] | None = None,
) -> Transport:
    supply_arr = np.asarray(supply, dtype=np.int64)
    demand_arr = np.asarray(demand, dtype=np.int64)
    edges, n_resources, n_needs = _edges(costs)
    if supply_arr.shape != (n_resources,) or demand_arr.shape != (n_needs,):
        raise ValueError("supply has one entry per row of costs, demand one per column")
    if np.any(supply_arr < 0) or np.any(demand_arr < 0):
        raise ValueError("supply and demand must be non-negative")
    weight = np.ones(n_needs) if priority is None else np.asarray(priority, dtype=float)
    if weight.shape != (n_needs,) or np.any(weight <= 0) or np.any(~np.isfinite(weight)):
        raise ValueError("priority must give a positive number per need")
    e = len(edges.task)
    if e == 0:
        return Transport(flows=[], met=[0] * n_needs, used=[0] * n_resources, total_cost=0)
    cost = edges.cost.astype(float)
    # One unit of the least weighted demand outweighs the largest possible total cost.
    moved = float(min(supply_arr.sum(), demand_arr.sum()))
    worth = (np.abs(cost).max() * moved + 1) / weight.min()
    objective = cost - worth * weight[edges.agent]
    columns = np.arange(e)
    rows = sparse.vstack(
        [
            sparse.coo_array((np.ones(e), (edges.task, columns)), shape=(n_resources, e)),
            sparse.coo_array((np.ones(e), (edges.agent, columns)), shape=(n_needs, e)),
        ]
    ).tocsr()
    limits = np.concatenate([supply_arr, demand_arr]).astype(float)
    upper = np.minimum(supply_arr[edges.task], demand_arr[edges.agent]).astype(float)
    result = linprog(
        objective, A_ub=rows, b_ub=limits, bounds=np.column_stack([np.zeros(e), upper]), method="highs"
    )
    if result.status != 0:
        raise RuntimeError(f"the transport LP failed: {result.message}")
    flow = result.x
    if np.any(np.abs(flow - np.round(flow)) > INTEGRAL_TOLERANCE):
        # Safeguard: the same problem with integrality required.
        exact = milp(
            objective,
            constraints=LinearConstraint(rows, -np.inf, limits),
            integrality=np.ones(e),
            bounds=(np.zeros(e), upper),
        )
        flow = exact.x
    quantity = np.round(flow).astype(np.int64)
    carrying = quantity > 0
    flows = sorted(
        zip(
            edges.task[carrying].tolist(),
            edges.agent[carrying].tolist(),
            quantity[carrying].tolist(),
            strict=True,
        )
    )
    met = np.bincount(edges.agent, weights=quantity, minlength=n_needs).astype(np.int64)
    used = np.bincount(edges.task, weights=quantity, minlength=n_resources).astype(np.int64)
    total = (edges.cost[carrying] * quantity[carrying]).sum()
    return Transport(
        flows=flows,
        met=met.tolist(),
        used=used.tolist(),
        total_cost=total.item() if hasattr(total, "item") else total,
    )

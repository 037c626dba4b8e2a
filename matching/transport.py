"""Allocating quantities of resources to needs: a transportation problem.

Maximise the priority-weighted demand met, then minimise cost, over the allowed
(resource, need) pairs. The two goals are solved one after the other rather than
folded into one objective (which needs a weight on demand beyond any cost and
leaves HiGHS a badly scaled problem, several times slower):

* when supply covers demand, meeting all of it is the most any priorities can get:
  one plain LP, the cheapest flow meeting every demand, settles it if it is feasible;
* otherwise, first the most weighted demand met, then the cheapest flow on the first
  LP's optimal face: by complementary slackness with its duals, pairs of positive
  reduced cost carry nothing, pairs of negative reduced cost carry their bound, and
  rows with a non-zero dual stay full.

Every LP keeps a transportation matrix (totally unimodular) with integral bounds, so
its optimal vertex is integral for integral supplies and demands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint, linprog, milp

from matching.assignment import INTEGRAL_TOLERANCE, _edges, _shape

# A reduced cost or dual this small, relative to the largest priority, counts as zero.
DUAL_TOLERANCE = 1e-7
INFEASIBLE = 2


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
    n_resources, n_needs = _shape(costs)
    edges = _edges(costs)
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
    columns = np.arange(e)
    by_resource = sparse.csr_array((np.ones(e), (edges.task, columns)), shape=(n_resources, e))
    by_need = sparse.csr_array((np.ones(e), (edges.agent, columns)), shape=(n_needs, e))
    supply_f, demand_f = supply_arr.astype(float), demand_arr.astype(float)
    upper = np.minimum(supply_arr[edges.task], demand_arr[edges.agent]).astype(float)

    flow = None
    if demand_arr.sum() <= supply_arr.sum():
        flow = _integral_lp(cost, by_resource, supply_f, by_need, demand_f, np.zeros(e), upper)
    if flow is None:
        flow = _most_demand_then_cheapest(
            cost, weight[edges.agent], by_resource, by_need, supply_f, demand_f, upper
        )

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


def _most_demand_then_cheapest(
    cost: np.ndarray,
    worth: np.ndarray,
    by_resource: sparse.csr_array,
    by_need: sparse.csr_array,
    supply: np.ndarray,
    demand: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray:
    rows = sparse.vstack([by_resource, by_need], format="csr")
    limits = np.concatenate([supply, demand])
    first = linprog(
        -worth, A_ub=rows, b_ub=limits, bounds=np.column_stack([np.zeros(len(cost)), upper]), method="highs"
    )
    if first.status != 0:
        raise RuntimeError(f"the transport LP failed: {first.message}")
    tolerance = DUAL_TOLERANCE * worth.max()
    dual = first.ineqlin.marginals
    reduced = -worth - rows.T @ dual
    lower = np.where(reduced < -tolerance, upper, 0.0)
    upper = np.where(reduced > tolerance, 0.0, upper)
    full = np.abs(dual) > tolerance
    flow = _integral_lp(cost, rows[~full], limits[~full], rows[full], limits[full], lower, upper)
    if flow is None or worth @ flow < -first.fun - tolerance * limits.sum():
        raise RuntimeError("the transport LP's optimal face lost demand met")
    return flow


def _integral_lp(
    cost: np.ndarray,
    a_ub: sparse.csr_array,
    b_ub: np.ndarray,
    a_eq: sparse.csr_array,
    b_eq: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> np.ndarray | None:
    """The cheapest integral flow within these rows and bounds, None if there is none."""
    bounds = np.column_stack([lower, upper])
    # linprog takes no constraint block without rows.
    ub = {"A_ub": a_ub, "b_ub": b_ub} if len(b_ub) else {}
    eq = {"A_eq": a_eq, "b_eq": b_eq} if len(b_eq) else {}
    result = linprog(cost, **ub, **eq, bounds=bounds, method="highs")
    if result.status == INFEASIBLE:
        return None
    if result.status != 0:
        raise RuntimeError(f"the transport LP failed: {result.message}")
    if np.all(np.abs(result.x - np.round(result.x)) <= INTEGRAL_TOLERANCE):
        return result.x
    # Safeguard: the same problem with integrality required.
    rows = sparse.vstack([a_ub, a_eq], format="csr")
    exact = milp(
        cost,
        constraints=LinearConstraint(
            rows, np.concatenate([np.full(len(b_ub), -np.inf), b_eq]), np.concatenate([b_ub, b_eq])
        ),
        integrality=np.ones(len(cost)),
        bounds=(lower, upper),
    )
    return exact.x

"""The pure solvers against brute force, the Hungarian method and a plain LP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog

from matching import Infeasible, solve_assignment, solve_transport


def brute_force(cost: np.ndarray, allowed: np.ndarray, capacity: list[int], penalty: list[float] | None):
    """Best total over every way to give each task an agent or nothing (None if impossible)."""
    n, m = cost.shape
    best = None
    for choice in itertools.product(range(-1, m), repeat=n):
        if penalty is None and -1 in choice:
            continue
        if any(j >= 0 and not allowed[i, j] for i, j in enumerate(choice)):
            continue
        if any(choice.count(j) > capacity[j] for j in range(m)):
            continue
        total = sum(cost[i, j] if j >= 0 else penalty[i] for i, j in enumerate(choice))
        best = total if best is None else min(best, total)
    return best


@st.composite
def small_problems(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    cost = np.array(draw(st.lists(st.integers(0, 20), min_size=n * m, max_size=n * m))).reshape(n, m)
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    capacity = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
    penalty = draw(st.none() | st.lists(st.integers(0, 30), min_size=n, max_size=n))
    return cost, allowed, capacity, penalty


@settings(max_examples=150, deadline=None)
@given(small_problems(), st.booleans())
def test_small_instances_match_brute_force(problem, as_sparse) -> None:
    cost, allowed, capacity, penalty = problem
    rows, cols = np.nonzero(allowed)
    matrix = (
        sparse.csr_array((cost[rows, cols], (rows, cols)), shape=cost.shape)
        if as_sparse
        else np.where(allowed, cost.astype(float), np.inf)
    )
    expected = brute_force(cost, allowed, capacity, penalty)
    if expected is None:
        with pytest.raises(Infeasible) as error:
            solve_assignment(matrix, capacities=capacity)
        # The named tasks really cannot all be placed: dropping them leaves a feasible problem.
        keep = [i for i in range(cost.shape[0]) if i not in error.value.tasks]
        assert brute_force(cost[keep], allowed[keep], capacity, None) is not None
        return
    result = solve_assignment(matrix, capacities=capacity, unassigned_penalty=penalty)
    assert result.total_cost == pytest.approx(expected)
    # The pairs are allowed, respect capacities and add up to the total.
    assert all(allowed[i, j] for i, j in result.pairs)
    loads = np.bincount([j for _, j in result.pairs], minlength=len(capacity))
    assert np.all(loads <= capacity)
    assert sorted([i for i, _ in result.pairs] + result.unassigned) == list(range(cost.shape[0]))
    recomputed = (
        sum(cost[i, j] for i, j in result.pairs) + sum(penalty[i] for i in result.unassigned)
        if penalty
        else sum(cost[i, j] for i, j in result.pairs)
    )
    assert result.total_cost == pytest.approx(recomputed)


@pytest.mark.parametrize(("n", "m", "seed"), [(40, 40, 1), (120, 200, 2), (250, 250, 3)])
@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_medium_instances_match_the_hungarian_method(n: int, m: int, seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    cost = (rng.random((n, m)) * 1000).astype(dtype)
    rows, cols = linear_sum_assignment(cost)
    result = solve_assignment(cost)
    assert result.total_cost == pytest.approx(cost[rows, cols].sum())
    assert result.unassigned == []


def test_the_same_input_gives_the_same_output() -> None:
    rng = np.random.default_rng(7)
    cost = sparse.random_array((300, 400), density=0.05, rng=rng, format="csr") * 100
    runs = {
        repr(solve_assignment(cost, capacities=[2] * 400, unassigned_penalty=[80.0] * 300)) for _ in range(3)
    }
    assert len(runs) == 1


@st.composite
def transport_problems(draw):
    n = draw(st.integers(1, 5))
    m = draw(st.integers(1, 5))
    supply = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    demand = draw(st.lists(st.integers(0, 30), min_size=m, max_size=m))
    cost = np.array(draw(st.lists(st.integers(0, 9), min_size=n * m, max_size=n * m))).reshape(n, m)
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    priority = draw(st.lists(st.integers(1, 5), min_size=m, max_size=m))
    return supply, demand, cost, allowed, priority


@settings(max_examples=100, deadline=None)
@given(transport_problems())
def test_transport_matches_a_plain_lp_on_the_full_problem(problem) -> None:
    supply, demand, cost, allowed, priority = problem
    rows, cols = np.nonzero(allowed)
    matrix = sparse.csr_array((cost[rows, cols], (rows, cols)), shape=cost.shape)
    result = solve_transport(supply, demand, matrix, priority=priority)

    # Reference: first the most weighted demand met, then the cheapest way to meet it, on every pair
    # (forbidden pairs bounded to zero).
    n, m = cost.shape
    a_ub = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    bounds = [(0, None if allowed[i, j] else 0) for i in range(n) for j in range(m)]
    weights = np.tile(np.array(priority, dtype=float), n)
    first = linprog(-weights, A_ub=a_ub, b_ub=supply + demand, bounds=bounds, method="highs")
    best_met = -first.fun
    second = linprog(
        cost.ravel().astype(float),
        A_ub=np.vstack([a_ub, -weights]),
        b_ub=[*supply, *demand, -best_met + 1e-9],
        bounds=bounds,
        method="highs",
    )

    weighted_met = sum(priority[j] * q for _, j, q in result.flows)
    assert weighted_met == pytest.approx(best_met)
    assert result.total_cost == pytest.approx(second.fun, abs=1e-4)
    assert all(allowed[i, j] and isinstance(q, int) and q > 0 for i, j, q in result.flows)
    assert all(u <= s for u, s in zip(result.used, supply, strict=True))
    assert all(x <= d for x, d in zip(result.met, demand, strict=True))

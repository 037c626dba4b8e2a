"""The pure solvers against brute force, the Hungarian method and a plain LP."""

from __future__ import annotations

import contextlib
import itertools
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog

from matching import Infeasible, assignment, solve_assignment, solve_transport


@pytest.fixture(autouse=True)
def _empty_database() -> None:
    """These tests are pure: replaces the suite's autouse fixture that empties the database."""


def brute_force(
    cost: np.ndarray,
    allowed: np.ndarray,
    capacity: list[int],
    penalty: list[float] | None,
    slot_cost: list[float] | None = None,
):
    """Best total over every way to give each task an agent or nothing (None if impossible).
    An agent with t tasks pays slot_cost × (0 + 1 + … + t-1) on top."""
    n, m = cost.shape
    best = None
    for choice in itertools.product(range(-1, m), repeat=n):
        if penalty is None and -1 in choice:
            continue
        if any(j >= 0 and not allowed[i, j] for i, j in enumerate(choice)):
            continue
        loads = [choice.count(j) for j in range(m)]
        if any(load > capacity[j] for j, load in enumerate(loads)):
            continue
        total = sum(cost[i, j] if j >= 0 else penalty[i] for i, j in enumerate(choice))
        if slot_cost is not None:
            total += sum(slot_cost[j] * sum(range(load)) for j, load in enumerate(loads))
        best = total if best is None else min(best, total)
    return best


@contextlib.contextmanager
def forced(method: str):
    """Every component solved by one method: 'flow' as integer costs are (the LP must not run), 'lp' as
    fractional ones are (it takes integer costs too)."""

    def no_lp(component):
        raise AssertionError("a component went to the LP")

    patches = {
        "flow": {"_linear_program": no_lp},
        "lp": {"_small_integers": lambda component: False},
    }[method]
    with contextlib.ExitStack() as stack:
        for name, value in patches.items():
            stack.enter_context(mock.patch.object(assignment, name, value))
        yield


def recomputed_total(result, cost, penalty, slot_cost) -> float:
    """The result's pairs, loads and leftovers priced from scratch."""
    loads = np.bincount([j for _, j in result.pairs], minlength=cost.shape[1])
    total = sum(cost[i, j] for i, j in result.pairs)
    if penalty is not None:
        total += sum(penalty[i] for i in result.unassigned)
    if slot_cost is not None:
        total += sum(s * sum(range(t)) for s, t in zip(slot_cost, loads, strict=True))
    return total


@st.composite
def small_problems(draw):
    n = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    cost = np.array(draw(st.lists(st.integers(-10, 20), min_size=n * m, max_size=n * m))).reshape(n, m)
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    capacity = draw(st.lists(st.integers(0, 3), min_size=m, max_size=m))
    penalty = draw(st.none() | st.lists(st.integers(-5, 30), min_size=n, max_size=n))
    slot_cost = draw(st.none() | st.lists(st.integers(0, 10), min_size=m, max_size=m))
    return cost, allowed, capacity, penalty, slot_cost


@settings(max_examples=300, deadline=None)
@given(small_problems(), st.booleans(), st.sampled_from(["flow", "lp"]))
def test_small_instances_match_brute_force(problem, as_sparse, method) -> None:
    cost, allowed, capacity, penalty, slot_cost = problem
    rows, cols = np.nonzero(allowed)
    matrix = (
        sparse.csr_array((cost[rows, cols], (rows, cols)), shape=cost.shape)
        if as_sparse
        else np.where(allowed, cost.astype(float), np.inf)
    )
    expected = brute_force(cost, allowed, capacity, penalty, slot_cost)
    if expected is None:
        with pytest.raises(Infeasible) as error:
            solve_assignment(matrix, capacities=capacity)
        # The named tasks really cannot all be placed: dropping them leaves a feasible problem.
        keep = [i for i in range(cost.shape[0]) if i not in error.value.tasks]
        assert brute_force(cost[keep], allowed[keep], capacity, None) is not None
        return
    with forced(method):
        result = solve_assignment(
            matrix, capacities=capacity, unassigned_penalty=penalty, slot_costs=slot_cost
        )
    assert result.total_cost == pytest.approx(expected)
    # The pairs are allowed, respect capacities and add up to the total.
    assert all(allowed[i, j] for i, j in result.pairs)
    loads = np.bincount([j for _, j in result.pairs], minlength=len(capacity))
    assert np.all(loads <= capacity)
    assert sorted([i for i, _ in result.pairs] + result.unassigned) == list(range(cost.shape[0]))
    assert result.total_cost == pytest.approx(recomputed_total(result, cost, penalty, slot_cost))


@pytest.mark.parametrize(("n", "m", "seed"), [(40, 40, 1), (120, 200, 2), (250, 250, 3)])
@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_medium_instances_match_the_hungarian_method(n: int, m: int, seed: int, dtype: type) -> None:
    rng = np.random.default_rng(seed)
    cost = (rng.random((n, m)) * 1000).astype(dtype)
    rows, cols = linear_sum_assignment(cost)
    result = solve_assignment(cost)
    assert result.total_cost == pytest.approx(cost[rows, cols].sum())
    assert result.unassigned == []


def clustered_problem(seed: int, n: int, penalties: bool, dtype: type):
    """Tasks and agents in clusters (a few candidate pairs between clusters): several components of
    different sizes. Task i may always go to agent i, so every task can be assigned."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 6, n)
    allowed = (cluster[:, None] == cluster[None, :]) & (rng.random((n, n)) < 0.3)
    allowed |= rng.random((n, n)) < 2 / n**2  # about two pairs between clusters: some merge
    np.fill_diagonal(allowed, True)
    cost = (rng.random((n, n)) * 300).astype(dtype)  # float64: fractional costs
    capacity = rng.integers(1, 4, n)
    slot_cost = rng.integers(0, 3, n) * rng.integers(0, 30, n)  # a third of the agents: no slot cost
    penalty = rng.integers(100, 600, n) if penalties else None
    return cost, allowed, capacity, penalty, slot_cost


def dense_reference(cost, allowed, capacity, penalty, slot_cost) -> float:
    """The whole problem as one dense assignment: a column per agent slot (its k-th slot costing
    k × slot cost more), plus a reject column per task."""
    n = cost.shape[0]
    slot_agent = np.repeat(np.arange(len(capacity)), capacity)
    slot_k = np.concatenate([np.arange(c) for c in capacity])
    matrix = np.where(allowed[:, slot_agent], cost[:, slot_agent] + slot_k * slot_cost[slot_agent], np.inf)
    if penalty is not None:
        matrix = np.hstack([matrix, np.where(np.eye(n, dtype=bool), penalty[:, None], np.inf)])
    rows, cols = linear_sum_assignment(matrix)
    return matrix[rows, cols].sum()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([60, 150]),
    st.booleans(),
    st.sampled_from([np.int64, np.float64]),
    st.sampled_from(["flow", "lp"]),
)
def test_medium_instances_with_slot_costs_match_a_dense_assignment(seed, n, penalties, dtype, method) -> None:
    assume(not (method == "flow" and dtype is np.float64))  # fractional costs go to the LP
    cost, allowed, capacity, penalty, slot_cost = clustered_problem(seed, n, penalties, dtype)
    rows, cols = np.nonzero(allowed)
    matrix = sparse.coo_array((cost[rows, cols], (rows, cols)), shape=cost.shape)
    with forced(method):
        result = solve_assignment(
            matrix, capacities=capacity, unassigned_penalty=penalty, slot_costs=slot_cost
        )
    assert result.total_cost == pytest.approx(dense_reference(cost, allowed, capacity, penalty, slot_cost))
    assert result.total_cost == pytest.approx(recomputed_total(result, cost, penalty, slot_cost))
    assert all(allowed[i, j] for i, j in result.pairs)
    assert np.all(np.bincount([j for _, j in result.pairs], minlength=n) <= capacity)


NARROW_COSTS = [
    # Spreads beyond float32's 24-bit mantissa: the shifts and the total must not round.
    (np.float32, [[-(2**25), 2**20, 2**20], [3, 1, 1], [3, 8, 6]], [2, 2, 2], 10**6),
    (np.float32, [[2**24, 2**30], [2**30, 1]], [2, 2], None),
    # Spreads beyond each integer type's range.
    (np.int8, [[-100, 100], [100, -100]], [2, 2], None),
    (np.int16, [[-20_000, 20_000], [20_000, -20_000]], [2, 2], None),
    (np.int32, [[-(2 * 10**9), 2 * 10**9], [2 * 10**9, -(2 * 10**9)]], [2, 2], None),
    (np.bool_, [[True, False, True], [False, True, True]], [2, 2, 2], None),
]


@pytest.mark.parametrize(("dtype", "cost", "capacity", "slot_cost"), NARROW_COSTS)
@pytest.mark.parametrize("plain", [False, True])
def test_costs_of_a_narrow_type_give_the_best_assignment(dtype, cost, capacity, slot_cost, plain) -> None:
    """Costs are shifted and summed in a wider type than theirs: in their own, they would round
    (float32) or wrap around (integers), and the answer or its total would be wrong. `plain`: one task
    per agent, which goes straight to scipy; otherwise the min-cost flow."""
    cost = np.array(cost, dtype=dtype)
    capacity = [1] * cost.shape[1] if plain else capacity
    slots = None if plain or slot_cost is None else [slot_cost] * cost.shape[1]
    allowed = np.ones(cost.shape, dtype=bool)
    expected = brute_force(cost.astype(np.int64), allowed, capacity, None, slots)
    every_pair = sparse.csr_array((cost.ravel(), np.nonzero(allowed)), shape=cost.shape)  # zeros kept
    for matrix in (cost, every_pair):
        result = solve_assignment(matrix, capacities=capacity, slot_costs=slots)
        assert result.total_cost == expected
        assert recomputed_total(result, cost.astype(np.int64), None, slots) == expected


def test_slot_costs_too_large_for_the_flow_do_not_wrap_around() -> None:
    """A slot cost of 2^62 leaves the network simplex for the LP, which prices the slots in float64:
    in int64, the third slot's 2 × 2^62 wrapped around to a bargain."""
    result = solve_assignment(
        np.zeros((3, 1)), capacities=[3], unassigned_penalty=[10, 10, 10], slot_costs=np.array([2**62])
    )
    assert (len(result.pairs), result.total_cost) == (1, 20)


def test_slot_costs_spread_the_work() -> None:
    # One agent is cheapest for both tasks; its second slot costs 10 more, so the other agent takes one.
    cost = np.array([[1.0, 5.0], [1.0, 6.0]])
    assert solve_assignment(cost, capacities=[2, 2]).pairs == [(0, 0), (1, 0)]
    result = solve_assignment(cost, capacities=[2, 2], slot_costs=10)
    assert result.pairs == [(0, 1), (1, 0)]
    assert result.total_cost == 6
    with pytest.raises(ValueError, match="slot_costs"):
        solve_assignment(cost, slot_costs=[1, -1])


def test_duplicate_sparse_entries_are_summed() -> None:
    # As scipy reads a COO array: (0, 0) costs 3 + 4.
    cost = sparse.coo_array(([3, 4, 5], ([0, 0, 0], [0, 0, 1])), shape=(1, 2))
    assert solve_assignment(cost).pairs == [(0, 1)]


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


# --- the direct paths ------------------------------------------------------------------------


def plain_problem(seed: int, n: int, m: int, density: float, as_sparse: bool, integers: bool):
    rng = np.random.default_rng(seed)
    allowed = rng.random((n, m)) < density
    allowed[np.arange(n), rng.permutation(m)[:n]] = True  # a full assignment exists
    cost = rng.integers(0, 100, (n, m)).astype(float) if integers else rng.random((n, m)) * 100
    if as_sparse:
        rows, cols = np.nonzero(allowed)
        return sparse.csr_array((cost[rows, cols], (rows, cols)), shape=(n, m)), allowed, cost
    return np.where(allowed, cost, np.inf), allowed, cost


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("n", "m"), [(30, 30), (25, 40), (120, 120)])
@pytest.mark.parametrize("as_sparse", [False, True])
@pytest.mark.parametrize("integers", [False, True])
def test_a_plain_assignment_goes_to_scipy_with_the_general_path_s_objective(
    seed: int, n: int, m: int, as_sparse: bool, integers: bool
) -> None:
    costs, allowed, cost = plain_problem(seed, n, m, 0.2, as_sparse, integers)
    direct = mock.patch.object(assignment, "_plain_assignment", wraps=assignment._plain_assignment)
    with direct as spy:
        fast = solve_assignment(costs)
    assert spy.called
    with mock.patch.object(assignment, "_plain_assignment", return_value=None):
        general = solve_assignment(costs)
    assert fast.total_cost == pytest.approx(general.total_cost)
    assert fast.unassigned == []
    assert [i for i, _ in fast.pairs] == list(range(n))
    assert len({j for _, j in fast.pairs}) == n
    assert all(allowed[i, j] for i, j in fast.pairs)
    assert fast.total_cost == pytest.approx(sum(cost[i, j] for i, j in fast.pairs))


@pytest.mark.parametrize("as_sparse", [False, True])
def test_an_infeasible_plain_assignment_names_its_tasks(as_sparse: bool) -> None:
    # Tasks 0 and 1 both want agent 0 only.
    dense = np.array([[1.0, np.inf, np.inf], [2.0, np.inf, np.inf], [3.0, 4.0, 5.0]])
    rows, cols = np.nonzero(np.isfinite(dense))
    costs = sparse.csr_array((dense[rows, cols], (rows, cols)), shape=(3, 3)) if as_sparse else dense
    with pytest.raises(Infeasible) as error:
        solve_assignment(costs)
    assert len(error.value.tasks) == 1
    assert error.value.tasks[0] in (0, 1)


def random_transport(seed: int, n: int, m: int, density: float):
    rng = np.random.default_rng(seed)
    allowed = rng.random((n, m)) < density
    allowed[np.arange(n), np.arange(n) % m] = True
    allowed[np.arange(m) % n, np.arange(m)] = True
    rows, cols = np.nonzero(allowed)
    costs = sparse.csr_array((rng.integers(0, 50, len(rows)).astype(float), (rows, cols)), shape=(n, m))
    demand = rng.integers(1, 20, m)
    return rng, costs, demand


@pytest.mark.parametrize("seed", range(5))
def test_a_balanced_transport_costs_what_the_staged_path_finds(seed: int) -> None:
    rng, costs, demand = random_transport(seed, 30, 25, 0.3)
    supply = rng.multinomial(int(demand.sum()), np.ones(30) / 30)
    priority = rng.integers(1, 6, 25)
    balanced = solve_transport(supply, demand, costs, priority=priority)
    assert balanced.met == demand.tolist()
    # One more need that nothing can reach: demand exceeds supply, so the staged path runs, and the
    # unreachable need changes nothing.
    wider = sparse.hstack([costs, sparse.csr_array((30, 1))], format="csr")
    staged = solve_transport(supply, [*demand, 5], wider, priority=[*priority, 1])
    assert staged.met == [*demand.tolist(), 0]
    assert staged.total_cost == pytest.approx(balanced.total_cost)


def single_objective_reference(supply, demand, costs, priority) -> tuple[float, float]:
    """The former formulation: one LP whose weight on demand met outweighs any cost."""
    coo = costs.tocoo()
    e = coo.nnz
    rows = sparse.vstack(
        [
            sparse.csr_array((np.ones(e), (coo.row, np.arange(e))), shape=(costs.shape[0], e)),
            sparse.csr_array((np.ones(e), (coo.col, np.arange(e))), shape=(costs.shape[1], e)),
        ]
    )
    worth = (np.abs(coo.data).max() * min(supply.sum(), demand.sum()) + 1) / priority.min()
    result = linprog(
        coo.data - worth * priority[coo.col],
        A_ub=rows,
        b_ub=np.concatenate([supply, demand]),
        method="highs",
    )
    return float(priority[coo.col] @ result.x), float(coo.data @ result.x)


@pytest.mark.parametrize("seed", range(5))
def test_an_unbalanced_transport_meets_the_most_weighted_demand_as_before(seed: int) -> None:
    rng, costs, demand = random_transport(seed, 40, 30, 0.25)
    supply = rng.multinomial(int(demand.sum()) // 2, np.ones(40) / 40)
    priority = rng.uniform(0.5, 5.0, 30)
    result = solve_transport(supply, demand, costs, priority=priority)
    met, cost = single_objective_reference(supply, demand, costs, priority)
    assert float(priority @ result.met) == pytest.approx(met)
    assert result.total_cost == pytest.approx(cost)
    assert sum(result.used) == supply.sum()

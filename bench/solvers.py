"""The generic solvers against scipy's own: `solve_assignment` and `solve_transport`.

    .venv/bin/python bench/solvers.py [--seed 7] [--repeat 3]

Assignment instances have the shapes of OR-Library's linear assignment set, but are
generated here, seeded (there is no copy of the library's files to read):

* `assignN` (N = 100 … 800): dense N × N, every cost drawn uniformly from 1..100;
* `assignpN` (N = 800, 1500, 3000, 5000): sparse N × N, about 10% of the pairs
  allowed (plus a random permutation, so a full assignment exists), costs 1..100.

Each is solved by `solve_assignment` and by scipy directly (`linear_sum_assignment`
on the dense matrix, `min_weight_full_bipartite_matching` on the sparse one); the
ratio is solve_assignment ÷ scipy, best of `--repeat` runs each, taking turns.
Target: ≤ 2.

Transport instances: balanced (total supply = total demand, every demand can be met)
dense 100 × 80 and 400 × 300, sparse 2000 × 1500 (2% of pairs); and unbalanced ones
(supply short of demand, priorities 1-5). Balanced ones are timed against one plain
HiGHS LP (`linprog(method="highs")`: cheapest flow meeting every demand), target ≤ 2;
unbalanced ones against the plain two-stage LP (most weighted demand, then cheapest
with that demand as a constraint), checking both meet the same weighted demand at
the same cost.

Not part of the test suite (pytest collects only tests/).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from matching import solve_assignment, solve_transport

DENSE = (100, 200, 300, 400, 500, 600, 700, 800)
SPARSE = (800, 1500, 3000, 5000)
SPARSE_DENSITY = 0.10


def best_times(
    reference: Callable[[], object], ours: Callable[[], object], repeat: int
) -> tuple[float, object, float, object]:
    """Best of `repeat` runs each, the two taking turns, so that a busy spell of a shared machine
    falls on both."""
    times, results = [float("inf"), float("inf")], [None, None]
    for _ in range(repeat):
        for k, run in enumerate((reference, ours)):
            started = time.perf_counter()
            results[k] = run()
            times[k] = min(times[k], time.perf_counter() - started)
    return times[0], results[0], times[1], results[1]


# --- assignment ------------------------------------------------------------------------------


def dense_instance(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(1, 101, (n, n)).astype(float)


def sparse_instance(n: int, rng: np.random.Generator) -> sparse.csr_array:
    allowed = rng.random((n, n)) < SPARSE_DENSITY
    allowed[np.arange(n), rng.permutation(n)] = True
    rows, cols = np.nonzero(allowed)
    return sparse.csr_array((rng.integers(1, 101, len(rows)).astype(float), (rows, cols)), shape=(n, n))


def scipy_assignment(costs: np.ndarray | sparse.csr_array) -> float:
    if sparse.issparse(costs):
        rows, cols = min_weight_full_bipartite_matching(costs)
        return float(costs[rows, cols].sum())
    rows, cols = linear_sum_assignment(costs)
    return float(costs[rows, cols].sum())


def bench_assignment(rng: np.random.Generator, repeat: int) -> None:
    print(f"{'instance':>12} {'scipy s':>9} {'ours s':>9} {'ratio':>6}  objective")
    instances = [(f"assign{n}", dense_instance(n, rng)) for n in DENSE]
    instances += [(f"assignp{n}", sparse_instance(n, rng)) for n in SPARSE]
    for name, costs in instances:
        reference_s, reference, ours_s, ours = best_times(
            partial(scipy_assignment, costs), partial(solve_assignment, costs), repeat
        )
        same = "same" if ours.total_cost == reference else f"DIFFERENT ({ours.total_cost} vs {reference})"
        print(f"{name:>12} {reference_s:9.4f} {ours_s:9.4f} {ours_s / reference_s:6.2f}  {same}")


# --- transport -------------------------------------------------------------------------------


def transport_instance(
    n: int, m: int, density: float, balanced: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, sparse.csr_array, np.ndarray]:
    allowed = rng.random((n, m)) < density
    if balanced:
        # A spanning set of pairs, so every demand can be met.
        allowed[np.arange(n), np.arange(n) % m] = True
        allowed[np.arange(m) % n, np.arange(m)] = True
    rows, cols = np.nonzero(allowed)
    costs = sparse.csr_array((rng.integers(1, 101, len(rows)).astype(float), (rows, cols)), shape=(n, m))
    demand = rng.integers(1, 50, m)
    supply = rng.multinomial(
        int(demand.sum()) * (1 if balanced else 2) // (1 if balanced else 3), np.ones(n) / n
    )
    return supply, demand, costs, rng.integers(1, 6, m).astype(float)


def _incidence(costs: sparse.csr_array) -> tuple[sparse.csr_array, sparse.csr_array, np.ndarray, np.ndarray]:
    coo = costs.tocoo()
    e = coo.nnz
    by_row = sparse.csr_array((np.ones(e), (coo.row, np.arange(e))), shape=(costs.shape[0], e))
    by_col = sparse.csr_array((np.ones(e), (coo.col, np.arange(e))), shape=(costs.shape[1], e))
    return by_row, by_col, coo.data, coo.col


def plain_lp(supply: np.ndarray, demand: np.ndarray, costs: sparse.csr_array) -> float:
    by_row, by_col, cost, _ = _incidence(costs)
    result = linprog(cost, A_ub=by_row, b_ub=supply, A_eq=by_col, b_eq=demand, method="highs")
    return result.fun


def two_stage_lp(
    supply: np.ndarray, demand: np.ndarray, costs: sparse.csr_array, priority: np.ndarray
) -> tuple[float, float]:
    by_row, by_col, cost, col = _incidence(costs)
    rows = sparse.vstack([by_row, by_col], format="csr")
    limits = np.concatenate([supply, demand])
    first = linprog(-priority[col], A_ub=rows, b_ub=limits, method="highs")
    second = linprog(
        cost,
        A_ub=sparse.vstack([rows, sparse.csr_array(-priority[col][None, :])], format="csr"),
        b_ub=np.concatenate([limits, [first.fun + 1e-6]]),
        method="highs",
    )
    return -first.fun, second.fun


def bench_transport(rng: np.random.Generator, repeat: int) -> None:
    print(f"\n{'transport':>22} {'HiGHS s':>9} {'ours s':>9} {'ratio':>6}  outcome")
    shapes = [(100, 80, 1.0), (400, 300, 1.0), (2000, 1500, 0.02)]
    for balanced in (True, False):
        for n, m, density in shapes:
            supply, demand, costs, priority = transport_instance(n, m, density, balanced, rng)
            name = f"{'balanced' if balanced else 'short'} {n}x{m}"
            ours = partial(solve_transport, supply, demand, costs, priority=priority)
            if balanced:
                reference_s, cost, ours_s, result = best_times(
                    partial(plain_lp, supply, demand, costs), ours, repeat
                )
                outcome = (
                    "same cost"
                    if abs(result.total_cost - cost) < 1e-6
                    else f"DIFFERENT ({result.total_cost} vs {cost})"
                )
            else:
                reference_s, (met, cost), ours_s, result = best_times(
                    partial(two_stage_lp, supply, demand, costs, priority), ours, repeat
                )
                ours_met = float(np.dot(priority, result.met))
                same = abs(ours_met - met) < 1e-6 and abs(result.total_cost - cost) < 1e-6 * max(1, cost)
                outcome = (
                    "same demand met and cost"
                    if same
                    else f"DIFFERENT (met {ours_met} vs {met}, cost {result.total_cost} vs {cost})"
                )
            print(f"{name:>22} {reference_s:9.4f} {ours_s:9.4f} {ours_s / reference_s:6.2f}  {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["assignment", "transport"])
    args = parser.parse_args()
    if args.only != "transport":
        bench_assignment(np.random.default_rng(args.seed), args.repeat)
    if args.only != "assignment":
        bench_transport(np.random.default_rng(args.seed), args.repeat)


if __name__ == "__main__":
    main()

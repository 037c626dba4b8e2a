"""The dispatch plan (`matching.dispatch.plan_dispatch`), pure: why orders are left over, which
serving areas match, distances, cost breakdowns, optimality and candidate truncation against brute
force, and the free stage against the service's own availability rule."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from market.volunteers.availability import is_free
from matching import dispatch
from matching.dispatch import (
    DISTANCES,
    ENOUGH_MINUTES,
    MINUTES_PER_WEEK,
    REASONS,
    DispatchPlan,
    OrderSpec,
    VolunteerSpec,
    Weights,
    plan_dispatch,
)


@pytest.fixture(autouse=True)
def _empty_database() -> None:
    """These tests are pure: replaces the suite's autouse fixture that empties the database."""


TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2024, 1, 1, tzinfo=TZ)  # a Monday, local midnight

# A hand-built city: 9-digit streets, 3 more digits per level (community, grid, compound, building).
STREET = "110105001"
OTHER_STREET = "110105002"
COMMUNITY = STREET + "001"
GRID = COMMUNITY + "001"
COMPOUND = GRID + "001"
BUILDING = COMPOUND + "001"
NEIGHBOUR_COMMUNITY = STREET + "002"

ALWAYS = tuple((day, 0, 1440) for day in range(7))
MONDAY_9 = 9 * 60
STAGES = ("serving", "eligible", "free", "with_capacity")
# Every order unassigned (penalty 0 < any pair cost of a `farther` volunteer), so each shows its stage counts.
PROBE = Weights(unassigned=0, urgent=0, waiting_per_hour=0)


def order(
    id: int = 1,
    area: str = BUILDING,
    skill: str = "errand",
    start: int = MONDAY_9,
    length: int = 60,
    urgent: bool = False,
    waited: int = 0,
    requester: int = 1000,
    declined: tuple[int, ...] = (),
) -> OrderSpec:
    return OrderSpec(id, area, skill, start, start + length, urgent, waited, requester, frozenset(declined))


def volunteer(
    id: int = 1,
    home: str | None = BUILDING,
    serves: tuple[str, ...] = (STREET,),
    skills: dict[str, int] | None = None,
    windows: tuple[tuple[int, int, int], ...] = ALWAYS,
    capacity: int = 3,
    load: int = 0,
    rating: float | None = 5.0,
) -> VolunteerSpec:
    return VolunteerSpec(
        id, home, serves, {"errand": 3} if skills is None else skills, windows, capacity, load, rating
    )


def counts(*values: int) -> dict[str, int]:
    return dict(zip(STAGES, values, strict=True))


def only_unassigned(plan: DispatchPlan):
    assert plan.proposals == []
    assert len(plan.unassigned) == 1
    return plan.unassigned[0]


# --- 1. why an order is left unassigned ----------------------------------------------------------


@pytest.mark.parametrize(
    ("orders", "volunteers", "expected"),
    [
        pytest.param([order()], [], counts(0, 0, 0, 0), id="no volunteers at all"),
        pytest.param(
            [order()],
            [volunteer(serves=(NEIGHBOUR_COMMUNITY,)), volunteer(id=2, serves=(OTHER_STREET,))],
            counts(0, 0, 0, 0),
            id="serving elsewhere",
        ),
        pytest.param(
            [order(area=COMMUNITY)],
            [volunteer(serves=(NEIGHBOUR_COMMUNITY + "001001001",))],
            counts(0, 0, 0, 0),
            id="a building in the neighbour community",
        ),
    ],
)
def test_no_one_serves_area(orders, volunteers, expected) -> None:
    left = only_unassigned(plan_dispatch(orders, volunteers))
    assert (left.reason, left.candidates) == ("no_one_serves_area", expected)


def test_no_one_with_skill() -> None:
    plan = plan_dispatch(
        [order(skill="errand")],
        [
            volunteer(skills={"repair": 3}),
            volunteer(id=2, skills={}),
            volunteer(id=3, serves=(OTHER_STREET,)),
        ],
    )
    left = only_unassigned(plan)
    assert (left.reason, left.candidates) == ("no_one_with_skill", counts(0, 0, 0, 0))


def test_no_one_eligible_the_requester_is_the_only_one() -> None:
    left = only_unassigned(plan_dispatch([order(requester=7)], [volunteer(id=7)]))
    assert (left.reason, left.candidates) == ("no_one_eligible", counts(1, 0, 0, 0))


def test_no_one_eligible_the_others_declined() -> None:
    plan = plan_dispatch(
        [order(requester=7, declined=(3, 4))], [volunteer(id=7), volunteer(id=3), volunteer(id=4)]
    )
    left = only_unassigned(plan)
    assert (left.reason, left.candidates) == ("no_one_eligible", counts(3, 0, 0, 0))
    # Declining one order says nothing about the next.
    plan = plan_dispatch([order(id=1, declined=(3,)), order(id=2)], [volunteer(id=3)])
    assert [(p.order_id, p.volunteer_id) for p in plan.proposals] == [(2, 3)]
    assert plan.unassigned[0].order_id == 1 and plan.unassigned[0].reason == "no_one_eligible"


@pytest.mark.parametrize(
    ("windows", "start", "length"),
    [
        pytest.param(((0, 480, 540),), MONDAY_9, 120, id="window ends as the order starts"),
        pytest.param(((1, 540, 660),), MONDAY_9, 120, id="same hours, another day"),
        pytest.param(((0, 540, 599),), MONDAY_9, 180, id="59 of the 60 minutes needed"),
        pytest.param(((0, 540, 570), (0, 600, 629)), MONDAY_9, 180, id="59 minutes in two windows"),
        pytest.param(((0, 540, 569),), MONDAY_9, 30, id="29 minutes of a 30-minute order"),
        pytest.param(((6, 1380, 1440),), 6 * 1440 + 1410, 120, id="30 minutes before Sunday midnight"),
        pytest.param((), MONDAY_9, 60, id="no windows"),
    ],
)
def test_no_one_free(windows, start, length) -> None:
    left = only_unassigned(plan_dispatch([order(start=start, length=length)], [volunteer(windows=windows)]))
    assert (left.reason, left.candidates) == ("no_one_free", counts(1, 1, 0, 0))


@pytest.mark.parametrize(
    ("windows", "start", "length"),
    [
        pytest.param(((0, 540, 600),), MONDAY_9, 180, id="exactly the 60 minutes needed"),
        pytest.param(((0, 540, 570), (0, 600, 630)), MONDAY_9, 180, id="60 minutes in two windows"),
        pytest.param(((0, 540, 570),), MONDAY_9, 30, id="all of a 30-minute order"),
        pytest.param(((0, 0, 1),), 0, 1, id="a one-minute order"),
        pytest.param(((6, 1380, 1440), (0, 0, 60)), 6 * 1440 + 1410, 120, id="across Sunday midnight"),
        pytest.param(((0, 0, 60),), 6 * 1440 + 1410, 120, id="only the Monday after"),
        pytest.param(((0, 540, 600),), MONDAY_9 + 3 * MINUTES_PER_WEEK, 60, id="three weeks later"),
    ],
)
def test_free_when_windows_give_enough(windows, start, length) -> None:
    plan = plan_dispatch([order(start=start, length=length)], [volunteer(windows=windows)])
    assert [(p.order_id, p.volunteer_id) for p in plan.proposals] == [(1, 1)]


@pytest.mark.parametrize(("capacity", "load"), [(2, 2), (2, 5), (0, 0)])
def test_everyone_at_capacity(capacity: int, load: int) -> None:
    left = only_unassigned(plan_dispatch([order()], [volunteer(capacity=capacity, load=load)]))
    assert (left.reason, left.candidates) == ("everyone_at_capacity", counts(1, 1, 1, 0))


def test_outbid_the_urgent_order_wins() -> None:
    plan = plan_dispatch([order(id=1), order(id=2, urgent=True)], [volunteer(capacity=1)])
    assert [(p.order_id, p.volunteer_id) for p in plan.proposals] == [(2, 1)]
    [left] = plan.unassigned
    assert (left.order_id, left.reason, left.penalty, left.candidates) == (
        1,
        "outbid",
        500,
        counts(1, 1, 1, 1),
    )


def test_outbid_by_the_order_that_waited_longer() -> None:
    plan = plan_dispatch([order(id=1, waited=59), order(id=2, waited=60)], [volunteer(capacity=1)])
    assert [p.order_id for p in plan.proposals] == [2]
    assert [(u.order_id, u.reason, u.penalty) for u in plan.unassigned] == [(1, "outbid", 500)]


def test_penalty_below_cost() -> None:
    w = Weights(unassigned=1, urgent=0, waiting_per_hour=0, same_street=1000, farther=1000)
    plan = plan_dispatch(
        [order(), order(id=2, urgent=True, waited=600)],
        [volunteer(home=None), volunteer(id=2, home=OTHER_STREET), volunteer(id=3, home=STREET)],
        w,
    )
    assert plan.proposals == []
    assert [(u.order_id, u.reason, u.penalty, u.candidates) for u in plan.unassigned] == [
        (1, "penalty_below_cost", 1, counts(3, 3, 3, 3)),
        (2, "penalty_below_cost", 1, counts(3, 3, 3, 3)),
    ]


def test_the_first_empty_stage_names_the_reason() -> None:
    """Stages filter in turn: the order a volunteer posted is `no_one_eligible` although that volunteer
    is also busy at the time and full, and each count stops at its order's first empty stage."""
    orders = [
        order(id=1, requester=1),
        order(id=2, start=MONDAY_9 + 1440),
        order(id=3, area=COMMUNITY, skill="repair"),
        order(id=4),
    ]
    volunteers = [
        volunteer(id=1, windows=((1, 0, 60),), capacity=1, load=1),
        volunteer(id=2, windows=((0, 540, 600),), skills={"repair": 2}),
    ]
    plan = plan_dispatch(orders, volunteers)
    assert [(u.order_id, u.reason, u.candidates) for u in plan.unassigned] == [
        (1, "no_one_eligible", counts(1, 0, 0, 0)),
        (2, "no_one_free", counts(1, 1, 0, 0)),
        (4, "no_one_free", counts(1, 1, 0, 0)),
    ]
    assert [(p.order_id, p.volunteer_id, p.breakdown["skill"]) for p in plan.proposals] == [(3, 2, 10)]
    plan = plan_dispatch([order(id=4)], [volunteer(id=1, windows=((0, 540, 600),), capacity=1, load=1)])
    assert only_unassigned(plan).candidates == counts(1, 1, 1, 0)


@pytest.mark.parametrize(
    ("urgent", "waited", "expected"),
    [
        (False, 0, 500),
        (False, 59, 500),
        (False, -30, 500),
        (True, 150, 500 + 500 + 10 * 2),
        (False, 72 * 60, 500 + 720),
        (True, 100 * 60, 500 + 500 + 720),
    ],
)
def test_unassigned_penalty(urgent: bool, waited: int, expected: int) -> None:
    left = only_unassigned(plan_dispatch([order(urgent=urgent, waited=waited)], []))
    assert left.penalty == expected


def test_every_reason_has_a_message() -> None:
    assert set(REASONS) == {
        "no_one_serves_area",
        "no_one_with_skill",
        "no_one_eligible",
        "no_one_free",
        "everyone_at_capacity",
        "outbid",
        "penalty_below_cost",
    }


def test_no_orders() -> None:
    plan = plan_dispatch([], [volunteer()])
    assert (plan.proposals, plan.unassigned) == ([], [])
    assert (plan.summary.orders, plan.summary.assigned, plan.summary.coverage) == (0, 0, 1.0)
    assert (plan.summary.total_cost, plan.summary.max_load, plan.summary.load_spread) == (0, 0, 0.0)


# --- 2. serving areas match both ways -----------------------------------------------------------


@pytest.mark.parametrize(
    ("serves", "area", "matches"),
    [
        pytest.param((STREET,), BUILDING, True, id="street serves a building in it"),
        pytest.param((COMMUNITY,), GRID, True, id="community serves a grid in it"),
        pytest.param((BUILDING,), BUILDING, True, id="the same building"),
        pytest.param((BUILDING,), COMMUNITY, True, id="a building serves its community's order"),
        pytest.param((COMPOUND,), STREET, True, id="a compound serves its street's order"),
        pytest.param((NEIGHBOUR_COMMUNITY,), COMMUNITY, False, id="another community"),
        pytest.param((NEIGHBOUR_COMMUNITY,), BUILDING, False, id="another community, building order"),
        pytest.param((COMPOUND + "002",), BUILDING, False, id="a sibling building"),
        pytest.param((COMPOUND + "002",), COMPOUND, True, id="a building serves its compound's order"),
        pytest.param((OTHER_STREET,), STREET, False, id="another street"),
        pytest.param((OTHER_STREET + "001",), STREET, False, id="a community of another street"),
        pytest.param((NEIGHBOUR_COMMUNITY, BUILDING), COMMUNITY, True, id="any of several areas"),
    ],
)
def test_serving_areas_match_both_ways(serves: tuple[str, ...], area: str, matches: bool) -> None:
    plan = plan_dispatch([order(area=area)], [volunteer(serves=serves)])
    if matches:
        assert [(p.order_id, p.volunteer_id) for p in plan.proposals] == [(1, 1)]
    else:
        assert only_unassigned(plan).reason == "no_one_serves_area"


def test_a_volunteer_serving_nested_areas_counts_once() -> None:
    plan = plan_dispatch(
        [order(area=BUILDING, requester=1)], [volunteer(id=1, serves=(STREET, COMMUNITY, GRID, BUILDING))]
    )
    assert only_unassigned(plan).candidates == counts(1, 0, 0, 0)
    plan = plan_dispatch([order(area=BUILDING)], [volunteer(serves=(STREET, COMMUNITY, GRID, BUILDING))])
    assert len(plan.proposals) == 1


def test_each_order_uses_its_own_skill_level() -> None:
    """Skills are per volunteer, not per area: any served area with any of the volunteer's skills."""
    plan = plan_dispatch(
        [order(id=1, skill="repair"), order(id=2, area=OTHER_STREET + "001", skill="errand")],
        [volunteer(serves=(COMMUNITY, OTHER_STREET), skills={"errand": 2, "repair": 1})],
    )
    assert [(p.order_id, p.breakdown["skill"]) for p in plan.proposals] == [(1, 20), (2, 10)]


# --- 3. distance from the volunteer's home -------------------------------------------------------

DISTANCE_WEIGHTS = Weights(
    same_building=1, same_compound=2, same_grid=3, same_community=5, same_street=7, farther=11, load=0
)


@pytest.mark.parametrize(
    ("home", "area", "expected"),
    [
        (BUILDING, BUILDING, "same_building"),
        (COMPOUND + "002", BUILDING, "same_compound"),
        (COMPOUND, BUILDING, "same_compound"),
        (GRID + "002001", BUILDING, "same_grid"),
        (GRID + "002", BUILDING, "same_grid"),
        (COMMUNITY + "002001001", BUILDING, "same_community"),
        (STREET + "002001001001", BUILDING, "same_street"),
        (STREET, BUILDING, "same_street"),
        (OTHER_STREET + "001001001001", BUILDING, "farther"),
        (OTHER_STREET, BUILDING, "farther"),
        (None, BUILDING, "farther"),
        ("", BUILDING, "farther"),
        (BUILDING, COMMUNITY, "same_community"),
        (BUILDING, GRID, "same_grid"),
        (BUILDING, STREET, "same_street"),
        (NEIGHBOUR_COMMUNITY + "001001001", COMMUNITY, "same_street"),
        (None, STREET, "farther"),
    ],
)
def test_distance_from_home(home: str | None, area: str, expected: str) -> None:
    plan = plan_dispatch([order(area=area)], [volunteer(home=home)], DISTANCE_WEIGHTS)
    [proposal] = plan.proposals
    assert proposal.distance == expected
    assert proposal.breakdown["distance"] == getattr(DISTANCE_WEIGHTS, expected)
    assert plan.summary.distances == {name: int(name == expected) for name in DISTANCES}
    assert plan.summary.mean_distance_cost == getattr(DISTANCE_WEIGHTS, expected)


def test_the_nearest_volunteer_is_proposed() -> None:
    homes = [None, OTHER_STREET, STREET, COMMUNITY, GRID, COMPOUND, BUILDING]
    volunteers = [volunteer(id=10 + k, home=home, capacity=1) for k, home in enumerate(homes)]
    plan = plan_dispatch([order(id=k, area=BUILDING) for k in range(1, 8)], volunteers)
    assert sorted(p.distance for p in plan.proposals) == sorted(
        ["same_building", "same_compound", "same_grid", "same_community", "same_street", "farther", "farther"]
    )
    plan = plan_dispatch([order(area=BUILDING)], volunteers)
    assert [(p.volunteer_id, p.distance) for p in plan.proposals] == [(16, "same_building")]


# --- 4. cost breakdowns and the summary ---------------------------------------------------------


def test_the_load_term_rises_per_order_in_the_plan_by_order_id() -> None:
    near = volunteer(id=1, capacity=6, load=2)
    far = volunteer(id=2, home=None, skills={"errand": 1}, rating=None)
    plan = plan_dispatch([order(id=7), order(id=3), order(id=5)], [near, far])
    assert [(p.order_id, p.volunteer_id, p.cost, p.breakdown) for p in plan.proposals] == [
        (3, 1, 30, {"distance": 0, "load": 30, "rating": 0, "skill": 0}),
        (5, 1, 45, {"distance": 0, "load": 45, "rating": 0, "skill": 0}),
        (7, 1, 60, {"distance": 0, "load": 60, "rating": 0, "skill": 0}),
    ]
    assert plan.summary.total_cost == 135
    # Loads after the plan over the candidates: 2 + 3 and 0.
    assert (plan.summary.max_load, plan.summary.load_spread) == (5, 2.5)


def test_extra_orders_spread_over_volunteers() -> None:
    """Two orders, two equal volunteers: the second order on the same volunteer would cost `load` more."""
    plan = plan_dispatch([order(id=1), order(id=2)], [volunteer(id=1), volunteer(id=2)])
    assert sorted(p.volunteer_id for p in plan.proposals) == [1, 2]
    assert all(p.breakdown["load"] == 0 for p in plan.proposals)
    assert (plan.summary.max_load, plan.summary.load_spread) == (1, 0.0)


@pytest.mark.parametrize(
    ("rating", "unrated_stars", "expected"),
    [(5.0, 4.0, 0), (4.5, 4.0, 5), (1.0, 4.0, 40), (None, 4.0, 10), (None, 3.0, 20), (None, 5.0, 0)],
)
def test_rating_term(rating: float | None, unrated_stars: float, expected: int) -> None:
    plan = plan_dispatch([order()], [volunteer(rating=rating)], Weights(unrated_stars=unrated_stars))
    assert plan.proposals[0].breakdown["rating"] == expected


@pytest.mark.parametrize(("level", "expected"), [(3, 0), (2, 10), (1, 20)])
def test_skill_term(level: int, expected: int) -> None:
    plan = plan_dispatch([order()], [volunteer(skills={"errand": level})])
    assert plan.proposals[0].breakdown["skill"] == expected


def test_a_full_breakdown() -> None:
    far = volunteer(home=None, skills={"errand": 1}, rating=None, load=1)
    [proposal] = plan_dispatch([order()], [far]).proposals
    assert proposal.breakdown == {"distance": 120, "load": 15, "rating": 10, "skill": 20}
    assert proposal.cost == 165 and proposal.distance == "farther"


# --- an independent model of the rules, for the random tests -----------------------------------


def overlapping(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def distance_of(area: str, home: str | None) -> str:
    for name, n in zip(DISTANCES, (21, 18, 15, 12, 9), strict=False):
        if home and len(area) >= n and len(home) >= n and area[:n] == home[:n]:
            return name
    return "farther"


@functools.cache
def week_minutes(windows: tuple[tuple[int, int, int], ...]) -> frozenset[int]:
    return frozenset(m for day, lo, hi in windows for m in range(day * 1440 + lo, day * 1440 + hi))


def window_minutes(windows, start: int, length: int) -> int:
    """Minutes of the order inside the weekly windows, minute by minute."""
    week = week_minutes(windows)
    return sum((start + i) % MINUTES_PER_WEEK in week for i in range(length))


def pair_terms(o: OrderSpec, v: VolunteerSpec, w: Weights) -> dict[str, int]:
    stars = w.unrated_stars if v.rating is None else v.rating
    return {
        "distance": getattr(w, distance_of(o.area_code, v.home_code)),
        "load": w.load * v.load,
        "rating": round(w.rating * (5 - stars)),
        "skill": w.skill * (3 - v.skills[o.skill]),
    }


def penalty_of(o: OrderSpec, w: Weights) -> int:
    hours = min(max(o.waited_minutes, 0) // 60, w.waiting_cap_hours)
    return w.unassigned + w.urgent * o.urgent + w.waiting_per_hour * hours


class Model:
    """Stage counts, candidates (the cheapest `candidates_per_order`, ties by volunteer id) and the
    brute-force optimum, computed the slow way."""

    def __init__(self, orders: list[OrderSpec], volunteers: list[VolunteerSpec], w: Weights) -> None:
        self.orders, self.volunteers, self.w = orders, volunteers, w
        self.serves_area, self.counts, self.candidates, self.base = [], [], [], {}
        for o in orders:
            self.serves_area.append(any(overlapping(o.area_code, a) for v in volunteers for a in v.serves))
            passing = [
                v
                for v in volunteers
                if o.skill in v.skills and any(overlapping(o.area_code, a) for a in v.serves)
            ]
            stage = [len(passing)]
            passing = [v for v in passing if v.id != o.requester_id and v.id not in o.declined_by]
            stage.append(len(passing))
            length = o.end - o.start
            passing = [
                v
                for v in passing
                if window_minutes(v.windows, o.start, length) >= max(min(ENOUGH_MINUTES, length), 1)
            ]
            stage.append(len(passing))
            passing = [v for v in passing if v.capacity > v.load]
            stage.append(len(passing))
            self.counts.append(counts(*stage))
            costs = {v.id: sum(pair_terms(o, v, w).values()) for v in passing}
            self.base.update({(o.id, vid): c for vid, c in costs.items()})
            ranked = sorted(costs, key=lambda vid: (costs[vid], vid))
            self.candidates.append(ranked[: w.candidates_per_order])
        self.room = {v.id: max(v.capacity - v.load, 0) for v in volunteers}

    def optimum(self) -> int:
        """The least cost plus penalties over every assignment of orders to their candidates within the
        volunteers' room, the k-th extra order of a volunteer costing `load * k` more (exhaustive
        search, memoised on how many orders each volunteer has taken so far)."""
        w, ids = self.w, sorted(self.room)
        column = {vid: j for j, vid in enumerate(ids)}

        @functools.cache
        def best(i: int, taken: tuple[int, ...]) -> int:
            if i == len(self.orders):
                return 0
            o = self.orders[i]
            result = penalty_of(o, w) + best(i + 1, taken)
            for vid in self.candidates[i]:
                j = column[vid]
                if taken[j] < self.room[vid]:
                    more = (*taken[:j], taken[j] + 1, *taken[j + 1 :])
                    result = min(result, self.base[(o.id, vid)] + w.load * taken[j] + best(i + 1, more))
            return result

        return best(0, (0,) * len(ids))

    def check(self, plan: DispatchPlan) -> None:
        """Everything about the plan that does not depend on which optimum the solver picked."""
        w, by_id = self.w, {v.id: v for v in self.volunteers}
        assigned = {p.order_id: p for p in plan.proposals}
        left = {u.order_id: u for u in plan.unassigned}
        assert [p.order_id for p in plan.proposals] == sorted(assigned)
        assert [u.order_id for u in plan.unassigned] == sorted(left)
        assert sorted([*assigned, *left]) == sorted(o.id for o in self.orders)

        planned = Counter(p.volunteer_id for p in plan.proposals)
        assert all(n <= self.room[vid] for vid, n in planned.items())
        for o, candidates in zip(self.orders, self.candidates, strict=True):
            if o.id not in assigned:
                continue
            p = assigned[o.id]
            assert p.volunteer_id in candidates
            v = by_id[p.volunteer_id]
            k = sum(q.volunteer_id == v.id and q.order_id < o.id for q in plan.proposals)
            terms = pair_terms(o, v, w)
            assert p.breakdown == {**terms, "load": w.load * (v.load + k)}
            assert sum(p.breakdown.values()) == p.cost
            assert p.distance == distance_of(o.area_code, v.home_code)

        for o, stage, serves, candidates in zip(
            self.orders, self.counts, self.serves_area, self.candidates, strict=True
        ):
            if o.id not in left:
                continue
            u = left[o.id]
            assert u.candidates == stage
            assert u.penalty == penalty_of(o, w)
            if not serves:
                expected = "no_one_serves_area"
            elif 0 in stage.values():
                expected = ("no_one_with_skill", "no_one_eligible", "no_one_free", "everyone_at_capacity")[
                    list(stage.values()).index(0)
                ]
            elif any(self.room[vid] > planned[vid] for vid in candidates):
                expected = "penalty_below_cost"
            else:
                expected = "outbid"
            assert u.reason == expected, (o, u)

        s = plan.summary
        assert (s.orders, s.assigned) == (len(self.orders), len(plan.proposals))
        assert s.coverage == (round(len(assigned) / len(self.orders), 4) if self.orders else 1.0)
        assert s.total_cost == sum(p.cost for p in plan.proposals)
        assert s.distances == {name: sum(p.distance == name for p in plan.proposals) for name in DISTANCES}
        assert sum(s.distances.values()) == s.assigned
        distance_costs = [p.breakdown["distance"] for p in plan.proposals]
        assert s.mean_distance_cost == pytest.approx(
            np.mean(distance_costs) if distance_costs else 0.0, abs=0.01
        )
        final = [
            by_id[vid].load + planned[vid] for vid in sorted({vid for c in self.candidates for vid in c})
        ]
        assert s.max_load == max(final, default=0)
        assert s.load_spread == pytest.approx(np.std(final) if final else 0.0, abs=1e-3)


# --- random small cities ------------------------------------------------------------------------

MINUTE = st.one_of(st.integers(0, 96).map(lambda q: q * 15), st.integers(0, 1440))


@st.composite
def area_codes(draw) -> str:
    """Mostly shallow codes in one street, so that many volunteers serve many orders."""
    street = draw(st.sampled_from((STREET, STREET, STREET, OTHER_STREET)))
    levels = draw(st.sampled_from((0, 0, 1, 1, 2, 3, 4)))
    return street + "".join(draw(st.sampled_from(("001", "002"))) for _ in range(levels))


@st.composite
def any_windows(draw, max_size: int = 5) -> tuple[tuple[int, int, int], ...]:
    """Weekly windows, possibly overlapping one another."""
    windows = []
    for _ in range(draw(st.integers(0, max_size))):
        day, a, b = draw(st.integers(0, 6)), draw(MINUTE), draw(MINUTE)
        if a != b:
            windows.append((day, min(a, b), max(a, b)))
    return tuple(windows)


@st.composite
def disjoint_windows(draw) -> tuple[tuple[int, int, int], ...]:
    """Weekly windows that do not overlap (they may touch), in any order."""
    windows = []
    for day in sorted(draw(st.sets(st.integers(0, 6), max_size=4))):
        cuts = sorted(draw(st.lists(MINUTE, min_size=2, max_size=6)))
        windows += [(day, lo, hi) for lo, hi in zip(cuts[::2], cuts[1::2], strict=False) if lo < hi]
    return tuple(draw(st.permutations(windows)))


@st.composite
def weights(draw, candidates_per_order=st.just(50)) -> Weights:
    small = st.integers(0, 40)
    return Weights(
        same_building=draw(small),
        same_compound=draw(small),
        same_grid=draw(small),
        same_community=draw(small),
        same_street=draw(small),
        farther=draw(st.integers(0, 120)),
        load=draw(st.integers(0, 20)),
        rating=draw(st.integers(0, 10)),
        unrated_stars=draw(st.sampled_from((3.0, 4.0, 4.5))),
        skill=draw(st.integers(0, 10)),
        unassigned=draw(st.integers(0, 400)),
        urgent=draw(st.integers(0, 200)),
        waiting_per_hour=draw(st.integers(0, 5)),
        waiting_cap_hours=draw(st.integers(0, 10)),
        candidates_per_order=draw(candidates_per_order),
    )


@st.composite
def cities(draw, max_orders: int = 5, max_volunteers: int = 4):
    """Orders and volunteers with distinct ids in scrambled order. Half the cities are crowded (everyone
    serves the whole street, any time, with room), so volunteers compete and take several orders each."""
    crowded = draw(st.booleans())
    n_volunteers = draw(st.integers(1, max_volunteers))
    volunteer_ids = draw(st.permutations(range(1, n_volunteers + 1)))
    skills = st.dictionaries(st.sampled_from(("errand", "repair")), st.integers(1, 3), min_size=1, max_size=2)
    volunteers = [
        VolunteerSpec(
            id=vid,
            home_code=draw(st.none() | area_codes()),
            serves=(STREET,) if crowded else tuple(draw(st.lists(area_codes(), min_size=1, max_size=2))),
            skills=draw(st.fixed_dictionaries({"errand": st.integers(1, 3), "repair": st.integers(1, 3)}))
            if crowded
            else draw(skills),
            windows=ALWAYS if crowded else draw(st.just(ALWAYS) | any_windows(max_size=3)),
            capacity=draw(st.integers(1, 3) if crowded else st.integers(0, 3)),
            load=draw(st.sampled_from((0, 0, 0, 1, 2))),
            rating=draw(st.sampled_from((None, 1.0, 3.0, 3.5, 4.0, 4.5, 5.0))),
        )
        for vid in volunteer_ids
    ]
    n_orders = draw(st.integers(1, max_orders))
    orders = []
    for oid in draw(st.permutations(range(10, 10 + n_orders))):
        start = draw(st.integers(0, MINUTES_PER_WEEK - 1))
        area = draw(area_codes())
        orders.append(
            OrderSpec(
                id=oid,
                area_code=STREET + area[9:] if crowded else area,
                skill=draw(st.sampled_from(("errand", "repair"))),
                start=start,
                end=start + draw(st.integers(1, 240)),
                urgent=draw(st.booleans()),
                waited_minutes=draw(st.integers(0, 900)),
                requester_id=999 if crowded else draw(st.sampled_from([999, *volunteer_ids])),
                declined_by=frozenset()
                if crowded
                else frozenset(draw(st.sets(st.sampled_from(volunteer_ids), max_size=2))),
            )
        )
    return orders, volunteers


def objective(plan: DispatchPlan) -> int:
    return sum(p.cost for p in plan.proposals) + sum(u.penalty for u in plan.unassigned)


# --- 5. optimal on small instances --------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(cities(), weights())
def test_small_cities_match_brute_force(city, w: Weights) -> None:
    orders, volunteers = city
    model = Model(orders, volunteers, w)
    plan = plan_dispatch(orders, volunteers, w)
    model.check(plan)
    assert objective(plan) == model.optimum()
    assert plan.weights == w


# --- 6. candidate truncation --------------------------------------------------------------------


def test_only_the_cheapest_candidates_are_proposed() -> None:
    """Both orders' cheapest volunteer is the same one: with one candidate per order the other
    volunteer is never considered, so one order is left over (outbid) instead of going farther."""
    orders = [order(id=1, urgent=True), order(id=2)]
    volunteers = [volunteer(id=1, home=OTHER_STREET, capacity=1), volunteer(id=2, capacity=1)]
    plan = plan_dispatch(orders, volunteers)
    assert sorted((p.order_id, p.volunteer_id) for p in plan.proposals) in (
        [(1, 2), (2, 1)],
        [(1, 1), (2, 2)],
    )
    plan = plan_dispatch(orders, volunteers, Weights(candidates_per_order=1))
    assert [(p.order_id, p.volunteer_id) for p in plan.proposals] == [(1, 2)]
    # The stage counts are from before the cut.
    assert [(u.order_id, u.reason, u.candidates) for u in plan.unassigned] == [
        (2, "outbid", counts(2, 2, 2, 2))
    ]


def test_truncation_ties_go_to_the_lower_volunteer_id() -> None:
    plan = plan_dispatch(
        [order()], [volunteer(id=5), volunteer(id=2), volunteer(id=9)], Weights(candidates_per_order=1)
    )
    assert [p.volunteer_id for p in plan.proposals] == [2]


def test_truncation_ranks_costs_too_wide_for_one_sort_key() -> None:
    """Orders × costs × volunteers beyond int64: the pairs are ranked by lexsort instead (a wrapped
    key would rank the dear neighbour first, and the order would be left out)."""
    plan = plan_dispatch(
        [order()],
        [volunteer(id=5), volunteer(id=2, home=STREET)],
        Weights(candidates_per_order=1, same_street=2**62),
    )
    assert [p.volunteer_id for p in plan.proposals] == [5]


@pytest.mark.parametrize("seed", range(40))
def test_candidates_are_ranked_as_lexsort_ranks_them(seed: int) -> None:
    """By order, cost and volunteer id, the same permutation whichever sort makes it: integer costs of
    any width, fractional ones, repeated volunteer ids (pairs in no particular order)."""
    rng = np.random.default_rng(seed)
    n_orders, n_volunteers = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    pairs = n_orders * n_volunteers
    keys = rng.choice(pairs, size=int(rng.integers(0, pairs)), replace=False)
    o, v = keys // n_volunteers, keys % n_volunteers
    width = 2 ** int(rng.choice([3, 20, 61]))
    cost = rng.integers(-width, width, len(o))
    if seed % 4 == 1:
        cost = cost / 8  # fractional
    volunteer_id = rng.permutation(1000)[:n_volunteers]
    if seed % 4 == 2:
        volunteer_id = rng.integers(0, 3, n_volunteers)  # repeated ids
    expected = np.lexsort((volunteer_id[v], cost, o))
    assert np.array_equal(dispatch._cheapest_first(o, cost, volunteer_id, v), expected)


def test_truncation_ranks_by_the_whole_cost() -> None:
    """A busy neighbour (load 6: 90) costs more than an idle volunteer a street away (same_street: 80),
    so the one candidate kept is the one a street away, not the nearest."""
    plan = plan_dispatch(
        [order()],
        [volunteer(id=1, home=STREET, capacity=9), volunteer(id=2, capacity=9, load=6)],
        Weights(candidates_per_order=1),
    )
    assert [(p.volunteer_id, p.cost, p.distance) for p in plan.proposals] == [(1, 80, "same_street")]


@settings(max_examples=120, deadline=None)
@given(cities(), weights(candidates_per_order=st.integers(1, 3)))
def test_truncated_small_cities_match_brute_force_over_the_kept_candidates(city, w: Weights) -> None:
    orders, volunteers = city
    model = Model(orders, volunteers, w)
    plan = plan_dispatch(orders, volunteers, w)
    model.check(plan)  # every proposal is among its order's k cheapest
    assert objective(plan) == model.optimum()


# --- 7. the free stage against the service's availability rule ---------------------------------

ORDER_LENGTH = st.one_of(
    st.integers(1, 180), st.integers(1, 3 * 1440), st.sampled_from((1, 29, 30, 59, 60, 61, 1440, 3 * 1440))
)


@st.composite
def order_windows(draw) -> tuple[int, int]:
    """(local minutes since Monday 00:00, length in minutes)."""
    day = draw(st.integers(0, 6))
    minute = draw(st.one_of(MINUTE.filter(lambda m: m < 1440), st.integers(1320, 1439)))
    return day * 1440 + minute, draw(ORDER_LENGTH)


def free_stage(windows, order_windows: list[tuple[int, int]]) -> list[bool]:
    """Whether each order window keeps the one volunteer at the free stage."""
    orders = [order(id=k, start=start, length=length) for k, (start, length) in enumerate(order_windows)]
    plan = plan_dispatch(orders, [volunteer(home=None, windows=windows)], PROBE)
    assert plan.proposals == []
    return [u.candidates["free"] == 1 for u in plan.unassigned]


def service_says(windows, start: int, length: int) -> bool:
    begin = MONDAY + timedelta(minutes=start)
    local = begin.astimezone(TZ)
    assert local.weekday() * 1440 + local.hour * 60 + local.minute == start
    return is_free(windows, begin, begin + timedelta(minutes=length), TZ)


@settings(max_examples=150, deadline=None)
@given(disjoint_windows(), st.lists(order_windows(), min_size=1, max_size=4))
@example(((6, 1380, 1440), (0, 0, 30)), [(6 * 1440 + 1410, 120), (6 * 1440 + 1420, 30)])
@example(((0, 540, 570), (0, 570, 600)), [(MONDAY_9, 180), (MONDAY_9 + 1, 180)])
def test_free_stage_matches_the_service_for_disjoint_windows(windows, windows_of_orders) -> None:
    expected = [service_says(windows, start, length) for start, length in windows_of_orders]
    assert free_stage(windows, windows_of_orders) == expected


@settings(max_examples=150, deadline=None)
@given(any_windows(), st.lists(order_windows(), min_size=1, max_size=4))
@example(((0, 540, 580), (0, 550, 590)), [(MONDAY_9, 120), (MONDAY_9 + 20, 30)])
@example(((0, 540, 600), (0, 540, 600), (0, 560, 570)), [(MONDAY_9, 120), (MONDAY_9 - 1, 60)])
@example(((6, 1380, 1440), (6, 1400, 1430), (0, 0, 20)), [(6 * 1440 + 1390, 90)])
def test_free_stage_matches_the_service_for_overlapping_windows(windows, windows_of_orders) -> None:
    """Overlapping windows count once, on both sides: (540, 580) + (550, 590) is 50 minutes, not 80."""
    expected = [service_says(windows, start, length) for start, length in windows_of_orders]
    assert free_stage(windows, windows_of_orders) == expected


# --- 8. determinism -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(cities(max_orders=8, max_volunteers=6), weights(candidates_per_order=st.integers(1, 4)))
def test_the_same_input_gives_the_same_plan(city, w: Weights) -> None:
    orders, volunteers = city
    assert plan_dispatch(orders, volunteers, w) == plan_dispatch(list(orders), list(volunteers), w)


def test_ties_are_broken_the_same_way_every_time() -> None:
    orders = [order(id=k) for k in range(1, 7)]
    volunteers = [volunteer(id=k, capacity=2) for k in range(1, 5)]
    plans = [plan_dispatch(orders, volunteers) for _ in range(3)]
    assert plans[0] == plans[1] == plans[2]
    assert plans[0].summary.assigned == 6


# --- 9. weights -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "same_building",
        "same_compound",
        "same_grid",
        "same_community",
        "same_street",
        "farther",
        "load",
        "rating",
        "unrated_stars",
        "skill",
        "unassigned",
        "urgent",
        "waiting_per_hour",
        "waiting_cap_hours",
        "candidates_per_order",
    ],
)
def test_negative_weights_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Weights(**{name: -1})


def test_candidates_per_order_must_be_positive() -> None:
    with pytest.raises(ValueError, match="candidates_per_order"):
        Weights(candidates_per_order=0)
    assert Weights(candidates_per_order=1).candidates_per_order == 1
    assert Weights(unassigned=0, urgent=0, load=0).load == 0

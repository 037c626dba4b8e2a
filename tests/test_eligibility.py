"""The eligibility rule, once as a table, and the solver's candidate graph against it pair by pair."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.dispatch.eligibility import (
    OrderFacts,
    Reason,
    VolunteerFacts,
    order_reasons,
    reasons,
    solver_inputs,
)
from market.orders.models import OrderStatus
from matching.dispatch import Weights, candidate_graph


@pytest.fixture(autouse=True)
def _empty_database() -> None:
    """These tests are pure: replaces the suite's autouse fixture that empties the database."""


TZ = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2024, 1, 1, tzinfo=TZ)  # a Monday, local midnight
STREET = "110105001"
COMMUNITY = STREET + "001"
BUILDING = COMMUNITY + "001001001"
OTHER_COMMUNITY = STREET + "002"
ALWAYS = tuple((day, 0, 1440) for day in range(7))

ORDER = OrderFacts(
    id=1,
    area_code=BUILDING,
    category="repair",
    window_start=MONDAY + timedelta(hours=9),
    window_end=MONDAY + timedelta(hours=11),
    requester_id=100,
)
VOLUNTEER = VolunteerFacts(
    id=7, is_volunteer=True, serves=(COMMUNITY,), skills={"repair": 2}, windows=ALWAYS, capacity=1, load=0
)
R = Reason

TABLE = [
    ("eligible", {}, {}, ()),
    ("serves a building inside a wider order area", {"area_code": COMMUNITY}, {"serves": (BUILDING,)}, ()),
    ("serves the street above", {}, {"serves": (STREET,)}, ()),
    ("not a volunteer (nothing else asked)", {}, {"is_volunteer": False, "serves": ()}, (R.not_volunteer,)),
    ("the resident who posted it", {"requester_id": 7}, {}, (R.is_requester,)),
    ("serves another community", {}, {"serves": (OTHER_COMMUNITY,)}, (R.does_not_serve_area,)),
    ("lacks the skill", {}, {"skills": {"escort": 3}}, (R.lacks_skill,)),
    ("declined or let it lapse", {"passed": frozenset({7})}, {}, (R.declined_before,)),
    ("paused", {}, {"paused": True}, (R.paused,)),
    ("no window that day", {}, {"windows": ((1, 0, 1440),)}, (R.not_free,)),
    ("59 minutes of a two-hour order", {}, {"windows": ((0, 9 * 60, 9 * 60 + 59),)}, (R.not_free,)),
    ("60 minutes of a two-hour order", {}, {"windows": ((0, 10 * 60, 11 * 60),)}, ()),
    ("all of a 30-minute order", {"window_end": MONDAY + timedelta(hours=9, minutes=30)},
     {"windows": ((0, 9 * 60, 9 * 60 + 30),)}, ()),
    ("holds as many orders as their capacity", {}, {"load": 1}, (R.at_capacity,)),
    ("capacity zero", {}, {"capacity": 0}, (R.at_capacity,)),
    ("several at once, in a fixed order", {"requester_id": 7, "passed": frozenset({7})},
     {"skills": {}, "paused": True, "load": 3},
     (R.is_requester, R.lacks_skill, R.declined_before, R.paused, R.at_capacity)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("order", "volunteer", "expected"), [row[1:] for row in TABLE], ids=[r[0] for r in TABLE]
)
def test_the_rule(order: dict, volunteer: dict, expected: tuple[Reason, ...]) -> None:
    assert reasons(replace(ORDER, **order), replace(VOLUNTEER, **volunteer), TZ) == expected


@pytest.mark.parametrize(
    ("status", "end", "expected"),
    [
        (OrderStatus.submitted, MONDAY + timedelta(hours=1), ()),
        (OrderStatus.submitted, MONDAY, (R.window_passed,)),
        (OrderStatus.dispatched, MONDAY + timedelta(hours=1), (R.not_waiting,)),
        (OrderStatus.cancelled, MONDAY, (R.not_waiting,)),
    ],
)
def test_an_order_that_cannot_be_offered_to_anyone(status, end, expected) -> None:
    assert order_reasons(status, end, MONDAY) == expected


# ---------------------------------------------------------------- the solver's graph, pair by pair


def codes() -> st.SearchStrategy[str]:
    """Codes of a small street: a street, its communities, grids, compounds and buildings."""
    return st.integers(0, 4).flatmap(
        lambda levels: st.lists(st.sampled_from(("001", "002")), min_size=levels, max_size=levels).map(
            lambda parts: STREET + "".join(parts)
        )
    )


MINUTE = st.one_of(st.integers(0, 96).map(lambda q: q * 15), st.integers(0, 1440))


@st.composite
def windows(draw) -> tuple[tuple[int, int, int], ...]:
    found = []
    for _ in range(draw(st.integers(0, 3))):
        day, a, b = draw(st.integers(0, 6)), draw(MINUTE), draw(MINUTE)
        if a != b:
            found.append((day, min(a, b), max(a, b)))
    return draw(st.just(ALWAYS) | st.just(tuple(found)))


def mostly(good, other: st.SearchStrategy) -> st.SearchStrategy:
    """The value that keeps a pair eligible four times in five, so that many pairs are eligible and
    most of the others fail one test only."""
    return st.one_of(*[st.just(good)] * 4, other)


@st.composite
def streets(draw) -> tuple[list[OrderFacts], list[VolunteerFacts]]:
    volunteer_ids = list(range(1, draw(st.integers(1, 5)) + 1))
    skills = st.dictionaries(st.sampled_from(("errand", "repair")), st.integers(1, 3), max_size=2)
    volunteers = []
    for vid in volunteer_ids:
        volunteers.append(
            VolunteerFacts(
                id=vid,
                is_volunteer=draw(mostly(True, st.booleans())),
                home_code=draw(st.none() | codes()),
                serves=draw(mostly((STREET,), st.lists(codes(), max_size=2).map(tuple))),
                skills=draw(mostly({"errand": 1, "repair": 3}, skills)),
                windows=draw(mostly(ALWAYS, windows())),
                capacity=draw(mostly(2, st.integers(0, 2))),
                load=draw(mostly(0, st.integers(0, 2))),
                paused=draw(mostly(False, st.booleans())),
            )
        )
    orders = []
    for oid in range(10, 10 + draw(st.integers(1, 5))):
        start = MONDAY + timedelta(minutes=draw(st.integers(0, 7 * 1440 - 1)))
        # Mostly hours, sometimes days: past a week the weekly windows only repeat.
        length = draw(st.integers(1, 300) | st.integers(1, 10 * 1440))
        orders.append(
            OrderFacts(
                id=oid,
                area_code=draw(codes()),
                category=draw(st.sampled_from(("errand", "repair", "escort"))),
                window_start=start,
                window_end=start + timedelta(minutes=length),
                requester_id=draw(mostly(999, st.sampled_from(volunteer_ids))),
                passed=draw(
                    mostly(frozenset(), st.sets(st.sampled_from(volunteer_ids), max_size=2).map(frozenset))
                ),
            )
        )
    return orders, volunteers


@settings(max_examples=80, deadline=None)
@given(streets())
def test_the_solvers_candidates_are_the_rule_applied_pair_by_pair(street) -> None:
    orders, volunteers = street
    order_specs, volunteer_specs = solver_inputs(orders, volunteers, MONDAY, TZ)
    graph = candidate_graph(order_specs, volunteer_specs, Weights(candidates_per_order=100))
    in_graph = {
        (order_specs[o].id, volunteer_specs[v].id)
        for o, v in zip(graph.order.tolist(), graph.volunteer.tolist(), strict=True)
    }
    by_rule = {(o.id, v.id) for o in orders for v in volunteers if not reasons(o, v, TZ)}
    assert in_graph == by_rule

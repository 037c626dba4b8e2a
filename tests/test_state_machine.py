"""The state machines of orders, offers, wishes and projects, each read as a table: every state ×
every action gives the declared next state, stays, or is refused with the one 409 code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import market
from market.errors import Conflict
from market.orders.models import (
    OFFER_MACHINE,
    ORDER_MACHINE,
    OfferAction,
    OfferStatus,
    OrderAction,
    OrderStatus,
)
from market.projects.models import PROJECT_MACHINE, ProjectAction, ProjectStatus
from market.state_machine import Machine
from market.wishes.models import WISH_MACHINE, WishAction, WishStatus

# One row per action, one column per state it may start from. A cell is the state the action leads
# to, "=" when the action keeps the state, "a|b" when the service chooses among them, "-" when it is
# refused.
# Actions only recorded in the history (post, create, escalate, hurry, …) have no row: always refused.
ORDERS = """
           submitted   dispatched  accepted    in_service  completed  confirmed  rejected  cancelled  expired
dispatch   dispatched  -           -           -           -          -          -         -          -
accept     -           accepted    -           -           -          -          -         -          -
claim      accepted    -           -           -           -          -          -         -          -
requeue    -           submitted   -           -           -          -          -         -          -
check_in   -           -           in_service  -           -          -          -         -          -
check_out  -           -           -           =           -          -          -         -          -
complete   -           -           -           completed   -          -          -         -          -
confirm    -           -           -           -           confirmed  -          -         -          -
reject     rejected    rejected    -           -           -          -          -         -          -
cancel     cancelled   cancelled   cancelled   -           -          -          -         -          -
expire     expired     expired     -           -           -          -          -         -          -
reopen     -           -           -           -           -          submitted  -         -          -
"""

OFFERS = """
          pending    accepted  declined  expired  withdrawn
accept    accepted   -         -         -        -
decline   declined   -         -         -        -
expire    expired    -         -         -        -
withdraw  withdrawn  -         -         -        -
"""

WISHES = """
          open       claimed    fulfilled  confirmed  withdrawn  expired
claim     claimed    -          -          -          -          -
release   -          open       -          -          -          -
fulfil    -          fulfilled  -          -          -          -
confirm   -          -          confirmed  -          -          -
withdraw  withdrawn  withdrawn  -          -          -          -
expire    expired    -          -          -          -          -
"""

PROJECTS = """
                     draft      active             completed  overdue  cancelled
activate             active     -                  -          -        -
confirm_commitment   =          -                  -          -        -
deliver              -          =                  -          -        -
add_participant      =          =                  -          -        -
record_hours         -          =                  -          -        -
add_responsibility   =          =                  -          -        -
reassign_responsibility =       =                  -          -        -
responsibility_done  =          =                  -          -        -
escalate_responsibility =       =                  -          -        -
cancel               cancelled  cancelled          -          -        -
close                -          completed|overdue  -          -        -
"""

MACHINES = [
    pytest.param(ORDER_MACHINE, OrderStatus, OrderAction, ORDERS, id="order"),
    pytest.param(OFFER_MACHINE, OfferStatus, OfferAction, OFFERS, id="offer"),
    pytest.param(WISH_MACHINE, WishStatus, WishAction, WISHES, id="wish"),
    pytest.param(PROJECT_MACHINE, ProjectStatus, ProjectAction, PROJECTS, id="project"),
]


def _cells(table: str) -> dict[tuple[str, str], str]:
    """(state, action) -> cell."""
    states, *rows = [line.split() for line in table.strip().splitlines()]
    cells = {}
    for action, *row in rows:
        assert len(row) == len(states), action
        cells |= {(state, action): cell for state, cell in zip(states, row, strict=True)}
    return cells


@pytest.mark.parametrize(("machine", "states", "actions", "table"), MACHINES)
def test_every_state_and_action_gives_the_declared_result(
    machine: Machine, states: type, actions: type, table: str
) -> None:
    cells = _cells(table)
    assert {s for s, _ in cells} == {str(s) for s in states}, "a row for every state"
    for state in states:
        for action in actions:
            cell = cells.get((state, action), "-")
            if cell == "-":
                assert not machine.allows(state, action)
                with pytest.raises(Conflict) as refused:
                    machine.next(state, action)
                problem = refused.value.extra
                assert refused.value.status_code == 409
                assert problem["code"] == "illegal_transition"
                assert (problem["action"], problem[f"{machine.noun}_status"]) == (action, state)
            elif cell == "=":
                assert machine.next(state, action) == state
            else:
                outcomes = cell.split("|")
                assert machine.allows(state, action)
                for outcome in outcomes:
                    assert (
                        machine.next(state, action, states(outcome) if len(outcomes) > 1 else None) == outcome
                    )


@pytest.mark.parametrize(("machine", "states", "actions", "table"), MACHINES)
def test_the_buttons_a_state_offers_are_its_row(
    machine: Machine, states: type, actions: type, table: str
) -> None:
    cells = _cells(table)
    for state in states:
        assert machine.actions_from(state) == [a for a in actions if cells.get((state, a), "-") != "-"]


def test_a_choice_among_several_outcomes_must_be_one_of_them() -> None:
    with pytest.raises(ValueError):
        PROJECT_MACHINE.next(ProjectStatus.active, ProjectAction.close, ProjectStatus.cancelled)


SOURCE = Path(market.__file__).parent
# `status == "…"`, `x.status != '…'`, `status in ("…", …)`: a state spelled as a string.
STATUS_AS_TEXT = re.compile(r"""\bstatus\b\s*(?:==|!=|(?:not\s+)?in)\s*[(\[{]?\s*["']""")
# In the pages: the state of an order, offer, wish or project compared with a word.
MACHINE_STATUS_AS_TEXT = re.compile(
    r"""\b(?:order|offer|wish|project|o|w|p)\.status\s*(?:==|!=|(?:not\s+)?in)\s*[(\[]?\s*["']"""
)


def test_no_service_compares_a_status_with_a_string() -> None:
    found = [
        f"{path.relative_to(SOURCE)}:{n}: {line.strip()}"
        for path in sorted(SOURCE.rglob("*.py"))
        if "web" not in path.relative_to(SOURCE).parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if STATUS_AS_TEXT.search(line)
    ]
    assert not found, "compare with the enums, or ask the machine:\n" + "\n".join(found)


def test_no_page_decides_its_buttons_from_a_spelled_out_state() -> None:
    found = [
        f"{path.relative_to(SOURCE)}:{n}: {line.strip()}"
        for path in sorted((SOURCE / "web" / "templates").rglob("*.html"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if MACHINE_STATUS_AS_TEXT.search(line)
    ]
    assert not found, "ask machines.<name>.actions_from(state):\n" + "\n".join(found)

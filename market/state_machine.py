"""One style for the product's state machines (orders, offers, wishes, projects).

Each domain declares a table next to its model: for every action, the states it may start from
and the state it leads to. The service asks the table for the next state (which refuses a move the
table does not allow with the same 409 everywhere); the pages ask it which actions a state offers,
to decide which buttons to show.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

from market.errors import Conflict

State = TypeVar("State", bound=enum.StrEnum)
Action = TypeVar("Action", bound=enum.StrEnum)

# The table's target for an action that leaves the state as it is (it is still refused elsewhere).
STAYS = None


class Machine(Generic[State, Action]):
    """A table of action -> (states it may start from, the state it leads to).

    The state it leads to is one state, `STAYS` (the action keeps the state), or a set of states
    when the service chooses among them (a project closes completed or overdue).
    """

    def __init__(
        self,
        noun: str,
        moves: Mapping[Action, tuple[Iterable[State], State | frozenset[State] | None]],
    ) -> None:
        self.noun = noun
        self.moves = {action: (frozenset(sources), target) for action, (sources, target) in moves.items()}

    def allows(self, state: State, action: Action) -> bool:
        """Whether `action` may start from `state` (an action only recorded in the history, such as
        the creation, is in no table and never allowed)."""
        return action in self.moves and state in self.moves[action][0]

    def sources(self, action: Action) -> frozenset[State]:
        """The states `action` may start from (for queries: which rows a job may move)."""
        return self.moves[action][0]

    def actions_from(self, state: State) -> list[Action]:
        """The actions a thing in `state` allows, in the table's order: the pages' buttons."""
        return [action for action, (sources, _target) in self.moves.items() if state in sources]

    def check(self, state: State, action: Action) -> None:
        """Refuse a move the table does not allow: a 409 `illegal_transition` naming the action and
        the current state (`order_status`, `wish_status`, … after the machine's noun)."""
        if not self.allows(state, action):
            raise Conflict(
                f"The {self.noun} is {state}: it cannot {action.replace('_', ' ')} now.",
                code="illegal_transition",
                action=str(action),
                **{f"{self.noun}_status": str(state)},
            )

    def next(self, state: State, action: Action, outcome: State | None = None) -> State:
        """The state `action` leads to from `state`, refused as `check` does; `outcome` chooses
        among several targets."""
        self.check(state, action)
        target = self.moves[action][1]
        if target is STAYS:
            return state
        if isinstance(target, frozenset):
            if outcome not in target:
                raise ValueError(f"{action} leads to one of {sorted(target)}, not {outcome}")
            return outcome
        return target

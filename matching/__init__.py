"""Pure optimisation core: numpy and scipy in, plain results out. No database, no web."""

from matching.assignment import Assignment, Infeasible, solve_assignment
from matching.transport import Transport, solve_transport

__all__ = ["Assignment", "Infeasible", "Transport", "solve_assignment", "solve_transport"]

"""What the code under test sends to the database, watched from outside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run meanwhile, by any engine."""
    run: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        run.append(statement)

    with _before_each_statement(record):
        yield run


@contextmanager
def rendered_again() -> Iterator[list[str]]:
    """The SQL statements run meanwhile, by any engine, whose SQL SQLAlchemy rendered again at
    execution: those binding an expanding parameter (`in_` of a list) or a literal one."""
    run: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, *_args: Any) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is not None and (compiled.post_compile_params or compiled.literal_execute_params):
            run.append(statement)

    with _before_each_statement(record):
        yield run


@contextmanager
def _before_each_statement(record: Callable[..., None]) -> Iterator[None]:
    """`record` called before each statement any engine runs meanwhile."""
    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@contextmanager
def checkouts() -> Iterator[list[object]]:
    """The connections every pool hands out meanwhile."""
    handed_out: list[object] = []

    def checkout(dbapi_connection: object, _record: object, _proxy: object) -> None:
        handed_out.append(dbapi_connection)

    event.listen(Pool, "checkout", checkout)
    try:
        yield handed_out
    finally:
        event.remove(Pool, "checkout", checkout)

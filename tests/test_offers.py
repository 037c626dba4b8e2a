"""Offers live in `dispatch`: the order lifecycle in `orders` builds on nothing of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import market

ORDERS = Path(market.__file__).parent / "orders"


@pytest.fixture(autouse=True)
def _empty_database() -> None:
    """These tests read source only: replaces the suite's autouse fixture that empties the database."""


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_in_orders_imports_dispatch() -> None:
    found = {
        (path.name, name)
        for path in sorted(ORDERS.glob("*.py"))
        for name in _imports(path)
        if name == "market.dispatch" or name.startswith("market.dispatch.")
    }
    assert found == set()

"""Pages: desk_ledger."""

from __future__ import annotations

from litestar import Controller

CONTROLLERS: list[type[Controller]] = []

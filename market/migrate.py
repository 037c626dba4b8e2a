"""Run Alembic from code: `market db upgrade`, the test suite and `make run` all come here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from market.db import UTCDateTime

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def render_item(kind: str, item: Any, _autogen_context: Any) -> str | bool:
    """How a new migration names a column's type (`migrations/env.py`): the product's timestamps by
    the type they are in the database, advanced_alchemy's `DateTimeUTC`, which the template imports
    (`UTCDateTime` only reads them faster); anything else as Alembic would."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)"
    return False


def upgrade(database_url: str, revision: str = "heads") -> None:
    if database_url.startswith("sqlite"):
        # The embedded database lives in a file under ./var/ that may not exist yet.
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)

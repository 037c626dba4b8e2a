"""The `market` command: serve, worker, db upgrade, demo, user create."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import demo, migrate, models  # noqa: F401 - every table must be mapped
from market.areas.models import Area
from market.auth.models import Role
from market.auth.schemas import UserCreate
from market.auth.service import create_user
from market.clock import clock_at
from market.db import create_engine
from market.errors import MarketError
from market.settings import Settings, SettingsError

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(dataclasses.replace(settings, database_pool=False))
        try:
            async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@click.group()
def main() -> None:
    """Linli market: residents order, the community dispatches, volunteers accept."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="API processes. With more than one, run the scheduler in `market worker` (MARKET_SCHEDULER=off).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API (OpenAPI docs under /schema)."""
    settings = _settings()  # fail here, clearly, rather than in every worker
    click.echo(f"Linli market on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    from market.serving import serve_app

    serve_app("market.serving:served_app", host, port, workers, settings.worker_timeout_seconds)


@main.command()
def worker() -> None:
    """Run the scheduled jobs only (for deployments with several API processes)."""
    from market.scheduler import running_scheduler

    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings)
        try:
            async with running_scheduler(
                async_sessionmaker(engine, expire_on_commit=False), clock_at(settings.now), settings
            ):
                click.echo("scheduler running; Ctrl+C to stop")
                await asyncio.Event().wait()
        finally:
            await engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
def db_upgrade(revision: str) -> None:
    """Upgrade the database to the newest migration."""
    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database upgraded to {revision}")


@main.command("demo")
@click.option(
    "--if-empty", is_flag=True, help="Load only when the database has no users; print the logins anyway."
)
def demo_command(if_empty: bool) -> None:
    """Load a demo street with people and orders, and print the logins."""
    settings = _settings()

    async def work(session: AsyncSession) -> bool:
        if not await demo.is_empty(session):
            return False
        await demo.load_demo(session, clock_at(settings.now)())
        return True

    loaded = _in_transaction(settings, work)
    if not loaded and not if_empty:
        raise click.ClickException("The database already has users; the demo loads only into an empty one.")
    click.echo("demo data loaded" if loaded else "database already has data; demo not loaded again")
    click.echo(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD}):")
    for role, phone, who in demo.DEMO_LOGINS:
        click.echo(f"  {role:<18} {phone}  {who}")


@main.group()
def user() -> None:
    """Accounts."""


@user.command("create")
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", "roles", required=True, multiple=True, type=click.Choice([r.value for r in Role]))
@click.option("--area", default=None, help="Home area code (administrators may have none).")
def user_create(phone: str, name: str, password: str, roles: tuple[str, ...], area: str | None) -> None:
    """Create an account, e.g. the first administrator of an empty database."""
    settings = _settings()

    async def work(session: AsyncSession) -> int:
        area_id = None
        if area is not None:
            area_id = await session.scalar(select(Area.id).where(Area.code == area))
            if area_id is None:
                raise click.ClickException(f"No area has the code {area}.")
        data = msgspec.convert(
            {"phone": phone, "name": name, "password": password, "roles": list(roles), "area_id": area_id},
            UserCreate,
        )
        return (await create_user(session, None, data, clock_at(settings.now)())).id

    try:
        user_id = _in_transaction(settings, work)
    except (MarketError, msgspec.ValidationError) as error:
        raise click.ClickException(getattr(error, "detail", None) or str(error)) from error
    click.echo(f"created user {user_id} ({phone}, {', '.join(roles)})")


if __name__ == "__main__":
    sys.exit(main())

"""Dates on the pages: forms refuse dates out of range next to the field, and every page survives
whatever dates are stored.

Before dates were checked at the edge (market/fields.py), a reward valid until 9999-12-31 or a
project due in 9999 could be stored, and every page showing it failed with a 500 (local time
overflows past 9999-12-31). Such rows may still exist, and other programs may write the database:
here every timestamp column of a busy street is set to the end of year 9999, then to the start of
year 1, directly in the database, and every page showing them is loaded.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import DateTime, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.models import metadata
from market.needs.models import Need
from market.projects.models import Project, Responsibility
from market.rewards.models import Reward
from market.units.models import Resource
from market.web.i18n import translate
from market.wishes.models import Wish
from tests.test_projects import make_project
from tests.test_units_support import make_coop, ok, post_need
from tests.test_wishes import post_wish
from tests.web.conftest import Browser, field_errors
from tests.web.test_phone_volunteer import accepted, give_points, offer, post_order, publish_reward
from tests.world import World

EXTREMES = {
    "year-9999": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "year-1": datetime(1, 1, 1, tzinfo=UTC),
}
# Columns left alone: a login lock-out in year 9999 would keep the people out of the pages;
# idempotency keys never reach a page; and an order's service window has always been bounded by
# the service (it ends in the future and starts at most weeks ahead), while matching volunteers
# to it computes local weekday times (market/volunteers/availability.py), which overflow there.
KEEP = {
    ("users", "locked_until"),
    ("idempotency_keys", "created_at"),
    ("orders", "window_start"),
    ("orders", "window_end"),
}
# Periods the database keeps in order (start before end): an hour apart at the extremes.
STARTS = {("projects", "start_at"), ("resources", "available_from")}
ENDS = {("projects", "deadline"), ("resources", "available_until")}


async def build_street(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> dict[str, int]:
    """A street with a row of every kind a page shows a date of; their ids."""
    coop = await make_coop(client, world, session_maker)
    project = await make_project(client, world, coop)
    await post_need(client, world, title="Blankets", quantity=10)
    plan = ok(
        await client.post(
            "/api/allocations/plans",
            json={"community_id": world.areas["c1"].id},
            headers=world.auth("manager"),
        )
    )
    reward = await publish_reward(client, world)
    await give_points(client, session_maker, world, 100)
    redemption = ok(
        await client.post(
            "/api/redemptions", json={"reward_id": reward, "quantity": 1}, headers=world.auth("volunteer")
        )
    )
    waiting = await post_order(client, world)
    offered, _ = await offer(client, world, "volunteer")
    task = await accepted(client, world, "volunteer")
    dispatch_plan = ok(
        await client.post(
            "/api/dispatch/plans",
            json={"area_id": world.areas["c1_grid"].id},
            headers=world.auth("grid_worker"),
        )
    )
    account = ok(
        await client.get(
            "/api/ledger/accounts", params={"user_id": world.id("volunteer")}, headers=world.auth("manager")
        )
    )["items"][0]["id"]
    return {
        "project": project["id"],
        "resource": project["commitments"][0]["resource_id"],
        "allocation": plan["id"],
        "redemption": redemption["id"],
        "waiting": waiting,
        "offered": offered,
        "task": task,
        "dispatch_plan": dispatch_plan["id"],
        "wish": await post_wish(client, world),
        "account": account,
    }


async def store_everywhere(session_maker: async_sessionmaker[AsyncSession], moment: datetime) -> int:
    """Set every timestamp column of every table to `moment`; how many columns were set."""
    columns = 0
    async with session_maker() as session, session.begin():
        for table in metadata.sorted_tables:
            values = {
                c.name: _in_order(table.name, c.name, moment)
                for c in table.columns
                if isinstance(getattr(c.type, "impl", c.type), DateTime) and (table.name, c.name) not in KEEP
            }
            if values:
                await session.execute(update(table).values(values))
                columns += len(values)
    return columns


def _in_order(table: str, column: str, moment: datetime) -> datetime:
    late = moment.year > 5000
    if late and (table, column) in STARTS:
        return moment - timedelta(hours=1)
    if not late and (table, column) in ENDS:
        return moment + timedelta(hours=1)
    return moment


def pages(ids: dict[str, int]) -> dict[str, list[str]]:
    """Who looks at which page."""
    return {
        "resident": [
            "/r/orders",
            f"/r/orders/{ids['waiting']}",
            f"/r/orders/{ids['task']}",
            "/r/orders/new",
            "/r/wishes",
            f"/r/wishes/{ids['wish']}",
            "/r/wishes/new",
        ],
        "volunteer": [
            "/v/offers",
            "/v/tasks",
            "/v/points",
            "/v/rewards",
            f"/v/redemptions/{ids['redemption']}",
            "/r/wishes",
            f"/r/wishes/{ids['wish']}",
        ],
        "manager": [
            "/desk/dispatch",
            f"/desk/dispatch/orders/{ids['waiting']}",
            f"/desk/dispatch/orders/{ids['offered']}",
            f"/desk/dispatch/orders/{ids['task']}",
            f"/desk/dispatch/plans/{ids['dispatch_plan']}",
            "/desk/projects",
            f"/desk/projects/{ids['project']}",
            f"/desk/projects/allocations/{ids['allocation']}",
            "/desk/projects/needs/new",
            "/desk/ledger",
            f"/desk/ledger/accounts/{ids['account']}",
            "/desk/ledger/owed?status=all",
            "/desk/reports",
        ],
        "street_admin": [
            "/desk/ledger/trial-balance",
        ],
        "unit_admin": [
            "/desk/unit",
            "/desk/unit/commitments",
            f"/desk/unit/resources/{ids['resource']}",
            "/desk/unit/resources/new",
            "/desk/unit/rewards",
            "/desk/unit/rewards/new",
            "/desk/unit/fulfil",
        ],
    }


@pytest.mark.parametrize("extreme", EXTREMES)
async def test_every_page_survives_extreme_stored_dates(
    client: AsyncTestClient,
    browser: Browser,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    extreme: str,
) -> None:
    ids = await build_street(client, world, session_maker)
    assert await store_everywhere(session_maker, EXTREMES[extreme]) > 20
    for who, paths in pages(ids).items():
        browser.login(who, "en")
        for path in paths:
            r = await browser.get(path)
            assert r.status_code == 200, (who, path, r.text[-2000:])
            assert translate("en", "error.http_500") not in r.text


async def test_pages_show_a_reward_and_a_project_far_out_as_stored(
    client: AsyncTestClient,
    browser: Browser,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """The cases of the report: the dates are shown (in UTC, as they cannot be moved to local
    time), four-digit years and all."""
    ids = await build_street(client, world, session_maker)
    await store_everywhere(session_maker, EXTREMES["year-9999"])
    browser.login("volunteer", "en")
    r = await browser.get("/v/rewards")
    assert r.status_code == 200 and "9999-12-31" in r.text
    browser.login("manager", "en")
    r = await browser.get(f"/desk/projects/{ids['project']}")
    assert r.status_code == 200 and "9999-12-31 23:59" in r.text
    await store_everywhere(session_maker, EXTREMES["year-1"])
    r = await browser.get(f"/desk/projects/{ids['project']}")
    assert r.status_code == 200 and "0001-01-01 08:05" in r.text  # Beijing's local mean time then


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_page_forms_refuse_dates_out_of_range_next_to_the_field(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    await make_coop(client, world, session_maker)
    out_of_range = translate(lang, "form.date_range", earliest=2000, latest=2099)
    browser.login("unit_admin", lang)
    body = {
        "name": "Health check",
        "price": "300",
        "stock": "5",
        "limit_per_person": "1",
        "pickup_place": "Hospital, 2nd floor",
        "valid_until": "9999-12-31T23:59",
        "community_ids": [str(world.areas["c1"].id)],
        "donor": "District Hospital",
    }
    r = await browser.post("/desk/unit/rewards/new", body)
    assert r.status_code == 400, r.text
    assert field_errors(r.text) == {"valid_until": out_of_range}
    assert 'value="9999-12-31T23:59"' in r.text, "what was typed is kept"

    browser.login("resident", lang)
    r = await browser.post(
        "/r/orders/new",
        {
            "category": "escort",
            "description": "To the hospital",
            "area_id": str(world.areas["c1_building"].id),
            "window_start": "0001-01-01T08:00",
            "window_end": "2100-01-01T09:00",
        },
    )
    assert r.status_code == 400, r.text
    errors = field_errors(r.text)
    assert errors["window_start"] == out_of_range and errors["window_end"] == out_of_range, errors


def _clamp_migration() -> ModuleType:
    """The migration that brings such stored dates into range (migrations/versions/*_dates_in_range.py)."""
    (path,) = (Path(__file__).parents[2] / "migrations" / "versions").glob("*_dates_in_range.py")
    spec = importlib.util.spec_from_file_location("clamp_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_migration_brings_far_dates_into_range_and_their_forms_work_again(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    ids = await build_street(client, world, session_maker)
    far, long_ago = EXTREMES["year-9999"], EXTREMES["year-1"]
    kept = world.now + timedelta(days=5)
    async with session_maker() as session, session.begin():
        await session.execute(update(Reward).values(valid_until=far))
        await session.execute(update(Project).values(start_at=far - timedelta(days=9), deadline=far))
        await session.execute(update(Responsibility).values(due_at=long_ago))
        await session.execute(update(Need).values(deadline=long_ago))
        await session.execute(update(Wish).values(deadline=kept))
        resource = await session.get(Resource, ids["resource"])
        resource.available_until = far
        # In range as sent with -12:00, so kept; its end, out of range, comes before it once clamped.
        resource.available_from = datetime(2100, 1, 1, 11, tzinfo=UTC)
    browser.login("unit_admin", "en")
    url = f"/desk/unit/resources/{ids['resource']}"

    def shown(html: str) -> dict[str, str]:
        return {
            name: re.search(rf'name="{name}" type="[\w-]+" value="([^"]*)"', html).group(1)
            for name in ("title", "quantity", "available_from", "available_until")
        }

    values = {**shown((await browser.get(url)).text), "community_ids": str(world.areas["c1"].id)}
    values["status"] = "published"
    # As stored, the form cannot be sent back unchanged: its dates are out of range.
    r = await browser.post(url, {**values, "title": "Rice, sacks"})
    assert r.status_code == 400 and set(field_errors(r.text)) == {"available_from", "available_until"}

    async with engine.begin() as connection:
        await connection.run_sync(_clamp_migration().clamp)

    first, last = datetime(2000, 1, 1, 12, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC)
    async with session_maker() as session:
        assert set(await session.scalars(select(Reward.valid_until))) == {last}
        assert set(await session.execute(select(Project.start_at, Project.deadline))) == {
            (last - timedelta(hours=1), last)
        }
        assert set(await session.scalars(select(Responsibility.due_at))) == {first}
        assert set(await session.scalars(select(Need.deadline))) == {first}
        assert set(await session.scalars(select(Wish.deadline))) == {kept}
        resource = await session.get(Resource, ids["resource"])
        assert (resource.available_from, resource.available_until) == (last - timedelta(hours=1), last)
    values = {**shown((await browser.get(url)).text), "community_ids": str(world.areas["c1"].id)}
    r = await browser.post(url, {**values, "status": "published", "title": "Rice, sacks"})
    assert r.status_code == 303, r.text
    browser.login("volunteer", "en")
    assert "2099-12-31" in (await browser.get("/v/rewards")).text

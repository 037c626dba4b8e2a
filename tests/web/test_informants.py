"""Grid informants (网格信息员): appointed by the grid worker (a role below theirs), they report a
neighbour's need in their own grid — the neighbour found by phone or registered without a password —
as an order of the neighbour's own (channel `informant`), follow what became of it, and are counted
on the grid's figures. Nothing outside their grid, and no desk."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.notifications.models import Notification
from market.orders.models import Order
from tests.web.conftest import Browser, field_errors
from tests.world import World, add_neighbours, password_hash

NEW = "/i/reports/new"


async def appoint(
    client: AsyncTestClient, world: World, who: str = "resident_b", by: str = "grid_worker"
) -> int:
    r = await client.put(
        f"/api/users/{world.id(who)}/roles", json={"roles": ["resident", "informant"]}, headers=world.auth(by)
    )
    return r.status_code


def report_form(world: World, place: str = "c1_building", **overrides: str) -> dict[str, str]:
    start = (world.now + timedelta(hours=3)).astimezone(world.settings.tz)
    return {
        "category": "escort",
        "description": "Needs a lift to the clinic",
        "area_id": str(world.areas[place].id),
        "address_detail": "",
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "urgency": "normal",
        "entry_key": "k-1",
        **overrides,
    }


async def orders(session_maker: async_sessionmaker[AsyncSession]) -> list[Order]:
    async with session_maker() as session:
        return list(await session.scalars(select(Order).order_by(Order.id)))


@pytest.fixture
async def next_grid(world: World, session_maker: async_sessionmaker[AsyncSession]) -> World:
    """Grid 1-2 of community 1, with a compound, its building and a resident of its own."""
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
        compound = Area(
            code="110105001001002001",
            name="Garden 12",
            level=AreaLevel.compound,
            parent_id=world.areas["c1_grid2"].id,
        )
        session.add(compound)
        await session.flush()
        building = Area(
            code="110105001001002001001", name="Building 12", level=AreaLevel.building, parent_id=compound.id
        )
        session.add(building)
        await session.flush()
        world.areas["g2_building"] = building
        resident = User(
            phone="13700000099",
            name="Next Grid Resident",
            password_hash=password_hash(),
            area_id=building.id,
            is_active=True,
            created_at=world.now,
            role_rows=[UserRole(role=Role.resident)],
        )
        session.add(resident)
        world.users["resident_g2"] = resident
    return world


async def test_grid_workers_appoint_and_withdraw_informants_of_their_own_grid(
    client: AsyncTestClient, browser: Browser, world: World
) -> None:
    # Another grid's worker does not see the person; an informant appoints nobody.
    assert await appoint(client, world, by="grid_worker_c2") == 404
    assert await appoint(client, world) == 200
    assert await appoint(client, world, who="resident", by="resident_b") == 403
    browser.login("resident_b", "en")
    home = await browser.get("/", follow_redirects=False)
    assert home.headers["location"] == "/i/reports"
    assert (await browser.get("/i/reports")).status_code == 200
    r = await client.put(
        f"/api/users/{world.id('resident_b')}/roles",
        json={"roles": ["resident"]},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200 and r.json()["roles"] == ["resident"]
    assert (await browser.get("/i/reports")).status_code == 403


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_an_informant_reports_for_a_neighbour_found_by_phone_and_follows_it(
    client: AsyncTestClient,
    browser: Browser,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    assert await appoint(client, world) == 200
    browser.login("resident_b", lang)
    resident = world.users["resident"]
    found = await browser.get(NEW, params={"phone": resident.phone})
    assert f'id="choose-{resident.id}"' in found.text
    # The neighbour is shown masked: the informant typed their number, and needs no more.
    assert re.search(r'<p id="found"><strong>([^<]*)</strong>', found.text)[1] == "R*******"
    form = await browser.get(NEW, params={"resident": resident.id})
    assert form.status_code == 200 and 'id="report-form"' in form.text
    response = await browser.post(f"{NEW}?resident={resident.id}", report_form(world))
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/i/reports?notice=informant_reported")
    # A double click finds the first report.
    again = await browser.post(f"{NEW}?resident={resident.id}", report_form(world))
    assert again.status_code == 303
    (order,) = await orders(session_maker)
    assert (order.requester_id, order.entered_by_id, order.channel) == (
        resident.id,
        world.id("resident_b"),
        "informant",
    )
    async with session_maker() as session:
        told = await session.scalar(select(Notification).where(Notification.user_id == resident.id))
    assert told is not None and told.code == "order_entered" and told.params["channel"] == "informant"
    listed = await browser.get("/i/reports")
    assert f'data-order-id="{order.id}"' in listed.text and 'data-status="submitted"' in listed.text
    # The state follows the order: dispatched by the grid worker.
    r = await client.post(
        f"/api/orders/{order.id}/reject", json={"reason": "duplicate"}, headers=world.auth("grid_worker")
    )
    assert r.status_code == 200, r.text
    assert 'data-status="rejected"' in (await browser.get("/i/reports")).text


async def test_an_informant_registers_a_neighbour_without_a_password(
    client: AsyncTestClient, browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    assert await appoint(client, world) == 200
    browser.login("resident_b", "en")
    none = await browser.get(NEW, params={"phone": "13600000007"})
    assert 'id="none-found"' in none.text
    body = {"phone": "13600000007", "name": "Granny Li", "area_id": str(world.areas["c1_building"].id)}
    response = await browser.post("/i/reports/neighbour", body)
    assert response.status_code == 303, response.text
    new_id = int(re.search(r"resident=(\d+)", response.headers["location"])[1])
    async with session_maker() as session:
        user = await session.get(User, new_id)
        roles = list(await session.scalars(select(UserRole.role).where(UserRole.user_id == new_id)))
    assert (
        user.password_hash is None and user.area_id == world.areas["c1_building"].id and roles == ["resident"]
    )
    response = await browser.post(f"{NEW}?resident={new_id}", report_form(world))
    assert response.status_code == 303, response.text
    # The same phone again is refused next to the field, and nothing is added.
    again = await browser.post("/i/reports/neighbour", body)
    assert again.status_code == 409 and "phone" in field_errors(again.text)


async def test_an_informant_reaches_nobody_and_nowhere_outside_their_grid(
    client: AsyncTestClient,
    browser: Browser,
    next_grid: World,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    world = next_grid
    assert await appoint(client, world) == 200
    browser.login("resident_b", "en")
    # Residents of the next grid (same community) and of community 2 are not found, nor reachable by id.
    for other in ("resident_g2", "resident_c2"):
        found = await browser.get(NEW, params={"phone": world.users[other].phone})
        assert 'id="none-found"' in found.text and world.users[other].name not in found.text
        assert (await browser.get(NEW, params={"resident": world.id(other)})).status_code == 404
        response = await browser.post(f"{NEW}?resident={world.id(other)}", report_form(world))
        assert response.status_code == 404
    # Nor staff, who are no residents.
    assert (await browser.get(NEW, params={"resident": world.id("grid_worker")})).status_code == 404
    # A neighbour of the grid, at a place of the next grid or another community: refused at the field.
    for place in ("g2_building", "c2_building"):
        response = await browser.post(
            f"{NEW}?resident={world.id('resident')}", report_form(world, place, entry_key=place)
        )
        assert response.status_code == 403, response.text
        assert "area_id" in field_errors(response.text)
    # Registering someone in the next grid: refused too.
    body = {"phone": "13600000008", "name": "Uncle Zhao", "area_id": str(world.areas["g2_building"].id)}
    response = await browser.post("/i/reports/neighbour", body)
    assert response.status_code == 403 and "area_id" in field_errors(response.text)
    assert await orders(session_maker) == []
    async with session_maker() as session:
        assert await session.scalar(select(User.id).where(User.phone == "13600000008")) is None


async def test_the_grids_figures_count_what_informants_reported(
    client: AsyncTestClient, browser: Browser, world: World
) -> None:
    assert await appoint(client, world) == 200
    browser.login("resident_b", "en")
    response = await browser.post(f"{NEW}?resident={world.id('resident')}", report_form(world))
    assert response.status_code == 303, response.text
    r = await client.post(
        "/api/orders", json=world.order_body("resident_b"), headers=world.auth("resident_b")
    )
    assert r.status_code == 201, r.text
    r = await client.get("/api/reports/areas", headers=world.auth("grid_worker"))
    assert r.status_code == 200, r.text
    (grid,) = r.json()["items"]
    assert (grid["area_name"], grid["received"], grid["reported_by_informants"]) == ("Grid 1-1", 2, 1)
    r = await client.get("/api/reports/areas", params={"format": "csv"}, headers=world.auth("grid_worker"))
    header, row = r.content.decode("utf-8-sig").splitlines()[:2]
    assert header.endswith(",reported_by_informants") and row.endswith(",1")
    page = await browser.login("grid_worker", "en").get("/desk/reports")
    assert page.status_code == 200 and "Reported by informants" in page.text

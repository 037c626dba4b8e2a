"""The desk page where a grid worker enters an order for a resident who phoned, walked in or was met
on a round: find the resident or register them without a password, then the order."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import User
from market.orders.models import Order
from tests.web.conftest import Browser, field_errors
from tests.world import World

PATH = "/desk/orders/new"


def order_form(world: World, **overrides: str) -> dict[str, str]:
    tz = world.settings.tz
    start = (world.now + timedelta(hours=3)).astimezone(tz)
    return {
        "channel": "phone",
        "category": "escort",
        "description": "Take her to the clinic",
        "area_id": str(world.areas["c1_building"].id),
        "address_detail": "Room 101",
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "urgency": "normal",
        "entry_key": "k-1",
        **overrides,
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_pages_in_both_languages(browser: Browser, world: World, lang: str) -> None:
    browser.login("grid_worker", lang)
    for path in (PATH, f"{PATH}?q=1370000", f"{PATH}?resident={world.id('resident')}"):
        response = await browser.get(path)
        assert response.status_code == 200, path
    response = await browser.get(f"{PATH}?q=Resident")
    assert f'id="choose-{world.id("resident")}"' in response.text
    # Community 2's resident is not found by community 1's grid worker.
    assert f'id="choose-{world.id("resident_c2")}"' not in response.text


async def test_register_without_a_password_then_enter_by_phone(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], client: AsyncTestClient
) -> None:
    browser.login("grid_worker", "en")
    response = await browser.post(
        f"{PATH}/resident",
        {"phone": "13600000001", "name": "Granny Wang", "area_id": str(world.areas["c1_building"].id)},
    )
    assert response.status_code == 303, response.text
    resident_id = int(re.search(r"resident=(\d+)", response.headers["location"])[1])
    async with session_maker() as session:
        user = await session.get(User, resident_id)
        assert user.password_hash is None and user.name == "Granny Wang"
    page = await browser.get(response.headers["location"])
    assert 'name="entry_key"' in page.text and 'id="enter-order-button"' in page.text

    form = order_form(world)
    response = await browser.post(f"{PATH}?resident={resident_id}", form)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/desk/dispatch/orders/")
    # The same form sent again (a double click) enters nothing more.
    again = await browser.post(f"{PATH}?resident={resident_id}", form)
    assert again.status_code == 303
    assert again.headers["location"].split("?")[0] == response.headers["location"].split("?")[0]
    async with session_maker() as session:
        orders = (await session.scalars(select(Order))).all()
    assert [(o.requester_id, o.channel, o.entered_by_id) for o in orders] == [
        (resident_id, "phone", world.id("grid_worker"))
    ]
    detail = await browser.get(response.headers["location"])
    assert 'id="entered-by"' in detail.text
    # Nobody can log in with the account.
    login = await client.post("/api/auth/login", json={"phone": "13600000001", "password": "anything-at-all"})
    assert login.status_code == 401


async def test_refusals_show_next_to_the_field_and_change_nothing(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("grid_worker", "zh")
    response = await browser.post(
        f"{PATH}/resident",
        {
            "phone": world.users["resident"].phone,
            "name": "Again",
            "area_id": str(world.areas["c1_building"].id),
        },
    )
    assert response.status_code == 409
    assert "phone" in field_errors(response.text)
    assert 'value="Again"' in response.text
    response = await browser.post(
        f"{PATH}/resident",
        {"phone": "13600000002", "name": "Far", "area_id": str(world.areas["c2_building"].id)},
    )
    assert response.status_code == 403 and "area_id" in field_errors(response.text)

    past = (world.now - timedelta(hours=5)).astimezone(world.settings.tz).strftime("%Y-%m-%dT%H:%M")
    response = await browser.post(
        f"{PATH}?resident={world.id('resident')}",
        order_form(world, window_start=past, window_end=past, description=""),
    )
    assert response.status_code == 400
    errors = field_errors(response.text)
    assert "description" in errors
    async with session_maker() as session:
        assert (await session.scalars(select(Order))).all() == []


async def test_outside_the_grid_is_not_found(browser: Browser, world: World) -> None:
    browser.login("grid_worker_c2", "en")
    assert (await browser.get(f"{PATH}?resident={world.id('resident')}")).status_code == 404
    response = await browser.post(f"{PATH}?resident={world.id('resident')}", order_form(world))
    assert response.status_code == 404
    browser.login("volunteer", "en")
    assert (await browser.get(PATH)).status_code == 403

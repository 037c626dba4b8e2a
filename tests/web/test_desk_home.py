"""Each role's home: the desk's overview of today for those who manage an area, with every number
a link to its page and every desk page one click away."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from market.web.i18n import translate
from tests.web.conftest import Browser
from tests.world import World


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("who", ["grid_worker", "manager", "street_admin", "admin"])
async def test_overview_in_both_languages(browser: Browser, who: str, lang: str) -> None:
    browser.login(who, lang)
    response = await browser.get("/desk")
    assert response.status_code == 200
    assert translate(lang, "home.title") in response.text
    for tile in ("waiting", "late", "escalated", "commitments", "owed", "low_pools"):
        assert f'id="tile-{tile}"' in response.text
    # Every desk page the person may open is linked from here.
    for href in ("/desk/dispatch", "/desk/orders/new", "/desk/ledger", "/desk/projects", "/desk/reports"):
        assert f'href="{href}"' in response.text


async def test_the_numbers_count_the_area_and_link_to_their_page(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    for _ in range(2):
        await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    await client.post("/api/orders", json=world.order_body("resident_c2"), headers=world.auth("resident_c2"))
    browser.login("grid_worker", "en")
    html = (await browser.get("/desk")).text
    tile = re.search(r'<a class="tile[^"]*" id="tile-waiting" data-count="(\d+)" href="([^"]+)"', html)
    assert tile and tile[1] == "2"
    assert tile[2].startswith("/desk/dispatch?") and "section=waiting" in tile[2]
    browser.login("street_admin", "en")
    html = (await browser.get("/desk")).text
    assert 'id="tile-waiting" data-count="3"' in html


async def test_the_approvals_tile_counts_the_sign_ups_waiting(browser: Browser) -> None:
    browser.login("manager", "en")
    assert 'id="tile-approvals" data-count="0" href="/desk/approvals"' in (await browser.get("/desk")).text
    body = {
        "phone": "13612340001",
        "name": "New Neighbour",
        "password": "my-password-1",
        "area_id": browser.world.areas["c1_building"].id,
    }
    assert (await browser.client.post("/api/signup", json=body)).status_code == 201
    html = (await browser.get("/desk")).text
    assert 'id="tile-approvals" data-count="1" href="/desk/approvals"' in html


@pytest.mark.parametrize("who", ["resident", "volunteer", "unit_admin"])
async def test_the_overview_is_for_those_who_manage_an_area(browser: Browser, who: str) -> None:
    browser.login(who, "en")
    assert (await browser.get("/desk")).status_code == 403


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("volunteer", "/v/offers"),
        ("unit_admin", "/desk/unit/fulfil"),
        ("grid_worker", "/desk"),
        ("admin", "/desk"),
    ],
)
async def test_home_redirects_to_each_roles_page(browser: Browser, who: str, home: str) -> None:
    browser.login(who, "en")
    response = await browser.get("/", follow_redirects=False)
    assert response.headers["location"] == home

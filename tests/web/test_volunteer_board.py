"""The open board's pages: a volunteer's list and claim, in both languages; a manager's setting."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape

from market.web.i18n import translate
from tests.web.conftest import Browser
from tests.world import World


def text(lang: str, key: str, **values: object) -> str:
    return str(escape(translate(lang, key, **values)))


async def post_order(client: AsyncTestClient, world: World, **body: object) -> int:
    r = await client.post("/api/orders", json=world.order_body(**body), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_volunteer_claims_from_the_board(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("manager", lang)
    r = await browser.post(
        f"/desk/auto-dispatch/{world.areas['c1'].id}/board", {"mode": "at_once", "after_minutes": "30"}
    )
    assert (r.status_code, r.headers["location"]) == (303, "/desk/auto-dispatch?notice=board_setting_saved")
    page = await browser.get(r.headers["location"])
    assert text(lang, "notice.board_setting_saved") in page.text
    assert text(lang, "board_mode.at_once") in page.text

    order_id = await post_order(client, world)
    browser.login("volunteer", lang)
    r = await browser.get("/v/board")
    assert r.status_code == 200
    assert text(lang, "volunteer.board_title") in r.text and text(lang, "nav.board") in r.text
    assert f'id="board-order-{order_id}"' in r.text
    assert text(lang, "dispatch.distance.same_building") in r.text
    assert world.users["resident"].phone not in r.text and "Unit 2, Room 502" not in r.text

    r = await browser.post(f"/v/board/{order_id}/claim")
    assert (r.status_code, r.headers["location"]) == (303, "/v/tasks?notice=volunteer_order_claimed")
    assert text(lang, "notice.volunteer_order_claimed") in (await browser.get(r.headers["location"])).text

    # Taken: the board is empty, and a second claim says why in the page's language.
    browser.login("volunteer_b", lang)
    r = await browser.get("/v/board")
    assert text(lang, "volunteer.board_empty") in r.text
    r = await browser.post(f"/v/board/{order_id}/claim")
    assert r.status_code == 409
    assert text(lang, "error.order_not_open") in r.text

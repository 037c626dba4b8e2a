"""长辈模式: a person turns larger text and buttons on from the top bar of any page; it is kept on the
person, so that it follows them to another phone, and nobody can set it for someone else."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import User
from tests.conftest import another_client
from tests.web.conftest import Browser
from tests.world import PASSWORD, World

SWITCH = "/account/large-text"


async def _large_text(session_maker: async_sessionmaker[AsyncSession], world: World) -> dict[str, bool]:
    async with session_maker() as session:
        rows = await session.execute(select(User.id, User.large_text))
    by_id = dict(rows.all())
    return {name: by_id[user.id] for name, user in world.users.items()}


def _html_class(html: str) -> str | None:
    head = html.split(">", 2)[1]
    return head.split('class="', 1)[1].split('"', 1)[0] if 'class="' in head else None


@pytest.mark.parametrize(("lang", "said"), [("zh", "已开启长辈模式"), ("en", "Large text is on")])
async def test_large_text_is_kept_on_the_person_and_follows_them_to_another_phone(
    browser: Browser, lang: str, said: str
) -> None:
    browser.login("resident", lang)
    page = await browser.get("/r/orders")
    assert _html_class(page.text) is None
    assert 'id="large-text-switch" type="submit" aria-pressed="false"' in page.text

    r = await browser.post(SWITCH, {"large_text": "on", "next": "/r/orders"})
    assert (r.status_code, r.headers["location"]) == (303, "/r/orders?notice=large_text_on")
    page = await browser.get(r.headers["location"])
    assert _html_class(page.text) == "large-text"
    assert 'aria-pressed="true"' in page.text and said in page.text

    # Another phone: a login of its own, and the pages are large there too.
    other = Browser(another_client(browser.client), browser.world)
    r = await other.post("/login", {"phone": browser.world.users["resident"].phone, "password": PASSWORD})
    assert r.status_code == 303
    assert _html_class((await other.get("/r/wishes")).text) == "large-text"
    # Turned off there, it is off here.
    r = await other.post(SWITCH, {"large_text": "off", "next": "/r/wishes"})
    assert r.headers["location"] == "/r/wishes?notice=large_text_off"
    assert _html_class((await browser.get("/r/orders")).text) is None


async def test_the_switch_returns_only_to_a_page_of_the_site(browser: Browser) -> None:
    browser.login("manager")
    r = await browser.post(SWITCH, {"large_text": "on", "next": "//elsewhere.example"})
    assert r.headers["location"] == "/desk?notice=large_text_on"
    assert _html_class((await browser.get("/desk")).text) == "large-text"


async def test_a_person_sets_only_their_own_large_text(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    nobody = {name: False for name in world.users}
    # Not logged in: sent to log in, nothing set.
    r = await browser.post(SWITCH, {"large_text": "on"})
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    assert await _large_text(session_maker, world) == nobody
    # Without the form's CSRF token (another site's form): refused.
    browser.login("volunteer")
    r = await browser.client.post(SWITCH, data={"large_text": "on"})
    assert r.status_code == 403
    assert await _large_text(session_maker, world) == nobody
    # Naming someone else changes nothing of theirs: the switch is always the caller's own.
    r = await browser.post(
        SWITCH, {"large_text": "on", "user_id": world.id("resident"), "id": world.id("resident")}
    )
    assert r.status_code == 303
    assert await _large_text(session_maker, world) == nobody | {"volunteer": True}

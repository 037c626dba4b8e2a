"""Everyone's messages on the pages: the bell in the top bar of phone and desk pages, kept live
by a stream, and the inbox with mark one read and mark all read, in both languages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.tokens import TOKEN_COOKIE, issue_token
from market.clock import FrozenClock
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.web import notifications
from tests.web.conftest import Browser

# Short streams that poll often (the settings), pages' texts as shown and a stream's events, as there.
from tests.web.test_phone_volunteer import events, settings, text  # noqa: F401
from tests.world import World

LANGS = ["zh", "en"]


async def inbox(client: AsyncTestClient, world: World, who: str) -> dict:
    r = await client.get("/api/notifications?limit=100", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def dispatched(client: AsyncTestClient, world: World) -> tuple[int, int]:
    """An order of the resident offered to the volunteer: its id and the offer's."""
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    body = {"volunteer_ids": [world.id("volunteer")], "mode": "direct"}
    r = await client.post(f"/api/orders/{order_id}/dispatch", json=body, headers=world.auth("grid_worker"))
    assert r.status_code == 200, r.text
    return order_id, r.json()["offers"][-1]["id"]


@pytest.mark.parametrize("lang", LANGS)
async def test_the_bell_is_in_the_top_bar_of_phone_and_desk_pages(browser: Browser, lang: str) -> None:
    for who, path in (("resident", "/r/orders"), ("volunteer", "/v/tasks"), ("grid_worker", "/desk")):
        r = await browser.login(who, lang).get(path)
        assert r.status_code == 200, (who, r.text)
        assert 'id="bell" data-bell-stream="/notifications/stream"' in r.text, who
        assert 'src="/static/notifications.js" defer' in r.text
        assert f'href="/notifications" aria-label="{text(lang, "nav.notifications")}"' in r.text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_inbox_shows_each_message_in_the_reader_s_language_newest_first(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order_id, offer_id = await dispatched(client, world)
    r = await client.post(f"/api/offers/{offer_id}/accept", headers=world.auth("volunteer"))
    assert r.status_code == 200, r.text

    r = await browser.login("resident", lang).get("/notifications")
    assert r.status_code == 200
    assert 'class="phone"' in r.text, "a resident reads it on the phone layout"
    offered = text(lang, "notification.order_dispatched", order_id=order_id)
    taken = text(lang, "notification.order_accepted", order_id=order_id, volunteer="V********")
    assert taken in r.text and offered in r.text
    assert r.text.index(taken) < r.text.index(offered), "newest first"
    assert f'href="/r/orders/{order_id}"' in r.text
    assert text(lang, "notifications.total", total=2, unread=2) in r.text

    r = await browser.login("grid_worker", lang).get("/notifications")
    assert 'class="desk"' in r.text and text(lang, "notifications.empty") in r.text
    r = await browser.login("volunteer", lang).get("/notifications")
    assert 'href="/v/offers"' in r.text


async def test_marking_one_and_then_all_read_on_the_page(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await dispatched(client, world)
    await dispatched(client, world)
    newest, oldest = (await inbox(client, world, "resident"))["items"]
    browser.login("resident", "en")

    r = await browser.client.post(f"/notifications/{oldest['id']}/read", follow_redirects=False)
    assert r.status_code == 403, "a form without its CSRF token"
    r = await browser.post(f"/notifications/{oldest['id']}/read")
    assert (r.status_code, r.headers["location"]) == (303, "/notifications?notice=notification_read")
    after = {m["id"]: m["read_at"] for m in (await inbox(client, world, "resident"))["items"]}
    assert after[oldest["id"]] is not None and after[newest["id"]] is None
    page = await browser.get("/notifications?notice=notification_read")
    assert text("en", "notice.notification_read") in page.text
    assert f'action="/notifications/{newest["id"]}/read"' in page.text
    assert f'action="/notifications/{oldest["id"]}/read"' not in page.text, "read already"

    r = await browser.post("/notifications/read-all")
    assert (r.status_code, r.headers["location"]) == (303, "/notifications?notice=notifications_all_read")
    assert (await inbox(client, world, "resident"))["unread"] == 0
    page = await browser.get("/notifications?unread=true")
    assert text("en", "notifications.empty") in page.text


async def test_another_person_s_message_is_not_found_from_the_page(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await dispatched(client, world)
    (message,) = (await inbox(client, world, "resident"))["items"]
    r = await browser.login("resident_b", "en").post(f"/notifications/{message['id']}/read")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert text("en", "error.notification_not_found") in r.text
    r = await browser.post("/notifications/read-all")
    assert r.status_code == 303
    assert (await inbox(client, world, "resident"))["unread"] == 1, "nothing of the resident's changed"


async def test_the_inbox_pages_twenty_at_a_time(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock
) -> None:
    async with session_maker() as session, session.begin():
        for n in range(notifications.PAGE_SIZE + 1):
            await notify(
                session, [world.id("resident")], NotificationCode.wish_expired, clock(), wish=f"Wish {n:02d}"
            )
    r = await browser.login("resident", "en").get("/notifications")
    assert "Wish 20" in r.text and "Wish 01" in r.text and "Wish 00" not in r.text
    assert 'href="/notifications?offset=20"' in r.text
    r = await browser.get("/notifications?offset=20")
    assert "Wish 00" in r.text and "Wish 01" not in r.text


async def test_the_bell_counts_and_shows_a_message_as_it_arrives(
    live_server: str, client: AsyncTestClient, world: World
) -> None:
    token, _ = issue_token(world.settings, world.users["resident"], world.clock())
    cookies = {TOKEN_COOKIE: f"Bearer {token}", "lang": "en"}
    lines: list[str] = []
    async with (
        httpx.AsyncClient(base_url=live_server, cookies=cookies, timeout=20) as http,
        http.stream("GET", "/notifications/stream") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        reading = aiter(stream.aiter_lines())

        async def until(found: Callable[[str], bool]) -> str:
            while True:
                lines.append(await asyncio.wait_for(anext(reading), timeout=10))
                for data in events(lines):
                    if found(data):
                        return data

        first = await until(lambda data: True)
        assert "bell-count" not in first and "bell-fresh" not in first, "nothing unread, nothing new"
        order_id, _ = await dispatched(client, world)
        data = await until(lambda data: "bell-count" in data)

    assert '<span class="bell-count">1</span>' in data
    assert text("en", "notifications.bell_label", count=1) in data
    assert text("en", "notification.order_dispatched", order_id=order_id) in data
    assert f'href="/r/orders/{order_id}"' in data


async def test_a_person_who_must_settle_something_first_has_no_bell(browser: Browser, world: World) -> None:
    body = {"phone": "13612340001", "name": "Newcomer", "password": "my-password-1",
            "area_id": world.areas["c1_building"].id}  # fmt: skip
    r = await browser.client.post("/api/signup", json=body)
    assert r.status_code == 201, r.text
    browser.client.cookies.set(TOKEN_COOKIE, f"Bearer {r.json()['access_token']}")
    r = await browser.get("/signup/status")
    assert r.status_code == 200 and "Newcomer" in r.text
    assert 'id="bell"' not in r.text, "the inbox is not theirs to open until they are approved"
    r = await browser.get("/notifications/stream", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signup/status")

"""The resident's order page: its steps, what comes next and by when, the volunteer's phone once
they took it (to the resident who asked only), the hurry button (催办) and what the volunteer
reported; and the volunteer's side of the same trust: check-in times and reward explanations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape

from market.clock import FrozenClock
from market.orders.service import CHECK_IN_OPENS_BEFORE, HURRY_INTERVAL
from market.web.i18n import translate
from tests.web.conftest import Browser
from tests.world import World

LANGS = ["zh", "en"]
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def local(world: World, moment: datetime | str) -> str:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(world.settings.tz).strftime("%m-%d %H:%M")


async def ok(client: AsyncTestClient, world: World, who: str, path: str, body: Any = None) -> dict[str, Any]:
    r = await client.post(path, json=body, headers=world.auth(who))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def posted(client: AsyncTestClient, world: World, **window: datetime) -> dict[str, Any]:
    body = world.order_body(**{k: v.isoformat() for k, v in window.items()})
    return await ok(client, world, "resident", "/api/orders", body)


async def accept(client: AsyncTestClient, world: World, order_id: int, *others: str) -> None:
    """Offer the order to "volunteer" (and `others` in a pool); "volunteer" accepts."""
    ids = [world.id("volunteer"), *(world.id(o) for o in others)]
    body = {"volunteer_ids": ids, "mode": "pool" if others else "direct"}
    offers = (await ok(client, world, "grid_worker", f"/api/orders/{order_id}/dispatch", body))["offers"]
    offer = next(o["id"] for o in offers if o["volunteer_id"] == world.id("volunteer"))
    await ok(client, world, "volunteer", f"/api/offers/{offer}/accept")


def current_step(page: str, lang: str) -> str:
    """The step the progress bar marks as the current one."""
    head, _, _ = page.partition('aria-current="step">')
    tail = page[len(head) + len('aria-current="step">') :]
    return tail[: tail.index("</li>")].strip()


@pytest.mark.parametrize("lang", LANGS)
async def test_the_order_page_follows_the_order_and_gives_the_volunteers_phone_only_once_accepted(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    order = await posted(client, world)
    order_id = order["id"]
    phone = world.users["volunteer"].phone
    browser.login("resident", lang)

    page = (await browser.get(f"/r/orders/{order_id}")).text
    assert current_step(page, lang) == translate(lang, "resident.step_submitted")
    # The first step of the "1130" rule: a volunteer within the hour.
    accept_by = local(world, datetime.fromisoformat(order["created_at"]) + HOUR)
    assert translate(lang, "resident.next_accept", by=accept_by) in page
    assert "tel:" not in page

    await accept(client, world, order_id, "vol_resident")
    page = (await browser.get(f"/r/orders/{order_id}")).text
    assert current_step(page, lang) == translate(lang, "resident.step_accepted")
    assert f'href="tel:{phone}"' in page
    assert translate(lang, "resident.next_arrive", by=local(world, order["window_start"])) in page

    # Only to the resident who asked: a neighbour who also volunteers and lost the pool sees the
    # order but not the volunteer's phone; another resident does not see the order at all.
    browser.login("vol_resident", lang)
    page = await browser.get(f"/r/orders/{order_id}")
    assert page.status_code == 200 and phone not in page.text and "tel:" not in page.text
    browser.login("resident_b", lang)
    assert (await browser.get(f"/r/orders/{order_id}")).status_code == 404

    await ok(client, world, "volunteer", f"/api/orders/{order_id}/check-in")
    clock.advance(HOUR)
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/check-out")
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/complete", {"note": "买好了，放在门口"})
    browser.login("resident", lang)
    page = (await browser.get(f"/r/orders/{order_id}")).text
    assert current_step(page, lang) == translate(lang, "resident.step_completed")
    assert translate(lang, "resident.completion_note") in page and "买好了，放在门口" in page
    confirm_by = local(world, clock() + timedelta(days=world.settings.auto_confirm_days))
    assert translate(lang, "resident.next_confirm", by=confirm_by) in page
    assert f'href="tel:{phone}"' in page

    await ok(client, world, "resident", f"/api/orders/{order_id}/confirm", {"rating": 5})
    page = (await browser.get(f"/r/orders/{order_id}")).text
    assert current_step(page, lang) == translate(lang, "resident.step_confirmed")
    assert "tel:" not in page and phone not in page, "the phone is for while the service is under way"


@pytest.mark.parametrize("lang", LANGS)
async def test_hurry_from_the_order_page_once_per_period(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    order_id = (await posted(client, world))["id"]
    browser.login("resident", lang)
    assert translate(lang, "resident.hurry_hint") in (await browser.get(f"/r/orders/{order_id}")).text

    r = await browser.post(f"/r/orders/{order_id}/hurry")
    assert r.headers["location"] == f"/r/orders/{order_id}?notice=resident_order_hurried"
    page = (await browser.get(f"/r/orders/{order_id}")).text
    again = local(world, clock() + HURRY_INTERVAL)
    assert translate(lang, "resident.hurried_until", time=again) in page
    assert translate(lang, "order_action.hurry") in page, "the timeline"

    # A second press (a stale page) is refused in the page's language.
    r = await browser.post(f"/r/orders/{order_id}/hurry")
    assert r.status_code == 429 and translate(lang, "error.hurried_recently") in r.text
    browser.login("resident_b", lang)
    assert (await browser.post(f"/r/orders/{order_id}/hurry")).status_code == 404

    clock.advance(HURRY_INTERVAL)
    browser.login("resident", lang)
    assert translate(lang, "resident.hurry_hint") in (await browser.get(f"/r/orders/{order_id}")).text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_task_says_when_check_in_opens_and_refuses_it_before(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    start = clock() + 17 * HOUR
    order_id = (await posted(client, world, window_start=start, window_end=start + 2 * HOUR))["id"]
    await accept(client, world, order_id)
    browser.login("volunteer", lang)

    page = (await browser.get("/v/tasks")).text
    opens, closes = local(world, start - CHECK_IN_OPENS_BEFORE), local(world, start + 2 * HOUR)
    assert translate(lang, "volunteer.check_in_window", opens=opens, closes=closes) in page

    r = await browser.post(f"/v/tasks/{order_id}/check-in")
    assert r.status_code == 409 and translate(lang, "error.check_in_too_early") in r.text
    clock.now = start + 2 * HOUR
    browser.login("volunteer", lang)  # a fresh login, the day after
    r = await browser.post(f"/v/tasks/{order_id}/check-in")
    assert r.status_code == 409 and escape(translate(lang, "error.check_in_too_late")) in r.text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_points_page_says_why_a_reward_was_zero(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    start = clock() + HOUR
    order_id = (await posted(client, world, window_start=start, window_end=start + 2 * HOUR))["id"]
    await accept(client, world, order_id)
    # Served only before the window (from 30 to 20 minutes before it): nothing counts.
    clock.now = start - CHECK_IN_OPENS_BEFORE
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/check-in")
    clock.advance(10 * MINUTE)
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/check-out")
    await ok(client, world, "volunteer", f"/api/orders/{order_id}/complete", {"note": ""})
    await ok(client, world, "resident", f"/api/orders/{order_id}/confirm", {"rating": 3})
    browser.login("volunteer", lang)

    page = (await browser.get("/v/points?show=served")).text
    assert f'id="reward-{order_id}"' in page
    assert translate(lang, "volunteer.reward_sum", counted=0.0, rate=10, points=0) in page
    assert translate(lang, "volunteer.reward_hours_served", served=0.17, counted=0.0) in page
    assert translate(lang, "reward_reason.started_early") in page
    assert translate(lang, "volunteer.reward_zero") in page

"""The resident's phone pages (orders: post, follow, cancel, confirm and rate) and the wish wall
shared with volunteers: both languages, forms that keep input, refusals in the page's language."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.world import World

LANGS = ["zh", "en"]


def local_input(world: World, moment: datetime) -> str:
    return moment.astimezone(world.settings.tz).strftime("%Y-%m-%dT%H:%M")


def order_form(world: World, **overrides: Any) -> dict[str, Any]:
    start = world.now + timedelta(days=1)
    form = {
        "category": "shopping",
        "description": "帮忙买两袋米",
        "area_id": str(world.areas["c1_building"].id),
        "address_detail": "3单元502",
        "window_start": local_input(world, start),
        "window_end": local_input(world, start + timedelta(hours=2)),
        "urgency": "urgent",
    }
    form.update(overrides)
    return form


def wish_form(world: World, **overrides: Any) -> dict[str, Any]:
    form = {
        "title": "一副老花镜",
        "description": "+2.5 度",
        "value_yuan": "60",
        "deadline": local_input(world, world.now + timedelta(days=7)),
    }
    form.update(overrides)
    return form


async def api_orders(client: AsyncTestClient, world: World, who: str = "resident") -> list[dict[str, Any]]:
    r = await client.get("/api/orders", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def post_order(client: AsyncTestClient, world: World) -> int:
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def completed_order(client: AsyncTestClient, world: World) -> int:
    """An order of "resident" served by "volunteer" and waiting for the resident's confirmation."""
    order_id = await post_order(client, world)
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer")], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    offer = (await client.get("/api/offers", headers=world.auth("volunteer"))).json()["items"][0]
    steps = [f"/api/offers/{offer['id']}/accept"] + [
        f"/api/orders/{order_id}/{step}" for step in ("check-in", "check-out", "complete")
    ]
    for path in steps:
        r = await client.post(path, json={}, headers=world.auth("volunteer"))
        assert r.status_code == 200, r.text
    return order_id


async def api_wish(client: AsyncTestClient, world: World, wish_id: int, who: str) -> dict[str, Any]:
    r = await client.get(f"/api/wishes/{wish_id}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def post_wish(
    client: AsyncTestClient, world: World, who: str = "resident", title: str = "A kettle"
) -> int:
    body = {"title": title, "value_yuan": 80, "deadline": (world.now + timedelta(days=3)).isoformat()}
    r = await client.post("/api/wishes", json=body, headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


# Every page, both languages ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_every_resident_page_renders_in_both_languages(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("resident", lang)
    empty = await browser.get("/r/orders")
    assert empty.status_code == 200
    assert translate(lang, "resident.orders_empty") in empty.text
    assert 'href="/r/orders/new"' in empty.text

    waiting = await post_order(client, world)
    done = await completed_order(client, world)
    wish_id = await post_wish(client, world)
    pages = {
        "/r/orders": "resident.orders_title",
        "/r/orders/new": "resident.new_order_title",
        f"/r/orders/{waiting}": "resident.cancel",
        f"/r/orders/{done}": "resident.confirm_title",
        "/r/wishes": "wishes.wall_title",
        "/r/wishes?show=mine": "wishes.filter_mine",
        "/r/wishes/new": "wishes.new_title",
        f"/r/wishes/{wish_id}": "wishes.action_withdraw",
    }
    for path, key in pages.items():
        r = await browser.get(path)
        assert r.status_code == 200, (path, r.text)
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in r.text
        assert translate(lang, key) in r.text, path

    listing = (await browser.get("/r/orders")).text
    assert translate(lang, "order_status.submitted") in listing
    assert translate(lang, "order_status.completed") in listing
    assert ("陪同就医" if lang == "zh" else "Escort") in listing, "the category in the page's language"
    detail = (await browser.get(f"/r/orders/{done}")).text
    assert translate(lang, "order_action.check_in") in detail, "the timeline"
    assert "Volunteer" in detail and "13900000001" in detail, "the volunteer who serves"


@pytest.mark.parametrize("lang", LANGS)
async def test_the_wish_wall_is_the_volunteers_too(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    wish_id = await post_wish(client, world)
    browser.login("volunteer", lang)
    wall = await browser.get("/r/wishes")
    assert wall.status_code == 200
    assert f'action="/r/wishes/{wish_id}/claim"' in wall.text
    assert translate(lang, "wishes.filter_claimed") in wall.text
    assert translate(lang, "wishes.post") not in wall.text, "volunteers do not post wishes"
    assert "R*******" in wall.text and "13700000001" not in wall.text, "the resident is masked"
    page = await browser.get(f"/r/wishes/{wish_id}")
    assert page.status_code == 200
    assert translate(lang, "wishes.action_claim") in page.text
    assert translate(lang, "wish_action.post") in page.text


# Posting an order -------------------------------------------------------------------------------


async def test_the_order_form_suggests_tomorrow_morning_at_home(browser: Browser, world: World) -> None:
    browser.login("resident")
    r = await browser.get("/r/orders/new")
    tomorrow = (world.now + timedelta(days=1)).astimezone(world.settings.tz).strftime("%Y-%m-%d")
    assert f'value="{tomorrow}T09:00"' in r.text and f'value="{tomorrow}T11:00"' in r.text
    home = world.areas["c1_building"].id
    assert f'<option value="{home}" selected>Garden 1 · Building 1</option>' in r.text
    assert "Garden 2" not in r.text, "only the resident's own community"


async def test_posting_an_order_through_the_form_creates_it(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    browser.login("resident", "en")
    form = order_form(world)
    r = await browser.post("/r/orders/new", form)
    assert r.status_code == 303, r.text
    (order,) = await api_orders(client, world)
    assert r.headers["location"] == f"/r/orders/{order['id']}?notice=resident_order_posted"
    assert (order["category"], order["description"], order["urgency"]) == (
        "shopping",
        "帮忙买两袋米",
        "urgent",
    )
    assert order["address_detail"] == "3单元502"
    assert local_input(world, datetime.fromisoformat(order["window_start"])) == form["window_start"]
    assert local_input(world, datetime.fromisoformat(order["window_end"])) == form["window_end"]
    shown = await browser.get(r.headers["location"])
    assert translate("en", "notice.resident_order_posted") in shown.text
    assert translate("en", "order_action.post") in shown.text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("change", "field", "key"),
    [
        ({"description": ""}, "description", "form.required"),
        ({"category": ""}, "category", "form.required"),
        ({"category": "juggling"}, "category", "error.unknown_category"),
        ({"area_id": "c2_building"}, "area_id", "error.outside_your_community"),
        ({"window_end": -1}, "window_end", "error.invalid_window"),
        ({"window_start": -50, "window_end": -48}, "window_start", "error.window_in_past"),
    ],
)
async def test_invalid_orders_show_the_error_next_to_the_field_and_create_nothing(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    lang: str,
    change: dict[str, Any],
    field: str,
    key: str,
) -> None:
    browser.login("resident", lang)
    form = order_form(world)
    for name, value in change.items():
        if isinstance(value, int):  # hours from now
            value = local_input(world, world.now + timedelta(hours=value))
        elif name == "area_id":
            value = str(world.areas[value].id)
        form[name] = value
    r = await browser.post("/r/orders/new", form)
    assert r.status_code in (400, 403), r.text
    assert field_errors(r.text) == {field: translate(lang, key)}
    assert form["description"] in r.text, "what was typed is kept"
    assert f'value="{form["window_start"]}"' in r.text
    assert await api_orders(client, world) == []


# Following, cancelling, confirming ---------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_confirm_and_rate_a_completed_order_once(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order_id = await completed_order(client, world)
    browser.login("resident", lang)
    page = await browser.get(f"/r/orders/{order_id}")
    assert 'class="stars"' in page.text and 'name="rating" value="5"' in page.text

    r = await browser.post(f"/r/orders/{order_id}/confirm", {"comment": "很及时"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"rating": translate(lang, "form.required")}
    assert "很及时" in r.text

    r = await browser.post(f"/r/orders/{order_id}/confirm", {"rating": "4", "comment": "很及时"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/r/orders/{order_id}?notice=resident_order_confirmed"
    (order,) = await api_orders(client, world)
    assert (order["status"], order["rating"], order["comment"]) == ("confirmed", 4, "很及时")
    page = await browser.get(r.headers["location"])
    assert translate(lang, "notice.resident_order_confirmed") in page.text
    assert "★★★★<" in page.text and 'class="stars"' not in page.text

    again = await browser.post(f"/r/orders/{order_id}/confirm", {"rating": "1"})
    assert again.status_code == 409
    assert translate(lang, "error.illegal_transition") in again.text
    assert (await api_orders(client, world))[0]["rating"] == 4


async def test_cancelling_needs_a_reason_and_only_before_service(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    order_id = await post_order(client, world)
    browser.login("resident", "en")
    r = await browser.post(f"/r/orders/{order_id}/cancel", {"reason": ""})
    assert r.status_code == 400
    assert field_errors(r.text) == {"reason": translate("en", "form.required")}
    assert '<details class="card" open>' in r.text, "the reason box stays open"
    assert (await api_orders(client, world))[0]["status"] == "submitted"

    r = await browser.post(f"/r/orders/{order_id}/cancel", {"reason": "My son came home"})
    assert r.headers["location"] == f"/r/orders/{order_id}?notice=resident_order_cancelled"
    assert (await api_orders(client, world))[0]["status"] == "cancelled"
    page = (await browser.get(f"/r/orders/{order_id}")).text
    assert "My son came home" in page and translate("en", "resident.cancel") not in page


@pytest.mark.parametrize("lang", LANGS)
async def test_another_resident_cannot_see_or_touch_the_order(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order_id = await completed_order(client, world)
    browser.login("resident_b", lang)
    r = await browser.get(f"/r/orders/{order_id}")
    assert r.status_code == 404
    assert translate(lang, "error.order_not_found") in r.text
    assert "Take me to the hospital" not in r.text
    r = await browser.post(f"/r/orders/{order_id}/confirm", {"rating": "1"})
    assert r.status_code == 404
    assert (await browser.get("/r/orders")).text.count('class="cover"') == 0
    assert (await api_orders(client, world))[0]["status"] == "completed"


@pytest.mark.parametrize(
    ("name", "path"),
    [("grid_worker", "/r/orders/new"), ("volunteer", "/r/orders"), ("unit_admin", "/r/wishes")],
)
async def test_roles_without_the_page_get_403(browser: Browser, name: str, path: str) -> None:
    browser.login(name, "en")
    r = await browser.get(path)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert translate("en", "error.title") in r.text


# Micro-wishes ------------------------------------------------------------------------------------


async def test_post_a_wish_and_a_volunteer_claims_it(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    browser.login("resident", "zh")
    r = await browser.post("/r/wishes/new", wish_form(world))
    assert r.status_code == 303, r.text
    wish_id = int(r.headers["location"].split("/")[-1].split("?")[0])
    assert r.headers["location"].endswith("?notice=wishes_posted")
    wish = await api_wish(client, world, wish_id, "resident")
    assert (wish["title"], wish["value_yuan"], wish["status"]) == ("一副老花镜", 60, "open")
    mine = await browser.get("/r/wishes?show=mine")
    assert "一副老花镜" in mine.text
    assert f'action="/r/wishes/{wish_id}/claim"' not in mine.text, "no one claims their own wish"

    browser.login("volunteer", "en")
    r = await browser.post(f"/r/wishes/{wish_id}/claim")
    assert r.headers["location"] == f"/r/wishes/{wish_id}?notice=wishes_claimed"
    wish = await api_wish(client, world, wish_id, "volunteer")
    assert (wish["status"], wish["claimer"]["id"]) == ("claimed", world.id("volunteer"))
    page = await browser.get(r.headers["location"])
    assert translate("en", "notice.wishes_claimed") in page.text
    assert translate("en", "wishes.action_fulfil") in page.text
    assert "13700000001" in page.text, "the claimer sees whom to contact"
    claimed = await browser.get("/r/wishes?show=claimed")
    assert "一副老花镜" in claimed.text

    browser.login("volunteer_b", "en")
    r = await browser.post(f"/r/wishes/{wish_id}/claim")
    assert r.status_code == 409
    assert translate("en", "error.illegal_transition") in r.text


async def test_a_wish_goes_from_claimed_to_confirmed_on_its_page(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    wish_id = await post_wish(client, world)
    browser.login("volunteer", "en")
    assert (await browser.post(f"/r/wishes/{wish_id}/claim")).status_code == 303
    assert (await browser.post(f"/r/wishes/{wish_id}/fulfil")).status_code == 303
    browser.login("resident", "en")
    page = await browser.get(f"/r/wishes/{wish_id}")
    assert translate("en", "wishes.action_confirm") in page.text
    r = await browser.post(f"/r/wishes/{wish_id}/confirm")
    assert r.headers["location"] == f"/r/wishes/{wish_id}?notice=wishes_confirmed"
    assert (await api_wish(client, world, wish_id, "resident"))["status"] == "confirmed"


@pytest.mark.parametrize("lang", LANGS)
async def test_invalid_wishes_show_errors_next_to_fields_and_post_nothing(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("resident", lang)
    past = local_input(world, world.now - timedelta(days=1))
    r = await browser.post("/r/wishes/new", wish_form(world, title="", value_yuan="0"))
    assert r.status_code == 400
    assert field_errors(r.text) == {
        "title": translate(lang, "form.required"),
        "value_yuan": translate(lang, "form.out_of_range"),
    }
    assert "+2.5 度" in r.text, "what was typed is kept"
    r = await browser.post("/r/wishes/new", wish_form(world, deadline=past))
    assert field_errors(r.text) == {"deadline": translate(lang, "error.deadline_in_past")}
    assert f'value="{past}"' in r.text
    listing = await client.get("/api/wishes?posted_by_me=true", headers=world.auth("resident"))
    assert listing.json()["total"] == 0


async def test_the_wish_limit_is_shown_translated(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    for n in range(5):
        await post_wish(client, world, title=f"Wish {n}")
    browser.login("resident", "zh")
    r = await browser.post("/r/wishes/new", wish_form(world))
    assert r.status_code == 409
    assert translate("zh", "error.too_many_wishes") in r.text
    assert "一副老花镜" in r.text


async def test_the_wall_is_the_communitys_own(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await post_wish(client, world, "resident", "Ours")
    await post_wish(client, world, "resident_c2", "Theirs")
    browser.login("resident_b", "en")
    wall = (await browser.get("/r/wishes")).text
    assert "Ours" in wall and "Theirs" not in wall
    browser.login("grid_worker", "en")
    wall = await browser.get("/r/wishes")
    assert wall.status_code == 200 and "Ours" in wall.text and "/claim" not in wall.text


async def test_my_orders_lists_only_what_i_asked_for_though_i_volunteer_too(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    """Someone who is both resident and volunteer sees the orders they posted in their list, not
    the ones they hold or were offered as a volunteer."""
    asked, mine = [
        (await client.post("/api/orders", json=world.order_body(who), headers=world.auth(who))).json()["id"]
        for who in ("resident", "vol_resident")
    ]
    r = await client.post(
        f"/api/orders/{asked}/dispatch",
        json={"volunteer_ids": [world.id("vol_resident")], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    browser.login("vol_resident")

    page = (await browser.get("/r/orders")).text

    assert f'href="/r/orders/{mine}"' in page
    assert f'href="/r/orders/{asked}"' not in page

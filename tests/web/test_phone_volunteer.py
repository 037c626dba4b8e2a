"""The volunteer's phone pages: offers (live, over server-sent events), tasks, points, rewards."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.auth.tokens import TOKEN_COOKIE, issue_token
from market.clock import FrozenClock
from market.ledger.models import AccountKind, Asset
from market.ledger.service import area_account, member_account
from market.settings import Settings
from market.web import live, phone_volunteer
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.world import World

LANGS = ["zh", "en"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Short offer streams that poll often, so that a test sees a change within a second.
    return replace(settings, offer_stream_seconds=4, offer_stream_poll_seconds=0.1)


def text(lang: str, key: str, **values: object) -> str:
    """A catalogue text as the page shows it (escaped)."""
    return str(escape(translate(lang, key, **values)))


async def post_order(
    client: AsyncTestClient, world: World, resident: str = "resident", **overrides: object
) -> int:
    r = await client.post(
        "/api/orders", json=world.order_body(resident, **overrides), headers=world.auth(resident)
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def offer(
    client: AsyncTestClient, world: World, *volunteers: str, mode: str = "direct", **overrides: object
) -> tuple[int, dict[str, int]]:
    """An order of the resident, offered to `volunteers`: its id and each volunteer's offer id."""
    order_id = await post_order(client, world, **overrides)
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id(v) for v in volunteers], "mode": mode},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    by_id = {o["volunteer_id"]: o["id"] for o in r.json()["offers"]}
    return order_id, {v: by_id[world.id(v)] for v in volunteers}


async def accepted(client: AsyncTestClient, world: World, volunteer: str = "volunteer") -> int:
    order_id, offers = await offer(client, world, volunteer)
    r = await client.post(f"/api/offers/{offers[volunteer]}/accept", headers=world.auth(volunteer))
    assert r.status_code == 200, r.text
    return order_id


async def order_of(client: AsyncTestClient, world: World, order_id: int) -> dict:
    r = await client.get(f"/api/orders/{order_id}", headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    return r.json()


async def offer_status(client: AsyncTestClient, world: World, volunteer: str, offer_id: int) -> str:
    r = await client.get("/api/offers?limit=100", headers=world.auth(volunteer))
    return next(o["status"] for o in r.json()["items"] if o["id"] == offer_id)


async def fund_pool(
    client: AsyncTestClient, session_maker: async_sessionmaker[AsyncSession], world: World, amount: int
) -> int:
    """The street's budget for community 1's pool; the pool's account id."""
    async with session_maker() as session, session.begin():
        issuance = await area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
    r = await client.post(
        "/api/ledger/transfers",
        json={
            "transfers": [
                {
                    "id": "budget-1",
                    "debit_account_id": issuance.id,
                    "credit_account_id": pool.id,
                    "amount": amount,
                    "code": "budget",
                }
            ]
        },
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    return pool.id


async def give_points(
    client: AsyncTestClient, session_maker: async_sessionmaker[AsyncSession], world: World, amount: int
) -> None:
    """A funded pool, and a manager's adjustment of `amount` points from it to the volunteer."""
    pool = await fund_pool(client, session_maker, world, 10_000)
    async with session_maker() as session, session.begin():
        mine = await member_account(session, world.id("volunteer"))
    r = await client.post(
        "/api/ledger/transfers",
        json={
            "transfers": [
                {
                    "id": "give-1",
                    "debit_account_id": pool,
                    "credit_account_id": mine.id,
                    "amount": amount,
                    "code": "adjustment",
                    "reason": "correction",
                    "memo": "points for the tests",
                }
            ]
        },
        headers=world.auth("manager"),
    )
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


async def publish_reward(client: AsyncTestClient, world: World, price: int = 30, stock: int = 5) -> int:
    r = await client.post(
        "/api/rewards",
        json={
            "name": "Rice, 5 kg",
            "price": price,
            "stock": stock,
            "pickup_place": "Community 1 service centre",
            "valid_until": (world.now + timedelta(days=30)).isoformat(),
            "community_ids": [world.areas["c1"].id],
            "limit_per_person": 2,
            "donor": "Grain shop",
        },
        headers=world.auth("unit_admin"),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def redemption_of(client: AsyncTestClient, world: World, redemption_id: int) -> dict:
    r = await client.get(f"/api/redemptions/{redemption_id}", headers=world.auth("volunteer"))
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------- every page, both languages


@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_renders_in_both_languages(
    browser: Browser, client: AsyncTestClient, world: World, session_maker, lang: str
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world)
    await offer(client, world, "volunteer", urgency="urgent")
    await accepted(client, world)
    r = await client.post("/api/redemptions", json={"reward_id": reward_id}, headers=world.auth("volunteer"))
    assert r.status_code == 201, r.text
    redemption_id = r.json()["id"]
    browser.login("volunteer", lang)

    pages = {
        "/v/offers": ["volunteer.offers_title", "volunteer.accept", "urgency.urgent"],
        "/v/tasks": ["volunteer.tasks_title", "volunteer.check_in", "order_status.accepted"],
        "/v/points": ["volunteer.points_title", "volunteer.available", "transfer_code.adjustment"],
        "/v/rewards": ["volunteer.rewards_title", "volunteer.redeem", "volunteer.affordable"],
        "/v/rewards?show=mine": ["volunteer.tab_mine", "redemption_status.pending"],
        f"/v/redemptions/{redemption_id}": ["volunteer.show_at_counter", "volunteer.pickup_deadline"],
    }
    for path, keys in pages.items():
        r = await browser.get(path)
        assert r.status_code == 200, (path, r.text)
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in r.text
        for key in keys:
            assert text(lang, key) in r.text, (path, key)


@pytest.mark.parametrize("path", ["/v/offers", "/v/tasks", "/v/points", "/v/rewards", "/v/offers/stream"])
async def test_a_resident_may_not_use_the_volunteer_pages(browser: Browser, path: str) -> None:
    browser.login("resident", "en")
    r = await browser.get(path)
    assert r.status_code == 403
    assert text("en", "error.role_required") in r.text


async def test_the_pages_ask_for_a_login(browser: Browser) -> None:
    r = await browser.get("/v/offers", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=%2Fv%2Foffers")


# ---------------------------------------------------------------- offers


async def test_an_offer_shows_the_masked_order_and_its_time_left(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await offer(client, world, "volunteer")
    r = await browser.login("volunteer", "en").get("/v/offers")
    assert "Garden 1" in r.text, "the compound, not the building"
    assert "Unit 2, Room 502" not in r.text and "13700000001" not in r.text
    # The countdown starts from the seconds the service's clock leaves, not from the phone's clock.
    ttl = world.settings.offer_ttl_minutes * 60
    assert re.search(rf'<time class="countdown" datetime="[^"]+" data-countdown="{ttl}"', r.text)
    assert 'data-stream="/v/offers/stream"' in r.text and 'src="/static/live.js" defer' in r.text


async def test_accepting_from_the_page_assigns_the_order(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    order_id, offers = await offer(client, world, "volunteer")
    browser.login("volunteer", "zh")

    r = await browser.post(f"/v/offers/{offers['volunteer']}/accept")

    assert (r.status_code, r.headers["location"]) == (303, "/v/tasks?notice=volunteer_offer_accepted")
    order = await order_of(client, world, order_id)
    assert (order["status"], order["volunteer"]["id"]) == ("accepted", world.id("volunteer"))
    tasks = await browser.get(r.headers["location"])
    assert text("zh", "notice.volunteer_offer_accepted") in tasks.text
    assert "Garden 1 · Building 1 · Unit 2, Room 502" in tasks.text, "the whole address once accepted"
    assert "13700000001" in tasks.text


@pytest.mark.parametrize("lang", LANGS)
async def test_a_pool_offer_taken_by_another_volunteer_says_so(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order_id, offers = await offer(client, world, "volunteer", "volunteer_b", mode="pool")
    r = await client.post(f"/api/offers/{offers['volunteer_b']}/accept", headers=world.auth("volunteer_b"))
    assert r.status_code == 200, r.text
    browser.login("volunteer", lang)

    r = await browser.post(f"/v/offers/{offers['volunteer']}/accept")

    assert r.status_code == 409
    assert text(lang, "error.order_taken") in r.text
    assert f'id="offer-{offers["volunteer"]}"' not in r.text, "the taken offer is gone from the list"
    assert (await order_of(client, world, order_id))["volunteer"]["id"] == world.id("volunteer_b")


async def test_declining_needs_a_reason_then_declines(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    _, offers = await offer(client, world, "volunteer")
    offer_id = offers["volunteer"]
    browser.login("volunteer", "en")

    r = await browser.post(f"/v/offers/{offer_id}/decline", {"reason": "   "})

    assert r.status_code == 400
    assert field_errors(r.text) == {f"reason-{offer_id}": translate("en", "form.required")}
    assert '<details class="decline" open>' in r.text, "the form stays open with its error"
    assert await offer_status(client, world, "volunteer", offer_id) == "pending"

    r = await browser.post(f"/v/offers/{offer_id}/decline", {"reason": "Away that day"})

    assert (r.status_code, r.headers["location"]) == (303, "/v/offers?notice=volunteer_offer_declined")
    declined = (await client.get("/api/offers?status=declined", headers=world.auth("volunteer"))).json()
    assert [(o["id"], o["decline_reason"]) for o in declined["items"]] == [(offer_id, "Away that day")]
    page = await browser.get(r.headers["location"])
    assert text("en", "notice.volunteer_offer_declined") in page.text
    assert text("en", "volunteer.offers_empty") in page.text


async def test_a_decline_reason_too_long_is_kept_and_refused(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    _, offers = await offer(client, world, "volunteer")
    offer_id = offers["volunteer"]
    long = "x" * 501

    r = await browser.login("volunteer", "zh").post(f"/v/offers/{offer_id}/decline", {"reason": long})

    assert r.status_code == 400
    assert field_errors(r.text) == {f"reason-{offer_id}": translate("zh", "form.too_long", max=500)}
    assert f">{long}</textarea>" in r.text
    assert await offer_status(client, world, "volunteer", offer_id) == "pending"


def action(html: str, path: str) -> str:
    """The action of the page's form that posts to `path`, with its query."""
    found = re.search(rf'action="({re.escape(path)}[^"]*)"', html)
    assert found, path
    return found[1].replace("&amp;", "&")


async def test_a_refused_decline_on_the_second_page_stays_on_it(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    # Residents of community 1 in turn: each may have only so many orders open at once.
    for i in range(phone_volunteer.PAGE_SIZE + 1):
        await offer(client, world, "volunteer", resident=("resident", "resident_b", "vol_resident")[i % 3])
    browser.login("volunteer", "en")
    second = await browser.get("/v/offers?offset=20")
    (offer_id,) = [int(i) for i in re.findall(r'id="offer-(\d+)"', second.text)]

    r = await browser.post(action(second.text, f"/v/offers/{offer_id}/decline"), {"reason": "x" * 501})

    assert r.status_code == 400
    assert field_errors(r.text) == {f"reason-{offer_id}": translate("en", "form.too_long", max=500)}
    assert f">{'x' * 501}</textarea>" in r.text, "what was typed is kept"
    assert 'data-stream="/v/offers/stream?offset=20"' in r.text, "the page streams the same page"
    assert await offer_status(client, world, "volunteer", offer_id) == "pending"


async def test_declining_from_the_page_passes_the_order_on_in_an_auto_dispatch_community(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    r = await client.put(
        f"/api/dispatch/auto/{world.areas['c1'].id}", json={"enabled": True}, headers=world.auth("manager")
    )
    assert r.status_code == 200, r.text
    order_id, offers = await offer(client, world, "volunteer")

    r = await browser.login("volunteer", "en").post(
        f"/v/offers/{offers['volunteer']}/decline", {"reason": "Away that day"}
    )

    assert r.status_code == 303, r.text
    detail = await order_of(client, world, order_id)
    pending = [o["volunteer_id"] for o in detail["offers"] if o["status"] == "pending"]
    assert detail["status"] == "dispatched" and len(pending) == 1 and pending != [world.id("volunteer")]


# ---------------------------------------------------------------- tasks and points


@pytest.mark.parametrize("lang", LANGS)
async def test_serving_from_the_task_page_then_points_after_confirmation(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    await fund_pool(client, session_maker, world, 1000)
    r = await client.put(
        f"/api/ledger/policies/{world.areas['c1'].id}",
        json={"default_rate": 10, "expiry": "end_of_next_year"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    order_id = await accepted(client, world)
    browser.login("volunteer", lang)

    # Out of order: completing before checking in is refused, and nothing changes.
    r = await browser.post(f"/v/tasks/{order_id}/complete", {"note": "done"})
    assert r.status_code == 409
    assert text(lang, "error.illegal_transition") in r.text
    assert (await order_of(client, world, order_id))["status"] == "accepted"

    r = await browser.post(f"/v/tasks/{order_id}/check-in")
    assert r.headers["location"] == "/v/tasks?notice=volunteer_checked_in"
    assert (await order_of(client, world, order_id))["status"] == "in_service"
    page = await browser.get("/v/tasks")
    # Check-out and complete are one button on the phone.
    assert text(lang, "volunteer.finish") in page.text and f"/v/tasks/{order_id}/check-out" not in page.text

    clock.advance(timedelta(hours=2))
    r = await browser.post(f"/v/tasks/{order_id}/complete", {"note": "x" * 501})
    assert r.status_code == 400
    assert field_errors(r.text) == {f"note-{order_id}": translate(lang, "form.too_long", max=500)}
    refused = await order_of(client, world, order_id)
    assert (refused["status"], refused["checked_out_at"]) == ("in_service", None)

    r = await browser.post(f"/v/tasks/{order_id}/complete", {"note": "Back home safely"})
    assert r.headers["location"] == "/v/tasks?notice=volunteer_completed"
    order = await order_of(client, world, order_id)
    assert order["status"] == "completed"
    assert [e["action"] for e in order["events"][-2:]] == ["check_out", "complete"]
    assert order["events"][-1]["note"] == "Back home safely"
    assert order["checked_out_at"] == order["completed_at"] and order["service_hours"] == 2.0

    r = await client.post(
        f"/api/orders/{order_id}/confirm",
        json={"rating": 5, "comment": "thanks"},
        headers=world.auth("resident"),
    )
    assert r.status_code == 200, r.text
    assert order_id not in [
        int(i) for i in re.findall(r'id="task-(\d+)"', (await browser.get("/v/tasks")).text)
    ], "a confirmed order is no longer a task"

    page = await browser.get("/v/points")
    assert page.status_code == 200
    assert '<div class="stat" id="available">20</div>' in page.text
    assert text(lang, "transfer_code.service_reward") in page.text and "+20" in page.text
    # Under the policy, what is earned this year expires when the year after next begins (local time).
    expiry = f"{clock().astimezone(world.settings.tz).year + 2}-01-01 00:00"
    assert text(lang, "volunteer.expiring_row", time=expiry, amount=20) in page.text

    # How the reward was reckoned, as it was stored on confirmation.
    page = await browser.get("/v/points?show=served")
    assert text(lang, "volunteer.reward_sum", counted=2.0, rate=10, points=20) in page.text


async def test_the_points_history_is_paginated_newest_first(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, session_maker
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world, price=1)
    # After the adjustment, ten redemptions cancelled: each a hold and its release, 21 entries in all.
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        r = await client.post(
            "/api/redemptions", json={"reward_id": reward_id}, headers=world.auth("volunteer")
        )
        assert r.status_code == 201, r.text
        r = await client.post(f"/api/redemptions/{r.json()['id']}/cancel", headers=world.auth("volunteer"))
        assert r.status_code == 200, r.text
    browser.login("volunteer", "en")

    first = await browser.get("/v/points")
    second = await browser.get("/v/points?offset=20")

    assert first.status_code == second.status_code == 200
    assert 'href="/v/points?offset=20"' in first.text
    assert text("en", "transfer_code.adjustment") not in first.text, "the oldest entry comes last"
    assert text("en", "transfer_code.adjustment") in second.text and "+100" in second.text
    assert first.text.count(text("en", "pending_status.voided")) == 20


# ---------------------------------------------------------------- rewards and pickup codes


@pytest.mark.parametrize("lang", LANGS)
async def test_redeeming_shows_the_pickup_code_large_and_as_a_qr_code(
    browser: Browser, client: AsyncTestClient, world: World, session_maker, lang: str
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world, price=30)
    browser.login("volunteer", lang)

    r = await browser.post(f"/v/rewards/{reward_id}/redeem", {"quantity": "2"})

    assert r.status_code == 303, r.text
    redemption_id = int(
        re.fullmatch(r"/v/redemptions/(\d+)\?notice=volunteer_redeemed", r.headers["location"])[1]
    )
    redemption = await redemption_of(client, world, redemption_id)
    assert (redemption["status"], redemption["quantity"], redemption["points"]) == ("pending", 2, 60)
    page = await browser.get(r.headers["location"])
    assert f'<p class="big-code" id="pickup-code">{redemption["pickup_code"]}</p>' in page.text
    assert '<svg viewBox="' in page.text and 'class="qr"' in page.text
    assert text(lang, "notice.volunteer_redeemed") in page.text
    assert "Community 1 service centre" in page.text
    rewards = await browser.get("/v/rewards")
    assert text(lang, "volunteer.you_have", n=40) in rewards.text


@pytest.mark.parametrize(
    ("quantity", "code", "error"),
    [
        ("abc", None, "form.invalid"),
        ("0", None, "form.out_of_range"),
        ("3", "limit_per_person_reached", "error.limit_per_person_reached"),
        ("2", "exceeds_credits", "error.exceeds_credits"),
    ],
)
async def test_a_refused_redemption_says_why_next_to_the_quantity(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker,
    quantity: str,
    code: str | None,
    error: str,
) -> None:
    await give_points(client, session_maker, world, 50)
    reward_id = await publish_reward(client, world, price=30)
    browser.login("volunteer", "en")

    r = await browser.post(f"/v/rewards/{reward_id}/redeem", {"quantity": quantity})

    assert r.status_code in (400, 409)
    assert field_errors(r.text) == {f"quantity-{reward_id}": translate("en", error)}
    assert f'value="{quantity}"' in r.text, "what was typed is kept"
    mine = (await client.get("/api/redemptions", headers=world.auth("volunteer"))).json()
    assert mine["total"] == 0


async def test_a_refused_redemption_on_the_second_page_stays_on_it(
    browser: Browser, client: AsyncTestClient, world: World, session_maker
) -> None:
    await give_points(client, session_maker, world, 50)
    for _ in range(phone_volunteer.PAGE_SIZE + 1):
        await publish_reward(client, world, price=30)
    browser.login("volunteer", "en")
    second = await browser.get("/v/rewards?offset=20")
    (reward_id,) = [int(i) for i in re.findall(r'id="reward-(\d+)"', second.text)]

    r = await browser.post(action(second.text, f"/v/rewards/{reward_id}/redeem"), {"quantity": "abc"})

    assert r.status_code == 400
    assert field_errors(r.text) == {f"quantity-{reward_id}": translate("en", "form.invalid")}
    assert 'value="abc"' in r.text, "what was typed is kept"
    assert 'aria-current="page">' + text("en", "volunteer.tab_catalogue") in r.text


async def test_my_redemptions_are_only_mine_for_a_manager_who_volunteers(
    browser: Browser, client: AsyncTestClient, world: World, session_maker
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world)
    r = await client.post("/api/redemptions", json={"reward_id": reward_id}, headers=world.auth("volunteer"))
    assert r.status_code == 201, r.text
    theirs = r.json()["id"]
    async with session_maker() as session, session.begin():
        session.add(UserRole(user_id=world.id("manager"), role=Role.volunteer))
    # The API still lists, to a manager, their own and those they hand out.
    listed = (await client.get("/api/redemptions", headers=world.auth("manager"))).json()
    assert [r["id"] for r in listed["items"]] == [theirs]

    r = await browser.login("manager", "en").get("/v/rewards?show=mine")

    assert r.status_code == 200
    assert f"/v/redemptions/{theirs}" not in r.text
    assert text("en", "volunteer.redemptions_empty") in r.text


async def test_the_catalogue_marks_what_the_volunteer_can_afford(
    browser: Browser, client: AsyncTestClient, world: World, session_maker
) -> None:
    await give_points(client, session_maker, world, 50)
    cheap = await publish_reward(client, world, price=30)
    dear = await publish_reward(client, world, price=80)
    r = await browser.login("volunteer", "zh").get("/v/rewards")

    cheap_item = r.text.split(f'id="reward-{cheap}"')[1].split("</li>")[0]
    dear_item = r.text.split(f'id="reward-{dear}"')[1].split("</li>")[0]
    assert text("zh", "volunteer.affordable") in cheap_item and f"/v/rewards/{cheap}/redeem" in cheap_item
    assert text("zh", "volunteer.points_short", n=30) in dear_item and "/redeem" not in dear_item


async def test_an_out_of_stock_reward_is_refused_in_the_page_language(
    browser: Browser, client: AsyncTestClient, world: World, session_maker
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world, price=10, stock=1)
    r = await client.post("/api/redemptions", json={"reward_id": reward_id}, headers=world.auth("volunteer"))
    assert r.status_code == 201, r.text

    r = await browser.login("volunteer", "zh").post(f"/v/rewards/{reward_id}/redeem", {"quantity": "1"})

    assert r.status_code == 409
    assert field_errors(r.text) == {f"quantity-{reward_id}": translate("zh", "error.out_of_stock")}


async def test_cancelling_a_pending_redemption_gives_the_points_back(
    browser: Browser, client: AsyncTestClient, world: World, session_maker
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world, price=30)
    r = await client.post("/api/redemptions", json={"reward_id": reward_id}, headers=world.auth("volunteer"))
    redemption_id = r.json()["id"]
    browser.login("volunteer", "en")

    r = await browser.post(f"/v/redemptions/{redemption_id}/cancel")

    assert r.headers["location"] == f"/v/redemptions/{redemption_id}?notice=volunteer_redemption_cancelled"
    assert (await redemption_of(client, world, redemption_id))["status"] == "cancelled"
    page = await browser.get(r.headers["location"])
    assert text("en", "redemption_status.cancelled") in page.text
    assert 'id="pickup-code"' not in page.text and "<svg" not in page.text, "no code for a cancelled one"

    again = await browser.post(f"/v/redemptions/{redemption_id}/cancel")
    assert again.status_code == 409
    assert text("en", "error.redemption_not_pending") in again.text


async def test_someone_else_s_redemption_is_not_found(
    browser: Browser, client: AsyncTestClient, world: World, session_maker
) -> None:
    await give_points(client, session_maker, world, 100)
    reward_id = await publish_reward(client, world)
    r = await client.post("/api/redemptions", json={"reward_id": reward_id}, headers=world.auth("volunteer"))
    redemption_id = r.json()["id"]

    r = await browser.login("volunteer_b", "en").get(f"/v/redemptions/{redemption_id}")

    assert r.status_code == 404
    assert text("en", "error.redemption_not_found") in r.text


# ---------------------------------------------------------------- the live offers stream


def events(lines: list[str]) -> list[str]:
    """The data of each complete event in the lines read so far."""
    found, data = [], []
    for line in lines:
        if line.startswith("data: "):
            data.append(line[len("data: ") :])
        elif line == "" and data:
            found.append("\n".join(data))
            data = []
    return found


async def test_a_new_offer_arrives_on_the_stream(
    live_server: str, client: AsyncTestClient, world: World
) -> None:
    token, _ = issue_token(world.settings, world.users["volunteer"], world.clock())
    cookies = {TOKEN_COOKIE: f"Bearer {token}", "lang": "en"}
    lines: list[str] = []
    async with (
        httpx.AsyncClient(base_url=live_server, cookies=cookies, timeout=20) as http,
        http.stream("GET", "/v/offers/stream") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in stream.headers
        reading = aiter(stream.aiter_lines())

        async def until(found: Callable[[str], bool]) -> str:
            while True:
                lines.append(await asyncio.wait_for(anext(reading), timeout=10))
                for data in events(lines):
                    if found(data):
                        return data

        first = await until(lambda data: True)
        assert translate("en", "volunteer.offers_empty") in first, "the current list, at once"
        _, offers = await offer(client, world, "volunteer", description="Carry the shopping upstairs")

        data = await until(lambda data: "Carry the shopping upstairs" in data)

    assert f'id="offer-{offers["volunteer"]}"' in data
    assert f'action="/v/offers/{offers["volunteer"]}/accept"' in data and 'name="_csrf_token"' in data
    assert "retry: 3000" in lines


async def test_a_quiet_stream_sends_heartbeats_and_ends_after_its_time(
    live_server: str, world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.5)
    token, _ = issue_token(world.settings, world.users["volunteer"], world.clock())
    async with httpx.AsyncClient(
        base_url=live_server, cookies={TOKEN_COOKIE: f"Bearer {token}"}, timeout=30
    ) as http:
        started = asyncio.get_running_loop().time()
        r = await http.get("/v/offers/stream")
        took = asyncio.get_running_loop().time() - started

    assert r.status_code == 200
    assert settings.offer_stream_seconds - 0.5 < took < settings.offer_stream_seconds + 3
    lines = r.text.replace("\r\n", "\n").split("\n")
    assert len(events(lines)) == 1, "nothing changed: the list is sent once"
    assert lines.count(": keep-alive") >= 3


async def test_the_stream_s_polls_do_not_wait_for_a_writer(
    live_server: str, world: World, session_maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a poll that took the write lock would wait for every writer (and writers for it)."""
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.2)
    token, _ = issue_token(world.settings, world.users["volunteer"], world.clock())
    cookies = {TOKEN_COOKIE: f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=live_server, cookies=cookies, timeout=20) as http,
        http.stream("GET", "/v/offers/stream") as stream,
    ):
        reading = aiter(stream.aiter_lines())
        async with asyncio.timeout(10):
            while not (await anext(reading)).startswith("data: "):
                pass  # the list, at once
        async with session_maker() as writer, writer.begin():
            # A write transaction left open: on SQLite it holds the database's write lock.
            await writer.execute(update(User).where(User.id == world.id("manager")).values(name="Busy"))
            # The heartbeats come from the polling loop: they keep coming while the writer works.
            for _ in range(3):
                async with asyncio.timeout(2):
                    while await anext(reading) != ": keep-alive":
                        pass

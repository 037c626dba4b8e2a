"""Pages for follow-ups and reopening: the resident marks a complaint and reopens a confirmed order on
its page; the grid worker works through /desk/followups and records outcomes; the desk home counts
follow-ups due and overdue; a community manager sets the sample on /desk/auto-dispatch. Both
languages, refusals in the page's language."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape

from market.clock import FrozenClock
from market.followups.models import FOLLOWUP_DUE_AFTER
from market.orders.service import REOPEN_WINDOW
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.web.test_phone_resident import completed_order, local_input
from tests.world import World

LANGS = ["zh", "en"]


async def api(client: AsyncTestClient, world: World, who: str, path: str) -> dict:
    r = await client.get(path, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def set_sample(client: AsyncTestClient, world: World, percent: int) -> None:
    r = await client.put(
        f"/api/followups/sampling/{world.areas['c1'].id}",
        json={"percent": percent},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text


async def confirmed_order(client: AsyncTestClient, world: World, rating: int) -> int:
    order = await completed_order(client, world)
    r = await client.post(
        f"/api/orders/{order}/confirm", json={"rating": rating}, headers=world.auth("resident")
    )
    assert r.status_code == 200, r.text
    return order


@pytest.mark.parametrize("lang", LANGS)
async def test_a_complaint_ticked_on_the_confirm_form_opens_a_followup(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    await set_sample(client, world, 0)
    order = await completed_order(client, world)
    browser.login("resident", lang)
    page = await browser.get(f"/r/orders/{order}")
    assert translate(lang, "resident.complaint") in page.text

    refused = await browser.post(f"/r/orders/{order}/confirm", {"rating": "5", "complaint": "true"})
    assert refused.status_code == 400
    assert field_errors(refused.text)["comment"] == escape(translate(lang, "error.complaint_needs_comment"))
    assert (await api(client, world, "resident", f"/api/orders/{order}"))["status"] == "completed"

    r = await browser.post(
        f"/r/orders/{order}/confirm", {"rating": "5", "comment": "态度差", "complaint": "true"}
    )

    assert r.status_code == 303, r.text
    (item,) = (await api(client, world, "grid_worker", "/api/followups"))["items"]
    assert (item["order_id"], item["reason"]) == (order, "complaint")


@pytest.mark.parametrize("lang", LANGS)
async def test_the_resident_reopens_a_confirmed_order_from_its_page_within_seven_days(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    order = await confirmed_order(client, world, 2)
    browser.login("resident", lang)
    page = await browser.get(f"/r/orders/{order}")
    assert (
        translate(lang, "resident.reopen") in page.text and f'action="/r/orders/{order}/reopen"' in page.text
    )
    start = clock() + timedelta(days=1)
    form = {
        "window_start": local_input(world, start),
        "window_end": local_input(world, start + timedelta(hours=2)),
    }

    refused = await browser.post(f"/r/orders/{order}/reopen", form)
    assert refused.status_code == 400 and "reason" in field_errors(refused.text)
    r = await browser.post(f"/r/orders/{order}/reopen", {**form, "reason": "水管又漏了"})

    assert r.headers["location"] == f"/r/orders/{order}?notice=resident_order_reopened"
    page = await browser.get(r.headers["location"])
    assert translate(lang, "notice.resident_order_reopened") in page.text
    assert (
        translate(lang, "order_action.reopen") in page.text
        and translate(lang, "resident.reopen") not in page.text
    )
    assert (await api(client, world, "resident", f"/api/orders/{order}"))["status"] == "submitted"


@pytest.mark.parametrize("lang", LANGS)
async def test_after_seven_days_the_page_offers_no_reopen_and_a_late_form_is_refused_in_the_readers_language(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    order = await confirmed_order(client, world, 5)
    clock.advance(REOPEN_WINDOW + timedelta(minutes=1))
    browser.login("resident", lang)

    page = await browser.get(f"/r/orders/{order}")
    assert translate(lang, "resident.reopen") not in page.text
    start = clock() + timedelta(days=1)
    late = await browser.post(
        f"/r/orders/{order}/reopen",
        {"reason": "x", "window_start": local_input(world, start), "window_end": local_input(world, start)},
    )

    assert late.status_code == 409
    assert escape(translate(lang, "error.reopen_window_passed")) in late.text
    assert (await api(client, world, "resident", f"/api/orders/{order}"))["status"] == "confirmed"


@pytest.mark.parametrize("lang", LANGS)
async def test_the_grid_worker_records_an_outcome_on_the_followups_page(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    await set_sample(client, world, 0)
    await confirmed_order(client, world, 1)
    (item,) = (await api(client, world, "grid_worker", "/api/followups"))["items"]
    browser.login("grid_worker", lang)

    home = await browser.get("/desk")
    assert 'id="tile-followups_due" data-count="1"' in home.text
    clock.advance(FOLLOWUP_DUE_AFTER + timedelta(hours=1))
    home = await browser.login("grid_worker", lang).get("/desk")  # a fresh login: the first one has lapsed
    assert 'id="tile-followups_overdue" data-count="1"' in home.text
    page = await browser.get("/desk/followups?status=overdue")
    assert page.status_code == 200
    assert (
        f'id="followup-{item["id"]}"' in page.text
        and translate(lang, "followup_reason.low_rating") in page.text
    )
    assert translate(lang, "followups.overdue") in page.text and world.users["resident"].phone in page.text

    refused = await browser.post(
        f"/desk/followups/{item['id']}/outcome", {"followup": item["id"], "note": "x"}
    )
    assert refused.status_code == 400 and f"outcome-{item['id']}" in field_errors(refused.text)
    path = f"/desk/followups/{item['id']}/outcome"
    form = {"followup": item["id"], "outcome": "unresolved", "note": "会再联系", "status": "overdue"}
    r = await browser.post(path, form)

    assert r.headers["location"] == "/desk/followups?status=overdue&notice=followup_recorded"
    done = await browser.get("/desk/followups?status=done")
    assert translate(lang, "followup_outcome.unresolved") in done.text and "会再联系" in done.text
    again = await browser.post(path, {**form, "outcome": "satisfied"})
    assert (
        again.status_code == 409 and escape(translate(lang, "error.followup_already_recorded")) in again.text
    )
    assert (await api(client, world, "grid_worker", f"/api/followups/{item['id']}"))[
        "outcome"
    ] == "unresolved"


async def test_the_followups_page_shows_only_the_readers_area(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await set_sample(client, world, 0)
    await confirmed_order(client, world, 1)
    (item,) = (await api(client, world, "grid_worker", "/api/followups"))["items"]

    page = await browser.login("grid_worker_c2").get("/desk/followups")
    assert f'id="followup-{item["id"]}"' not in page.text
    r = await browser.post(
        f"/desk/followups/{item['id']}/outcome", {"followup": item["id"], "outcome": "satisfied"}
    )
    assert r.status_code == 404
    assert (await browser.login("resident").get("/desk/followups")).status_code == 403


@pytest.mark.parametrize("lang", LANGS)
async def test_a_community_manager_sets_the_sample_on_the_auto_dispatch_page(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("manager", lang)
    community = world.areas["c1"].id
    page = await browser.get("/desk/auto-dispatch")
    assert translate(lang, "auto.sample") in page.text and f'id="sample-{community}"' in page.text

    bad = await browser.post(f"/desk/auto-dispatch/{community}/sample", {"percent": "150"})
    assert bad.status_code == 400
    r = await browser.post(f"/desk/auto-dispatch/{community}/sample", {"percent": "30"})

    assert r.headers["location"] == "/desk/auto-dispatch?notice=followup_sample_saved"
    assert (await api(client, world, "manager", f"/api/followups/sampling/{community}"))["percent"] == 30

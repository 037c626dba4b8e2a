"""The dispatch desk: the board of waiting, late and escalated orders; plans run, read and
applied from the page; an order dispatched, rejected or cancelled by hand."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.orders.models import EscalationLevel, Order
from market.settings import Settings
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.web.test_desk_projects import add_volunteers
from tests.world import World

LANGS = ["zh", "en"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Short board streams, so that a test reads one whole; room for a second page of orders.
    return replace(
        settings, offer_stream_seconds=1, offer_stream_poll_seconds=0.2, open_orders_per_resident=30
    )


def tr(lang: str, key: str, **values: object) -> str:
    """A catalogue text as the page shows it (escaped)."""
    return str(escape(translate(lang, key, **values)))


async def post_order(
    client: AsyncTestClient, world: World, resident: str = "resident", **body: object
) -> int:
    r = await client.post(
        "/api/orders", json=world.order_body(resident, **body), headers=world.auth(resident)
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def make_late(
    session_maker: async_sessionmaker[AsyncSession],
    world: World,
    order_id: int,
    level: EscalationLevel | None = None,
) -> None:
    """Post the order two hours ago (past the grid's hour), escalated to `level`."""
    values: dict[str, object] = {"created_at": world.now - timedelta(hours=2)}
    if level is not None:
        values |= {"escalation_level": level, "escalated_at": world.now - timedelta(hours=1)}
    async with session_maker() as session, session.begin():
        await session.execute(update(Order).where(Order.id == order_id).values(**values))


def section(html: str, name: str) -> str:
    """The board section shown (the page shows one section at a time)."""
    match = re.search(rf'<section class="card" id="section-{name}".*?</section>', html, re.S)
    assert match, f"section {name} is shown"
    return match.group(0)


def row_ids(html: str, attribute: str = "data-order-id") -> list[int]:
    return [int(i) for i in re.findall(rf'<tr {attribute}="(\d+)"', html)]


async def run_plan(browser: Browser, world: World, area: str = "c1_grid") -> int:
    r = await browser.post("/desk/dispatch/plans", {"area_id": world.areas[area].id})
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/desk/dispatch/plans/(\d+)\?notice=dispatch_plan_made", r.headers["location"])
    assert match, r.headers["location"]
    return int(match[1])


@pytest.mark.parametrize(("name", "lang"), [("grid_worker", "zh"), ("manager", "en"), ("grid_worker", "en")])
async def test_board_lists_waiting_late_and_escalated_orders(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    name: str,
    lang: str,
) -> None:
    fresh = await post_order(client, world)
    late = await post_order(client, world, category="shopping", urgency="urgent")
    escalated = await post_order(client, world, category="repair")
    await post_order(client, world, "resident_c2")
    await make_late(session_maker, world, late)
    await make_late(session_maker, world, escalated, EscalationLevel.grid)
    browser.login(name, lang)

    r = await browser.get("/desk/dispatch")
    assert r.status_code == 200
    assert tr(lang, "dispatch.title") in r.text
    waiting = section(r.text, "waiting")
    assert row_ids(waiting) == [late, escalated, fresh], "oldest first, only this area"
    assert tr(lang, "urgency.urgent") in waiting
    assert (
        'id="run-plan"' in r.text
        and f'value="{world.areas["c1" if name == "manager" else "c1_grid"].id}"' in r.text
    )

    r = await browser.get("/desk/dispatch?section=late")
    assert r.status_code == 200
    assert row_ids(section(r.text, "late")) == [late, escalated]
    assert tr(lang, "dispatch.section_help.late", minutes=60) in r.text

    r = await browser.get("/desk/dispatch?section=escalated")
    escalated_section = section(r.text, "escalated")
    assert row_ids(escalated_section) == [escalated]
    assert tr(lang, "escalation.grid") in escalated_section


async def test_board_keeps_people_inside_their_area(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await post_order(client, world)
    browser.login("grid_worker_c2", "en")
    r = await browser.get(f"/desk/dispatch?area_id={world.areas['c1'].id}")
    assert r.status_code == 403
    assert tr("en", "error.outside_your_area") in r.text
    r = await browser.get("/desk/dispatch")
    assert r.status_code == 200
    assert row_ids(section(r.text, "waiting")) == []
    assert tr("en", "dispatch.empty.waiting") in r.text


@pytest.mark.parametrize("path", ["/desk/dispatch", "/desk/dispatch/plans/1", "/desk/dispatch/orders/1"])
async def test_a_resident_may_not_use_the_desk(browser: Browser, path: str) -> None:
    browser.login("resident", "zh")
    r = await browser.get(path)
    assert r.status_code == 403
    assert tr("zh", "error.role_required") in r.text
    r = await browser.post("/desk/dispatch/plans", {"area_id": 1})
    assert r.status_code == 403


@pytest.mark.parametrize("lang", LANGS)
async def test_a_plan_run_from_the_page_shows_each_pair_and_why(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    orders = [await post_order(client, world), await post_order(client, world, category="shopping")]
    browser.login("grid_worker", lang)
    plan_id = await run_plan(browser, world)

    r = await browser.get(f"/desk/dispatch/plans/{plan_id}?notice=dispatch_plan_made")
    assert r.status_code == 200
    assert tr(lang, "notice.dispatch_plan_made") in r.text
    assert 'id="apply-plan"' in r.text and 'id="apply-selected"' in r.text and 'id="apply-all"' in r.text
    plan = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    assert sorted(p["order_id"] for p in plan["pairs"]) == orders
    assert row_ids(r.text, "data-pair-id") == [p["id"] for p in plan["pairs"]]
    for pair in plan["pairs"]:
        assert f'data-pair-id="{pair["id"]}" data-order-id="{pair["order_id"]}"' in r.text
        assert pair["volunteer_name"] in r.text
        for term, cost in pair["breakdown"].items():
            assert tr(lang, f"dispatch.term.{term}", n=cost) in r.text
        assert tr(lang, f"dispatch.distance.{pair['distance']}") in r.text
    assert tr(lang, "dispatch.unassigned.empty") in r.text

    board = await browser.get("/desk/dispatch")
    assert f'<tr data-plan-id="{plan_id}">' in board.text


async def test_a_plan_shows_why_orders_are_left_without_a_volunteer(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    # The volunteers of tests.world have no "health" skill.
    order = await post_order(client, world, category="health")
    browser.login("grid_worker", "zh")
    plan_id = await run_plan(browser, world)
    r = await browser.get(f"/desk/dispatch/plans/{plan_id}")
    assert row_ids(r.text) == [order]
    assert tr("zh", "dispatch_reason.no_one_with_skill") in r.text
    assert tr("zh", "dispatch.pairs.empty") in r.text
    assert 'id="apply-plan"' not in r.text


@pytest.mark.parametrize("lang", LANGS)
async def test_applying_some_pairs_leaves_the_others_to_apply_later(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    await post_order(client, world)
    await post_order(client, world, category="shopping")
    browser.login("grid_worker", lang)
    plan_id = await run_plan(browser, world)
    plan = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    chosen, left = plan["pairs"]

    r = await browser.post(
        f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "selected", "pair_ids": [chosen["id"]]}
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/desk/dispatch/plans/{plan_id}?notice=dispatch_plan_applied"

    volunteer = next(n for n, u in world.users.items() if u.id == chosen["volunteer_id"])
    offers = (await client.get("/api/offers?status=pending", headers=world.auth(volunteer))).json()["items"]
    assert [o["order_id"] for o in offers] == [chosen["order_id"]]
    detail = (await client.get(f"/api/orders/{left['order_id']}", headers=world.auth("grid_worker"))).json()
    assert (detail["status"], detail["offers"]) == ("submitted", [])

    r = await browser.get(f"/desk/dispatch/plans/{plan_id}")
    assert tr(lang, "dispatch.result.counts", offered=1, skipped=0, left=1) in r.text
    offered = re.search(rf'<tr data-pair-id="{chosen["id"]}"[^>]*>', r.text)
    assert offered and 'data-outcome="offered"' in offered.group(0)
    assert 'id="apply-plan"' in r.text, "the pair left can still be applied"
    assert f'value="{left["id"]}" id="pair-{left["id"]}"' in r.text
    assert f'id="pair-{chosen["id"]}"' not in r.text

    # The same pair again (a second manager's page, say): refused, nothing offered twice.
    r = await browser.post(
        f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "selected", "pair_ids": [chosen["id"]]}
    )
    assert r.status_code == 409
    assert tr(lang, "error.pairs_already_applied") in r.text

    r = await browser.post(f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "all"})
    assert r.status_code == 303
    detail = (await client.get(f"/api/orders/{left['order_id']}", headers=world.auth("grid_worker"))).json()
    assert detail["status"] == "dispatched"
    assert [o["volunteer_id"] for o in detail["offers"]] == [left["volunteer_id"]]
    r = await browser.get(f"/desk/dispatch/plans/{plan_id}")
    assert 'id="apply-plan"' not in r.text, "an applied plan has nothing left to apply"
    assert tr(lang, "dispatch.result.counts", offered=2, skipped=0, left=0) in r.text

    r = await browser.post(f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "all"})
    assert r.status_code == 409
    assert tr(lang, "error.plan_already_applied") in r.text
    offers = (await client.get("/api/offers", headers=world.auth(volunteer))).json()["items"]
    assert len([o for o in offers if o["order_id"] == chosen["order_id"]]) == 1, (
        "applying twice offers nothing more"
    )


@pytest.mark.parametrize("lang", LANGS)
async def test_apply_selected_with_nothing_chosen_says_so_next_to_the_pairs(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    await post_order(client, world)
    browser.login("grid_worker", lang)
    plan_id = await run_plan(browser, world)
    r = await browser.post(f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "selected"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"pair_ids": tr(lang, "dispatch.choose_pairs")}
    assert 'id="apply-plan"' in r.text
    plan = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    assert plan["status"] == "proposed"


async def test_apply_all_names_in_words_why_a_pair_was_skipped(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    kept = await post_order(client, world)
    gone = await post_order(client, world, category="shopping")
    browser.login("grid_worker", "zh")
    plan_id = await run_plan(browser, world)
    r = await client.post(
        f"/api/orders/{gone}/cancel", json={"reason": "不需要了"}, headers=world.auth("resident")
    )
    assert r.status_code == 200

    r = await browser.post(f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "all"})
    assert r.status_code == 303
    r = await browser.get(r.headers["location"])
    assert tr("zh", "notice.dispatch_plan_applied") in r.text
    assert tr("zh", "dispatch.result.counts", offered=1, skipped=1, left=0) in r.text
    cancelled = tr("zh", "order_status.cancelled")
    assert tr("zh", "eligibility.not_waiting_now", status=cancelled) in r.text
    kept_detail = (await client.get(f"/api/orders/{kept}", headers=world.auth("grid_worker"))).json()
    assert kept_detail["status"] == "dispatched"


async def test_another_communitys_grid_worker_cannot_see_or_apply_a_plan(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    order = await post_order(client, world)
    r = await client.post(
        "/api/dispatch/plans", json={"area_id": world.areas["c1_grid"].id}, headers=world.auth("grid_worker")
    )
    plan_id = r.json()["id"]
    browser.login("grid_worker_c2", "en")
    r = await browser.get(f"/desk/dispatch/plans/{plan_id}")
    assert r.status_code == 404
    assert tr("en", "error.plan_not_found") in r.text
    assert "data-pair-id" not in r.text
    r = await browser.post(f"/desk/dispatch/plans/{plan_id}/apply", {"scope": "all"})
    assert r.status_code == 404
    r = await browser.get(f"/desk/dispatch/orders/{order}")
    assert r.status_code == 404
    r = await browser.post("/desk/dispatch/plans", {"area_id": world.areas["c1_grid"].id})
    assert r.status_code == 403
    plan = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    assert plan["status"] == "proposed"


@pytest.mark.parametrize("lang", LANGS)
async def test_the_volunteer_list_says_who_may_not_be_offered_the_order_and_why(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order = await post_order(client, world, "vol_resident")
    browser.login("grid_worker", lang)
    r = await browser.get(f"/desk/dispatch/orders/{order}")
    assert f'<tr data-volunteer-id="{world.id("vol_resident")}" data-not-eligible="is_requester">' in r.text
    assert tr(lang, "eligibility.is_requester") in r.text
    assert f'<tr data-volunteer-id="{world.id("volunteer_b")}">' in r.text


@pytest.mark.parametrize("lang", LANGS)
async def test_dispatch_by_hand_offers_the_order(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order = await post_order(client, world)
    browser.login("grid_worker", lang)
    r = await browser.get(f"/desk/dispatch/orders/{order}")
    assert r.status_code == 200
    volunteer = world.id("volunteer_b")
    assert f'<tr data-volunteer-id="{volunteer}">' in r.text
    assert world.users["resident"].phone in r.text, "the manager sees who ordered"
    assert tr(lang, "order_action.post") in r.text

    r = await browser.post(
        f"/desk/dispatch/orders/{order}/dispatch",
        {"volunteer_ids": [volunteer], "mode": "direct", "offer_ttl_minutes": "15"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/desk/dispatch/orders/{order}?notice=dispatch_order_offered"
    detail = (await client.get(f"/api/orders/{order}", headers=world.auth("grid_worker"))).json()
    assert detail["status"] == "dispatched"
    [offer] = detail["offers"]
    assert (offer["volunteer_id"], offer["mode"], offer["status"]) == (volunteer, "direct", "pending")

    r = await browser.get(r.headers["location"])
    assert tr(lang, "notice.dispatch_order_offered") in r.text
    assert f'data-offer-id="{offer["id"]}"' in r.text
    assert 'id="dispatch-order"' not in r.text
    assert tr(lang, "dispatch.by_hand.closed", status=tr(lang, "order_status.dispatched")) in r.text


async def test_dispatch_to_a_pool(browser: Browser, client: AsyncTestClient, world: World) -> None:
    order = await post_order(client, world)
    browser.login("manager", "en")
    chosen = [world.id("volunteer"), world.id("volunteer_c")]
    r = await browser.post(
        f"/desk/dispatch/orders/{order}/dispatch", {"volunteer_ids": chosen, "mode": "pool"}
    )
    assert r.status_code == 303
    detail = (await client.get(f"/api/orders/{order}", headers=world.auth("manager"))).json()
    assert sorted(o["volunteer_id"] for o in detail["offers"]) == sorted(chosen)
    assert {o["mode"] for o in detail["offers"]} == {"pool"}


@pytest.mark.parametrize("lang", LANGS)
async def test_dispatch_with_nobody_chosen_is_refused_next_to_the_volunteers(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order = await post_order(client, world)
    browser.login("grid_worker", lang)
    r = await browser.post(
        f"/desk/dispatch/orders/{order}/dispatch", {"mode": "pool", "offer_ttl_minutes": "45"}
    )
    assert r.status_code == 400
    assert field_errors(r.text) == {"volunteer_ids": tr(lang, "error.volunteers_or_team")}
    assert 'value="45"' in r.text, "what was typed is kept"
    assert re.search(r'value="pool" id="mode-pool"\s+checked', r.text)

    one = world.id("volunteer")
    r = await browser.post(
        f"/desk/dispatch/orders/{order}/dispatch", {"volunteer_ids": [one], "mode": "pool"}
    )
    assert r.status_code == 400
    assert field_errors(r.text) == {"volunteer_ids": tr(lang, "error.pool_needs_several")}
    assert re.search(rf'value="{one}" id="volunteer-{one}"\s+aria-label="[^"]*" checked', r.text)

    r = await browser.post(
        f"/desk/dispatch/orders/{order}/dispatch", {"volunteer_ids": [one], "offer_ttl_minutes": "0"}
    )
    assert r.status_code == 400
    assert field_errors(r.text) == {"offer_ttl_minutes": tr(lang, "form.out_of_range")}

    detail = (await client.get(f"/api/orders/{order}", headers=world.auth("grid_worker"))).json()
    assert (detail["status"], detail["offers"]) == ("submitted", [])


@pytest.mark.parametrize("lang", LANGS)
async def test_a_bad_hidden_area_is_said_above_the_run_plan_button(browser: Browser, lang: str) -> None:
    browser.login("grid_worker", lang)
    for area, message in (("abc", "form.invalid"), ("", "form.required")):
        r = await browser.post("/desk/dispatch/plans", {"area_id": area})
        assert r.status_code == 400
        assert field_errors(r.text) == {}
        alert = re.search(r'<div class="alert alert-error" role="alert">(.*?)</div>', r.text, re.S)
        assert alert and tr(lang, message) in alert.group(1)


async def test_a_refused_dispatch_shows_the_same_page_of_volunteers(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await add_volunteers(session_maker, world, 21)
    order = await post_order(client, world)
    browser.login("grid_worker", "en")
    page = f"/desk/dispatch/orders/{order}"
    second = row_ids((await browser.get(page, params={"offset": 20})).text, "data-volunteer-id")
    first = row_ids((await browser.get(page)).text, "data-volunteer-id")
    assert len(first) == 20 and second and not set(first) & set(second)

    r = await browser.post(f"{page}/dispatch", {"mode": "direct", "offset": "20"})
    assert r.status_code == 400
    assert row_ids(r.text, "data-volunteer-id") == second
    assert '<input type="hidden" name="offset" value="20">' in r.text
    r = await browser.post(f"{page}/reject", {"reason": "", "offset": "20"})
    assert r.status_code == 400 and row_ids(r.text, "data-volunteer-id") == second
    # An offset that is none starts the list over.
    r = await browser.post(f"{page}/dispatch", {"mode": "direct", "offset": "-1"})
    assert r.status_code == 400 and row_ids(r.text, "data-volunteer-id") == first


@pytest.mark.parametrize("lang", LANGS)
async def test_reject_needs_a_reason_and_a_rejected_order_stays_rejected(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order = await post_order(client, world)
    browser.login("manager", lang)
    r = await browser.post(f"/desk/dispatch/orders/{order}/reject", {"reason": ""})
    assert r.status_code == 400
    assert field_errors(r.text) == {"reason": tr(lang, "form.required")}

    r = await browser.post(f"/desk/dispatch/orders/{order}/reject", {"reason": "重复下单"})
    assert r.status_code == 303
    detail = (await client.get(f"/api/orders/{order}", headers=world.auth("manager"))).json()
    assert detail["status"] == "rejected"
    r = await browser.get(r.headers["location"])
    assert tr(lang, "notice.dispatch_order_rejected") in r.text
    assert "重复下单" in r.text, "the reason is in the history"
    assert 'id="close-order"' not in r.text

    r = await browser.post(f"/desk/dispatch/orders/{order}/cancel", {"reason": "再试一次"})
    assert r.status_code == 409
    assert tr(lang, "error.illegal_transition") in r.text


async def test_cancel_by_hand(browser: Browser, client: AsyncTestClient, world: World) -> None:
    order = await post_order(client, world)
    browser.login("grid_worker", "zh")
    r = await browser.post(f"/desk/dispatch/orders/{order}/cancel", {"reason": "居民电话说不需要了"})
    assert r.status_code == 303
    detail = (await client.get(f"/api/orders/{order}", headers=world.auth("grid_worker"))).json()
    assert detail["status"] == "cancelled"


async def test_the_board_puts_urgent_orders_first_then_the_oldest_with_the_full_place(
    browser: Browser, client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    old = await post_order(client, world, description="Old and normal")
    urgent_new = await post_order(client, world, urgency="urgent")
    new = await post_order(client, world)
    urgent_old = await post_order(client, world, urgency="urgent")
    async with session_maker() as session, session.begin():
        for order, minutes in ((old, 50), (urgent_new, 10), (new, 5), (urgent_old, 30)):
            await session.execute(
                update(Order)
                .where(Order.id == order)
                .values(created_at=world.now - timedelta(minutes=minutes))
            )
    browser.login("manager", "en")
    r = await browser.get("/desk/dispatch")
    waiting = section(r.text, "waiting")
    assert row_ids(waiting) == [urgent_old, urgent_new, old, new]
    building = world.areas["c1_building"]
    path = " › ".join(world.areas[a].name for a in ("c1", "c1_grid", "c1_compound", "c1_building"))
    assert f'<td class="place">{escape(path)}</td>' in waiting, building.name
    assert "Old and normal" in waiting
    assert 'data-stream="/desk/dispatch/stream' in r.text and 'src="/static/live.js"' in r.text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_board_finds_orders_by_text_category_and_grid(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    lamp = await post_order(client, world, description="换灯泡", category="repair")
    shopping = await post_order(client, world, "resident_b", description="买菜", category="shopping")
    browser.login("manager", lang)

    async def found(**query: object) -> list[int]:
        r = await browser.get("/desk/dispatch", params=query)
        assert r.status_code == 200, r.text
        return row_ids(r.text)

    assert await found(q="灯泡") == [lamp]
    assert await found(q=world.users["resident_b"].name) == [shopping], "by the requester's name"
    assert sorted(await found(q=world.areas["c1_compound"].name)) == sorted([lamp, shopping]), "by the place"
    assert await found(category="shopping") == [shopping]
    assert await found(category="shopping", q="灯泡") == []
    r = await browser.get("/desk/dispatch", params={"q": "nothing like it"})
    assert tr(lang, "dispatch.empty.found") in r.text
    assert re.search(r'id="tab-waiting"[^>]*>\s*\S+<span class="count">0</span>', r.text), (
        "counts follow the search"
    )
    assert sorted(await found(grid_id=world.areas["c1_grid"].id)) == sorted([lamp, shopping])
    # A grid of another community is no grid of this area.
    r = await browser.get("/desk/dispatch", params={"grid_id": world.areas["c2_grid"].id})
    assert r.status_code == 404
    r = await browser.get("/desk/dispatch", params={"category": "<script>"})
    assert r.status_code == 400


async def test_the_board_pages_keep_the_filters(
    browser: Browser, client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    ids = [
        await post_order(client, world, "resident" if i % 2 else "resident_b", category="repair")
        for i in range(21)
    ]
    await post_order(client, world, category="shopping")
    browser.login("manager", "en")
    first = await browser.get("/desk/dispatch", params={"category": "repair"})
    assert row_ids(first.text) == ids[:20]
    assert 'href="/desk/dispatch?offset=20&amp;section=waiting&amp;category=repair"' in first.text
    second = await browser.get("/desk/dispatch", params={"category": "repair", "offset": 20})
    assert row_ids(second.text) == ids[20:]


async def test_the_board_stream_sends_the_orders_of_the_area_only(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    mine = await post_order(client, world, description="Mine to dispatch")
    other = await post_order(client, world, "resident_c2", description="Someone else's")
    browser.login("grid_worker", "en")
    r = await browser.get("/desk/dispatch/stream")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert f'data-order-id="{mine}"' in r.text and "Mine to dispatch" in r.text
    assert f'data-order-id="{other}"' not in r.text and "Someone else" not in r.text
    # Another community's area is refused before anything is streamed.
    r = await browser.get("/desk/dispatch/stream", params={"area_id": world.areas["c2"].id})
    assert r.status_code == 403
    assert "text/event-stream" not in r.headers.get("content-type", "")


@pytest.mark.parametrize("lang", LANGS)
async def test_the_plan_page_says_why_and_swaps_a_volunteer(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    order = await post_order(client, world)
    browser.login("grid_worker", lang)
    plan_id = await run_plan(browser, world)
    r = await browser.get(f"/desk/dispatch/plans/{plan_id}")
    plan = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    (pair,) = plan["pairs"]
    assert 'data-why="nearer less_busy"' in r.text
    assert tr(lang, "dispatch.why.nearer") in r.text and tr(lang, "dispatch.why.less_busy") in r.text
    choices = re.search(rf'<select id="swap-volunteer-{pair["id"]}".*?</select>', r.text, re.S)
    assert choices, "a proposed pair offers a swap"
    offered = {int(v) for v in re.findall(r'<option value="(\d+)"', choices.group(0))}
    # The rule's eligible volunteers of the order, but the one proposed.
    eligible = {world.id(n) for n in ("volunteer", "volunteer_b", "volunteer_c", "vol_resident")}
    assert offered == eligible - {pair["volunteer_id"]}

    other = min(offered)
    r = await browser.post(f"/desk/dispatch/plans/{plan_id}/pairs/{pair['id']}/swap", {"volunteer_id": other})
    assert r.status_code == 303
    assert r.headers["location"] == f"/desk/dispatch/plans/{plan_id}?notice=dispatch_pair_swapped"
    r = await browser.get(r.headers["location"])
    assert f'data-pair-id="{pair["id"]}" data-order-id="{order}" data-volunteer-id="{other}"' in r.text

    # Someone not eligible (a forged form: the select never offers them) is refused with the reason.
    r = await browser.post(
        f"/desk/dispatch/plans/{plan_id}/pairs/{pair['id']}/swap", {"volunteer_id": world.id("volunteer_c2")}
    )
    assert r.status_code == 422
    assert tr(lang, "error.volunteer_not_eligible") in r.text
    assert tr(lang, "eligibility.does_not_serve_area") in r.text
    assert f'data-volunteer-id="{other}"' in r.text, "nothing changed"


async def test_another_communitys_grid_worker_cannot_swap(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    await post_order(client, world)
    browser.login("grid_worker", "en")
    plan_id = await run_plan(browser, world)
    plan = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    (pair,) = plan["pairs"]
    browser.login("grid_worker_c2", "en")
    r = await browser.post(
        f"/desk/dispatch/plans/{plan_id}/pairs/{pair['id']}/swap", {"volunteer_id": world.id("volunteer_c2")}
    )
    assert r.status_code == 404
    after = (await client.get(f"/api/dispatch/plans/{plan_id}", headers=world.auth("grid_worker"))).json()
    assert after == plan

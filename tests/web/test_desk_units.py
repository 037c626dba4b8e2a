"""The unit admins' desk: their resource list, commitments and deliveries, the rewards they
published, and handing a redemption out by its pickup code."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, UserRole
from market.auth.tokens import TOKEN_COOKIE, issue_token
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, TransferCode
from market.rewards.models import Redemption, Reward
from market.settings import Settings
from market.units.models import Unit
from market.web import desk_units
from market.web.i18n import translate
from tests.test_units_support import Coop, fund_pool, make_coop, ok, publish, unit_body
from tests.watch import statements
from tests.web.conftest import Browser, field_errors
from tests.world import World

PAGES = [
    "/desk/unit",
    "/desk/unit/resources/new",
    "/desk/unit/commitments",
    "/desk/unit/rewards",
    "/desk/unit/rewards/new",
    "/desk/unit/fulfil",
]


def local(world: World, moment: datetime) -> str:
    """A moment as a datetime-local input holds it."""
    return moment.astimezone(world.settings.tz).strftime("%Y-%m-%dT%H:%M")


async def start_project(
    client: AsyncTestClient, world: World, resource_id: int, quantity: int = 30, title: str = "Winter drive"
) -> dict:
    body = {
        "title": title,
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=10)).isoformat(),
        "commitments": [{"resource_id": resource_id, "quantity": quantity}],
    }
    return ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))


async def project(client: AsyncTestClient, world: World, project_id: int) -> dict:
    return ok(await client.get(f"/api/projects/{project_id}", headers=world.auth("manager")))


async def resources(client: AsyncTestClient, world: World) -> list[dict]:
    return ok(await client.get("/api/resources?limit=100", headers=world.auth("admin")))["items"]


async def give_points(
    session_maker: async_sessionmaker[AsyncSession], world: World, settings: Settings, *names: str
) -> None:
    """100 points from community 1's pool to each of `names`."""
    await fund_pool(session_maker, world, settings)
    async with session_maker() as session, session.begin():
        pool = await ledger.area_account(
            session, world.areas["c1"], AccountKind.community_pool, Asset.service
        )
        drafts = [
            Draft(
                id=f"give-{name}",
                debit_account_id=pool.id,
                credit_account_id=(await ledger.member_account(session, world.id(name))).id,
                amount=100,
                code=TransferCode.adjustment,
                memo="points for the tests",
            )
            for name in names
        ]
        results = await ledger.transfer(session, drafts, world.now, settings.tz)
        assert {r.result for r in results} == {"created"}


def reward_body(world: World, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Rice, 5 kg",
        "price": 30,
        "stock": 5,
        "pickup_place": "Community 1 service centre",
        "valid_until": (world.now + timedelta(days=30)).isoformat(),
        "community_ids": [world.areas["c1"].id],
        **overrides,
    }


async def redeem(client: AsyncTestClient, world: World, who: str, reward_id: int) -> dict:
    return ok(await client.post("/api/redemptions", json={"reward_id": reward_id}, headers=world.auth(who)))


async def redemption(client: AsyncTestClient, world: World, redemption_id: int) -> dict:
    return ok(await client.get(f"/api/redemptions/{redemption_id}", headers=world.auth("admin")))


async def member_points(session_maker: async_sessionmaker[AsyncSession], world: World, name: str) -> tuple:
    async with session_maker() as session:
        account = await ledger.member_account(session, world.id(name))
        return account.balance, account.debits_pending, account.debits_posted


async def stock(session_maker: async_sessionmaker[AsyncSession], reward_id: int) -> tuple[int, int, int]:
    async with session_maker() as session:
        reward = await session.get(Reward, reward_id)
        return reward.held, reward.fulfilled, reward.stock_left


def confirmation(html: str) -> str:
    """The text of the check a code's lookup shows before anything is handed out."""
    found = re.search(r'<section class="card fulfil-card" id="fulfil-check">(.*?)</section>', html, re.S)
    assert found, html
    return unescape(found.group(1))


@dataclass
class Shop:
    coop: Coop
    reward: int
    # Resident's pending redemption of the reward.
    redemption: dict


@pytest.fixture
async def coop(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> Coop:
    return await make_coop(client, world, session_maker)


@pytest.fixture
async def shop(
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> Shop:
    """Unit admin's reward (30 points, 5 in stock) and the resident's redemption of it, waiting."""
    await give_points(session_maker, world, settings, "resident", "resident_b")
    reward = ok(await client.post("/api/rewards", json=reward_body(world), headers=world.auth("unit_admin")))
    return Shop(coop, reward["id"], await redeem(client, world, "resident", reward["id"]))


# ---------------------------------------------------------------- every page, both languages


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_shows_in_both_languages(
    browser: Browser, client: AsyncTestClient, world: World, shop: Shop, lang: str
) -> None:
    resource = await publish(client, world, shop.coop.unit_a, title="Rice")
    await start_project(client, world, resource["id"])
    browser.login("unit_admin", lang)

    for path in [*PAGES, f"/desk/unit/resources/{resource['id']}"]:
        r = await browser.get(path)
        assert r.status_code == 200, (path, r.text)
        assert 'href="/desk/unit"' in r.text, "the section is in the navigation"

    overview = (await browser.get("/desk/unit")).text
    assert translate(lang, "unit.resources.heading") in overview
    assert "District Hospital" in overview and "Rice" in overview
    assert translate(lang, "resource_category.goods") in overview
    new = (await browser.get("/desk/unit/resources/new")).text
    label = re.escape(translate(lang, "resource_category.goods"))
    assert re.search(rf'<option value="goods"\s*>{label}</option>', new), "categories by name"
    edit = (await browser.get(f"/desk/unit/resources/{resource['id']}")).text
    label = re.escape(translate(lang, "resource_status.withdrawn"))
    assert re.search(rf'<option value="withdrawn"\s*>{label}</option>', edit)
    assert '<option value="used_up"' not in edit
    commitments = (await browser.get("/desk/unit/commitments")).text
    assert "Winter drive" in commitments and translate(lang, "unit.confirm") in commitments
    rewards = (await browser.get("/desk/unit/rewards")).text
    assert "Rice, 5 kg" in rewards and translate(lang, "unit.reward_state.active") in rewards
    fulfil = (await browser.get("/desk/unit/fulfil")).text
    assert re.search(r'<form[^>]*id="fulfil-form"', fulfil)
    assert re.search(r'<input id="pickup_code" name="pickup_code"[^>]*inputmode="numeric"', fulfil)
    assert "Resident" in fulfil, "the member waiting for pickup is listed"
    assert shop.redemption["pickup_code"] not in fulfil, "the code stays the member's"


async def test_a_unit_admin_without_a_unit_is_told_so(browser: Browser) -> None:
    browser.login("unit_admin", "en")
    r = await browser.get("/desk/unit")
    assert r.status_code == 200
    assert translate("en", "unit.no_unit") in r.text
    assert (await browser.get("/desk/unit/resources/new")).status_code == 404


async def test_an_admin_of_several_units_chooses_the_unit(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    second = ok(
        await client.post(
            "/api/units",
            json=unit_body(world, "Corner Shop", ["c1"], ["unit_admin"]),
            headers=world.auth("manager"),
        )
    )
    await publish(client, world, coop.unit_a, title="Clinic hours")
    await publish(client, world, second["id"], title="Shop vouchers")
    await publish(client, world, coop.unit_b, who="unit_admin_b", title="Meeting room")
    browser.login("unit_admin", "en")

    first = (await browser.get("/desk/unit")).text
    assert 'id="unit-selector"' in first
    assert "Clinic hours" in first and "Shop vouchers" not in first
    chosen = (await browser.get(f"/desk/unit?unit={second['id']}")).text
    assert "Shop vouchers" in chosen and "Clinic hours" not in chosen
    assert (
        f'action="/desk/unit/resources/new?unit={second["id"]}"'
        in (await browser.get(f"/desk/unit/resources/new?unit={second['id']}")).text
    )
    # Another unit's list is not theirs to see.
    assert (await browser.get(f"/desk/unit?unit={coop.unit_b}")).status_code == 404


async def test_a_manager_who_also_runs_a_unit_finds_it_among_many_in_the_street(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    async with session_maker() as session, session.begin():
        session.add(UserRole(user_id=world.id("street_admin"), role=Role.unit_admin))
        session.add_all(
            Unit(
                name=f"Shop {i}",
                kind="merchant",
                contact_name="Ms Li",
                contact_phone="13912345678",
                area_code=world.areas["street"].code,
                created_by_id=world.id("street_admin"),
                created_at=world.now,
                updated_at=world.now,
            )
            for i in range(100)
        )
    ok(
        await client.post(
            "/api/units",
            json=unit_body(world, "Street Library", ["c1"], ["street_admin"]),
            headers=world.auth("street_admin"),
        )
    )
    browser.login("street_admin", "en")

    page = (await browser.get("/desk/unit")).text

    assert "Street Library" in page
    assert 'id="unit-selector"' not in page, "the street's other units are not theirs"


# ---------------------------------------------------------------- resources


async def test_a_resource_is_published_through_the_form(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    browser.login("unit_admin", "zh")
    start = world.now + timedelta(days=1)
    form = {
        "category": "goods",
        "title": "Winter coats",
        "quantity": "40",
        "unit_of_measure": "pieces",
        "community_ids": [str(world.areas["c1"].id), str(world.areas["c2"].id)],
        "available_from": local(world, start),
        "available_until": local(world, start + timedelta(days=30)),
        "description": "Sizes M and L",
    }

    r = await browser.post(f"/desk/unit/resources/new?unit={coop.unit_a}", form)

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/desk/unit?unit={coop.unit_a}&notice=unit_resource_published"
    (made,) = await resources(client, world)
    assert (made["unit_id"], made["category"], made["title"], made["quantity"], made["unit_of_measure"]) == (
        coop.unit_a,
        "goods",
        "Winter coats",
        40,
        "pieces",
    )
    assert made["community_ids"] == sorted([world.areas["c1"].id, world.areas["c2"].id])
    assert datetime.fromisoformat(made["available_from"]) == start.replace(second=0, microsecond=0)
    page = await browser.get(r.headers["location"])
    assert translate("zh", "notice.unit_resource_published") in page.text
    assert "Winter coats" in page.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_invalid_resource_input_is_shown_next_to_the_field_and_nothing_is_made(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    browser.login("unit_admin", lang)
    start = world.now + timedelta(days=1)
    form = {
        "category": "goods",
        "title": "Winter coats",
        "quantity": "0",
        "unit_of_measure": "pieces",
        "community_ids": str(world.areas["c1"].id),
        "available_from": local(world, start),
    }
    url = f"/desk/unit/resources/new?unit={coop.unit_a}"

    r = await browser.post(url, {**form, "title": ""})

    assert r.status_code == 400
    assert field_errors(r.text) == {
        "quantity": translate(lang, "form.out_of_range"),
        "title": translate(lang, "form.required"),
    }
    assert 'value="0"' in r.text and 'value="pieces"' in r.text, "what was typed is kept"
    assert re.search(rf'value="{world.areas["c1"].id}" checked', r.text), "ticked communities stay ticked"

    # The window ends before it starts: the service's refusal stands next to the end.
    r = await browser.post(
        url, {**form, "quantity": "5", "available_until": local(world, start - timedelta(hours=2))}
    )
    assert r.status_code == 400
    assert field_errors(r.text) == {"available_until": translate(lang, "error.window_order")}
    assert f'value="{local(world, start - timedelta(hours=2))}"' in r.text

    r = await browser.post(url, {**form, "quantity": "5", "community_ids": []})
    assert field_errors(r.text) == {"community_ids": translate(lang, "form.required")}
    assert await resources(client, world) == []


async def test_editing_a_resource_never_drops_its_quantity_below_what_is_committed(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    resource = await publish(client, world, coop.unit_a, title="Rice")
    await start_project(client, world, resource["id"], quantity=30)
    browser.login("unit_admin", "en")
    url = f"/desk/unit/resources/{resource['id']}"
    shown = (await browser.get(url)).text
    assert translate("en", "unit.committed_floor", committed=30, uom="kg") in shown
    values = {
        name: re.search(rf'name="{name}" type="[\w-]+" value="([^"]*)"', shown).group(1)
        for name in ("title", "quantity", "available_from", "available_until")
    }
    assert values["quantity"] == "100"
    values["community_ids"] = str(world.areas["c1"].id)

    r = await browser.post(url, {**values, "quantity": "20", "status": "published"})

    assert r.status_code == 409
    assert field_errors(r.text) == {"quantity": translate("en", "error.quantity_below_committed")}
    assert 'value="20"' in r.text
    (kept,) = await resources(client, world)
    assert kept["quantity"] == 100

    r = await browser.post(url, {**values, "quantity": "150", "status": "withdrawn", "title": "Rice, sacks"})

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/desk/unit?unit={coop.unit_a}&notice=unit_resource_saved"
    (changed,) = await resources(client, world)
    assert (changed["quantity"], changed["status"], changed["title"]) == (150, "withdrawn", "Rice, sacks")
    # What the form showed to the minute and was left alone is not rewritten.
    assert changed["available_from"] == resource["available_from"]

    r = await browser.post(url, {**values, "title": " ", "community_ids": []})
    assert field_errors(r.text) == {
        "title": translate("en", "form.required"),
        "community_ids": translate("en", "form.required"),
    }


# ---------------------------------------------------------------- commitments and deliveries


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_commitment_is_confirmed_and_deliveries_are_recorded(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    resource = await publish(client, world, coop.unit_a, title="Rice")
    started = await start_project(client, world, resource["id"], quantity=30)
    (commitment,) = started["commitments"]
    base = f"/desk/unit/projects/{started['id']}/commitments/{commitment['id']}"
    browser.login("unit_admin", lang)

    r = await browser.post(f"{base}/confirm")

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/desk/unit/commitments?notice=unit_commitment_confirmed"
    assert (await project(client, world, started["id"]))["status"] == "active"
    again = await browser.post(f"{base}/confirm")
    assert again.status_code == 409
    assert translate(lang, "error.already_confirmed") in again.text

    r = await browser.post(f"{base}/deliveries", {"quantity": "31", "note": "first batch"})
    assert r.status_code == 409
    assert field_errors(r.text) == {"quantity": translate(lang, "error.exceeds_commitment")}
    assert 'value="31"' in r.text and 'value="first batch"' in r.text
    r = await browser.post(f"{base}/deliveries", {"quantity": "many"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"quantity": translate(lang, "form.invalid")}
    assert (await project(client, world, started["id"]))["commitments"][0]["delivered"] == 0

    r = await browser.post(f"{base}/deliveries", {"quantity": "12", "note": "first batch"})

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/desk/unit/commitments?notice=unit_delivery_recorded"
    (delivered,) = (await project(client, world, started["id"]))["commitments"]
    assert (delivered["delivered"], delivered["outstanding"]) == (12, 18)
    assert [(d["quantity"], d["note"]) for d in delivered["deliveries"]] == [(12, "first batch")]
    assert (await resources(client, world))[0]["delivered"] == 12
    page = (await browser.get(r.headers["location"])).text
    assert translate(lang, "notice.unit_delivery_recorded") in page
    assert "first batch" in page


async def test_another_units_admin_sees_and_confirms_none_of_it(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    resource = await publish(client, world, coop.unit_a, title="Rice")
    started = await start_project(client, world, resource["id"])
    (commitment,) = started["commitments"]
    browser.login("unit_admin_b", "en")

    assert "Winter drive" not in (await browser.get("/desk/unit/commitments")).text
    assert "Rice" not in (await browser.get("/desk/unit")).text
    assert (await browser.get(f"/desk/unit/resources/{resource['id']}")).status_code == 404
    r = await browser.post(f"/desk/unit/projects/{started['id']}/commitments/{commitment['id']}/confirm")
    assert r.status_code == 404
    assert (await project(client, world, started["id"]))["commitments"][0]["confirmed_at"] is None


async def test_the_commitments_page_lists_the_projects_the_units_commit_to_in_a_few_queries(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    mine = await publish(client, world, coop.unit_a, title="Rice")
    theirs = await publish(client, world, coop.unit_b, who="unit_admin_b", title="Meeting room")
    # Unit A is responsible in this project but commits nothing to it.
    body = {
        "title": "Spring clean",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=10)).isoformat(),
        "commitments": [{"resource_id": theirs["id"], "quantity": 1}],
        "responsibilities": [{"task": "Bring ladders", "unit_id": coop.unit_a}],
    }
    ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    await start_project(client, world, mine["id"], quantity=1, title="Drive 1")
    browser.login("unit_admin", "en")
    with statements() as one:
        page = (await browser.get("/desk/unit/commitments")).text

    # Its task in "Spring clean" is listed apart, above the projects it commits to.
    responsibilities, commitments = page.split('id="responsibilities"')[1].split("</section>", 1)
    assert "Bring ladders" in responsibilities
    assert "Drive 1" in commitments and "Spring clean" not in commitments
    assert "Meeting room" not in page

    for n in (2, 3):
        await start_project(client, world, mine["id"], quantity=1, title=f"Drive {n}")
    with statements() as three:
        page = (await browser.get("/desk/unit/commitments")).text
    assert all(f"Drive {n}" in page for n in (1, 2, 3))
    assert len(three) == len(one), "not a query per project"


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_refused_form_on_a_later_page_shows_that_page_again(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
) -> None:
    monkeypatch.setattr(desk_units, "LIMIT", 1)
    resource = await publish(client, world, coop.unit_a, title="Rice")
    older = await start_project(client, world, resource["id"], quantity=30, title="Autumn drive")
    newer = await start_project(client, world, resource["id"], quantity=30, title="Winter drive")
    (commitment,) = older["commitments"]
    base = f"/desk/unit/projects/{older['id']}/commitments/{commitment['id']}"
    browser.login("unit_admin", lang)
    second = (await browser.get("/desk/unit/commitments?offset=1")).text
    assert f'id="project-{older["id"]}"' in second
    assert re.search(r'<input type="hidden" name="offset" value="1">', second)

    r = await browser.post(f"{base}/confirm", {"offset": "1"})

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/desk/unit/commitments?offset=1&notice=unit_commitment_confirmed"
    r = await browser.post(f"{base}/confirm", {"offset": "1"})
    assert r.status_code == 409
    assert f'id="project-{older["id"]}"' in r.text and f'id="project-{newer["id"]}"' not in r.text
    assert translate(lang, "error.already_confirmed") in r.text

    r = await browser.post(f"{base}/deliveries", {"offset": "1", "quantity": "31", "note": "too many"})

    assert r.status_code == 409
    assert field_errors(r.text) == {"quantity": translate(lang, "error.exceeds_commitment")}
    assert 'value="31"' in r.text and 'value="too many"' in r.text
    assert (await project(client, world, older["id"]))["commitments"][0]["delivered"] == 0


# ---------------------------------------------------------------- rewards


async def test_a_reward_is_published_through_the_form(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    browser.login("unit_admin", "en")
    form = (await browser.get("/desk/unit/rewards/new")).text
    assert 'value="District Hospital"' in form, "the donor is the unit"
    body = {
        "name": "Health check",
        "description": "Basic check-up",
        "price": "300",
        "stock": "5",
        "limit_per_person": "1",
        "pickup_place": "Hospital, 2nd floor",
        "valid_until": local(world, world.now + timedelta(days=60)),
        "community_ids": [str(world.areas["c1"].id), str(world.areas["c2"].id)],
        "donor": "District Hospital",
    }

    r = await browser.post("/desk/unit/rewards/new", {**body, "price": "0", "community_ids": []})

    assert r.status_code == 400
    assert field_errors(r.text) == {
        "price": translate("en", "form.out_of_range"),
        "community_ids": translate("en", "form.required"),
    }
    assert 'value="Health check"' in r.text
    r = await browser.post(
        "/desk/unit/rewards/new", {**body, "valid_until": local(world, world.now - timedelta(days=1))}
    )
    assert field_errors(r.text) == {"valid_until": translate("en", "error.already_expired")}
    assert ok(await client.get("/api/rewards", headers=world.auth("admin")))["total"] == 0

    r = await browser.post("/desk/unit/rewards/new", body)

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/desk/unit/rewards?notice=unit_reward_published"
    (reward,) = ok(await client.get("/api/rewards", headers=world.auth("admin")))["items"]
    assert (reward["name"], reward["price"], reward["stock"], reward["donor"]) == (
        "Health check",
        300,
        5,
        "District Hospital",
    )
    listed = (await browser.get(r.headers["location"])).text
    assert "Health check" in listed and translate("en", "notice.unit_reward_published") in listed


async def test_the_rewards_page_shows_stock_held_and_handed_out(
    browser: Browser, client: AsyncTestClient, world: World, shop: Shop
) -> None:
    await redeem(client, world, "resident_b", shop.reward)
    ok(
        await client.post(
            f"/api/redemptions/{shop.redemption['id']}/fulfil",
            json={"pickup_code": shop.redemption["pickup_code"]},
            headers=world.auth("unit_admin"),
        )
    )
    browser.login("unit_admin", "en")
    page = (await browser.get("/desk/unit/rewards")).text
    row = re.search(rf'<tr id="reward-{shop.reward}">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["30", "5", "1", "1", "3"]
    # A reward is the publisher's to hand out: another unit's admin does not list it.
    browser.login("unit_admin_b", "en")
    assert "Rice, 5 kg" not in (await browser.get("/desk/unit/rewards")).text


# ---------------------------------------------------------------- handing out by pickup code


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_redemption_is_checked_by_its_code_then_handed_out(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    shop: Shop,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    code = shop.redemption["pickup_code"]
    browser.login("unit_admin", lang)

    r = await browser.post("/desk/unit/fulfil", {"pickup_code": f"{code[:3]} {code[3:]}"})

    assert r.status_code == 200, r.text
    shown = confirmation(r.text)
    line = translate(lang, "unit.fulfil.check_line", name="Resident", reward="Rice, 5 kg", quantity=1)
    assert line in shown
    confirm = re.search(r'<form[^>]*id="fulfil-confirm".*?</form>', r.text, re.S).group(0)
    assert f'name="redemption_id" value="{shop.redemption["id"]}"' in confirm
    assert f'name="pickup_code" value="{code}"' in confirm
    assert 'id="fulfil-confirm-submit"' in confirm
    assert re.search(r'<a [^>]*id="fulfil-not-them" href="/desk/unit/fulfil"', r.text)
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "pending"
    assert await stock(session_maker, shop.reward) == (1, 0, 4)

    r = await browser.post(
        "/desk/unit/fulfil/confirm", {"redemption_id": str(shop.redemption["id"]), "pickup_code": code}
    )

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/desk/unit/fulfil?done={shop.redemption['id']}"
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "fulfilled"
    assert await stock(session_maker, shop.reward) == (0, 1, 4)
    assert await member_points(session_maker, world, "resident") == (70, 0, 30)
    page = (await browser.get(r.headers["location"])).text
    success = re.search(r'<div class="alert alert-ok" id="fulfil-success"[^>]*>(.*?)</div>', page, re.S)
    assert translate(
        lang, "unit.fulfilled", reward="Rice, 5 kg", quantity=1, name="Resident"
    ) in success.group(1)
    assert f'id="redemption-{shop.redemption["id"]}"' not in page, "no longer waiting"

    # The same code again: already handed out, said next to the input, at either step.
    r = await browser.post("/desk/unit/fulfil", {"pickup_code": code})
    assert r.status_code == 409
    assert field_errors(r.text) == {"pickup_code": translate(lang, "error.redemption_not_pending")}
    assert 'id="fulfil-check"' not in r.text
    r = await browser.post(
        "/desk/unit/fulfil/confirm", {"redemption_id": str(shop.redemption["id"]), "pickup_code": code}
    )
    assert r.status_code == 409
    assert field_errors(r.text) == {"pickup_code": translate(lang, "error.redemption_not_pending")}
    assert await stock(session_maker, shop.reward) == (0, 1, 4)


async def test_a_mistyped_code_that_opens_another_members_redemption_hands_nothing_out(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    shop: Shop,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    # Resident stands at the counter; the code typed is Resident B's.
    other = await redeem(client, world, "resident_b", shop.reward)
    browser.login("unit_admin", "en")

    r = await browser.post("/desk/unit/fulfil", {"pickup_code": other["pickup_code"]})

    assert r.status_code == 200, r.text
    assert "Resident B" in confirmation(r.text), "the counter sees whose it is before handing it out"
    assert (await redemption(client, world, other["id"]))["status"] == "pending"
    assert await stock(session_maker, shop.reward) == (2, 0, 3)
    assert await member_points(session_maker, world, "resident_b") == (100, 30, 0)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_wrong_code_is_refused_next_to_the_input_and_changes_nothing(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    shop: Shop,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    code = shop.redemption["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"
    browser.login("unit_admin", lang)

    r = await browser.post("/desk/unit/fulfil", {"pickup_code": wrong})

    assert r.status_code == 409
    assert field_errors(r.text) == {"pickup_code": translate(lang, "error.wrong_pickup_code")}
    assert f'value="{wrong}"' in r.text, "the typed code is kept"
    assert "Resident" not in r.text.split('id="pending"')[0], "a wrong code names nobody"
    r = await browser.post("/desk/unit/fulfil", {"pickup_code": "12345"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"pickup_code": translate(lang, "unit.fulfil.code_format")}
    r = await browser.post("/desk/unit/fulfil", {"pickup_code": ""})
    assert field_errors(r.text) == {"pickup_code": translate(lang, "form.required")}
    # A confirmation whose code is not the redemption's says no more than a wrong code.
    r = await browser.post(
        "/desk/unit/fulfil/confirm", {"redemption_id": str(shop.redemption["id"]), "pickup_code": wrong}
    )
    assert r.status_code == 409
    assert field_errors(r.text) == {"pickup_code": translate(lang, "error.wrong_pickup_code")}
    assert f'value="{wrong}"' in r.text
    r = await browser.post("/desk/unit/fulfil/confirm", {"redemption_id": "x", "pickup_code": code})
    assert r.status_code == 400
    assert translate(lang, "form.invalid") in r.text
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "pending"
    assert await stock(session_maker, shop.reward) == (1, 0, 4)
    assert await member_points(session_maker, world, "resident") == (100, 30, 0)


async def test_when_two_waiting_redemptions_share_a_code_the_counter_chooses(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    shop: Shop,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    other = await redeem(client, world, "resident_b", shop.reward)
    code = shop.redemption["pickup_code"]
    async with session_maker() as session, session.begin():
        await session.execute(update(Redemption).where(Redemption.id == other["id"]).values(pickup_code=code))
    browser.login("unit_admin", "en")

    r = await browser.post("/desk/unit/fulfil", {"pickup_code": code})

    assert r.status_code == 409
    (message,) = field_errors(r.text).values()
    assert unescape(message) == translate("en", "error.pickup_code_ambiguous")
    choices = re.search(r'id="fulfil-choices">(.*?)</ul>', r.text, re.S).group(1)
    assert "Resident B" in choices and "Resident" in choices
    assert 'action="/desk/unit/fulfil/confirm"' in choices
    assert await stock(session_maker, shop.reward) == (2, 0, 3)

    r = await browser.post(
        "/desk/unit/fulfil/confirm", {"pickup_code": code, "redemption_id": str(other["id"])}
    )

    assert r.status_code == 303, r.text
    assert (await redemption(client, world, other["id"]))["status"] == "fulfilled"
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "pending"


async def test_two_counters_with_the_same_code_at_once_hand_it_out_once(
    live_server: str,
    world: World,
    shop: Shop,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    async def counter() -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=live_server, timeout=60)
        await client.get("/login")
        token, _ = issue_token(world.settings, world.users["unit_admin"], world.clock())
        client.cookies.set(TOKEN_COOKIE, f"Bearer {token}")
        client.cookies.set("lang", "en")
        return client

    counters = [await counter() for _ in range(4)]
    try:
        responses = await asyncio.gather(
            *(
                c.post(
                    "/desk/unit/fulfil/confirm",
                    data={
                        "_csrf_token": c.cookies["csrftoken"],
                        "pickup_code": shop.redemption["pickup_code"],
                        "redemption_id": str(shop.redemption["id"]),
                    },
                )
                for c in counters
            )
        )
    finally:
        for c in counters:
            await c.aclose()

    assert sorted(r.status_code for r in responses) == [303, 409, 409, 409], [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert field_errors(r.text) == {"pickup_code": translate("en", "error.redemption_not_pending")}
    assert await stock(session_maker, shop.reward) == (0, 1, 4)
    assert await member_points(session_maker, world, "resident") == (70, 0, 30)


async def test_another_units_admin_cannot_hand_this_units_reward_out(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    shop: Shop,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    code = shop.redemption["pickup_code"]
    browser.login("unit_admin_b", "en")
    assert "Resident" not in (await browser.get("/desk/unit/fulfil")).text

    r = await browser.post("/desk/unit/fulfil", {"pickup_code": code})

    assert r.status_code == 409
    assert field_errors(r.text) == {"pickup_code": translate("en", "error.wrong_pickup_code")}
    assert "Resident" not in r.text
    r = await browser.post(
        "/desk/unit/fulfil/confirm", {"redemption_id": str(shop.redemption["id"]), "pickup_code": code}
    )
    assert r.status_code == 409
    assert field_errors(r.text) == {"pickup_code": translate("en", "error.wrong_pickup_code")}
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "pending"
    assert await stock(session_maker, shop.reward) == (1, 0, 4)
    assert (await browser.get(f"/desk/unit/fulfil?done={shop.redemption['id']}")).status_code == 404


@pytest.mark.parametrize("who", ["volunteer", "resident", "manager"])
async def test_people_who_are_not_unit_admins_may_not_use_the_desk(
    browser: Browser, world: World, shop: Shop, who: str
) -> None:
    browser.login(who, "en")
    for path in PAGES:
        r = await browser.get(path)
        assert r.status_code == 403, (who, path)
        assert translate("en", "error.role_required") in r.text or translate("en", "error.http_403") in r.text
    for path in ("/desk/unit/fulfil", "/desk/unit/fulfil/confirm"):
        r = await browser.post(path, {"pickup_code": shop.redemption["pickup_code"]})
        assert r.status_code == 403

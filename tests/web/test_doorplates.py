"""Doorplate codes (数字门牌码上服务): the A4 sheet a manager prints for their community, grid or
compound, and the page a scanned plate opens — for anyone, logged in or not. A plate's URL
carries a random token kept per place: stable across reprints, and no way into another place."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.doorplates.models import Doorplate
from market.web.i18n import translate
from tests.web.conftest import Browser
from tests.world import PASSWORD, World

SHEET = "/desk/areas/doorplates"
PLATE = re.compile(r'<figure class="plate" data-code="(\d+)" data-link="([^"]+)">')


async def issue(browser: Browser, root: int) -> None:
    response = await browser.post(f"{SHEET}?root={root}")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{SHEET}?root={root}&notice=doorplates_issued"


async def plates(browser: Browser, root: int) -> dict[str, str]:
    """The sheet's plates: area code → the URL its QR code carries."""
    response = await browser.get(SHEET, params={"root": root})
    assert response.status_code == 200, response.text
    return dict(PLATE.findall(response.text))


async def tokens(session_maker: async_sessionmaker[AsyncSession]) -> dict[int, str]:
    async with session_maker() as session:
        return dict((await session.execute(select(Doorplate.area_id, Doorplate.token))).all())


async def issued_token(browser: Browser, world: World, place: str) -> str:
    """Issue the codes of the place's grid (as its grid worker) and return the place's token."""
    grid = place[:2] + "_grid"
    worker = "grid_worker" if place.startswith("c1") else "grid_worker_c2"
    browser.login(worker, "en")
    await issue(browser, world.areas[grid].id)
    link = (await plates(browser, world.areas[grid].id))[world.areas[place].code]
    browser.client.cookies.clear()
    return link.rsplit("/", 1)[1]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_grid_worker_prints_their_grids_sheet_from_the_area_tree(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("grid_worker", lang)
    tree = await browser.get("/desk/areas")
    grid = world.areas["c1_grid"].id
    assert f'href="{SHEET}?root={grid}"' in tree.text
    # Before any code is issued the sheet says how many places have none, and shows no plate.
    first = await browser.get(SHEET, params={"root": grid})
    assert first.status_code == 200 and 'id="issue-form"' in first.text and not PLATE.findall(first.text)
    await issue(browser, grid)
    sheet = await browser.get(SHEET, params={"root": grid})
    assert "@media print" in sheet.text and "size: A4" in sheet.text
    assert 'id="issue-form"' not in sheet.text
    found = dict(PLATE.findall(sheet.text))
    assert set(found) == {world.areas["c1_compound"].code, world.areas["c1_building"].code}
    # Each plate: a QR code, the place's full name and its code.
    assert sheet.text.count('class="qr"') == 2
    assert "Community 1 › Grid 1-1 › Garden 1 › Building 1" in sheet.text
    # Reprinting (and issuing again) keeps every code as it was.
    before = await tokens(session_maker)
    await issue(browser, grid)
    assert await plates(browser, grid) == found and await tokens(session_maker) == before


async def test_a_community_managers_sheet_covers_its_grids_and_may_be_picked_narrower(
    browser: Browser, world: World
) -> None:
    browser.login("manager", "en")
    await issue(browser, world.areas["c1"].id)
    assert set(await plates(browser, world.areas["c1"].id)) == {
        world.areas["c1_compound"].code,
        world.areas["c1_building"].code,
    }
    # The compound alone; the grid's sheet is the same codes.
    assert set(await plates(browser, world.areas["c1_compound"].id)) == {
        world.areas["c1_compound"].code,
        world.areas["c1_building"].code,
    }
    sheet = await browser.get(SHEET)  # without a choice: their own community
    assert f'<option value="{world.areas["c1_grid"].id}"' in sheet.text


async def test_a_sheet_outside_ones_area_is_refused_and_issues_nothing(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("grid_worker_c2", "en")
    grid = world.areas["c1_grid"].id
    assert (await browser.get(SHEET, params={"root": grid})).status_code == 403
    assert (await browser.post(f"{SHEET}?root={grid}")).status_code == 403
    assert await tokens(session_maker) == {}
    # Residents and volunteers print no sheet.
    browser.login("resident", "en")
    assert (await browser.get(SHEET, params={"root": grid})).status_code == 403


async def test_codes_are_random_per_place_and_name_no_area(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await issued_token(browser, world, "c1_building")
    await issued_token(browser, world, "c2_building")
    found = await tokens(session_maker)
    assert len(found) == 4 and len(set(found.values())) == 4
    for area_id, token in found.items():
        assert len(token) >= 22 and token != str(area_id)
        assert not any(a.code in token for a in world.areas.values())


@pytest.mark.parametrize(
    ("lang", "text"), [("zh", "没有找到这个门牌码对应的地点"), ("en", "No place has this doorplate code")]
)
async def test_a_wrong_code_is_a_404_page_in_the_persons_language(
    browser: Browser, world: World, lang: str, text: str
) -> None:
    token = await issued_token(browser, world, "c1_building")
    browser.lang(lang)
    # One character off, an id where the token goes, another place's code, and a very long one.
    wrong = [token[:-1] + ("A" if token[-1] != "A" else "B"), str(world.areas["c1_building"].id), "x" * 200]
    for candidate in wrong:
        response = await browser.get(f"/p/{candidate}", headers={"accept": "text/html"})
        assert response.status_code == 404, candidate
        assert text in response.text and "Building 1" not in response.text


async def test_the_place_page_logged_out_shows_the_place_its_grid_worker_and_its_wishes_masked(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    deadline = (world.now + timedelta(days=5)).isoformat()
    for who, title in (("resident", "A walking frame"), ("resident_c2", "Reading glasses")):
        r = await client.post(
            "/api/wishes",
            json={"title": title, "value_yuan": 50, "deadline": deadline},
            headers=world.auth(who),
        )
        assert r.status_code == 201, r.text
    token = await issued_token(browser, world, "c1_building")
    page = await browser.lang("en").get(f"/p/{token}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "Community 1 › Grid 1-1 › Garden 1 › Building 1" in text
    assert world.areas["c1_building"].code in text
    # The grid worker, to call: their name and phone. Nobody else's.
    grid_worker = world.users["grid_worker"]
    assert grid_worker.name in text and f'href="tel:{grid_worker.phone}"' in text
    assert world.users["grid_worker_c2"].phone not in text
    # The place's open wish, as the wall masks it; nothing of community 2.
    assert "A walking frame" in text and "Reading glasses" not in text
    resident = world.users["resident"]
    assert resident.name not in text and resident.phone not in text and "R*******" in text
    assert f'href="/r/orders/new?place={token}"' in text


async def test_the_place_of_community_2_shows_nothing_of_community_1(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    deadline = (world.now + timedelta(days=5)).isoformat()
    r = await client.post(
        "/api/wishes",
        json={"title": "A walking frame", "value_yuan": 50, "deadline": deadline},
        headers=world.auth("resident"),
    )
    assert r.status_code == 201, r.text
    token = await issued_token(browser, world, "c2_building")
    text = (await browser.lang("en").get(f"/p/{token}")).text
    assert "Building 2" in text and "Building 1" not in text
    assert "A walking frame" not in text and world.users["grid_worker"].phone not in text
    assert f'href="tel:{world.users["grid_worker_c2"].phone}"' in text


async def test_logged_out_the_order_link_logs_in_and_comes_back_to_the_form_with_the_place(
    browser: Browser, world: World
) -> None:
    token = await issued_token(browser, world, "c1_compound")
    form_path = f"/r/orders/new?place={token}"
    response = await browser.get(form_path, follow_redirects=False)
    assert response.status_code == 303
    login = response.headers["location"]
    assert urlsplit(login).path == "/login" and parse_qs(urlsplit(login).query)["next"] == [form_path]
    # The sign-up link keeps where the person was going.
    page = await browser.get(login)
    assert "/signup?next=" in page.text
    response = await browser.post(
        "/login", {"phone": world.users["resident"].phone, "password": PASSWORD, "next": form_path}
    )
    assert response.status_code == 303 and response.headers["location"] == form_path
    form = await browser.get(form_path)
    assert form.status_code == 200
    chosen = re.search(r'<option value="(\d+)" selected>', form.text)
    assert chosen and int(chosen[1]) == world.areas["c1_compound"].id


async def test_the_order_form_ignores_a_plate_outside_the_residents_community(
    browser: Browser, world: World
) -> None:
    token = await issued_token(browser, world, "c2_building")
    browser.login("resident", "en")
    form = await browser.get(f"/r/orders/new?place={token}")
    assert form.status_code == 200
    chosen = re.search(r'<option value="(\d+)" selected>', form.text)
    # Their own building, as without a plate: community 2's is not theirs to order at.
    assert chosen and int(chosen[1]) == world.areas["c1_building"].id


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
async def test_logging_in_goes_back_only_to_a_local_path(browser: Browser, world: World, target: str) -> None:
    response = await browser.post(
        "/login", {"phone": world.users["resident"].phone, "password": PASSWORD, "next": target}
    )
    assert response.status_code == 303 and response.headers["location"] == "/r/orders"


# ---------------------------------------------------------------- revoking a plate's code

REVOKED_TEXT = {"zh": "这个门牌码已作废", "en": "This doorplate code was revoked"}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_manager_revokes_a_plate_after_a_question_and_its_page_says_so(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    old = await issued_token(browser, world, "c1_building")
    building, grid = world.areas["c1_building"], world.areas["c1_grid"]
    browser.login("manager", lang)
    sheet = await browser.get(SHEET, params={"root": grid.id})
    revoke = f"{SHEET}/{building.id}/revoke?root={grid.id}&token={old}"
    replace = f"{SHEET}/{building.id}/replace?root={grid.id}&token={old}"
    # Each plate has its two buttons, each asking first, in the person's language; none prints.
    for action, key in ((revoke, "doorplates.revoke_confirm"), (replace, "doorplates.replace_confirm")):
        question = translate(lang, key, place="Building 1")
        assert (
            f'action="{html.escape(action)}" class="inline-form" data-confirm="{html.escape(question)}"'
            in (sheet.text)
        )
    assert translate(lang, "doorplates.revoke") in sheet.text and ".plate-actions" in sheet.text
    # A screen reader hears which plate each button acts on, not "Revoke" on every plate.
    for key in ("doorplates.revoke_named", "doorplates.replace_named"):
        assert f'aria-label="{html.escape(translate(lang, key, place="Building 1"))}"' in sheet.text

    response = await browser.post(revoke)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{SHEET}?root={grid.id}&notice=doorplate_revoked"
    # The old code's page says it was revoked, and shows nothing of the place.
    page = await browser.get(f"/p/{old}", headers={"accept": "text/html"})
    assert page.status_code == 404 and REVOKED_TEXT[lang] in page.text and "Building 1" not in page.text
    # The place has no code now: the sheet offers to issue one, which is a new code.
    after = await browser.get(SHEET, params={"root": grid.id})
    assert 'id="issue-form"' in after.text and building.code not in dict(PLATE.findall(after.text))
    assert (await browser.post(revoke)).status_code == 409
    await issue(browser, grid.id)
    new = (await tokens(session_maker))[building.id]
    assert new != old and (await browser.get(f"/p/{new}")).status_code == 200
    assert REVOKED_TEXT[lang] in (await browser.get(f"/p/{old}")).text


async def test_replacing_a_plate_revokes_its_code_and_issues_a_new_one_at_once(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    old = await issued_token(browser, world, "c1_building")
    building, compound = world.areas["c1_building"], world.areas["c1_compound"]
    before = await tokens(session_maker)
    browser.login("grid_worker", "en")
    replace = f"{SHEET}/{building.id}/replace?root={compound.id}&token={old}"
    response = await browser.post(replace)
    assert response.headers["location"] == f"{SHEET}?root={compound.id}&notice=doorplate_replaced"
    after = await tokens(session_maker)
    # A second press (or a sheet older than the new code) revokes nothing: the new code stays.
    again = await browser.post(replace, headers={"accept": "text/html"})
    assert again.status_code == 409 and "changed since the sheet was opened" in again.text
    assert await tokens(session_maker) == after
    # Only that place's code changed; the compound's stays.
    assert after[compound.id] == before[compound.id] and after[building.id] != old
    sheet = await plates(browser, compound.id)
    assert sheet[building.code].endswith("/p/" + after[building.id])
    assert (await browser.get(f"/p/{after[building.id]}")).status_code == 200
    assert "This doorplate code was revoked" in (await browser.get(f"/p/{old}")).text


async def test_a_plate_outside_ones_area_is_not_revoked(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    token = await issued_token(browser, world, "c1_building")
    building = world.areas["c1_building"].id
    before = await tokens(session_maker)
    for who, status in (("grid_worker_c2", 403), ("manager_c2", 403), ("resident", 403), ("volunteer", 403)):
        browser.login(who, "en")
        for action in ("revoke", "replace"):
            response = await browser.post(f"{SHEET}/{building}/{action}?token={token}")
            assert response.status_code == status, (who, action, response.text)
    assert await tokens(session_maker) == before

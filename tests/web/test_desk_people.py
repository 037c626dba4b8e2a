"""People pages: finding, creating, correcting, roles, deactivating and resetting at the desk;
importing people with a preview and progress; approvals; signing up and applying to volunteer."""

from __future__ import annotations

import pytest

from market.auth.tokens import TOKEN_COOKIE
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.world import World

B1 = "110105001001001001001"
HEAD = "phone,name,building,roles,skills,availability\n"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    "path",
    ["/desk/people", "/desk/people/new", "/desk/people/import", "/desk/approvals", "/desk/people/{resident}"],
)
async def test_people_pages_render_in_both_languages(
    browser: Browser, world: World, lang: str, path: str
) -> None:
    browser.login("manager", lang)
    r = await browser.get(path.format(resident=world.id("resident")))
    assert r.status_code == 200, r.text
    assert translate(lang, "nav.people") in r.text


async def test_finding_people_by_name_and_role(browser: Browser, world: World) -> None:
    browser.login("manager", "en")
    r = await browser.get("/desk/people?q=Resident+B")
    assert "13700000002" in r.text and "13700000001" not in r.text
    r = await browser.get("/desk/people?role=volunteer")
    assert "13900000001" in r.text and "13700000001" not in r.text
    # Community 2's people are not listed for community 1's manager.
    assert "13700000003" not in (await browser.get("/desk/people")).text


async def test_creating_a_person_keeps_what_was_typed_on_a_refusal(browser: Browser, world: World) -> None:
    browser.login("manager", "en")
    form = {
        "phone": "13700000001",
        "name": "Twin",
        "area_id": str(world.areas["c1_building"].id),
        "roles": "resident",
    }
    r = await browser.post("/desk/people/new", form)
    assert r.status_code == 409
    assert field_errors(r.text)["phone"] == translate("en", "error.phone_taken")
    assert 'value="Twin"' in r.text
    r = await browser.post("/desk/people/new", {**form, "phone": "13612345678"})
    assert r.status_code == 303 and "notice=person_created" in r.headers["location"]


async def test_a_grid_worker_cannot_give_a_role_above_theirs(browser: Browser, world: World) -> None:
    browser.login("grid_worker", "zh")
    path = f"/desk/people/{world.id('resident')}"
    page = await browser.get(path)
    assert 'value="community_manager"' not in page.text
    r = await browser.post(f"{path}/roles", {"roles": ["resident", "community_manager"]})
    assert r.status_code == 403
    assert field_errors(r.text)["roles"] == translate("zh", "error.role_not_grantable")


async def test_deactivate_and_reset_from_the_desk(browser: Browser, world: World) -> None:
    browser.login("grid_worker", "en")
    path = f"/desk/people/{world.id('resident')}"
    r = await browser.post(f"{path}/password-reset")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert 'id="one-time-password"' in r.text
    r = await browser.post(f"{path}/deactivate")
    assert r.status_code == 303
    assert translate("en", "people.state_no") in (await browser.get(path)).text
    assert (await browser.post(f"{path}/reactivate")).status_code == 303


async def test_a_person_with_a_reset_password_is_sent_to_change_it(browser: Browser, world: World) -> None:
    browser.login("grid_worker")
    r = await browser.post(f"/desk/people/{world.id('resident')}/password-reset")
    one_time = r.text.split('id="one-time-password">')[1].split("<")[0]
    browser.client.cookies.clear()
    r = await browser.post("/login", {"phone": "13700000001", "password": one_time})
    assert r.status_code == 303 and r.headers["location"] == "/account/password"
    elsewhere = await browser.get("/r/orders", follow_redirects=False)
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/account/password"
    change = {
        "current_password": one_time,
        "new_password": "my-own-pass-1",
        "new_password_again": "my-own-pass-1",
    }
    assert (await browser.post("/account/password", change)).status_code == 303
    assert (await browser.get("/r/orders", follow_redirects=False)).status_code == 200


async def test_import_preview_shows_errors_in_the_pages_language_and_confirm_writes(
    browser: Browser, world: World
) -> None:
    browser.login("manager", "en")
    bad = (HEAD + f"1234,Short,{B1},,,\n13611110002,Elsewhere,110105001002001001001,,,\n").encode()
    r = await browser.client.post(
        "/desk/people/import",
        files={"file": ("people.csv", bad, "text/csv")},
        data={"_csrf_token": await browser.csrf()},
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert translate("en", "import_error.invalid_phone") in r.text
    assert translate("en", "import_error.building_outside_your_area") in r.text
    assert 'id="confirm-import"' not in r.text
    good = (HEAD + f"13611110001,Zhang,{B1},,,\n").encode()
    r = await browser.client.post(
        "/desk/people/import",
        files={"file": ("people.csv", good, "text/csv")},
        data={"_csrf_token": await browser.csrf()},
        follow_redirects=False,
    )
    assert r.status_code == 303
    job = r.headers["location"]
    assert 'id="confirm-import"' in (await browser.get(job)).text
    step = await browser.client.post(f"{job}/step", headers={"x-csrftoken": await browser.csrf()})
    assert step.status_code == 201 or step.status_code == 200, step.text
    assert step.json()["status"] == "done" and step.json()["created"] == 1
    assert 'id="import-done"' in (await browser.get(job)).text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_broken_or_huge_file_is_a_page(browser: Browser, world: World, lang: str) -> None:
    browser.login("manager", lang)
    r = await browser.client.post(
        "/desk/people/import",
        files={"file": ("x.xlsx", b"PK\x03\x04broken", "application/octet-stream")},
        data={"_csrf_token": await browser.csrf()},
    )
    assert r.status_code == 400 and translate(lang, "error.not_a_spreadsheet") in r.text
    r = await browser.client.post(
        "/desk/people/import",
        files={"file": ("x.csv", b"a" * (10 * 1024 * 1024), "text/csv")},
        data={"_csrf_token": await browser.csrf()},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert translate(lang, "error.http_413") in r.text


async def test_sign_up_then_a_grid_worker_approves_on_the_desk(browser: Browser, world: World) -> None:
    browser.lang("en")
    page = await browser.get("/signup")
    assert page.status_code == 200 and "Building 1" in page.text
    form = {
        "phone": "13612340001",
        "name": "New Neighbour",
        "area_id": str(world.areas["c1_building"].id),
        "password": "my-password-1",
        "password_again": "my-password-2",
    }
    r = await browser.post("/signup", form)
    assert r.status_code == 400 and "password_again" in field_errors(r.text)
    r = await browser.post("/signup", {**form, "password_again": "my-password-1"})
    assert r.status_code == 303 and r.headers["location"].startswith("/signup/status")
    assert browser.client.cookies.get(TOKEN_COOKIE)
    status = await browser.get("/signup/status")
    assert 'id="signup-pending"' in status.text
    elsewhere = await browser.get("/r/orders", follow_redirects=False)
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/signup/status"

    browser.client.cookies.clear()  # the cookie the sign-up set, for the grid worker's own
    browser.login("grid_worker", "en")
    desk = await browser.get("/desk/approvals")
    assert "New Neighbour" in desk.text
    application = desk.text.split('data-application-id="')[1].split('"')[0]
    r = await browser.post(f"/desk/approvals/{application}/approve")
    assert r.status_code == 303
    assert "New Neighbour" not in (await browser.get("/desk/approvals")).text


async def test_a_resident_applies_to_volunteer_and_a_manager_approves(browser: Browser, world: World) -> None:
    browser.login("resident", "zh")
    page = await browser.get("/r/volunteer")
    assert page.status_code == 200 and 'id="volunteer-apply-form"' in page.text
    r = await browser.post("/r/volunteer", {"weekdays": ["0"], "start": "09:00", "end": "12:00"})
    assert r.status_code == 400 and "skills" in field_errors(r.text)
    form = {
        "skills": ["escort"],
        "weekdays": ["0", "2"],
        "start": "09:00",
        "end": "12:00",
        "serving_area_ids": [str(world.areas["c1"].id)],
    }
    r = await browser.post("/r/volunteer", form)
    assert r.status_code == 303, r.text
    browser.login("manager", "zh")
    desk = await browser.get("/desk/approvals")
    application = desk.text.split('data-application-id="')[1].split('"')[0]
    assert (await browser.post(f"/desk/approvals/{application}/approve")).status_code == 303

"""Logging in and out, the language switch, CSRF and the pages' error handling."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.errors import Conflict
from market.web.i18n import translate
from market.web.pages import Form, FormRejected, handling, local_input, place_name
from tests.web.conftest import Browser, field_errors
from tests.world import PASSWORD


async def test_pages_ask_for_a_login_and_return_to_where_the_person_was(browser: Browser) -> None:
    r = await browser.get("/?from=here", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2F%3Ffrom%3Dhere"
    r = await browser.post("/login", {"phone": "13900000001", "password": PASSWORD, "next": "/v/tasks"})
    assert r.status_code == 303
    assert r.headers["location"] == "/v/tasks"
    assert (await browser.client.get("/api/me")).json()["phone"] == "13900000001"


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("resident", "/r/orders"),
        ("volunteer", "/v/offers"),
        ("vol_resident", "/v/offers"),
        ("grid_worker", "/desk"),
        ("manager", "/desk"),
        ("street_admin", "/desk"),
        ("unit_admin", "/desk/unit/fulfil"),
        ("admin", "/desk"),
    ],
)
async def test_login_lands_each_role_on_its_home(browser: Browser, name: str, home: str) -> None:
    phone = browser.world.users[name].phone
    r = await browser.post("/login", {"phone": phone, "password": PASSWORD})
    assert r.status_code == 303
    assert r.headers["location"] == home


@pytest.mark.parametrize(
    ("lang", "required", "wrong"),
    [
        ("zh", "请填写此项。", "手机号或密码不正确。"),
        ("en", "Please fill this in.", "Wrong phone number or password."),
    ],
)
async def test_login_errors_stand_next_to_the_field_in_the_page_language(
    browser: Browser, lang: str, required: str, wrong: str
) -> None:
    browser.lang(lang)
    r = await browser.post("/login", {"phone": "13900000001", "password": ""})
    assert r.status_code == 400
    assert field_errors(r.text) == {"password": required}
    assert 'value="13900000001"' in r.text, "what the person typed is kept"

    r = await browser.post("/login", {"phone": "13900000001", "password": "not-the-password"})
    assert r.status_code == 401
    assert field_errors(r.text) == {"password": wrong}
    assert "not-the-password" not in r.text, "a password is never sent back"


async def test_a_form_without_the_csrf_token_is_refused(browser: Browser) -> None:
    r = await browser.client.post("/login", data={"phone": "13900000001", "password": PASSWORD})
    assert r.status_code == 403
    assert "market_token" not in browser.client.cookies


async def test_logout_forgets_the_login(browser: Browser) -> None:
    await browser.post("/login", {"phone": "13700000001", "password": PASSWORD})
    assert (await browser.client.get("/api/me")).status_code == 200
    r = await browser.post("/logout")
    assert r.headers["location"] == "/login?notice=logged_out"
    assert (await browser.client.get("/api/me")).status_code == 401


async def test_language_switch_keeps_the_page_and_refuses_to_leave_the_site(browser: Browser) -> None:
    r = await browser.get("/lang?to=en&next=/login", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login")
    page = await browser.get("/login")
    assert '<html lang="en">' in page.text and "Log in" in page.text
    r = await browser.get("/lang?to=zh&next=//evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"
    assert '<html lang="zh-CN">' in (await browser.get("/login")).text
    assert (await browser.get("/lang?to=fr", follow_redirects=False)).status_code == 400


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_page_errors_are_pages_in_the_person_language(browser: Browser, lang: str) -> None:
    browser.login("resident", lang)
    r = await browser.get("/r/orders/999999")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert translate(lang, "error.order_not_found") in r.text


async def test_the_api_still_answers_problem_json(browser: Browser) -> None:
    r = await browser.client.get("/api/orders/999999")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_login_cookie_reads_the_api_but_never_changes_anything_through_it(browser: Browser) -> None:
    r = await browser.post("/login", {"phone": "13700000001", "password": PASSWORD})
    max_age = int(re.search(r"market_token=[^;]*;.*?Max-Age=(\d+)", r.headers["set-cookie"]).group(1))
    assert 0 < max_age <= browser.world.settings.token_hours * 3600, "the cookie lasts as long as the token"
    assert (await browser.client.get("/api/me")).status_code == 200
    wish = {
        "title": "Help",
        "description": "Carry the rice",
        "value_yuan": 10,
        "deadline": (browser.world.now + timedelta(days=3)).isoformat(),
    }
    r = await browser.client.post("/api/wishes", json=wish)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert (await browser.client.get("/api/wishes", params={"posted_by_me": True})).json()["total"] == 0
    r = await browser.client.post("/api/wishes", json=wish, headers=browser.world.auth("resident"))
    assert r.status_code == 201, r.text


def test_local_input_and_place_names() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert local_input(datetime(2025, 3, 1, 16, 30, 59, tzinfo=UTC), shanghai) == "2025-03-02T00:30"
    assert local_input(None, shanghai) == ""
    names = {"110105001001001001": "Garden 1"}
    assert place_name("110105001001001001001", "Building 3", names) == "Garden 1 · Building 3"
    assert place_name("110105001001001001", "Garden 1", names) == "Garden 1"
    assert place_name("110105001001", "Community 1", names) == "Community 1"


async def test_errors_of_fields_a_page_does_not_show_go_above_the_form(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    form = Form({"area_id": "7", "reason": ""})
    refused = {"illegal_transition": "area_id"}
    with pytest.raises(FormRejected) as caught:
        async with (
            session_maker() as session,
            handling(session, form, "any.html", lambda: {}, fields=refused, shown={"reason"}),
        ):
            form.errors["reason"] = ("form.required", {})
            raise Conflict("Not now.", code="illegal_transition")
    assert caught.value.status_code == 409
    assert form.errors == {"reason": ("form.required", {})}
    assert form.problems == [("error.illegal_transition", {})]

"""Signing in through the pages: logging out and changing one's password end the other tokens,
administrators see failed attempts, and the counter waits after too many wrong pickup codes."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import Pool

from market.auth import passwords
from market.auth.models import FailedAttempt
from market.auth.tokens import DEVICE_COOKIE, TOKEN_COOKIE, read_device_token
from market.clock import FrozenClock
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.web.test_desk_units import Shop, coop, redemption, shop  # noqa: F401 - fixtures
from tests.world import PASSWORD

RESIDENT = "13700000001"


def login_token(browser: Browser) -> str:
    """The token the browser's login cookie holds."""
    return browser.client.cookies[TOKEN_COOKIE].strip('"').split(" ")[-1]


async def logged_in(browser: Browser, phone: str = RESIDENT, password: str = PASSWORD) -> str:
    r = await browser.post("/login", {"phone": phone, "password": password})
    assert r.status_code == 303, r.text
    return login_token(browser)


# ---------------------------------------------------------------- logging out, passwords


async def test_logging_out_on_the_pages_ends_the_persons_tokens(browser: Browser) -> None:
    token = await logged_in(browser)
    elsewhere = browser.world.auth("resident")

    r = await browser.post("/logout")

    assert r.headers["location"] == "/login?notice=logged_out"
    for ended in ({"Authorization": f"Bearer {token}"}, elsewhere):
        assert (await browser.client.get("/api/me", headers=ended)).status_code == 401


@pytest.mark.parametrize(
    ("name", "path", "layout"),
    [
        ("resident", "/r/orders", "phone"),
        ("volunteer", "/v/tasks", "phone"),
        ("grid_worker", "/desk/dispatch", "desk"),
        ("unit_admin", "/desk/unit", "desk"),
        ("admin", "/desk/failed-attempts", "desk"),
    ],
)
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_leads_to_the_password_page(
    browser: Browser, name: str, path: str, layout: str, lang: str
) -> None:
    browser.login(name, lang)
    r = await browser.get(path)
    assert r.status_code == 200, r.text
    assert re.search(r'<a [^>]*id="password-link" href="/account/password"', r.text)
    assert translate(lang, "nav.password") in r.text

    form = await browser.get("/account/password")

    assert form.status_code == 200, form.text
    assert f'<body class="{layout}">' in form.text
    assert translate(lang, "account.password_title") in form.text
    for field in ("current_password", "new_password", "new_password_again"):
        assert re.search(rf'<input id="{field}" name="{field}" type="password"', form.text)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_changing_the_password_keeps_this_browser_logged_in_and_ends_the_others(
    browser: Browser, client: AsyncTestClient, lang: str
) -> None:
    old = await logged_in(browser)
    browser.lang(lang)
    elsewhere = browser.world.auth("resident")
    new = "a-new-secret-9"

    r = await browser.post(
        "/account/password",
        {"current_password": "not-it", "new_password": new, "new_password_again": new},
    )
    assert r.status_code == 400
    assert field_errors(r.text) == {"current_password": translate(lang, "error.wrong_current_password")}
    assert "not-it" not in r.text and new not in r.text, "no password is sent back"
    r = await browser.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "new_password_again": new + "x"},
    )
    assert field_errors(r.text) == {"new_password_again": translate(lang, "account.password_mismatch")}
    r = await browser.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "new_password_again": "short"},
    )
    assert field_errors(r.text) == {"new_password": translate(lang, "form.required")}
    assert (
        await browser.client.get("/api/me", headers={"Authorization": f"Bearer {old}"})
    ).status_code == 200

    r = await browser.post(
        "/account/password", {"current_password": PASSWORD, "new_password": new, "new_password_again": new}
    )

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/r/orders?notice=password_changed"
    assert login_token(browser) != old
    assert (await browser.client.get("/api/me")).json()["phone"] == RESIDENT, "still logged in"
    page = await browser.get(r.headers["location"])
    assert translate(lang, "notice.password_changed") in page.text
    for ended in ({"Authorization": f"Bearer {old}"}, elsewhere):
        assert (await client.get("/api/me", headers=ended)).status_code == 401
    logins = [
        (await client.post("/api/auth/login", json={"phone": RESIDENT, "password": p})).status_code
        for p in (PASSWORD, new)
    ]
    assert logins == [401, 200]


async def test_changing_the_password_holds_no_connection_of_the_request_while_hashing(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The password page works in sessions of its own, around slow hashes: the request's session
    holds no connection meanwhile (on PostgreSQL its caller is not read in a transaction left open)."""
    await logged_in(browser)
    checked_out: set[int] = set()
    held_while_hashing: list[int] = []
    lock = threading.Lock()

    def checkout(_dbapi_connection: object, record: object, _proxy: object) -> None:
        with lock:
            checked_out.add(id(record))

    def checkin(_dbapi_connection: object, record: object) -> None:
        with lock:
            checked_out.discard(id(record))

    real_verify = passwords._verify

    def verify(password_hash: str, password: str) -> bool:
        with lock:
            held_while_hashing.append(len(checked_out))
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", verify)
    new = "a-new-secret-9"
    form = {"current_password": PASSWORD, "new_password": new, "new_password_again": new}
    event.listen(Pool, "checkout", checkout)
    event.listen(Pool, "checkin", checkin)
    try:
        r = await browser.post("/account/password", form)
    finally:
        event.remove(Pool, "checkout", checkout)
        event.remove(Pool, "checkin", checkin)
    assert r.status_code == 303, r.text
    assert held_while_hashing == [0]


async def test_too_many_wrong_passwords_on_the_login_page_are_told_to_wait(browser: Browser) -> None:
    browser.lang("en")
    for _ in range(browser.world.settings.login_free_failures):
        r = await browser.post("/login", {"phone": RESIDENT, "password": "not-the-password"})
        assert r.status_code == 401

    r = await browser.post("/login", {"phone": RESIDENT, "password": PASSWORD})

    assert r.status_code == 429
    assert field_errors(r.text) == {"password": translate("en", "error.too_many_failed_attempts")}
    assert TOKEN_COOKIE not in browser.client.cookies


# ---------------------------------------------------------------- failed attempts, for administrators


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_administrators_see_failed_logins_on_their_desk(browser: Browser, lang: str) -> None:
    await browser.post("/login", {"phone": RESIDENT, "password": "not-the-password"})
    await browser.post("/login", {"phone": "13799999999", "password": "not-the-password"})

    for name, shown in (("admin", 2), ("street_admin", 1)):
        browser.login(name, lang)
        desk = await browser.get("/desk/dispatch")
        assert 'href="/desk/failed-attempts"' in desk.text, "the section is in the navigation"
        r = await browser.get("/desk/failed-attempts")
        assert r.status_code == 200, r.text
        assert translate(lang, "failed.title") in r.text
        rows = re.findall(r"<tr>\s*<td class=\"small\">", r.text)
        assert len(rows) == shown, (name, r.text)
        assert "13700000001 · Resident" in r.text and "testclient" in r.text
        assert translate(lang, "attempt_kind.login") in r.text
        assert (await browser.get("/desk/failed-attempts?kind=")).status_code == 200
        only_codes = await browser.get("/desk/failed-attempts?kind=pickup_code")
        assert translate(lang, "failed.empty") in only_codes.text
    assert (await browser.get("/desk/failed-attempts?kind=nonsense")).status_code == 400
    browser.login("manager", lang)
    assert (await browser.get("/desk/failed-attempts")).status_code == 403
    assert 'href="/desk/failed-attempts"' not in (await browser.get("/desk/dispatch")).text


# ---------------------------------------------------------------- the counter's pickup codes


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_counter_waits_after_ten_wrong_codes_even_for_the_right_one(
    browser: Browser,
    client: AsyncTestClient,
    shop: Shop,  # noqa: F811
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    world = browser.world
    code = shop.redemption["pickup_code"]
    wrong = "000000" if code != "000000" else "111111"
    browser.login("unit_admin", lang)
    for _ in range(world.settings.pickup_free_failures):
        r = await browser.post("/desk/unit/fulfil", {"pickup_code": wrong})
        assert field_errors(r.text) == {"pickup_code": translate(lang, "error.wrong_pickup_code")}

    for step, form in (
        ("/desk/unit/fulfil", {"pickup_code": code}),
        ("/desk/unit/fulfil/confirm", {"pickup_code": code, "redemption_id": str(shop.redemption["id"])}),
    ):
        r = await browser.post(step, form)
        assert r.status_code == 429, r.text
        assert field_errors(r.text) == {"pickup_code": translate(lang, "error.too_many_failed_attempts")}
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "pending"

    clock.advance(timedelta(seconds=world.settings.throttle_first_wait_seconds))
    r = await browser.post("/desk/unit/fulfil", {"pickup_code": code})
    assert r.status_code == 200 and 'id="fulfil-check"' in r.text
    r = await browser.post(
        "/desk/unit/fulfil/confirm", {"pickup_code": code, "redemption_id": str(shop.redemption["id"])}
    )

    assert r.status_code == 303, r.text
    assert (await redemption(client, world, shop.redemption["id"]))["status"] == "fulfilled"
    async with session_maker() as session:
        slips = list(await session.scalars(select(FailedAttempt.cleared_at)))
    assert len(slips) == world.settings.pickup_free_failures and None not in slips, (
        "the right code clears them"
    )


async def test_the_login_page_remembers_the_device_past_a_strangers_guesses_and_logging_out(
    browser: Browser, client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        passwords, "_verify", lambda hashed, typed: hashed != passwords.dummy_hash() and typed == PASSWORD
    )
    await logged_in(browser)
    device = browser.client.cookies[DEVICE_COOKIE]
    assert read_device_token(browser.world.settings, device, browser.world.clock()) is not None
    await browser.post("/logout")
    assert browser.client.cookies[DEVICE_COOKIE] == device, "logging out forgets the login, not the device"
    # A stranger, from this browser's address too, guesses the resident's password over and over.
    for _ in range(browser.world.settings.login_account_free_failures):
        await client.post("/api/auth/login", json={"phone": RESIDENT, "password": "guess-guess"})
    r = await client.post("/api/auth/login", json={"phone": RESIDENT, "password": PASSWORD})
    assert r.status_code == 429, "without the device cookie, even the right password waits"

    assert (await browser.post("/login", {"phone": RESIDENT, "password": "typing-slip"})).status_code == 401
    await logged_in(browser)

    assert browser.client.cookies[DEVICE_COOKIE] != device, "every login hands out a fresh one"
    # Administrators see the one slip made from the known device, which the success then cleared.
    browser.login("admin", "en")
    desk = (await browser.get("/desk/failed-attempts?kind=login")).text
    assert desk.count(" · " + translate("en", "failed.known_device")) == 1
    assert desk.count(translate("en", "failed.cleared") + "</span>") == 1

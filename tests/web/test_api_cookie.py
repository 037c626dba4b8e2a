"""The pages' login cookie reads the API but never changes anything through it, whatever headers
come with it: a request that sends an Authorization header is judged by that header alone."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.web.conftest import Browser
from tests.web.test_signin_pages import logged_in
from tests.world import PASSWORD


def wish(browser: Browser) -> dict:
    return {
        "title": "Help",
        "description": "Carry the rice",
        "value_yuan": 10,
        "deadline": (browser.world.now + timedelta(days=3)).isoformat(),
    }


async def my_wishes(browser: Browser) -> int:
    r = await browser.client.get("/api/wishes", params={"posted_by_me": True})
    assert r.status_code == 200, r.text
    return r.json()["total"]


# Whatever else a request carries, a login cookie alone never authorises a change through the API.
# Before, any Authorization header without a space ("x") let the cookie through.
NOT_A_BEARER_TOKEN = [
    [("Authorization", "x")],
    [("Authorization", "")],
    [("Authorization", " ")],
    [("authorization", "x")],
    [("Authorization", "Bearer")],
    [("Authorization", "Bearer ")],
    [("Authorization", "bearer")],
    [("Authorization", "Bearer not-a-token")],
    [("Authorization", "Basic dXNlcjpwYXNzd29yZA==")],
    [("Authorization", "x"), ("Authorization", "y")],
    [("X-Authorization", "x")],
    [("Authorization", "Bearer{cookie}")],
    [("Authorization", "Token {cookie}")],
    [("Authorization", "Bearer {cookie} more")],
    [("Authorization", "Bearer {cookie}"), ("Authorization", "Bearer {cookie}")],
    [("Authorization", "x"), ("Authorization", "Bearer {cookie}")],
]


@pytest.mark.parametrize("headers", NOT_A_BEARER_TOKEN, ids=lambda h: repr(h))
async def test_the_login_cookie_never_authorises_an_api_write(browser: Browser, headers: list) -> None:
    token = await logged_in(browser)
    sent = [(name, value.format(cookie=token)) for name, value in headers]

    r = await browser.client.post("/api/wishes", json=wish(browser), headers=sent)

    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert await my_wishes(browser) == 0
    # Not even the password: the cookie cannot change it, or end the person's tokens.
    body = {"current_password": PASSWORD, "new_password": "a-new-secret-9"}
    assert (await browser.client.post("/api/auth/password", json=body, headers=sent)).status_code == 401
    assert (await browser.client.post("/api/auth/logout", headers=sent)).status_code == 401
    assert (await browser.client.get("/api/me")).status_code == 200, "the cookie still reads"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/wishes/"),
        ("POST", "/api//wishes"),
        ("POST", "//api/wishes"),
        ("PUT", "/api/ledger/policies/{c1}"),
        ("PATCH", "/api/teams/1"),
        ("DELETE", "/api/teams/1/members/1"),
    ],
)
async def test_no_method_or_spelling_of_a_path_lets_the_cookie_write(
    browser: Browser, method: str, path: str
) -> None:
    await logged_in(browser, "13800000010")  # community 1's manager
    raw = path.format(c1=browser.world.areas["c1"].id).encode()
    url = httpx.URL("http://testserver.local/").copy_with(raw_path=raw)

    r = await browser.client.request(method, url, json={"title": "x"})

    assert r.status_code == 401, r.text


async def test_a_bearer_header_is_judged_alone(browser: Browser) -> None:
    token = await logged_in(browser)
    for scheme in ("Bearer", "bearer"):
        r = await browser.client.post(
            "/api/wishes", json=wish(browser), headers={"Authorization": f"{scheme} {token}"}
        )
        assert r.status_code == 201, r.text
    # A bad header with a good cookie beside it is no login, even to read.
    assert (await browser.client.get("/api/me", headers={"Authorization": "x"})).status_code == 401

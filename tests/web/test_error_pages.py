"""Unknown page paths and page errors are pages in the person's language; /api stays problem+json."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from market.web import desk_home
from market.web.i18n import translate
from tests.web.conftest import Browser

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_an_unknown_page_path_is_a_page_in_the_persons_language(browser: Browser, lang: str) -> None:
    browser.login("grid_worker", lang)
    response = await browser.get("/desk/no-such-page", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert translate(lang, "error.http_404") in response.text


async def test_an_unknown_path_without_login_is_a_page_too(client: AsyncTestClient) -> None:
    response = await client.get("/nowhere", headers=HTML)
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")


async def test_the_api_stays_problem_json(client: AsyncTestClient) -> None:
    for headers in (HTML, {}):
        response = await client.get("/api/no-such-thing", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "not_found"
    response = await client.get("/nowhere")
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_page_error_is_a_page_without_details(
    browser: Browser, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(desk_home, "overview", broken)
    browser.login("manager", lang)
    response = await browser.get("/desk", headers=HTML)
    assert response.status_code == 500
    assert translate(lang, "error.http_500") in response.text
    assert "secret detail" not in response.text and "Traceback" not in response.text

"""Page tests: a test client that logs in by cookie, as a browser does, and posts forms
with the CSRF token the pages hand out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from market.auth.tokens import TOKEN_COOKIE, issue_token
from tests.conftest import another_client
from tests.web.browser_support import (
    DemoServer,
    chromium_or_skip,
    launch_chromium,
    serve_demo,
    templates_folder,
)
from tests.world import World

FIELD_ERROR = re.compile(r'<p class="field-error" id="([\w.-]+)-error">([^<]*)</p>')


class Browser:
    """A test client with a person's login cookie and a language."""

    def __init__(self, client: AsyncTestClient, world: World) -> None:
        self.client = client
        self.world = world

    def login(self, name: str, lang: str = "zh") -> Browser:
        token, _ = issue_token(self.world.settings, self.world.users[name], self.world.clock())
        self.client.cookies.set(TOKEN_COOKIE, f"Bearer {token}")
        self.client.cookies.set("lang", lang)
        return self

    def lang(self, lang: str) -> Browser:
        self.client.cookies.set("lang", lang)
        return self

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)

    async def csrf(self) -> str:
        token = self.client.cookies.get("csrftoken")
        if not token:
            await self.client.get("/login")
            token = self.client.cookies.get("csrftoken")
        assert token, "the pages hand out a CSRF cookie"
        return token

    async def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """Submit a form as the page would (with the CSRF token); redirects are not followed."""
        form = {"_csrf_token": await self.csrf(), **(data or {})}
        return await self.client.post(path, data=form, follow_redirects=False, **kwargs)


def field_errors(html: str) -> dict[str, str]:
    """The errors a form page shows next to its fields: field name → message."""
    return dict(FIELD_ERROR.findall(html))


@pytest.fixture
def browser(client: AsyncTestClient, world: World) -> Browser:
    return Browser(another_client(client), world)


# The browser tests: the demo served for a module, and Chromium to drive it.
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    chromium_or_skip()
    yield from serve_demo(tmp_path_factory.mktemp("demo"), templates_folder(tmp_path_factory))


@pytest.fixture(scope="module")
async def chromium(demo: DemoServer) -> AsyncIterator[Any]:
    async for browser in launch_chromium():
        yield browser

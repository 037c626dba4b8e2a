"""Malformed requests are 4xx, not 500s: JSON nested ~1,000 levels deep (market/edge.py) and static
paths the operating system cannot look up (market/web/static.py).

The app-level tests need the two hooks wired: `request_class=MarketRequest` in create_app and
`file_system=StaticFileSystem()` on the static files router (market/web/routes.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

import market.web
from market.edge import MarketRequest
from market.errors import problem_details_plugin
from market.web.static import StaticFileSystem
from tests.world import World

DEPTHS = [990, 1_000, 5_000, 100_000]


def nested(kind: str, depth: int) -> str:
    if kind == "arrays":
        return "[" * depth + "]" * depth
    if kind == "objects":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"transfers":' + "[" * depth + "]" * depth + "}"  # deep inside a real schema's field


def assert_problem(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.json()["code"] == code and r.json()["status"] == status, r.json()


# ---------------------------------------------------------------- the hooks themselves


@post("/echo", status_code=200)
async def echo(data: JSONBody[dict[str, object]]) -> dict[str, object]:
    return data


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["arrays", "objects"])
async def test_a_too_deeply_nested_body_is_a_problem_not_a_crash(kind: str, depth: int) -> None:
    app = Litestar([echo], request_class=MarketRequest, plugins=[problem_details_plugin()])
    async with AsyncTestClient(app=app) as client:
        r = await client.post(
            "/echo", content=nested(kind, depth), headers={"content-type": "application/json"}
        )
        assert_problem(r, 400, "too_deeply_nested")
        r = await client.post("/echo", json={"a": [[[1]]]})
        assert r.status_code == 200 and r.json() == {"a": [[[1]]]}


STATIC = Path(market.web.__file__).parent / "static"


@pytest.mark.parametrize(
    "name",
    ["market.js\x00.png", "\x00", "a" * 300 + ".js", "market.js/x", "market.js%00"],
)
async def test_paths_the_file_system_cannot_look_up_are_missing_files(name: str) -> None:
    with pytest.raises(FileNotFoundError):
        await StaticFileSystem().info(STATIC / name)


async def test_static_files_are_found_as_before() -> None:
    info = await StaticFileSystem().info(STATIC / "market.js")
    assert info["type"] == "file" and info["size"] > 0


# ---------------------------------------------------------------- through the app


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("kind", ["arrays", "objects", "field"])
async def test_the_api_refuses_deeply_nested_json(
    client: AsyncTestClient, world: World, kind: str, depth: int
) -> None:
    r = await client.post(
        "/api/ledger/transfers",
        content=nested(kind, depth),
        headers={**world.auth("admin"), "content-type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "path",
    [
        "/static/market.js%00.png",
        "/static/%00",
        "/static/market.js%2500",
        "/static/" + "a" * 300 + ".js",
        "/static/market.js/x",
        "/static/%ff.png",
        "/static/..%2f..%2fetc%2fpasswd",
    ],
)
async def test_malformed_static_paths_are_not_found_without_a_login(
    client: AsyncTestClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert (await client.get("/static/market.js")).status_code == 200

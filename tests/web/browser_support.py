"""What the end-to-end tests need: the demo served by `market serve` in a subprocess, on its own
SQLite file, and Debian's Chromium driven by Playwright. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import IN_CI, free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("MARKET_CHROMIUM", "/usr/bin/chromium")
# As the machine's own probe starts it: no sandbox (root), and nothing that reaches for the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 812}
DESK = {"width": 1366, "height": 900}
DEMO_PASSWORD = "demo12345"
# The `market` command of the environment running the tests.
MARKET = str(Path(sys.executable).with_name("market"))


def chromium_or_skip() -> str:
    """The browser's path. Under CI a missing browser fails the run instead of skipping."""
    if Path(CHROMIUM).is_file() and shutil.which("fc-list"):
        return CHROMIUM
    message = (
        f"no Chromium at {CHROMIUM}: `make browser` installs it (apt-get install chromium fonts-wqy-microhei)"
    )
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


async def launch_chromium() -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright, for a module's tests to share (one browser, many contexts)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def save_screenshot(page: Any, path: Path, *, full_page: bool = False) -> None:
    """The page as a picture at `path`. Chromium now and then refuses one capture ("Unable to capture
    screenshot") and takes the same picture when asked again; the pictures are a record, not a check,
    so that refusal is asked again a few times before it fails the test."""
    from playwright.async_api import Error

    attempts = 3
    for attempt in range(1, attempts + 1):
        try:
            await page.screenshot(path=str(path), full_page=full_page)
            return
        except Error as refused:
            if "Unable to capture screenshot" not in refused.message or attempt == attempts:
                raise
            await asyncio.sleep(0.2)


def _market(env: dict[str, str], workdir: Path, *args: str) -> None:
    # In its own folder, as an install is: the secret it makes itself stays under workdir/var/.
    subprocess.run([MARKET, *args], env=env, cwd=workdir, check=True, capture_output=True)


@dataclass(frozen=True)
class DemoServer:
    url: str
    database: Path


def serve_demo(workdir: Path, templates: Path) -> Iterator[DemoServer]:
    """A new copy of the upgraded demo served as `make run` serves it (scheduler off, so that no job
    changes the data under the test)."""
    yield from serve(workdir, templates, ["demo"])


def templates_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a run keeps the installs it copies: shared by its xdist workers (their temporary
    folders sit side by side), its own when it runs alone."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _environment(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MARKET_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "MARKET_SCHEDULER": "off",
        "MARKET_OFFER_STREAM_POLL_SECONDS": "1",
        # The demo and the server share the suite's stopped clock: the story plays at the same
        # moment whatever the hour (the moment is printed in the test run's header).
        "MARKET_NOW": os.environ["MARKET_TEST_NOW"],
    }


def _install(templates: Path, setup: tuple[list[str], ...]) -> Path:
    """The folder of an install (its SQLite file and the secret it made) upgraded, then set up by
    each `market` command of `setup`. Made once per run, from the install one command shorter, and
    copied by every module that serves it: migrating and loading the demo took most of a module's
    start-up, once for each worker its tests were spread over."""
    name = hashlib.sha256(repr(setup).encode()).hexdigest()[:12]
    folder = templates / f"install-{name}"
    with (templates / f"install-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait for the first to make it
        if not folder.exists():
            building = templates / f"install-{name}.building"
            shutil.rmtree(building, ignore_errors=True)
            if setup:
                shutil.copytree(_install(templates, setup[:-1]), building)
                _market(_environment(building / "market.db"), building, *setup[-1])
            else:
                building.mkdir()
                _market(_environment(building / "market.db"), building, "db", "upgrade")
            building.rename(folder)
    return folder


def serve(workdir: Path, templates: Path, *setup: list[str]) -> Iterator[DemoServer]:
    """A new copy of the install upgraded and set up by each `market` command of `setup`, served."""
    shutil.copytree(_install(templates, setup), workdir, dirs_exist_ok=True)
    database = workdir / "market.db"
    env = _environment(database)
    port = free_port()
    log = (workdir / "server.log").open("w")
    server = subprocess.Popen(
        [MARKET, "serve", "--port", str(port)], env=env, cwd=workdir, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise RuntimeError((workdir / "server.log").read_text())
            time.sleep(0.1)
        else:
            raise RuntimeError("the demo server did not start")
        yield DemoServer(base, database)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


async def log_in(
    chromium: Any, demo: DemoServer, viewport: dict[str, int], phone: str, lang: str = "zh"
) -> Any:
    """A person in a browser context of their own (their own cookies), logged in on the login page."""
    context = await chromium.new_context(viewport=viewport, base_url=demo.url)
    await context.add_cookies([{"name": "lang", "value": lang, "url": demo.url}])
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#phone", phone)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()
    assert "/login" not in page.url, await page.content()
    return page


def _shift(demo: DemoServer, order_id: int, columns: tuple[str, ...], by: timedelta) -> None:
    """Move an order's stored moments by `by`, in the demo's own database, as they are stored."""
    with sqlite3.connect(demo.database) as db:
        for column in columns:
            (stored,) = db.execute(f"SELECT {column} FROM orders WHERE id = ?", (order_id,)).fetchone()
            moved = datetime.fromisoformat(stored) + by
            db.execute(
                f"UPDATE orders SET {column} = ? WHERE id = ?",
                (moved.isoformat(sep=" " if " " in stored else "T"), order_id),
            )


def window_starts_soon(demo: DemoServer, order_id: int, lasting: timedelta | None = None) -> None:
    """Move an accepted order's window to start a quarter of an hour after the demo server's clock
    (and last `lasting`, else as long as before), so that its volunteer may check in now: check-in
    opens 30 minutes before the window. The order was posted for a time its volunteers are free,
    whatever hour the suite's clock stands at."""
    now = datetime.fromisoformat(os.environ["MARKET_TEST_NOW"]).astimezone(UTC)
    with sqlite3.connect(demo.database) as db:
        start, end = (
            datetime.fromisoformat(stored).replace(tzinfo=UTC)
            for stored in db.execute(
                "SELECT window_start, window_end FROM orders WHERE id = ?", (order_id,)
            ).fetchone()
        )
    _shift(demo, order_id, ("window_start", "window_end"), now + timedelta(minutes=15) - start)
    if lasting is not None:
        _shift(demo, order_id, ("window_end",), lasting - (end - start))


def served_for_hours(demo: DemoServer, order_id: int, hours: int) -> None:
    """Move the check-in back, and the order's time window with it (hours count only inside it):
    the volunteer served for `hours` without the test waiting that long."""
    _shift(demo, order_id, ("checked_in_at", "window_start", "window_end"), -timedelta(hours=hours))

"""End to end, in headless Chromium, on the demo: one resident's order from posting to its
automatic confirmation, with the resident's order page open twice (in Chinese on the phone, in
English on a desk-sized screen). Each step's message arrives on both pages by the bell in the top
bar, without a reload, in each page's language; the inbox then lists them and marks them read."""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import engine_for
from market.orders.service import auto_confirm_orders
from market.privacy import mask_name
from market.settings import Settings
from market.web.i18n import translate
from tests.web.browser_support import (
    DEMO_PASSWORD,
    DESK,
    PHONE,
    SCREENSHOTS,
    DemoServer,
    log_in,
    save_screenshot,
    window_starts_soon,
)

pytestmark = pytest.mark.browser

RESIDENT = "13700000000"
GRID_WORKER = "13800000020"
# How long a page may take to show what the server pushes to it (the stream polls every second).
ARRIVAL_MS = 15_000


class Api:
    """Another person acting through the API while the resident watches."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def log_in(cls, http: httpx.AsyncClient, phone: str) -> Api:
        r = await http.post("/api/auth/login", json={"phone": phone, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        return cls(http, r.json()["access_token"])

    async def get(self, path: str) -> Any:
        r = await self.http.get(path, headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()

    async def post(self, path: str, body: Any = None) -> Any:
        r = await self.http.post(path, json=body, headers=self.headers)
        assert r.status_code in (200, 201), r.text
        return r.json()


def completed_days_ago(demo: DemoServer, order_id: int, days: int) -> None:
    """Move the completion back: the resident left it unconfirmed without the test waiting a week."""
    with sqlite3.connect(demo.database) as db:
        (stored,) = db.execute("SELECT completed_at FROM orders WHERE id = ?", (order_id,)).fetchone()
        earlier = datetime.fromisoformat(stored) - timedelta(days=days)
        db.execute(
            "UPDATE orders SET completed_at = ? WHERE id = ?",
            (earlier.isoformat(sep=" " if " " in stored else "T"), order_id),
        )


async def run_auto_confirm(demo: DemoServer) -> int:
    """The scheduler's auto-confirm job, run once on the demo's database at the server's moment."""
    settings = Settings()
    engine = engine_for(f"sqlite+aiosqlite:///{demo.database}")
    try:
        async with AsyncSession(engine) as session, session.begin():
            now = datetime.fromisoformat(os.environ["MARKET_TEST_NOW"])
            return await auto_confirm_orders(session, now, settings.tz, settings.auto_confirm_days)
    finally:
        await engine.dispose()


async def test_each_step_of_an_order_reaches_the_resident_s_pages_without_a_reload(
    chromium: Any, demo: DemoServer
) -> None:
    from playwright.async_api import expect

    folder = SCREENSHOTS / "notifications"
    folder.mkdir(parents=True, exist_ok=True)

    # The resident posts an order on the phone, in Chinese.
    zh = await log_in(chromium, demo, PHONE, RESIDENT, "zh")
    await zh.goto("/r/orders/new")
    await zh.check("input[name=category][value=escort]")
    await zh.fill("#description", "陪我去区医院复查")
    await zh.click("form[action='/r/orders/new'] button[type=submit]")
    await zh.wait_for_url(re.compile(r"/r/orders/\d+"))
    order_id = int(zh.url.split("?")[0].rsplit("/", 1)[1])
    # And has it open in English too, on a bigger screen.
    en = await log_in(chromium, demo, DESK, RESIDENT, "en")
    await en.goto(f"/r/orders/{order_id}")
    pages = {"zh": zh, "en": en}
    for page in pages.values():
        await expect(page.locator("#bell[data-live]")).to_have_count(1, timeout=ARRIVAL_MS)
        await page.evaluate("window.stillTheSamePage = true")
    # The demo's own orders told the resident things before; the bell counts on from those.
    counts = await zh.locator("#bell .bell-count").all_inner_texts()
    before = int(counts[0]) if counts else 0

    async def arrives(step: str, code: str, unread: int, **params: object) -> None:
        for lang, page in pages.items():
            fresh = page.locator("#bell-fresh")
            await expect(fresh).to_have_text(
                translate(lang, f"notification.{code}", order_id=order_id, **params), timeout=ARRIVAL_MS
            )
            await expect(page.locator("#bell .bell-count")).to_have_text(str(before + unread))
            await expect(fresh).to_have_attribute("href", f"/r/orders/{order_id}")
            assert await page.evaluate("window.stillTheSamePage") is True, "no reload"
            await save_screenshot(page, folder / f"{unread:02d}-{step}-{lang}.png")

    async with httpx.AsyncClient(base_url=demo.url, timeout=20) as http:
        grid = await Api.log_in(http, GRID_WORKER)
        # The solver proposes a volunteer; the grid worker offers the order to them directly.
        home = (await grid.get("/api/me"))["area_id"]
        plan = await grid.post("/api/dispatch/plans", {"area_id": home, "order_ids": [order_id]})
        (pair,) = [p for p in plan["pairs"] if p["order_id"] == order_id]
        volunteer_id = pair["volunteer_id"]
        body = {"volunteer_ids": [volunteer_id], "mode": "direct"}
        await grid.post(f"/api/orders/{order_id}/dispatch", body)
        await arrives("dispatched", "order_dispatched", 1)

        person = await grid.get(f"/api/users/{volunteer_id}")
        volunteer = await Api.log_in(http, person["phone"])
        offers = (await volunteer.get("/api/offers?status=pending"))["items"]
        (offer,) = [o for o in offers if o["order_id"] == order_id]
        await volunteer.post(f"/api/offers/{offer['id']}/accept")
        await arrives("accepted", "order_accepted", 2, volunteer=mask_name(person["name"]))

        window_starts_soon(demo, order_id)
        await volunteer.post(f"/api/orders/{order_id}/check-in")
        await arrives("checked-in", "order_checked_in", 3)
        await volunteer.post(f"/api/orders/{order_id}/check-out")
        await volunteer.post(f"/api/orders/{order_id}/complete", {"note": "已陪同复查"})
        await arrives("completed", "order_completed", 4)

    # A week passes without the resident confirming; the scheduler's job confirms it.
    settings = Settings()
    completed_days_ago(demo, order_id, settings.auto_confirm_days + 1)
    assert await run_auto_confirm(demo) == 1
    await arrives("auto-confirmed", "order_auto_confirmed", 5, days=settings.auto_confirm_days)

    # The bell leads to the inbox: every step, newest first; marking all read empties the bell.
    await en.click("#bell a.bell")
    await en.wait_for_url(re.compile(r"/notifications$"))
    items = en.locator("ul.inbox > li")
    await expect(items).to_have_count(min(before + 5, 20))
    await expect(items.first).to_contain_text(
        translate(
            "en", "notification.order_auto_confirmed", order_id=order_id, days=settings.auto_confirm_days
        )
    )
    await save_screenshot(en, folder / "inbox-en.png", full_page=True)
    await en.click("form[action='/notifications/read-all'] button[type=submit]")
    await en.wait_for_url(re.compile(r"/notifications\?notice=notifications_all_read"))
    await expect(en.locator("ul.inbox > li.unread")).to_have_count(0)
    await expect(zh.locator("#bell .bell-count")).to_have_count(0, timeout=ARRIVAL_MS)
    await expect(zh.locator("#bell-fresh")).to_have_count(0)

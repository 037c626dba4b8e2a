"""End to end, in headless Chromium, on the demo: a grid worker prints their grid's doorplate
sheet; someone not logged in scans a plate, is sent to log in, comes back to the order form with
the place filled in, and posts an order there. Screenshots under test-artifacts/screenshots/doorplate/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.browser_support import (
    DEMO_PASSWORD,
    DESK,
    PHONE,
    SCREENSHOTS,
    DemoServer,
    log_in,
    save_screenshot,
)

pytestmark = pytest.mark.browser

RESIDENT = "13700000000"
GRID_WORKER = "13800000020"
BUILDING_CODE = re.compile(r"^\d{21}$")


async def test_a_scanned_doorplate_leads_to_login_and_back_to_an_order_at_that_place(
    chromium: Any, demo: DemoServer
) -> None:
    from playwright.async_api import expect

    folder = SCREENSHOTS / "doorplate"
    folder.mkdir(parents=True, exist_ok=True)

    # The grid worker opens the sheet from the area tree and issues their grid's codes.
    desk = await log_in(chromium, demo, DESK, GRID_WORKER)
    await desk.goto("/desk/areas")
    await desk.click("#doorplates-link")
    await desk.click("#issue")
    await desk.wait_for_load_state()
    plates = desk.locator("figure.plate")
    await expect(plates.first).to_be_visible()
    await save_screenshot(desk, folder / "01-sheet.png", full_page=True)
    building = None
    for i in range(await plates.count()):
        if BUILDING_CODE.match(await plates.nth(i).get_attribute("data-code") or ""):
            building = plates.nth(i)
            break
    assert building is not None
    code = await building.get_attribute("data-code")
    link = await building.get_attribute("data-link")
    name = (await building.locator(".name").inner_text()).strip()
    assert link.startswith(f"{demo.url}/p/")

    # Someone not logged in scans it: the place, its grid worker to call.
    context = await chromium.new_context(viewport=PHONE, base_url=demo.url)
    await context.add_cookies([{"name": "lang", "value": "zh", "url": demo.url}])
    phone = await context.new_page()
    await phone.goto(link)
    await expect(phone.locator("#place")).to_have_attribute("data-code", code)
    await expect(phone.locator("#grid-workers a[href^='tel:']").first).to_be_visible()
    await save_screenshot(phone, folder / "02-place.png", full_page=True)

    # Posting an order there asks them to log in first, and brings them back to the form.
    await phone.click("#post-order")
    await phone.wait_for_url(re.compile(r"/login\?next="))
    await phone.fill("#phone", RESIDENT)
    await phone.fill("#password", DEMO_PASSWORD)
    await phone.click("form[action='/login'] button[type=submit]")
    await phone.wait_for_url(re.compile(r"/r/orders/new\?place="))
    await expect(phone.locator("#area_id option:checked")).to_contain_text(name)
    await save_screenshot(phone, folder / "03-order-form.png", full_page=True)
    await phone.check("input[name=category][value=escort]")
    await phone.fill("#description", "扫门牌码点单：陪我去社区卫生站")
    await phone.click("form[action='/r/orders/new'] button[type=submit]")
    await phone.wait_for_url(re.compile(r"/r/orders/\d+"))
    await expect(phone.locator("body")).to_contain_text("待派单")
    await save_screenshot(phone, folder / "04-order-posted.png", full_page=True)

    # The order is at the scanned place.
    order_id = int(phone.url.split("?")[0].rsplit("/", 1)[1])
    order = await (await desk.request.get(f"/api/orders/{order_id}")).json()
    assert order["area"]["code"] == code
    await context.close()

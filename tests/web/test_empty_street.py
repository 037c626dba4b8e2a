"""End to end, in headless Chromium, from an empty database holding only the administrator that
`market user create` made, to a confirmed order with points in the volunteer's account, by pages
alone: the administrator imports the area tree and appoints the street's people, imports residents
from a spreadsheet, the street admin funds the pool, a resident signs up and the grid worker
approves, the resident applies to volunteer and the community manager approves, the volunteer fills
in the profile, the grid worker enters an order by phone for an elderly resident who has no password,
dispatches it, the volunteer serves it, and the grid worker confirms it for her. Every page is kept
as a screenshot under test-artifacts/empty-street/."""

from __future__ import annotations

import io
import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from tests.web.browser_support import (
    DESK,
    PHONE,
    ROOT,
    DemoServer,
    chromium_or_skip,
    launch_chromium,
    serve,
    served_for_hours,
    templates_folder,
    window_starts_soon,
)
from tests.web.test_browser import Screens

pytestmark = pytest.mark.browser

ADMIN = "13800000000"
PASSWORD = "street-pass-1"
STREET_ADMIN, MANAGER, GRID_WORKER = "13800000001", "13800000010", "13800000020"
ELDER, NEIGHBOUR = "13700000001", "13700000002"
NEWCOMER = "13600000001"
BUILDING = "110105001001001001001"
TREE = [
    ("编码", "名称", "上级编码"),
    ("110105001001001001001", "1号楼", "110105001001001001"),  # children may come before parents
    ("110105001", "幸福街道", ""),
    ("110105001001", "幸福里社区", "110105001"),
    ("110105001001001", "幸福里第一网格", "110105001001"),
    ("110105001001001001", "阳光小区", "110105001001001"),
    ("110105001001001001002", "2号楼", "110105001001001001"),
]
PEOPLE = [
    ("手机号", "姓名", "楼栋编码", "身份", "技能", "可服务时间"),
    (ELDER, "张桂兰", BUILDING, "居民", "", ""),
    (NEIGHBOUR, "李明", "110105001001001001002", "居民", "", ""),
]


def workbook(rows: list[tuple[str, ...]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def street(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    chromium_or_skip()
    admin = [
        "user",
        "create",
        "--phone",
        ADMIN,
        "--name",
        "管理员",
        "--role",
        "admin",
        "--password",
        PASSWORD,
    ]
    yield from serve(tmp_path_factory.mktemp("empty"), templates_folder(tmp_path_factory), admin)


@pytest.fixture(scope="module")
async def chromium(street: DemoServer) -> AsyncIterator[Any]:
    async for browser in launch_chromium():
        yield browser


async def open_as(chromium: Any, street: DemoServer, viewport: dict[str, int], phone: str | None) -> Any:
    """A person in a browser context of their own, logged in on the login page when `phone` is given."""
    context = await chromium.new_context(viewport=viewport, base_url=street.url)
    await context.add_cookies([{"name": "lang", "value": "zh", "url": street.url}])
    page = await context.new_page()
    if phone is not None:
        await page.goto("/login")
        await page.fill("#phone", phone)
        await page.fill("#password", PASSWORD)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_load_state()
        assert "/login" not in page.url, await page.content()
    return page


async def choose(page: Any, select: str, text: str) -> None:
    """Pick the option of `select` whose label names `text` (the shortest such label)."""
    value = await page.eval_on_selector(
        select,
        """(el, text) => {
            const found = [...el.options].filter(o => o.value && o.textContent.includes(text));
            found.sort((a, b) => a.textContent.length - b.textContent.length);
            return found.length ? found[0].value : null;
        }""",
        text,
    )
    assert value, f"no option naming {text} in {select}"
    await page.select_option(select, value)


async def upload(page: Any, name: str, data: bytes) -> None:
    await page.set_input_files(
        "#file", {"name": name, "mimeType": "application/octet-stream", "buffer": data}
    )


async def add_person(desk: Any, phone: str, name: str, area: str, role: str) -> None:
    await desk.goto("/desk/people/new")
    await desk.fill("#phone", phone)
    await desk.fill("#name", name)
    await choose(desk, "#area_id", area)
    await desk.fill("#password", PASSWORD)
    for box in await desk.locator("input[name=roles]").all():
        await box.set_checked(await box.get_attribute("value") == role)
    await desk.click("#save-person")
    await desk.wait_for_url(re.compile(r"/desk/people/\d+"))


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.mark.long
async def test_a_street_from_an_empty_database_to_its_first_points(chromium: Any, street: DemoServer) -> None:
    from playwright.async_api import expect

    shot = Screens(ROOT / "test-artifacts" / "empty-street")

    # The administrator lands on the desk and imports the area tree from a spreadsheet.
    admin = await open_as(chromium, street, DESK, ADMIN)
    assert admin.url.endswith("/desk"), admin.url
    await shot(admin, "admin-desk")
    await admin.goto("/desk/areas/import")
    await upload(admin, "areas.xlsx", workbook(TREE))
    await admin.click("#preview-import")
    await expect(admin.locator("#preview")).to_have_attribute("data-rejected", "0")
    await shot(admin, "admin-areas-preview")
    await admin.click("#confirm-import")
    await admin.wait_for_url(re.compile(r"/desk/areas"))
    await expect(admin.locator("body")).to_contain_text("幸福街道")
    await shot(admin, "admin-areas")

    # … appoints the street's admin, the community's manager and the grid's worker …
    await add_person(admin, STREET_ADMIN, "街道王主任", "幸福街道", "street_admin")
    await add_person(admin, MANAGER, "社区刘书记", "幸福里社区", "community_manager")
    await add_person(admin, GRID_WORKER, "网格员小陈", "幸福里第一网格", "grid_worker")
    await shot(admin, "admin-person")

    # … and imports the residents from a spreadsheet: a preview, then the import with its progress.
    await admin.goto("/desk/people/import")
    await upload(admin, "people.xlsx", workbook(PEOPLE))
    await admin.click("#check-file")
    await expect(admin.locator("#import-counts")).to_be_visible()
    await shot(admin, "admin-people-preview")
    await admin.click("#confirm-import")
    await expect(admin.locator("#import-done")).to_be_visible()
    await shot(admin, "admin-people-imported")

    # The street admin funds the community's pool.
    street_admin = await open_as(chromium, street, DESK, STREET_ADMIN)
    await street_admin.goto("/desk/budgets")
    await shot(street_admin, "street-admin-budgets-form")
    await choose(street_admin, "#community_id", "幸福里社区")
    await street_admin.fill("#amount", "5000")
    await street_admin.fill("#memo", "2027 年第一季度志愿服务积分")
    await street_admin.click("#fund-pool")
    await street_admin.wait_for_load_state()
    await expect(street_admin.locator("#pools [data-balance]").first).to_have_attribute(
        "data-balance", "5000"
    )
    await shot(street_admin, "street-admin-budgets")

    # A resident signs up on the phone and waits; the grid worker approves on the desk.
    newcomer = await open_as(chromium, street, PHONE, None)
    await newcomer.goto("/signup")
    await newcomer.fill("#phone", NEWCOMER)
    await newcomer.fill("#name", "赵新")
    await choose(newcomer, "#area_id", "1号楼")
    await newcomer.fill("#password", PASSWORD)
    await newcomer.fill("#password_again", PASSWORD)
    await shot(newcomer, "resident-signup")
    await newcomer.click("#signup-submit")
    await newcomer.wait_for_url(re.compile(r"/signup/status"))
    await shot(newcomer, "resident-waiting")
    grid = await open_as(chromium, street, DESK, GRID_WORKER)
    await grid.goto("/desk/approvals")
    await shot(grid, "grid-approvals")
    await (
        grid.locator("#approvals tr[data-kind=resident]", has_text=NEWCOMER).locator("button.approve").click()
    )
    await grid.wait_for_load_state()
    await expect(grid.locator("#approvals tr[data-kind=resident]")).to_have_count(0)

    # The resident, now in, applies to volunteer; the community manager approves.
    await newcomer.goto("/r/volunteer")
    await newcomer.check("input[name=skills][value=escort]")
    for day in await newcomer.locator("input[name=weekdays]").all():
        await day.check()
    await newcomer.fill("#start", "08:00")
    await newcomer.fill("#end", "18:00")
    await newcomer.locator("input[name=serving_area_ids]").first.check()
    await shot(newcomer, "resident-volunteer-apply")
    await newcomer.click("#volunteer-apply-submit")
    await newcomer.wait_for_load_state()
    manager = await open_as(chromium, street, DESK, MANAGER)
    await manager.goto("/desk")
    await expect(manager.locator("#tile-approvals")).to_have_attribute("data-count", "1")
    await manager.goto("/desk/approvals")
    await manager.locator("#approvals tr[data-kind=volunteer]").locator("button.approve").click()
    await manager.wait_for_load_state()
    await expect(manager.locator("#approvals tr[data-kind=volunteer]")).to_have_count(0)
    await shot(manager, "manager-approved")

    # The volunteer logs in again (the new role is in a new token), lands on offers, fills the profile.
    volunteer = await open_as(chromium, street, PHONE, NEWCOMER)
    assert volunteer.url.endswith("/v/offers"), volunteer.url
    await volunteer.goto("/v/profile")
    await volunteer.fill("#capacity", "2")
    await volunteer.click("#save-profile")
    await volunteer.wait_for_load_state()
    await expect(volunteer.locator("#capacity")).to_have_value("2")
    await shot(volunteer, "volunteer-profile")
    await volunteer.goto("/v/points")
    points_before = int(await volunteer.locator("#available").inner_text())

    # The elderly resident phones the grid worker, who finds her and enters her order.
    tomorrow = datetime.fromisoformat(os.environ["MARKET_TEST_NOW"]).astimezone(ZoneInfo("Asia/Shanghai"))
    tomorrow = (tomorrow + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    await grid.goto("/desk/orders/new")
    await grid.fill("#q", ELDER)
    await grid.click("#find-button")
    await grid.wait_for_load_state()
    await grid.locator("[id^=choose-]").first.click()
    await grid.wait_for_url(re.compile(r"resident=\d+"))
    await grid.select_option("#channel", "phone")
    await grid.select_option("#category", "escort")
    await grid.fill("#description", "张阿姨上午要去区医院复查，需要有人陪同")
    await grid.fill("#window_start", local(tomorrow))
    await grid.fill("#window_end", local(tomorrow + timedelta(hours=3)))
    await shot(grid, "grid-enter-order")
    await grid.click("#enter-order-button")
    await grid.wait_for_url(re.compile(r"/desk/dispatch/orders/\d+"))
    order_id = int(grid.url.split("?")[0].rsplit("/", 1)[1])
    await expect(grid.locator("#entered-by")).to_have_attribute("data-channel", "phone")

    # The grid worker offers it to the new volunteer by hand.
    await grid.locator("input[name=volunteer_ids]").first.check()
    await grid.click("#dispatch-submit")
    await grid.wait_for_load_state()
    await shot(grid, "grid-dispatched")

    # The volunteer accepts, serves two hours and completes.
    await volunteer.goto("/v/offers")
    card = volunteer.locator("[id^=offer-]").first
    await card.locator("form[action$='/accept'] button").click()
    await volunteer.wait_for_url(re.compile(r"/v/tasks"))
    window_starts_soon(street, order_id)
    await volunteer.reload()
    task = volunteer.locator(f"#task-{order_id}")
    await task.locator(f"form[action='/v/tasks/{order_id}/check-in'] button").click()
    await volunteer.wait_for_load_state()
    served_for_hours(street, order_id, 2)
    await task.locator("textarea").fill("已陪同张阿姨复查")
    await task.locator(f"form[action='/v/tasks/{order_id}/complete'] button").click()
    await volunteer.wait_for_load_state()
    await shot(volunteer, "volunteer-completed")

    # She has no phone to confirm on: the grid worker calls her and confirms with her rating.
    await grid.goto(f"/desk/dispatch/orders/{order_id}")
    await grid.select_option("#rating", "5")
    await grid.fill("#comment", "张阿姨说小赵很耐心")
    await grid.click("#confirm-order")
    await grid.wait_for_load_state()
    await expect(grid.locator("#confirm-card")).to_have_count(0)
    await shot(grid, "grid-confirmed-for-resident")

    # The points arrive.
    await volunteer.goto("/v/points")
    earned = int(await volunteer.locator("#available").inner_text()) - points_before
    assert earned > 0
    await shot(volunteer, "volunteer-points")

"""Every page passes axe-core, in both languages, for every role of the demo; phone pages keep their
text at 16px or more and their controls a finger wide; a refused form puts the cursor on what to
correct; 长辈模式 makes a person's pages larger and follows them.

The walk takes the page routes from the app's route table (as the privacy walk does) and logs in
as each role of the demo, following the links of every page it reaches from the person's
sections, one page per route and role, and checking each route the first time a role reaches it.
A page route that no role reaches fails the test: link it, or add where the walk finds it
(STARTS, MAKERS). axe-core is vendored (tests/web/vendor): nothing is downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from market.demo import DEMO_LOGINS
from market.web.routes import web_router
from tests.conftest import IN_CI
from tests.test_privacy_walk import get_routes
from tests.web.browser_support import (
    DEMO_PASSWORD,
    DESK,
    PHONE,
    DemoServer,
)

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# What fails the walk: axe's two highest impacts (minor and moderate are reported by axe, not here).
FAILING_IMPACTS = {"serious", "critical"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
# GET routes of the pages that are not pages to read: redirects, a stream, downloads.
NOT_PAGES = {
    "/",
    "/lang",
    "/v/offers/stream",
    "/desk/dispatch/stream",
    "/notifications/stream",
    "/desk/areas/import/template",
    "/desk/people/import/template",
    "/desk/records/export",
    "/desk/certificates/{certificate_id:int}/pdf",
    "/v/record/certificates/{certificate_id:int}/pdf",
    "/desk/party/letters.pdf",
    "/desk/party/commendations.pdf",
    "/desk/party/members.xlsx",
    "/desk/party/year.xlsx",
    "/desk/party/street.xlsx",
    "/desk/unit-reviews/report.pdf",
    "/desk/unit-reviews/report.xlsx",
    "/desk/credit/roll.xlsx",
}
# One person of each role (the demo's first volunteer), the least privileged first.
WALKERS = {role: phone for role, phone, _ in reversed(DEMO_LOGINS)}
# Phone pages: the smallest text a person reads, the smallest a finger presses.
MIN_TEXT_PX = 16
MIN_TAP_PX = 44


def _pattern(route: str) -> re.Pattern[str]:
    """A route of the table as a regular expression over paths: `{id:int}` takes digits."""
    regex = re.escape(route)
    regex = re.sub(r"\\\{\w+:int\\\}", r"\\d+", regex)
    return re.compile(re.sub(r"\\\{\w+(?::\w+)?\\\}", "[^/]+", regex) + "$")


PAGE_ROUTES = {
    route: _pattern(route)
    for route in get_routes(web_router())
    if not route.startswith(("/static", "/api")) and route not in NOT_PAGES
}


def route_of(path: str) -> str | None:
    """The page route a path belongs to; the literal route wins over a parameter (`/new`, `/{id}`)."""
    found = [route for route, pattern in PAGE_ROUTES.items() if pattern.match(path)]
    return min(found, key=lambda r: (r.count("{"), -len(r)), default=None)


# Measured in the page: visible text set below the minimum, and controls smaller than a finger.
# An inline link inside a sentence is exempt (as WCAG's target-size is); a checkbox or radio is
# measured with its label, which presses it too.
PHONE_SIZES = """([minText, minTap]) => {
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" ? el.className.trim().split(/\\s+/).map((c) => "." + c).join("") : "") +
    " " + JSON.stringify((el.textContent || el.value || "").trim().slice(0, 30));
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el || !visible(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < minText) small.push(describe(el) + " " + size + "px");
  }
  const tiny = [];
  const controls = "button, .btn, select, textarea, input:not([type=hidden]), nav a, summary";
  for (const el of document.querySelectorAll(controls)) {
    if (!visible(el)) continue;
    let target = el;
    if (el.matches("input[type=checkbox], input[type=radio]")) {
      target = el.closest("label") || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el;
    }
    const r = target.getBoundingClientRect();
    if (getComputedStyle(el).opacity !== "0" && r.height < minTap - 0.5) {
      tiny.push(describe(el) + " " + Math.round(r.width) + "x" + Math.round(r.height));
    }
  }
  return {small: [...new Set(small)], tiny: [...new Set(tiny)]};
}"""


async def _context(chromium: Any, demo: DemoServer, viewport: dict[str, int], lang: str = "zh") -> Any:
    context = await chromium.new_context(viewport=viewport, base_url=demo.url)
    await context.add_cookies([{"name": "lang", "value": lang, "url": demo.url}])
    return context


async def _log_in(page: Any, phone: str, password: str = DEMO_PASSWORD) -> None:
    await page.goto("/login")
    await page.fill("#phone", phone)
    await page.fill("#password", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state()
    assert "/login" not in page.url, await page.content()


async def _run_dispatch_plan(page: Any) -> None:
    await page.goto("/desk/dispatch")
    await page.click("#run-plan button[type=submit]")
    await page.wait_for_url(re.compile(r"/desk/dispatch/plans/\d+"))


async def _plan_allocations(page: Any) -> None:
    await page.goto("/desk/projects")
    await page.click("form[action='/desk/projects/allocations'] button[type=submit]")
    await page.wait_for_url(re.compile(r"/desk/projects/allocations/\d+"))


async def _check_an_import(page: Any) -> None:
    await page.goto("/desk/people/import")
    people = "phone,name,building\n13655550001,李奶奶,nowhere\n".encode()
    await page.set_input_files(
        "#file", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": people}]
    )
    await page.click("#check-file")
    await page.wait_for_url(re.compile(r"/desk/people/import/\d+"))


async def _find_a_members_account(page: Any) -> None:
    # A member's account: only those can be adjusted.
    await page.goto("/desk/ledger?kind=member")
    await page.click("td a[href^='/desk/ledger/accounts/']")
    await page.click("a[href$='/adjust']")
    await page.wait_for_url(re.compile(r"/desk/ledger/accounts/\d+/adjust"))


async def _open_a_volunteers_record(page: Any) -> None:
    await page.goto("/desk/people?role=volunteer")
    href = await page.get_attribute("td a[href^='/desk/people/']", "href")
    await page.goto("/desk/records/volunteers/" + href.rsplit("/", 1)[1])
    await page.wait_for_url(re.compile(r"/desk/records/volunteers/\d+"))


# Where a role's walk starts besides its sections: pages behind a query, and pages its forms make.
# The responsibilities a volunteer holds (linked from their tasks when there are any).
# The demo's shift: its roster (the walk opens one project of several, maybe another), and the page
# its QR code opens, reached by scanning, not by a link.
# A certificate's verification page and a doorplate's place page answer anyone, also for a code
# they do not know.
STARTS = {
    "volunteer": ["/v/rewards?show=mine", "/v/shifts/1/scan", "/v/responsibilities"],
    "community_manager": ["/desk/projects/shifts/1"],
    "resident": ["/verify/unknown-code", "/p/unknown-code"],
}
MAKERS = {
    "grid_worker": [_run_dispatch_plan, _check_an_import],
    # Adjusting points is a community manager's.
    "community_manager": [_plan_allocations, _find_a_members_account, _open_a_volunteers_record],
}


class Walk:
    """What the walk found: axe's failing violations, the phone pages' sizes, the routes seen."""

    def __init__(self, demo: DemoServer) -> None:
        self.demo = demo
        self.problems: list[str] = []
        self.seen_in = {"zh": set(), "en": set()}
        self.routes_seen = 0

    def languages(self, route: str) -> tuple[str, ...]:
        """The languages to check a route in when it first comes up: both; under CI=true one, each in
        turn, so that each language meets about half the routes (the walk is the slowest test, and a
        route's pages are built the same in both)."""
        if route in self.seen_in["zh"] | self.seen_in["en"]:
            return ()
        self.routes_seen += 1
        return (("zh", "en")[self.routes_seen % 2],) if IN_CI else ("en", "zh")

    async def check(self, page: Any, lang: str, who: str) -> None:
        """Run axe on the page as it stands, and measure it when it is a phone page."""
        where = f"{who} {lang} {urlsplit(page.url).path}"
        html_lang = await page.get_attribute("html", "lang")
        if html_lang != HTML_LANG[lang]:
            self.problems.append(f"{where}: <html lang={html_lang!r}>, not {HTML_LANG[lang]!r}")
        if not await page.evaluate("typeof axe !== 'undefined'"):
            await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        for violation in result["violations"]:
            if violation["impact"] in FAILING_IMPACTS:
                targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
                self.problems.append(f"{where}: {violation['id']} ({violation['help']}) at {targets}")
        if await page.evaluate("document.body.classList.contains('phone')"):
            sizes = await page.evaluate(PHONE_SIZES, [MIN_TEXT_PX, MIN_TAP_PX])
            self.problems += [f"{where}: text below {MIN_TEXT_PX}px: {s}" for s in sizes["small"]]
            self.problems += [f"{where}: smaller than a finger: {s}" for s in sizes["tiny"]]

    async def visit(self, page: Any, path: str, who: str) -> list[str]:
        """Open the page at `path`, check it in its `languages` the first time its route comes up
        (by the least privileged role that reaches it: the walk goes from residents up, and a route's
        pages differ between roles in what they list, not in how they are built); its links."""
        route = route_of(urlsplit(path).path)
        check_in = self.languages(route)
        for lang in check_in or ("zh",):
            await page.context.add_cookies([{"name": "lang", "value": lang, "url": self.demo.url}])
            response = await page.goto(path)
            assert response is not None and response.status < 500, (
                f"{who} {path}: {response and response.status}"
            )
            if lang in check_in:
                await self.check(page, lang, who)
                self.seen_in[lang].add(route)
        links = await page.eval_on_selector_all("a[href]", "els => els.map(a => a.getAttribute('href'))")
        return [link for link in links if link.startswith("/") and not link.startswith("//")]

    async def walk(self, page: Any, start: list[str], who: str) -> None:
        """Breadth first from `start` (each opened whatever its route), one page per route after."""
        queue, taken, opened = list(start), set(), set()
        while queue:
            path = queue.pop(0)
            route = route_of(urlsplit(path).path)
            if route is None or path in opened or (route in taken and path not in start):
                continue
            taken.add(route)
            opened.add(path)
            queue += await self.visit(page, path, who)


@pytest.mark.long
async def test_every_page_of_every_role_passes_axe_in_both_languages(chromium: Any, demo: DemoServer) -> None:
    walk = Walk(demo)
    # Before logging in: the login page, sign-up, and what someone who has just signed up sees.
    context = await _context(chromium, demo, PHONE)
    page = await context.new_page()
    await walk.walk(page, ["/login", "/signup"], "anyone")
    await page.goto("/login?next=/nowhere")
    await page.fill("#phone", "1")
    await page.click("form[action='/login'] button[type=submit]")
    await walk.check(page, "zh", "anyone (refused login)")
    await page.goto("/signup")
    await page.fill("#phone", "13655550000")
    await page.fill("#name", "王阿姨")
    await page.select_option("#area_id", index=1)
    await page.fill("#password", DEMO_PASSWORD)
    await page.fill("#password_again", DEMO_PASSWORD)
    await page.click("#signup-submit")
    await page.wait_for_url(re.compile(r"/signup/status"))
    await walk.walk(page, ["/signup/status"], "signed up")
    await context.close()

    for role, phone in WALKERS.items():
        context = await _context(chromium, demo, PHONE if role in {"resident", "volunteer"} else DESK)
        page = await context.new_page()
        await _log_in(page, phone)
        sections = await page.eval_on_selector_all(
            "nav a[href]", "els => els.map(a => a.getAttribute('href'))"
        )
        await walk.walk(
            page, [urlsplit(page.url).path, *sections, "/account/password", *STARTS.get(role, [])], role
        )
        for make in MAKERS.get(role, []):
            # Pages that exist once the person has done something: made through their forms.
            await make(page)
            await walk.visit(page, page.url.removeprefix(demo.url), role)
        if role in {"volunteer", "grid_worker"}:
            # The error page, in each layout and language.
            for lang in ("en", "zh"):
                await context.add_cookies([{"name": "lang", "value": lang, "url": demo.url}])
                await page.goto("/no/such/page")
                await walk.check(page, lang, f"{role} (no such page)")
        await context.close()

    assert walk.problems == [], "\n".join(walk.problems)
    unvisited = set(PAGE_ROUTES) - walk.seen_in["zh"] - walk.seen_in["en"]
    assert not unvisited, f"page routes the walk never reached (link them, or list them): {sorted(unvisited)}"
    if not IN_CI:
        assert walk.seen_in["en"] == walk.seen_in["zh"]


async def test_a_refused_form_puts_the_cursor_on_the_first_field_to_correct(
    chromium: Any, demo: DemoServer
) -> None:
    from playwright.async_api import expect

    context = await _context(chromium, demo, PHONE)
    page = await context.new_page()
    await _log_in(page, WALKERS["resident"])
    await page.goto("/r/orders/new")
    await page.fill("#address_detail", "3 单元 502 室")
    await page.click("form[action='/r/orders/new'] button[type=submit]")
    await expect(page.locator("#description-error")).to_be_visible()
    first_wrong = await page.get_attribute("[aria-invalid=true]", "id")
    assert first_wrong is not None
    assert await page.evaluate("document.activeElement.id") == first_wrong
    # And the refused form itself passes axe.
    walk = Walk(demo)
    await walk.check(page, "zh", "resident (refused order)")
    assert walk.problems == [], "\n".join(walk.problems)
    await context.close()


async def test_large_text_enlarges_the_pages_and_follows_the_person_to_another_phone(
    chromium: Any, demo: DemoServer
) -> None:
    from playwright.async_api import expect

    # Not the walk's volunteer: the demo's other one.
    phone = next(
        phone for role, phone, _ in DEMO_LOGINS if role == "volunteer" and phone != WALKERS["volunteer"]
    )
    body_px = "parseFloat(getComputedStyle(document.body).fontSize)"
    button_px = (
        "Math.min(...[...document.querySelectorAll('main .btn')].map(b => b.getBoundingClientRect().height))"
    )
    context = await _context(chromium, demo, PHONE)
    page = await context.new_page()
    await _log_in(page, phone)
    await page.goto("/v/rewards")
    assert await page.evaluate(body_px) == MIN_TEXT_PX
    await page.click("#large-text-switch")
    await page.wait_for_url(re.compile(r"/v/rewards\?notice=large_text_on"))
    await expect(page.locator("html")).to_have_class("large-text")
    await expect(page.locator("#large-text-switch")).to_have_attribute("aria-pressed", "true")
    assert await page.evaluate(body_px) >= 20
    assert await page.evaluate(button_px) >= 56
    walk = Walk(demo)
    await walk.check(page, "zh", "volunteer (large text)")
    assert walk.problems == [], "\n".join(walk.problems)
    await context.close()

    # Another phone: logging in there finds the pages large already; turned off, they are not.
    context = await _context(chromium, demo, PHONE, "en")
    page = await context.new_page()
    await _log_in(page, phone)
    await expect(page.locator("html")).to_have_class("large-text")
    await page.click("#large-text-switch")
    await expect(page.locator("body")).to_contain_text("Large text is off")
    await expect(page.locator("html")).not_to_have_class("large-text")
    assert await page.evaluate(body_px) == MIN_TEXT_PX
    await context.close()

"""The desk's ledger review and reports pages, over the street of tests/test_reports.py."""

from __future__ import annotations

import csv
import functools
import html
import io
import json
import re

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.ledger.models import Account, OwedReward, TransferCode
from market.ledger.service import reward
from market.web.i18n import translate
from tests.test_reports import C1_POINTS, build_scenario
from tests.web.conftest import Browser, field_errors
from tests.world import World

STATUS_BADGE = 'class="badge badge-'
REPORT_DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)
CSV_LINK = re.compile(r'href="([^"]*format=csv[^"]*)"')
XLSX_LINK = re.compile(r'href="([^"]*format=xlsx[^"]*)"')


@pytest.fixture
async def scenario(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> World:
    await build_scenario(client, world, clock, session_maker)
    return world


async def account_id(session_maker: async_sessionmaker[AsyncSession], key: str) -> int:
    async with session_maker() as session:
        found = await session.scalar(select(Account.id).where(Account.key == key))
    assert found is not None, key
    return found


async def member_account(session_maker: async_sessionmaker[AsyncSession], world: World, name: str) -> int:
    return await account_id(session_maker, f"service:member:user:{world.id(name)}")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_renders_in_both_languages(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("manager", lang)
    pool = await account_id(session_maker, f"service:community_pool:area:{scenario.areas['c1'].id}")
    volunteer = await member_account(session_maker, scenario, "volunteer")
    for path in (
        "/desk/ledger",
        f"/desk/ledger/accounts/{pool}",
        f"/desk/ledger/accounts/{volunteer}",
        "/desk/ledger/trial-balance?asset=credit",
        "/desk/ledger/owed?status=all",
        "/desk/reports",
    ):
        r = await browser.get(path)
        assert r.status_code == 200, (path, r.text)
        assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
        assert translate(lang, "nav.ledger") in r.text
    page = await browser.get("/desk/ledger?kind=community_pool&asset=service")
    # The pool is named by its community and its kind in the page's language.
    assert f"Community 1 · {translate(lang, 'account_kind.community_pool')}" in page.text


async def test_find_an_account_by_name_or_phone(browser: Browser, scenario: World) -> None:
    browser.login("manager", "en")
    r = await browser.get("/desk/ledger", params={"q": "Volunteer B", "kind": "", "asset": ""})
    assert r.status_code == 200
    assert ">Volunteer B</a>" in r.text and ">Volunteer</a>" not in r.text
    assert 'value="Volunteer B"' in r.text, "the filter keeps what was typed"
    r = await browser.get("/desk/ledger", params={"q": "900000001"})
    assert ">Volunteer</a>" in r.text and ">Volunteer B</a>" not in r.text
    r = await browser.get("/desk/ledger", params={"q": "Volunteer C2"})
    assert translate("en", "ledger.no_accounts") in r.text, "community 2 is not the manager's"


async def test_statement_filters_narrow_the_entries(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "zh")
    account = f"/desk/ledger/accounts/{await member_account(session_maker, scenario, 'volunteer')}"
    # Rewards of December, February and March, an adjustment, order A's reward, three redemption entries.
    assert (await browser.get(account)).text.count(STATUS_BADGE) == 8
    r = await browser.get(account, params={"code": "redemption"})
    assert r.text.count(STATUS_BADGE) == 3
    # 1 to 5 March, Beijing time, both days included.
    r = await browser.get(account, params={"since": "2025-03-01", "until": "2025-03-05"})
    assert r.text.count(STATUS_BADGE) == 3
    assert 'value="2025-03-01"' in r.text
    r = await browser.get(
        account, params={"code": "redemption", "since": "2025-03-01", "until": "2025-03-05"}
    )
    assert r.text.count(STATUS_BADGE) == 1
    assert translate("zh", "transfer_code.redemption") in r.text


async def test_a_bad_filter_is_shown_next_to_its_field(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "en")
    account = f"/desk/ledger/accounts/{await member_account(session_maker, scenario, 'volunteer')}"
    r = await browser.get(account, params={"since": "2025-02-30"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"since": translate("en", "form.invalid")}
    # Dates beyond what the ledger can hold are refused next to their field, not a 500.
    out_of_range = translate("en", "form.date_range", earliest=2000, latest=2099)
    for name, value in (
        ("until", "9999-12-31"),
        ("since", "0001-01-01"),
        ("since", "1999-12-31"),
        ("until", "2100-01-01"),
    ):
        r = await browser.get(account, params={name: value})
        assert r.status_code == 400, (name, value, r.text)
        assert field_errors(r.text) == {name: out_of_range}
        assert f'value="{value}"' in r.text, "what was typed is kept"
    r = await browser.get(account, params={"since": "2000-01-01", "until": "2099-12-31"})
    assert r.status_code == 200 and r.text.count(STATUS_BADGE) == 8
    # The downloads of the widest statement: its end (midnight after 2099-12-31) is in range too.
    for link in (CSV_LINK.search(r.text).group(1), XLSX_LINK.search(r.text).group(1)):
        assert (await browser.get(html.unescape(link))).status_code == 200
    r = await browser.get("/desk/reports", params={"months": "99"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"months": translate("en", "form.out_of_range")}


async def test_the_csv_download_holds_the_filtered_statement(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "en")
    account = f"/desk/ledger/accounts/{await member_account(session_maker, scenario, 'volunteer')}"
    r = await browser.get(
        account, params={"code": "redemption", "since": "2025-03-01", "until": "2025-03-05"}
    )
    link = html.unescape(CSV_LINK.search(r.text).group(1))
    # The page's login cookie authenticates the API's download.
    download = await browser.get(link)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [(row["transfer_id"], row["amount"]) for row in rows] == [("red-1:post", "25")]
    xlsx = await browser.get(link.replace("format=csv", "format=xlsx"))
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")


async def test_the_trial_balance_and_owed_rewards(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "zh")
    r = await browser.get("/desk/ledger/trial-balance")
    assert r.status_code == 200
    assert translate("zh", "ledger.balanced") in r.text
    # A wish reward community 2's pool cannot pay is owed.
    async with session_maker() as session, session.begin():
        await reward(
            session,
            transfer_id="~wish:99",
            code=TransferCode.wish_reward,
            reference="wish:99",
            user_id=scenario.id("volunteer_c2"),
            community=scenario.areas["c2"],
            amount=5000,
            memo="",
            now=scenario.now,
            tz=scenario.settings.tz,
        )
        assert await session.scalar(select(OwedReward.reference)) == "wish:99"
    r = await browser.get("/desk/ledger/owed")
    assert translate("zh", "ledger.no_owed") in r.text, "community 1's manager is not told of community 2's"
    browser.login("manager_c2", "zh")
    r = await browser.get("/desk/ledger/owed")
    assert "wish:99" in r.text and "Volunteer C2" in r.text
    assert translate("zh", "owed_status.owed") in r.text
    r = await browser.get("/desk/ledger/owed", params={"status": "posted"})
    assert "wish:99" not in r.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_reports_page_carries_the_figures_for_the_charts(
    browser: Browser, scenario: World, lang: str
) -> None:
    browser.login("manager", lang)
    r = await browser.get("/desk/reports", params={"months": 3})
    assert r.status_code == 200
    data = json.loads(REPORT_DATA.search(r.text).group(1))
    assert [
        {"month": m, "issued": i, "redeemed": d}
        for m, i, d in zip(data["months"], data["issued"], data["redeemed"], strict=True)
    ] == C1_POINTS
    t = functools.partial(translate, lang)
    assert data["statuses"] == [
        {"name": t("order_status.submitted"), "value": 1},
        {"name": t("order_status.accepted"), "value": 1},
        {"name": t("order_status.confirmed"), "value": 2},
        {"name": t("order_status.cancelled"), "value": 1},
    ]
    assert [c["value"] for c in data["categories"]] == [3, 2]
    assert data["timings"] == [20.0, 75.0]
    assert data["ratings"] == [0, 0, 1, 0, 1]
    assert data["text"]["points_title"] == t("reports.points_title")
    assert '<script src="/static/vendor/echarts.min.js" defer></script>' in r.text
    assert '<script src="/static/reports.js" defer></script>' in r.text
    # The numbers are also on the page as text, for those without scripts.
    assert t("reports.minutes", n="20") in r.text and t("reports.minutes", n="75") in r.text
    assert "4.0" in r.text
    for script in ("/static/vendor/echarts.min.js", "/static/reports.js"):
        assert (await browser.get(script)).status_code == 200


async def test_the_scripts_load_only_on_the_reports_page(browser: Browser, scenario: World) -> None:
    browser.login("manager")
    assert "echarts" not in (await browser.get("/desk/ledger")).text


async def test_a_resident_may_not_open_the_ledger_or_the_reports(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("resident", "en")
    own = await member_account(session_maker, scenario, "volunteer")
    for path in (
        "/desk/ledger",
        f"/desk/ledger/accounts/{own}",
        "/desk/ledger/trial-balance",
        "/desk/ledger/owed",
        "/desk/reports",
    ):
        r = await browser.get(path)
        assert r.status_code == 403, path
        assert translate("en", "error.http_403") in r.text or translate("en", "error.role_required") in r.text


async def test_another_community_is_out_of_reach(
    browser: Browser, scenario: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager_c2", "en")
    r = await browser.get(
        f"/desk/ledger/accounts/{await member_account(session_maker, scenario, 'volunteer')}"
    )
    assert r.status_code == 404
    r = await browser.get("/desk/reports", params={"area_id": scenario.areas["c1"].id})
    assert r.status_code == 403
    r = await browser.get("/desk/reports")
    data = json.loads(REPORT_DATA.search(r.text).group(1))
    assert data["issued"][-1] == 50 and data["redeemed"][-1] == 10, "their own community's figures"

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
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.exports import CONTENT_TYPES
from market.ledger.engine import Draft
from market.ledger.models import (
    Account,
    AccountKind,
    Asset,
    OwedReward,
    Transfer,
    TransferCode,
    WithheldReason,
)
from market.ledger.service import area_account, capped_reward, reward, transfer_one
from market.ledger.service import member_account as ledger_member_account
from market.web.i18n import translate
from tests.test_reports import C1_POINTS, build_grid_months, build_scenario
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
    # The trial balance lists every account of the street: its admins' (and admins') alone, and
    # its tab is shown only to them.
    browser.login("manager", "zh")
    r = await browser.get("/desk/ledger/trial-balance")
    assert r.status_code == 403
    assert 'href="/desk/ledger/trial-balance"' not in (await browser.get("/desk/ledger")).text
    browser.login("street_admin", "zh")
    assert 'href="/desk/ledger/trial-balance"' in (await browser.get("/desk/ledger")).text
    for path in ("/desk/ledger/trial-balance", "/desk/ledger/trial-balance?asset=credit"):
        r = await browser.get(path)
        assert r.status_code == 200, r.text
    assert translate("zh", "ledger.balanced") in r.text
    browser.login("manager", "zh")
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


RANKING = re.compile(r'<section class="card ranking" id="ranking-(\w+)">(.*?)</section>', re.S)
ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def rankings(page: str) -> dict[str, list[list[str]]]:
    """Each ranking table of the reports page: its rows' cells, as text."""
    return {
        level: [[html.unescape(c) for c in CELL.findall(row)] for row in ROW.findall(body) if "<td" in row]
        for level, body in RANKING.findall(page)
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_reports_page_ranks_the_grids_and_communities_of_a_month(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    await build_grid_months(client, world, clock, session_maker)
    browser.login("street_admin", lang)
    r = await browser.get("/desk/reports", params={"month": "2025-03"})
    assert r.status_code == 200, r.text
    t = functools.partial(translate, lang)
    assert t("reports.ranking_title.grid", month="2025-03") in r.text
    assert t("reports.kept_accept", span=t("reports.span_hours", n=1)) in r.text
    assert t("reports.kept_finish", span=t("reports.span_days", n=3)) in r.text
    assert t("reports.col_followups") in r.text
    tables = rankings(r.text)
    none = t("reports.none_yet")
    assert tables["grid"] == [
        # Q1's rating of 2 opened a follow-up; P1 and P2 fell outside the 10% sample.
        ["1", "Grid 1-2", "1", "1", "100.0%", "100.0% (1/1)", "100.0% (1/1)", "100.0% (1/1)",
         t("reports.minutes", n="10"), t("reports.minutes", n="60"), "2.00", "0.0%", "0", "0/1", "0", "0"],
        ["2", "Grid 1-1", "4", "2", "50.0%", "33.3% (1/3)", "66.7% (2/3)", "100.0% (2/2)",
         t("reports.minutes", n="60"), t("reports.minutes", n="80"), "4.50", "100.0%", "0", "0/0", "0", "0"],
        ["3", "Grid 2-1", "1", "0", "0.0%", "0.0% (0/1)", "0.0% (0/1)", none, none, none, none, none,
         "0", "0/0", "0", "0"],
    ]  # fmt: skip
    assert [row[:5] for row in tables["community"]] == [
        ["1", "Community 1", "5", "3", "60.0%"],
        ["2", "Community 2", "1", "0", "0.0%"],
    ]
    # Each table downloads as Excel, the summary's tables too (a sheet each).
    links = [html.unescape(link) for link in XLSX_LINK.findall(r.text)]
    assert len(links) == 3
    for link in links:
        download = await browser.get(link)
        assert download.status_code == 200, link
        assert download.headers["content-type"] == CONTENT_TYPES["xlsx"]
    grid_sheet = load_workbook(io.BytesIO((await browser.get(links[1])).content)).active
    assert [row[2].value for row in grid_sheet.iter_rows(min_row=2)] == ["Grid 1-2", "Grid 1-1", "Grid 2-1"]


async def test_a_grid_worker_sees_their_grid_alone(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await build_grid_months(client, world, clock, session_maker)
    browser.login("grid_worker", "en")
    # Without a month: this one (the clock reads 12 March).
    r = await browser.get("/desk/reports")
    assert r.status_code == 200, r.text
    assert translate("en", "reports.ranking_title.grid", month="2025-03") in r.text
    tables = rankings(r.text)
    assert list(tables) == ["grid"], "no communities to compare inside one grid"
    assert [row[:5] for row in tables["grid"]] == [["1", "Grid 1-1", "4", "2", "50.0%"]]
    february = rankings((await browser.get("/desk/reports", params={"month": "2025-02"})).text)
    assert [row[:5] for row in february["grid"]] == [["1", "Grid 1-1", "1", "0", "0.0%"]]


@pytest.mark.parametrize("month", ["2025-13", "March", "1999-01"])
async def test_a_bad_month_is_shown_next_to_its_field(browser: Browser, world: World, month: str) -> None:
    browser.login("manager", "en")
    r = await browser.get("/desk/reports", params={"month": month})
    assert r.status_code == 400
    assert list(field_errors(r.text)) == ["month"]


# ---------------------------------------------------------------- adjustments, the threshold, reversals


@pytest.fixture
async def funded(world: World, session_maker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Community 1's pool, funded, and the accounts of its resident and volunteer."""
    async with session_maker() as session, session.begin():
        issuance = await area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
        budget = Draft(
            id="budget",
            debit_account_id=issuance.id,
            credit_account_id=pool.id,
            amount=10_000,
            code=TransferCode.budget,
        )
        assert (await transfer_one(session, budget, world.now, world.settings.tz)).result == "created"
        return {
            "pool": pool.id,
            "resident": (await ledger_member_account(session, world.id("resident"))).id,
            "manager": (await ledger_member_account(session, world.id("manager"))).id,
        }


async def balance_of(session_maker: async_sessionmaker[AsyncSession], account: int) -> tuple[int, int]:
    async with session_maker() as session:
        found = await session.get(Account, account)
        return found.balance, found.credits_pending - found.debits_pending


POST_BUTTON = '<input type="hidden" name="action" value="post">'
VOID_BUTTON = '<input type="hidden" name="action" value="void">'
ADJUSTMENT = {"direction": "give", "amount": "100", "reason": "missed_reward", "memo": "escort on 3 March"}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_manager_adjusts_a_members_points_from_the_account_page(
    browser: Browser, funded: dict[str, int], session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("manager", lang)
    account = f"/desk/ledger/accounts/{funded['resident']}"
    assert f'href="{account}/adjust"' in (await browser.get(account)).text
    form = await browser.get(f"{account}/adjust")
    assert form.status_code == 200, form.text
    assert translate(lang, "adjustment_reason.missed_reward") in form.text
    assert translate(lang, "ledger.adjust_hint", threshold=500, days=7) in html.unescape(form.text)

    r = await browser.post(f"{account}/adjust", ADJUSTMENT)

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{account}?notice=ledger_adjusted"
    assert await balance_of(session_maker, funded["resident"]) == (100, 0)
    page_after = await browser.get(r.headers["location"])
    assert translate(lang, "notice.ledger_adjusted") in page_after.text
    assert "escort on 3 March" in page_after.text


async def test_a_refused_adjustment_is_shown_on_its_form(
    browser: Browser, funded: dict[str, int], session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "en")
    mine = f"/desk/ledger/accounts/{funded['resident']}/adjust"

    blank = await browser.post(mine, {**ADJUSTMENT, "memo": " ", "reason": ""})
    too_much = await browser.post(mine, {**ADJUSTMENT, "direction": "take"})
    own = await browser.post(f"/desk/ledger/accounts/{funded['manager']}/adjust", ADJUSTMENT)

    assert blank.status_code == 400
    assert field_errors(blank.text) == {
        "reason": translate("en", "form.required"),
        "memo": translate("en", "form.required"),
    }
    assert too_much.status_code == 409
    assert field_errors(too_much.text) == {"amount": translate("en", "error.exceeds_credits")}
    assert 'value="100"' in too_much.text, "what was typed is kept"
    assert own.status_code == 403
    assert html.escape(translate("en", "error.own_account")) in own.text
    assert await balance_of(session_maker, funded["resident"]) == (0, 0)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_second_manager_posts_a_held_adjustment_from_the_adjustments_page(
    browser: Browser, funded: dict[str, int], session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("manager", lang)
    r = await browser.post(
        f"/desk/ledger/accounts/{funded['resident']}/adjust", {**ADJUSTMENT, "amount": "600"}
    )
    assert r.headers["location"].endswith("?notice=ledger_adjustment_held"), r.text
    assert await balance_of(session_maker, funded["resident"]) == (0, 600)
    async with session_maker() as session:
        held = await session.scalar(select(Transfer.id).where(Transfer.pending))
    settle = f"/desk/ledger/adjustments/{held}/settle"

    mine = await browser.get("/desk/ledger/adjustments")
    assert mine.status_code == 200, mine.text
    assert translate(lang, "ledger.awaiting_second") in mine.text
    assert POST_BUTTON not in mine.text and VOID_BUTTON in mine.text, "its maker may void it, not post it"
    by_maker = await browser.post(settle, {"action": "post"})
    assert by_maker.status_code == 403
    assert html.escape(translate(lang, "error.maker_cannot_post")) in by_maker.text

    browser.login("street_admin", lang)
    theirs = await browser.get("/desk/ledger/adjustments")
    assert f'action="{settle}"' in theirs.text.replace("%3A", ":")
    assert POST_BUTTON in theirs.text and VOID_BUTTON in theirs.text
    r = await browser.post(settle, {"action": "post"})

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/desk/ledger/adjustments?notice=ledger_adjustment_posted"
    assert await balance_of(session_maker, funded["resident"]) == (600, 0)
    done = await browser.get(r.headers["location"])
    assert translate(lang, "ledger.no_pending") in done.text


async def test_the_maker_voids_a_held_adjustment(
    browser: Browser, funded: dict[str, int], session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "en")
    await browser.post(f"/desk/ledger/accounts/{funded['resident']}/adjust", {**ADJUSTMENT, "amount": "700"})
    async with session_maker() as session:
        held = await session.scalar(select(Transfer.id).where(Transfer.pending))

    r = await browser.post(f"/desk/ledger/adjustments/{held}/settle", {"action": "void"})

    assert r.headers["location"] == "/desk/ledger/adjustments?notice=ledger_adjustment_voided"
    assert await balance_of(session_maker, funded["resident"]) == (0, 0)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_streets_admin_sets_its_threshold_on_the_adjustments_page(
    browser: Browser, world: World, funded: dict[str, int], lang: str
) -> None:
    street = world.areas["street"].id
    action = f'action="/desk/ledger/streets/{street}/threshold"'
    browser.login("manager", lang)
    r = await browser.get("/desk/ledger/adjustments")
    assert action not in r.text and "Sunny Street" in r.text, "managers read it"
    refused = await browser.post(f"/desk/ledger/streets/{street}/threshold", {"adjustment_threshold": "900"})
    assert refused.status_code == 403

    browser.login("street_admin", lang)
    assert action in (await browser.get("/desk/ledger/adjustments")).text
    bad = await browser.post(f"/desk/ledger/streets/{street}/threshold", {"adjustment_threshold": "-5"})
    assert bad.status_code == 400
    assert field_errors(bad.text) == {f"adjustment_threshold-{street}": translate(lang, "form.out_of_range")}
    assert 'value="-5"' in bad.text

    r = await browser.post(f"/desk/ledger/streets/{street}/threshold", {"adjustment_threshold": "900"})

    assert r.headers["location"] == "/desk/ledger/adjustments?notice=ledger_threshold_saved"
    assert 'value="900"' in (await browser.get("/desk/ledger/adjustments")).text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_manager_reverses_a_transfer_with_a_reason(
    browser: Browser, funded: dict[str, int], session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("manager", lang)
    account = f"/desk/ledger/accounts/{funded['resident']}"
    await browser.post(f"{account}/adjust", ADJUSTMENT)
    async with session_maker() as session:
        given = await session.scalar(select(Transfer.id).where(Transfer.code == TransferCode.adjustment))
    statement = (await browser.get(account)).text
    link = html.unescape(re.search(r'href="([^"]*/reverse[^"]*)"', statement).group(1))
    assert link.startswith("/desk/ledger/transfers/") and link.endswith(f"?account={funded['resident']}")
    form = await browser.get(link)
    assert form.status_code == 200, form.text
    assert translate(lang, "ledger.reverse_title") in form.text

    blank = await browser.post(link.split("?")[0], {"reason": " ", "account": funded["resident"]})
    assert field_errors(blank.text) == {"reason": translate(lang, "form.required")}
    r = await browser.post(link.split("?")[0], {"reason": "wrong person", "account": funded["resident"]})

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{account}?notice=ledger_reversed"
    assert await balance_of(session_maker, funded["resident"]) == (0, 0)
    async with session_maker() as session:
        reversal = await session.get(Transfer, f"~reversal:{given}")
        assert (reversal.memo, reversal.created_by_id) == ("wrong person", browser.world.id("manager"))
    again = await browser.post(link.split("?")[0], {"reason": "twice", "account": funded["resident"]})
    assert again.status_code == 409
    assert html.escape(translate(lang, "error.already_reversed")) in again.text


async def test_withheld_rewards_are_listed_with_their_reason(
    browser: Browser, world: World, funded: dict[str, int], session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        for n in (1, 2):
            await capped_reward(
                session,
                transfer_id=f"~wish:{n}",
                code=TransferCode.wish_reward,
                reference=f"wish:{n}",
                user_id=world.id("volunteer"),
                community=world.areas["c1"],
                amount=20,
                memo="",
                now=world.now,
                tz=world.settings.tz,
                limit=(lambda: _none()) if n == 1 else (lambda: _pair()),
            )
    browser.login("manager", "en")

    r = await browser.get("/desk/ledger/owed", params={"status": "withheld"})

    assert r.status_code == 200, r.text
    assert "wish:2" in r.text and "wish:1" not in r.text
    assert translate("en", "withheld_reason.pair_weekly_limit") in r.text
    assert translate("en", "owed_status.withheld") in r.text


async def _none() -> WithheldReason | None:
    return None


async def _pair() -> WithheldReason | None:
    return WithheldReason.pair_weekly_limit

"""The desk's set-up pages: budgets (funding a pool once per form), the points policy,
auto-dispatch and the service categories — both languages, errors next to the field, refusals
that change nothing."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.categories.models import ServiceCategory
from market.dispatch.models import AutoDispatch
from market.ledger.models import PointsPolicy, Transfer, TransferCode
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.world import World

REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


def errors(text: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in field_errors(text).items()}


async def budgets(session_maker: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    async with session_maker() as session:
        rows = await session.execute(
            select(Transfer.amount, Transfer.memo)
            .where(Transfer.code == TransferCode.budget)
            .order_by(Transfer.id)
        )
        return [tuple(r) for r in rows.all()]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_renders_in_both_languages(browser: Browser, world: World, lang: str) -> None:
    for who, paths in [
        ("street_admin", ["/desk/budgets", "/desk/policy", "/desk/auto-dispatch"]),
        (
            "manager",
            ["/desk/budgets", f"/desk/policy?community={world.areas['c1'].id}", "/desk/auto-dispatch"],
        ),
        ("admin", ["/desk/categories", "/desk/budgets"]),
    ]:
        browser.login(who, lang)
        for path in paths:
            r = await browser.get(path)
            assert r.status_code == 200, (who, path, r.text)
            assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
    browser.login("manager", lang)
    r = await browser.get("/desk/budgets")
    assert "Community 1" in r.text and "Community 2" not in r.text
    assert 'id="fund-form"' not in r.text, "the authority table lets street admins fund, not managers"


async def test_a_street_admin_funds_a_pool_once_however_often_the_form_is_sent(
    browser: Browser, world: World, session_maker
) -> None:
    browser.login("street_admin", "en")
    page = await browser.get("/desk/budgets")
    request_id = REQUEST_ID.search(page.text).group(1)
    form = {"request_id": request_id, "community_id": world.areas["c1"].id, "amount": "800", "memo": "2027"}
    for _ in range(2):  # a double click
        r = await browser.post("/desk/budgets", form)
        assert r.status_code == 303, r.text
    assert await budgets(session_maker) == [(800, "2027")]
    page = await browser.get(r.headers["location"])
    assert translate("en", "notice.budget_funded") in page.text
    assert 'data-balance="800"' in page.text
    assert REQUEST_ID.search(page.text).group(1) != request_id, "a new form has a new key"
    # The same key with another amount is refused next to the amount.
    r = await browser.post("/desk/budgets", {**form, "amount": "900"})
    assert r.status_code == 409
    assert errors(r.text) == {"amount": translate("en", "error.exists_with_different_fields")}
    assert await budgets(session_maker) == [(800, "2027")]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_budget_form_errors_next_to_the_field_and_nothing_funded(
    browser: Browser, world: World, session_maker, lang: str
) -> None:
    browser.login("street_admin", lang)
    form = {"request_id": "k" * 16, "community_id": world.areas["c1"].id, "amount": "0", "memo": ""}
    r = await browser.post("/desk/budgets", form)
    assert r.status_code == 400
    assert errors(r.text) == {
        "amount": translate(lang, "form.out_of_range"),
        "memo": translate(lang, "form.required"),
    }
    assert 'value="kkkkkkkkkkkkkkkk"' in r.text, "the form keeps its key"
    assert await budgets(session_maker) == []


@pytest.mark.parametrize(
    ("who", "status"),
    [("manager", 403), ("grid_worker", 403), ("volunteer", 403), ("street_admin_s2", 403)],
)
async def test_who_may_not_fund(browser: Browser, world: World, session_maker, who: str, status: int) -> None:
    from tests.world import add_neighbours

    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
    browser.login(who, "en")
    form = {"request_id": "x" * 16, "community_id": world.areas["c1"].id, "amount": "10", "memo": "mine"}
    r = await browser.post("/desk/budgets", form)
    assert r.status_code == status, r.text
    assert await budgets(session_maker) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_manager_sets_the_points_policy(
    browser: Browser, world: World, session_maker, lang: str
) -> None:
    browser.login("manager", lang)
    c1 = world.areas["c1"].id
    good = {
        "default_rate": "12",
        "daily_cap": "80",
        "monthly_cap": "800",
        "expiry": "months",
        "expiry_months": "",
        "gift_max": "50",
        "gift_monthly_max": "200",
        "rate_escort": "20",
        "rate_repair": "",
    }
    r = await browser.post(f"/desk/policy/{c1}", good)
    assert r.status_code == 400
    assert errors(r.text) == {"expiry_months": translate(lang, "error.expiry_months_required")}
    r = await browser.post(f"/desk/policy/{c1}", {**good, "expiry_months": "6", "rate_escort": "abc"})
    assert errors(r.text) == {"rate_escort": translate(lang, "form.out_of_range")}
    async with session_maker() as session:
        assert await session.get(PointsPolicy, c1) is None
    r = await browser.post(f"/desk/policy/{c1}", {**good, "expiry_months": "6"})
    assert r.status_code == 303
    async with session_maker() as session:
        policy = await session.get(PointsPolicy, c1)
        assert (policy.rates, policy.default_rate, policy.expiry_months) == ({"escort": 20}, 12, 6)
    page = await browser.get(r.headers["location"])
    assert 'name="rate_escort" type="number" value="20"' in page.text
    # Another community's manager: neither the page nor the form.
    browser.login("manager_c2", lang)
    assert (await browser.get(f"/desk/policy?community={c1}")).status_code == 404
    r = await browser.post(f"/desk/policy/{c1}", {**good, "expiry_months": "6", "default_rate": "1"})
    assert r.status_code == 404
    async with session_maker() as session:
        assert (await session.get(PointsPolicy, c1)).default_rate == 12


async def test_auto_dispatch_on_and_off(browser: Browser, world: World, session_maker) -> None:
    c1 = world.areas["c1"].id
    browser.login("manager", "en")
    r = await browser.post(f"/desk/auto-dispatch/{c1}", {"enabled": "true"})
    assert r.status_code == 303
    page = await browser.get(r.headers["location"])
    assert translate("en", "notice.auto_dispatch_on") in page.text
    assert f'id="auto-{c1}" data-enabled="true"' in page.text
    browser.login("manager_c2", "en")
    assert (await browser.post(f"/desk/auto-dispatch/{c1}", {"enabled": "false"})).status_code == 403
    browser.login("grid_worker", "en")
    assert (await browser.post(f"/desk/auto-dispatch/{c1}", {"enabled": "false"})).status_code == 403
    async with session_maker() as session:
        assert (await session.get(AutoDispatch, c1)).enabled
    browser.login("manager", "en")
    await browser.post(f"/desk/auto-dispatch/{c1}", {"enabled": "false"})
    async with session_maker() as session:
        assert not (await session.get(AutoDispatch, c1)).enabled


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_an_admin_adds_renames_and_retires_categories(
    browser: Browser, world: World, session_maker, lang: str
) -> None:
    browser.login("admin", lang)
    r = await browser.post("/desk/categories", {"code": "Bad Code", "name_zh": "", "name_en": "Test"})
    assert errors(r.text) == {
        "code": translate(lang, "form.invalid"),
        "name_zh": translate(lang, "form.required"),
    }
    r = await browser.post("/desk/categories", {"code": "escort", "name_zh": "陪", "name_en": "E"})
    assert errors(r.text) == {"code": translate(lang, "error.category_exists")}
    r = await browser.post(
        "/desk/categories", {"code": "test_gardening", "name_zh": "园艺", "name_en": "Gardening"}
    )
    assert r.status_code == 303
    r = await browser.post(
        "/desk/categories/test_gardening", {"action": "rename", "name_zh": "", "name_en": "G"}
    )
    assert errors(r.text) == {"name_zh-test_gardening": translate(lang, "form.required")}
    r = await browser.post(
        "/desk/categories/test_gardening", {"action": "rename", "name_zh": "园艺绿化", "name_en": "Gardening"}
    )
    assert r.status_code == 303
    assert (await browser.post("/desk/categories/test_gardening", {"action": "retire"})).status_code == 303
    async with session_maker() as session:
        category = await session.get(ServiceCategory, "test_gardening")
        assert (category.name_zh, category.is_active) == ("园艺绿化", False)
    browser.login("street_admin", lang)
    assert (await browser.get("/desk/categories")).status_code == 403
    assert (await browser.post("/desk/categories/test_gardening", {"action": "restore"})).status_code == 403
    async with session_maker() as session:
        count = await session.scalar(
            select(func.count()).select_from(ServiceCategory).where(ServiceCategory.is_active)
        )
        assert not (await session.get(ServiceCategory, "test_gardening")).is_active
        assert count > 0

"""Pages for 双报到, unit reviews and resident credit, in both languages: a resident reports in on
the phone, the manager confirms and evaluates on the desk and downloads a letter per member; the
unit reviews show the formula and print for the meeting; compact credit is entered on the desk
within the month's cap and shown on the resident's record; a participant rates a unit."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.unit_reviews.score import WEIGHTS
from market.web.i18n import translate
from tests.pdf_support import pdf_page_images, pdf_text
from tests.test_authorization import ok
from tests.test_party import MEMBERS, chinese_names, organisation
from tests.test_unit_reviews import closed_project
from tests.test_units_support import make_coop
from tests.web.conftest import Browser, field_errors
from tests.world import World

LANGS = ["zh", "en"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize("lang", LANGS)
async def test_a_resident_reports_in_and_the_desk_confirms_evaluates_and_prints(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    lang: str,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await chinese_names(session_maker, world)
    browser.login("resident", lang)
    page = await browser.get("/r/party")
    assert page.status_code == 200 and translate(lang, "party.report_hint") in page.text

    refused = await browser.post("/r/party", {"employer_name": "北京市第一中学"})
    assert refused.status_code == 422
    assert field_errors(refused.text)["employer_name"] == escape(translate(lang, "error.employer_required"))
    done = await browser.post("/r/party", organisation("北京市第一中学"))
    assert done.status_code == 303
    page = await browser.get("/r/party")
    assert translate(lang, "report_status.pending") in page.text and "北京市第一中学" in page.text
    # The other two members report in by the API.
    for key in ("resident_b", "volunteer"):
        await ok(client, world, key, "POST", "/api/party/report", organisation(MEMBERS[key][1]))

    browser.login("manager", lang)
    c1 = world.areas["c1"].id
    desk = await browser.get(f"/desk/party?community_id={c1}")
    assert desk.status_code == 200 and "张伟" in desk.text and translate(lang, "party.confirm") in desk.text
    members = await ok(client, world, "manager", "GET", f"/api/party/members?community_id={c1}")
    for m in members["items"]:
        r = await browser.post(f"/desk/party/{m['id']}/decision", {"confirm": "true", "community_id": c1})
        assert r.status_code == 303, r.text
    year = world.clock().astimezone(world.settings.tz).year
    year_page = await browser.get(f"/desk/party/year?community_id={c1}&year={year}")
    assert year_page.status_code == 200 and "李娜" in year_page.text
    first = members["items"][0]["id"]
    refused = await browser.post(
        f"/desk/party/{first}/evaluation", {"member": first, "community_id": c1, "year": year}
    )
    assert refused.status_code == 400
    for m in members["items"]:
        body = {
            "member": m["id"],
            "community_id": c1,
            "year": year,
            "grade": "excellent",
            "comment": "热心公益",
        }
        r = await browser.post(f"/desk/party/{m['id']}/evaluation", body)
        assert r.status_code == 303, r.text

    letters = await browser.get(f"/desk/party/letters.pdf?community_id={c1}&year={year}")
    assert letters.headers["content-type"] == "application/pdf"
    assert len(pdf_page_images(letters.content)) == 3
    text = pdf_text(letters.content)
    for name, employer in MEMBERS.values():
        assert name in text and employer in text
    download = await browser.get(f"/desk/party/year.xlsx?community_id={c1}&year={year}")
    assert download.status_code == 200 and download.headers["content-type"] == XLSX
    members_xlsx = await browser.get(f"/desk/party/members.xlsx?community_id={c1}")
    assert members_xlsx.headers["content-type"] == XLSX

    browser.login("street_admin", lang)
    street = await browser.get(f"/desk/party/street?year={year}")
    assert street.status_code == 200 and "王芳" in street.text
    assert translate(lang, "party_grade.excellent") in street.text
    street_xlsx = await browser.get(f"/desk/party/street.xlsx?year={year}")
    assert street_xlsx.status_code == 200 and street_xlsx.headers["content-type"] == XLSX


@pytest.mark.parametrize("lang", LANGS)
async def test_unit_reviews_show_the_formula_and_print_for_the_meeting(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    lang: str,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    coop = await make_coop(client, world, session_maker)
    project = await closed_project(client, world, coop)
    browser.login("volunteer", lang)
    page = await browser.get("/r/unit-ratings")
    assert page.status_code == 200 and "District Hospital" in page.text
    r = await browser.post(f"/r/unit-ratings/{project['id']}", {"unit_id": coop.unit_a, "stars": "5"})
    assert r.status_code == 303, r.text
    again = await browser.post(f"/r/unit-ratings/{project['id']}", {"unit_id": coop.unit_a, "stars": "4"})
    assert again.status_code == 409 and escape(translate(lang, "error.already_rated")) in again.text

    browser.login("street_admin", lang)
    page = await browser.get("/desk/unit-reviews")
    assert page.status_code == 200
    assert escape(translate(lang, "reviews.formula", **WEIGHTS)) in page.text
    # Unit A: 50 × 1/1 + 15 × (5 − 1)/4 = 65.
    assert 'data-score="65.0"' in page.text
    report = await browser.get("/desk/unit-reviews/report.pdf")
    assert report.headers["content-type"] == "application/pdf"
    text = pdf_text(report.content)
    assert "District Hospital" in text and "65.0" in text
    if lang == "zh":
        assert "述职评议" in text


@pytest.mark.parametrize("lang", LANGS)
async def test_compact_credit_on_the_desk_within_the_cap_and_on_the_record(
    browser: Browser, world: World, lang: str
) -> None:
    browser.login("manager", lang)
    body = {
        "phone": world.users["resident"].phone,
        "reason": "neighbourly_help",
        "memo": "帮助邻居搬家",
        "points": "10",
    }
    for _ in range(2):
        r = await browser.post("/desk/credit/compact", body)
        assert r.status_code == 303, r.text
    refused = await browser.post("/desk/credit/compact", {**body, "points": "1"})
    assert refused.status_code == 409
    assert field_errors(refused.text)["points"] == escape(translate(lang, "error.credit_monthly_cap"))
    roll = await browser.get("/desk/credit")
    assert roll.status_code == 200 and world.users["resident"].name in roll.text

    browser.login("resident", lang)
    record = await browser.get("/r/credit")
    assert record.status_code == 200
    assert translate(lang, "credit.balance", points=20) in record.text
    assert escape(translate(lang, "compact_reason.neighbourly_help")) in record.text

"""Pages for service records, certificates and the honour roll, in both languages: the volunteer's
/v/record with its certificate request (a refused request shown again in the reader's language, the
request in its community managers' inboxes),
the honour-roll setting on /v/profile, the desk's records with training, corrections and the export,
certificates issued from /desk/certificates once the issuing details are set, the honour roll and
its poster, and the public verification page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.web.i18n import translate
from tests.records_support import closed_project
from tests.test_records import served_order
from tests.web.conftest import Browser, field_errors
from tests.world import World

LANGS = ["zh", "en"]
HOUR = timedelta(hours=1)


@pytest.mark.parametrize("lang", LANGS)
async def test_the_volunteer_reads_their_record_and_requests_a_certificate(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    order = await served_order(client, world, clock)
    clock.now += 24 * HOUR
    browser.login("volunteer", lang)
    page = await browser.get("/v/record")
    assert page.status_code == 200, page.text
    assert translate(lang, "records.my_title") in page.text and f'id="line-order-{order}-1"' in page.text
    assert 'href="/v/record"' in page.text  # in the tab bar

    today = clock().astimezone(world.settings.tz).date()
    form = {"community_id": str(world.areas["c1"].id), "period_start": today.isoformat()}
    refused = await browser.post(
        "/v/record/certificates", form | {"period_end": (today - timedelta(days=1)).isoformat()}
    )
    assert refused.status_code == 422
    assert field_errors(refused.text)["period_end"] == escape(translate(lang, "error.period_order"))
    r = await browser.post(
        "/v/record/certificates",
        form | {"period_start": (today - timedelta(days=7)).isoformat(), "period_end": today.isoformat()},
    )
    assert r.status_code == 303, r.text
    page = await browser.get(r.headers["location"])
    assert translate(lang, "notice.certificate_requested") in page.text
    assert translate(lang, "certificate_status.requested") in page.text

    # The community's manager reads of it in their inbox, in their language, with the way to the desk.
    browser.login("manager", lang)
    inbox = await browser.get("/notifications")
    asked = translate(lang, "notification.certificate_requested", name="Volunteer", community="Community 1")
    assert str(escape(asked)) in inbox.text
    assert 'href="/desk/certificates?status=requested"' in inbox.text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_volunteer_opts_out_of_the_honour_roll_on_their_profile(
    browser: Browser, world: World, lang: str
) -> None:
    browser.login("volunteer", lang)
    page = await browser.get("/v/profile")
    assert (
        translate(lang, "records.honour_roll_opt_out") in page.text
        and "checked>" not in page.text.split('id="honour-roll-opt-out"')[1][:20]
    )
    r = await browser.post("/v/record/honour-roll", {"opt_out": "on"})
    assert r.headers["location"] == "/v/profile?notice=honour_roll_hidden"
    page = await browser.get("/v/profile")
    assert 'id="honour-roll-opt-out" checked' in page.text
    await browser.post("/v/record/honour-roll", {})
    assert 'id="honour-roll-opt-out" checked' not in (await browser.get("/v/profile")).text


@pytest.mark.parametrize("lang", LANGS)
async def test_the_manager_records_training_corrects_a_line_and_exports(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    order = await served_order(client, world, clock)
    browser.login("manager", lang)
    page = await browser.get("/desk/records")
    assert (
        translate(lang, "records.area_title") in page.text
        and f'id="volunteer-{world.id("volunteer")}"' in page.text
    )
    path = f"/desk/records/volunteers/{world.id('volunteer')}"
    page = await browser.get(path)
    assert f'id="correct-order-{order}-1"' in page.text

    refused = await browser.post(f"{path}/entries", {"kind": "training", "title": "", "at": ""})
    assert refused.status_code == 400 and "title" in field_errors(refused.text)
    at = (clock() - HOUR).astimezone(world.settings.tz).strftime("%Y-%m-%dT%H:%M")
    r = await browser.post(
        f"{path}/entries", {"kind": "training", "title": "急救培训", "at": at, "hours": "2"}
    )
    assert r.headers["location"] == f"{path}?notice=record_entry_added"

    fix = {"corrects": f"order:{order}:1", "hours": "1.5", "reason": "wrong_hours", "memo": ""}
    r = await browser.post(f"{path}/corrections", fix)
    assert r.headers["location"] == f"{path}?notice=record_corrected"
    again = await browser.post(f"{path}/corrections", fix)
    assert again.status_code == 409 and escape(translate(lang, "error.line_already_corrected")) in again.text
    page = await browser.get(path)
    assert translate(lang, "records.was", hours=2.0) in page.text and "急救培训" in page.text

    export = await browser.get("/desk/records/export")
    assert export.status_code == 200 and export.headers["content-disposition"].endswith('.xlsx"')


@pytest.mark.parametrize("lang", LANGS)
async def test_the_community_sets_its_issuing_details_and_issues_from_the_desk(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    await closed_project(session_maker, world, "volunteer", 20, clock() - 24 * HOUR)
    today = clock().astimezone(world.settings.tz).date()
    r = await client.post(
        "/api/certificates",
        json={
            "community_id": world.areas["c1"].id,
            "period_start": "2026-01-01",
            "period_end": today.isoformat(),
        },
        headers=world.auth("volunteer"),
    )
    certificate = r.json()["id"]
    browser.login("manager", lang)
    page = await browser.get("/desk/certificates")
    assert f'id="certificate-{certificate}" data-status="requested"' in page.text
    refused = await browser.post(f"/desk/certificates/{certificate}/issue")
    assert refused.status_code == 422 and escape(translate(lang, "error.issuer_not_set")) in refused.text

    missing = await browser.post(
        f"/desk/certificates/issuer/{world.areas['c1'].id}", {"responsible_person": "王主任"}
    )
    assert missing.status_code == 400 and "contact" in field_errors(missing.text)
    r = await browser.post(
        f"/desk/certificates/issuer/{world.areas['c1'].id}",
        {"responsible_person": "王主任", "contact": "65001234"},
    )
    assert r.status_code == 303
    assert 'value="王主任"' in (await browser.get(r.headers["location"])).text

    r = await browser.post(f"/desk/certificates/{certificate}/issue")
    assert r.headers["location"] == "/desk/certificates?notice=certificate_issued"
    page = await browser.get("/desk/certificates?status=issued")
    assert f'id="certificate-{certificate}" data-status="issued"' in page.text
    pdf = await browser.get(f"/desk/certificates/{certificate}/pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    r = await browser.post(f"/desk/certificates/{certificate}/revoke", {"reason": "issued_in_error"})
    assert r.headers["location"] == "/desk/certificates?notice=certificate_revoked"


@pytest.mark.parametrize("lang", LANGS)
async def test_the_honour_roll_page_and_poster(
    browser: Browser,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    await closed_project(session_maker, world, "volunteer", 30, clock())
    browser.login("grid_worker", lang)
    page = await browser.get("/desk/honour-roll")
    assert (
        translate(lang, "records.most_hours") in page.text
        and f'id="hours-{world.id("volunteer")}"' in page.text
    )
    poster = await browser.get(f"/desk/honour-roll/poster?community_id={world.areas['c1'].id}")
    assert (
        poster.status_code == 200
        and translate(lang, "records.poster_heading", community="Community 1") in poster.text
    )


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("volunteer", "/desk/records", 403),
        ("resident", "/v/record", 403),
        ("grid_worker", "/desk/certificates", 403),
        ("volunteer", "/desk/honour-roll", 403),
        ("manager_c2", "/desk/certificates/issuer?community_id={c1}", 403),
    ],
)
async def test_pages_refuse_who_may_not_see_them(
    browser: Browser, world: World, who: str, path: str, status: int
) -> None:
    browser.login(who)
    r = await browser.get(path.format(c1=world.areas["c1"].id))
    assert r.status_code == status


async def test_an_unknown_code_on_the_verification_page_is_not_found(client: AsyncTestClient) -> None:
    r = await client.get("/verify/unknown-token")
    assert r.status_code == 404 and translate("zh", "verify.unknown") in r.text

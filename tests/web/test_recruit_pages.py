"""Recruiting and residents' say, on the pages, in both languages: the organiser opens a shift and
shows the rotating QR code; a volunteer signs up, scans it and checks in and out; a resident
supports and proposes needs, which a manager reviews."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from markupsafe import escape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.web.i18n import translate
from tests.test_projects import make_project as make_project_with_holders
from tests.test_shifts import STARTS_IN, code_now, make_project, open_shift
from tests.test_units_support import make_coop, ok, post_need
from tests.web.conftest import Browser, field_errors
from tests.world import World


def text(lang: str, key: str, **values: object) -> str:
    return str(escape(translate(lang, key, **values)))


def local_input(world: World, delta: timedelta) -> str:
    return (world.now + delta).astimezone(world.settings.tz).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_an_organiser_opens_a_shift_and_a_volunteer_signs_up_and_checks_in_and_out(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    project = await make_project(client, world)
    browser.login("manager", lang)
    page = await browser.get(f"/desk/projects/{project['id']}")
    assert f'href="/desk/projects/{project["id"]}/shifts"' in page.text
    assert text(lang, "shifts.link_from_project") in page.text
    page = await browser.get(f"/desk/projects/{project['id']}/shifts")
    assert page.status_code == 200 and text(lang, "shifts.open_one") in page.text

    form = {
        "title": "Stalls",
        "area_id": str(world.areas["c1_compound"].id),
        "starts_at": local_input(world, -timedelta(hours=1)),
        "ends_at": local_input(world, STARTS_IN + timedelta(hours=3)),
        "slots": "1",
        "skills": ["escort", "repair"],
    }
    refused = await browser.post(f"/desk/projects/{project['id']}/shifts", form)
    assert refused.status_code == 400
    assert field_errors(refused.text) == {"starts_at": text(lang, "error.shift_in_past")}
    assert 'value="repair" checked' in refused.text

    form["starts_at"] = local_input(world, STARTS_IN)
    r = await browser.post(f"/desk/projects/{project['id']}/shifts", form)
    assert r.status_code == 303, r.text
    shift_page = r.headers["location"].split("?")[0]
    shift_id = int(shift_page.rsplit("/", 1)[1])
    page = await browser.get(r.headers["location"])
    assert text(lang, "notice.shifts_opened") in page.text and text(lang, "shifts.waiting_empty") in page.text

    browser.login("volunteer", lang)
    page = await browser.get("/v/shifts")
    assert f'id="shift-{shift_id}"' in page.text and text(lang, "nav.shifts") in page.text
    r = await browser.post(f"/v/shifts/{shift_id}/sign-up")
    assert (r.status_code, r.headers["location"]) == (303, "/v/shifts/mine?notice=shifts_signed_up")
    page = await browser.get(r.headers["location"])
    assert text(lang, "notice.shifts_signed_up") in page.text
    assert text(lang, "shift_signup_status.signed_up") in page.text

    browser.login("volunteer_b", lang)
    r = await browser.post(f"/v/shifts/{shift_id}/sign-up")
    assert r.headers["location"] == "/v/shifts/mine?notice=shifts_waiting"
    browser.login("manager", lang)
    page = await browser.get(shift_page)
    assert 'id="waiting-' + str(world.id("volunteer_b")) + '"' in page.text

    clock.advance(STARTS_IN - timedelta(minutes=10))
    browser.login("manager", lang)  # the login of two days ago has run out
    page = await browser.get(f"{shift_page}/check-in")
    assert page.status_code == 200
    assert 'data-reload-in="' in page.text and "<svg" in page.text
    code = await code_now(client, world, {"id": shift_id})
    assert f'data-code="{code}"' in page.text

    browser.login("volunteer", lang)
    scanned = f"/v/shifts/{shift_id}/scan?code={code}"
    page = await browser.get(scanned)
    assert text(lang, "shifts.check_in") in page.text
    r = await browser.post(f"/v/shifts/{shift_id}/scan", {"code": code})
    assert r.headers["location"] == "/v/shifts/mine?notice=shifts_checked_in"
    # Two minutes on, the same code is stale: said at once, in the page's language, with no button.
    clock.advance(timedelta(minutes=2))
    page = await browser.get(scanned)
    assert text(lang, "error.check_in_code_stale") in page.text
    assert f'action="/v/shifts/{shift_id}/scan"' not in page.text
    refused = await browser.post(f"/v/shifts/{shift_id}/scan", {"code": code})
    assert refused.status_code == 409 and text(lang, "error.check_in_code_stale") in refused.text

    clock.advance(timedelta(hours=2))
    browser.login("volunteer", lang)
    code = await code_now(client, world, {"id": shift_id})
    r = await browser.post(f"/v/shifts/{shift_id}/scan", {"code": code})
    assert r.headers["location"] == "/v/shifts/mine?notice=shifts_checked_out"
    browser.login("manager", lang)
    page = await browser.get(shift_page)
    assert text(lang, "shift_signup_status.checked_out") in page.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_volunteer_cancels_and_is_refused_after_the_cut_off(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    first = await open_shift(client, world, await make_project(client, world))
    browser.login("volunteer", lang)
    assert (await browser.post(f"/v/shifts/{first['id']}/sign-up")).status_code == 303
    r = await browser.post(f"/v/shifts/{first['id']}/cancel")
    assert r.headers["location"] == "/v/shifts/mine?notice=shifts_cancelled"
    assert (await browser.post(f"/v/shifts/{first['id']}/sign-up")).status_code == 303
    clock.advance(STARTS_IN - timedelta(hours=1))
    browser.login("volunteer", lang)
    page = await browser.get("/v/shifts/mine")
    assert f'action="/v/shifts/{first["id"]}/cancel"' not in page.text
    refused = await browser.post(f"/v/shifts/{first['id']}/cancel")
    assert refused.status_code == 409 and text(lang, "error.cancel_closed") in refused.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_residents_support_and_propose_needs_and_a_manager_reviews_them(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    need = await post_need(client, world, priority=3)
    browser.login("resident", lang)
    page = await browser.get("/r/needs")
    assert text(lang, "nav.community_needs") in page.text and f'id="need-{need["id"]}"' in page.text
    r = await browser.post(f"/r/needs/{need['id']}/support")
    assert r.headers["location"] == "/r/needs?notice=needs_supported"
    page = await browser.get(r.headers["location"])
    assert text(lang, "needs.supported") in page.text
    assert text(lang, "needs.weight", supports=1, weight=3.27) in page.text
    refused = await browser.post(f"/r/needs/{need['id']}/support")
    assert refused.status_code == 409 and text(lang, "error.already_supported") in refused.text

    page = await browser.get("/r/needs/propose")
    assert page.status_code == 200
    refused = await browser.post("/r/needs/propose", {"title": " "})
    assert field_errors(refused.text) == {"title": text(lang, "form.required")}
    r = await browser.post(
        "/r/needs/propose", {"title": "Benches by the gate", "description": "For the elderly"}
    )
    assert r.headers["location"] == "/r/needs/proposals?notice=needs_proposed"
    page = await browser.get(r.headers["location"])
    assert "Benches by the gate" in page.text and text(lang, "proposal_status.proposed") in page.text
    proposals = ok(await client.get("/api/need-proposals", headers=world.auth("resident")))["items"]
    proposal = proposals[0]["id"]

    browser.login("manager", lang)
    page = await browser.get("/desk/projects")
    assert text(lang, "needs.board_weight", supports=1, weight=3.27) in page.text
    assert 'href="/desk/projects/proposals"' in page.text
    page = await browser.get("/desk/projects/proposals")
    assert f'id="proposal-{proposal}"' in page.text
    approve = {
        "category": "goods",
        "quantity": "6",
        "unit_of_measure": "benches",
        "priority": "4",
        "deadline": local_input(world, -timedelta(days=1)),
    }
    refused = await browser.post(f"/desk/projects/proposals/{proposal}/approve", approve)
    assert refused.status_code == 400
    assert field_errors(refused.text) == {f"deadline-{proposal}": text(lang, "error.deadline_passed")}
    approve["deadline"] = local_input(world, timedelta(days=20))
    r = await browser.post(f"/desk/projects/proposals/{proposal}/approve", approve)
    assert r.headers["location"] == "/desk/projects/proposals?notice=proposals_reviewed"
    page = await browser.get("/desk/projects?show=needs")
    assert "Benches by the gate" in page.text

    browser.login("resident_b", lang)
    await browser.post("/r/needs/propose", {"title": "A swimming pool"})
    other = ok(await client.get("/api/need-proposals", headers=world.auth("resident_b")))["items"][0]["id"]
    browser.login("manager", lang)
    r = await browser.post(f"/desk/projects/proposals/{other}/reject", {"reason": "cannot_be_met"})
    assert r.status_code == 303
    browser.login("resident_b", lang)
    page = await browser.get("/r/needs/proposals")
    assert text(lang, "proposal_reject_reason.cannot_be_met") in page.text
    page = await browser.get("/notifications")
    assert text(lang, "proposal_reject_reason.cannot_be_met") in page.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_volunteer_marks_done_what_they_hold_and_nothing_else(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    coop = await make_coop(client, world, session_maker)
    project = await make_project_with_holders(client, world, coop)
    task = {r["task"]: r["id"] for r in project["responsibilities"]}
    done = f"/v/responsibilities/{project['id']}/{{}}/done"
    browser.login("volunteer", lang)
    # Their own task and their team's (they lead it), linked from their tasks; not the unit's.
    assert text(lang, "responsibilities.link", n=2) in (await browser.get("/v/tasks")).text
    page = await browser.get("/v/responsibilities")
    assert (
        "Hand out bags" in page.text and "Keep the list" in page.text and "Deliver the rice" not in page.text
    )
    assert text(lang, "responsibilities.done_named", task="Hand out bags") in page.text

    r = await browser.post(done.format(task["Hand out bags"]))
    assert (r.status_code, r.headers["location"]) == (
        303,
        "/v/responsibilities?notice=projects_responsibility_done",
    )
    page = await browser.get(r.headers["location"])
    assert text(lang, "notice.projects_responsibility_done") in page.text and "Hand out bags" not in page.text
    # A second press (an old page) is told it is done already.
    again = await browser.post(done.format(task["Hand out bags"]))
    assert again.status_code == 409 and text(lang, "error.already_done") in again.text

    # Another participant holds nothing here and marks nothing.
    browser.login("volunteer_b", lang)
    assert text(lang, "responsibilities.empty") in (await browser.get("/v/responsibilities")).text
    refused = await browser.post(done.format(task["Keep the list"]))
    assert refused.status_code == 403 and text(lang, "error.not_responsible") in refused.text
    after = ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("manager")))
    assert {r["task"]: r["done_by_id"] for r in after["responsibilities"]} == {
        "Deliver the rice": None,
        "Hand out bags": world.id("volunteer"),
        "Keep the list": None,
    }

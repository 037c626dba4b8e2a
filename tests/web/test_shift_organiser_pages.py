"""Recruiting on the pages, the organiser's side, in both languages: cancelling a shift with a reason
(its volunteers see why on their phone and in their messages) and marking the roster attended or
no-show once the shift has started."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from market.clock import FrozenClock
from tests.test_shifts import STARTS_IN, make_project, open_shift, sign_up
from tests.test_units_support import ok
from tests.web.conftest import Browser
from tests.web.test_recruit_pages import text
from tests.world import World


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_an_organiser_cancels_a_shift_and_its_volunteers_see_why(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    shift = await open_shift(client, world, await make_project(client, world), slots=1)
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(await sign_up(client, world, shift, "volunteer_b"))
    page_path = f"/desk/projects/shifts/{shift['id']}"
    form_action = f'action="{page_path}/call-off"'

    # The waiting volunteer may leave the list from their phone.
    browser.login("volunteer_b", lang)
    page = await browser.get("/v/shifts/mine")
    assert f'action="/v/shifts/{shift["id"]}/cancel"' in page.text
    assert text(lang, "shifts.leave_waiting") in page.text

    browser.login("grid_worker", lang)
    page = await browser.get(page_path)
    assert page.status_code == 200 and form_action not in page.text
    assert (await browser.post(f"{page_path}/call-off", {"reason": "weather"})).status_code == 403

    browser.login("manager", lang)
    page = await browser.get(page_path)
    assert form_action in page.text and text(lang, "shifts.call_off") in page.text
    assert text(lang, "shift_cancel_reason.too_few_volunteers") in page.text
    refused = await browser.post(f"{page_path}/call-off", {"reason": ""})
    assert refused.status_code == 400 and form_action in refused.text
    assert (
        ok(await client.get(f"/api/shifts/{shift['id']}", headers=world.auth("manager")))["status"] == "open"
    )

    r = await browser.post(f"{page_path}/call-off", {"reason": "weather"})
    assert (r.status_code, r.headers["location"]) == (303, f"{page_path}?notice=shifts_called_off")
    page = await browser.get(r.headers["location"])
    assert text(lang, "notice.shifts_called_off") in page.text
    assert text(lang, "shift_status.cancelled") in page.text
    assert text(lang, "shift_cancel_reason.weather") in page.text
    assert text(lang, "shift_signup_status.called_off") in page.text
    assert form_action not in page.text and 'id="show-code"' not in page.text
    again = await browser.post(f"{page_path}/call-off", {"reason": "weather"})
    assert again.status_code == 409

    for who in ("volunteer", "volunteer_b"):
        browser.login(who, lang)
        page = await browser.get("/v/shifts/mine")
        reason = text(lang, "shift_cancel_reason.weather")
        assert text(lang, "shifts.called_off_because", reason=reason) in page.text
        assert f'action="/v/shifts/{shift["id"]}/cancel"' not in page.text
        page = await browser.get("/notifications")
        assert text(lang, "notification_reason.weather") in page.text
    page = await browser.get("/v/shifts")
    assert f'id="shift-{shift["id"]}"' not in page.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_organiser_marks_no_shows_from_the_start_and_attendance_from_the_end(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    project = await make_project(client, world)
    shift = await open_shift(client, world, project)
    ok(await sign_up(client, world, shift, "volunteer"))
    ok(await sign_up(client, world, shift, "volunteer_b"))
    page_path = f"/desk/projects/shifts/{shift['id']}"
    attended = f"{page_path}/roster/{world.id('volunteer')}/attended"
    no_show = f"{page_path}/roster/{world.id('volunteer_b')}/no-show"

    browser.login("manager", lang)
    page = await browser.get(page_path)
    assert f'action="{attended}"' not in page.text
    refused = await browser.post(no_show)
    assert refused.status_code == 409 and text(lang, "error.shift_not_started") in refused.text

    clock.advance(STARTS_IN + timedelta(hours=1))
    browser.login("grid_worker", lang)
    page = await browser.get(page_path)
    assert f'action="{no_show}"' not in page.text
    assert (await browser.post(no_show)).status_code == 403
    browser.login("manager", lang)
    page = await browser.get(page_path)
    # No-shows from the start; attendance only once the shift has ended (hours never ahead).
    assert f'action="{no_show}"' in page.text and f'action="{attended}"' not in page.text
    assert text(lang, "shifts.mark_no_show") in page.text
    refused = await browser.post(attended)
    assert refused.status_code == 409 and text(lang, "error.shift_not_ended") in refused.text
    # A call-off form no longer: the shift has started.
    assert f'action="{page_path}/call-off"' not in page.text
    r = await browser.post(no_show)
    assert r.headers["location"] == f"{page_path}?notice=shifts_marked_no_show"
    page = await browser.get(r.headers["location"])
    assert text(lang, "notice.shifts_marked_no_show") in page.text
    assert text(lang, "shift_signup_status.no_show") in page.text

    clock.advance(timedelta(hours=3))
    page = await browser.get(page_path)
    assert f'action="{attended}"' in page.text and text(lang, "shifts.mark_attend") in page.text
    r = await browser.post(attended)
    assert r.headers["location"] == f"{page_path}?notice=shifts_marked_attend"
    page = await browser.get(r.headers["location"])
    assert text(lang, "shift_signup_status.checked_out") in page.text
    assert f'action="{attended}"' not in page.text
    # A no-show may still be corrected to attended.
    assert f'action="{page_path}/roster/{world.id("volunteer_b")}/attended"' in page.text
    refused = await browser.post(attended)
    assert refused.status_code == 409

    read = ok(await client.get(f"/api/projects/{project['id']}", headers=world.auth("manager")))
    assert {p["name"]: p["hours"] for p in read["participants"]} == {"Volunteer": 3.0}

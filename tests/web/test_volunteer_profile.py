"""The volunteer's profile page: skills, availability, serving areas, capacity, and a pause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.world import World


def profile_form(world: World, **overrides: object) -> dict[str, object]:
    return {
        "capacity": "3",
        "skills": ["escort", "shopping"],
        "level_escort": "3",
        "level_shopping": "1",
        "day_0": "on",
        "start_0": "08:00",
        "end_0": "12:00",
        "day_5": "on",
        "start_5": "14:00",
        "end_5": "18:00",
        "serving_area_ids": [str(world.areas["c1"].id), str(world.areas["c2_grid"].id)],
        **overrides,
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_profile_page_in_both_languages(browser: Browser, lang: str) -> None:
    browser.login("volunteer", lang)
    response = await browser.get("/v/profile")
    assert response.status_code == 200
    assert translate(lang, "profile.title") in response.text
    for marker in (
        'id="save-profile"',
        'id="pause-button"',
        'href="/account/password"',
        'name="serving_area_ids"',
    ):
        assert marker in response.text


async def test_save_the_profile(browser: Browser, client: AsyncTestClient, world: World) -> None:
    browser.login("volunteer", "en")
    response = await browser.post("/v/profile", profile_form(world))
    assert response.status_code == 303, response.text
    profile = (
        await client.get(f"/api/volunteers/{world.id('volunteer')}/profile", headers=world.auth("volunteer"))
    ).json()
    assert profile["capacity"] == 3
    assert profile["skills"] == [{"category": "escort", "level": 3}, {"category": "shopping", "level": 1}]
    assert profile["availability"] == [
        {"weekday": 0, "start": "08:00", "end": "12:00"},
        {"weekday": 5, "start": "14:00", "end": "18:00"},
    ]
    assert {a["id"] for a in profile["serving_areas"]} == {world.areas["c1"].id, world.areas["c2_grid"].id}
    page = (await browser.get("/v/profile")).text
    assert 'id="day_5" checked' in page and 'value="14:00"' in page


async def test_refusals_keep_what_was_typed_and_change_nothing(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    browser.login("volunteer", "en")
    response = await browser.post("/v/profile", profile_form(world, capacity="0", end_0="07:00"))
    assert response.status_code == 400
    errors = field_errors(response.text)
    assert set(errors) >= {"capacity", "availability"}
    assert 'value="0"' in response.text
    profile = (
        await client.get(f"/api/volunteers/{world.id('volunteer')}/profile", headers=world.auth("volunteer"))
    ).json()
    assert profile["capacity"] == 2


async def test_pause_until_a_date_and_resume(browser: Browser, client: AsyncTestClient, world: World) -> None:
    browser.login("volunteer", "zh")
    until = (world.now.astimezone(world.settings.tz).date() + timedelta(days=3)).isoformat()
    response = await browser.post("/v/profile/pause", {"until": until, "reason": "busy"})
    assert response.status_code == 303, response.text
    page = (await browser.get("/v/profile")).text
    assert 'data-paused="true"' in page and until in page and 'id="resume-button"' in page
    past = (world.now.astimezone(world.settings.tz).date() - timedelta(days=3)).isoformat()
    response = await browser.post("/v/profile/pause", {"until": past, "reason": "away"})
    assert response.status_code == 400 and "until" in field_errors(response.text)
    response = await browser.post("/v/profile/resume", {})
    assert response.status_code == 303
    assert 'data-paused="false"' in (await browser.get("/v/profile")).text


async def test_the_profile_page_is_the_volunteers_own(browser: Browser) -> None:
    browser.login("resident", "en")
    assert (await browser.get("/v/profile")).status_code == 403

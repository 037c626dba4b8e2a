"""The registrars' desk (/desk/units): register a co-building unit, pair it with communities,
appoint and withdraw its admins; and the teams desk (/desk/teams): create a team, rename it,
add and remove members. All from pages."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import UserRole
from market.teams.models import Team, TeamMember
from market.units.models import Unit, UnitAdmin, UnitCommunity
from market.web.i18n import translate
from tests.test_units_support import ok, unit_body
from tests.web.conftest import Browser, field_errors
from tests.world import World


def register_form(world: World, **overrides: object) -> dict[str, object]:
    return {
        "name": "Sunny Bakery",
        "kind": "merchant",
        "contact_name": "Mr Wang",
        "contact_phone": "13911112222",
        "community_ids": [str(world.areas["c1"].id)],
        **overrides,
    }


async def count(session_maker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def roles_of(session_maker: async_sessionmaker[AsyncSession], user_id: int) -> set[str]:
    async with session_maker() as session:
        return set(await session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def unit_id_of(location: str) -> int:
    found = re.match(r"^/desk/units/(\d+)", location)
    assert found, location
    return int(found.group(1))


# ---------------------------------------------------------------- units


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_street_admin_registers_a_unit_and_appoints_an_admin(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("street_admin", lang)
    listing = await browser.get("/desk/units")
    assert listing.status_code == 200
    assert 'href="/desk/units"' in listing.text and 'href="/desk/teams"' in listing.text
    assert 'id="register-unit"' in listing.text
    new = await browser.get("/desk/units/new")
    assert new.status_code == 200
    assert "Community 1" in new.text and "Community 2" in new.text
    assert translate(lang, "unit_kind.merchant") in new.text

    r = await browser.post("/desk/units/new", register_form(world))
    assert r.status_code == 303, r.text
    unit_id = unit_id_of(r.headers["location"])
    # A second click registers nothing more.
    again = await browser.post("/desk/units/new", register_form(world))
    assert again.status_code == 409
    assert field_errors(again.text)["name"] == translate(lang, "error.unit_name_taken")
    assert await count(session_maker, Unit) == 1
    page = await browser.get(r.headers["location"])
    assert translate(lang, "notice.unit_registered") in page.text
    assert "Sunny Bakery" in page.text and 'id="appoint-form"' in page.text

    # A resident of the area becomes the unit's admin, with the role.
    resident = world.id("resident")
    r = await browser.post(f"/desk/units/{unit_id}/admins", {"phone": "137 0000 0001"})
    assert r.status_code == 303, r.text
    assert "unit_admin" in await roles_of(session_maker, resident)
    page = await browser.get(f"/desk/units/{unit_id}")
    assert f'id="admin-{resident}"' in page.text and "13700000001" in page.text
    listing = await browser.get("/desk/units")
    assert "Sunny Bakery" in listing.text and "Resident" in listing.text

    # Appointing them again is refused next to the field, in the page's language.
    r = await browser.post(f"/desk/units/{unit_id}/admins", {"phone": "13700000001"})
    assert r.status_code == 409
    assert field_errors(r.text)["phone"] == translate(lang, "error.already_unit_admin")
    assert 'value="13700000001"' in r.text, "what was typed is kept"

    # Withdrawn, they act for no unit any more and lose the role.
    r = await browser.post(f"/desk/units/{unit_id}/admins/{resident}/withdraw")
    assert r.status_code == 303, r.text
    assert "unit_admin" not in await roles_of(session_maker, resident)
    assert await count(session_maker, UnitAdmin) == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_register_errors_are_next_to_their_fields_and_change_nothing(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("street_admin", lang)
    r = await browser.post(
        "/desk/units/new", register_form(world, name="", contact_phone="12345", community_ids=[])
    )
    assert r.status_code == 400
    errors = field_errors(r.text)
    assert errors["name"] == translate(lang, "form.required")
    assert errors["contact_phone"] == translate(lang, "form.invalid")
    assert errors["community_ids"] == translate(lang, "form.required")
    assert 'value="Mr Wang"' in r.text, "what was typed is kept"
    assert await count(session_maker, Unit) == 0

    # A phone number nobody in the area has.
    ok_id = unit_id_of((await browser.post("/desk/units/new", register_form(world))).headers["location"])
    r = await browser.post(f"/desk/units/{ok_id}/admins", {"phone": "13799999999"})
    assert r.status_code == 404
    assert field_errors(r.text)["phone"] == translate(lang, "error.user_not_found")
    r = await browser.post(f"/desk/units/{ok_id}/admins", {"phone": ""})
    assert field_errors(r.text)["phone"] == translate(lang, "form.required")
    assert await count(session_maker, UnitAdmin) == 0


async def test_a_community_manager_cannot_pair_a_unit_with_another_community(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "en")
    new = await browser.get("/desk/units/new")
    assert "Community 1" in new.text and "Community 2" not in new.text, "only one's own communities"
    c2 = str(world.areas["c2"].id)
    r = await browser.post("/desk/units/new", register_form(world, community_ids=[c2]))
    assert r.status_code == 403
    assert field_errors(r.text)["community_ids"] == translate("en", "error.outside_your_area")
    assert await count(session_maker, Unit) == 0

    r = await browser.post("/desk/units/new", register_form(world))
    unit_id = unit_id_of(r.headers["location"])
    edit = {**register_form(world), "community_ids": [str(world.areas["c1"].id), c2]}
    r = await browser.post(f"/desk/units/{unit_id}", edit)
    assert r.status_code == 403
    assert field_errors(r.text)["community_ids"] == translate("en", "error.outside_your_area")
    async with session_maker() as session:
        paired = set(await session.scalars(select(UnitCommunity.community_id)))
    assert paired == {world.areas["c1"].id}

    # Its own change goes through.
    r = await browser.post(f"/desk/units/{unit_id}", {**register_form(world), "name": "Sunny Bakery Ltd"})
    assert r.status_code == 303, r.text
    async with session_maker() as session:
        assert (await session.get(Unit, unit_id)).name == "Sunny Bakery Ltd"


async def test_a_manager_cannot_appoint_a_person_of_another_community(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    browser.login("manager", "en")
    unit_id = unit_id_of((await browser.post("/desk/units/new", register_form(world))).headers["location"])
    r = await browser.post(f"/desk/units/{unit_id}/admins", {"phone": "13700000003"})  # resident_c2
    assert r.status_code == 404
    assert field_errors(r.text)["phone"] == translate("en", "error.user_not_found")
    assert "unit_admin" not in await roles_of(session_maker, world.id("resident_c2"))


async def test_a_unit_of_the_street_is_read_only_for_a_community_manager(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    unit = ok(
        await client.post(
            "/api/units",
            json=unit_body(world, "District Hospital", ["c1", "c2"], ["unit_admin"]),
            headers=world.auth("street_admin"),
        )
    )
    browser.login("manager", "en")
    page = await browser.get(f"/desk/units/{unit['id']}")
    assert page.status_code == 200
    assert 'id="not-editable"' in page.text and 'id="unit-form"' not in page.text
    r = await browser.post(f"/desk/units/{unit['id']}/admins/{world.id('unit_admin')}/withdraw")
    assert r.status_code == 403
    assert translate("en", "error.not_your_unit") in r.text


@pytest.mark.parametrize("who", ["grid_worker", "unit_admin", "volunteer", "resident"])
async def test_other_roles_get_403_pages(browser: Browser, world: World, who: str) -> None:
    browser.login(who, "en")
    for path in ["/desk/units", "/desk/units/new", "/desk/teams", "/desk/teams/new"]:
        r = await browser.get(path)
        assert r.status_code == 403, (who, path)
        assert r.headers["content-type"].startswith("text/html")
    r = await browser.post("/desk/units/new", register_form(world))
    assert r.status_code == 403


# ---------------------------------------------------------------- teams


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_manager_creates_a_team_adds_and_removes_members(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("manager", lang)
    assert (await browser.get("/desk/teams")).status_code == 200
    new = await browser.get("/desk/teams/new")
    assert translate(lang, "speciality.elderly_care") in new.text
    form = {
        "name": "Silver helpers",
        "speciality": "elderly_care",
        "community_id": str(world.areas["c1"].id),
        "leader_phone": "13900000001",
    }
    r = await browser.post("/desk/teams/new", form)
    assert r.status_code == 303, r.text
    team_id = int(re.match(r"^/desk/teams/(\d+)", r.headers["location"]).group(1))
    listing = await browser.get("/desk/teams")
    assert "Silver helpers" in listing.text

    # Found by name, then added.
    page = await browser.get(f"/desk/teams/{team_id}?q=Volunteer B")
    assert f'id="candidate-{world.id("volunteer_b")}"' in page.text
    assert f'id="candidate-{world.id("volunteer")}"' not in page.text, "members are not offered"
    r = await browser.post(f"/desk/teams/{team_id}/members", {"user_id": world.id("volunteer_b")})
    assert r.status_code == 303, r.text
    # Found by phone.
    page = await browser.get(f"/desk/teams/{team_id}?q=13900000003")
    assert f'id="candidate-{world.id("volunteer_c")}"' in page.text
    async with session_maker() as session:
        members = set(await session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))
    assert members == {world.id("volunteer"), world.id("volunteer_b")}

    # A volunteer of another community is refused, and nothing changes.
    r = await browser.post(f"/desk/teams/{team_id}/members", {"user_id": world.id("volunteer_c2")})
    assert r.status_code == 404
    assert translate(lang, "error.user_not_found") in r.text

    r = await browser.post(f"/desk/teams/{team_id}/members/{world.id('volunteer_b')}/remove")
    assert r.status_code == 303, r.text
    r = await browser.post(f"/desk/teams/{team_id}/members/{world.id('volunteer')}/remove")
    assert r.status_code == 409
    assert translate(lang, "error.leader_cannot_leave") in r.text
    async with session_maker() as session:
        members = set(await session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id)))
    assert members == {world.id("volunteer")}

    r = await browser.post(f"/desk/teams/{team_id}", {"name": "Silver hands"})
    assert r.status_code == 303, r.text
    r = await browser.post(f"/desk/teams/{team_id}", {"name": ""})
    assert field_errors(r.text)["name"] == translate(lang, "form.required")
    async with session_maker() as session:
        assert (await session.get(Team, team_id)).name == "Silver hands"
    page = await browser.get(f"/desk/teams/{team_id}")
    assert translate(lang, "team_action.member_removed") in page.text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_team_errors_are_next_to_their_fields(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("manager", lang)
    form = {
        "name": "Night watch",
        "speciality": "safety",
        "community_id": str(world.areas["c2"].id),
        "leader_phone": "13700000001",
    }
    r = await browser.post("/desk/teams/new", form)
    assert r.status_code == 403, r.text
    assert field_errors(r.text)["community_id"] == translate(lang, "error.outside_your_area")
    r = await browser.post("/desk/teams/new", {**form, "community_id": str(world.areas["c1"].id)})
    assert field_errors(r.text)["leader_phone"] == translate(lang, "error.not_a_volunteer")
    r = await browser.post(
        "/desk/teams/new", {**form, "community_id": str(world.areas["c1"].id), "leader_phone": ""}
    )
    assert field_errors(r.text)["leader_phone"] == translate(lang, "form.required")
    assert 'value="Night watch"' in r.text
    assert await count(session_maker, Team) == 0


async def test_another_communitys_team_is_not_on_the_desk(browser: Browser, world: World) -> None:
    browser.login("manager_c2", "en")
    r = await browser.post(
        "/desk/teams/new",
        {
            "name": "River",
            "speciality": "environment",
            "community_id": str(world.areas["c2"].id),
            "leader_phone": "13900000004",
        },
    )
    assert r.status_code == 303, r.text
    team_path = r.headers["location"].split("?")[0]
    browser.login("manager", "en")
    assert (await browser.get(team_path)).status_code == 404
    r = await browser.post(f"{team_path}/members", {"user_id": world.id("volunteer")})
    assert r.status_code == 404

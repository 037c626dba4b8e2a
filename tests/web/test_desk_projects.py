"""Desk pages for projects: the board, publishing a need, allocation plans, a project's page and its
managers' actions, each in both languages and scoped like the API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.clock import FrozenClock
from market.web.i18n import translate
from tests.test_projects import activate, make_project
from tests.test_units_support import Coop, make_coop, ok, post_need, publish, resource_state
from tests.web.conftest import Browser, field_errors
from tests.world import World, add_volunteer_profile, password_hash

LANGS = ["zh", "en"]


@pytest.fixture
async def coop(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> Coop:
    return await make_coop(client, world, session_maker)


def local_input(world: World, delta: timedelta) -> str:
    """A `datetime-local` value as the page's form sends it (local time, no offset)."""
    return (world.now + delta).astimezone(world.settings.tz).strftime("%Y-%m-%dT%H:%M")


async def add_volunteers(
    session_maker: async_sessionmaker[AsyncSession],
    world: World,
    count: int,
    serving: str = "c1",
    first: int = 1,
) -> list[int]:
    """`count` more volunteers serving `serving`, numbered from `first`: "Helper 01" with phone
    13900010001, and so on; their ids."""
    async with session_maker() as session, session.begin():
        users = [
            User(
                phone=f"1390001{n:04d}",
                name=f"Helper {n:02d}",
                password_hash=password_hash(),
                area_id=world.areas[serving].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.volunteer)],
            )
            for n in range(first, first + count)
        ]
        session.add_all(users)
        await session.flush()
        for user in users:
            await add_volunteer_profile(session, user, world.areas[serving])
        return [u.id for u in users]


def candidates(html: str) -> list[int]:
    """The volunteers the project page offers to add."""
    return [int(i) for i in re.findall(r'<tr data-user-id="(\d+)">', html)]


async def api_project(client: AsyncTestClient, world: World, project_id: int) -> dict:
    return ok(await client.get(f"/api/projects/{project_id}", headers=world.auth("manager")))


@pytest.mark.parametrize("lang", LANGS)
async def test_the_board_shows_the_community_projects_needs_and_resources(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    project = await make_project(client, world, coop)
    await post_need(client, world, title="Blankets for winter", quantity=20, unit_of_measure="pieces")
    browser.login("manager", lang)

    r = await browser.get("/desk/projects")
    assert r.status_code == 200, r.text
    for text in (
        translate(lang, "projects.board_title"),
        "Community 1",
        "Winter food drive",
        translate(lang, "project_status.draft"),
        translate(lang, "projects.days_left", days=3),
        "Blankets for winter",
        "20 pieces",
        translate(lang, "need_status.open"),
        "Rice",
        "District Hospital",
        translate(lang, "resource_category.goods"),
        translate(lang, "projects.publish_need"),
        translate(lang, "projects.make_plan"),
    ):
        assert text in r.text, text
    assert f'href="/desk/projects/{project["id"]}"' in r.text
    assert "Rice for elderly residents" not in r.text, "the planned need is not among the open ones"

    r = await browser.get(f"/desk/projects?community={world.areas['c1'].id}&show=needs&need_status=planned")
    assert r.status_code == 200
    assert "Rice for elderly residents" in r.text and "Blankets for winter" not in r.text
    assert "Winter food drive" not in r.text, "one list at a time"
    for show in ("projects", "resources"):
        assert (await browser.get(f"/desk/projects?show={show}&offset=20")).status_code == 200
    assert (await browser.get("/desk/projects?status=cancelled")).text.count("Winter food drive") == 0


async def test_street_admins_choose_among_their_communities(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    await make_project(client, world, coop)
    browser.login("street_admin", "en")
    r = await browser.get("/desk/projects")
    assert r.status_code == 200 and "Winter food drive" in r.text
    assert "Community 1" in r.text and "Community 2" in r.text
    r = await browser.get(f"/desk/projects?community={world.areas['c2'].id}")
    assert r.status_code == 200 and "Winter food drive" not in r.text
    assert f'<option value="{world.areas["c2"].id}" selected' in r.text
    r = await browser.get(f"/desk/projects?community={world.areas['c1_grid'].id}")
    assert r.status_code == 404, "only communities are chosen"


async def test_grid_workers_read_the_board_without_the_managers_actions(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await make_project(client, world, coop)
    browser.login("grid_worker", "en")
    r = await browser.get("/desk/projects")
    assert r.status_code == 200 and "Winter food drive" in r.text
    assert translate("en", "projects.publish_need") not in r.text
    r = await browser.get(f"/desk/projects/{project['id']}")
    assert r.status_code == 200 and translate("en", "projects.cancel") not in r.text
    assert (await browser.get("/desk/projects/needs/new")).status_code == 403
    assert (await browser.post(f"/desk/projects/{project['id']}/cancel", {"reason": "no"})).status_code == 403


@pytest.mark.parametrize("lang", LANGS)
async def test_publishing_a_need_from_the_form(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("manager", lang)
    r = await browser.get("/desk/projects/needs/new")
    assert r.status_code == 200
    assert "Garden 1" in r.text and translate(lang, "resource_category.venue") in r.text

    form = {
        "community_id": str(world.areas["c1"].id),
        "area_id": str(world.areas["c1_compound"].id),
        "category": "goods",
        "title": "Winter coats",
        "quantity": "15",
        "unit_of_measure": "pieces",
        "priority": "4",
        "deadline": local_input(world, timedelta(days=5)),
        "description": "For the elderly",
    }
    r = await browser.post("/desk/projects/needs/new", form)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"/desk/projects?community={world.areas['c1'].id}&show=needs")
    (need,) = ok(await client.get("/api/needs", headers=world.auth("manager")))["items"]
    assert (need["title"], need["quantity"], need["priority"], need["area_id"]) == (
        "Winter coats",
        15,
        4,
        world.areas["c1_compound"].id,
    )
    assert (await browser.get(r.headers["location"])).text.count(
        translate(lang, "notice.projects_need_published")
    )


@pytest.mark.parametrize("lang", LANGS)
async def test_an_invalid_need_keeps_what_was_typed_and_says_what_is_wrong(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("manager", lang)
    form = {
        "community_id": str(world.areas["c1"].id),
        "area_id": str(world.areas["c1"].id),
        "category": "goods",
        "title": "",
        "quantity": "0",
        "unit_of_measure": "boxes",
        "priority": "3",
        "deadline": "",
        "description": "Typed text stays",
    }
    r = await browser.post("/desk/projects/needs/new", form)
    assert r.status_code == 400
    assert field_errors(r.text) == {
        "title": translate(lang, "form.required"),
        "quantity": translate(lang, "form.out_of_range"),
        "deadline": translate(lang, "form.required"),
    }
    assert 'value="boxes"' in r.text and "Typed text stays" in r.text and 'value="0"' in r.text

    past = {**form, "title": "Coats", "quantity": "3", "deadline": local_input(world, -timedelta(hours=2))}
    r = await browser.post("/desk/projects/needs/new", past)
    assert r.status_code == 400
    assert field_errors(r.text) == {"deadline": translate(lang, "error.deadline_passed")}
    assert ok(await client.get("/api/needs", headers=world.auth("manager")))["total"] == 0


@pytest.mark.parametrize("lang", LANGS)
async def test_an_allocation_plan_becomes_a_draft_project(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    rice = await publish(client, world, coop.unit_a, quantity=100)
    need = await post_need(client, world, quantity=50)
    await post_need(client, world, title="A hall for the festival", category="venue", unit_of_measure="hours")
    browser.login("manager", lang)

    r = await browser.post("/desk/projects/allocations", {"community_id": str(world.areas["c1"].id)})
    assert r.status_code == 303, r.text
    plan_url = r.headers["location"]
    plan_id = int(plan_url.rsplit("/", 1)[1])
    r = await browser.get(plan_url)
    assert r.status_code == 200
    for text in (
        "Rice for elderly residents",
        "Rice",
        "50 kg",
        translate(lang, "flow_outcome.proposed"),
        "A hall for the festival",
        translate(lang, "allocation_reason.no_resource_of_category"),
    ):
        assert text in r.text, text
    (flow,) = ok(await client.get(f"/api/allocations/plans/{plan_id}", headers=world.auth("manager")))[
        "flows"
    ]

    apply_url = f"{plan_url}/apply"
    r = await browser.post(apply_url, {"title": "Rice drive", "deadline": "", "description": "kept"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"flow_ids": translate(lang, "projects.choose_flows")}
    assert 'value="Rice drive"' in r.text and "kept" in r.text

    form = {
        "flow_ids": str(flow["id"]),
        "title": "Rice drive",
        "deadline": local_input(world, timedelta(days=4)),
    }
    r = await browser.post(apply_url, form)
    assert r.status_code == 303, r.text
    project_id = int(r.headers["location"].split("?")[0].rsplit("/", 1)[1])
    project = await api_project(client, world, project_id)
    assert (project["title"], project["status"], project["needs"][0]["id"]) == (
        "Rice drive",
        "draft",
        need["id"],
    )
    assert [(c["resource_id"], c["quantity"]) for c in project["commitments"]] == [(rice["id"], 50)]

    r = await browser.get(r.headers["location"])
    assert r.status_code == 200
    for text in (
        "Rice drive",
        translate(lang, "project_status.draft"),
        translate(lang, "notice.projects_plan_applied"),
    ):
        assert text in r.text, text
    r = await browser.get(plan_url)
    assert (
        translate(lang, "flow_outcome.applied") in r.text and f'href="/desk/projects/{project_id}"' in r.text
    )
    r = await browser.post(apply_url, form)
    assert r.status_code == 409 and translate(lang, "error.plan_already_applied") in r.text


@pytest.mark.parametrize("lang", LANGS)
async def test_recording_a_delivery_from_the_project_page(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    rice = project["commitments"][0]
    browser.login("manager", lang)
    r = await browser.get(f"/desk/projects/{project['id']}?commitment={rice['id']}")
    assert r.status_code == 200
    for text in (
        translate(lang, "project_status.active"),
        "District Hospital",
        "Sunny Property",
        "Deliver the rice",
        "Party members&#39; team",
        "Volunteer B",
        translate(lang, "projects.action.activate"),
        translate(lang, "projects.record_delivery"),
    ):
        assert text in r.text, text
    assert f'<option value="{rice["id"]}" selected' in r.text

    url = f"/desk/projects/{project['id']}/deliveries"
    r = await browser.post(url, {"commitment_id": str(rice["id"]), "quantity": "25", "note": "first van"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/desk/projects/{project['id']}?notice=projects_delivery_done"
    state = await resource_state(client, world, rice["resource_id"])
    assert (state["held"], state["delivered"], state["available"]) == (35, 25, 40)
    page = (await browser.get(r.headers["location"])).text
    assert (
        "first van" in page and "25/60" in page and translate(lang, "notice.projects_delivery_done") in page
    )

    r = await browser.post(url, {"commitment_id": str(rice["id"]), "quantity": "36", "note": "too much"})
    assert r.status_code == 409
    assert field_errors(r.text) == {"quantity": translate(lang, "error.exceeds_commitment")}
    assert 'value="36"' in r.text and 'value="too much"' in r.text
    assert await resource_state(client, world, rice["resource_id"]) == state
    assert (await api_project(client, world, project["id"]))["commitments"][0]["delivered"] == 25

    r = await browser.post(url, {"commitment_id": "", "quantity": "x"})
    assert r.status_code == 400
    assert field_errors(r.text) == {
        "commitment_id": translate(lang, "form.required"),
        "quantity": translate(lang, "form.invalid"),
    }


async def test_people_hours_and_responsibilities_from_the_project_page(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    base = f"/desk/projects/{project['id']}"
    browser.login("manager", "en")
    assert world.id("volunteer_c") in candidates((await browser.get(base)).text)
    r = await browser.post(f"{base}/participants", {"user_id": str(world.id("volunteer_c"))})
    assert r.status_code == 303, r.text
    r = await browser.post(f"{base}/participants", {"user_id": str(world.id("volunteer_c"))})
    assert r.status_code == 409
    # The volunteer is the button's value, not a field: the refusal stands above the list.
    assert field_errors(r.text) == {}
    assert translate("en", "error.already_participating") in r.text
    assert world.id("volunteer_c") not in candidates(r.text), "no longer offered"
    r = await browser.post(f"{base}/participants", {"user_id": "x"})
    assert r.status_code == 400 and translate("en", "form.invalid") in r.text

    participant = next(
        p
        for p in (await api_project(client, world, project["id"]))["participants"]
        if p["name"] == "Volunteer C"
    )
    r = await browser.post(f"{base}/hours", {"participant_id": str(participant["id"]), "hours": "2.5"})
    assert r.status_code == 303, r.text
    r = await browser.post(f"{base}/hours", {"participant_id": str(participant["id"]), "hours": "-1"})
    assert r.status_code == 400
    assert field_errors(r.text) == {"hours": translate("en", "form.out_of_range")}

    task = project["responsibilities"][2]
    r = await browser.post(f"{base}/responsibilities/{task['id']}/done")
    assert r.status_code == 303, r.text
    r = await browser.post(f"{base}/responsibilities/{task['id']}/done")
    assert r.status_code == 409 and translate("en", "error.already_done") in r.text

    project = await api_project(client, world, project["id"])
    assert [p["hours"] for p in project["participants"] if p["name"] == "Volunteer C"] == [2.5]
    assert project["responsibilities"][2]["done_at"]


async def test_volunteers_to_add_are_found_by_name_or_phone_however_many_there_are(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    project = await make_project(client, world, coop)
    helpers = await add_volunteers(session_maker, world, 120)
    [elsewhere] = await add_volunteers(session_maker, world, 1, serving="c2", first=500)
    base = f"/desk/projects/{project['id']}"
    browser.login("manager", "en")

    r = await browser.get(base)
    assert r.status_code == 200
    assert len(candidates(r.text)) == 20
    assert translate("en", "projects.more_candidates", n=20) in r.text
    # The last of 120 is found by its name, or by part of its phone number.
    r = await browser.get(base, params={"q": "helper 120"})
    assert candidates(r.text) == [helpers[-1]]
    assert 'value="helper 120"' in r.text, "the search keeps what was typed"
    assert translate("en", "projects.more_candidates", n=1) not in r.text
    assert candidates((await browser.get(base, params={"q": "00010120"})).text) == [helpers[-1]]
    # Only volunteers serving the community, not yet taking part; a wildcard is only a character.
    assert candidates((await browser.get(base, params={"q": "vol"})).text) == [
        world.id("vol_resident"),
        world.id("volunteer_c"),
    ]
    assert elsewhere not in candidates((await browser.get(base, params={"q": "Helper 500"})).text)
    r = await browser.get(base, params={"q": "%"})
    assert candidates(r.text) == [] and translate("en", "projects.no_candidates") in r.text
    assert (await browser.get(base, params={"q": "x" * 51})).status_code == 400

    r = await browser.post(f"{base}/participants", {"user_id": str(helpers[-1]), "q": "helper 120"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{base}?q=helper+120&notice=projects_participant_done"
    r = await browser.get(r.headers["location"])
    assert candidates(r.text) == [] and "Helper 120" in r.text
    names = [p["name"] for p in (await api_project(client, world, project["id"]))["participants"]]
    assert "Helper 120" in names


@pytest.mark.parametrize("lang", LANGS)
async def test_closing_and_cancelling_from_the_project_page(
    browser: Browser,
    client: AsyncTestClient,
    world: World,
    coop: Coop,
    session_maker: async_sessionmaker[AsyncSession],
    lang: str,
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    browser.login("manager", lang)
    base = f"/desk/projects/{project['id']}"
    r = await browser.post(f"{base}/close")
    assert r.status_code == 303, r.text
    closed = await api_project(client, world, project["id"])
    assert closed["status"] == "overdue" and closed["summary"]["needs_reopened"]
    page = (await browser.get(r.headers["location"])).text
    for text in (
        translate(lang, "projects.summary"),
        translate(lang, "project_status.overdue"),
        translate(lang, "projects.needs_reopened"),
        translate(lang, "projects.action.close"),
    ):
        assert text in page, text
    assert translate(lang, "projects.cancel_reason") not in page, "a closed project has no actions"

    r = await browser.post(f"{base}/close")
    assert r.status_code == 409 and translate(lang, "error.illegal_transition") in r.text
    delivery = {"commitment_id": str(project["commitments"][0]["id"]), "quantity": "1"}
    r = await browser.post(f"{base}/deliveries", delivery)
    assert r.status_code == 409 and translate(lang, "error.illegal_transition") in r.text

    other = await make_project(client, world, coop, title="Second drive")
    other_base = f"/desk/projects/{other['id']}"
    r = await browser.post(f"{other_base}/cancel", {"reason": ""})
    assert r.status_code == 400
    assert field_errors(r.text) == {"reason": translate(lang, "form.required")}
    assert (await api_project(client, world, other["id"]))["status"] == "draft"
    r = await browser.post(f"{other_base}/cancel", {"reason": "The units pulled out"})
    assert r.status_code == 303
    assert (await api_project(client, world, other["id"]))["status"] == "cancelled"
    page = (await browser.get(other_base)).text
    assert "The units pulled out" in page and translate(lang, "project_status.cancelled") in page


async def test_another_community_manager_sees_none_of_it(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await make_project(client, world, coop)
    plan = ok(
        await client.post(
            "/api/allocations/plans",
            json={"community_id": world.areas["c1"].id},
            headers=world.auth("manager"),
        )
    )
    browser.login("manager_c2", "en")
    r = await browser.get("/desk/projects")
    assert r.status_code == 200 and "Community 2" in r.text
    assert "Winter food drive" not in r.text and "Rice for elderly residents" not in r.text
    assert f'value="{world.areas["c1"].id}"' not in r.text, "community 1 is not offered"
    assert (await browser.get(f"/desk/projects?community={world.areas['c1'].id}")).status_code == 404
    assert (await browser.get(f"/desk/projects/{project['id']}")).status_code == 404
    assert (await browser.get(f"/desk/projects/allocations/{plan['id']}")).status_code == 404
    r = await browser.post(f"/desk/projects/{project['id']}/cancel", {"reason": "mine now"})
    assert r.status_code == 404
    r = await browser.post("/desk/projects/allocations", {"community_id": str(world.areas["c1"].id)})
    assert r.status_code == 404
    assert (await api_project(client, world, project["id"]))["status"] == "draft"


@pytest.mark.parametrize(
    "path", ["/desk/projects", "/desk/projects/needs/new", "/desk/projects/1", "/desk/projects/allocations/1"]
)
async def test_residents_are_refused(browser: Browser, path: str) -> None:
    browser.login("resident", "zh")
    r = await browser.get(path)
    assert r.status_code == 403
    assert translate("zh", "error.role_required") in r.text


async def test_residents_cannot_post_to_the_pages(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    browser.login("resident", "en")
    r = await browser.post("/desk/projects/allocations", {"community_id": str(world.areas["c1"].id)})
    assert r.status_code == 403
    assert ok(await client.get("/api/needs", headers=world.auth("manager")))["total"] == 0


@pytest.mark.parametrize("lang", LANGS)
async def test_responsibilities_are_added_and_reassigned_from_the_project_page(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    project = await make_project(client, world, coop)
    team = project["responsibilities"][2]["team_id"]
    base = f"/desk/projects/{project['id']}"
    browser.login("manager", lang)
    page = (await browser.get(base)).text
    assert translate(lang, "projects.add_responsibility") in page
    assert f'value="team:{team}"' in page and f'value="unit:{coop.unit_a}"' in page

    late = local_input(world, timedelta(days=10))
    r = await browser.post(
        f"{base}/responsibilities", {"task": "Count the bags", "holder": f"team:{team}", "due_at": late}
    )
    assert r.status_code == 400
    assert list(field_errors(r.text)) == ["due_at-add"]
    r = await browser.post(f"{base}/responsibilities", {"task": "Count the bags", "holder": "team:x"})
    assert r.status_code == 400 and translate(lang, "form.invalid") in r.text
    r = await browser.post(
        f"{base}/responsibilities",
        {"task": "Count the bags", "holder": f"team:{team}", "due_at": local_input(world, timedelta(days=1))},
    )
    assert r.status_code == 303, r.text
    added = (await api_project(client, world, project["id"]))["responsibilities"][-1]
    assert (added["task"], added["team_id"]) == ("Count the bags", team)

    r = await browser.post(f"{base}/responsibilities/change", {"responsibility_id": str(added["id"])})
    assert r.status_code == 400 and translate(lang, "error.nothing_to_change") in r.text
    r = await browser.post(
        f"{base}/responsibilities/change",
        {"responsibility_id": str(added["id"]), "holder_change": f"unit:{coop.unit_b}"},
    )
    assert r.status_code == 303, r.text
    changed = (await api_project(client, world, project["id"]))["responsibilities"][-1]
    assert (changed["unit_id"], changed["team_id"], changed["assignee"]) == (
        coop.unit_b,
        None,
        "Sunny Property",
    )
    page = (await browser.get(base)).text
    assert translate(lang, "projects.action.reassign_responsibility") in page


@pytest.mark.parametrize("lang", LANGS)
async def test_a_project_with_nothing_to_do_closes_only_with_a_note_from_the_page(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    body = {
        "title": "Neighbours' tea",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=2)).isoformat(),
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    base = f"/desk/projects/{project['id']}"
    browser.login("manager", lang)
    assert translate(lang, "projects.close_note_hint") in (await browser.get(base)).text
    r = await browser.post(f"{base}/close", {"note": ""})
    assert r.status_code == 409 and translate(lang, "error.close_note_required") in r.text
    assert (await api_project(client, world, project["id"]))["status"] == "active"
    r = await browser.post(f"{base}/close", {"note": "Forty neighbours came"})
    assert r.status_code == 303, r.text
    page = (await browser.get(base)).text
    assert "Forty neighbours came" in page and translate(lang, "project_status.completed") in page


async def test_the_summary_names_what_was_missing(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await activate(client, world, await make_project(client, world, coop))
    browser.login("manager", "en")
    r = await browser.post(f"/desk/projects/{project['id']}/close")
    assert r.status_code == 303, r.text
    page = (await browser.get(r.headers["location"])).text
    missing = page.split('id="missing"')[1].split("</ul>")[0]
    assert "District Hospital · Rice: 0 of 60 delivered" in missing
    assert "“Keep the list” not done" in missing
    assert translate("en", "projects.need_outcomes") in page


@pytest.mark.parametrize("lang", LANGS)
async def test_the_desk_overview_lists_overdue_responsibilities_in_the_area(
    browser: Browser, client: AsyncTestClient, world: World, clock: FrozenClock, lang: str
) -> None:
    body = {
        "title": "Street fair",
        "community_id": world.areas["c1"].id,
        "deadline": (world.now + timedelta(days=5)).isoformat(),
        "responsibilities": [
            {
                "task": "Book the stage",
                "user_id": world.id("volunteer"),
                "due_at": (world.now + timedelta(days=1)).isoformat(),
            },
            {"task": "Sweep up", "user_id": world.id("volunteer")},
        ],
    }
    project = ok(await client.post("/api/projects", json=body, headers=world.auth("manager")))
    browser.login("manager", lang)
    assert 'id="tile-overdue_responsibilities" data-count="0"' in (await browser.get("/desk")).text
    clock.advance(timedelta(days=2))
    # A sign-in of the new day: the first one's session has run out.
    browser.login("manager", lang)
    html = (await browser.get("/desk")).text
    assert 'id="tile-overdue_responsibilities" data-count="1"' in html
    section = html.split('id="overdue-responsibilities"')[1].split("</section>")[0]
    assert "Book the stage" in section and "Sweep up" not in section
    assert f'href="/desk/projects/{project["id"]}#responsibilities"' in section
    browser.login("manager_c2", lang)
    assert 'id="tile-overdue_responsibilities" data-count="0"' in (await browser.get("/desk")).text


@pytest.mark.parametrize("lang", LANGS)
async def test_a_units_admins_mark_their_units_responsibility_done_from_their_page(
    browser: Browser, client: AsyncTestClient, world: World, coop: Coop, lang: str
) -> None:
    project = await make_project(client, world, coop)
    task = project["responsibilities"][0]  # "Deliver the rice", the hospital's
    action = f"/desk/unit/projects/{project['id']}/responsibilities/{task['id']}/done"
    browser.login("unit_admin_b", lang)
    assert action not in (await browser.get("/desk/unit/commitments")).text
    r = await browser.post(action)
    assert r.status_code == 403 and translate(lang, "error.not_responsible") in r.text
    browser.login("unit_admin", lang)
    page = (await browser.get("/desk/unit/commitments")).text
    assert translate(lang, "unit.responsibilities") in page and action in page
    r = await browser.post(action)
    assert r.status_code == 303, r.text
    assert (await api_project(client, world, project["id"]))["responsibilities"][0]["done_by_id"] == world.id(
        "unit_admin"
    )
    assert action not in (await browser.get("/desk/unit/commitments")).text

"""双报到: party members report in to their home community naming their employer; its managers
confirm them, write each member's year (comment and grade), and hand out a letter per member to
the employer and commendation letters above the community's threshold of hours."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area
from market.auth.access import Actor
from market.auth.models import User
from market.party.letters import commendation_letters, employer_letters
from market.party.service import year_of
from market.projects.models import Participant, Project, ProjectStatus
from market.web.i18n import translate
from tests.pdf_support import pdf_page_images, pdf_text
from tests.test_authorization import assert_problem, call, ok
from tests.test_notifications import told
from tests.world import World

# Three members of community 1 with their Chinese names and employers (an organisation each).
MEMBERS = {
    "resident": ("张伟", "北京市第一中学"),
    "resident_b": ("李娜", "朝阳区税务局"),
    "volunteer": ("王芳", "阳光物业公司"),
}


def organisation(employer: str) -> dict[str, str]:
    return {"employer_name": employer, "contact_name": "刘主任", "contact_phone": "13912345678"}


async def chinese_names(session_maker: async_sessionmaker[AsyncSession], world: World) -> None:
    async with session_maker() as session, session.begin():
        for key, (name, _) in MEMBERS.items():
            await session.execute(update(User).where(User.id == world.id(key)).values(name=name))


async def confirmed_members(client: AsyncTestClient, world: World) -> dict[str, int]:
    ids = {}
    for key, (_, employer) in MEMBERS.items():
        member = await ok(client, world, key, "POST", "/api/party/report", organisation(employer))
        assert member["status"] == "pending"
        decided = await ok(
            client, world, "manager", "POST", f"/api/party/members/{member['id']}/decision", {"confirm": True}
        )
        assert decided["status"] == "confirmed"
        ids[key] = member["id"]
    return ids


async def project_hours(
    session_maker: async_sessionmaker[AsyncSession], world: World, hours: dict[str, int]
) -> None:
    """A closed project in community 1 with these tenths of an hour recorded per person."""
    now = world.clock()
    async with session_maker() as session, session.begin():
        project = Project(
            title="清洁家园",
            community_id=world.areas["c1"].id,
            community_code=world.areas["c1"].code,
            status=ProjectStatus.completed,
            start_at=now - timedelta(hours=5),
            deadline=now - timedelta(hours=1),
            created_by_id=world.id("manager"),
            created_at=now,
            updated_at=now,
            closed_at=now,
        )
        session.add(project)
        await session.flush()
        for key, tenths in hours.items():
            session.add(
                Participant(
                    project_id=project.id,
                    user_id=world.id(key),
                    tenths=tenths,
                    added_by_id=world.id("manager"),
                    added_at=now,
                )
            )


def year(world: World) -> int:
    return world.clock().astimezone(world.settings.tz).year


async def test_a_member_reports_in_and_the_community_confirms(client: AsyncTestClient, world: World) -> None:
    member = await ok(client, world, "resident", "POST", "/api/party/report", organisation("北京市第一中学"))
    assert (member["community_id"], member["employer"], member["status"]) == (
        world.areas["c1"].id,
        "北京市第一中学",
        "pending",
    )
    r = await call(client, world, "resident", "POST", "/api/party/report", organisation("别的单位"))
    assert_problem(r, 409, {"already_reported"})

    r = await call(
        client, world, "manager", "POST", f"/api/party/members/{member['id']}/decision", {"confirm": False}
    )
    assert_problem(r, 422, {"decline_reason_required"})
    declined = await ok(
        client,
        world,
        "manager",
        "POST",
        f"/api/party/members/{member['id']}/decision",
        {"confirm": False, "reason": "单位名称不全"},
    )
    assert declined["status"] == "declined"
    again = await ok(
        client, world, "resident", "POST", "/api/party/report", organisation("北京市第一中学高中部")
    )
    assert (again["id"], again["status"], again["decline_reason"]) == (member["id"], "pending", "")

    page = await ok(
        client, world, "manager", "GET", f"/api/party/members?community_id={world.areas['c1'].id}"
    )
    assert [m["employer"] for m in page["items"]] == ["北京市第一中学高中部"]
    await ok(
        client, world, "manager", "POST", f"/api/party/members/{member['id']}/decision", {"confirm": True}
    )

    # Each report tells the community's managers, each decision the member.
    c1 = world.areas["c1"]
    pending = {"community": c1.name, "community_id": c1.id, "name": "Resident"}
    reports = await told(client, world, "manager", "party_report_pending")
    assert [(n["params"], n["subject_type"], n["subject_id"]) for n in reports] == [
        (pending, "party_member", member["id"])
    ] * 2
    decisions = ("party_report_confirmed", "party_report_declined")
    assert [(n["code"], n["params"]) for n in await told(client, world, "resident", *decisions)] == [
        ("party_report_declined", {"community": c1.name, "reason": "单位名称不全"}),
        ("party_report_confirmed", {"community": c1.name}),
    ]
    # Nobody else: not another community's manager, nor the street while the community has managers.
    for who in ("manager_c2", "street_admin", "grid_worker", "resident_b"):
        assert await told(client, world, who, "party_report_pending", *decisions) == [], who
    r = await call(
        client, world, "manager_c2", "GET", f"/api/party/members?community_id={world.areas['c1'].id}"
    )
    assert_problem(r, 403, {"manager_required", "outside_your_area"})


async def test_an_employer_is_a_unit_or_an_organisation_with_a_contact(
    client: AsyncTestClient, world: World
) -> None:
    r = await call(client, world, "resident", "POST", "/api/party/report", {"employer_name": "某公司"})
    assert_problem(r, 422, {"employer_required"})
    r = await call(client, world, "resident", "POST", "/api/party/report", {"unit_id": 999999})
    assert_problem(r, 404, {"unit_not_found"})
    r = await call(client, world, "manager", "POST", "/api/party/report", organisation("某公司"))
    assert_problem(r, 403, {"role_required"})
    assert await ok(client, world, "resident", "GET", "/api/party/report") is None


async def test_a_letter_per_member_of_the_year_names_the_member_and_employer(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await chinese_names(session_maker, world)
    ids = await confirmed_members(client, world)
    for key, grade in zip(MEMBERS, ("excellent", "qualified", "basically_qualified"), strict=True):
        await ok(
            client,
            world,
            "manager",
            "PUT",
            f"/api/party/members/{ids[key]}/evaluations/{year(world)}",
            {"grade": grade, "comment": "积极参加社区服务"},
        )

    async with session_maker() as session:
        manager = await _actor(session, world, "manager")
        found = await year_of(session, manager, world.areas["c1"].id, year(world), world.settings.tz)
    letters = employer_letters(partial(translate, "zh"), found, world.clock(), "2026年3月12日")

    assert len(pdf_page_images(letters)) == len(MEMBERS)
    pages = pdf_text(letters).split("\f")
    for name, employer in MEMBERS.values():
        (page,) = [p for p in pages if name in p]
        assert employer in page and "在职党员" in page


async def test_only_members_above_the_threshold_are_commended(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await chinese_names(session_maker, world)
    await confirmed_members(client, world)
    # 2.5 hours is above a threshold of 2; exactly 2 is not.
    await project_hours(session_maker, world, {"resident": 25, "resident_b": 20})
    await ok(client, world, "manager", "PUT", f"/api/party/thresholds/{world.areas['c1'].id}", {"hours": 2})

    found = await ok(
        client, world, "manager", "GET", f"/api/party/years/{year(world)}?community_id={world.areas['c1'].id}"
    )
    assert {r["member"]["name"]: (r["activity"]["hours"], r["commended"]) for r in found["rows"]} == {
        "张伟": (2.5, True),
        "李娜": (2.0, False),
        "王芳": (0.0, False),
    }
    async with session_maker() as session:
        manager = await _actor(session, world, "manager")
        year_read = await year_of(session, manager, world.areas["c1"].id, year(world), world.settings.tz)
    letters = commendation_letters(partial(translate, "zh"), year_read, world.clock(), "2026年3月12日")
    assert len(pdf_page_images(letters)) == 1
    text = pdf_text(letters)
    assert "表扬信" in text and "张伟" in text and "北京市第一中学" in text
    assert "李娜" not in text and "王芳" not in text


async def test_evaluating_needs_a_confirmed_member_of_your_community(
    client: AsyncTestClient, world: World
) -> None:
    member = await ok(client, world, "resident", "POST", "/api/party/report", organisation("某公司"))
    path = f"/api/party/members/{member['id']}/evaluations/{year(world)}"
    body = {"grade": "qualified", "comment": "好"}
    assert_problem(
        await call(client, world, "manager", "PUT", path, body), 409, {"party_member_not_confirmed"}
    )
    assert_problem(
        await call(client, world, "manager_c2", "PUT", path, body), 404, {"party_member_not_found"}
    )
    assert_problem(await call(client, world, "resident", "PUT", path, body), 404, {"party_member_not_found"})


async def _actor(session: AsyncSession, world: World, key: str) -> Actor:
    user = world.users[key]
    home = await session.get(Area, user.area_id)
    return Actor(
        id=user.id,
        name=user.name,
        roles=frozenset(r.role for r in user.role_rows),
        area_id=user.area_id,
        area_code=home.code,
    )

"""Certificates (志愿服务证明): a volunteer requests one, the community that recorded the service
issues it under a number gap-free per community and year (also when two are issued at once), as a
PDF in the embedded Chinese font with a QR code to a public page that shows only the number, the
masked name, the hours, the issuer and whether it stands; revoked, it says so and why. The honour
roll (光荣榜) leaves off whoever opted out."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area
from market.auth.models import User
from market.clock import FrozenClock
from market.records.models import Certificate, CertificateStatus
from market.web.i18n import translate
from tests.conftest import another_client
from tests.pdf_support import pdf_page_images, pdf_text
from tests.records_support import closed_project
from tests.test_authorization import assert_problem
from tests.test_notifications import told
from tests.test_records import served_order
from tests.world import World

HOUR = timedelta(hours=1)
ISSUER = "幸福里社区"


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def chinese_community(session_maker: async_sessionmaker[AsyncSession], world: World) -> None:
    async with session_maker() as session, session.begin():
        await session.execute(update(Area).where(Area.id == world.areas["c1"].id).values(name=ISSUER))


async def set_issuer(client: AsyncTestClient, world: World) -> None:
    r = await client.put(
        f"/api/certificates/issuers/{world.areas['c1'].id}",
        json={"responsible_person": "王主任", "contact": "010-6500 1234"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text


def period(clock: FrozenClock, world: World) -> dict[str, Any]:
    today = clock().astimezone(world.settings.tz).date()
    return {
        "community_id": world.areas["c1"].id,
        "period_start": (today - timedelta(days=30)).isoformat(),
        "period_end": today.isoformat(),
    }


async def request(client: AsyncTestClient, world: World, clock: FrozenClock, who: str = "volunteer") -> int:
    r = await client.post("/api/certificates", json=period(clock, world), headers=world.auth(who))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "requested" and r.json()["number"] is None
    return r.json()["id"]


async def issued(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> dict[str, Any]:
    await served_order(client, world, clock)
    clock.now += 24 * HOUR
    await set_issuer(client, world)
    certificate = await request(client, world, clock)
    r = await client.post(f"/api/certificates/{certificate}/issue", headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    return r.json()


def number_of(world: World, clock: FrozenClock, serial: int) -> str:
    return f"{world.areas['c1'].code}-{clock().astimezone(world.settings.tz).year}-{serial:04d}"


async def test_a_requested_certificate_is_issued_numbered_with_its_services_and_issuer(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await served_order(client, world, clock)
    await closed_project(session_maker, world, "volunteer", 15, clock() - 24 * HOUR)
    clock.now += 24 * HOUR
    # Nothing recorded for volunteer_b: nothing to certify.
    r = await client.post("/api/certificates", json=period(clock, world), headers=world.auth("volunteer_b"))
    assert_problem(r, 422, {"no_service_in_period"})
    today = clock().astimezone(world.settings.tz).date()
    backwards = period(clock, world) | {"period_end": (today - timedelta(days=31)).isoformat()}
    r = await client.post("/api/certificates", json=backwards, headers=world.auth("volunteer"))
    assert_problem(r, 422, {"period_order"})
    ahead = period(clock, world) | {"period_end": (today + timedelta(days=1)).isoformat()}
    r = await client.post("/api/certificates", json=ahead, headers=world.auth("volunteer"))
    assert_problem(r, 422, {"period_in_future"})
    certificate = await request(client, world, clock)
    r = await client.post("/api/certificates", json=period(clock, world), headers=world.auth("volunteer"))
    assert_problem(r, 409, {"certificate_already_requested"})

    # The community names its responsible person and contact before it issues anything.
    r = await client.post(f"/api/certificates/{certificate}/issue", headers=world.auth("manager"))
    assert_problem(r, 422, {"issuer_not_set"})
    await set_issuer(client, world)
    for who, status, codes in (
        ("manager_c2", 403, {"outside_your_area"}),
        ("grid_worker", 403, {"role_required"}),
        ("volunteer", 403, {"role_required"}),
    ):
        r = await client.post(f"/api/certificates/{certificate}/issue", headers=world.auth(who))
        assert_problem(r, status, codes)
    r = await client.post(f"/api/certificates/{certificate}/issue", headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "issued" and body["number"] == number_of(world, clock, 1)
    assert body["total_hours"] == 3.5 and sorted(s["hours"] for s in body["services"]) == [1.5, 2.0]
    assert (body["issuer_name"], body["responsible_person"], body["contact"], body["handler_name"]) == (
        "Community 1",
        "王主任",
        "010-6500 1234",
        "Manager",
    )
    r = await client.post(f"/api/certificates/{certificate}/issue", headers=world.auth("manager"))
    assert_problem(r, 409, {"illegal_transition"})

    # The next one of the community and year takes the next number.
    await served_order(client, world, clock)
    clock.now += 24 * HOUR
    second = await request(client, world, clock)
    r = await client.post(f"/api/certificates/{second}/issue", headers=world.auth("street_admin"))
    assert r.json()["number"] == number_of(world, clock, 2)


async def test_a_request_is_refused_with_a_reason(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    await served_order(client, world, clock)
    clock.now += 24 * HOUR
    certificate = await request(client, world, clock)
    path = f"/api/certificates/{certificate}/refuse"
    assert_problem(await client.post(path, json={"reason": "nope"}, headers=world.auth("manager")), 400)
    r = await client.post(path, json={"reason": "record_under_review"}, headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["status"] == "refused" and r.json()["number"] is None
    mine = (await client.get("/api/certificates/mine", headers=world.auth("volunteer"))).json()
    assert [(c["status"], c["reason"]) for c in mine] == [("refused", "record_under_review")]
    (refused,) = await told(client, world, "volunteer", "certificate_refused")
    assert (refused["params"], refused["subject_type"], refused["subject_id"]) == (
        {"community": "Community 1", "refusal_reason": "record_under_review"},
        "certificate",
        certificate,
    )


async def test_the_pdf_prints_the_chinese_issuer_and_the_number_and_renders(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await chinese_community(session_maker, world)
    certificate = await issued(client, world, clock, session_maker)
    r = await client.get(f"/api/certificates/{certificate['id']}/pdf", headers=world.auth("volunteer"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    for expected in (ISSUER, certificate["number"], "志愿服务证明", "王主任", "Volunteer", "扫码核验"):
        assert expected in text, expected
    (page,) = pdf_page_images(r.content)
    darkest, _ = Image.open(io.BytesIO(page)).convert("L").getextrema()
    assert darkest < 100


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("volunteer", 200),
        ("manager", 200),
        ("street_admin", 200),
        ("admin", 200),
        ("manager_c2", 404),
        ("grid_worker", 404),
        ("volunteer_b", 404),
        ("resident", 404),
    ],
)
async def test_the_certificate_is_downloaded_by_its_volunteer_and_the_issuing_communitys_managers(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    who: str,
    status: int,
) -> None:
    certificate = await issued(client, world, clock, session_maker)
    for path in (f"/api/certificates/{certificate['id']}", f"/api/certificates/{certificate['id']}/pdf"):
        r = await client.get(path, headers=world.auth(who))
        if status == 200:
            assert r.status_code == 200, r.text
        else:
            assert_problem(r, status, {"certificate_not_found"})


async def test_verification_shows_only_the_number_masked_name_hours_issuer_and_validity(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    certificate = await issued(client, world, clock, session_maker)
    anonymous = another_client(client)
    page = await anonymous.get(certificate["verify_path"])
    assert page.status_code == 200, page.text
    html = page.text
    assert certificate["number"] in html and "V********" in html and "Community 1" in html
    assert 'data-valid="true"' in html and translate("zh", "verify.valid") in html
    # Nothing else: not the name, the phone, the services, the responsible person or contact.
    phone = world.users["volunteer"].phone
    for hidden in (
        "Volunteer",
        phone,
        phone[:7],
        "王主任",
        "010-6500",
        certificate["services"][0]["place"],
    ):
        assert hidden not in html, hidden
    # The number is not the key: a guessed token finds nothing.
    assert (await anonymous.get("/verify/" + certificate["number"])).status_code == 404
    assert (await anonymous.get("/verify/not-a-token")).status_code == 404

    path = f"/api/certificates/{certificate['id']}/revoke"
    assert_problem(await client.post(path, json={"reason": "misuse"}, headers=world.auth("manager_c2")), 403)
    r = await client.post(path, json={"reason": "misuse", "memo": "内部备注"}, headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert_problem(await client.post(path, json={"reason": "misuse"}, headers=world.auth("manager")), 409)
    for lang in ("zh", "en"):
        anonymous.cookies.set("lang", lang)
        html = (await anonymous.get(certificate["verify_path"])).text
        assert 'data-valid="false"' in html
        reason = translate(lang, "revocation_reason.misuse")
        assert translate(lang, "verify.revoked", reason=reason) in html
        assert "内部备注" not in html, "the memo stays with the community"


async def test_two_certificates_issued_at_once_get_different_consecutive_numbers(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    await set_issuer(client, world)
    requests = []
    for volunteer in ("volunteer", "volunteer_b", "volunteer_c"):
        await closed_project(session_maker, world, volunteer, 10, clock() - 24 * HOUR)
        requests.append(await request(client, world, clock, volunteer))
    responses = await asyncio.gather(
        *(racing.post(f"/api/certificates/{c}/issue", headers=world.auth("manager")) for c in requests)
    )
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    numbers = sorted(r.json()["number"] for r in responses)
    assert numbers == [number_of(world, clock, serial) for serial in (1, 2, 3)]


ROUNDS = 3
AT_ONCE = 6


async def test_requests_sent_at_once_make_one_waiting_request(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    """The same volunteer asking the same community several times at once: one request waits, the
    others are told so (409, not a 500); on PostgreSQL only the index stops the second insert."""
    await closed_project(session_maker, world, "volunteer", 10, clock() - 24 * HOUR)
    for _ in range(ROUNDS):
        responses = await asyncio.gather(
            *(
                racing.post("/api/certificates", json=period(clock, world), headers=world.auth("volunteer"))
                for _ in range(AT_ONCE)
            )
        )
        assert sorted(r.status_code for r in responses) == [201] + [409] * (AT_ONCE - 1), [
            r.text for r in responses
        ]
        for r in responses:
            if r.status_code == 409:
                assert_problem(r, 409, {"certificate_already_requested"})
        async with session_maker() as session:
            waiting = (
                await session.scalars(
                    select(Certificate.id).where(
                        Certificate.volunteer_id == world.id("volunteer"),
                        Certificate.status == CertificateStatus.requested,
                    )
                )
            ).all()
        assert waiting == [next(r.json()["id"] for r in responses if r.status_code == 201)]
        # Once it is decided the volunteer may ask again.
        r = await client.post(
            f"/api/certificates/{waiting[0]}/refuse", json={"reason": "other"}, headers=world.auth("manager")
        )
        assert r.status_code == 200, r.text


async def test_the_honour_roll_ranks_the_months_volunteers_and_leaves_off_who_opted_out(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await served_order(client, world, clock, rating=4)
    await closed_project(session_maker, world, "volunteer_b", 50, clock())
    month = clock().astimezone(world.settings.tz).strftime("%Y-%m")
    path = f"/api/records/honour-roll/{world.areas['c1'].id}"

    async def roll(who: str = "manager") -> dict[str, Any]:
        r = await client.get(path, params={"month": month}, headers=world.auth(who))
        assert r.status_code == 200, r.text
        return r.json()

    shown = await roll()
    assert [(r["name"], r["hours"]) for r in shown["by_hours"]] == [("Volunteer B", 5.0), ("Volunteer", 2.0)]
    assert [(r["name"], r["rating"]) for r in shown["by_rating"]] == [("Volunteer", 4.0)]
    assert_problem(await client.get(path, params={"month": month}, headers=world.auth("manager_c2")), 403)

    r = await client.put(
        "/api/records/me/honour-roll", json={"opt_out": True}, headers=world.auth("volunteer_b")
    )
    assert r.status_code == 200 and r.json() == {"opt_out": True}
    assert [r["name"] for r in (await roll("grid_worker"))["by_hours"]] == ["Volunteer"]
    await client.put(
        "/api/records/me/honour-roll", json={"opt_out": False}, headers=world.auth("volunteer_b")
    )
    assert [r["name"] for r in (await roll())["by_hours"]] == ["Volunteer B", "Volunteer"]


async def test_the_communitys_managers_hear_of_a_request_and_the_volunteer_of_each_decision(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    certificate = await issued(client, world, clock, session_maker)
    (asked,) = await told(client, world, "manager", "certificate_requested")
    assert (asked["params"], asked["subject_type"], asked["subject_id"]) == (
        {"community": "Community 1", "name": "Volunteer"},
        "certificate",
        certificate["id"],
    )
    # Only the community's own managers: not another community's, nor the street while it has some.
    for who in ("manager_c2", "street_admin", "admin", "grid_worker", "volunteer"):
        assert await told(client, world, who, "certificate_requested") == [], who

    path = f"/api/certificates/{certificate['id']}/revoke"
    r = await client.post(path, json={"reason": "issued_in_error"}, headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    decisions = ("certificate_issued", "certificate_refused", "certificate_revoked")
    assert [(n["code"], n["params"]) for n in await told(client, world, "volunteer", *decisions)] == [
        ("certificate_issued", {"community": "Community 1", "number": certificate["number"]}),
        (
            "certificate_revoked",
            {
                "community": "Community 1",
                "number": certificate["number"],
                "revocation_reason": "issued_in_error",
            },
        ),
    ]
    for who in ("volunteer_b", "manager", "manager_c2"):
        assert await told(client, world, who, *decisions) == [], who


async def test_a_community_without_managers_sends_requests_to_its_streets_admins(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """As a volunteer's application does: the rule of who decides a community's matters is one."""
    await served_order(client, world, clock)
    clock.now += 24 * HOUR
    async with session_maker() as session, session.begin():
        await session.execute(update(User).where(User.id == world.id("manager")).values(is_active=False))
    certificate = await request(client, world, clock)
    (asked,) = await told(client, world, "street_admin", "certificate_requested")
    assert asked["subject_id"] == certificate
    assert await told(client, world, "manager_c2", "certificate_requested") == []

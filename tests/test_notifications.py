"""Inboxes: flows write messages in their own transaction; each person reads only their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.notifications.models import Notification, NotificationCode
from market.notifications.schemas import NotificationRead
from market.orders.service import auto_confirm_orders, escalate_orders, expire_orders
from market.settings import Settings
from market.web.i18n import LANGS, translate
from market.web.notifications import MOMENTS, WORDS, message_link, message_text
from tests.world import World

MOMENT = "2026-06-15T02:00:00+00:00"
# Values of each code's params as the flows store them: a code without an entry fails the test below.
SAMPLES: dict[NotificationCode, dict[str, Any]] = {
    NotificationCode.earlier_message: {"title": "Order 3 is late", "body": "escort"},
    NotificationCode.order_entered: {"order_id": 3, "name": "Grid Worker", "channel": "phone"},
    NotificationCode.order_dispatched: {"order_id": 3},
    NotificationCode.order_accepted: {"order_id": 3, "volunteer": "V********"},
    NotificationCode.order_checked_in: {"order_id": 3},
    NotificationCode.order_completed: {"order_id": 3},
    NotificationCode.order_auto_confirmed: {"order_id": 3, "days": 7},
    NotificationCode.order_cancelled: {"order_id": 3, "reason": "rain"},
    NotificationCode.order_rejected: {"order_id": 3, "reason": "rain"},
    NotificationCode.order_expired: {"order_id": 3, "reason_code": "window_ended"},
    NotificationCode.order_escalated: {"order_id": 3, "level": "grid"},
    NotificationCode.offer: {"order_id": 3, "answer_by": MOMENT},
    NotificationCode.task_cancelled: {"order_id": 3, "reason": "rain"},
    NotificationCode.escalation: {"order_id": 3, "level": "street", "late": "not_completed", "minutes": 4320},
    NotificationCode.order_hurried: {"order_id": 3},
    NotificationCode.order_reopened: {"order_id": 3, "reason": "leaks again"},
    NotificationCode.followup_due: {"order_id": 3, "followup_reason": "low_rating", "due_at": MOMENT},
    NotificationCode.approval_pending: {"application_kind": "resident", "name": "Newcomer"},
    NotificationCode.signup_approved: {},
    NotificationCode.signup_refused: {},
    NotificationCode.volunteer_approved: {},
    NotificationCode.volunteer_refused: {},
    NotificationCode.team_joined: {"team": "Menders"},
    NotificationCode.commitment_to_confirm: {
        "project": "Rice", "quantity": 5, "measure": "kg", "resource": "rice",
    },
    NotificationCode.project_active: {"project": "Rice", "deadline": MOMENT},
    NotificationCode.project_joined: {"project": "Rice"},
    NotificationCode.project_cancelled: {"project": "Rice", "reason": "rain"},
    NotificationCode.project_closed: {"project": "Rice", "outcome": "completed"},
    NotificationCode.project_closing: {"project": "Rice", "deadline": MOMENT, "undelivered": 2},
    NotificationCode.redemption_ready: {
        "reward": "Soap", "pickup_code": "123456", "place": "Hall", "pickup_by": MOMENT,
    },
    NotificationCode.pickup_codes_guessed: {"name": "Grid Worker"},
    NotificationCode.responsibility_assigned: {"project": "Fair", "task": "Book the stage", "due_at": MOMENT},
    NotificationCode.responsibility_overdue: {
        "project": "Fair", "task": "Book the stage", "due_at": MOMENT, "level": "community"
    },
    NotificationCode.shift_promoted: {"shift": "Stalls", "project": "Fair", "starts_at": MOMENT},
    NotificationCode.shift_cancelled: {
        "shift": "Stalls",
        "project": "Fair",
        "starts_at": MOMENT,
        "reason_code": "weather",
    },
    NotificationCode.proposal_approved: {"title": "Benches"},
    NotificationCode.proposal_rejected: {"title": "Benches", "reject_reason": "duplicate"},
    NotificationCode.wish_confirmed: {"wish": "Glasses", "points": 20},
    NotificationCode.wish_withdrawn: {"wish": "Glasses"},
    NotificationCode.wish_claimed: {"wish": "Glasses", "name": "Volunteer"},
    NotificationCode.wish_released: {"wish": "Glasses"},
    NotificationCode.wish_fulfilled: {"wish": "Glasses"},
    NotificationCode.wish_expired: {"wish": "Glasses"},
    NotificationCode.certificate_requested: {"community": "Community 1", "name": "Volunteer"},
    NotificationCode.certificate_issued: {"community": "Community 1", "number": "C1-2026-0001"},
    NotificationCode.certificate_refused: {"community": "Community 1", "refusal_reason": "no_service"},
    NotificationCode.certificate_revoked: {
        "community": "Community 1", "number": "C1-2026-0001", "revocation_reason": "misuse",
    },
    NotificationCode.service_record_corrected: {
        "community": "Community 1", "what": "陪同就医", "served_at": MOMENT, "was": 2.0, "hours": 1.5,
        "correction_reason": "wrong_hours",
    },
    NotificationCode.party_report_pending: {"community": "Community 1", "community_id": 7, "name": "张伟"},
    NotificationCode.party_report_confirmed: {"community": "Community 1"},
    NotificationCode.party_report_declined: {"community": "Community 1", "reason": "单位名称不全"},
}  # fmt: skip


def _message(code: NotificationCode, params: dict[str, Any]) -> NotificationRead:
    moment = datetime.fromisoformat(MOMENT)
    return NotificationRead(1, code, params, "order", 3, moment, None)


@pytest.mark.parametrize("code", list(NotificationCode))
def test_every_code_reads_in_both_languages(code: NotificationCode) -> None:
    texts = {
        lang: message_text(
            lang, lambda m: m.astimezone(UTC).strftime("%m-%d %H:%M"), _message(code, SAMPLES[code])
        )
        for lang in LANGS
    }
    assert all(texts.values()) and "{" not in "".join(texts.values()), texts
    for name, value in SAMPLES[code].items():
        if name in MOMENTS:
            assert all("06-15 02:00" in t for t in texts.values()), texts
        elif isinstance(value, str) and name not in WORDS:
            assert all(value in t for t in texts.values()), (name, texts)
    assert texts["zh"] != texts["en"], "each language has its own text"


def test_codes_read_as_words_and_spans_in_the_reader_s_language() -> None:
    message = _message(NotificationCode.escalation, SAMPLES[NotificationCode.escalation])
    assert message_text("zh", str, message) == "点单 #3 超时上报街道：发布后未完成（3 天）。"
    assert (
        message_text("en", str, message)
        == "Order #3 escalated to the street: not completed after posting (3 days)."
    )
    expired = _message(NotificationCode.order_expired, SAMPLES[NotificationCode.order_expired])
    assert translate("en", "notification_reason.window_ended") in message_text("en", str, expired)
    assert message_link(expired) == "/r/orders/3"
    assert message_link(message) == "/desk/dispatch/orders/3"
    revoked = _message(NotificationCode.certificate_revoked, SAMPLES[NotificationCode.certificate_revoked])
    assert translate("zh", "revocation_reason.misuse") in message_text("zh", str, revoked)
    assert message_link(revoked) == "/v/record"
    # A link may name the message's params: the desk opens the community the member reported to.
    pending = _message(NotificationCode.party_report_pending, SAMPLES[NotificationCode.party_report_pending])
    assert message_link(pending) == "/desk/party?community_id=7&status=pending"
    # One stored without a param its link needs leads nowhere, rather than break every page's bell.
    without = {k: v for k, v in SAMPLES[NotificationCode.party_report_pending].items() if k != "community_id"}
    assert message_link(_message(NotificationCode.party_report_pending, without)) is None


async def _offer(client: AsyncTestClient, world: World) -> int:
    r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    order_id = r.json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer"), world.id("volunteer_b")], "mode": "pool"},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    return order_id


async def test_an_offer_lands_in_each_offered_volunteers_inbox(client: AsyncTestClient, world: World) -> None:
    order_id = await _offer(client, world)
    for volunteer in ("volunteer", "volunteer_b"):
        inbox = (await client.get("/api/notifications", headers=world.auth(volunteer))).json()
        assert inbox["unread"] == 1 and inbox["total"] == 1
        (message,) = inbox["items"]
        assert (message["code"], message["subject_type"], message["subject_id"]) == (
            "offer",
            "order",
            order_id,
        )
        assert message["read_at"] is None
    assert (await client.get("/api/notifications", headers=world.auth("volunteer_c"))).json()["total"] == 0


async def test_marking_read_one_or_all(client: AsyncTestClient, world: World) -> None:
    await _offer(client, world)
    await _offer(client, world)
    inbox = (await client.get("/api/notifications", headers=world.auth("volunteer"))).json()
    first, second = inbox["items"]
    assert first["id"] > second["id"]  # newest first

    r = await client.post(f"/api/notifications/{second['id']}/read", headers=world.auth("volunteer_b"))
    assert r.status_code == 404 and r.json()["code"] == "notification_not_found"  # not theirs
    r = await client.post(f"/api/notifications/{second['id']}/read", headers=world.auth("volunteer"))
    assert r.status_code == 200 and r.json()["read_at"] is not None
    again = await client.post(f"/api/notifications/{second['id']}/read", headers=world.auth("volunteer"))
    assert again.json()["read_at"] == r.json()["read_at"]  # reading twice keeps the first time

    unread = (await client.get("/api/notifications?unread=true", headers=world.auth("volunteer"))).json()
    assert [m["id"] for m in unread["items"]] == [first["id"]] and unread["unread"] == 1
    r = await client.post("/api/notifications/read-all", headers=world.auth("volunteer"))
    assert r.json() == {"marked": 1}
    assert (await client.get("/api/notifications", headers=world.auth("volunteer"))).json()["unread"] == 0
    assert (await client.get("/api/notifications", headers=world.auth("volunteer_b"))).json()["unread"] == 2


async def test_the_inbox_needs_a_login_and_valid_paging(client: AsyncTestClient, world: World) -> None:
    assert (await client.get("/api/notifications")).status_code == 401
    r = await client.get("/api/notifications?limit=0", headers=world.auth("resident"))
    assert r.status_code == 400 and r.json()["code"] == "invalid_input"


# ---------------------------------------------------------------- each step of a resident's order


async def _inbox(client: AsyncTestClient, world: World, who: str) -> list[dict[str, Any]]:
    r = await client.get("/api/notifications?limit=100", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()["items"][::-1]  # oldest first


async def told(client: AsyncTestClient, world: World, who: str, *codes: str) -> list[dict[str, Any]]:
    """The person's messages of these codes, oldest first."""
    return [n for n in await _inbox(client, world, who) if n["code"] in codes]


async def _post(client: AsyncTestClient, world: World, **overrides: Any) -> int:
    r = await client.post("/api/orders", json=world.order_body(**overrides), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _act(client: AsyncTestClient, world: World, who: str, path: str, body: Any = None) -> Any:
    r = await client.post(path, json=body, headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def _dispatch(client: AsyncTestClient, world: World, order_id: int) -> int:
    body = {"volunteer_ids": [world.id("volunteer")], "mode": "direct"}
    return (await _act(client, world, "grid_worker", f"/api/orders/{order_id}/dispatch", body))["offers"][-1][
        "id"
    ]


async def test_the_resident_is_told_each_step_up_to_the_automatic_confirmation(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    order_id = await _post(client, world)
    assert await _inbox(client, world, "resident") == [], "posting it themselves tells them nothing"
    offer_id = await _dispatch(client, world, order_id)
    await _act(client, world, "volunteer", f"/api/offers/{offer_id}/accept")
    await _act(client, world, "volunteer", f"/api/orders/{order_id}/check-in")
    clock.advance(timedelta(hours=1))
    await _act(client, world, "volunteer", f"/api/orders/{order_id}/check-out")
    await _act(client, world, "volunteer", f"/api/orders/{order_id}/complete", {"note": "done"})
    clock.advance(timedelta(days=settings.auto_confirm_days, minutes=1))
    async with session_maker() as session, session.begin():
        assert await auto_confirm_orders(session, clock(), settings.tz, settings.auto_confirm_days) == 1

    told = await _inbox(client, world, "resident")
    assert [(n["code"], n["params"]) for n in told] == [
        ("order_dispatched", {"order_id": order_id}),
        ("order_accepted", {"order_id": order_id, "volunteer": "V********"}),
        ("order_checked_in", {"order_id": order_id}),
        ("order_completed", {"order_id": order_id}),
        ("order_auto_confirmed", {"order_id": order_id, "days": settings.auto_confirm_days}),
    ]
    assert {(n["subject_type"], n["subject_id"]) for n in told} == {("order", order_id)}
    offered = [n for n in await _inbox(client, world, "volunteer") if n["code"] == "offer"]
    assert offered[0]["params"]["order_id"] == order_id and offered[0]["params"]["answer_by"]


async def test_an_accept_beyond_capacity_leaves_no_message_and_no_change(
    client: AsyncTestClient, world: World
) -> None:
    """The capacity is counted by the order's own UPDATE, which its event and the resident's message
    follow: a refused accept writes none of them."""
    offer_ids = {}
    for _ in range(2):  # volunteer_b has capacity 1
        order_id = await _post(client, world)
        body = {"volunteer_ids": [world.id("volunteer_b")], "mode": "direct"}
        r = await _act(client, world, "grid_worker", f"/api/orders/{order_id}/dispatch", body)
        offer_ids[order_id] = r["offers"][-1]["id"]
    (held, refused), (held_offer, refused_offer) = offer_ids, offer_ids.values()
    await _act(client, world, "volunteer_b", f"/api/offers/{held_offer}/accept")

    r = await client.post(f"/api/offers/{refused_offer}/accept", headers=world.auth("volunteer_b"))

    assert (r.status_code, r.json()["code"]) == (409, "at_capacity")
    accepted = await told(client, world, "resident", "order_accepted")
    assert [n["params"]["order_id"] for n in accepted] == [held]
    order = (await client.get(f"/api/orders/{refused}", headers=world.auth("resident"))).json()
    assert (order["status"], order["volunteer"]) == ("dispatched", None)
    assert [e["action"] for e in order["events"]] == ["post", "dispatch"]
    r = await client.get("/api/offers?status=pending", headers=world.auth("volunteer_b"))
    assert [o["id"] for o in r.json()["items"]] == [refused_offer]


async def test_a_claim_from_the_board_tells_the_resident_too(client: AsyncTestClient, world: World) -> None:
    r = await client.put(
        f"/api/dispatch/board/{world.areas['c1'].id}", json={"mode": "at_once"}, headers=world.auth("manager")
    )
    assert r.status_code == 200, r.text
    order_id = await _post(client, world)
    r = await client.post(f"/api/board/{order_id}/claim", headers=world.auth("volunteer_b"))
    assert r.status_code == 200, r.text
    (told,) = await _inbox(client, world, "resident")
    assert (told["code"], told["params"]["volunteer"]) == ("order_accepted", "V**********")


async def test_cancelled_rejected_and_expired_orders_come_with_their_reason(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    held = await _post(client, world)
    offer_id = await _dispatch(client, world, held)
    await _act(client, world, "volunteer", f"/api/offers/{offer_id}/accept")
    await _act(client, world, "manager", f"/api/orders/{held}/cancel", {"reason": "The road is closed"})
    rejected = await _post(client, world)
    await _act(
        client, world, "grid_worker", f"/api/orders/{rejected}/reject", {"reason": "Not a service we give"}
    )
    own = await _post(client, world)
    await _act(client, world, "resident", f"/api/orders/{own}/cancel", {"reason": "Not needed"})
    lapsing = await _post(client, world)
    clock.advance(timedelta(hours=7))
    async with session_maker() as session, session.begin():
        assert await expire_orders(session, clock()) == 1

    told = [(n["code"], n["params"]) for n in await _inbox(client, world, "resident")]
    assert ("order_cancelled", {"order_id": held, "reason": "The road is closed"}) in told
    assert ("order_rejected", {"order_id": rejected, "reason": "Not a service we give"}) in told
    assert ("order_expired", {"order_id": lapsing, "reason_code": "window_ended"}) in told
    assert not [p for c, p in told if p.get("order_id") == own and c == "order_cancelled"], (
        "they cancelled it"
    )
    volunteer = [(n["code"], n["params"]) for n in await _inbox(client, world, "volunteer")]
    assert ("task_cancelled", {"order_id": held, "reason": "The road is closed"}) in volunteer


async def test_an_escalation_tells_the_resident_and_the_level_s_managers(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    start = clock() + timedelta(days=4)
    order_id = await _post(
        client, world, window_start=start.isoformat(), window_end=(start + timedelta(hours=2)).isoformat()
    )
    clock.advance(timedelta(minutes=settings.escalate_grid_minutes))
    async with session_maker() as session, session.begin():
        assert await escalate_orders(session, clock(), settings) == 1

    (resident,) = await _inbox(client, world, "resident")
    assert (resident["code"], resident["params"]) == (
        "order_escalated",
        {"order_id": order_id, "level": "grid"},
    )
    (grid,) = await _inbox(client, world, "grid_worker")
    assert (grid["code"], grid["params"]) == (
        "escalation",
        {
            "order_id": order_id,
            "level": "grid",
            "late": "not_accepted",
            "minutes": settings.escalate_grid_minutes,
        },
    )


async def test_managers_are_told_of_waiting_approvals(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"phone": "13612340001", "name": "Newcomer", "password": "my-password-1",
            "area_id": world.areas["c1_building"].id}  # fmt: skip
    assert (await client.post("/api/signup", json=body)).status_code == 201
    (signup,) = await _inbox(client, world, "grid_worker")
    assert (signup["code"], signup["params"]) == (
        "approval_pending",
        {"application_kind": "resident", "name": "Newcomer"},
    )
    assert await _inbox(client, world, "grid_worker_c2") == [], "only the building's own grid"

    profile = {"skills": [{"category": "escort"}], "serving_area_ids": [world.areas["c1"].id]}
    r = await client.post("/api/volunteer-applications", json=profile, headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    told = [n for n in await _inbox(client, world, "manager") if n["code"] == "approval_pending"]
    assert [n["params"] for n in told] == [{"application_kind": "volunteer", "name": "Resident"}]
    async with session_maker() as session:
        codes = set(await session.scalars(select(Notification.code)))
    assert codes == {"approval_pending"}

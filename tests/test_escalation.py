"""Late orders escalate grid → community → street, and completed orders confirm themselves.

The clock is moved to just before, exactly at and after each deadline; the jobs run as the
scheduler runs them, each in its own transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.ledger.models import OwedReward, Transfer
from market.notifications.models import Notification
from market.orders.service import auto_confirm_orders, escalate_orders
from market.settings import Settings, SettingsError
from tests.world import World

SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
STAFF = ("grid_worker", "manager", "street_admin", "grid_worker_c2", "manager_c2", "admin")


@dataclasses.dataclass
class Desk:
    client: AsyncTestClient
    world: World
    clock: FrozenClock
    session_maker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def post(self) -> int:
        # A service days ahead, so the window outlives every deadline.
        start = self.clock() + 4 * DAY
        body = self.world.order_body(
            window_start=start.isoformat(), window_end=(start + 2 * HOUR).isoformat()
        )
        r = await self.client.post("/api/orders", json=body, headers=self.world.auth("resident"))
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def act(self, who: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.client.post(path, json=body, headers=self.world.auth(who))
        assert r.status_code == 200, r.text
        return r.json()

    async def accept(self, order_id: int) -> None:
        body = {"volunteer_ids": [self.world.id("volunteer")], "mode": "direct"}
        offer = (await self.act("grid_worker", f"/api/orders/{order_id}/dispatch", body))["offers"][-1]
        await self.act("volunteer", f"/api/offers/{offer['id']}/accept")

    async def complete(self, order_id: int) -> None:
        """Accept, then serve two hours from the start of the window and complete."""
        await self.accept(order_id)
        self.at(datetime.fromisoformat((await self.detail(order_id))["window_start"]))
        await self.act("volunteer", f"/api/orders/{order_id}/check-in")
        self.clock.advance(2 * HOUR)
        await self.act("volunteer", f"/api/orders/{order_id}/check-out")
        await self.act("volunteer", f"/api/orders/{order_id}/complete", {"note": "done"})

    async def detail(self, order_id: int) -> dict[str, Any]:
        r = await self.client.get(f"/api/orders/{order_id}", headers=self.world.auth("manager"))
        assert r.status_code == 200, r.text
        return r.json()

    async def escalate(self) -> int:
        async with self.session_maker() as session, session.begin():
            return await escalate_orders(session, self.clock(), self.settings)

    async def auto_confirm(self) -> int:
        async with self.session_maker() as session, session.begin():
            return await auto_confirm_orders(
                session, self.clock(), self.settings.tz, self.settings.auto_confirm_days
            )

    def at(self, moment: datetime) -> None:
        self.clock.now = moment

    async def inboxes(self) -> dict[str, int]:
        """Escalation messages per staff member."""
        async with self.session_maker() as session:
            counts = dict(
                (
                    await session.execute(
                        select(Notification.user_id, func.count())
                        .where(Notification.code == "escalation")
                        .group_by(Notification.user_id)
                    )
                ).all()
            )
        return {who: counts.get(self.world.id(who), 0) for who in STAFF}

    async def points(self, order_id: int) -> list[int]:
        """Every payment (or debt) of the order's service reward."""
        transfer_id = f"~reward:order:{order_id}"
        async with self.session_maker() as session:
            paid = await session.scalars(select(Transfer.amount).where(Transfer.id == transfer_id))
            owed = await session.scalars(
                select(OwedReward.amount).where(OwedReward.transfer_id == transfer_id)
            )
            return [*paid, *owed]


@pytest.fixture
def desk(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> Desk:
    return Desk(client, world, clock, session_maker, settings)


def told(**counts: int) -> dict[str, int]:
    return {who: counts.get(who, 0) for who in STAFF}


# ---------------------------------------------------------------- escalation


async def test_an_order_no_one_takes_climbs_each_level_at_its_deadline_and_tells_it_once(desk: Desk) -> None:
    order_id = await desk.post()
    posted = datetime.fromisoformat((await desk.detail(order_id))["created_at"])

    steps = [
        (HOUR, "grid", told(grid_worker=1)),
        (DAY, "community", told(grid_worker=1, manager=1)),
        (3 * DAY, "street", told(grid_worker=1, manager=1, street_admin=1)),
    ]
    level, inboxes = None, told()
    for deadline, next_level, next_inboxes in steps:
        desk.at(posted + deadline - SECOND)
        assert await desk.escalate() == 0
        assert (await desk.detail(order_id))["escalation_level"] == level
        assert await desk.inboxes() == inboxes

        desk.at(posted + deadline)
        assert await desk.escalate() == 1
        detail = await desk.detail(order_id)
        assert detail["escalation_level"] == next_level
        assert datetime.fromisoformat(detail["escalated_at"]) == desk.clock()
        assert detail["updated_at"] == detail["escalated_at"]  # the order changed then
        assert await desk.escalate() == 0  # once per level
        level, inboxes = next_level, next_inboxes
        assert await desk.inboxes() == inboxes

    desk.at(posted + 30 * DAY)
    assert await desk.escalate() == 0
    assert await desk.inboxes() == inboxes
    events = [e for e in (await desk.detail(order_id))["events"] if e["action"] == "escalate"]
    assert [(e["from_status"], e["to_status"], e["actor_id"]) for e in events] == [
        ("submitted", "submitted", None)
    ] * 3
    assert [e["note"] for e in events] == [
        "to the grid: not accepted 1 h after posting",
        "to the community: not accepted 1 day after posting",
        "to the street: not completed 3 days after posting",
    ]
    async with desk.session_maker() as session:
        message = await session.scalar(
            select(Notification).where(Notification.user_id == desk.world.id("street_admin"))
        )
    assert (message.subject_type, message.subject_id) == ("order", order_id)
    assert (message.code, message.params) == (
        "escalation",
        {"order_id": order_id, "level": "street", "late": "not_completed", "minutes": 3 * 24 * 60},
    )


async def test_an_accepted_order_escalates_only_when_unfinished_after_three_days(desk: Desk) -> None:
    accepted = await desk.post()
    await desk.accept(accepted)
    finished = await desk.post()
    await desk.complete(finished)
    posted = datetime.fromisoformat((await desk.detail(accepted))["created_at"])

    desk.at(posted + 2 * DAY)
    assert await desk.escalate() == 0
    desk.at(posted + 3 * DAY - SECOND)
    assert await desk.escalate() == 0
    desk.at(posted + 3 * DAY)
    assert await desk.escalate() == 1
    # Taken in time, late to finish: straight to the street; the levels it skipped are not told.
    assert (await desk.detail(accepted))["escalation_level"] == "street"
    assert (await desk.detail(finished))["escalation_level"] is None
    assert await desk.inboxes() == told(street_admin=1)


async def test_a_scheduler_that_was_down_raises_an_order_straight_to_its_due_level(desk: Desk) -> None:
    order_id = await desk.post()
    desk.clock.advance(DAY + HOUR)
    assert await desk.escalate() == 1
    assert (await desk.detail(order_id))["escalation_level"] == "community"
    assert await desk.inboxes() == told(manager=1)


async def test_final_orders_never_escalate(desk: Desk) -> None:
    order_id = await desk.post()
    await desk.act("resident", f"/api/orders/{order_id}/cancel", {"reason": "no longer needed"})
    desk.clock.advance(10 * DAY)
    assert await desk.escalate() == 0
    assert await desk.inboxes() == told()


async def test_escalated_orders_can_be_listed_apart(desk: Desk) -> None:
    late, fresh = await desk.post(), await desk.post()
    desk.clock.advance(HOUR)
    fresh = await desk.post()
    assert await desk.escalate() == 2  # the two posted an hour ago

    headers = desk.world.auth("grid_worker")
    r = await desk.client.get("/api/orders", params={"escalated": "true"}, headers=headers)
    assert r.status_code == 200, r.text
    assert {o["id"] for o in r.json()["items"]} == {late, fresh - 1}
    assert all(o["escalation_level"] == "grid" for o in r.json()["items"])
    r = await desk.client.get("/api/orders", params={"escalated": "false"}, headers=headers)
    assert [(o["id"], o["escalation_level"], o["escalated_at"]) for o in r.json()["items"]] == [
        (fresh, None, None)
    ]


async def test_two_escalation_runs_at_once_raise_and_tell_once(desk: Desk) -> None:
    # No job lock here: the row lock and the re-check under it are enough on their own.
    order_id = await desk.post()
    desk.clock.advance(HOUR)
    assert sorted(await asyncio.gather(desk.escalate(), desk.escalate())) == [0, 1]
    assert (await desk.detail(order_id))["escalation_level"] == "grid"
    assert await desk.inboxes() == told(grid_worker=1)


def test_escalation_deadlines_must_rise_level_by_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the install's own secret is made
    env = {"MARKET_ESCALATE_GRID_MINUTES": "90", "MARKET_ESCALATE_COMMUNITY_HOURS": "1"}
    with pytest.raises(SettingsError, match="MARKET_ESCALATE"):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="MARKET_AUTO_CONFIRM_DAYS"):
        Settings.from_env({"MARKET_AUTO_CONFIRM_DAYS": "0"})
    settings = Settings.from_env({"MARKET_ESCALATE_STREET_HOURS": "48", "MARKET_AUTO_CONFIRM_DAYS": "3"})
    assert (settings.escalate_grid_minutes, settings.escalate_street_hours, settings.auto_confirm_days) == (
        60,
        48,
        3,
    )


# ---------------------------------------------------------------- auto-confirm


async def test_a_completed_order_confirms_itself_after_the_day_count_and_pays_once(desk: Desk) -> None:
    order_id = await desk.post()
    await desk.complete(order_id)
    completed = datetime.fromisoformat((await desk.detail(order_id))["completed_at"])
    assert desk.settings.auto_confirm_days == 7

    desk.at(completed + 7 * DAY - SECOND)
    assert await desk.auto_confirm() == 0
    assert (await desk.detail(order_id))["status"] == "completed"
    assert await desk.points(order_id) == []

    desk.at(completed + 7 * DAY)
    assert await desk.auto_confirm() == 1
    detail = await desk.detail(order_id)
    assert (detail["status"], detail["rating"], detail["comment"]) == ("confirmed", None, None)
    assert datetime.fromisoformat(detail["confirmed_at"]) == desk.clock()
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"], last["actor_id"]) == (
        "confirm",
        "completed",
        "confirmed",
        None,
    )
    assert "within 7 days" in last["note"]
    assert await desk.points(order_id) == [20]  # two hours at the default rate of 10

    desk.clock.advance(DAY)
    assert await desk.auto_confirm() == 0
    r = await desk.client.post(
        f"/api/orders/{order_id}/confirm", json={"rating": 5}, headers=desk.world.auth("resident")
    )
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    assert await desk.points(order_id) == [20]
    r = await desk.client.get(
        f"/api/volunteers/{desk.world.id('volunteer')}/profile", headers=desk.world.auth("manager")
    )
    assert r.status_code == 200, r.text
    assert r.json()["rating_count"] == 0  # no rating was made up


async def test_an_order_the_resident_confirmed_is_left_alone(desk: Desk) -> None:
    order_id = await desk.post()
    await desk.complete(order_id)
    await desk.act("resident", f"/api/orders/{order_id}/confirm", {"rating": 4})
    desk.clock.advance(8 * DAY)
    assert await desk.auto_confirm() == 0
    detail = await desk.detail(order_id)
    assert (detail["rating"], [e["action"] for e in detail["events"]].count("confirm")) == (4, 1)
    assert await desk.points(order_id) == [20]


async def test_two_auto_confirm_runs_at_once_confirm_and_pay_once(desk: Desk) -> None:
    order_id = await desk.post()
    await desk.complete(order_id)
    desk.clock.advance(7 * DAY)
    assert sorted(await asyncio.gather(desk.auto_confirm(), desk.auto_confirm())) == [0, 1]
    assert await desk.points(order_id) == [20]
    assert [e["action"] for e in (await desk.detail(order_id))["events"]].count("confirm") == 1

"""Points earned by service and spent on donated rewards.

Confirming an order pays hours × rate from the community pool, exactly once and
within the community's caps, or owes the reward until the pool is funded. The
catalogue shows each member what they may redeem; a redemption holds points and
stock until pickup, and is posted, cancelled or expired as a whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.clock import FrozenClock
from market.ledger.models import Account, AccountKind, Asset, OwedReward, StreetPolicy, Transfer, TransferCode
from market.ledger.service import area_account, member_account, post_owed_rewards
from market.rewards.models import Redemption, Reward
from market.rewards.service import expire_redemptions
from market.volunteers.models import VolunteerProfile
from tests.world import World, allow_adjustments_alone, password_hash


@pytest.fixture
def clock() -> FrozenClock:
    # A fixed morning (09:00 in Asia/Shanghai, the service's time zone) in the middle of a month,
    # so that daily and monthly caps never straddle a boundary by accident.
    return FrozenClock(datetime(2030, 3, 12, 1, 0, tzinfo=UTC))


@dataclass
class Books:
    issuance: int
    pool: int


@pytest.fixture
async def books(session_maker: async_sessionmaker[AsyncSession], world: World) -> Books:
    async with session_maker() as session, session.begin():
        issuance = await area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
        for name in ("resident", "resident_b", "resident_c2", "volunteer", "volunteer_b"):
            await member_account(session, world.id(name))
    return Books(issuance.id, pool.id)


async def fund_pool(client: AsyncTestClient, world: World, books: Books, amount: int, tag: str = "1") -> None:
    r = await client.post(
        "/api/ledger/transfers",
        json={
            "transfers": [
                {
                    "id": f"budget-{tag}",
                    "debit_account_id": books.issuance,
                    "credit_account_id": books.pool,
                    "amount": amount,
                    "code": "budget",
                }
            ]
        },
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


async def give_points(
    client: AsyncTestClient,
    session_maker: async_sessionmaker[AsyncSession],
    world: World,
    books: Books,
    amount: int,
    *names: str,
) -> None:
    """A manager's adjustments from community 1's pool to each of `names`."""
    async with session_maker() as session, session.begin():
        accounts = [(await member_account(session, world.id(name))).id for name in names]
        if await session.get(StreetPolicy, world.areas["street"].id) is None:
            await allow_adjustments_alone(session, world)
    r = await client.post(
        "/api/ledger/transfers",
        json={
            "transfers": [
                {
                    "id": f"give-{account_id}",
                    "debit_account_id": books.pool,
                    "credit_account_id": account_id,
                    "amount": amount,
                    "code": "adjustment",
                    "reason": "correction",
                    "memo": "points for the tests",
                }
                for account_id in accounts
            ]
        },
        headers=world.auth("manager"),
    )
    assert r.status_code == 200 and r.json()["created"] == len(names), r.text


async def points_of(session_maker: async_sessionmaker[AsyncSession], world: World, name: str) -> Account:
    async with session_maker() as session:
        return await session.scalar(
            select(Account).where(Account.user_id == world.id(name), Account.asset == Asset.service)
        )


async def pool_balance(session_maker: async_sessionmaker[AsyncSession], books: Books) -> int:
    async with session_maker() as session:
        return (await session.get(Account, books.pool)).balance


async def assert_balanced(client: AsyncTestClient, world: World) -> None:
    r = await client.get("/api/ledger/trial-balance?journal=true", headers=world.auth("admin"))
    assert r.json()["balanced"] is True, r.json()


def assert_problem(r: Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["code"] == code, r.json()


# ---------------------------------------------------------------- service rewards


async def served_order(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    hours: float,
    *,
    volunteer: str = "volunteer",
    category: str = "escort",
) -> int:
    """An order of `resident`, served for `hours` by `volunteer` and completed (not yet confirmed)."""
    now = clock()
    body = world.order_body(
        category=category,
        # Hours count from a quarter of an hour before the window: all of them, from now.
        window_start=(now + timedelta(minutes=15)).isoformat(),
        window_end=(now + timedelta(hours=12)).isoformat(),
    )
    r = await client.post("/api/orders", json=body, headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id(volunteer)], "mode": "direct"},
        headers=world.auth("grid_worker"),
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/offers/{r.json()['offers'][0]['id']}/accept", headers=world.auth(volunteer))
    assert r.status_code == 200, r.text
    assert (
        await client.post(f"/api/orders/{order_id}/check-in", headers=world.auth(volunteer))
    ).status_code == 200
    clock.advance(timedelta(hours=hours))
    assert (
        await client.post(f"/api/orders/{order_id}/check-out", headers=world.auth(volunteer))
    ).status_code == 200
    r = await client.post(
        f"/api/orders/{order_id}/complete", json={"note": "done"}, headers=world.auth(volunteer)
    )
    assert r.status_code == 200, r.text
    return order_id


async def confirm(client: AsyncTestClient, world: World, order_id: int) -> Response:
    return await client.post(
        f"/api/orders/{order_id}/confirm",
        json={"rating": 5, "comment": "thank you"},
        headers=world.auth("resident"),
    )


async def set_policy(client: AsyncTestClient, world: World, **policy: Any) -> None:
    r = await client.put(
        f"/api/ledger/policies/{world.areas['c1'].id}", json=policy, headers=world.auth("manager")
    )
    assert r.status_code == 200, r.text


async def reward_transfers(session_maker: async_sessionmaker[AsyncSession], order_id: int) -> list[Transfer]:
    async with session_maker() as session:
        return list(
            await session.scalars(
                select(Transfer).where(
                    Transfer.reference == f"order:{order_id}", Transfer.code == TransferCode.service_reward
                )
            )
        )


async def test_confirming_an_order_pays_hours_times_rate_from_the_pool_once(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await fund_pool(client, world, books, 1000)
    await set_policy(client, world, rates={"escort": 12}, default_rate=10)
    order_id = await served_order(client, world, clock, 2.5)

    r = await confirm(client, world, order_id)

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["service_hours"] == 2.5
    (paid,) = await reward_transfers(session_maker, order_id)
    assert (paid.id, paid.amount, paid.pending) == (f"~reward:order:{order_id}", 30, False)
    assert (await points_of(session_maker, world, "volunteer")).balance == 30
    assert await pool_balance(session_maker, books) == 970

    again = await confirm(client, world, order_id)

    assert_problem(again, 409, "illegal_transition")
    assert len(await reward_transfers(session_maker, order_id)) == 1
    assert (await points_of(session_maker, world, "volunteer")).balance == 30
    r = await client.get(
        f"/api/ledger/accounts/{(await points_of(session_maker, world, 'volunteer')).id}/entries",
        headers=world.auth("volunteer"),
    )
    (entry,) = r.json()["items"]
    assert (entry["code"], entry["side"], entry["amount"], entry["reference"]) == (
        "service_reward",
        "credit",
        30,
        f"order:{order_id}",
    )
    await assert_balanced(client, world)


async def test_a_category_without_its_own_rate_earns_the_default_rate(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await fund_pool(client, world, books, 1000)
    await set_policy(client, world, rates={"escort": 12}, default_rate=7)
    order_id = await served_order(client, world, clock, 1.5, category="repair")

    assert (await confirm(client, world, order_id)).status_code == 200

    assert (await points_of(session_maker, world, "volunteer")).balance == 11  # 10.5 rounds up


async def test_with_an_empty_pool_the_reward_is_owed_then_paid_once(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    order_id = await served_order(client, world, clock, 2)

    r = await confirm(client, world, order_id)

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed"
    assert await reward_transfers(session_maker, order_id) == []
    r = await client.get("/api/ledger/owed-rewards", headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    (owed,) = r.json()["items"]
    assert (owed["reference"], owed["user_id"], owed["user_name"], owed["amount"], owed["status"]) == (
        f"order:{order_id}",
        world.id("volunteer"),
        "Volunteer",
        20,
        "owed",
    )
    assert owed["code"] == "service_reward" and owed["posted_at"] is None
    assert (await client.get("/api/ledger/owed-rewards", headers=world.auth("manager_c2"))).json()[
        "total"
    ] == 0
    assert_problem(
        await client.get("/api/ledger/owed-rewards", headers=world.auth("volunteer")), 403, "role_required"
    )

    async with session_maker() as session, session.begin():
        assert await post_owed_rewards(session, clock(), world.settings.tz) == 0  # nothing to pay with yet
    await fund_pool(client, world, books, 500)
    async with session_maker() as session, session.begin():
        assert await post_owed_rewards(session, clock(), world.settings.tz) == 1
    async with session_maker() as session, session.begin():
        assert await post_owed_rewards(session, clock(), world.settings.tz) == 0

    (paid,) = await reward_transfers(session_maker, order_id)
    assert paid.amount == 20
    assert (await points_of(session_maker, world, "volunteer")).balance == 20
    assert await pool_balance(session_maker, books) == 480
    r = await client.get("/api/ledger/owed-rewards?status=posted", headers=world.auth("manager"))
    (owed,) = r.json()["items"]
    assert owed["status"] == "posted" and owed["posted_at"] is not None
    assert (await client.get("/api/ledger/owed-rewards?status=owed", headers=world.auth("manager"))).json()[
        "total"
    ] == 0
    await assert_balanced(client, world)


async def test_owed_rewards_are_paid_oldest_first_while_the_pool_lasts(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    first = await served_order(client, world, clock, 2)
    assert (await confirm(client, world, first)).status_code == 200
    second = await served_order(client, world, clock, 3, volunteer="volunteer_b")
    assert (await confirm(client, world, second)).status_code == 200
    await fund_pool(client, world, books, 25)

    async with session_maker() as session, session.begin():
        assert await post_owed_rewards(session, clock(), world.settings.tz) == 1

    assert [t.amount for t in await reward_transfers(session_maker, first)] == [20]
    assert await reward_transfers(session_maker, second) == []
    assert (await points_of(session_maker, world, "volunteer_b")).balance == 0
    assert await pool_balance(session_maker, books) == 5
    r = await client.get("/api/ledger/owed-rewards?status=owed", headers=world.auth("manager"))
    assert [o["reference"] for o in r.json()["items"]] == [f"order:{second}"]


async def test_two_runs_of_the_owed_rewards_job_at_once_pay_once(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    order_id = await served_order(client, world, clock, 2)
    assert (await confirm(client, world, order_id)).status_code == 200
    await fund_pool(client, world, books, 100)

    async def run() -> int:
        async with session_maker() as session, session.begin():
            return await post_owed_rewards(session, clock(), world.settings.tz)

    assert sorted(await asyncio.gather(run(), run())) == [0, 1]
    assert (await points_of(session_maker, world, "volunteer")).balance == 20
    assert await pool_balance(session_maker, books) == 80


async def test_the_daily_cap_limits_what_one_day_earns(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await fund_pool(client, world, books, 1000)
    await set_policy(client, world, default_rate=10, daily_cap=30, monthly_cap=1000)
    earned = []
    for hours in (2, 2, 1):
        order_id = await served_order(client, world, clock, hours)
        assert (await confirm(client, world, order_id)).status_code == 200
        earned.append(sum(t.amount for t in await reward_transfers(session_maker, order_id)))
    clock.advance(timedelta(days=1))
    order_id = await served_order(client, world, clock, 2)
    assert (await confirm(client, world, order_id)).status_code == 200
    earned.append(sum(t.amount for t in await reward_transfers(session_maker, order_id)))

    assert earned == [20, 10, 0, 20]
    assert (await points_of(session_maker, world, "volunteer")).balance == 50
    # The cap is per volunteer: another one still earns in full today.
    order_id = await served_order(client, world, clock, 2, volunteer="volunteer_b")
    assert (await confirm(client, world, order_id)).status_code == 200
    assert (await points_of(session_maker, world, "volunteer_b")).balance == 20


async def test_the_monthly_cap_limits_what_one_month_earns(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await fund_pool(client, world, books, 1000)
    await set_policy(client, world, default_rate=10, daily_cap=100, monthly_cap=50)
    earned = []
    for hours, days_later in ((3, 0), (3, 1), (1, 1), (2, 20)):  # the last one is on 2 April
        clock.advance(timedelta(days=days_later))
        order_id = await served_order(client, world, clock, hours)
        assert (await confirm(client, world, order_id)).status_code == 200
        earned.append(sum(t.amount for t in await reward_transfers(session_maker, order_id)))

    assert earned == [30, 20, 0, 20]


async def test_the_caps_count_rewards_still_owed(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await set_policy(client, world, default_rate=10, daily_cap=30)
    for hours in (2, 2):
        order_id = await served_order(client, world, clock, hours)
        assert (await confirm(client, world, order_id)).status_code == 200

    async with session_maker() as session:
        owed = await session.execute(select(OwedReward.amount, OwedReward.status).order_by(OwedReward.id))
        # The second reward's 10 points over the cap are withheld, not owed.
        assert owed.all() == [(20, "owed"), (10, "withheld"), (10, "owed")]


async def test_a_reward_paid_late_counts_for_the_day_it_was_earned(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    await set_policy(client, world, default_rate=10, daily_cap=30)
    yesterday = await served_order(client, world, clock, 2)
    assert (await confirm(client, world, yesterday)).status_code == 200  # owed: the pool is empty
    clock.advance(timedelta(days=1))
    await fund_pool(client, world, books, 1000)
    async with session_maker() as session, session.begin():
        assert await post_owed_rewards(session, clock(), world.settings.tz) == 1

    today = await served_order(client, world, clock, 2)
    assert (await confirm(client, world, today)).status_code == 200

    assert [t.amount for t in await reward_transfers(session_maker, today)] == [20]


# ---------------------------------------------------------------- the catalogue


def reward_body(world: World, *communities: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Rice, 5 kg",
        "description": "Donated by the grain shop on Sunny Street",
        "price": 30,
        "stock": 5,
        "pickup_place": "Community 1 service centre",
        "valid_until": (world.now + timedelta(days=30)).isoformat(),
        "community_ids": [world.areas[c].id for c in communities or ("c1",)],
        "limit_per_person": 1,
        "donor": "Grain shop",
    }
    body.update(overrides)
    return body


async def publish(
    client: AsyncTestClient, world: World, who: str = "unit_admin", *communities: str, **kw: Any
) -> int:
    r = await client.post(
        "/api/rewards", json=reward_body(world, *communities, **kw), headers=world.auth(who)
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_unit_admins_and_managers_publish_rewards_for_their_area(
    client: AsyncTestClient, world: World
) -> None:
    r = await client.post(
        "/api/rewards", json=reward_body(world, "c1", "c2"), headers=world.auth("unit_admin")
    )

    assert r.status_code == 201, r.text
    reward = r.json()
    assert reward["community_ids"] == sorted([world.areas["c1"].id, world.areas["c2"].id])
    assert (reward["stock"], reward["stock_left"], reward["price"], reward["is_active"]) == (5, 5, 30, True)
    for who in ("manager", "street_admin"):
        r = await client.post("/api/rewards", json=reward_body(world, "c1"), headers=world.auth(who))
        assert r.status_code == 201, (who, r.text)
    # A grid worker's area is their grid; a reward is offered to whole communities.
    assert_problem(
        await client.post("/api/rewards", json=reward_body(world, "c1"), headers=world.auth("grid_worker")),
        403,
        "outside_your_area",
    )

    assert_problem(
        await client.post("/api/rewards", json=reward_body(world, "c2"), headers=world.auth("manager")),
        403,
        "outside_your_area",
    )
    assert_problem(
        await client.post("/api/rewards", json=reward_body(world, "c1", "c2"), headers=world.auth("manager")),
        403,
        "outside_your_area",
    )
    assert_problem(
        await client.post("/api/rewards", json=reward_body(world, "c1"), headers=world.auth("resident")),
        403,
        "role_required",
    )
    assert_problem(
        await client.post(
            "/api/rewards", json=reward_body(world, "c1_grid"), headers=world.auth("unit_admin")
        ),
        400,
        "not_a_community",
    )
    past = reward_body(world, "c1", valid_until=(world.now - timedelta(hours=1)).isoformat())
    assert_problem(
        await client.post("/api/rewards", json=past, headers=world.auth("unit_admin")), 400, "already_expired"
    )
    r = await client.get("/api/rewards?limit=100", headers=world.auth("admin"))
    assert r.json()["total"] == 3


async def test_members_see_the_rewards_they_may_redeem(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    in_c1 = await publish(client, world, "unit_admin", "c1", name="Rice", price=10)
    in_c2 = await publish(client, world, "unit_admin", "c2", name="Oil", price=20)
    short = await publish(
        client,
        world,
        "unit_admin",
        "c1",
        "c2",
        name="Cinema tickets",
        price=30,
        valid_until=(world.now + timedelta(days=1)).isoformat(),
    )

    async def names(who: str) -> list[int]:
        r = await client.get("/api/rewards", headers=world.auth(who))
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert await names("resident") == [in_c1, short]
    assert await names("resident_c2") == [in_c2, short]
    assert await names("manager_c2") == [in_c2, short]
    clock.advance(timedelta(days=2))
    assert await names("resident") == [in_c1]
    assert await names("volunteer_c2") == [in_c2]
    # The publisher still sees what it published, to hand it out.
    assert await names("unit_admin") == [in_c1, in_c2, short]


# ---------------------------------------------------------------- redemptions


async def redeem(
    client: AsyncTestClient, world: World, who: str, reward_id: int, quantity: int = 1
) -> Response:
    return await client.post(
        "/api/redemptions", json={"reward_id": reward_id, "quantity": quantity}, headers=world.auth(who)
    )


async def stock_left(client: AsyncTestClient, world: World, reward_id: int) -> int:
    r = await client.get("/api/rewards?limit=100", headers=world.auth("admin"))
    return next(item["stock_left"] for item in r.json()["items"] if item["id"] == reward_id)


@pytest.fixture
async def shop(
    client: AsyncTestClient, world: World, books: Books, session_maker: async_sessionmaker[AsyncSession]
) -> int:
    """Residents of community 1 with 100 points each, and a reward at 30 points, 5 in stock."""
    await fund_pool(client, world, books, 10_000)
    await give_points(client, session_maker, world, books, 100, "resident", "resident_b")
    return await publish(client, world, "unit_admin", "c1")


async def test_redeeming_holds_the_points_and_the_stock(
    client: AsyncTestClient, world: World, shop: int, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    r = await redeem(client, world, "resident", shop)

    assert r.status_code == 201, r.text
    redemption = r.json()
    assert (redemption["status"], redemption["points"], redemption["quantity"]) == ("pending", 30, 1)
    assert redemption["pickup_code"].isdigit() and len(redemption["pickup_code"]) == 6
    assert redemption["pickup_deadline"].startswith((world.now + timedelta(days=7)).date().isoformat())
    mine = await points_of(session_maker, world, "resident")
    assert (mine.balance, mine.debits_pending, mine.available) == (100, 30, 70)
    assert await stock_left(client, world, shop) == 4
    r = await client.get(f"/api/ledger/accounts/{mine.id}/entries", headers=world.auth("resident"))
    held = [(e["side"], e["amount"], e["status"]) for e in r.json()["items"] if e["code"] == "redemption"]
    assert held == [("debit", 30, "pending")]
    await assert_balanced(client, world)
    inbox = (await client.get("/api/notifications", headers=world.auth("resident"))).json()["items"]
    (ready,) = [m for m in inbox if m["code"] == "redemption_ready"]
    assert (ready["subject_type"], ready["subject_id"]) == ("redemption", redemption["id"])
    assert ready["params"]["pickup_code"] == redemption["pickup_code"]


async def test_fulfilling_with_the_pickup_code_posts_points_and_stock(
    client: AsyncTestClient, world: World, shop: int, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()
    url = f"/api/redemptions/{redemption['id']}/fulfil"
    wrong = "000000" if redemption["pickup_code"] != "000000" else "111111"

    assert_problem(
        await client.post(url, json={"pickup_code": wrong}, headers=world.auth("unit_admin")),
        409,
        "wrong_pickup_code",
    )
    # Nobody else hands it out: the member's neighbour, another community's manager.
    for who in ("resident_b", "manager_c2"):
        r = await client.post(url, json={"pickup_code": redemption["pickup_code"]}, headers=world.auth(who))
        assert_problem(r, 404, "redemption_not_found")
    assert (await points_of(session_maker, world, "resident")).debits_pending == 30

    r = await client.post(
        url, json={"pickup_code": redemption["pickup_code"]}, headers=world.auth("unit_admin")
    )

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "fulfilled" and r.json()["settled_at"] is not None
    mine = await points_of(session_maker, world, "resident")
    assert (mine.balance, mine.debits_pending, mine.debits_posted, mine.available) == (70, 0, 30, 70)
    async with session_maker() as session:
        reward = await session.get(Reward, shop)
        assert (reward.held, reward.fulfilled, reward.stock_left) == (0, 1, 4)
    again = await client.post(
        url, json={"pickup_code": redemption["pickup_code"]}, headers=world.auth("manager")
    )
    assert_problem(again, 409, "redemption_not_pending")
    await assert_balanced(client, world)


async def test_cancelling_gives_back_points_and_stock(
    client: AsyncTestClient, world: World, shop: int, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()
    url = f"/api/redemptions/{redemption['id']}/cancel"
    assert_problem(await client.post(url, headers=world.auth("resident_b")), 404, "redemption_not_found")

    r = await client.post(url, headers=world.auth("resident"))

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    mine = await points_of(session_maker, world, "resident")
    assert (mine.balance, mine.debits_pending, mine.debits_posted, mine.available) == (100, 0, 0, 100)
    assert await stock_left(client, world, shop) == 5
    assert_problem(await client.post(url, headers=world.auth("resident")), 409, "redemption_not_pending")
    r = await client.post(
        f"/api/redemptions/{redemption['id']}/fulfil",
        json={"pickup_code": redemption["pickup_code"]},
        headers=world.auth("unit_admin"),
    )
    assert_problem(r, 409, "redemption_not_pending")
    await assert_balanced(client, world)


async def test_a_manager_may_cancel_a_members_redemption(
    client: AsyncTestClient, world: World, shop: int, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()

    r = await client.post(f"/api/redemptions/{redemption['id']}/cancel", headers=world.auth("manager"))

    assert r.status_code == 200, r.text
    assert (await points_of(session_maker, world, "resident")).available == 100


async def test_each_person_may_redeem_up_to_the_limit(
    client: AsyncTestClient, world: World, books: Books, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await fund_pool(client, world, books, 10_000)
    await give_points(client, session_maker, world, books, 100, "resident", "resident_b")
    reward = await publish(client, world, "unit_admin", "c1", price=10, stock=10, limit_per_person=2)

    first = await redeem(client, world, "resident", reward, quantity=2)
    over = await redeem(client, world, "resident", reward)
    neighbour = await redeem(client, world, "resident_b", reward, quantity=2)

    assert first.status_code == 201, first.text
    assert_problem(over, 409, "limit_per_person_reached")
    assert neighbour.status_code == 201, neighbour.text
    await client.post(f"/api/redemptions/{first.json()['id']}/cancel", headers=world.auth("resident"))
    again = await redeem(client, world, "resident", reward)
    assert again.status_code == 201, again.text
    assert await stock_left(client, world, reward) == 10 - 2 - 1
    assert (await points_of(session_maker, world, "resident")).available == 90


async def test_a_reward_out_of_stock_is_refused(
    client: AsyncTestClient, world: World, books: Books, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await fund_pool(client, world, books, 10_000)
    await give_points(client, session_maker, world, books, 100, "resident", "resident_b")
    reward = await publish(client, world, "unit_admin", "c1", price=10, stock=1)
    assert (await redeem(client, world, "resident", reward)).status_code == 201

    r = await redeem(client, world, "resident_b", reward)

    assert_problem(r, 409, "out_of_stock")
    assert (await points_of(session_maker, world, "resident_b")).available == 100
    assert await stock_left(client, world, reward) == 0


async def test_a_redemption_needs_enough_points_and_the_right_community(
    client: AsyncTestClient, world: World, books: Books, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await fund_pool(client, world, books, 10_000)
    await give_points(client, session_maker, world, books, 100, "resident")
    dear = await publish(client, world, "unit_admin", "c1", price=101)

    poor = await redeem(client, world, "resident", dear)
    elsewhere = await redeem(client, world, "resident_c2", dear)

    assert_problem(poor, 409, "exceeds_credits")
    assert_problem(elsewhere, 403, "not_offered_here")
    assert await stock_left(client, world, dear) == 5
    assert (await points_of(session_maker, world, "resident")).available == 100
    async with session_maker() as session:
        assert await session.scalar(select(func.count()).select_from(Redemption)) == 0


async def test_an_uncollected_redemption_expires_and_releases_points_and_stock(
    client: AsyncTestClient,
    world: World,
    shop: int,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()
    clock.advance(timedelta(days=6, hours=23))
    async with session_maker() as session, session.begin():
        assert await expire_redemptions(session, clock(), world.settings.tz) == 0
    clock.advance(timedelta(hours=1))

    late = await client.post(
        f"/api/redemptions/{redemption['id']}/fulfil",
        json={"pickup_code": redemption["pickup_code"]},
        headers=world.auth("unit_admin"),
    )
    async with session_maker() as session, session.begin():
        assert await expire_redemptions(session, clock(), world.settings.tz) == 1
    async with session_maker() as session, session.begin():
        assert await expire_redemptions(session, clock(), world.settings.tz) == 0

    assert_problem(late, 409, "pickup_deadline_passed")
    r = await client.get(f"/api/redemptions/{redemption['id']}", headers=world.auth("resident"))
    assert r.json()["status"] == "expired"
    mine = await points_of(session_maker, world, "resident")
    assert (mine.balance, mine.debits_pending, mine.available) == (100, 0, 100)
    assert await stock_left(client, world, shop) == 5
    await assert_balanced(client, world)


async def test_the_pickup_code_is_shown_only_to_the_member(
    client: AsyncTestClient, world: World, shop: int
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()
    url = f"/api/redemptions/{redemption['id']}"

    mine = await client.get(url, headers=world.auth("resident"))
    listed = await client.get("/api/redemptions", headers=world.auth("resident"))

    assert mine.json()["pickup_code"] == redemption["pickup_code"]
    assert listed.json()["items"][0]["pickup_code"] == redemption["pickup_code"]
    for who in ("unit_admin", "manager", "admin"):
        r = await client.get(url, headers=world.auth(who))
        assert r.status_code == 200, r.text
        assert r.json()["pickup_code"] is None
        r = await client.get("/api/redemptions", headers=world.auth(who))
        assert [(i["id"], i["pickup_code"]) for i in r.json()["items"]] == [(redemption["id"], None)]
    assert_problem(await client.get(url, headers=world.auth("resident_b")), 404, "redemption_not_found")
    assert (await client.get("/api/redemptions", headers=world.auth("resident_b"))).json()["total"] == 0


# ---------------------------------------------------------------- races, through a real server


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    # At most 25 requests in flight: every request holds a database connection, and the test
    # database server is shared. The requests still race: 25 at a time for the same rows.
    limits = httpx.Limits(max_connections=25, max_keepalive_connections=25)
    async with httpx.AsyncClient(base_url=live_server, timeout=120, limits=limits) as client:
        yield client


async def _members(session_maker: async_sessionmaker[AsyncSession], world: World, count: int) -> list[str]:
    async with session_maker() as session, session.begin():
        users = [
            User(
                phone=f"1350000{i:04d}",
                name=f"Neighbour {i}",
                password_hash=password_hash(),
                area_id=world.areas["c1_building"].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.resident)],
            )
            for i in range(count)
        ]
        session.add_all(users)
        await session.flush()
    for user in users:
        world.users[user.phone] = user
    return [user.phone for user in users]


async def test_a_hundred_members_redeem_ten_in_stock_at_once(
    client: AsyncTestClient,
    world: World,
    books: Books,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    members = await _members(session_maker, world, 100)
    await fund_pool(client, world, books, 100_000)
    await give_points(client, session_maker, world, books, 50, *members)
    reward = await publish(client, world, "unit_admin", "c1", price=20, stock=10)

    responses = await asyncio.gather(
        *(racing.post("/api/redemptions", json={"reward_id": reward}, headers=world.auth(m)) for m in members)
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 90, [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    winners = {r.json()["user_id"] for r in responses if r.status_code == 201}
    async with session_maker() as session:
        stock = await session.get(Reward, reward)
        assert (stock.held, stock.fulfilled, stock.stock_left) == (10, 0, 0)
        assert set(await session.scalars(select(Redemption.user_id))) == winners
        accounts = list(
            await session.scalars(
                select(Account).where(
                    Account.user_id.in_([world.id(m) for m in members]), Account.asset == Asset.service
                )
            )
        )
        held = {a.user_id: a.debits_pending for a in accounts}
        assert held == {world.id(m): 20 if world.id(m) in winners else 0 for m in members}
        assert sum(a.available for a in accounts) == 100 * 50 - 10 * 20
        pending = await session.scalar(
            select(func.coalesce(func.sum(Transfer.amount), 0)).where(
                Transfer.code == TransferCode.redemption, Transfer.pending
            )
        )
        assert pending == 10 * 20
    await assert_balanced(client, world)


async def test_twenty_confirmations_of_one_order_at_once_reward_it_once(
    client: AsyncTestClient,
    world: World,
    books: Books,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    await fund_pool(client, world, books, 1000)
    order_id = await served_order(client, world, clock, 2)

    responses = await asyncio.gather(
        *(
            racing.post(f"/api/orders/{order_id}/confirm", json={"rating": 4}, headers=world.auth("resident"))
            for _ in range(20)
        )
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 19, [
        r.text for r in responses if r.status_code not in (200, 409)
    ]
    assert [t.amount for t in await reward_transfers(session_maker, order_id)] == [20]
    assert (await points_of(session_maker, world, "volunteer")).balance == 20
    async with session_maker() as session:
        profile = await session.scalar(
            select(VolunteerProfile).where(VolunteerProfile.user_id == world.id("volunteer"))
        )
        assert (profile.rating_count, profile.rating_sum) == (1, 4)
    await assert_balanced(client, world)

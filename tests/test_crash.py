"""The crash test: `market serve` (two workers) and `market worker` are killed with SIGKILL again and
again while members give points, redeem rewards and race to accept pool offers, each retrying with
the same Idempotency-Key until it gets an answer. Afterwards the database alone must show that
nothing was lost, invented, oversold or done twice, and that every key is either done, its response
stored with the change it describes, or absent.

CI size: MARKET_CRASH_CLIENTS (6) members and MARKET_CRASH_KILLS (3) kills, on the suite's database
(SQLite, and PostgreSQL in the second pass). The full run the product was once judged by:
MARKET_CRASH_CLIENTS=16 MARKET_CRASH_KILLS=13.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.idempotency import IdempotencyRecord
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import Account, AccountKind, Asset, PendingStatus, Transfer, TransferCode
from market.orders.models import HELD_STATUSES, Offer, OfferStatus, Order, OrderStatus
from market.rewards.models import Redemption, RedemptionStatus, Reward
from market.volunteers.models import VolunteerProfile
from tests.conftest import TEST_SECRET, free_port
from tests.world import World, add_volunteer_profile, password_hash

CLIENTS = int(os.environ.get("MARKET_CRASH_CLIENTS", "6"))
KILLS = int(os.environ.get("MARKET_CRASH_KILLS", "3"))
SEED = int(os.environ.get("MARKET_CRASH_SEED", "20261202"))
MARKET = str(Path(sys.executable).with_name("market"))
STARTING_POINTS = 300
STOCK = 2 * CLIENTS  # less than the members try to redeem: some must be refused, none oversold
ORDERS = 2 * CLIENTS
# How long a client keeps retrying one request while the server is down, and waits for one answer:
# long, so that a loaded machine slows the test down rather than failing it (a client that gave up
# early would only pile retries onto requests the server is still working on).
PATIENCE_SECONDS = 300
ANSWER_SECONDS = 120


class Cluster:
    """The API (two workers) and the jobs' worker, started and killed as a whole process group."""

    def __init__(self, database_url: str, now: str, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MARKET_DATABASE_URL": database_url,
            "MARKET_SECRET_KEY": TEST_SECRET,
            "MARKET_NOW": now,
            "MARKET_OPEN_ORDERS_PER_RESIDENT": str(ORDERS),
            "MARKET_SCHEDULER": "off",
            # Every line reaches the log before a kill, for the failure report.
            "PYTHONUNBUFFERED": "1",
        }
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"start-{self.starts}.log").open("wb")
        for args, env in (
            (["serve", "--port", str(self.port), "--workers", "2"], self.env),
            (["worker"], {**self.env, "MARKET_SCHEDULER": "on"}),
        ):
            self.processes.append(
                subprocess.Popen([MARKET, *args], env=env, stdout=log, stderr=log, start_new_session=True)
            )

    def kill(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.processes = []

    async def wait_until_up(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            for _ in range(PATIENCE_SECONDS * 10):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/health")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError("the server did not come back: " + self.logs())

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("*.log")))


@dataclass
class Outcomes:
    """What each client was finally told, by Idempotency-Key."""

    gifts: dict[str, int] = field(default_factory=dict)  # key -> status
    redemptions: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (user id, status)
    accepts: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (offer id, status)
    statuses: Counter[int] = field(default_factory=Counter)


async def _until_answered(
    client: httpx.AsyncClient, path: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> httpx.Response:
    """Send the same request, with the same key, until the server answers it (not a crash, not busy)."""
    deadline = asyncio.get_running_loop().time() + PATIENCE_SECONDS
    while True:
        try:
            r = await client.post(path, json=body, headers=headers)
            if r.status_code != 503:
                return r
        except httpx.TransportError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{path} was never answered")
        await asyncio.sleep(0.2)


async def _member(
    client: httpx.AsyncClient,
    world: World,
    me: str,
    others: list[str],
    offers: list[int],
    reward_id: int,
    outcomes: Outcomes,
    rng: random.Random,
    stop: asyncio.Event,
) -> None:
    operations = 0
    while not stop.is_set() or operations < 12:
        operations += 1
        key = uuid.uuid4().hex
        headers = {**world.auth(me), "Idempotency-Key": key}
        choice = rng.random()
        if choice < 0.5:
            body = {"to_user_id": world.id(rng.choice(others)), "amount": rng.randint(1, 5), "memo": key}
            r = await _until_answered(client, "/api/ledger/gifts", body, headers)
            outcomes.gifts[key] = r.status_code
        elif choice < 0.75:
            r = await _until_answered(
                client, "/api/redemptions", {"reward_id": reward_id, "quantity": 1}, headers
            )
            outcomes.redemptions[key] = (world.id(me), r.status_code)
        else:
            offer_id = rng.choice(offers)
            r = await _until_answered(client, f"/api/offers/{offer_id}/accept", None, headers)
            outcomes.accepts[key] = (offer_id, r.status_code)
        assert r.status_code < 500, r.text
        outcomes.statuses[r.status_code] += 1


async def _setup(
    world: World, session_maker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> tuple[list[str], int, dict[str, list[int]]]:
    """Members who are volunteers too, each with points; a scarce reward; pool offers to all of them."""
    names = [f"crash_{i}" for i in range(CLIENTS)]
    async with session_maker() as session, session.begin():
        users = [
            User(
                phone=f"1350000{i:04d}",
                name=f"Crash member {i}",
                password_hash=password_hash(),
                area_id=world.areas["c1_building"].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.volunteer), UserRole(role=Role.resident)],
            )
            for i in range(CLIENTS)
        ]
        session.add_all(users)
        await session.flush()
        for user in users:
            await add_volunteer_profile(session, user, world.areas["c1"], capacity=2)
        issuance = await ledger.area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await ledger.area_account(
            session, world.areas["c1"], AccountKind.community_pool, Asset.service
        )
        drafts = [
            Draft(
                id="crash-budget",
                debit_account_id=issuance.id,
                credit_account_id=pool.id,
                amount=10**6,
                code=TransferCode.budget,
            )
        ]
        for user in users:
            member = await ledger.member_account(session, user.id)
            drafts.append(
                Draft(
                    id=f"crash-start-{user.id}",
                    debit_account_id=pool.id,
                    credit_account_id=member.id,
                    amount=STARTING_POINTS,
                    code=TransferCode.adjustment,
                    memo="starting points",
                )
            )
        await ledger.transfer(session, drafts, world.now, world.settings.tz)
    for name, user in zip(names, users, strict=True):
        world.users[name] = user

    r = await client.post(
        "/api/rewards",
        json={
            "name": "Rice, 5 kg",
            "price": 20,
            "stock": STOCK,
            "limit_per_person": 3,
            "pickup_place": "Community 1 service centre",
            "valid_until": (world.now + timedelta(days=365)).isoformat(),
            "community_ids": [world.areas["c1"].id],
        },
        headers=world.auth("unit_admin"),
    )
    assert r.status_code == 201, r.text
    reward_id = r.json()["id"]
    offers: dict[str, list[int]] = {name: [] for name in names}
    for _ in range(ORDERS):
        r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/api/orders/{r.json()['id']}/dispatch",
            json={"volunteer_ids": [world.id(n) for n in names], "mode": "pool"},
            headers=world.auth("grid_worker"),
        )
        assert r.status_code == 200, r.text
        for o in r.json()["offers"]:
            offers[next(n for n in names if world.id(n) == o["volunteer_id"])].append(o["id"])
    return names, reward_id, offers


@pytest.mark.long
async def test_killing_the_servers_under_load_loses_invents_and_doubles_nothing(
    world: World,
    database_url: str,
    session_maker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    cluster = Cluster(database_url, os.environ["MARKET_TEST_NOW"], tmp_path)
    rng = random.Random(SEED)
    outcomes = Outcomes()
    try:
        cluster.start()
        await cluster.wait_until_up()
        async with httpx.AsyncClient(base_url=cluster.url, timeout=ANSWER_SECONDS) as client:
            names, reward_id, offers = await _setup(world, session_maker, client)
            stop = asyncio.Event()
            members = [
                asyncio.create_task(
                    _member(
                        client,
                        world,
                        name,
                        [n for n in names if n != name],
                        offers[name],
                        reward_id,
                        outcomes,
                        random.Random(rng.random()),
                        stop,
                    )
                )
                for name in names
            ]
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(1.0, 3.0))
                cluster.kill()
                await asyncio.sleep(rng.uniform(0.1, 0.5))
                cluster.start()
                await cluster.wait_until_up()
            stop.set()
            await asyncio.gather(*members)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.kill()

    assert cluster.starts == KILLS + 1
    assert sum(outcomes.statuses.values()) >= 12 * CLIENTS, outcomes.statuses
    async with session_maker() as session:
        await _books_balance(session)
        await _nothing_oversold(session, outcomes)
        await _one_winner_per_order(session, outcomes)
        await _every_key_done_with_its_change_or_absent(session, outcomes)


async def _books_balance(session: AsyncSession) -> None:
    balance = await ledger.trial_balance(session, Asset.service, journal=True)
    assert balance.balanced, balance
    overdrawn = await session.scalar(
        select(func.count()).where(
            Account.debits_must_not_exceed_credits,
            Account.debits_pending + Account.debits_posted > Account.credits_posted,
        )
    )
    assert overdrawn == 0


async def _nothing_oversold(session: AsyncSession, outcomes: Outcomes) -> None:
    for reward in await session.scalars(select(Reward)):
        redemptions = list(await session.scalars(select(Redemption).where(Redemption.reward_id == reward.id)))
        held = sum(r.quantity for r in redemptions if r.status == RedemptionStatus.pending)
        fulfilled = sum(r.quantity for r in redemptions if r.status == RedemptionStatus.fulfilled)
        assert (reward.held, reward.fulfilled) == (held, fulfilled)
        assert held + fulfilled <= reward.stock
        for redemption in redemptions:
            hold = await session.get(Transfer, redemption.transfer_id)
            assert hold is not None and hold.amount == redemption.points
            if redemption.status == RedemptionStatus.pending:
                assert hold.pending_status == PendingStatus.pending
    # Each member holds exactly the redemptions they were told were made.
    made = Counter(user for user, status in outcomes.redemptions.values() if status == 201)
    held_by = Counter(
        dict(
            (
                await session.execute(select(Redemption.user_id, func.count()).group_by(Redemption.user_id))
            ).all()
        )
    )
    assert held_by == made


async def _one_winner_per_order(session: AsyncSession, outcomes: Outcomes) -> None:
    accepted = Counter(
        dict(
            (
                await session.execute(
                    select(Offer.order_id, func.count())
                    .where(Offer.status == OfferStatus.accepted)
                    .group_by(Offer.order_id)
                )
            ).all()
        )
    )
    assert max(accepted.values(), default=0) <= 1
    for order in await session.scalars(select(Order)):
        if order.status == OrderStatus.accepted:
            offer = await session.scalar(
                select(Offer).where(Offer.order_id == order.id, Offer.status == OfferStatus.accepted)
            )
            assert offer is not None and offer.volunteer_id == order.volunteer_id
        else:
            assert order.status == OrderStatus.dispatched and accepted[order.id] == 0
    for profile in await session.scalars(select(VolunteerProfile)):
        held = await session.scalar(
            select(func.count()).where(Order.volunteer_id == profile.user_id, Order.status.in_(HELD_STATUSES))
        )
        assert held <= profile.capacity
    told_accepted = {offer for offer, status in outcomes.accepts.values() if status == 200}
    stored_accepted = set(await session.scalars(select(Offer.id).where(Offer.status == OfferStatus.accepted)))
    assert told_accepted == stored_accepted


async def _every_key_done_with_its_change_or_absent(session: AsyncSession, outcomes: Outcomes) -> None:
    records = list(await session.scalars(select(IdempotencyRecord)))
    assert all(r.status_code is not None for r in records), "a key was left running"
    stored = {r.key: r for r in records}
    gifts = Counter(await session.scalars(select(Transfer.memo).where(Transfer.code == TransferCode.gift)))
    for key, status in outcomes.gifts.items():
        if status == 201:
            # Made once, and its key stored with it: a replay returns the very transfer.
            assert gifts[key] == 1, key
            assert json.loads(stored[key].body)["memo"] == key
        else:
            assert gifts[key] == 0 and key not in stored, key
    assert set(gifts) <= set(outcomes.gifts), "a gift nobody asked for"
    for key, (_, status) in (outcomes.redemptions | outcomes.accepts).items():
        assert (key in stored) == (status in (200, 201)), key

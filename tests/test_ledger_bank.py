"""The bank test: many clients move points at once and nothing is lost, invented or doubled.

Sixteen clients (asyncio tasks, each with its own engine, so its own connection and
transactions) send thousands of random transfers through the service layer
(`market.ledger.service.transfer`) between a few hot accounts and many cold ones:
single transfers, small batches, linked chains (some bound to fail), pending
transfers later posted or voided (sometimes by two clients at once, or in the batch
that created them), retries of batches already sent, concurrent retries of the same
ids from two clients, and same ids with different fields. A janitor expires pending
transfers whose short timeout has passed, as the scheduled job does.

On SQLite the transactions serialize (BEGIN IMMEDIATE + busy timeout); on PostgreSQL
(MARKET_TEST_DATABASE_URL) they really run in parallel under row locks.

Every transfer whose result was `created` or `exists` in a committed transaction is
acknowledged. At the end:
- the sum over all accounts is zero and the trial balance has no differences;
- no account with debits_must_not_exceed_credits is overdrawn, no counter is negative;
- every acknowledged transfer is stored exactly once, with the acknowledged fields,
  and was `created` exactly once; nothing unacknowledged is stored;
- each account's counters equal what the acknowledged transfers say, computed here
  independently of the engine; a pending transfer is settled at most once;
- member accounts' lots add up to their counters.

A client that hits a transient error (a concurrent insert of the same id, a deadlock,
a serialization failure, a busy SQLite) sends the same batch again, as a real client
would. MARKET_BANK_TRANSFERS sets how many transfers each client sends (default 150).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.areas.models import Area
from market.auth.models import Role, User, UserRole
from market.db import engine_for
from market.errors import Conflict
from market.ledger import service as ledger
from market.ledger.engine import SUCCESS, Draft, Result, expire_pending
from market.ledger.models import (
    Account,
    AccountKind,
    Asset,
    ExpiryPolicy,
    Lot,
    LotUse,
    PendingStatus,
    PointsPolicy,
    Transfer,
    TransferCode,
)
from tests.conftest import test_moment
from tests.world import World, password_hash

CLIENTS = 16
TRANSFERS_PER_CLIENT = int(os.environ.get("MARKET_BANK_TRANSFERS", "150"))
HOT_MEMBERS = 4
COLD_MEMBERS = 60
SEED = int(os.environ.get("MARKET_BANK_SEED", "20240601"))
MAX_ATTEMPTS = 30
TZ = ZoneInfo("Asia/Shanghai")
HUGE = 10**9  # more than anyone holds: the transfer (and its chain) must fail
_STARTED = time.monotonic()


def bank_now() -> datetime:
    """The suite's moment plus the real seconds since the bank opened: pending timeouts lapse while
    the clients run, whatever the hour the test runs at."""
    return test_moment() + timedelta(seconds=time.monotonic() - _STARTED)


@dataclass(frozen=True)
class Row:
    """What an acknowledged transfer must look like in ledger_transfers."""

    debit_account_id: int
    credit_account_id: int
    amount: int
    code: str
    reference: str
    memo: str
    pending: bool
    post_pending: bool
    void_pending: bool
    linked: bool
    pending_id: str | None
    timeout_seconds: int | None


ROW_FIELDS = tuple(Row.__dataclass_fields__)


@dataclass
class Race:
    """A batch one client offers to another, so that both send it at the same moment."""

    drafts: list[Draft]
    go: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Bank:
    engine_url: str
    hot: list[int]
    cold: list[int]
    pools: list[int]
    issuance: int
    sink: int
    acked: dict[str, Row] = field(default_factory=dict)
    created: Counter[str] = field(default_factory=Counter)
    created_at: dict[str, datetime] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    # Acknowledged pending transfers not known to be settled yet: any client may settle one.
    open_pendings: dict[str, Row] = field(default_factory=dict)
    settled_by: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    races: list[Race] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)
    transactions: int = 0
    races_joined: int = 0
    expired: int = 0
    janitor_now: datetime | None = None

    @property
    def members(self) -> list[int]:
        return self.hot + self.cold

    def expected(self, draft: Draft, earlier: dict[str, Row | None]) -> Row | None:
        """The row a draft stands for; a post or void takes what it leaves out from its pending
        (None: a settlement of a pending transfer never acknowledged, which cannot succeed)."""
        if draft.post_pending or draft.void_pending:
            pending = earlier.get(draft.pending_id) or self.acked.get(draft.pending_id)
            if pending is None:
                return None
            debit, credit = pending.debit_account_id, pending.credit_account_id
            amount = draft.amount if draft.amount is not None else pending.amount
            code = draft.code or pending.code
        else:
            debit, credit, amount, code = (
                draft.debit_account_id,
                draft.credit_account_id,
                draft.amount,
                draft.code,
            )
        return Row(
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            code=str(code),
            reference=draft.reference,
            memo=draft.memo,
            pending=draft.pending,
            post_pending=draft.post_pending,
            void_pending=draft.void_pending,
            linked=draft.linked,
            pending_id=draft.pending_id,
            timeout_seconds=draft.timeout_seconds,
        )


def transient(error: BaseException) -> str | None:
    """The errors a client answers by sending the same batch again."""
    if isinstance(error, Conflict):
        return error.code if error.code == "transfer_conflict" else None
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "pgcode", None) or getattr(error.orig, "sqlstate", None)
        if code == "40P01":
            return "deadlock"
        if code == "40001":
            return "serialization_failure"
        if "database is locked" in str(error):
            return "sqlite_busy"
    return None


def make_engine(url: str) -> AsyncEngine:
    engine = engine_for(url, pool_size=2, max_overflow=0)
    return engine


class Client:
    def __init__(self, bank: Bank, number: int, rng: random.Random) -> None:
        self.bank = bank
        self.number = number
        self.rng = rng
        self.engine = make_engine(bank.engine_url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.seq = 0
        self.sent = 0
        self.history: list[list[Draft]] = []

    # ---------------------------------------------------------------- sending

    async def submit(self, drafts: list[Draft]) -> list[str]:
        """Send a batch in one transaction until it commits; returns the results in order."""
        bank = self.bank
        ids = [d.id for d in drafts]
        for attempt in range(MAX_ATTEMPTS):
            known = {i for i in ids if i in bank.acked}
            now = bank_now()
            async with self.sessions() as session:
                try:
                    results = await ledger.transfer(session, drafts, now, TZ)
                except Exception as error:
                    await session.rollback()
                    if (kind := transient(error)) is None:
                        raise AssertionError(f"client {self.number}: {error!r} for {drafts}") from error
                    bank.retries[kind] += 1
                    await asyncio.sleep(self.rng.uniform(0, 0.002 * 2 ** min(attempt, 6)))
                    continue
                try:
                    await session.commit()
                except Exception as error:
                    # The outcome is unknown: the ids make sending the batch again safe.
                    bank.unknown.update(r.id for r in results if r.result in SUCCESS)
                    bank.retries[f"commit:{transient(error) or type(error).__name__}"] += 1
                    await asyncio.sleep(self.rng.uniform(0, 0.002 * 2 ** min(attempt, 6)))
                    continue
            bank.transactions += 1
            self._record(drafts, [r.result for r in results], [r.field for r in results], known, now)
            return [r.result for r in results]
        raise AssertionError(f"client {self.number}: no commit after {MAX_ATTEMPTS} attempts: {drafts}")

    def _record(
        self,
        drafts: list[Draft],
        results: list[str],
        fields_: list[str | None],
        known: set[str],
        now: datetime,
    ) -> None:
        bank = self.bank
        assert len(results) == len(drafts)
        # The batch committed: whatever an earlier attempt did is now known.
        bank.unknown.difference_update(d.id for d in drafts)
        earlier: dict[str, Row | None] = {}
        for draft, result, field_ in zip(drafts, results, fields_, strict=True):
            bank.results[result] += 1
            row = bank.expected(draft, earlier)
            earlier[draft.id] = row
            if draft.id in known:
                # Acknowledged before this batch was sent: the same fields can only find it again.
                assert result == Result.exists, (draft, result, field_)
            if result not in SUCCESS:
                if draft.pending_id and result in (
                    Result.pending_transfer_already_posted,
                    Result.pending_transfer_already_voided,
                    Result.pending_transfer_expired,
                ):
                    bank.open_pendings.pop(draft.pending_id, None)
                continue
            assert row is not None, (draft, result)
            if draft.id in bank.acked:
                assert bank.acked[draft.id] == row, (draft, bank.acked[draft.id], row)
            bank.acked[draft.id] = row
            if result == Result.created:
                bank.created[draft.id] += 1
                bank.created_at[draft.id] = now
                if draft.pending_id:
                    bank.settled_by[draft.pending_id].append(draft.id)
                    bank.open_pendings.pop(draft.pending_id, None)
                elif draft.pending:
                    bank.open_pendings[draft.id] = row

    # ---------------------------------------------------------------- drafts

    def new_id(self) -> str:
        self.seq += 1
        return f"bank-{self.number:02d}-{self.seq:05d}"

    def member(self) -> int:
        return self.rng.choice(self.bank.hot if self.rng.random() < 0.5 else self.bank.cold)

    def plain(self, *, linked: bool = False, huge: bool = False) -> Draft:
        rng, bank = self.rng, self.bank
        # A huge amount must fail, so it is never drawn on the street's (unguarded) issuance.
        kind = rng.choices(["gift", "reward", "redemption", "budget"], [70, 15, 10, 0 if huge else 5])[0]
        if kind == "gift":
            debit = self.member()
            credit = self.member()
            while credit == debit:
                credit = self.member()
            code, amount = TransferCode.gift, rng.randint(1, 60 if debit in bank.hot else 25)
        elif kind == "reward":
            debit, credit = rng.choice(bank.pools), self.member()
            code, amount = TransferCode.service_reward, rng.randint(1, 20)
        elif kind == "redemption":
            debit, credit = self.member(), bank.sink
            code, amount = TransferCode.redemption, rng.randint(1, 30)
        else:
            debit, credit = bank.issuance, rng.choice(bank.pools)
            code, amount = TransferCode.budget, rng.randint(100, 500)
        return Draft(
            id=self.new_id(),
            debit_account_id=debit,
            credit_account_id=credit,
            amount=HUGE if huge else amount,
            code=code,
            reference=f"bank:{self.number}",
            memo=f"{kind} {self.seq}",
            linked=linked,
        )

    def pending(self) -> Draft:
        rng, bank = self.rng, self.bank
        if rng.random() < 0.7:  # a redemption holds a member's points
            debit, credit, code = self.member(), bank.sink, TransferCode.redemption
        else:  # a reward held back by the pool
            debit, credit, code = rng.choice(bank.pools), self.member(), TransferCode.project_reward
        return Draft(
            id=self.new_id(),
            debit_account_id=debit,
            credit_account_id=credit,
            amount=rng.randint(1, 40),
            code=code,
            reference=f"bank:{self.number}",
            memo="hold",
            pending=True,
            timeout_seconds=rng.choice([None, None, 1, 2, 3600]),
        )

    def settle(self, pending_id: str, row: Row, *, post: bool | None = None) -> Draft:
        rng = self.rng
        post = rng.random() < 0.6 if post is None else post
        explicit = rng.random() < 0.3
        if post:
            amount = None if rng.random() < 0.5 else rng.randint(1, row.amount)
        else:
            amount = row.amount if explicit else None
        return Draft(
            id=self.new_id(),
            debit_account_id=row.debit_account_id if explicit else None,
            credit_account_id=row.credit_account_id if explicit else None,
            amount=amount,
            code=TransferCode(row.code) if explicit else None,
            reference=f"bank:{self.number}",
            memo="post" if post else "void",
            post_pending=post,
            void_pending=not post,
            pending_id=pending_id,
        )

    def pending_and_settle(self) -> list[Draft]:
        """A pending transfer settled in the batch that creates it."""
        hold = self.pending()
        row = self.bank.expected(hold, {})
        return [hold, self.settle(hold.id, row)]

    def chain(self) -> list[Draft]:
        rng = self.rng
        length = rng.randint(2, 4)
        doomed = rng.random() < 0.25
        bad = rng.randrange(length) if doomed else -1
        drafts = [self.plain(linked=True, huge=i == bad) for i in range(length)]
        if rng.random() < 0.05:  # now and then a chain left open at the end: all of it is refused
            return drafts
        drafts[-1] = replace(drafts[-1], linked=False)
        if rng.random() < 0.3:
            drafts = [self.plain(), *drafts] if rng.random() < 0.5 else [*drafts, self.plain()]
        return drafts

    def batch(self) -> list[Draft]:
        drafts: list[Draft] = []
        for _ in range(self.rng.randint(2, 8)):
            roll = self.rng.random()
            if roll < 0.15:
                drafts.append(self.pending())
            elif roll < 0.25:
                drafts.extend(self.pending_and_settle())
            else:
                drafts.append(self.plain(huge=self.rng.random() < 0.05))
        return drafts

    # ---------------------------------------------------------------- operations

    async def op_settle(self) -> list[Draft] | None:
        bank = self.bank
        if not bank.open_pendings:
            return None
        pending_id = self.rng.choice(list(bank.open_pendings))
        return [self.settle(pending_id, bank.open_pendings[pending_id])]

    async def op_resend(self) -> None:
        if not self.history:
            return
        drafts = self.rng.choice(self.history)
        self.bank.ops["resend"] += 1
        await self.submit(drafts)

    async def op_different(self) -> None:
        """An acknowledged id sent again with one field changed is refused, naming the field."""
        bank = self.bank
        mine = [
            d
            for batch in self.history
            for d in batch
            if d.id in bank.acked and not d.linked and not d.pending_id and d.amount is not None
        ]
        if not mine:
            return
        original = self.rng.choice(mine)
        changed, name = (
            ({"amount": original.amount + 1}, "amount")
            if self.rng.random() < 0.5
            else ({"memo": original.memo + "!"}, "memo")
        )
        draft = replace(original, **changed)
        bank.ops["different"] += 1
        now = bank_now()
        for attempt in range(MAX_ATTEMPTS):
            async with self.sessions() as session:
                try:
                    (result,) = await ledger.transfer(session, [draft], now, TZ)
                    await session.rollback()  # nothing to keep: a refusal changes nothing
                except Exception as error:
                    if (kind := transient(error)) is None:
                        raise
                    bank.retries[kind] += 1
                    await asyncio.sleep(self.rng.uniform(0, 0.002 * 2 ** min(attempt, 6)))
                    continue
            bank.results[result.result] += 1
            assert (result.result, result.field) == (Result.exists_with_different_fields, name), result
            return

    async def op_race(self) -> None:
        """Two clients send the same batch at the same moment; one creates, the other finds it."""
        bank = self.bank
        if bank.races and self.rng.random() < 0.6:
            race = bank.races.pop()
            race.go.set()
            bank.races_joined += 1
            bank.ops["race_join"] += 1
            await self.submit(race.drafts)
            return
        roll = self.rng.random()
        if roll < 0.4 or not bank.open_pendings:
            drafts = [self.plain()] if roll < 0.2 else self.batch()
        else:
            pending_id = self.rng.choice(list(bank.open_pendings))
            drafts = [self.settle(pending_id, bank.open_pendings[pending_id])]
        race = Race(drafts)
        bank.races.append(race)
        try:
            await asyncio.wait_for(race.go.wait(), 0.25)
        except TimeoutError:
            if race in bank.races:
                bank.races.remove(race)
        bank.ops["race_offer"] += 1
        self.history.append(drafts)
        self.sent += len(drafts)
        await self.submit(drafts)

    async def run(self) -> None:
        try:
            while self.sent < TRANSFERS_PER_CLIENT:
                op = self.rng.choices(
                    ["single", "batch", "chain", "pending", "settle", "resend", "race", "different"],
                    [30, 16, 12, 12, 12, 7, 8, 3],
                )[0]
                if op == "resend":
                    await self.op_resend()
                    continue
                if op == "race":
                    await self.op_race()
                    continue
                if op == "different":
                    await self.op_different()
                    continue
                drafts = {
                    "single": lambda: [self.plain(huge=self.rng.random() < 0.03)],
                    "batch": self.batch,
                    "chain": self.chain,
                    "pending": lambda: [self.pending()],
                }.get(op)
                batch = drafts() if drafts else await self.op_settle()
                if not batch:
                    continue
                self.bank.ops[op] += 1
                self.history.append(batch)
                self.sent += len(batch)
                await self.submit(batch)
        finally:
            await self.engine.dispose()


async def janitor(bank: Bank, done: asyncio.Event) -> None:
    """The expiry job, running alongside the clients; one last pass once they are done."""
    engine = make_engine(bank.engine_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        last = False
        while True:
            last = done.is_set()
            for _ in range(MAX_ATTEMPTS):
                now = bank_now()
                async with sessions() as session:
                    try:
                        expired = await expire_pending(session, now)
                        await session.commit()
                    except Exception as error:
                        if (kind := transient(error)) is None:
                            raise AssertionError(f"expire_pending: {error!r}") from error
                        await session.rollback()
                        bank.retries[f"janitor:{kind}"] += 1
                        continue
                bank.expired += expired
                bank.janitor_now = now
                break
            else:
                raise AssertionError("expire_pending never committed")
            if last:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.3)
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- set-up


async def open_bank(
    session_maker: async_sessionmaker[AsyncSession], world: World, database_url: str
) -> tuple[Bank, Client]:
    async with session_maker() as session, session.begin():
        people = [
            User(
                phone=f"1350000{i:04d}",
                name=f"Bank member {i}",
                password_hash=password_hash(),
                area_id=world.areas["c1_building" if i % 2 else "c2_building"].id,
                is_active=True,
                created_at=world.now,
                role_rows=[UserRole(role=Role.volunteer)],
            )
            for i in range(HOT_MEMBERS + COLD_MEMBERS)
        ]
        session.add_all(people)
        # Community 1 lets points expire, so its members' lots carry expiry dates.
        session.add(
            PointsPolicy(
                community_id=world.areas["c1"].id,
                rates={},
                default_rate=10,
                daily_cap=100,
                monthly_cap=1000,
                expiry=ExpiryPolicy.months,
                expiry_months=12,
                gift_max=200,
                gift_monthly_max=500,
            )
        )
        await session.flush()
        street: Area = world.areas["street"]
        issuance = await ledger.area_account(session, street, AccountKind.street_issuance, Asset.service)
        sink = await ledger.area_account(session, street, AccountKind.redemption_sink, Asset.service)
        pools = [
            await ledger.area_account(session, world.areas[c], AccountKind.community_pool, Asset.service)
            for c in ("c1", "c2")
        ]
        members = [await ledger.member_account(session, p.id) for p in people]
    assert all(m.debits_must_not_exceed_credits for m in members)
    assert all(p.debits_must_not_exceed_credits for p in pools)
    bank = Bank(
        engine_url=database_url,
        hot=[m.id for m in members[:HOT_MEMBERS]],
        cold=[m.id for m in members[HOT_MEMBERS:]],
        pools=[p.id for p in pools],
        issuance=issuance.id,
        sink=sink.id,
    )
    # Funding: the street issues budgets to the pools, the pools reward every member.
    funder = Client(bank, 99, random.Random(SEED))
    budgets = [
        Draft(
            id=f"fund-pool-{pool}",
            debit_account_id=bank.issuance,
            credit_account_id=pool,
            amount=100_000,
            code=TransferCode.budget,
            reference="bank:funding",
        )
        for pool in bank.pools
    ]
    assert await funder.submit(budgets) == [Result.created] * len(budgets)
    rewards = [
        Draft(
            id=f"fund-member-{member}",
            debit_account_id=bank.pools[n % 2],
            credit_account_id=member,
            amount=2_000 if member in bank.hot else 300,
            code=TransferCode.service_reward,
            reference="bank:funding",
        )
        for n, member in enumerate(bank.members)
    ]
    assert await funder.submit(rewards) == [Result.created] * len(rewards)
    return bank, funder


# ---------------------------------------------------------------- the test


@pytest.mark.long
async def test_bank_many_clients_random_transfers_conserve_every_point(
    session_maker: async_sessionmaker[AsyncSession], world: World, database_url: str
) -> None:
    bank, funder = await open_bank(session_maker, world, database_url)
    await funder.engine.dispose()

    started = time.perf_counter()
    done = asyncio.Event()
    clients = [Client(bank, n, random.Random(SEED + n)) for n in range(CLIENTS)]
    async with asyncio.TaskGroup() as group:
        expiry = group.create_task(janitor(bank, done))
        async with asyncio.TaskGroup() as workers:
            for c in clients:
                workers.create_task(c.run())
        done.set()
        await expiry
    elapsed = time.perf_counter() - started

    async with session_maker() as session:
        await check(session, bank)

    sent = sum(c.sent for c in clients)
    print(
        f"\nbank on {database_url.split(':', 1)[0]}: {CLIENTS} clients, {sent} transfers sent "
        f"in {bank.transactions} transactions, {elapsed:.1f} s; "
        f"{len(bank.acked)} acknowledged, {bank.expired} expired by the janitor, "
        f"{bank.races_joined} races joined\n  ops {dict(bank.ops)}\n  results {_plain(bank.results)}"
        f"\n  retries {dict(bank.retries) or 0}"
    )
    assert sent >= CLIENTS * TRANSFERS_PER_CLIENT
    if TRANSFERS_PER_CLIENT < 100:
        return  # too few to be sure every case came up
    # The mix really happened.
    for result in (
        Result.created,
        Result.exists,
        Result.exceeds_credits,
        Result.linked_event_failed,
        Result.exists_with_different_fields,
    ):
        assert bank.results[result] > 0, result
    assert any(bank.settled_by.values())


def _plain(counter: Counter[str]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(counter.items())}


async def check(session: AsyncSession, bank: Bank) -> None:
    accounts = {a.id: a for a in await session.scalars(select(Account))}
    rows = {t.id: t for t in await session.scalars(select(Transfer))}
    lots = list(await session.scalars(select(Lot)))
    uses = list(await session.scalars(select(LotUse)))

    # Conservation: the trial balance and, independently, the plain sum over all accounts.
    balance = await ledger.trial_balance(session, Asset.service, journal=True)
    assert balance.differences == []
    assert balance.balanced, balance
    assert sum(a.credits_posted - a.debits_posted for a in accounts.values()) == 0
    assert sum(a.credits_pending - a.debits_pending for a in accounts.values()) == 0
    assert balance.transfers == len(rows)

    # No overdrawn flagged account, no negative counter.
    for a in accounts.values():
        counters = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        assert min(counters) >= 0, (a.key, counters)
        if a.debits_must_not_exceed_credits:
            assert a.debits_pending + a.debits_posted <= a.credits_posted, (a.key, counters)

    # Exactly the acknowledged transfers are stored, each with the acknowledged fields.
    assert bank.unknown == set(), f"commit outcome unknown for {sorted(bank.unknown)}"
    assert set(rows) - set(bank.acked) == set(), "stored but never acknowledged"
    assert set(bank.acked) - set(rows) == set(), "acknowledged but not stored"
    assert {i for i, n in bank.created.items() if n != 1} == set(), "created more than once"
    assert set(bank.created) == set(rows), "stored without a `created` acknowledgement"
    for transfer_id, expected in bank.acked.items():
        stored = rows[transfer_id]
        actual = Row(**{f: getattr(stored, f) for f in ROW_FIELDS})
        assert actual == expected, (transfer_id, actual, expected)
        assert stored.timestamp == bank.created_at[transfer_id], transfer_id
        assert stored.asset == Asset.service

    # A pending transfer is settled at most once, and its status says how.
    final = bank.janitor_now
    assert final is not None
    for transfer_id, row in bank.acked.items():
        if not row.pending:
            continue
        stored = rows[transfer_id]
        settlements = bank.settled_by.get(transfer_id, [])
        assert len(settlements) <= 1, (transfer_id, settlements)
        if settlements:
            how = rows[settlements[0]]
            want = PendingStatus.posted if how.post_pending else PendingStatus.voided
            assert stored.pending_status == want, (transfer_id, stored.pending_status, want)
            assert how.amount <= row.amount
        elif stored.expires_at is not None and stored.expires_at <= final:
            assert stored.pending_status == PendingStatus.expired, (transfer_id, stored.pending_status)
        else:
            assert stored.pending_status == PendingStatus.pending, (transfer_id, stored.pending_status)

    # The counters, recomputed from the acknowledged transfers alone.
    want: defaultdict[int, Counter[str]] = defaultdict(Counter)
    for transfer_id, row in bank.acked.items():
        if row.void_pending:
            continue
        if row.pending:
            if rows[transfer_id].pending_status != PendingStatus.pending:
                continue  # posted (counted with its post), voided or expired
            side = "pending"
        else:
            side = "posted"
        want[row.debit_account_id][f"debits_{side}"] += row.amount
        want[row.credit_account_id][f"credits_{side}"] += row.amount
    for a in accounts.values():
        for name in ("debits_pending", "debits_posted", "credits_pending", "credits_posted"):
            assert getattr(a, name) == want[a.id][name], (a.key, name, getattr(a, name), want[a.id][name])

    # Member accounts: every posted credit made a lot; what is left in lots is what is available.
    lot_amount: Counter[int] = Counter()
    lot_left: Counter[int] = Counter()
    for lot in lots:
        lot_amount[lot.account_id] += lot.amount
        lot_left[lot.account_id] += lot.remaining
        assert 0 <= lot.remaining <= lot.amount
    for a in accounts.values():
        if a.kind == AccountKind.member:
            assert lot_amount[a.id] == a.credits_posted, a.key
            assert lot_left[a.id] == a.available, (a.key, lot_left[a.id], a.available)
    # …and each debit from a member took from lots exactly what it still holds or spent.
    taken: Counter[str] = Counter()
    for use in uses:
        assert use.amount >= 0
        taken[use.transfer_id] += use.amount
    for transfer_id, row in bank.acked.items():
        if accounts[row.debit_account_id].kind != AccountKind.member or row.pending_id:
            continue
        holds = row.amount
        if row.pending:
            status = rows[transfer_id].pending_status
            settlement = bank.settled_by.get(transfer_id)
            if status == PendingStatus.posted:
                holds = rows[settlement[0]].amount
            elif status != PendingStatus.pending:
                holds = 0
        assert taken[transfer_id] == holds, (transfer_id, taken[transfer_id], holds)


async def test_posting_a_pending_credit_gives_the_lot_the_community_expiry(
    session_maker: async_sessionmaker[AsyncSession], world: World
) -> None:
    now = world.now
    async with session_maker() as session, session.begin():
        session.add(
            PointsPolicy(
                community_id=world.areas["c1"].id,
                rates={},
                default_rate=10,
                daily_cap=100,
                monthly_cap=1000,
                expiry=ExpiryPolicy.months,
                expiry_months=12,
                gift_max=200,
                gift_monthly_max=500,
            )
        )
        street, c1 = world.areas["street"], world.areas["c1"]
        issuance = await ledger.area_account(session, street, AccountKind.street_issuance, Asset.service)
        pool = await ledger.area_account(session, c1, AccountKind.community_pool, Asset.service)
        member = await ledger.member_account(session, world.id("volunteer"))
        common = {"code": TransferCode.project_reward, "amount": 10}
        results = await ledger.transfer(
            session,
            [
                Draft(
                    id="budget",
                    debit_account_id=issuance.id,
                    credit_account_id=pool.id,
                    amount=100,
                    code=TransferCode.budget,
                ),
                Draft(id="direct", debit_account_id=pool.id, credit_account_id=member.id, **common),
                Draft(
                    id="hold", debit_account_id=pool.id, credit_account_id=member.id, pending=True, **common
                ),
            ],
            now,
            TZ,
        )
        assert [r.result for r in results] == [Result.created] * 3
    async with session_maker() as session, session.begin():
        (result,) = await ledger.transfer(
            session, [Draft(id="post", post_pending=True, pending_id="hold")], now, TZ
        )
        assert result.result == Result.created
    async with session_maker() as session:
        lots = (await session.execute(select(Lot.transfer_id, Lot.amount, Lot.expires_at))).all()
    # The post's points expire with the direct credit's, so they joined its lot (one lot per day).
    assert [(transfer_id, amount) for transfer_id, amount, _ in lots] == [("direct", 20)]
    assert lots[0].expires_at is not None

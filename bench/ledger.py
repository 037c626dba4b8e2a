"""Ledger throughput: transfers per second through the service layer, against raw inserts.

    .venv/bin/python bench/ledger.py [--database-url URL] [--transfers N] [--no-postgres]

For each database (a fresh SQLite file migrated with `market.migrate.upgrade`, and
PostgreSQL: by default postgresql+asyncpg://postgres@127.0.0.1:5432/bench_ledger when it
answers, created with `createdb` when missing; its `public` schema is dropped and
migrated again) and for each batch size (1 transfer per transaction, 100 and 1000 per
call), one client sends N random transfers (N/10 one per transaction) through
`market.ledger.service.transfer`, then writes the same rows with plain SQLAlchemy
Core: an INSERT of the ledger_transfers rows and one counter UPDATE per account
touched and, for member accounts, an INSERT of a lot use per transfer and one UPDATE
per lot touched, in as many transactions. Each figure is the median of --repeat runs,
service and raw interleaved. The ratio service ÷ raw is what the engine costs over the
bare writes (locks, reads of the accounts and transfers, idempotency checks, lots).

Two workloads: `unit` accounts (guarded, no lots: the engine alone) and `member`
accounts (guarded, credits kept as lots: a day's credits add up in one lot, every
debit inserts a lot use). Each member account holds one lot, the day's: the service
spends from it and adds to it, and the raw baseline writes the same lot uses and
lot updates. At the end the trial balance must still balance: the raw rows are
valid transfers too, and the run ends with the target: service ÷ raw at least
TARGET for batches of 100 and 1,000, both workloads, on each database measured.

Not part of the test suite (pytest collects only tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from market import migrate
from market.db import engine_for
from market.ledger import service as ledger
from market.ledger.engine import Draft, Result
from market.ledger.models import Account, AccountKind, Asset, Lot, LotUse, Transfer, TransferCode

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_ledger"
BATCHES = (1, 100, 1000)
ACCOUNTS = 1000
FUNDS = 10**9
TZ = ZoneInfo("Asia/Shanghai")
WORKLOADS = {"unit": AccountKind.unit, "member": AccountKind.member}
# What the engine should reach against raw inserts, for the batched figures.
TARGET = 0.5
TARGET_BATCHES = (100, 1000)


@dataclass
class Line:
    database: str
    workload: str
    batch: int
    transfers: int
    service: float
    raw: float

    @property
    def ratio(self) -> float:
        return self.service / self.raw


class Bench:
    def __init__(self, name: str, engine: AsyncEngine, transfers: int, repeat: int, seed: int) -> None:
        self.name = name
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.transfers = transfers
        self.repeat = repeat
        self.rng = random.Random(seed)
        self.serial = 0
        self.issuance = 0
        # Member accounts: each account's one lot, which the raw baseline spends from and adds to.
        self.lots: dict[int, int] = {}

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.serial:08d}"

    async def accounts(self, kind: AccountKind) -> list[int]:
        """ACCOUNTS guarded accounts of one kind, each funded from the issuance account."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            if not self.issuance:
                self.issuance = await conn.scalar(
                    insert(Account)
                    .values(**_account("service:street_issuance:bench", AccountKind.street_issuance, now))
                    .returning(Account.id)
                )
            await conn.execute(
                insert(Account),
                [_account(f"service:{kind}:bench:{i}", kind, now, guarded=True) for i in range(ACCOUNTS)],
            )
            ids = list(
                await conn.scalars(
                    select(Account.id).where(Account.kind == kind, Account.key.like("%:bench:%"))
                )
            )
        funding = [
            Draft(
                id=self.next_id("fund"),
                debit_account_id=self.issuance,
                credit_account_id=account,
                amount=FUNDS,
                code=TransferCode.budget,
            )
            for account in ids
        ]
        await self.service(funding)
        async with self.engine.connect() as conn:
            self.lots = dict(
                (await conn.execute(select(Lot.account_id, Lot.id).where(Lot.account_id.in_(ids)))).all()
            )
        assert not self.lots or len(self.lots) == len(ids), "a member account holds one lot"
        if self.engine.dialect.name == "postgresql":
            # Fresh tables have no statistics until autovacuum comes round, and without them
            # PostgreSQL reads the transfers by a sequential scan; a running database has them.
            async with self.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        return ids

    def drafts(self, accounts: list[int], count: int) -> list[Draft]:
        out = []
        for _ in range(count):
            debit, credit = self.rng.sample(accounts, 2)
            out.append(
                Draft(
                    id=self.next_id("t"),
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=self.rng.randint(1, 100),
                    code=TransferCode.gift,
                    reference="bench",
                )
            )
        return out

    async def service(self, drafts: list[Draft]) -> None:
        async with self.sessions() as session:
            results = await ledger.transfer(session, drafts, datetime.now(UTC), TZ)
            await session.commit()
        refused = Counter(r.result for r in results if r.result != Result.created)
        if refused:
            raise RuntimeError(f"the service refused transfers: {dict(refused)}")

    async def raw(self, drafts: list[Draft]) -> None:
        now = datetime.now(UTC)
        rows = [_row(d, now) for d in drafts]
        deltas: dict[int, list[int]] = {}
        for d in drafts:
            deltas.setdefault(d.debit_account_id, [0, 0])[0] += d.amount
            deltas.setdefault(d.credit_account_id, [0, 0])[1] += d.amount
        touched = sorted(deltas.items())
        async with self.engine.begin() as conn:
            await conn.execute(insert(Transfer.__table__), rows)
            if self.lots:
                uses = [
                    {
                        "lot_id": self.lots[row["debit_account_id"]],
                        "transfer_id": row["id"],
                        "amount": row["amount"],
                    }
                    for row in rows
                ]
                await conn.execute(insert(LotUse.__table__), uses)
                await conn.execute(
                    LOT_COUNTERS,
                    [{"lot": self.lots[a], "debits": dr, "credits": cr} for a, (dr, cr) in touched],
                )
            await conn.execute(
                COUNTERS, [{"account": a, "debits": dr, "credits": cr} for a, (dr, cr) in touched]
            )

    def batches(self, accounts: list[int], size: int, count: int) -> list[list[Draft]]:
        return [self.drafts(accounts, size) for _ in range(count // size)]

    async def timed(
        self, send: Callable[[list[Draft]], Awaitable[None]], batches: list[list[Draft]]
    ) -> float:
        started = time.perf_counter()
        for batch in batches:
            await send(batch)
        return sum(len(b) for b in batches) / (time.perf_counter() - started)

    async def run(self) -> list[Line]:
        lines = []
        for workload, kind in WORKLOADS.items():
            accounts = await self.accounts(kind)
            await self.timed(self.service, [self.drafts(accounts, 1) for _ in range(50)])  # warm-up
            await self.timed(self.raw, [self.drafts(accounts, 1) for _ in range(50)])
            for size in BATCHES:
                # One transfer per transaction is 10-50 times slower per transfer: send a tenth.
                wanted = self.transfers if size > 1 else max(1, self.transfers // 10)
                count = max(size, wanted // size * size)
                service, raw = [], []
                for _ in range(self.repeat):  # interleaved, so that a noisy moment hits both
                    service.append(await self.timed(self.service, self.batches(accounts, size, count)))
                    raw.append(await self.timed(self.raw, self.batches(accounts, size, count)))
                line = Line(
                    self.name, workload, size, count, statistics.median(service), statistics.median(raw)
                )
                print(_format(line), flush=True)
                lines.append(line)
        async with self.sessions() as session:
            balance = await ledger.trial_balance(session, Asset.service)
        if not balance.balanced:
            raise RuntimeError(f"the trial balance does not balance on {self.name}: {balance}")
        return lines


COUNTERS = (
    update(Account)
    .where(Account.id == bindparam("account"))
    .values(
        debits_posted=Account.debits_posted + bindparam("debits"),
        credits_posted=Account.credits_posted + bindparam("credits"),
    )
)


LOT_COUNTERS = (
    update(Lot)
    .where(Lot.id == bindparam("lot"))
    .values(
        amount=Lot.amount + bindparam("credits"),
        remaining=Lot.remaining + bindparam("credits") - bindparam("debits"),
    )
)


def _account(key: str, kind: AccountKind, now: datetime, *, guarded: bool = False) -> dict[str, object]:
    return {
        "key": key,
        "asset": Asset.service,
        "kind": kind,
        "user_id": None,
        "area_id": None,
        "area_code": "",
        "debits_must_not_exceed_credits": guarded,
        "debits_pending": 0,
        "debits_posted": 0,
        "credits_pending": 0,
        "credits_posted": 0,
        "created_at": now,
    }


def _row(d: Draft, now: datetime) -> dict[str, object]:
    return {
        "id": d.id.replace("t-", "r-", 1),
        "debit_account_id": d.debit_account_id,
        "credit_account_id": d.credit_account_id,
        "amount": d.amount,
        "asset": Asset.service,
        "code": d.code,
        "reference": d.reference,
        "memo": d.memo,
        "pending": False,
        "post_pending": False,
        "void_pending": False,
        "linked": False,
        "pending_id": None,
        "timeout_seconds": None,
        "expires_at": None,
        "pending_status": None,
        "reversal_of": None,
        "created_by_id": None,
        "timestamp": now,
    }


HEADER = (
    f"{'database':<11} {'workload':<8} {'batch':>5} {'transfers':>9} "
    f"{'service/s':>10} {'raw/s':>10} {'service÷raw':>11}"
)


def _format(line: Line) -> str:
    return (
        f"{line.database:<11} {line.workload:<8} {line.batch:>5} {line.transfers:>9} "
        f"{line.service:>10,.0f} {line.raw:>10,.0f} {line.ratio:>11.2f}"
    )


def _short(line: Line) -> str:
    return f"{line.database} {line.workload} {line.batch} {line.ratio:.2f}"


# ---------------------------------------------------------------- databases


async def _probe(url: str) -> str | None:
    """None when the database answers, else why not."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        await engine.dispose()


def _postgres_ready(url: str) -> str | None:
    """None when the database answers (created with createdb first when missing), else why not."""
    problem = asyncio.run(_probe(url))
    if problem is None or "does not exist" not in problem or not shutil.which("createdb"):
        return problem
    u = make_url(url)
    command = ["createdb", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432)]
    command += ["-U", u.username or "postgres", u.database or "bench_ledger"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"createdb failed: {done.stderr.strip()}"
    print(f"-- created {u.database}", flush=True)
    return asyncio.run(_probe(url))


async def _reset_postgres(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _bench(name: str, url: str, transfers: int, repeat: int, seed: int) -> list[Line]:
    engine = engine_for(url)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(
                text("SELECT sqlite_version()" if url.startswith("sqlite") else "SHOW server_version")
            )
        print(f"-- {name} {version}: {url}", flush=True)
        return await Bench(name, engine, transfers, repeat, seed).run()
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--database-url",
        help=f"PostgreSQL to measure besides SQLite (default {DEFAULT_POSTGRES}, when it answers); "
        "its public schema is dropped and migrated again. A sqlite URL replaces the temp file.",
    )
    parser.add_argument(
        "--transfers",
        type=int,
        default=1000,
        help="transfers per batched measurement (default 1000); one per transaction sends a tenth",
    )
    parser.add_argument("--repeat", type=int, default=3, help="measurements per figure; the median is shown")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--force-reset",
        action="store_true",
        help="allow dropping the schema of a PostgreSQL database not named bench*, "
        "or replacing an existing SQLite file",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    targets: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{Path(tmp) / 'ledger.db'}"
        postgres_url = None if args.no_postgres else DEFAULT_POSTGRES
        if args.database_url:
            if args.database_url.startswith("sqlite"):
                sqlite_url = args.database_url
            else:
                postgres_url = args.database_url
        sqlite_file = Path(sqlite_url.split("///", 1)[-1])
        if sqlite_file.exists():
            if not args.force_reset:
                print(f"Refusing to replace {sqlite_file}: pass --force-reset.", file=sys.stderr)
                return 2
            for suffix in ("", "-wal", "-shm"):
                sqlite_file.with_name(sqlite_file.name + suffix).unlink(missing_ok=True)
        targets.append(("sqlite", sqlite_url))
        if postgres_url:
            problem = _postgres_ready(postgres_url)
            database = make_url(postgres_url).database or ""
            if problem is None and not (database.startswith("bench") or args.force_reset):
                print(
                    f"Refusing to drop the schema of {database!r}: use a database named bench* "
                    "or pass --force-reset.",
                    file=sys.stderr,
                )
                return 2
            if problem is None:
                asyncio.run(_reset_postgres(postgres_url))
                targets.append(("postgresql", postgres_url))
            elif args.database_url:
                print(f"PostgreSQL at {postgres_url} is not usable: {problem}", file=sys.stderr)
                return 2
            else:
                print(f"-- skipping PostgreSQL ({postgres_url}): {problem}", flush=True)

        print(HEADER, flush=True)
        lines: list[Line] = []
        started = time.perf_counter()
        for name, url in targets:
            migrate.upgrade(url)
            lines += asyncio.run(_bench(name, url, args.transfers, args.repeat, args.seed))

    print(f"\n{HEADER}\n" + "\n".join(_format(line) for line in lines))
    targeted = [line for line in lines if line.batch in TARGET_BATCHES]
    missed = [line for line in targeted if line.ratio < TARGET]
    print(
        f"\ntarget service÷raw ≥ {TARGET} (batches {', '.join(map(str, TARGET_BATCHES))}): "
        + ("met by all" if not missed else "missed by " + "; ".join(_short(line) for line in missed))
        + " — "
        + ", ".join(_short(line) for line in targeted)
    )
    print(
        f"one client, sequential transactions, median of {args.repeat} runs; raw = Core INSERT of the "
        "transfer rows + one counter UPDATE per account touched (members: + a lot use INSERT per transfer "
        "and one UPDATE per lot touched), same batching; "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

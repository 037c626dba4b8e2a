"""The transfer engine: TigerBeetle's create_transfers on our own database.

A batch runs in three steps, as TigerBeetle runs one:

1. Read (`_load`): lock every account the batch touches, once and in id order (FOR UPDATE on
   PostgreSQL; on SQLite the transaction holds the write lock from BEGIN IMMEDIATE), so that
   concurrent batches cannot deadlock; then read, one statement each, the transfers the batch
   names (its own ids, for idempotency, and those it settles or reverses), their lot uses, and
   the lots it may spend or add to.
2. Decide (`_Batch`): check and apply each event against that state in memory. A linked chain
   that fails is undone in memory, so a rejected transfer changes nothing.
3. Write (`_write`): one multi-row INSERT each for the new transfers, lots and lot uses, and one
   UPDATE per table (executed for many rows at once) for the accounts, lots, lot uses and
   pending transfers that changed; on PostgreSQL the lot uses and the updates go as one array
   per column (`unnest`), a debit's lot use costing no statement execution of its own.

The state is plain dataclasses whose fields are the tables' columns, not ORM objects: the
session's unit of work would write them a row at a time. ORM objects the caller's session
already holds are brought up to date at the end (`_sync`).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import sync_loaded
from market.errors import Conflict
from market.ledger.models import (
    Account,
    AccountKind,
    AdjustmentReason,
    Asset,
    Lot,
    LotUse,
    PendingStatus,
    Transfer,
    TransferCode,
)
from market.ledger.schemas import TransferRequest, TransferResult

LOT_KINDS = frozenset({AccountKind.member})


class Result(enum.StrEnum):
    created = "created"
    exists = "exists"
    exists_with_different_fields = "exists_with_different_fields"
    exceeds_credits = "exceeds_credits"
    account_not_found = "account_not_found"
    accounts_must_be_different = "accounts_must_be_different"
    accounts_must_have_the_same_asset = "accounts_must_have_the_same_asset"
    flags_are_mutually_exclusive = "flags_are_mutually_exclusive"
    pending_id_required = "pending_id_required"
    pending_id_must_be_empty = "pending_id_must_be_empty"
    timeout_reserved_for_pending_transfer = "timeout_reserved_for_pending_transfer"
    amount_required = "amount_required"
    amount_must_be_positive = "amount_must_be_positive"
    code_required = "code_required"
    pending_transfer_not_found = "pending_transfer_not_found"
    pending_transfer_not_pending = "pending_transfer_not_pending"
    pending_transfer_has_different_accounts = "pending_transfer_has_different_accounts"
    pending_transfer_has_different_code = "pending_transfer_has_different_code"
    pending_transfer_already_posted = "pending_transfer_already_posted"
    pending_transfer_already_voided = "pending_transfer_already_voided"
    pending_transfer_expired = "pending_transfer_expired"
    exceeds_pending_amount = "exceeds_pending_amount"
    void_amount_must_match = "void_amount_must_match"
    linked_event_failed = "linked_event_failed"
    linked_event_chain_open = "linked_event_chain_open"


SUCCESS = frozenset({Result.created, Result.exists})


@dataclass(frozen=True)
class Draft:
    """One transfer to create, as the engine sees it."""

    id: str
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: int | None = None
    code: TransferCode | None = None
    reference: str = ""
    memo: str = ""
    reason: AdjustmentReason | None = None
    pending: bool = False
    post_pending: bool = False
    void_pending: bool = False
    linked: bool = False
    pending_id: str | None = None
    timeout_seconds: int | None = None
    # Set only by the service for reversals.
    reversal_of: str | None = None

    @classmethod
    def from_request(cls, r: TransferRequest) -> Draft:
        flags = set(r.flags)
        return cls(
            id=r.id,
            debit_account_id=r.debit_account_id,
            credit_account_id=r.credit_account_id,
            amount=r.amount,
            code=r.code,
            reference=r.reference,
            memo=r.memo,
            reason=r.reason,
            pending="pending" in flags,
            post_pending="post_pending" in flags,
            void_pending="void_pending" in flags,
            linked="linked" in flags,
            pending_id=r.pending_id,
            timeout_seconds=r.timeout_seconds,
        )


class _Failed(Exception):
    def __init__(self, result: Result, field: str | None = None) -> None:
        self.result = result
        self.field = field


# ---------------------------------------------------------------- the rows a batch works on


@dataclass(slots=True, eq=False)
class AccountState:
    """The columns of a ledger_accounts row that the engine reads and changes."""

    id: int
    asset: Asset
    kind: AccountKind
    area_id: int | None
    debits_must_not_exceed_credits: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(slots=True, eq=False)
class TransferState:
    """A ledger_transfers row."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    asset: Asset
    code: TransferCode
    reference: str
    memo: str
    reason: AdjustmentReason | None
    pending: bool
    post_pending: bool
    void_pending: bool
    linked: bool
    pending_id: str | None
    timeout_seconds: int | None
    expires_at: datetime | None
    pending_status: PendingStatus | None
    reversal_of: str | None
    created_by_id: int | None
    timestamp: datetime


@dataclass(slots=True, eq=False)
class LotState:
    """A ledger_lots row; `id` is None until the batch inserts it."""

    id: int | None
    account_id: int
    transfer_id: str
    amount: int
    remaining: int
    expires_at: datetime | None


@dataclass(slots=True, eq=False)
class LotUseState:
    """A ledger_lot_uses row, holding its lot itself: a lot made in the same batch has no id yet."""

    id: int | None
    lot: LotState
    transfer_id: str
    amount: int


ACCOUNTS, TRANSFERS, LOTS, LOT_USES = (model.__table__ for model in (Account, Transfer, Lot, LotUse))
# Each state's fields, read and written as the table's columns of the same names.
ACCOUNT_COLUMNS = [ACCOUNTS.c[f.name] for f in fields(AccountState)]
TRANSFER_COLUMNS = [TRANSFERS.c[f.name] for f in fields(TransferState)]
LOT_COLUMNS = [LOTS.c[f.name] for f in fields(LotState)]
TRANSFER_FIELDS = [c.name for c in TRANSFER_COLUMNS]
NEW_LOT_FIELDS = [c.name for c in LOT_COLUMNS if c.name != "id"]  # the database numbers new lots

# The columns a batch may change in a row it read, by kind of row.
CHANGEABLE: tuple[tuple[type, type, tuple[str, ...]], ...] = (
    (AccountState, Account, ("debits_pending", "debits_posted", "credits_pending", "credits_posted")),
    (LotState, Lot, ("amount", "remaining")),
    (LotUseState, LotUse, ("amount",)),
    (TransferState, Transfer, ("pending_status",)),
)

_MISSING = object()


@dataclass
class _Undo:
    """What the current chain changed in memory, to take back if it fails; and what the chains
    that succeeded made (`created`) and changed in rows read (`changed`), to write at the end."""

    # Each step is a function and its arguments (no closure per change: a batch makes thousands).
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    chain_created: list[Any] = field(default_factory=list)
    chain_changed: list[Any] = field(default_factory=list)
    created: list[Any] = field(default_factory=list)
    # Used as an ordered set: the rows keep the order in which they were first changed.
    changed: dict[Any, None] = field(default_factory=dict)

    def set(self, obj: Any, attr: str, value: Any) -> None:
        self.steps.append((setattr, obj, attr, getattr(obj, attr)))
        setattr(obj, attr, value)
        self.chain_changed.append(obj)

    def append(self, items: list[Any], item: Any) -> None:
        items.append(item)
        self.steps.append((list.remove, items, item))

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        old = mapping.get(key, _MISSING)
        mapping[key] = value
        self.steps.append(
            (dict.pop, mapping, key) if old is _MISSING else (dict.__setitem__, mapping, key, old)
        )

    def new(self, row: Any) -> None:
        self.chain_created.append(row)

    def rollback(self) -> None:
        for undo, *args in reversed(self.steps):
            undo(*args)
        self.steps.clear()
        self.chain_created.clear()
        self.chain_changed.clear()

    def commit(self) -> None:
        self.created.extend(self.chain_created)
        self.changed.update(dict.fromkeys(self.chain_changed))
        self.steps.clear()
        self.chain_created.clear()
        self.chain_changed.clear()


# Computes when a new lot on a member account expires (None: never). Credits that get the same
# expiry share one lot: the policies make it the end of a day, so a day's credits share one.
LotExpiry = Callable[[AccountState, datetime], datetime | None]
# Reads, under the batch's locks, the expiry rules of the batch's accounts (its callers' policies).
LotExpiryRules = Callable[[Iterable[AccountState]], Awaitable[LotExpiry]]


@dataclass
class _Batch:
    now: datetime
    created_by: int | None
    lot_expiry: LotExpiry
    accounts: dict[int, AccountState]
    transfers: dict[str, TransferState]
    # By account: its open lots if the batch may spend from it, and the lot it may add to.
    lots: dict[int, list[LotState]]
    lot_uses: dict[str, list[LotUseState]]
    undo: _Undo = field(default_factory=_Undo)

    # ---------------------------------------------------------------- validation

    def check(self, d: Draft) -> tuple[AccountState, AccountState, int, TransferCode, TransferState | None]:
        if sum((d.pending, d.post_pending, d.void_pending)) > 1:
            raise _Failed(Result.flags_are_mutually_exclusive)
        settles = d.post_pending or d.void_pending
        if settles and not d.pending_id:
            raise _Failed(Result.pending_id_required)
        if not settles and d.pending_id:
            raise _Failed(Result.pending_id_must_be_empty)
        if d.timeout_seconds is not None and not d.pending:
            raise _Failed(Result.timeout_reserved_for_pending_transfer)
        pending = None
        if settles:
            pending = self._pending(d)
            debit_id, credit_id = pending.debit_account_id, pending.credit_account_id
            amount = d.amount if d.amount is not None else pending.amount
            code = d.code or pending.code
        else:
            if d.amount is None:
                raise _Failed(Result.amount_required)
            if d.code is None:
                raise _Failed(Result.code_required)
            debit_id, credit_id, amount, code = d.debit_account_id, d.credit_account_id, d.amount, d.code
        if amount <= 0:
            raise _Failed(Result.amount_must_be_positive)
        debit = self.accounts.get(debit_id or 0)
        credit = self.accounts.get(credit_id or 0)
        if debit is None or credit is None:
            raise _Failed(Result.account_not_found)
        if debit.id == credit.id:
            raise _Failed(Result.accounts_must_be_different)
        if debit.asset != credit.asset:
            raise _Failed(Result.accounts_must_have_the_same_asset)
        if pending is not None:
            if d.post_pending and amount > pending.amount:
                raise _Failed(Result.exceeds_pending_amount)
            if d.void_pending and amount != pending.amount:
                raise _Failed(Result.void_amount_must_match)
        elif debit.debits_must_not_exceed_credits and (
            debit.debits_pending + debit.debits_posted + amount > debit.credits_posted
        ):
            raise _Failed(Result.exceeds_credits)
        return debit, credit, amount, code, pending

    def _pending(self, d: Draft) -> TransferState:
        pending = self.transfers.get(d.pending_id or "")
        if pending is None:
            raise _Failed(Result.pending_transfer_not_found)
        if not pending.pending:
            raise _Failed(Result.pending_transfer_not_pending)
        if (d.debit_account_id not in (None, pending.debit_account_id)) or (
            d.credit_account_id not in (None, pending.credit_account_id)
        ):
            raise _Failed(Result.pending_transfer_has_different_accounts)
        if d.code not in (None, pending.code):
            raise _Failed(Result.pending_transfer_has_different_code)
        if pending.pending_status == PendingStatus.posted:
            raise _Failed(Result.pending_transfer_already_posted)
        if pending.pending_status == PendingStatus.voided:
            raise _Failed(Result.pending_transfer_already_voided)
        if pending.pending_status == PendingStatus.expired or (
            pending.expires_at is not None and pending.expires_at <= self.now
        ):
            raise _Failed(Result.pending_transfer_expired)
        return pending

    # ---------------------------------------------------------------- effects

    def apply(self, d: Draft) -> None:
        debit, credit, amount, code, pending = self.check(d)
        transfer = TransferState(
            id=d.id,
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            amount=amount,
            asset=debit.asset,
            code=code,
            reference=d.reference,
            memo=d.memo,
            reason=d.reason,
            pending=d.pending,
            post_pending=d.post_pending,
            void_pending=d.void_pending,
            linked=d.linked,
            pending_id=d.pending_id,
            timeout_seconds=d.timeout_seconds,
            expires_at=self.now + timedelta(seconds=d.timeout_seconds) if d.timeout_seconds else None,
            pending_status=PendingStatus.pending if d.pending else None,
            reversal_of=d.reversal_of,
            created_by_id=self.created_by,
            timestamp=self.now,
        )
        u = self.undo
        u.new(transfer)
        u.put(self.transfers, transfer.id, transfer)
        if pending is None:
            side = "pending" if d.pending else "posted"
            u.set(debit, f"debits_{side}", getattr(debit, f"debits_{side}") + amount)
            u.set(credit, f"credits_{side}", getattr(credit, f"credits_{side}") + amount)
            if debit.kind in LOT_KINDS:
                self._spend_lots(debit, transfer, amount, d.reversal_of)
            if credit.kind in LOT_KINDS and not d.pending:
                self._credit_lots(credit, transfer, amount, d.reversal_of)
            return
        u.set(debit, "debits_pending", debit.debits_pending - pending.amount)
        u.set(credit, "credits_pending", credit.credits_pending - pending.amount)
        if d.post_pending:
            u.set(debit, "debits_posted", debit.debits_posted + amount)
            u.set(credit, "credits_posted", credit.credits_posted + amount)
            u.set(pending, "pending_status", PendingStatus.posted)
            if debit.kind in LOT_KINDS and amount < pending.amount:
                self._return_lots(pending, pending.amount - amount)
            if credit.kind in LOT_KINDS:
                self._credit_lots(credit, transfer, amount, None)
        else:
            self.release(pending, PendingStatus.voided, counters=False)

    def release(self, pending: TransferState, status: PendingStatus, *, counters: bool = True) -> None:
        """End a pending transfer without posting it (voided or expired): its points come back."""
        u = self.undo
        debit, credit = self.accounts[pending.debit_account_id], self.accounts[pending.credit_account_id]
        if counters:
            u.set(debit, "debits_pending", debit.debits_pending - pending.amount)
            u.set(credit, "credits_pending", credit.credits_pending - pending.amount)
        u.set(pending, "pending_status", status)
        if debit.kind in LOT_KINDS:
            self._return_lots(pending, pending.amount)

    def _open_lots(self, account: AccountState) -> list[LotState]:
        return self.lots.setdefault(account.id, [])

    def _spend_lots(
        self, account: AccountState, transfer: TransferState, amount: int, reversal_of: str | None
    ) -> None:
        """Earliest-expiring first; a reversal takes back first from the lot its original credited."""
        credited = self._lot_credited_by(reversal_of) if reversal_of else None
        lots = sorted(
            (lot for lot in self._open_lots(account) if lot.remaining > 0),
            key=lambda lot: (
                lot is not credited,
                lot.expires_at is None,
                lot.expires_at or self.now,
                lot.id or 0,
            ),
        )
        left = amount
        for lot in lots:
            if left == 0:
                break
            take = min(left, lot.remaining)
            self.undo.set(lot, "remaining", lot.remaining - take)
            use = LotUseState(id=None, lot=lot, transfer_id=transfer.id, amount=take)
            self.undo.new(use)
            self.undo.append(self.lot_uses.setdefault(transfer.id, []), use)
            left -= take
        # Accounts that hold points from before lots existed, or credits given back
        # without a lot, spend the rest untracked; the counters stay exact either way.

    def _lot_credited_by(self, transfer_id: str) -> LotState | None:
        """The open lot a credit's points went to: the lot it opened, or the lot of its account and
        expiry day it was added to (computed again from the transfer's moment)."""
        original = self.transfers.get(transfer_id)
        if original is None:
            return None
        account = self.accounts[original.credit_account_id]
        lots = self._open_lots(account)
        opened = next((lot for lot in lots if lot.transfer_id == transfer_id), None)
        if opened is not None:
            return opened
        expires_at = self.lot_expiry(account, original.timestamp)
        return next((lot for lot in lots if lot.expires_at == expires_at), None)

    def _return_lots(self, transfer: TransferState, amount: int) -> None:
        """Give back `amount` of what `transfer` took, the latest-expiring lots first."""
        left = amount
        uses = sorted(
            self.lot_uses.get(transfer.id, []),
            key=lambda u: (u.lot.expires_at is None, u.lot.expires_at or self.now),
            reverse=True,
        )
        for use in uses:
            if left == 0:
                break
            give = min(left, use.amount)
            self.undo.set(use.lot, "remaining", use.lot.remaining + give)
            self.undo.set(use, "amount", use.amount - give)
            left -= give

    def _credit_lots(
        self, account: AccountState, transfer: TransferState, amount: int, reversal_of: str | None
    ) -> None:
        if reversal_of is not None and self.lot_uses.get(reversal_of):
            # Reversing a spend gives back the very lots it took.
            self._return_lots(self.transfers[reversal_of], amount)
            return
        # One lot per account and expiry: credits that expire together add up in one lot.
        expires_at = self.lot_expiry(account, self.now)
        lots = self._open_lots(account)
        lot = next((lot for lot in lots if lot.expires_at == expires_at), None)
        if lot is None:
            lot = LotState(
                id=None,
                account_id=account.id,
                transfer_id=transfer.id,
                amount=0,
                remaining=0,
                expires_at=expires_at,
            )
            self.undo.new(lot)
            self.undo.append(lots, lot)
        self.undo.set(lot, "amount", lot.amount + amount)
        self.undo.set(lot, "remaining", lot.remaining + amount)


def _differing_field(d: Draft, t: TransferState, transfers: dict[str, TransferState]) -> str | None:
    """The first field in which a retry differs from the stored transfer (None: identical)."""
    pending = transfers.get(d.pending_id or "")
    if d.post_pending and d.amount is None and pending is not None and t.amount != pending.amount:
        return "amount"  # a post without an amount posts all of it; the stored one posted part
    for f in fields(Draft):
        value = getattr(d, f.name)
        if f.name in ("debit_account_id", "credit_account_id", "amount", "code") and value is None:
            continue  # left out of a post/void: taken from the pending transfer
        if f.name == "reversal_of":
            continue
        if value != getattr(t, f.name):
            return f.name
    return None


async def lock_accounts(session: AsyncSession, account_ids: Collection[int]) -> dict[int, Account]:
    """Lock these accounts, in id order, and read them afresh. Every posting locks all the accounts
    it touches this way, once, before it reads what it decides on: two postings that share accounts
    then queue in the same order and never deadlock. Locking again what a transaction holds is free."""
    return {
        a.id: a
        for a in await session.scalars(
            select(Account)
            .where(Account.id.in_(set(account_ids)))
            .order_by(Account.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }


# ---------------------------------------------------------------- reading and writing


async def _load(
    session: AsyncSession,
    *,
    spending: set[int],
    crediting: set[int],
    transfer_ids: set[str],
    settled_ids: set[str],
    now: datetime,
    lot_expiry_rules: LotExpiryRules,
    created_by: int | None,
) -> _Batch:
    """Lock the accounts (as `lock_accounts` does, as plain rows) and read, under those locks, the
    transfers, lot uses and lots the batch may touch: the open lots of the accounts it may spend
    from, the lots the transfers it settles took from, and the lot each account it credits may
    add to."""
    await session.flush()  # what the caller added, before the statements below see the tables
    locked, crediting = spending | crediting, set(crediting)
    if settled_ids:
        # A post or void may leave its accounts out: they are the pending transfer's.
        for debit_id, credit_id in await session.execute(
            select(TRANSFERS.c.debit_account_id, TRANSFERS.c.credit_account_id).where(
                TRANSFERS.c.id.in_(settled_ids)
            )
        ):
            locked |= {debit_id, credit_id}
            crediting.add(credit_id)
    accounts = {
        row.id: AccountState(*row)
        for row in await session.execute(
            select(*ACCOUNT_COLUMNS)
            .where(ACCOUNTS.c.id.in_(locked))
            .order_by(ACCOUNTS.c.id)
            .with_for_update()
        )
    }
    lot_expiry = await lot_expiry_rules(accounts.values())
    batch = _Batch(
        now=now,
        created_by=created_by,
        lot_expiry=lot_expiry,
        accounts=accounts,
        transfers={
            row.id: TransferState(*row)
            for row in await session.execute(
                select(*TRANSFER_COLUMNS).where(TRANSFERS.c.id.in_(transfer_ids | settled_ids))
            )
        },
        lots={},
        lot_uses={},
    )
    members = {a.id for a in accounts.values() if a.kind in LOT_KINDS}
    uses = (
        list(await session.execute(select(LOT_USES).where(LOT_USES.c.transfer_id.in_(settled_ids))))
        if members and settled_ids
        else []
    )
    wanted = []
    if spending & members:
        wanted.append(and_(LOTS.c.account_id.in_(spending & members), LOTS.c.remaining > 0))
    if uses:
        wanted.append(LOTS.c.id.in_({use.lot_id for use in uses}))
    expiries: dict[datetime | None, list[int]] = {}
    for account_id in crediting & members:
        expiries.setdefault(lot_expiry(accounts[account_id], now), []).append(account_id)
    for expires_at, account_ids in expiries.items():  # one per policy among the credited accounts
        same = LOTS.c.expires_at.is_(None) if expires_at is None else LOTS.c.expires_at == expires_at
        wanted.append(and_(LOTS.c.account_id.in_(account_ids), same))
    by_id = {}
    if wanted:
        for row in await session.execute(select(*LOT_COLUMNS).where(or_(*wanted)).order_by(LOTS.c.id)):
            lot = by_id[row.id] = LotState(*row)
            batch.lots.setdefault(lot.account_id, []).append(lot)
    for row in uses:
        use = LotUseState(id=row.id, lot=by_id[row.lot_id], transfer_id=row.transfer_id, amount=row.amount)
        batch.lot_uses.setdefault(use.transfer_id, []).append(use)
    return batch


async def _write(session: AsyncSession, batch: _Batch) -> None:
    """Insert what the batch made and update what it changed, a statement per table; then bring the
    ORM objects the session holds for those rows up to date."""
    created = batch.undo.created
    made = set(created)
    changed = [row for row in batch.undo.changed if row not in made]  # new rows go in as they end
    transfers = [row for row in created if isinstance(row, TransferState)]
    lots = [row for row in created if isinstance(row, LotState)]
    uses = [row for row in created if isinstance(row, LotUseState)]
    try:
        # In the tables' foreign-key order: transfers, then the lots they open, then the lot uses.
        if transfers:
            await session.execute(insert(TRANSFERS), [_values(t, TRANSFER_FIELDS) for t in transfers])
        if lots:
            ids = await session.scalars(
                insert(LOTS).returning(LOTS.c.id, sort_by_parameter_order=True),
                [_values(lot, NEW_LOT_FIELDS) for lot in lots],
            )
            for lot, lot_id in zip(lots, ids, strict=True):
                lot.id = lot_id
        if uses:
            await _insert(
                session,
                LOT_USES,
                {
                    "lot_id": [u.lot.id for u in uses],
                    "transfer_id": [u.transfer_id for u in uses],
                    "amount": [u.amount for u in uses],
                },
            )
    except IntegrityError as error:
        if not _is_unique_violation(error):
            raise
        raise Conflict(
            "Another request created a transfer with one of these ids at the same moment; "
            "send the batch again to see each transfer's result.",
            code="transfer_conflict",
        ) from error
    for kind, model, columns in CHANGEABLE:
        rows = [row for row in changed if isinstance(row, kind)]
        if rows:
            await _update(session, model.__table__, rows, columns)
        # The caller's ORM objects as read under the locks (as `lock_accounts` leaves them):
        # every account locked, and the other rows the batch changed.
        sync_loaded(session, model, list(batch.accounts.values()) if kind is AccountState else rows, columns)


async def _insert(session: AsyncSession, table: Table, columns: dict[str, list[Any]]) -> None:
    """Insert the rows given column by column (name: values) in one statement: on PostgreSQL an
    INSERT … SELECT from the arrays (`unnest`), one parameter per column rather than a row of them
    per row; SQLite runs the row-at-a-time form over all the rows in one executemany."""
    if session.bind.dialect.name != "postgresql":
        rows = zip(*columns.values(), strict=True)
        await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    new = _arrays(table, columns)
    await session.execute(
        insert(table).from_select(list(columns), select(*new.c)),
        {f"new_{name}": values for name, values in columns.items()},
    )


async def _update(session: AsyncSession, table: Table, rows: list[Any], columns: tuple[str, ...]) -> None:
    """Set these columns of these rows to the states' values in one statement: on PostgreSQL an
    UPDATE … FROM the arrays of new values (`unnest`); SQLite runs the row-at-a-time form over all
    the rows in one executemany, inside its own process."""
    if session.bind.dialect.name != "postgresql":
        await session.execute(
            update(table).where(table.c.id == bindparam("row_id")),
            [{"row_id": row.id, **_values(row, columns)} for row in rows],
        )
        return
    names = ("id", *columns)
    new = _arrays(table, names)
    await session.execute(
        update(table).where(table.c.id == new.c.id).values({name: new.c[name] for name in columns}),
        {f"new_{name}": [getattr(row, name) for row in rows] for name in names},
    )


def _arrays(table: Table, names: Iterable[str]) -> Any:
    """PostgreSQL: the rows of one array parameter per column (`new_<column>`), as the table `new`."""
    return (
        func.unnest(*(bindparam(f"new_{name}", type_=postgresql.ARRAY(table.c[name].type)) for name in names))
        .table_valued(*names)
        .render_derived(name="new")
    )


def _values(row: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _is_unique_violation(error: IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text


async def create_transfers(
    session: AsyncSession,
    drafts: Sequence[Draft],
    now: datetime,
    *,
    lot_expiry_rules: LotExpiryRules,
    created_by: int | None = None,
) -> list[TransferResult]:
    batch = await _load(
        session,
        spending={d.debit_account_id for d in drafts if d.debit_account_id},
        crediting={d.credit_account_id for d in drafts if d.credit_account_id},
        transfer_ids={d.id for d in drafts},
        settled_ids={d.pending_id for d in drafts if d.pending_id}
        | {d.reversal_of for d in drafts if d.reversal_of},
        now=now,
        lot_expiry_rules=lot_expiry_rules,
        created_by=created_by,
    )
    results: list[TransferResult] = []
    chain: list[Draft] = []
    for index, draft in enumerate(drafts):
        chain.append(draft)
        if draft.linked and index < len(drafts) - 1:
            continue
        results.extend(_run_chain(batch, chain, open_chain=draft.linked))
        chain = []
    await _write(session, batch)
    return results


async def expire_pending(session: AsyncSession, now: datetime) -> int:
    """Release pending transfers whose timeout has passed (TigerBeetle expires them by itself)."""
    due = set(
        await session.scalars(
            select(Transfer.id).where(
                Transfer.pending_status == PendingStatus.pending, Transfer.expires_at <= now
            )
        )
    )
    if not due:
        return 0
    batch = await _load(
        session,
        spending=set(),
        crediting=set(),
        transfer_ids=set(),
        settled_ids=due,
        now=now,
        lot_expiry_rules=_no_credits,
        created_by=None,
    )
    expired = 0
    for transfer_id in sorted(due):
        pending = batch.transfers[transfer_id]
        if pending.pending_status == PendingStatus.pending:  # not settled meanwhile
            batch.release(pending, PendingStatus.expired)
            expired += 1
    batch.undo.commit()
    await _write(session, batch)
    return expired


async def _no_credits(_accounts: Iterable[AccountState]) -> LotExpiry:
    """Expiring pending transfers credits nothing: no lot is opened."""
    return lambda _account, _at: None


def _run_chain(batch: _Batch, chain: list[Draft], *, open_chain: bool) -> list[TransferResult]:
    """Apply a chain (one transfer, or linked ones) all or nothing."""
    if open_chain:
        return [TransferResult(id=d.id, result=Result.linked_event_chain_open) for d in chain]
    results: list[TransferResult] = []
    for position, draft in enumerate(chain):
        try:
            existing = batch.transfers.get(draft.id)
            if existing is None:
                batch.apply(draft)
                results.append(TransferResult(id=draft.id, result=Result.created))
            elif (differing := _differing_field(draft, existing, batch.transfers)) is not None:
                raise _Failed(Result.exists_with_different_fields, differing)
            else:
                results.append(TransferResult(id=draft.id, result=Result.exists))
        except _Failed as failure:
            batch.undo.rollback()
            return [
                TransferResult(id=d.id, result=failure.result, field=failure.field)
                if i == position
                else TransferResult(id=d.id, result=Result.linked_event_failed)
                for i, d in enumerate(chain)
            ]
    batch.undo.commit()
    return results

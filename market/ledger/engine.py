"""The transfer engine: TigerBeetle's create_transfers on our own database.

A batch is processed under row locks on every account it touches (taken in id
order, so concurrent batches cannot deadlock). Each event is validated against
the in-memory state and applied; a linked chain that fails is undone in memory
before anything reaches the database, so a rejected transfer changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.errors import Conflict
from market.ledger.models import (
    Account,
    AccountKind,
    AdjustmentReason,
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


_MISSING = object()


@dataclass
class _Undo:
    """What the current chain changed in memory, to take back if it fails."""

    steps: list[Callable[[], None]] = field(default_factory=list)
    new_rows: list[Any] = field(default_factory=list)

    def set(self, obj: Any, attr: str, value: Any) -> None:
        old = getattr(obj, attr)
        self.steps.append(lambda: setattr(obj, attr, old))
        setattr(obj, attr, value)

    def append(self, items: list[Any], item: Any) -> None:
        items.append(item)
        self.steps.append(lambda: items.remove(item))

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        old = mapping.get(key, _MISSING)
        mapping[key] = value
        self.steps.append(lambda: mapping.pop(key) if old is _MISSING else mapping.__setitem__(key, old))

    def new(self, row: Any) -> None:
        self.new_rows.append(row)

    def rollback(self) -> None:
        for step in reversed(self.steps):
            step()
        self.steps.clear()
        self.new_rows.clear()

    def commit(self) -> list[Any]:
        rows, self.new_rows = self.new_rows, []
        self.steps.clear()
        return rows


# Computes when a new lot on a member account expires (None: never).
LotExpiry = Callable[[Account, datetime], datetime | None]


@dataclass
class _Batch:
    now: datetime
    created_by: int | None
    lot_expiry: LotExpiry
    accounts: dict[int, Account]
    transfers: dict[str, Transfer]
    lots: dict[int, list[Lot]]
    lot_uses: dict[str, list[LotUse]]
    undo: _Undo = field(default_factory=_Undo)

    # ---------------------------------------------------------------- validation

    def check(self, d: Draft) -> tuple[Account, Account, int, TransferCode, Transfer | None]:
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

    def _pending(self, d: Draft) -> Transfer:
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
        transfer = Transfer(
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

    def release(self, pending: Transfer, status: PendingStatus, *, counters: bool = True) -> None:
        """End a pending transfer without posting it (voided or expired): its points come back."""
        u = self.undo
        debit, credit = self.accounts[pending.debit_account_id], self.accounts[pending.credit_account_id]
        if counters:
            u.set(debit, "debits_pending", debit.debits_pending - pending.amount)
            u.set(credit, "credits_pending", credit.credits_pending - pending.amount)
        u.set(pending, "pending_status", status)
        if debit.kind in LOT_KINDS:
            self._return_lots(pending, pending.amount)

    def _open_lots(self, account: Account) -> list[Lot]:
        return self.lots.setdefault(account.id, [])

    def _spend_lots(self, account: Account, transfer: Transfer, amount: int, reversal_of: str | None) -> None:
        """Earliest-expiring first; a reversal takes back the lot its original created first."""
        lots = sorted(
            (lot for lot in self._open_lots(account) if lot.remaining > 0),
            key=lambda lot: (
                lot.transfer_id != reversal_of,
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
            use = LotUse(lot=lot, transfer_id=transfer.id, amount=take)
            self.undo.new(use)
            self.undo.append(self.lot_uses.setdefault(transfer.id, []), use)
            left -= take
        # Accounts that hold points from before lots existed, or credits given back
        # without a lot, spend the rest untracked; the counters stay exact either way.

    def _return_lots(self, transfer: Transfer, amount: int) -> None:
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
        self, account: Account, transfer: Transfer, amount: int, reversal_of: str | None
    ) -> None:
        if reversal_of is not None and self.lot_uses.get(reversal_of):
            # Reversing a spend gives back the very lots it took.
            self._return_lots(self.transfers[reversal_of], amount)
            return
        lot = Lot(
            account_id=account.id,
            transfer_id=transfer.id,
            amount=amount,
            remaining=amount,
            expires_at=self.lot_expiry(account, self.now),
        )
        self.undo.new(lot)
        self.undo.append(self._open_lots(account), lot)


def _differing_field(d: Draft, t: Transfer, transfers: dict[str, Transfer]) -> str | None:
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


async def _load(
    session: AsyncSession,
    *,
    account_ids: set[int],
    transfer_ids: set[str],
    settled_ids: set[str],
    now: datetime,
    lot_expiry: LotExpiry,
    created_by: int | None,
) -> _Batch:
    """Lock the accounts (in id order, so concurrent batches cannot deadlock) and read, under
    those locks, the transfers, lots and lot uses the batch may touch."""
    referenced = list(await session.scalars(select(Transfer).where(Transfer.id.in_(settled_ids))))
    account_ids = account_ids | {a for t in referenced for a in (t.debit_account_id, t.credit_account_id)}
    accounts = await lock_accounts(session, account_ids)
    transfers = {
        t.id: t
        for t in await session.scalars(
            select(Transfer)
            .where(or_(Transfer.id.in_(transfer_ids), Transfer.id.in_(settled_ids)))
            .execution_options(populate_existing=True)
        )
    }
    batch = _Batch(
        now=now,
        created_by=created_by,
        lot_expiry=lot_expiry,
        accounts=accounts,
        transfers=transfers,
        lots={},
        lot_uses={},
    )
    lot_accounts = [a.id for a in accounts.values() if a.kind in LOT_KINDS]
    if not lot_accounts:
        return batch
    uses = list(await session.scalars(select(LotUse).where(LotUse.transfer_id.in_(settled_ids))))
    lots = await session.scalars(
        select(Lot)
        .where(Lot.account_id.in_(lot_accounts), or_(Lot.remaining > 0, Lot.id.in_([u.lot_id for u in uses])))
        .execution_options(populate_existing=True)
    )
    by_id = {}
    for lot in lots:
        by_id[lot.id] = lot
        batch.lots.setdefault(lot.account_id, []).append(lot)
    for use in uses:
        use.lot = by_id[use.lot_id]
        batch.lot_uses.setdefault(use.transfer_id, []).append(use)
    return batch


async def _flush(session: AsyncSession, rows: list[Any]) -> None:
    try:
        # Transfers, then the lots they create, then the lot uses: the tables' foreign-key order,
        # which the unit of work cannot see (these models have no relationships between them).
        for kind in (Transfer, Lot, LotUse):
            session.add_all([row for row in rows if isinstance(row, kind)])
            await session.flush()
    except IntegrityError as error:
        if not _is_unique_violation(error):
            raise
        raise Conflict(
            "Another request created a transfer with one of these ids at the same moment; "
            "send the batch again to see each transfer's result.",
            code="transfer_conflict",
        ) from error


def _is_unique_violation(error: IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text


async def create_transfers(
    session: AsyncSession,
    drafts: Sequence[Draft],
    now: datetime,
    *,
    lot_expiry: LotExpiry,
    created_by: int | None = None,
) -> list[TransferResult]:
    batch = await _load(
        session,
        account_ids={a for d in drafts for a in (d.debit_account_id, d.credit_account_id) if a},
        transfer_ids={d.id for d in drafts},
        settled_ids={d.pending_id for d in drafts if d.pending_id}
        | {d.reversal_of for d in drafts if d.reversal_of},
        now=now,
        lot_expiry=lot_expiry,
        created_by=created_by,
    )
    results: list[TransferResult] = []
    chain: list[Draft] = []
    new_rows: list[Any] = []
    for index, draft in enumerate(drafts):
        chain.append(draft)
        if draft.linked and index < len(drafts) - 1:
            continue
        results.extend(_run_chain(batch, chain, open_chain=draft.linked, new_rows=new_rows))
        chain = []
    await _flush(session, new_rows)
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
        account_ids=set(),
        transfer_ids=set(),
        settled_ids=due,
        now=now,
        lot_expiry=lambda _account, _at: None,
        created_by=None,
    )
    expired = 0
    for transfer_id in sorted(due):
        pending = batch.transfers[transfer_id]
        if pending.pending_status == PendingStatus.pending:  # not settled meanwhile
            batch.release(pending, PendingStatus.expired)
            expired += 1
    await _flush(session, batch.undo.commit())
    return expired


def _run_chain(
    batch: _Batch, chain: list[Draft], *, open_chain: bool, new_rows: list[Any]
) -> list[TransferResult]:
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
    new_rows.extend(batch.undo.commit())
    return results

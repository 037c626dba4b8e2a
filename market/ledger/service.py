"""Accounts, policies and every flow that moves points, on top of the transfer engine."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, case, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, code_length, community_code_of, community_scope
from market.auth.access import Actor
from market.auth.models import Role, User
from market.auth.service import user_names
from market.db import lock_rows, upsert
from market.errors import Conflict, Forbidden, InvalidInput, NotFound
from market.ledger import authority
from market.ledger.accounts import (  # noqa: F401 - re-exported: the ledger's callers find them here
    area_account,
    get_or_create_account,
    open_area_accounts,
)
from market.ledger.engine import (
    SUCCESS,
    AccountState,
    Draft,
    LotExpiry,
    Result,
    create_transfers,
    lock_accounts,
)
from market.ledger.models import (
    DEFAULT_ADJUSTMENT_THRESHOLD,
    WITHHELD_SUFFIX,
    Account,
    AccountKind,
    Asset,
    ExpiryPolicy,
    Lot,
    OwedReward,
    OwedStatus,
    PendingStatus,
    PointsPolicy,
    StreetPolicy,
    Transfer,
    TransferCode,
    WithheldReason,
)
from market.ledger.schemas import (
    DEFAULT_DAILY_CAP,
    DEFAULT_GIFT_MAX,
    DEFAULT_GIFT_MONTHLY_MAX,
    DEFAULT_MONTHLY_CAP,
    DEFAULT_RATE,
    AccountDetail,
    AccountRead,
    AdjustmentRequest,
    BudgetRequest,
    Entry,
    Expiring,
    GiftRequest,
    PendingAdjustmentRead,
    PolicyRead,
    PolicyWrite,
    PoolRead,
    StreetPolicyRead,
    StreetPolicyWrite,
    TransferBatch,
    TransferRead,
    TransferResult,
    TrialBalance,
    TrialBalanceLine,
)
from market.pagination import page_total
from market.privacy import mask_name

STREET = code_length(AreaLevel.street)


# ---------------------------------------------------------------- accounts


async def member_account(session: AsyncSession, user_id: int, asset: Asset = Asset.service) -> Account:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.", code="user_not_found")
    home = await session.get(Area, user.area_id) if user.area_id else None
    community_code = community_code_of(home.code) if home else None
    community = (
        await session.scalar(select(Area).where(Area.code == community_code)) if community_code else None
    )
    return await get_or_create_account(
        session,
        f"{asset}:{AccountKind.member}:user:{user_id}",
        asset=asset,
        kind=AccountKind.member,
        user_id=user_id,
        area_id=community.id if community else None,
        area_code=home.code if home else "",
        debits_must_not_exceed_credits=True,
        created_at=func.now(),
    )


async def community_of(session: AsyncSession, area_code: str) -> Area:
    code = community_code_of(area_code)
    community = await session.scalar(select(Area).where(Area.code == code)) if code else None
    if community is None:
        raise InvalidInput("That place is not inside a community.", code="not_in_a_community")
    return community


async def street_of(session: AsyncSession, area_code: str) -> Area:
    street = await session.scalar(select(Area).where(Area.code == area_code[:STREET]))
    if street is None:
        raise InvalidInput("That place is not inside a street.", code="not_in_a_street")
    return street


# ---------------------------------------------------------------- policies and lots


async def policy_for(session: AsyncSession, community_id: int) -> PointsPolicy:
    policy = await session.get(PointsPolicy, community_id)
    return policy or PointsPolicy(
        community_id=community_id,
        rates={},
        default_rate=DEFAULT_RATE,
        daily_cap=DEFAULT_DAILY_CAP,
        monthly_cap=DEFAULT_MONTHLY_CAP,
        expiry=ExpiryPolicy.none,
        expiry_months=None,
        gift_max=DEFAULT_GIFT_MAX,
        gift_monthly_max=DEFAULT_GIFT_MONTHLY_MAX,
    )


def lot_expires_at(policy: PointsPolicy | None, earned: datetime, tz: ZoneInfo) -> datetime | None:
    if policy is None or policy.expiry == ExpiryPolicy.none:
        return None
    local = earned.astimezone(tz)
    if policy.expiry == ExpiryPolicy.end_of_next_year:
        return datetime(local.year + 2, 1, 1, tzinfo=tz)
    months = local.month - 1 + (policy.expiry_months or 12)
    year, month = local.year + months // 12, months % 12 + 1
    day = min(local.day, _days_in_month(year, month))
    # At the end of that day, so that a day's credits share one lot.
    return datetime(year, month, day, tzinfo=tz) + timedelta(days=1)


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


async def transfer(
    session: AsyncSession, drafts: Sequence[Draft], now: datetime, tz: ZoneInfo, created_by: int | None = None
) -> list[TransferResult]:
    """Run drafts through the engine with each community's expiry policy for new lots."""

    async def lot_expiry(accounts: Iterable[AccountState]) -> LotExpiry:
        # Read under the engine's locks, from the accounts it locked (a post names its accounts
        # only through the pending transfer): the policies of the members' communities.
        communities = {
            a.area_id
            for a in accounts
            if a.kind == AccountKind.member and a.asset == Asset.service and a.area_id is not None
        }
        policies = (
            {
                p.community_id: p
                for p in await session.scalars(
                    select(PointsPolicy).where(PointsPolicy.community_id.in_(communities))
                )
            }
            if communities
            else {}
        )

        def expiry(account: AccountState, at: datetime) -> datetime | None:
            if account.asset != Asset.service:
                return None  # credit points are a record, they never expire
            return lot_expires_at(policies.get(account.area_id), at, tz)

        return expiry

    return await create_transfers(session, drafts, now, lot_expiry_rules=lot_expiry, created_by=created_by)


async def transfer_one(
    session: AsyncSession, draft: Draft, now: datetime, tz: ZoneInfo, created_by: int | None = None
) -> TransferResult:
    (result,) = await transfer(session, [draft], now, tz, created_by)
    return result


def refuse(result: TransferResult, what: str) -> None:
    """Turn an engine refusal into a problem a person can act on."""
    if result.result in SUCCESS:
        return
    if result.result == Result.exceeds_credits:
        raise Conflict(f"{what}: not enough points.", code="exceeds_credits")
    raise Conflict(f"{what}: {result.result.replace('_', ' ')}.", code=result.result)


# ---------------------------------------------------------------- reading


def _scope(stmt: Select, actor: Actor) -> Select:
    if actor.is_admin:
        return stmt
    if actor.is_manager:
        return stmt.where(or_(Account.area_code.startswith(actor.area_code), Account.user_id == actor.id))
    return stmt.where(Account.user_id == actor.id)


async def _owner_names(session: AsyncSession, accounts: Sequence[Account]) -> dict[int, str]:
    users = await user_names(session, {a.user_id for a in accounts if a.user_id})
    areas = dict(
        (
            await session.execute(
                select(Area.id, Area.name).where(Area.id.in_({a.area_id for a in accounts if a.area_id}))
            )
        ).all()
    )
    return {
        a.id: users.get(a.user_id, "")
        if a.user_id
        else f"{areas.get(a.area_id, '')} {a.kind.replace('_', ' ')}"
        for a in accounts
    }


def _account_read(a: Account, owner: str) -> AccountRead:
    return AccountRead(
        id=a.id,
        key=a.key,
        asset=a.asset,
        kind=a.kind,
        user_id=a.user_id,
        area_id=a.area_id,
        owner_name=owner,
        debits_pending=a.debits_pending,
        debits_posted=a.debits_posted,
        credits_pending=a.credits_pending,
        credits_posted=a.credits_posted,
        balance=a.balance,
        pending_in=a.credits_pending,
        pending_out=a.debits_pending,
        available=a.available,
    )


async def list_accounts(
    session: AsyncSession,
    actor: Actor,
    *,
    user_id: int | None,
    kind: AccountKind | None,
    asset: Asset | None,
    limit: int,
    offset: int,
    q: str | None = None,
) -> tuple[list[AccountRead], int]:
    if user_id is not None and user_id == actor.id:
        for wanted in Asset:  # a member's own accounts exist from their first look
            await member_account(session, actor.id, wanted)
    stmt = _scope(select(Account), actor)
    if user_id is not None:
        stmt = stmt.where(Account.user_id == user_id)
    if kind is not None:
        stmt = stmt.where(Account.kind == kind)
    if asset is not None:
        stmt = stmt.where(Account.asset == asset)
    if q:
        # Part of the owner's name: a member's name or phone, or the street's or community's name.
        stmt = (
            stmt.outerjoin(User, User.id == Account.user_id)
            .outerjoin(Area, Area.id == Account.area_id)
            .where(
                User.name.contains(q, autoescape=True)
                | User.phone.contains(q, autoescape=True)
                | (Account.user_id.is_(None) & Area.name.contains(q, autoescape=True))
            )
        )
    accounts = list(await session.scalars(stmt.order_by(Account.id).limit(limit).offset(offset)))
    total = await page_total(session, stmt, limit, offset, len(accounts))
    names = await _owner_names(session, accounts)
    return [_account_read(a, names[a.id]) for a in accounts], total


async def visible_account(session: AsyncSession, actor: Actor, account_id: int) -> Account:
    account = await session.scalar(_scope(select(Account).where(Account.id == account_id), actor))
    if account is None:
        raise NotFound(f"Account {account_id} does not exist.", code="account_not_found")
    return account


async def get_account(session: AsyncSession, actor: Actor, account_id: int) -> AccountDetail:
    account = await visible_account(session, actor, account_id)
    names = await _owner_names(session, [account])
    rows = (
        await session.execute(
            select(Lot.expires_at, func.sum(Lot.remaining))
            .where(Lot.account_id == account.id, Lot.remaining > 0, Lot.expires_at.is_not(None))
            .group_by(Lot.expires_at)
            .order_by(Lot.expires_at)
        )
    ).all()
    read = _account_read(account, names[account.id])
    return AccountDetail(
        **{f: getattr(read, f) for f in read.__struct_fields__},
        expiring=[Expiring(expires_at=at, amount=int(amount)) for at, amount in rows],
    )


def transfer_status(t: Transfer | Row) -> str:
    if t.pending:
        return str(t.pending_status)
    return "voided" if t.void_pending else "posted"


def transfer_read(t: Transfer) -> TransferRead:
    flags = [f for f in ("pending", "post_pending", "void_pending", "linked") if getattr(t, f)]
    return TransferRead(
        id=t.id,
        debit_account_id=t.debit_account_id,
        credit_account_id=t.credit_account_id,
        amount=t.amount,
        asset=t.asset,
        code=t.code,
        reference=t.reference,
        memo=t.memo,
        reason=t.reason,
        flags=flags,
        pending_id=t.pending_id,
        pending_status=t.pending_status,
        expires_at=t.expires_at,
        reversal_of=t.reversal_of,
        timestamp=t.timestamp,
    )


async def entries(
    session: AsyncSession,
    actor: Actor,
    account_id: int,
    *,
    code: TransferCode | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Entry], int]:
    account = await visible_account(session, actor, account_id)
    stmt = _entries_query(account.id, code, since, until)
    transfers = (await session.execute(_newest_first(stmt).offset(offset).limit(limit))).all()
    total = await page_total(session, stmt, limit, offset, len(transfers))
    return await _entries_of(session, actor, account.id, transfers), total


async def stream_entries(
    session: AsyncSession,
    actor: Actor,
    account_id: int,
    *,
    code: TransferCode | None,
    since: datetime | None,
    until: datetime | None,
    batch: int = 500,
) -> AsyncIterator[list[Entry]]:
    """Every entry of a statement, newest first, `batch` at a time, read with a server-side cursor:
    a download of any length never holds the whole statement. The caller has checked that the
    account is visible (`visible_account`)."""
    stmt = _newest_first(_entries_query(account_id, code, since, until)).execution_options(yield_per=batch)
    result = await session.stream(stmt)
    names: dict[int, str] = {}  # a statement names the same few counterparties again and again
    async for transfers in result.partitions():
        yield await _entries_of(session, actor, account_id, transfers, names)


def _entries_query(
    account_id: int, code: TransferCode | None, since: datetime | None, until: datetime | None
) -> Select:
    # The columns a statement shows, as plain rows: no ORM object per entry.
    stmt = select(*STATEMENT_COLUMNS).where(
        or_(Transfer.debit_account_id == account_id, Transfer.credit_account_id == account_id)
    )
    if code is not None:
        stmt = stmt.where(Transfer.code == code)
    if since is not None:
        stmt = stmt.where(Transfer.timestamp >= since)
    if until is not None:
        stmt = stmt.where(Transfer.timestamp < until)
    return stmt


STATEMENT_COLUMNS = (
    Transfer.id,
    Transfer.timestamp,
    Transfer.code,
    Transfer.debit_account_id,
    Transfer.credit_account_id,
    Transfer.amount,
    Transfer.pending,
    Transfer.pending_status,
    Transfer.void_pending,
    Transfer.reference,
    Transfer.memo,
)


def _newest_first(stmt: Select) -> Select:
    return stmt.order_by(Transfer.timestamp.desc(), Transfer.id.desc())


async def _entries_of(
    session: AsyncSession,
    actor: Actor,
    account_id: int,
    transfers: Sequence[Row],
    names: dict[int, str] | None = None,
) -> list[Entry]:
    """Transfers as the account's statement shows them, with the other side's owner named: another
    member's name masked unless the reader manages where they live (a gift says who, not in full).
    `names`: the counterparties named so far, by account id; those missing are read and added."""

    def other(t: Row) -> int:
        return t.credit_account_id if t.debit_account_id == account_id else t.debit_account_id

    names = {} if names is None else names
    if missing := {other(t) for t in transfers} - names.keys():
        others = list(await session.scalars(select(Account).where(Account.id.in_(missing))))
        found = await _owner_names(session, others)
        for a in others:
            if a.user_id is not None and a.user_id != actor.id and not actor.manages(a.area_code):
                found[a.id] = mask_name(found[a.id])
        names.update(found)
    return [
        Entry(
            transfer_id=t.id,
            timestamp=t.timestamp,
            code=t.code,
            side="debit" if t.debit_account_id == account_id else "credit",
            amount=t.amount,
            status=transfer_status(t),
            counterparty_account_id=other(t),
            counterparty=names.get(other(t), ""),
            reference=t.reference,
            memo=t.memo,
        )
        for t in transfers
    ]


async def trial_balance(
    session: AsyncSession, asset: Asset, actor: Actor | None = None, *, journal: bool = False
) -> TrialBalance:
    """The sum over all accounts of their counters: those the actor's area holds (a street admin's
    street; every account for admins and the system). The engine keeps each account's counters as
    the sums of its transfers; `journal` also checks that against the journal, which reads every
    transfer of the accounts (without it, `transfers` and `differences` are None: not checked)."""
    stmt = select(Account).where(Account.asset == asset)
    if actor is not None:
        stmt = _scope(stmt, actor)
    sums = stmt.with_only_columns(
        func.count(),
        func.coalesce(func.sum(Account.credits_posted - Account.debits_posted), 0),
        func.coalesce(func.sum(Account.credits_pending - Account.debits_pending), 0),
    )
    accounts, posted_sum, pending_sum = (await session.execute(sums)).one()
    transfers, differences = None, None
    if journal:
        scoped = actor is not None and not actor.is_admin
        transfers, differences = await _journal_check(
            session,
            asset,
            list(await session.scalars(stmt.order_by(Account.id))),
            stmt.with_only_columns(Account.id) if scoped else None,
        )
    return TrialBalance(
        asset=asset,
        accounts=accounts,
        transfers=transfers,
        posted_sum=int(posted_sum),
        pending_sum=int(pending_sum),
        balanced=posted_sum == 0 and pending_sum == 0 and not differences,
        differences=differences,
    )


class JournalMismatch(Exception):
    """Account counters that differ from the sums of their transfers: a failed run of `check_journal`."""


async def check_journal(session: AsyncSession, _now: datetime) -> int:
    """The scheduled check behind the trial balance, which reads the counters alone: every account's
    counters against the sums of its transfers. A difference fails the run, naming the accounts;
    otherwise it counts the transfers checked."""
    checked = 0
    for asset in Asset:
        balance = await trial_balance(session, asset, journal=True)
        if balance.differences:
            raise JournalMismatch(
                f"{asset}: "
                + ", ".join(f"{d.key} {d.field} {d.counter} != {d.journal}" for d in balance.differences)
            )
        checked += balance.transfers or 0
    return checked


async def _journal_check(
    session: AsyncSession, asset: Asset, accounts: list[Account], ids: Select | None
) -> tuple[int, list[TrialBalanceLine]]:
    """How many transfers touch the accounts (those `ids` selects; None: all), and each account's
    counters that differ from the sums of its transfers. The ids stay a subquery: a street holds
    more accounts than a statement takes parameters."""
    posted = ~Transfer.pending & ~Transfer.void_pending
    still_pending = Transfer.pending & (Transfer.pending_status == PendingStatus.pending)
    journal: dict[tuple[int, str], int] = {}
    for side, column in (("debits", Transfer.debit_account_id), ("credits", Transfer.credit_account_id)):
        rows = await session.execute(
            select(
                column,
                func.coalesce(func.sum(case((posted, Transfer.amount), else_=0)), 0),
                func.coalesce(func.sum(case((still_pending, Transfer.amount), else_=0)), 0),
            )
            .where(Transfer.asset == asset, True if ids is None else column.in_(ids))
            .group_by(column)
        )
        for account_id, posted_sum, pending_sum in rows:
            journal[(account_id, f"{side}_posted")] = int(posted_sum)
            journal[(account_id, f"{side}_pending")] = int(pending_sum)
    differences = [
        TrialBalanceLine(
            account_id=a.id,
            key=a.key,
            field=name,
            counter=getattr(a, name),
            journal=journal.get((a.id, name), 0),
        )
        for a in accounts
        for name in ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
        if getattr(a, name) != journal.get((a.id, name), 0)
    ]
    touches = (
        True if ids is None else or_(Transfer.debit_account_id.in_(ids), Transfer.credit_account_id.in_(ids))
    )
    transfers = await session.scalar(select(func.count()).where(Transfer.asset == asset, touches)) or 0
    return transfers, differences


# ---------------------------------------------------------------- people moving points


async def submit_batch(
    session: AsyncSession, actor: Actor, batch: TransferBatch, now: datetime, tz: ZoneInfo
) -> list[TransferResult]:
    """Budgets and adjustments, and posts and voids of pending ones, as the authority table allows:
    a batch with any transfer the caller may not make is refused as a whole."""
    drafts = [_with_hold(Draft.from_request(r)) for r in batch.transfers]
    refused = await _refusals(session, actor, drafts, now)
    if refused:
        raise Forbidden(
            "Some transfers are not yours to make: "
            + "; ".join(f"{d.id}: {authority.REFUSAL_DETAIL[r]}" for d, r in refused),
            code="transfer_not_permitted",
            transfers=[{"id": d.id, "code": r} for d, r in refused],
        )
    return await transfer(session, drafts, now, tz, actor.id)


def _with_hold(d: Draft) -> Draft:
    """A pending adjustment waits ADJUSTMENT_HOLD for its second manager unless it says less."""
    if d.code == TransferCode.adjustment and d.pending and d.timeout_seconds is None:
        return replace(d, timeout_seconds=int(authority.ADJUSTMENT_HOLD.total_seconds()))
    return d


class _Settled(NamedTuple):
    """What a post or void settles: a stored pending transfer or one made earlier in the batch."""

    code: TransferCode
    debit_account_id: int | None
    credit_account_id: int | None
    maker_id: int | None


async def adjusted_alone(session: AsyncSession, actor: Actor, now: datetime) -> int:
    """Points the actor adjusted alone (posted at once, either way) within the authority's window.
    Their own user row is locked first, so that two adjustments of theirs at once queue here and
    cannot both fit under the threshold (FOR NO KEY UPDATE: transfers naming them still insert)."""
    await lock_rows(session, select(User.id).where(User.id == actor.id).with_for_update(key_share=True))
    total = await session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.code == TransferCode.adjustment,
            Transfer.created_by_id == actor.id,
            not_(Transfer.pending),
            not_(Transfer.post_pending),
            not_(Transfer.void_pending),
            Transfer.timestamp > now - authority.ADJUSTMENT_WINDOW,
        )
    )
    return int(total or 0)


async def _refusals(
    session: AsyncSession, actor: Actor, drafts: Sequence[Draft], now: datetime
) -> list[tuple[Draft, authority.Refusal]]:
    """Each draft the authority refuses, with why. A post or void is judged by the pending transfer
    it settles, whatever the client wrote; a draft the engine refuses anyway (an unknown account or
    pending transfer, no code) is left to the engine."""
    pending_ids = {d.pending_id for d in drafts if d.pending_id}
    settled = {
        t.id: _Settled(t.code, t.debit_account_id, t.credit_account_id, t.created_by_id)
        for t in await session.scalars(select(Transfer).where(Transfer.id.in_(pending_ids)))
    }
    for d in drafts:
        if d.pending and d.code is not None:
            settled.setdefault(d.id, _Settled(d.code, d.debit_account_id, d.credit_account_id, actor.id))
    account_ids = {a for d in drafts for a in (d.debit_account_id, d.credit_account_id) if a}
    account_ids |= {a for t in settled.values() for a in (t.debit_account_id, t.credit_account_id) if a}
    accounts = {a.id: a for a in await session.scalars(select(Account).where(Account.id.in_(account_ids)))}
    thresholds = await _thresholds(session, {a.area_code for a in accounts.values()})
    # New adjustments posted at once add up, with what the actor adjusted alone lately, in batch order.
    alone = {
        id(d) for d in drafts if d.code == TransferCode.adjustment and not d.pending and not d.pending_id
    }
    adjusted = await adjusted_alone(session, actor, now) if alone else 0
    refused = []
    for d in drafts:
        of = settled.get(d.pending_id) if d.pending_id else None
        code = of.code if of else d.code
        debit = accounts.get(d.debit_account_id or (of.debit_account_id if of else None) or 0)
        credit = accounts.get(d.credit_account_id or (of.credit_account_id if of else None) or 0)
        if code is None or debit is None or credit is None:
            continue
        move = authority.Move(
            code=code,
            debit=debit,
            credit=credit,
            amount=d.amount or 0,
            memo=d.memo,
            reason=d.reason,
            pending=d.pending,
            timeout_seconds=d.timeout_seconds,
            threshold=thresholds[_street_code(debit, credit)],
            adjusted_alone=adjusted,
            reverses=d.reversal_of is not None,
            settles=d.pending_id is not None,
            posts=d.post_pending,
            maker_id=of.maker_id if of else None,
        )
        if (why := authority.refusal(actor, move)) is not None:
            refused.append((d, why))
        elif id(d) in alone:
            adjusted += d.amount or 0
    return refused


async def _authorise(session: AsyncSession, actor: Actor, draft: Draft, now: datetime) -> None:
    """One transfer a person makes by hand: refused with the authority's own code."""
    for _, why in await _refusals(session, actor, [draft], now):
        raise Forbidden(authority.REFUSAL_DETAIL[why], code=why.value)


def _street_code(*accounts: Account) -> str:
    """The street the accounts are in (that of the one with the shortest area code)."""
    return min((a.area_code for a in accounts), key=len)[:STREET]


async def _thresholds(session: AsyncSession, area_codes: set[str]) -> defaultdict[str, int]:
    """Adjustment thresholds by street code; the default for streets without a policy."""
    found = await session.execute(
        select(Area.code, StreetPolicy.adjustment_threshold)
        .join(StreetPolicy, StreetPolicy.street_id == Area.id)
        .where(Area.code.in_({code[:STREET] for code in area_codes}))
    )
    return defaultdict(lambda: DEFAULT_ADJUSTMENT_THRESHOLD, {code: int(t) for code, t in found.all()})


async def adjustment_threshold(session: AsyncSession, account: Account) -> int:
    """Above this many points an adjustment involving the account waits for a second manager."""
    return (await _thresholds(session, {account.area_code}))[_street_code(account)]


async def adjust(
    session: AsyncSession, actor: Actor, data: AdjustmentRequest, now: datetime, tz: ZoneInfo
) -> Transfer:
    """Give a member points from their community's pool, or take some back. Above the street's
    threshold the adjustment is made pending, for a second manager to post."""
    member = await visible_account(session, actor, data.account_id)
    if member.kind != AccountKind.member:
        raise InvalidInput("Adjustments are made to members' accounts.", code="not_a_member_account")
    if member.area_id is None:
        raise InvalidInput("That member does not live in a community.", code="not_in_a_community")
    community = await session.get(Area, member.area_id)
    pool = await area_account(session, community, AccountKind.community_pool, member.asset)
    # Above the threshold, counting what the actor adjusted alone lately: no splitting it up.
    alone = await adjusted_alone(session, actor, now)
    pending = alone + data.amount > await adjustment_threshold(session, pool)
    debit, credit = (pool, member) if data.direction == "give" else (member, pool)
    draft = _with_hold(
        Draft(
            id=f"~adjustment:{uuid.uuid4().hex}",
            debit_account_id=debit.id,
            credit_account_id=credit.id,
            amount=data.amount,
            code=TransferCode.adjustment,
            memo=data.memo.strip(),
            reason=data.reason,
            pending=pending,
        )
    )
    await _authorise(session, actor, draft, now)
    refuse(await transfer_one(session, draft, now, tz, actor.id), "The adjustment was refused")
    return await session.get(Transfer, draft.id)


async def fund_pool(
    session: AsyncSession, actor: Actor, data: BudgetRequest, now: datetime, tz: ZoneInfo
) -> Transfer:
    """A street's budget into one of its communities' pools, as the authority table allows (street
    admins). `request_id` is the transfer's key: sent twice, it funds once; sent again with other
    amounts or another memo, it is refused (`exists_with_different_fields`)."""
    community = await _community(session, data.community_id)
    street = await street_of(session, community.code)
    issuance = await area_account(session, street, AccountKind.street_issuance, Asset.service)
    pool = await area_account(session, community, AccountKind.community_pool, Asset.service)
    draft = Draft(
        id=f"~budget:{data.request_id}",
        debit_account_id=issuance.id,
        credit_account_id=pool.id,
        amount=data.amount,
        code=TransferCode.budget,
        memo=data.memo.strip(),
    )
    await _authorise(session, actor, draft, now)
    refuse(await transfer_one(session, draft, now, tz, actor.id), "The budget was refused")
    return await session.get(Transfer, draft.id)


async def pools(session: AsyncSession, actor: Actor, budgets: int = 5) -> list[PoolRead]:
    """The pools of the communities in the actor's area (every street's, for administrators), by
    community code, each with its latest `budgets`."""
    stmt = select(Area).where(Area.level == AreaLevel.community).order_by(Area.code)
    if not actor.is_admin:
        stmt = stmt.where(Area.code.startswith(community_scope(actor.area_code)))
    found = []
    for community in await session.scalars(stmt):
        pool = await area_account(session, community, AccountKind.community_pool, Asset.service)
        owed = await session.scalar(
            select(func.coalesce(func.sum(OwedReward.amount), 0)).where(
                OwedReward.community_id == community.id, OwedReward.status == OwedStatus.owed
            )
        )
        transfers = await session.execute(
            _newest_first(_entries_query(pool.id, TransferCode.budget, None, None)).limit(budgets)
        )
        found.append(
            PoolRead(
                community_id=community.id,
                community_name=community.name,
                account_id=pool.id,
                balance=pool.balance,
                available=pool.available,
                owed=int(owed or 0),
                budgets=await _entries_of(session, actor, pool.id, list(transfers)),
            )
        )
    return found


async def settle_adjustment(
    session: AsyncSession, actor: Actor, transfer_id: str, *, post: bool, now: datetime, tz: ZoneInfo
) -> Transfer:
    """Post (a second manager) or void (its maker or a second manager) a pending adjustment."""
    pending = await visible_transfer(session, actor, transfer_id)
    if pending.code != TransferCode.adjustment or not pending.pending:
        raise NotFound(f"No pending adjustment {transfer_id}.", code="pending_adjustment_not_found")
    draft = Draft(
        id=f"~{'post' if post else 'void'}:{pending.id}",
        post_pending=post,
        void_pending=not post,
        pending_id=pending.id,
    )
    await _authorise(session, actor, draft, now)
    refuse(await transfer_one(session, draft, now, tz, actor.id), "Settling the adjustment was refused")
    return await session.get(Transfer, draft.id)


async def pending_adjustments(
    session: AsyncSession, actor: Actor, now: datetime, limit: int, offset: int
) -> tuple[list[PendingAdjustmentRead], int]:
    """Adjustments waiting for a second manager, in the caller's area, oldest first."""
    pools = select(Account.id).where(Account.kind == AccountKind.community_pool)
    if not actor.is_admin:
        pools = pools.where(Account.area_code.startswith(actor.area_code))
    stmt = select(Transfer).where(
        Transfer.code == TransferCode.adjustment,
        Transfer.pending,
        Transfer.pending_status == PendingStatus.pending,
        or_(Transfer.expires_at.is_(None), Transfer.expires_at > now),
        or_(Transfer.debit_account_id.in_(pools), Transfer.credit_account_id.in_(pools)),
    )
    rows = list(
        await session.scalars(stmt.order_by(Transfer.timestamp, Transfer.id).limit(limit).offset(offset))
    )
    total = await page_total(session, stmt, limit, offset, len(rows))
    ids = {a for t in rows for a in (t.debit_account_id, t.credit_account_id)}
    accounts = {a.id: a for a in await session.scalars(select(Account).where(Account.id.in_(ids)))}
    names = await user_names(
        session,
        {t.created_by_id for t in rows if t.created_by_id}
        | {a.user_id for a in accounts.values() if a.user_id},
    )
    reads = []
    for t in rows:
        debit, credit = accounts[t.debit_account_id], accounts[t.credit_account_id]
        member = credit if credit.kind == AccountKind.member else debit
        pool = debit if member is credit else credit
        reads.append(
            PendingAdjustmentRead(
                id=t.id,
                amount=t.amount,
                direction="give" if member is credit else "take",
                member_account_id=member.id,
                member_name=names.get(member.user_id, ""),
                pool_account_id=pool.id,
                reason=t.reason,
                memo=t.memo,
                maker_id=t.created_by_id,
                maker_name=names.get(t.created_by_id, ""),
                timestamp=t.timestamp,
                expires_at=t.expires_at,
                may_post=_may_settle(actor, t, debit, credit, post=True),
                may_void=_may_settle(actor, t, debit, credit, post=False),
            )
        )
    return reads, total


def _may_settle(actor: Actor, pending: Transfer, debit: Account, credit: Account, *, post: bool) -> bool:
    """What the authority would answer to the actor posting or voiding this pending transfer."""
    move = authority.Move(
        code=pending.code,
        debit=debit,
        credit=credit,
        amount=pending.amount,
        settles=True,
        posts=post,
        maker_id=pending.created_by_id,
    )
    return authority.refusal(actor, move) is None


async def reverse(
    session: AsyncSession, actor: Actor, transfer_id: str, reason: str, now: datetime, tz: ZoneInfo
) -> Transfer:
    original = await visible_transfer(session, actor, transfer_id)
    if original.pending or original.void_pending:
        raise Conflict(
            "Only posted transfers can be reversed; void a pending one instead.", code="not_reversible"
        )
    if original.code == TransferCode.reversal:
        raise Conflict(
            "A reversal cannot itself be reversed; make an adjustment instead.", code="not_reversible"
        )
    reversal_id = f"~reversal:{original.id}"
    if await session.scalar(select(Transfer.id).where(Transfer.reversal_of == original.id)):
        raise Conflict("This transfer has already been reversed.", code="already_reversed")
    draft = Draft(
        id=reversal_id,
        debit_account_id=original.credit_account_id,
        credit_account_id=original.debit_account_id,
        amount=original.amount,
        code=TransferCode.reversal,
        reference=original.reference,
        memo=reason.strip(),
        reversal_of=original.id,
    )
    await _authorise(session, actor, draft, now)
    refuse(await transfer_one(session, draft, now, tz, actor.id), "The reversal was refused")
    return await session.get(Transfer, reversal_id)


# ---------------------------------------------------------------- street policies


async def _street(session: AsyncSession, street_id: int) -> Area:
    street = await session.get(Area, street_id)
    if street is None or street.level != AreaLevel.street:
        raise NotFound(f"Street {street_id} does not exist.", code="street_not_found")
    return street


def _may_set_street_policy(actor: Actor, street: Area) -> bool:
    return actor.has(Role.street_admin, Role.admin) and actor.manages(street.code)


async def street_policies(session: AsyncSession, actor: Actor) -> list[StreetPolicyRead]:
    """The policies of the streets the caller works in (every street, for administrators)."""
    stmt = select(Area).where(Area.level == AreaLevel.street).order_by(Area.code)
    if not actor.is_admin:
        stmt = stmt.where(Area.code == actor.area_code[:STREET])
    streets = list(await session.scalars(stmt))
    thresholds = await _thresholds(session, {s.code for s in streets})
    return [
        StreetPolicyRead(
            street_id=s.id,
            street_name=s.name,
            adjustment_threshold=thresholds[s.code],
            may_set=_may_set_street_policy(actor, s),
        )
        for s in streets
    ]


async def get_street_policy(session: AsyncSession, actor: Actor, street_id: int) -> StreetPolicyRead:
    await _street(session, street_id)
    for policy in await street_policies(session, actor):
        if policy.street_id == street_id:
            return policy
    raise NotFound(f"Street {street_id} does not exist.", code="street_not_found")


async def put_street_policy(
    session: AsyncSession, actor: Actor, street_id: int, data: StreetPolicyWrite
) -> StreetPolicyRead:
    street = await _street(session, street_id)
    if not _may_set_street_policy(actor, street):
        raise Forbidden("Only the street's admins set its points policy.", code="street_admin_required")
    await session.execute(
        upsert(session, StreetPolicy)
        .values(street_id=street.id, adjustment_threshold=data.adjustment_threshold)
        .on_conflict_do_update(
            index_elements=["street_id"], set_={"adjustment_threshold": data.adjustment_threshold}
        )
    )
    return await get_street_policy(session, actor, street_id)


async def _community(session: AsyncSession, community_id: int) -> Area:
    community = await session.get(Area, community_id)
    if community is None or community.level != AreaLevel.community:
        raise NotFound(f"Community {community_id} does not exist.", code="community_not_found")
    return community


async def get_policy(session: AsyncSession, community_id: int) -> PolicyRead:
    await _community(session, community_id)
    return _policy_read(await policy_for(session, community_id))


def _policy_read(p: PointsPolicy) -> PolicyRead:
    return PolicyRead(
        community_id=p.community_id,
        rates=dict(p.rates),
        default_rate=p.default_rate,
        daily_cap=p.daily_cap,
        monthly_cap=p.monthly_cap,
        expiry=p.expiry,
        expiry_months=p.expiry_months,
        gift_max=p.gift_max,
        gift_monthly_max=p.gift_monthly_max,
    )


async def put_policy(session: AsyncSession, actor: Actor, community_id: int, data: PolicyWrite) -> PolicyRead:
    community = await _community(session, community_id)
    if not actor.is_community_manager or not actor.manages(community.code):
        raise Forbidden("Only the community's managers set its points policy.", code="manager_required")
    if data.expiry == "months" and data.expiry_months is None:
        raise InvalidInput("Say after how many months points expire.", code="expiry_months_required")
    values = {
        "rates": dict(data.rates),
        "default_rate": data.default_rate,
        "daily_cap": data.daily_cap,
        "monthly_cap": data.monthly_cap,
        "expiry": ExpiryPolicy(data.expiry),
        "expiry_months": data.expiry_months if data.expiry == "months" else None,
        "gift_max": data.gift_max,
        "gift_monthly_max": data.gift_monthly_max,
    }
    # One statement that inserts or updates: the first two PUTs of a community at once would
    # otherwise both find no row and both insert it.
    await session.execute(
        upsert(session, PointsPolicy)
        .values(community_id=community_id, **values)
        .on_conflict_do_update(index_elements=[PointsPolicy.community_id], set_=values)
    )
    policy = await session.get(PointsPolicy, community_id, populate_existing=True)
    assert policy is not None  # just written
    return _policy_read(policy)


def _month_start(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return datetime(local.year, local.month, 1, tzinfo=tz)


def _day_start(now: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(tz).date(), time.min, tz)


async def gift(
    session: AsyncSession, actor: Actor, data: GiftRequest, now: datetime, tz: ZoneInfo
) -> Transfer:
    if data.to_user_id == actor.id:
        raise InvalidInput("You cannot give points to yourself.", code="gift_to_self")
    sender = await member_account(session, actor.id)
    recipient_user = await session.get(User, data.to_user_id)
    if recipient_user is None or not recipient_user.is_active:
        raise NotFound(f"User {data.to_user_id} does not exist.", code="user_not_found")
    recipient = await member_account(session, data.to_user_id)
    if sender.area_id is None or sender.area_id != recipient.area_id:
        raise Forbidden(
            "Points can be given only to someone in your own community.", code="outside_your_community"
        )
    policy = await policy_for(session, sender.area_id)
    if data.amount > policy.gift_max:
        raise InvalidInput(f"One gift can be at most {policy.gift_max} points.", code="gift_too_large")
    # Both accounts, in id order as every posting takes them, before counting this month's gifts:
    # two gifts at once cannot both fit, and gifts both ways at once do not deadlock.
    await lock_accounts(session, {sender.id, recipient.id})
    given = (
        await session.scalar(
            select(func.coalesce(func.sum(Transfer.amount), 0)).where(
                Transfer.debit_account_id == sender.id,
                Transfer.code == TransferCode.gift,
                Transfer.timestamp >= _month_start(now, tz),
                Transfer.reversal_of.is_(None),
            )
        )
        or 0
    )
    if given + data.amount > policy.gift_monthly_max:
        raise Conflict(
            f"You can give {policy.gift_monthly_max} points a month; "
            f"{policy.gift_monthly_max - given} are left.",
            code="gift_limit_reached",
        )
    transfer_id = f"~gift:{uuid.uuid4().hex}"
    result = await transfer_one(
        session,
        Draft(
            id=transfer_id,
            debit_account_id=sender.id,
            credit_account_id=recipient.id,
            amount=data.amount,
            code=TransferCode.gift,
            reference=f"user:{data.to_user_id}",
            memo=data.memo,
        ),
        now,
        tz,
        actor.id,
    )
    refuse(result, "The gift was refused")
    return await session.get(Transfer, transfer_id)


# ---------------------------------------------------------------- rewards earned by flows


async def reward(
    session: AsyncSession,
    *,
    transfer_id: str,
    code: TransferCode,
    reference: str,
    user_id: int,
    community: Area,
    amount: int,
    memo: str,
    now: datetime,
    tz: ZoneInfo,
) -> OwedReward | None:
    """Pay a reward from the community pool exactly once; owe it when the pool cannot pay."""
    if amount <= 0 or await session.scalar(select(Transfer.id).where(Transfer.id == transfer_id)):
        return None
    if await session.scalar(select(OwedReward.id).where(OwedReward.transfer_id == transfer_id)):
        return None
    pool = await area_account(session, community, AccountKind.community_pool, Asset.service)
    member = await member_account(session, user_id)
    result = await transfer_one(
        session,
        Draft(
            id=transfer_id,
            debit_account_id=pool.id,
            credit_account_id=member.id,
            amount=amount,
            code=code,
            reference=reference,
            memo=memo,
        ),
        now,
        tz,
    )
    if result.result in SUCCESS:
        return None
    if result.result != Result.exceeds_credits:
        refuse(result, "The reward was refused")
    owed = OwedReward(
        transfer_id=transfer_id,
        reference=reference,
        code=code,
        user_id=user_id,
        community_id=community.id,
        amount=amount,
        memo=memo,
        status=OwedStatus.owed,
        created_at=now,
    )
    session.add(owed)
    await session.flush()
    return owed


# Rewards that count against a community's daily and monthly caps.
CAPPED_CODES = frozenset({TransferCode.service_reward, TransferCode.wish_reward, TransferCode.project_reward})
# A limit of the caller's, checked under the member's lock: why the whole reward is withheld, or None.
# What `capped_reward` holds back by the points policy (a caller's `limit` has reasons of its own).
CAP_REASONS = (WithheldReason.daily_cap, WithheldReason.monthly_cap)
RewardLimit = Callable[[], Awaitable[WithheldReason | None]]


async def capped_reward(
    session: AsyncSession,
    *,
    transfer_id: str,
    code: TransferCode,
    reference: str,
    user_id: int,
    community: Area,
    amount: int,
    memo: str,
    now: datetime,
    tz: ZoneInfo,
    limit: RewardLimit | None = None,
) -> int:
    """A service, wish or project reward, within the community's daily and monthly caps, which
    every such kind counts; returns the points paid or owed. What a cap or `limit` holds back is recorded as a
    withheld reward with its reason. The caps are counted under the locks of the pool and the
    member's account (in id order, as the posting takes them), so that two rewards at the same
    moment cannot both fit under a cap."""
    pool = await area_account(session, community, AccountKind.community_pool, Asset.service)
    member = await member_account(session, user_id)
    await lock_accounts(session, {pool.id, member.id})
    if await session.scalar(
        select(OwedReward.id).where(OwedReward.transfer_id.in_([transfer_id, transfer_id + WITHHELD_SUFFIX]))
    ) or await session.scalar(select(Transfer.id).where(Transfer.id == transfer_id)):
        return 0  # rewarded already: a retry
    due, why = amount, await limit() if limit else None
    if why is not None:
        due = 0
    else:
        policy = await policy_for(session, community.id)
        left_today = policy.daily_cap - await _earned_since(session, member, _day_start(now, tz))
        left_month = policy.monthly_cap - await _earned_since(session, member, _month_start(now, tz))
        due = max(0, min(amount, left_today, left_month))
        why = WithheldReason.daily_cap if left_today <= left_month else WithheldReason.monthly_cap
    if due < amount:
        session.add(
            OwedReward(
                transfer_id=transfer_id + WITHHELD_SUFFIX,
                reference=reference,
                code=code,
                user_id=user_id,
                community_id=community.id,
                amount=amount - due,
                memo=memo,
                status=OwedStatus.withheld,
                reason=why,
                created_at=now,
            )
        )
        await session.flush()
    await reward(
        session,
        transfer_id=transfer_id,
        code=code,
        reference=reference,
        user_id=user_id,
        community=community,
        amount=due,
        memo=memo,
        now=now,
        tz=tz,
    )
    return due


async def withheld_reason(session: AsyncSession, transfer_id: str) -> WithheldReason | None:
    """Why `capped_reward` held back part of the reward `transfer_id`; None when it held back nothing."""
    return await session.scalar(
        select(OwedReward.reason).where(OwedReward.transfer_id == transfer_id + WITHHELD_SUFFIX)
    )


async def _earned_since(session: AsyncSession, member: Account, start: datetime) -> int:
    """Capped rewards earned since `start`: owed ones count from when they were owed, even once paid."""
    paid = await session.scalar(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.credit_account_id == member.id,
            Transfer.code.in_(CAPPED_CODES),
            Transfer.timestamp >= start,
            Transfer.id.not_in(select(OwedReward.transfer_id)),
        )
    )
    owed = await session.scalar(
        select(func.coalesce(func.sum(OwedReward.amount), 0)).where(
            OwedReward.user_id == member.user_id,
            OwedReward.code.in_(CAPPED_CODES),
            OwedReward.status != OwedStatus.withheld,
            OwedReward.created_at >= start,
        )
    )
    return int(paid or 0) + int(owed or 0)


async def service_points(
    session: AsyncSession, *, community: Area, category: str, hours: float
) -> tuple[int, int]:
    """(the category's rate, hours × that rate); `capped_reward` applies the caps."""
    policy = await policy_for(session, community.id)
    rate = policy.rates.get(category, policy.default_rate)
    return rate, int(hours * rate + 0.5)


async def list_owed(
    session: AsyncSession, actor: Actor, status: OwedStatus | None, limit: int, offset: int
) -> tuple[list[OwedReward], dict[int, str], int]:
    stmt = select(OwedReward).join(Area, Area.id == OwedReward.community_id)
    if not actor.is_admin:
        # Owed rewards are a community's matter: grid workers see their whole community's.
        stmt = stmt.where(Area.code.startswith(community_scope(actor.area_code)))
    if status is not None:
        stmt = stmt.where(OwedReward.status == status)
    rows = list(await session.scalars(stmt.order_by(OwedReward.id).limit(limit).offset(offset)))
    total = await page_total(session, stmt, limit, offset, len(rows))
    return rows, await user_names(session, {r.user_id for r in rows}), total


async def low_pools(session: AsyncSession, actor: Actor, below: int) -> list[Account]:
    """The community pools of the actor's area (a grid worker: their community's) with less than
    `below` points left to give, the emptiest first."""
    stmt = select(Account).where(Account.kind == AccountKind.community_pool)
    if not actor.is_admin:
        stmt = stmt.where(
            Account.area_code.startswith(community_scope(actor.area_code), autoescape=True)
            & (
                Account.area_code.startswith(actor.area_code)
                | literal(actor.area_code).startswith(Account.area_code)
            )
        )
    available = Account.credits_posted - Account.debits_posted - Account.debits_pending
    return list(await session.scalars(stmt.where(available < below).order_by(available, Account.id)))


# ---------------------------------------------------------------- jobs


async def post_owed_rewards(session: AsyncSession, now: datetime, tz: ZoneInfo) -> int:
    """Pay owed rewards, oldest first, while each community's pool can."""
    owed = list(
        await session.scalars(
            select(OwedReward)
            .where(OwedReward.status == OwedStatus.owed)
            .order_by(OwedReward.created_at, OwedReward.id)
        )
    )
    if not owed:
        return 0
    communities = {
        c.id: c
        for c in await session.scalars(select(Area).where(Area.id.in_({o.community_id for o in owed})))
    }
    pools = {
        c.id: await area_account(session, c, AccountKind.community_pool, Asset.service)
        for c in communities.values()
    }
    members = {u: await member_account(session, u) for u in sorted({o.user_id for o in owed})}
    # Every account the run may post to, once and in id order, before the first posting.
    await lock_accounts(session, {a.id for a in [*pools.values(), *members.values()]})
    posted = 0
    exhausted: set[int] = set()
    for item in owed:
        if item.community_id in exhausted:
            continue
        item = await session.scalar(
            select(OwedReward)
            .where(OwedReward.id == item.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if item.status != OwedStatus.owed:
            continue
        result = await transfer_one(
            session,
            Draft(
                id=item.transfer_id,
                debit_account_id=pools[item.community_id].id,
                credit_account_id=members[item.user_id].id,
                amount=item.amount,
                code=item.code,
                reference=item.reference,
                memo=item.memo,
            ),
            now,
            tz,
        )
        if result.result in SUCCESS:
            item.status = OwedStatus.posted
            item.posted_at = now
            posted += 1
        else:
            exhausted.add(item.community_id)
    await session.flush()
    return posted


async def expire_points(session: AsyncSession, now: datetime, tz: ZoneInfo) -> int:
    """Move what is left of expired lots to the street's expiry account, in one posting."""
    account_ids = set(
        await session.scalars(select(Lot.account_id).where(Lot.remaining > 0, Lot.expires_at <= now))
    )
    if not account_ids:
        return 0
    sinks = {}
    for account in await session.scalars(select(Account).where(Account.id.in_(account_ids))):
        street = await street_of(session, account.area_code)
        sinks[account.id] = await area_account(session, street, AccountKind.expiry_sink, account.asset)
    # The expiring accounts and their sinks, once and in id order, before reading what is free.
    accounts = await lock_accounts(session, account_ids | {s.id for s in sinks.values()})
    expired = dict(
        (
            await session.execute(
                select(Lot.account_id, func.sum(Lot.remaining))
                .where(Lot.account_id.in_(account_ids), Lot.remaining > 0, Lot.expires_at <= now)
                .group_by(Lot.account_id)
            )
        ).all()
    )
    drafts = []
    for account_id in sorted(account_ids):
        # Points reserved by a pending redemption stay reserved; only what is free can expire.
        amount = min(int(expired.get(account_id) or 0), accounts[account_id].available)
        if amount > 0:
            drafts.append(
                Draft(
                    id=f"~expiry:{account_id}:{now.isoformat()}",
                    debit_account_id=account_id,
                    credit_account_id=sinks[account_id].id,
                    amount=amount,
                    code=TransferCode.expiry,
                    reference=f"account:{account_id}",
                    memo="points expired by the community's policy",
                )
            )
    results = await transfer(session, drafts, now, tz) if drafts else []
    return sum(r.result == Result.created for r in results)


async def visible_transfer(session: AsyncSession, actor: Actor, transfer_id: str) -> Transfer:
    found = await session.get(Transfer, transfer_id)
    if found is not None:
        for account_id in (found.debit_account_id, found.credit_account_id):
            account = await session.get(Account, account_id)
            if actor.is_admin or actor.manages(account.area_code):
                return found
    raise NotFound(f"Transfer {transfer_id} does not exist.", code="transfer_not_found")

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from market.fields import PLAIN_TEXT, Id, path_text, text
from market.ledger.models import (
    DEFAULT_ADJUSTMENT_THRESHOLD,
    AccountKind,
    AdjustmentReason,
    Asset,
    PendingStatus,
    TransferCode,
    WithheldReason,
)

# Client-chosen transfer ids; ids starting with "~" are reserved for the service's own transfers.
TransferId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,59}$", max_length=60)]
# Any transfer's id as a path or a pending_id names it: a client's, or one of the service's own.
AnyTransferId = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=PLAIN_TEXT)]
PathTransferId = path_text(80)
Flag = Literal["pending", "post_pending", "void_pending", "linked"]
MAX_BATCH = 1000


class TransferRequest(msgspec.Struct, forbid_unknown_fields=True):
    id: TransferId
    # For post_pending / void_pending the accounts, amount and code may be left out: they
    # are taken from the pending transfer.
    debit_account_id: Id | None = None
    credit_account_id: Id | None = None
    amount: Annotated[int, msgspec.Meta(ge=1, le=10**12)] | None = None
    code: TransferCode | None = None
    reference: text(64) = ""
    memo: text(200) = ""
    # Required for adjustments.
    reason: AdjustmentReason | None = None
    flags: Annotated[list[Flag], msgspec.Meta(max_length=4)] = msgspec.field(default_factory=list)
    pending_id: AnyTransferId | None = None
    timeout_seconds: Annotated[int, msgspec.Meta(ge=1, le=90 * 24 * 3600)] | None = None


class TransferBatch(msgspec.Struct, forbid_unknown_fields=True):
    transfers: Annotated[list[TransferRequest], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class TransferResult(msgspec.Struct):
    id: str
    result: str
    # For exists_with_different_fields: the first field that differs.
    field: str | None = None


class BatchResult(msgspec.Struct):
    results: list[TransferResult]
    created: int
    failed: int


class ReverseRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: text(200, required=True)


class TransferRead(msgspec.Struct):
    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    asset: Asset
    code: TransferCode
    reference: str
    memo: str
    reason: AdjustmentReason | None
    flags: list[str]
    pending_id: str | None
    pending_status: PendingStatus | None
    expires_at: datetime | None
    reversal_of: str | None
    timestamp: datetime


class AccountRead(msgspec.Struct):
    id: int
    key: str
    asset: Asset
    kind: AccountKind
    user_id: int | None
    area_id: int | None
    owner_name: str
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    # Posted credits less posted debits; pending; what can be spent now.
    balance: int
    pending_in: int
    pending_out: int
    available: int


class Entry(msgspec.Struct):
    transfer_id: str
    timestamp: datetime
    code: TransferCode
    # "credit" adds to a member's points, "debit" takes from them.
    side: Literal["debit", "credit"]
    amount: int
    status: Literal["posted", "pending", "voided", "expired"]
    counterparty_account_id: int
    counterparty: str
    reference: str
    memo: str


class Expiring(msgspec.Struct):
    expires_at: datetime
    amount: int


class AccountDetail(AccountRead):
    # Member accounts: what expires when (soonest first).
    expiring: list[Expiring]


class TrialBalanceLine(msgspec.Struct):
    account_id: int
    key: str
    field: str
    counter: int
    journal: int


class TrialBalance(msgspec.Struct):
    asset: Asset
    accounts: int
    # None unless checked against the journal (?journal=true).
    transfers: int | None
    # Σ credits − Σ debits over all accounts: zero when nothing was invented or lost.
    posted_sum: int
    pending_sum: int
    balanced: bool
    # Counters that differ from the sums of the account's transfers; None unless checked.
    differences: list[TrialBalanceLine] | None


# A community's policy starts at these; a manager may set each at most POLICY_CEILING times its
# default, so that no rate, cap or gift limit can mint points by the million.
DEFAULT_RATE, DEFAULT_DAILY_CAP, DEFAULT_MONTHLY_CAP = 10, 100, 1000
DEFAULT_GIFT_MAX, DEFAULT_GIFT_MONTHLY_MAX = 200, 500
POLICY_CEILING = 10


def _at_most_times(default: int) -> msgspec.Meta:
    return msgspec.Meta(ge=0, le=POLICY_CEILING * default)


class PolicyWrite(msgspec.Struct, forbid_unknown_fields=True):
    # Points per service hour by category code; categories not listed earn `default_rate`.
    rates: dict[Annotated[str, msgspec.Meta(max_length=32)], Annotated[int, _at_most_times(DEFAULT_RATE)]] = (
        msgspec.field(default_factory=dict)
    )
    default_rate: Annotated[int, _at_most_times(DEFAULT_RATE)] = DEFAULT_RATE
    daily_cap: Annotated[int, _at_most_times(DEFAULT_DAILY_CAP)] = DEFAULT_DAILY_CAP
    monthly_cap: Annotated[int, _at_most_times(DEFAULT_MONTHLY_CAP)] = DEFAULT_MONTHLY_CAP
    expiry: Literal["none", "end_of_next_year", "months"] = "none"
    expiry_months: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None
    gift_max: Annotated[int, _at_most_times(DEFAULT_GIFT_MAX)] = DEFAULT_GIFT_MAX
    gift_monthly_max: Annotated[int, _at_most_times(DEFAULT_GIFT_MONTHLY_MAX)] = DEFAULT_GIFT_MONTHLY_MAX


class PolicyRead(PolicyWrite):
    community_id: int = 0


class GiftRequest(msgspec.Struct, forbid_unknown_fields=True):
    to_user_id: Id
    amount: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    memo: text(200) = ""


class OwedRewardRead(msgspec.Struct):
    id: int
    reference: str
    user_id: int
    user_name: str
    community_id: int
    amount: int
    code: TransferCode
    status: str
    # Why a withheld reward was held back.
    reason: WithheldReason | None
    created_at: datetime
    posted_at: datetime | None


class AdjustmentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """An adjustment between a member's account and their community's pool."""

    account_id: Id
    amount: Annotated[int, msgspec.Meta(ge=1, le=10**9)]
    # give: from the pool to the member; take: from the member back to the pool.
    direction: Literal["give", "take"]
    reason: AdjustmentReason
    memo: text(200, required=True)


class PendingAdjustmentRead(msgspec.Struct):
    """An adjustment waiting for a second manager to post it (or for anyone allowed to void it)."""

    id: str
    amount: int
    direction: Literal["give", "take"]
    member_account_id: int
    member_name: str
    pool_account_id: int
    reason: AdjustmentReason | None
    memo: str
    maker_id: int | None
    maker_name: str
    timestamp: datetime
    expires_at: datetime | None
    # Whether the caller may post it (not its maker, allowed by the authority table) and void it.
    may_post: bool
    may_void: bool


class StreetPolicyWrite(msgspec.Struct, forbid_unknown_fields=True):
    # Adjustments of more points than this are made pending and posted by a second manager.
    adjustment_threshold: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = DEFAULT_ADJUSTMENT_THRESHOLD


class StreetPolicyRead(StreetPolicyWrite):
    street_id: int = 0
    street_name: str = ""
    # Whether the caller may change it (the street's admins and administrators).
    may_set: bool = False


class BudgetRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A street funds one of its communities' pools."""

    community_id: Id
    amount: Annotated[int, msgspec.Meta(ge=1, le=10**9)]
    memo: text(200, required=True)
    # Chosen once per form or client request: the same id funds once, however often it is sent.
    request_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class PoolRead(msgspec.Struct):
    """A community's pool as the budgets page shows it, with its latest budgets."""

    community_id: int
    community_name: str
    account_id: int
    balance: int
    available: int
    # Points the pool owes members, waiting for it to be funded.
    owed: int
    budgets: list[Entry]

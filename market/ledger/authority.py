"""Who may move points by hand: the ledger's authority, as one table, decided in one place.

The product's own flows (service, wish and project rewards, redemptions, expiry, gifts) post their
transfers themselves, each under its own rules. A person moves points by hand with three codes
only, and only as `AUTHORITY` lists: a budget, an adjustment, a reversal (through the reversal
endpoint, which names the transfer it undoes). `refusal` judges every such transfer: the batch
endpoint's new transfers and its posts and voids of pending ones, adjustments, reversals.

A cell of the table is (role, code, debit account kind, credit account kind, relation), the
relation being how the two accounts stand to the person:

- own: one of them is the person's own member account — always refused (`own_account`);
- outside: one of them lies outside the person's area — always refused (`account_outside_your_area`);
- other: both inside the area, neither the person's — allowed when the table lists the role.

Whatever the table allows must also join accounts that belong together (a community's pool and
its own members, a street's accounts and its communities'). An adjustment carries a reason code
and a memo; one that would take what its maker adjusted alone within ADJUSTMENT_WINDOW above its
street's threshold is made pending and posted by a second manager the table allows (never its
maker); a pending adjustment lives ADJUSTMENT_HOLD at most.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from market.auth.access import COMMUNITY_MANAGER_ROLES, Actor
from market.auth.models import Role
from market.ledger.models import Account, AccountKind, AdjustmentReason, TransferCode

K = AccountKind
C = TransferCode

STREET_ADMINS = frozenset({Role.street_admin, Role.admin})

# (code, debit kind, credit kind) -> the roles that may post it by hand. Grid workers, unit admins,
# residents and volunteers move no points by hand; nobody issues points straight to a member.
AUTHORITY: dict[tuple[TransferCode, AccountKind, AccountKind], frozenset[Role]] = {
    # A street funds its communities' pools.
    (C.budget, K.street_issuance, K.community_pool): STREET_ADMINS,
    # A community's pool gives a member points, or takes them back.
    (C.adjustment, K.community_pool, K.member): COMMUNITY_MANAGER_ROLES,
    (C.adjustment, K.member, K.community_pool): COMMUNITY_MANAGER_ROLES,
    # Reversals undo a posted transfer: the accounts are the original's, the other way round.
    (C.reversal, K.community_pool, K.street_issuance): STREET_ADMINS,  # a budget
    (C.reversal, K.unit, K.street_issuance): STREET_ADMINS,  # a unit's project credit points
    # a reward, an adjustment that gave points
    (C.reversal, K.member, K.community_pool): COMMUNITY_MANAGER_ROLES,
    (C.reversal, K.community_pool, K.member): COMMUNITY_MANAGER_ROLES,  # an adjustment that took points
    (C.reversal, K.member, K.member): COMMUNITY_MANAGER_ROLES,  # a gift
    (C.reversal, K.redemption_sink, K.member): COMMUNITY_MANAGER_ROLES,  # a redemption handed out
    (C.reversal, K.expiry_sink, K.member): COMMUNITY_MANAGER_ROLES,  # expired points
}
# Codes a person may write in a batch; reversals go through the reversal endpoint.
BATCH_CODES = frozenset({C.budget, C.adjustment})
# How long a pending adjustment waits for its second manager (the default and the most).
ADJUSTMENT_HOLD = timedelta(days=7)
# What one person adjusts alone (posted at once, with no second manager) adds up over this window
# against the street's threshold: many adjustments just under it need a second manager as one would.
ADJUSTMENT_WINDOW = timedelta(days=30)


class Relation(enum.StrEnum):
    own = "own"
    other = "other"
    outside = "outside"


class Refusal(enum.StrEnum):
    """Why a person may not make a transfer: the problem's code (see REFUSAL_DETAIL)."""

    code_made_by_the_service = "code_made_by_the_service"
    accounts_not_for_this_code = "accounts_not_for_this_code"
    role_may_not_transfer = "role_may_not_transfer"
    own_account = "own_account"
    account_outside_your_area = "account_outside_your_area"
    accounts_in_different_areas = "accounts_in_different_areas"
    adjustment_reason_required = "adjustment_reason_required"
    adjustment_memo_required = "adjustment_memo_required"
    adjustment_needs_second_manager = "adjustment_needs_second_manager"
    adjustment_hold_too_long = "adjustment_hold_too_long"
    maker_cannot_post = "maker_cannot_post"


REFUSAL_DETAIL = {
    Refusal.code_made_by_the_service: "The service makes transfers with this code itself.",
    Refusal.accounts_not_for_this_code: "This code does not move points between these kinds of account.",
    Refusal.role_may_not_transfer: "Your role may not make this transfer.",
    Refusal.own_account: "Nobody moves points into or out of their own account by hand.",
    Refusal.account_outside_your_area: "One of the accounts is outside your area.",
    Refusal.accounts_in_different_areas: "The two accounts belong to different communities or streets.",
    Refusal.adjustment_reason_required: "An adjustment needs a reason code.",
    Refusal.adjustment_memo_required: "An adjustment needs a memo saying why.",
    Refusal.adjustment_needs_second_manager: (
        "An adjustment above the street's threshold must be pending: a second manager posts it."
    ),
    Refusal.adjustment_hold_too_long: f"A pending adjustment waits {ADJUSTMENT_HOLD.days} days at most.",
    Refusal.maker_cannot_post: "A second manager posts a pending adjustment, not the one who made it.",
}


@dataclass(frozen=True)
class Move:
    """A transfer a person asks for, as the authority sees it. A post or void is judged by the
    pending transfer it settles: its code and accounts, and `maker_id`, who made it."""

    code: TransferCode | None
    debit: Account
    credit: Account
    amount: int
    memo: str = ""
    reason: AdjustmentReason | None = None
    pending: bool = False
    timeout_seconds: int | None = None
    # The street's adjustment threshold (new adjustments only).
    threshold: int = 0
    # Points the person adjusted alone within ADJUSTMENT_WINDOW before this one (new adjustments only).
    adjusted_alone: int = 0
    # Set by the reversal endpoint only.
    reverses: bool = False
    settles: bool = False
    posts: bool = False
    maker_id: int | None = None


def relation(actor: Actor, *accounts: Account) -> Relation:
    if any(a.user_id is not None and a.user_id == actor.id for a in accounts):
        return Relation.own
    if not all(actor.manages(a.area_code) for a in accounts):
        return Relation.outside
    return Relation.other


def belong_together(a: Account, b: Account) -> bool:
    """Two members of one community; a member living inside the other account's area (its
    community's pool, its street's sinks); or one area account's area inside the other's."""
    if a.kind == K.member and b.kind == K.member:
        return a.area_id is not None and a.area_id == b.area_id
    if b.kind == K.member:
        a, b = b, a
    outer, inner = (b, a) if a.kind == K.member else sorted((a, b), key=lambda x: len(x.area_code))
    return bool(outer.area_code) and inner.area_code.startswith(outer.area_code)


def refusal(actor: Actor, move: Move) -> Refusal | None:
    """The one check of a transfer a person makes by hand (None: allowed)."""
    code = move.code
    by_hand = move.reverses if code == C.reversal else code in BATCH_CODES
    if not by_hand:
        return Refusal.code_made_by_the_service
    roles = AUTHORITY.get((code, move.debit.kind, move.credit.kind))
    if roles is None:
        return Refusal.accounts_not_for_this_code
    if not actor.has(*roles):
        return Refusal.role_may_not_transfer
    match relation(actor, move.debit, move.credit):
        case Relation.own:
            return Refusal.own_account
        case Relation.outside:
            return Refusal.account_outside_your_area
    if not belong_together(move.debit, move.credit):
        return Refusal.accounts_in_different_areas
    if code != C.adjustment:
        return None
    if move.settles:
        return Refusal.maker_cannot_post if move.posts and move.maker_id == actor.id else None
    if move.reason is None:
        return Refusal.adjustment_reason_required
    if not move.memo.strip():
        return Refusal.adjustment_memo_required
    if not move.pending and move.adjusted_alone + move.amount > move.threshold:
        return Refusal.adjustment_needs_second_manager
    if move.pending and (move.timeout_seconds or 0) > ADJUSTMENT_HOLD.total_seconds():
        return Refusal.adjustment_hold_too_long
    return None

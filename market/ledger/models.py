"""Double-entry points ledger, after TigerBeetle's transfer semantics.

Accounts hold four counters; transfers are immutable (a pending transfer's
`pending_status` is the one field that changes, when it is posted, voided or
expires). Member accounts also keep credits as lots, so that points can expire
and spending takes the earliest-expiring lots first.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base

# Client ids are at most 60 characters; the service's own ids add a prefix ("~reversal:" …).
TRANSFER_ID = String(80)


class Asset(enum.StrEnum):
    # 志愿积分: earned by serving, spent on rewards.
    service = "service"
    # 信用积分: a record of taking part in community life; never redeemable.
    credit = "credit"


class AccountKind(enum.StrEnum):
    street_issuance = "street_issuance"
    community_pool = "community_pool"
    member = "member"
    unit = "unit"
    redemption_sink = "redemption_sink"
    expiry_sink = "expiry_sink"


class TransferCode(enum.StrEnum):
    service_reward = "service_reward"
    wish_reward = "wish_reward"
    project_reward = "project_reward"
    budget = "budget"
    redemption = "redemption"
    expiry = "expiry"
    gift = "gift"
    adjustment = "adjustment"
    reversal = "reversal"
    # A resident's credit points (信用积分), posted by market.credit: a record, never spent.
    resident_credit = "resident_credit"


class AdjustmentReason(enum.StrEnum):
    """Why a manager adjusts a member's points; the memo says the rest."""

    correction = "correction"
    missed_reward = "missed_reward"
    duplicate_reward = "duplicate_reward"
    complaint = "complaint"
    other = "other"


class PendingStatus(enum.StrEnum):
    pending = "pending"
    posted = "posted"
    voided = "voided"
    expired = "expired"


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="counters_non_negative",
        ),
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_pending + debits_posted <= credits_posted",
            name="debits_within_credits",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "asset:kind:owner", e.g. "service:member:user:12" - one account per owner, kind and asset.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    asset: Mapped[Asset] = mapped_column(String(16))
    kind: Mapped[AccountKind] = mapped_column(String(24))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The street (issuance, sinks) or community (pool) the account belongs to.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    area_code: Mapped[str] = mapped_column(String(32), index=True, default="")
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(default=False)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]

    @property
    def balance(self) -> int:
        """Posted credits less posted debits."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What can still be spent: posted credits less every debit, pending ones included."""
        return self.credits_posted - self.debits_posted - self.debits_pending


class Transfer(Base):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
        Index("ix_ledger_transfers_debit_timestamp", "debit_account_id", "timestamp"),
        Index("ix_ledger_transfers_credit_timestamp", "credit_account_id", "timestamp"),
        Index("ix_ledger_transfers_pending_expires", "pending_status", "expires_at"),
        # The reports read a kind of transfer over a period.
        Index("ix_ledger_transfers_code_timestamp", "code", "timestamp"),
    )

    # Chosen by the client; it is the idempotency key.
    id: Mapped[str] = mapped_column(TRANSFER_ID, primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    asset: Mapped[Asset] = mapped_column(String(16))
    code: Mapped[TransferCode] = mapped_column(String(24))
    # What the transfer is for: "order:12", "redemption:5", "project:3" …
    reference: Mapped[str] = mapped_column(String(64), default="", index=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    # Adjustments: the reason code (required for them, see authority.py).
    reason: Mapped[AdjustmentReason | None] = mapped_column(String(24))
    pending: Mapped[bool] = mapped_column(default=False)
    post_pending: Mapped[bool] = mapped_column(default=False)
    void_pending: Mapped[bool] = mapped_column(default=False)
    linked: Mapped[bool] = mapped_column(default=False)
    # For post_pending / void_pending: the pending transfer they settle.
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"), index=True)
    timeout_seconds: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    pending_status: Mapped[PendingStatus | None] = mapped_column(String(16))
    # A reversal points at the transfer it corrects; a transfer can be reversed once.
    reversal_of: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    timestamp: Mapped[datetime]


class Lot(Base):
    """Points credited to a member account, spent earliest-expiring first."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_range"),
        Index("ix_ledger_lots_account_open", "account_id", "remaining"),
        Index("ix_ledger_lots_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    transfer_id: Mapped[str] = mapped_column(ForeignKey("ledger_transfers.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    # None: never expires.
    expires_at: Mapped[datetime | None]


class LotUse(Base):
    """How much of a lot a debit took, so that voiding or reversing it gives the same lots back."""

    __tablename__ = "ledger_lot_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("ledger_lots.id"), index=True)
    transfer_id: Mapped[str] = mapped_column(ForeignKey("ledger_transfers.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    # Set for lots created in the same batch, before they have an id.
    lot: Mapped[Lot] = relationship(lazy="raise")


class ExpiryPolicy(enum.StrEnum):
    none = "none"
    end_of_next_year = "end_of_next_year"
    months = "months"


class PointsPolicy(Base):
    """A community's rules for service points. A community without a row uses the defaults."""

    __tablename__ = "points_policies"

    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    # {"escort": 12, ...}: points per service hour by category.
    rates: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    default_rate: Mapped[int] = mapped_column(default=10)
    daily_cap: Mapped[int] = mapped_column(default=100)
    monthly_cap: Mapped[int] = mapped_column(default=1000)
    expiry: Mapped[ExpiryPolicy] = mapped_column(String(24), default=ExpiryPolicy.none)
    expiry_months: Mapped[int | None]
    # Gifts between members of the community: the most in one gift and in one month.
    gift_max: Mapped[int] = mapped_column(default=200)
    gift_monthly_max: Mapped[int] = mapped_column(default=500)


class OwedStatus(enum.StrEnum):
    owed = "owed"
    posted = "posted"
    # Held back by a limit (`reason`): never paid.
    withheld = "withheld"


class WithheldReason(enum.StrEnum):
    daily_cap = "daily_cap"
    monthly_cap = "monthly_cap"
    # One resident–volunteer pair earns one wish reward a week.
    pair_weekly_limit = "pair_weekly_limit"


class OwedReward(Base):
    """A reward, or the part of one, that was not paid when it was earned: owed while its
    community's pool could not pay (posted once the pool is funded), or withheld by a cap or a
    limit (never paid; the row keeps why)."""

    __tablename__ = "ledger_owed_rewards"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The transfer id it will be posted under: the reward is paid exactly once. A withheld part
    # carries the reward's transfer id with WITHHELD_SUFFIX (it is never posted).
    transfer_id: Mapped[str] = mapped_column(TRANSFER_ID, unique=True)
    reference: Mapped[str] = mapped_column(String(64))
    code: Mapped[TransferCode] = mapped_column(String(24))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    memo: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[OwedStatus] = mapped_column(String(16), default=OwedStatus.owed, index=True)
    reason: Mapped[WithheldReason | None] = mapped_column(String(24))
    created_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]


WITHHELD_SUFFIX = ":withheld"
DEFAULT_ADJUSTMENT_THRESHOLD = 500


class StreetPolicy(Base):
    """A street's rules for manual transfers. A street without a row uses the defaults."""

    __tablename__ = "street_points_policies"

    street_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    # An adjustment of more points than this is made pending and posted by a second manager.
    adjustment_threshold: Mapped[int] = mapped_column(BigInteger, default=DEFAULT_ADJUSTMENT_THRESHOLD)

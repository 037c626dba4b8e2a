from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.credit.models import CompactReason, CreditSource
from market.fields import text

CompactPoints = Annotated[int, msgspec.Meta(ge=1, le=10)]


class CompactEntryWrite(msgspec.Struct, forbid_unknown_fields=True):
    """A manager's entry for a resident who kept the residents' compact (居民公约)."""

    reason: CompactReason
    memo: text(200, required=True)
    points: CompactPoints


class CreditEntryRead(msgspec.Struct):
    id: int
    source: CreditSource
    subject_id: int | None
    reason: CompactReason | None
    memo: str
    points: int
    month: str
    at: datetime


class CreditRecord(msgspec.Struct):
    """A resident's credit record (信用档案): the balance on the ledger and where it came from."""

    user_id: int
    name: str
    balance: int
    entries: list[CreditEntryRead]
    total: int


class RollRow(msgspec.Struct):
    user_id: int
    name: str
    phone: str
    points: int
    points_this_month: int
    entries: int

from __future__ import annotations

from datetime import datetime

import msgspec

from market.auth.schemas import PersonName, Phone
from market.fields import Id
from market.orders.models import OrderStatus


class NeighbourCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A neighbour the informant registers on the spot: a resident of a building in the grid, who
    gets no password (they log in after a password reset, or sign up with this phone)."""

    phone: Phone
    name: PersonName
    area_id: Id


class ReportRead(msgspec.Struct):
    """One of the informant's reports, as they follow it: what, where, for whom (masked), and how far."""

    order_id: int
    category: str
    place: str
    resident_name: str
    status: OrderStatus
    created_at: datetime
    updated_at: datetime

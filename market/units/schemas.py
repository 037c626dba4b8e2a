from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.auth.schemas import Phone
from market.fields import Id, Moment, text
from market.units.models import ResourceCategory, ResourceStatus, UnitKind

Quantity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
# "kg", "hours", "seats", "yuan" …; compared without case or surrounding spaces.
UnitOfMeasure = text(20, required=True)
Communities = Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]


class UnitCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: text(100, required=True)
    kind: UnitKind
    contact_name: text(50, required=True)
    contact_phone: Phone
    community_ids: Communities
    # Users with the unit_admin role who act for the unit.
    admin_ids: Annotated[list[Id], msgspec.Meta(max_length=20)] = []


class UnitUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; lists replace the whole list."""

    name: text(100, required=True) | None = None
    kind: UnitKind | None = None
    contact_name: text(50, required=True) | None = None
    contact_phone: Phone | None = None
    community_ids: Communities | None = None
    admin_ids: Annotated[list[Id], msgspec.Meta(max_length=20)] | None = None


class UnitAdminRead(msgspec.Struct):
    user_id: int
    name: str


class UnitRead(msgspec.Struct):
    id: int
    name: str
    kind: UnitKind
    contact_name: str
    contact_phone: str
    community_ids: list[int]
    admins: list[UnitAdminRead]
    created_at: datetime
    updated_at: datetime


class ResourceCreate(msgspec.Struct, forbid_unknown_fields=True):
    unit_id: Id
    category: ResourceCategory
    title: text(100, required=True)
    quantity: Quantity
    unit_of_measure: UnitOfMeasure
    # Every one must be a community the unit is paired with.
    community_ids: Communities
    available_from: Moment
    available_until: Moment | None = None
    description: text(2000) = ""


class ResourceUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change. `quantity` may not drop below what is held and delivered."""

    title: text(100, required=True) | None = None
    description: text(2000) | None = None
    quantity: Quantity | None = None
    community_ids: Communities | None = None
    available_from: Moment | None = None
    available_until: Moment | None = None
    # published or withdrawn; used_up is the service's to set.
    status: ResourceStatus | None = None


class ResourceRead(msgspec.Struct):
    id: int
    unit_id: int
    unit_name: str
    category: ResourceCategory
    title: str
    description: str
    quantity: int
    unit_of_measure: str
    # quantity = available + held + delivered, always.
    available: int
    held: int
    delivered: int
    community_ids: list[int]
    available_from: datetime
    available_until: datetime | None
    status: ResourceStatus
    created_at: datetime
    updated_at: datetime

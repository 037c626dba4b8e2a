"""Co-building units (共建单位), the communities they are paired with, their admins and
the resources they publish (资源清单)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base


class UnitKind(enum.StrEnum):
    government_agency = "government_agency"
    state_enterprise = "state_enterprise"
    private_company = "private_company"
    social_organisation = "social_organisation"
    property_company = "property_company"
    merchant = "merchant"
    school = "school"
    hospital = "hospital"
    other = "other"


class ResourceCategory(enum.StrEnum):
    """What a resource offers and what a need asks for: a need is met only by its own category."""

    venue = "venue"
    goods = "goods"
    funds = "funds"
    professional_service = "professional_service"
    volunteer_hours = "volunteer_hours"
    transport = "transport"
    other = "other"


class ResourceStatus(enum.StrEnum):
    published = "published"
    withdrawn = "withdrawn"
    # Set by the service when nothing is left to commit; a release makes it published again.
    used_up = "used_up"


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[UnitKind] = mapped_column(String(32))
    contact_name: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str] = mapped_column(String(20))
    # The home area of whoever registered it: the street's or community's managers look after it.
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    communities: Mapped[list[UnitCommunity]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="UnitCommunity.community_id"
    )
    admins: Mapped[list[UnitAdmin]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="UnitAdmin.user_id"
    )


class UnitCommunity(Base):
    """A pairing (挂钩): the unit works with this community."""

    __tablename__ = "unit_communities"
    __table_args__ = (UniqueConstraint("unit_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)


class UnitAdmin(Base):
    """A user with the unit_admin role who acts for the unit."""

    __tablename__ = "unit_admins"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class Resource(Base):
    __tablename__ = "resources"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Committed quantity is held, then delivered or released: never more than there is.
        CheckConstraint(
            "held >= 0 AND delivered >= 0 AND held + delivered <= quantity", name="quantity_balance"
        ),
        CheckConstraint(
            "available_until IS NULL OR available_from < available_until", name="availability_order"
        ),
        Index("ix_resources_status_category", "status", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    category: Mapped[ResourceCategory] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int]
    unit_of_measure: Mapped[str] = mapped_column(String(20))
    held: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    available_from: Mapped[datetime]
    # None: open-ended.
    available_until: Mapped[datetime | None]
    status: Mapped[ResourceStatus] = mapped_column(String(16), default=ResourceStatus.published)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    communities: Mapped[list[ResourceCommunity]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ResourceCommunity.community_id"
    )

    @property
    def available(self) -> int:
        return self.quantity - self.held - self.delivered


class ResourceCommunity(Base):
    """A community the resource serves; always one the unit is paired with when published."""

    __tablename__ = "resource_communities"
    __table_args__ = (UniqueConstraint("resource_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)

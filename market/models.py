"""Imports every domain's models so that the metadata is complete (for Alembic and tests)."""

from market.areas.models import Area
from market.auth.models import User, UserRole
from market.categories.models import ServiceCategory
from market.db import Base
from market.orders.models import Offer, Order, OrderEvent
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill

metadata = Base.metadata

__all__ = [
    "Area",
    "AvailabilityWindow",
    "Offer",
    "Order",
    "OrderEvent",
    "ServiceCategory",
    "ServingArea",
    "User",
    "UserRole",
    "VolunteerProfile",
    "VolunteerSkill",
    "metadata",
]

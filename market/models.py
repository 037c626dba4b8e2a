"""Imports every domain's models so that the metadata is complete (for Alembic and tests)."""

from market.areas.models import Area
from market.auth.models import User, UserRole
from market.categories.models import ServiceCategory
from market.db import Base
from market.dispatch.models import AutoDispatch, DispatchPlan, PlanPair, PlanUnassigned
from market.idempotency import IdempotencyRecord
from market.ledger.models import Account, Lot, LotUse, OwedReward, PointsPolicy, Transfer
from market.notifications.models import Notification
from market.orders.models import Offer, Order, OrderEvent
from market.rewards.models import Redemption, Reward, RewardCommunity
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill

metadata = Base.metadata

__all__ = [
    "Account",
    "Area",
    "AutoDispatch",
    "AvailabilityWindow",
    "DispatchPlan",
    "IdempotencyRecord",
    "Lot",
    "LotUse",
    "Notification",
    "Offer",
    "Order",
    "OrderEvent",
    "OwedReward",
    "PlanPair",
    "PlanUnassigned",
    "PointsPolicy",
    "Redemption",
    "Reward",
    "RewardCommunity",
    "ServiceCategory",
    "ServingArea",
    "Transfer",
    "User",
    "UserRole",
    "VolunteerProfile",
    "VolunteerSkill",
    "metadata",
]

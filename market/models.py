"""Imports every domain's models so that the metadata is complete (for Alembic and tests)."""

from market.areas.models import Area
from market.auth.models import FailedAttempt, User, UserRole
from market.categories.models import ServiceCategory
from market.consultation.models import NeedProposal, NeedSupport
from market.credit.models import CreditEntry
from market.db import Base
from market.dispatch.models import AutoDispatch, DispatchPlan, PlanPair, PlanUnassigned
from market.doorplates.models import Doorplate, RevokedDoorplate
from market.followups.models import FollowUp, FollowUpSampling
from market.idempotency import IdempotencyRecord
from market.jobs.models import JobRun
from market.ledger.models import Account, Lot, LotUse, OwedReward, PointsPolicy, StreetPolicy, Transfer
from market.needs.models import AllocationFlow, AllocationPlan, AllocationUnmet, Need
from market.notifications.models import Notification
from market.open311.models import Open311Key
from market.orders.models import Offer, Order, OrderEvent
from market.party.models import CommendationThreshold, PartyEvaluation, PartyMember
from market.people.models import Application, PeopleImport
from market.photos.models import Photo
from market.projects.models import (
    Commitment,
    Delivery,
    Participant,
    Project,
    ProjectEvent,
    ProjectNeed,
    Responsibility,
)
from market.records.models import Certificate, CertificateCounter, CertificateIssuer, RecordEntry
from market.reports.models import PointsMonth
from market.rewards.models import Redemption, Reward, RewardCommunity
from market.shifts.models import Shift, ShiftSignup, ShiftSkill
from market.teams.models import Team, TeamEvent, TeamMember
from market.unit_reviews.models import UnitRating
from market.units.models import Resource, ResourceCommunity, Unit, UnitAdmin, UnitCommunity
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill
from market.wishes.models import Wish, WishEvent

metadata = Base.metadata

__all__ = [
    "Account",
    "AllocationFlow",
    "AllocationPlan",
    "AllocationUnmet",
    "Application",
    "Area",
    "AutoDispatch",
    "AvailabilityWindow",
    "Certificate",
    "CertificateCounter",
    "CertificateIssuer",
    "CommendationThreshold",
    "Commitment",
    "CreditEntry",
    "Delivery",
    "DispatchPlan",
    "Doorplate",
    "FailedAttempt",
    "FollowUp",
    "FollowUpSampling",
    "IdempotencyRecord",
    "JobRun",
    "Lot",
    "LotUse",
    "Need",
    "NeedProposal",
    "NeedSupport",
    "Notification",
    "Offer",
    "Open311Key",
    "Order",
    "OrderEvent",
    "OwedReward",
    "Participant",
    "PartyEvaluation",
    "PartyMember",
    "PeopleImport",
    "Photo",
    "PlanPair",
    "PlanUnassigned",
    "PointsMonth",
    "PointsPolicy",
    "Project",
    "ProjectEvent",
    "ProjectNeed",
    "RecordEntry",
    "Redemption",
    "Resource",
    "ResourceCommunity",
    "Responsibility",
    "RevokedDoorplate",
    "Reward",
    "RewardCommunity",
    "ServiceCategory",
    "ServingArea",
    "Shift",
    "ShiftSignup",
    "ShiftSkill",
    "StreetPolicy",
    "Team",
    "TeamEvent",
    "TeamMember",
    "Transfer",
    "Unit",
    "UnitAdmin",
    "UnitCommunity",
    "UnitRating",
    "User",
    "UserRole",
    "VolunteerProfile",
    "VolunteerSkill",
    "Wish",
    "WishEvent",
    "metadata",
]

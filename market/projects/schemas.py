from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from market.fields import Id, Moment, text
from market.needs.models import NeedStatus
from market.projects.models import ProjectStatus, ResponsibilityEscalation
from market.units.schemas import Quantity

Hours = Annotated[float, msgspec.Meta(ge=0, le=1000, description="Hours served, to a tenth")]


class CommitmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    resource_id: Id
    quantity: Quantity
    # The project's need it serves; may be left out when the project has exactly one need.
    need_id: Id | None = None


class ResponsibilityCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of unit_id, user_id and team_id says who is responsible."""

    task: text(200, required=True)
    unit_id: Id | None = None
    user_id: Id | None = None
    # A volunteer team of the project's community.
    team_id: Id | None = None
    # Not past, not after the project's deadline; default: the project's deadline.
    due_at: Moment | None = None


class ResponsibilityChange(msgspec.Struct, forbid_unknown_fields=True):
    """A new holder (exactly one of unit_id, user_id and team_id, or none to keep the holder),
    a new due date, or both."""

    unit_id: Id | None = None
    user_id: Id | None = None
    team_id: Id | None = None
    due_at: Moment | None = None


class CloseRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Why a project with nothing to deliver and no responsibilities is complete (required then)."""

    note: text(500) = ""


class ProjectCreate(msgspec.Struct, forbid_unknown_fields=True):
    title: text(100, required=True)
    community_id: Id
    deadline: Moment
    # Default: now.
    start_at: Moment | None = None
    description: text(2000) = ""
    # Open needs of the community; they become planned.
    need_ids: Annotated[list[Id], msgspec.Meta(max_length=200)] = []
    # Each holds the quantity on the resource until delivered or released.
    commitments: Annotated[list[CommitmentCreate], msgspec.Meta(max_length=100)] = []
    responsibilities: Annotated[list[ResponsibilityCreate], msgspec.Meta(max_length=100)] = []
    participant_ids: Annotated[list[Id], msgspec.Meta(max_length=200)] = []


class DeliveryCreate(msgspec.Struct, forbid_unknown_fields=True):
    quantity: Quantity
    note: text(500) = ""


class ParticipantCreate(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id


class HoursRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The participant's total hours so far; recording again replaces the figure."""

    hours: Hours


class CancelRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: text(500, required=True)


class NeedBrief(msgspec.Struct):
    id: int
    title: str
    quantity: int
    unit_of_measure: str
    status: NeedStatus
    # Delivered across every project that served it.
    delivered: int


class DeliveryRead(msgspec.Struct):
    id: int
    quantity: int
    note: str
    recorded_by_id: int
    at: datetime


class CommitmentRead(msgspec.Struct):
    id: int
    resource_id: int
    resource_title: str
    unit_id: int
    unit_name: str
    need_id: int | None
    quantity: int
    unit_of_measure: str
    delivered: int
    # Given back to the resource at close-out or cancellation.
    released: int
    # quantity - delivered - released: still held on the resource.
    outstanding: int
    confirmed_at: datetime | None
    confirmed_by_id: int | None
    deliveries: list[DeliveryRead]


class ResponsibilityRead(msgspec.Struct):
    id: int
    task: str
    unit_id: int | None
    user_id: int | None
    team_id: int | None
    # The unit's, person's or team's name.
    assignee: str
    due_at: datetime
    done_at: datetime | None
    done_by_id: int | None
    # Who has been told it is past its due date: "owner", then "community".
    escalation: ResponsibilityEscalation | None


class ParticipantRead(msgspec.Struct):
    id: int
    user_id: int
    name: str
    hours: float
    added_at: datetime


class EventRead(msgspec.Struct):
    id: int
    actor_id: int | None
    actor_name: str
    action: str
    from_status: ProjectStatus | None
    to_status: ProjectStatus | None
    note: str
    at: datetime


class CommitmentOutcome(msgspec.Struct):
    commitment_id: int
    resource_id: int
    unit_id: int
    committed: int
    delivered: int
    released: int


class MissingItem(msgspec.Struct):
    """Why a project closed overdue, as a code with its params: `commitment_short` (commitment_id,
    resource, delivered, committed), `responsibility_not_done` (responsibility_id, task, due_at) or
    `close_note_missing` (nothing was to be delivered or done and no manager said it was complete)."""

    code: str = "commitment_short"
    params: dict[str, Any] = {}


class NeedOutcome(msgspec.Struct):
    """A need as the close-out left it: delivered across every project that served it."""

    need_id: int
    quantity: int
    delivered: int
    status: NeedStatus


class VolunteerPoints(msgspec.Struct):
    user_id: int
    hours: float
    points: int
    # The community pool could not pay yet: the points are owed and paid once it is funded.
    owed: bool
    # Held back by the community's daily or monthly cap (never paid).
    withheld: int = 0


class UnitPoints(msgspec.Struct):
    unit_id: int
    completed_commitments: int
    credit_points: int


class ProjectSummary(msgspec.Struct):
    outcome: ProjectStatus
    closed_at: datetime
    # None when the scheduler closed the project at its deadline.
    closed_by_id: int | None
    commitments: list[CommitmentOutcome]
    # What kept the project from completing: empty when it completed.
    missing: list[MissingItem]
    needs_met: list[int]
    # Needs left partly met or open, their remainder waiting for the next plan.
    needs_reopened: list[int]
    points_per_hour: int
    volunteer_points: list[VolunteerPoints]
    unit_points: list[UnitPoints]
    note: str
    needs: list[NeedOutcome] = []


class ProjectRead(msgspec.Struct):
    id: int
    title: str
    description: str
    community_id: int
    status: ProjectStatus
    start_at: datetime
    deadline: datetime
    created_by_id: int
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    closed_at: datetime | None
    needs: list[NeedBrief]
    commitments: list[CommitmentRead]
    responsibilities: list[ResponsibilityRead]
    participants: list[ParticipantRead]
    events: list[EventRead]
    summary: ProjectSummary | None


class ProjectListItem(msgspec.Struct):
    id: int
    title: str
    community_id: int
    status: ProjectStatus
    start_at: datetime
    deadline: datetime
    commitments: int
    confirmed: int
    created_at: datetime
    closed_at: datetime | None

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.fields import Id, text
from market.teams.models import Speciality

# A team is a standing group, not a crowd: pool dispatches go to every eligible member.
MAX_MEMBERS = 200


class TeamCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: text(100, required=True)
    speciality: Speciality
    community_id: Id
    # A volunteer of the community; becomes the team's first member.
    leader_id: Id
    description: text(1000) = ""
    # Other volunteers to add at once.
    member_ids: Annotated[list[Id], msgspec.Meta(max_length=MAX_MEMBERS)] = []


class TeamUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change."""

    name: text(100, required=True) | None = None
    speciality: Speciality | None = None
    description: text(1000) | None = None
    # Must already be a member.
    leader_id: Id | None = None
    is_active: bool | None = None


class MemberAdd(msgspec.Struct, forbid_unknown_fields=True):
    user_id: Id


class MemberRead(msgspec.Struct):
    user_id: int
    name: str
    is_leader: bool
    joined_at: datetime


class TeamEventRead(msgspec.Struct):
    id: int
    action: str
    actor_id: int
    actor_name: str
    user_id: int | None
    user_name: str | None
    note: str
    at: datetime


class TeamRead(msgspec.Struct):
    id: int
    name: str
    speciality: Speciality
    description: str
    community_id: int
    community_name: str
    leader_id: int
    leader_name: str
    member_count: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class TeamDetail(TeamRead):
    members: list[MemberRead]
    events: list[TeamEventRead]

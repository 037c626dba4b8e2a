from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from market.auth.schemas import Password, PersonName, Phone
from market.fields import Id
from market.people.models import ApplicationKind, ApplicationStatus, ImportStatus
from market.volunteers.schemas import ProfileWrite


class RowError(msgspec.Struct):
    # The row's line in the file, as a spreadsheet program numbers it.
    line: int
    column: str
    # invalid_phone, duplicate_phone_in_file, unknown_building, building_outside_your_area, ...
    code: str
    value: str


class ImportRead(msgspec.Struct):
    id: int
    status: ImportStatus
    file_name: str
    total: int
    done: int
    # At preview: what confirming would do; once running: what has been done.
    created: int
    changed: int
    unchanged: int
    errors: list[RowError]
    created_at: datetime


class SignUp(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    name: PersonName
    password: Password
    # The building the resident lives in.
    area_id: Id


class VolunteerApplicationCreate(ProfileWrite, forbid_unknown_fields=True):
    """The profile a resident asks to volunteer with (skills, availability, serving areas)."""


class ApplicationRead(msgspec.Struct):
    id: int
    user_id: int
    user_name: str
    user_phone: str
    kind: ApplicationKind
    status: ApplicationStatus
    area_id: int
    area_name: str
    created_at: datetime
    decided_at: datetime | None
    # A volunteer application's profile as asked for.
    profile: ProfileWrite | None = None


Decision = Annotated[str, msgspec.Meta(pattern="^(approve|refuse)$")]

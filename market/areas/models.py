from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base


class AreaLevel(enum.StrEnum):
    street = "street"
    community = "community"
    grid = "grid"
    compound = "compound"
    building = "building"


LEVELS = list(AreaLevel)
# Codes are hierarchical: a child's code is its parent's code plus three digits,
# so "is inside" is a prefix test and a subtree is one indexed LIKE query.
STREET_CODE_DIGITS = 9
CHILD_CODE_DIGITS = 3


def code_length(level: AreaLevel) -> int:
    return STREET_CODE_DIGITS + CHILD_CODE_DIGITS * LEVELS.index(level)


def child_level(level: AreaLevel) -> AreaLevel | None:
    index = LEVELS.index(level) + 1
    return LEVELS[index] if index < len(LEVELS) else None


COMMUNITY_CODE_DIGITS = code_length(AreaLevel.community)


def community_code_of(code: str) -> str | None:
    """The code of the community an area with this code lies in (or is); None above a community."""
    return code[:COMMUNITY_CODE_DIGITS] if len(code) >= COMMUNITY_CODE_DIGITS else None


def community_scope(code: str) -> str:
    """The widest code a person at this area sees community things in: their community, or their
    whole area when it is above one (a street, or everything for an administrator's empty code)."""
    return code[:COMMUNITY_CODE_DIGITS]


class Area(Base):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[AreaLevel] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    parent: Mapped[Area | None] = relationship(remote_side=[id], lazy="raise")

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

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


class Area(Base):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[AreaLevel] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)

    def contains(self, other: Area) -> bool:
        return other.code.startswith(self.code)

    def ancestor_code(self, level: AreaLevel) -> str | None:
        """The code of this area's ancestor (or itself) at `level`, if it is that deep."""
        length = code_length(level)
        return self.code[:length] if len(self.code) >= length else None

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.areas.models import Area
from market.db import Base


class Role(enum.StrEnum):
    resident = "resident"
    volunteer = "volunteer"
    unit_admin = "unit_admin"
    grid_worker = "grid_worker"
    community_manager = "community_manager"
    street_admin = "street_admin"
    admin = "admin"


# Roles that manage the people and orders of an area subtree (their home area).
MANAGER_ROLES = frozenset({Role.grid_worker, Role.community_manager, Role.street_admin, Role.admin})


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    # Home area; only administrators may have none (they see everything).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]

    area: Mapped[Area | None] = relationship(lazy="raise")
    role_rows: Mapped[list[UserRole]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="UserRole.role"
    )

    @property
    def roles(self) -> list[Role]:
        return [Role(r.role) for r in self.role_rows]


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(String(32), index=True)

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.areas.models import Area
from market.db import Base


class Role(enum.StrEnum):
    resident = "resident"
    volunteer = "volunteer"
    # 网格信息员: a neighbour a grid worker appoints to report needs in their grid for others.
    informant = "informant"
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
    # None until the person chooses one: people imported from a spreadsheet or registered by a
    # worker log in only after a password reset (or a sign-up with their phone).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Set by a password reset: the one-time password lets the person change it and do nothing else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A sign-up waiting for a grid worker ("pending") or turned down ("refused"): the person may log
    # in only to see how their application stands. None for everyone else.
    approval: Mapped[str | None] = mapped_column(String(16))
    # Home area; only administrators may have none (they see everything).
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Carried in every token and checked on every request: raising it ends all the person's tokens
    # (a changed password, a logout, a deactivated account).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # 长辈模式: larger text and buttons on every page, kept with the person so that it follows them
    # to another phone.
    large_text: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Left off the honour roll (光荣榜) at the person's own wish.
    honour_roll_opt_out: Mapped[bool] = mapped_column(default=False, server_default=false())
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


class AttemptKind(enum.StrEnum):
    login = "login"
    pickup_code = "pickup_code"
    # Not a failure: every sign-up from a client address counts against that address's limit.
    signup = "signup"


class FailedAttempt(Base):
    """A wrong password or a wrong pickup code: what throttles further attempts (market/auth/throttle.py),
    and what administrators look through. Purged after `failed_attempts_keep_days`."""

    __tablename__ = "failed_attempts"
    __table_args__ = (
        Index("ix_failed_attempts_account_at", "account", "at"),
        Index("ix_failed_attempts_client_at", "client", "at"),
        Index("ix_failed_attempts_user_id_at", "user_id", "at"),
        Index("ix_failed_attempts_actor_id_at", "actor_id", "at"),
        Index("ix_failed_attempts_device_at", "device", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AttemptKind] = mapped_column(String(16))
    # A login: the phone number typed, whether or not it has an account.
    account: Mapped[str | None] = mapped_column(String(32))
    # A login: the account of that phone. A pickup code: the counter it was tried at.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A pickup code: the person who typed it (logins have nobody logged in yet).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The client address the attempt came from (logins).
    client: Mapped[str | None] = mapped_column(String(64))
    # A login with a valid device token for the account: the token's hash (never the token).
    device: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    # When a later success (same account from the same address or device, the same person's code
    # at the same counter) made the failure stop counting; the record stays for administrators.
    cleared_at: Mapped[datetime | None]

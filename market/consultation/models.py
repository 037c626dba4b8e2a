"""Residents shape the need list (征求民意): they support a community's published needs and propose
new ones, which the community's managers review."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base
from market.state_machine import Machine


class NeedSupport(Base):
    """A resident's support for a need: one per resident and need."""

    __tablename__ = "need_supports"
    __table_args__ = (UniqueConstraint("need_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(ForeignKey("needs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime]


class ProposalStatus(enum.StrEnum):
    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"


class ProposalAction(enum.StrEnum):
    approve = "approve"
    reject = "reject"


# A proposal is reviewed once: published as a need, or turned down.
PROPOSAL_MACHINE = Machine(
    "proposal",
    {
        ProposalAction.approve: ({ProposalStatus.proposed}, ProposalStatus.approved),
        ProposalAction.reject: ({ProposalStatus.proposed}, ProposalStatus.rejected),
    },
)


class RejectReason(enum.StrEnum):
    """Why a manager turned a proposal down, said to the resident in their language."""

    duplicate = "duplicate"
    already_planned = "already_planned"
    not_for_the_community = "not_for_the_community"
    cannot_be_met = "cannot_be_met"
    unclear = "unclear"


class NeedProposal(Base):
    """A resident's proposed need; approved, it becomes a published need."""

    __tablename__ = "need_proposals"
    __table_args__ = (Index("ix_need_proposals_community_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    # The community's code, so that a manager's subtree is an indexed prefix match.
    community_code: Mapped[str] = mapped_column(String(32), index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ProposalStatus] = mapped_column(String(16), default=ProposalStatus.proposed)
    created_at: Mapped[datetime]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    reject_reason: Mapped[RejectReason | None] = mapped_column(String(32))
    # The need it became.
    need_id: Mapped[int | None] = mapped_column(ForeignKey("needs.id"))

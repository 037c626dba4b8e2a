"""Residents shape the need list (征求民意): each resident of a community supports a published need
of it once, and proposes new needs, which the community's managers approve (a published need, which
the proposer is counted as supporting) or reject with a reason. The support count weighs the need in
allocation plans (`market.needs.service.plan_weight`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, community_code_of
from market.auth.access import Actor
from market.auth.models import Role
from market.auth.service import user_names
from market.consultation.models import (
    PROPOSAL_MACHINE,
    NeedProposal,
    NeedSupport,
    ProposalAction,
    ProposalStatus,
    RejectReason,
)
from market.consultation.schemas import (
    CommunityNeedRead,
    ProposalApprove,
    ProposalCreate,
    ProposalRead,
)
from market.errors import Conflict, Forbidden, NotFound
from market.needs import service as needs
from market.needs.models import Need, NeedStatus
from market.needs.schemas import NeedCreate
from market.notifications.models import NotificationCode
from market.notifications.service import notify
from market.pagination import page_total
from market.projects import service as projects

# Needs residents see and support: published and not yet met or closed.
PUBLISHED = (NeedStatus.open, NeedStatus.planned)


async def home_community(session: AsyncSession, actor: Actor) -> Area:
    """The community a resident lives in: theirs to support needs of and propose needs for."""
    code = community_code_of(actor.area_code) if Role.resident in actor.roles else None
    community = await session.scalar(select(Area).where(Area.code == code)) if code else None
    if community is None:
        raise Forbidden(
            "Only a community's residents have a say in its needs.", code="not_a_community_resident"
        )
    return community


async def community_needs(
    session: AsyncSession, actor: Actor, limit: int, offset: int
) -> tuple[list[CommunityNeedRead], int]:
    """The published needs of the resident's community, weightiest first."""
    community = await home_community(session, actor)
    stmt = select(Need).where(Need.community_id == community.id, Need.status.in_(PUBLISHED))
    rows = list(
        await session.scalars(
            stmt.order_by(Need.priority.desc(), Need.deadline, Need.id).limit(limit).offset(offset)
        )
    )
    total = await page_total(session, stmt, limit, offset, len(rows))
    return await community_need_reads(session, actor, rows), total


async def community_need_reads(
    session: AsyncSession, actor: Actor, rows: list[Need]
) -> list[CommunityNeedRead]:
    counts = await needs.support_counts(session, [n.id for n in rows])
    mine = set(
        await session.scalars(
            select(NeedSupport.need_id).where(
                NeedSupport.user_id == actor.id, NeedSupport.need_id.in_([n.id for n in rows])
            )
        )
    )
    return [
        CommunityNeedRead(
            id=n.id,
            title=n.title,
            description=n.description,
            category=n.category,
            quantity=n.quantity,
            unit_of_measure=n.unit_of_measure,
            priority=n.priority,
            supports=counts.get(n.id, 0),
            plan_weight=round(needs.plan_weight(n.priority, counts.get(n.id, 0)), 2),
            supported_by_me=n.id in mine,
            status=n.status,
            deadline=n.deadline,
        )
        for n in rows
    ]


async def support(session: AsyncSession, actor: Actor, need_id: int, now: datetime) -> Need:
    """Support a published need of one's community, once."""
    community = await home_community(session, actor)
    # The need's row lock makes a second press wait for the first, then see it.
    need = (await projects.lock_needs(session, [need_id])).get(need_id)
    if need is None or need.community_id != community.id:
        raise NotFound(f"Need {need_id} does not exist.", code="need_not_found")
    if need.status not in PUBLISHED:
        raise Conflict(f"This need is {need.status}: it takes no more support.", code="need_not_open")
    if await session.scalar(
        select(NeedSupport.id).where(NeedSupport.need_id == need.id, NeedSupport.user_id == actor.id)
    ):
        raise Conflict("You already support this need.", code="already_supported")
    session.add(NeedSupport(need_id=need.id, user_id=actor.id, at=now))
    await session.flush()
    return need


async def propose(session: AsyncSession, actor: Actor, data: ProposalCreate, now: datetime) -> NeedProposal:
    community = await home_community(session, actor)
    proposal = NeedProposal(
        community_id=community.id,
        community_code=community.code,
        proposed_by_id=actor.id,
        title=data.title.strip(),
        description=data.description,
        status=ProposalStatus.proposed,
        created_at=now,
    )
    session.add(proposal)
    await session.flush()
    return proposal


async def proposal_reads(session: AsyncSession, rows: list[NeedProposal]) -> list[ProposalRead]:
    names = await user_names(session, {p.proposed_by_id for p in rows})
    return [
        ProposalRead(
            id=p.id,
            community_id=p.community_id,
            proposed_by_id=p.proposed_by_id,
            proposed_by_name=names.get(p.proposed_by_id, ""),
            title=p.title,
            description=p.description,
            status=p.status,
            created_at=p.created_at,
            reviewed_at=p.reviewed_at,
            reject_reason=p.reject_reason,
            need_id=p.need_id,
        )
        for p in rows
    ]


async def list_proposals(
    session: AsyncSession,
    actor: Actor,
    *,
    community_id: int | None,
    status: ProposalStatus | None,
    limit: int,
    offset: int,
) -> tuple[list[NeedProposal], int]:
    """Managers: the proposals of the communities they run; anyone else: their own. Oldest first."""
    if actor.is_community_manager:
        stmt = select(NeedProposal).where(
            NeedProposal.community_code.startswith(actor.area_code, autoescape=True)
        )
    else:
        stmt = select(NeedProposal).where(NeedProposal.proposed_by_id == actor.id)
    if community_id is not None:
        stmt = stmt.where(NeedProposal.community_id == community_id)
    if status is not None:
        stmt = stmt.where(NeedProposal.status == status)
    rows = list(await session.scalars(stmt.order_by(NeedProposal.id).limit(limit).offset(offset)))
    return rows, await page_total(session, stmt, limit, offset, len(rows))


async def _proposal_to_review(session: AsyncSession, actor: Actor, proposal_id: int) -> NeedProposal:
    proposal = await session.scalar(
        select(NeedProposal)
        .where(NeedProposal.id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if proposal is None or not actor.manages(proposal.community_code):
        raise NotFound(f"Proposal {proposal_id} does not exist.", code="proposal_not_found")
    if not actor.is_community_manager:
        raise Forbidden("Only the community's managers review proposals.", code="manager_required")
    if not PROPOSAL_MACHINE.actions_from(proposal.status):
        raise Conflict(f"This proposal is already {proposal.status}.", code="proposal_decided")
    return proposal


async def approve(
    session: AsyncSession, actor: Actor, proposal_id: int, data: ProposalApprove, now: datetime
) -> NeedProposal:
    """Publish the proposal as a need; the proposer counts as its first supporter."""
    proposal = await _proposal_to_review(session, actor, proposal_id)
    need = await needs.create_need(
        session,
        actor,
        NeedCreate(
            area_id=data.area_id or proposal.community_id,
            category=data.category,
            title=data.title or proposal.title,
            quantity=data.quantity,
            unit_of_measure=data.unit_of_measure,
            deadline=data.deadline,
            priority=data.priority,
            description=proposal.description,
        ),
        now,
    )
    if need.community_id != proposal.community_id:
        raise Conflict("The need must be of the proposal's community.", code="place_outside_community")
    session.add(NeedSupport(need_id=need.id, user_id=proposal.proposed_by_id, at=now))
    proposal.status = PROPOSAL_MACHINE.next(proposal.status, ProposalAction.approve)
    proposal.need_id = need.id
    proposal.reviewed_by_id, proposal.reviewed_at = actor.id, now
    await notify(
        session,
        [proposal.proposed_by_id],
        NotificationCode.proposal_approved,
        now,
        subject=("need", need.id),
        title=need.title,
    )
    await session.flush()
    return proposal


async def reject(
    session: AsyncSession, actor: Actor, proposal_id: int, reason: RejectReason, now: datetime
) -> NeedProposal:
    proposal = await _proposal_to_review(session, actor, proposal_id)
    proposal.status = PROPOSAL_MACHINE.next(proposal.status, ProposalAction.reject)
    proposal.reject_reason = reason
    proposal.reviewed_by_id, proposal.reviewed_at = actor.id, now
    await notify(
        session,
        [proposal.proposed_by_id],
        NotificationCode.proposal_rejected,
        now,
        subject=("proposal", proposal.id),
        title=proposal.title,
        reject_reason=str(reason),
    )
    await session.flush()
    return proposal

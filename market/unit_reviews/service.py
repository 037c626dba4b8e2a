"""Unit reviews (述职评议), every half-year: what each co-building unit promised, kept and gave, how
the residents and communities rated the projects it served, and the score (market.unit_reviews.score).
Ratings: after a project closes, each participant and the project's community (by its managers)
rate each unit that worked on it, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel, code_length
from market.auth.access import Actor
from market.auth.models import Role
from market.db import upsert
from market.errors import Conflict, Forbidden, NotFound, Unprocessable
from market.projects.models import Commitment, Delivery, Participant, Project, ProjectStatus, Responsibility
from market.rewards.models import Redemption, RedemptionStatus, Reward
from market.unit_reviews.models import RaterKind, UnitRating
from market.unit_reviews.schemas import RatingRead, RatingWrite, ScoreRead, UnitReview
from market.unit_reviews.score import Figures, unit_score
from market.units.models import Unit, UnitAdmin, UnitCommunity
from market.wishes.models import ClaimerKind, Wish, WishStatus

STREET = code_length(AreaLevel.street)
CLOSED = (ProjectStatus.completed, ProjectStatus.overdue)
CLAIMED = (WishStatus.claimed, WishStatus.fulfilled, WishStatus.confirmed)


def half_bounds(year: int, half: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """January to July (half 1) or July to January (half 2), in the service's time zone."""
    if half == 1:
        return datetime(year, 1, 1, tzinfo=tz), datetime(year, 7, 1, tzinfo=tz)
    return datetime(year, 7, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


# ---------------------------------------------------------------- ratings


async def rate_unit(
    session: AsyncSession, actor: Actor, project_id: int, data: RatingWrite, now: datetime
) -> RatingRead:
    """A participant (as a resident) or a manager of the project's community (for the community)
    rates a unit that worked on the closed project: once per person, project and unit."""
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"Project {project_id} does not exist.", code="project_not_found")
    took_part = await session.scalar(
        select(Participant.id).where(Participant.project_id == project.id, Participant.user_id == actor.id)
    )
    if took_part:
        kind = RaterKind.resident
    elif actor.is_community_manager and actor.manages(project.community_code):
        kind = RaterKind.community
    else:
        raise Forbidden(
            "Only the project's participants and its community's managers rate its units.",
            code="not_a_participant",
        )
    if project.status not in CLOSED:
        raise Conflict("A unit is rated after the project closes.", code="project_not_closed")
    worked = await session.scalar(
        select(func.count()).where(
            or_(
                select(Commitment.id)
                .where(Commitment.project_id == project.id, Commitment.unit_id == data.unit_id)
                .exists(),
                select(Responsibility.id)
                .where(Responsibility.project_id == project.id, Responsibility.unit_id == data.unit_id)
                .exists(),
            )
        )
    )
    if not worked:
        raise Unprocessable("That unit did not work on this project.", code="unit_not_in_project")
    # One statement: two ratings at once by the same person make one row.
    inserted = await session.execute(
        upsert(session, UnitRating)
        .values(
            project_id=project.id,
            unit_id=data.unit_id,
            rater_id=actor.id,
            rater_kind=kind,
            stars=data.stars,
            comment=data.comment.strip(),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["project_id", "unit_id", "rater_id"])
    )
    if inserted.rowcount == 0:
        raise Conflict("You have already rated this unit for this project.", code="already_rated")
    rating = await session.scalar(
        select(UnitRating).where(
            UnitRating.project_id == project.id,
            UnitRating.unit_id == data.unit_id,
            UnitRating.rater_id == actor.id,
        )
    )
    assert rating is not None  # just inserted
    return RatingRead(
        id=rating.id,
        project_id=rating.project_id,
        unit_id=rating.unit_id,
        rater_kind=rating.rater_kind,
        stars=rating.stars,
        comment=rating.comment,
        created_at=rating.created_at,
    )


async def units_to_rate(
    session: AsyncSession, actor: Actor, project_id: int
) -> list[tuple[int, str, int | None]]:
    """The units that worked on the project: (id, name, the actor's stars or None)."""
    worked = (
        select(Commitment.unit_id)
        .where(Commitment.project_id == project_id)
        .union(
            select(Responsibility.unit_id).where(
                Responsibility.project_id == project_id, Responsibility.unit_id.is_not(None)
            )
        )
    )
    units = list(await session.scalars(select(Unit).where(Unit.id.in_(worked)).order_by(Unit.name, Unit.id)))
    mine = dict(
        (
            await session.execute(
                select(UnitRating.unit_id, UnitRating.stars).where(
                    UnitRating.project_id == project_id, UnitRating.rater_id == actor.id
                )
            )
        ).all()
    )
    return [(u.id, u.name, mine.get(u.id)) for u in units]


# ---------------------------------------------------------------- the review


async def reviewable_units(session: AsyncSession, actor: Actor) -> list[Unit]:
    """The units whose reviews the actor reads: the street's admins every unit of their street;
    community managers the units paired with their community; unit admins their own."""
    conditions = [Unit.id.in_(select(UnitAdmin.unit_id).where(UnitAdmin.user_id == actor.id))]
    if actor.is_admin:
        conditions.append(Unit.id.is_not(None))
    elif actor.has(Role.street_admin):
        conditions.append(Unit.area_code.startswith(actor.area_code[:STREET], autoescape=True))
    elif actor.has(Role.community_manager):
        paired = (
            select(UnitCommunity.unit_id)
            .join(Area, Area.id == UnitCommunity.community_id)
            .where(Area.code.startswith(actor.area_code, autoescape=True))
        )
        conditions.append(Unit.id.in_(paired))
    return list(await session.scalars(select(Unit).where(or_(*conditions)).order_by(Unit.name, Unit.id)))


async def review_one(session: AsyncSession, unit: Unit, year: int, half: int, tz: ZoneInfo) -> UnitReview:
    """The unit's half-year in figures, and its score."""
    start, end = half_bounds(year, half, tz)
    closed = select(Project.id).where(
        Project.status.in_(CLOSED), Project.closed_at >= start, Project.closed_at < end
    )
    commitments = list(
        (
            await session.execute(
                select(Commitment.id, Commitment.quantity, Commitment.delivered, Project.deadline)
                .join(Project, Project.id == Commitment.project_id)
                .where(Commitment.unit_id == unit.id, Commitment.project_id.in_(closed))
            )
        ).all()
    )
    last_delivery = dict(
        (
            await session.execute(
                select(Delivery.commitment_id, func.max(Delivery.at))
                .where(Delivery.commitment_id.in_([c.id for c in commitments]))
                .group_by(Delivery.commitment_id)
            )
        ).all()
    )
    kept = sum(
        1
        for c in commitments
        if c.delivered == c.quantity and (c.id not in last_delivery or last_delivery[c.id] <= c.deadline)
    )
    delivered = await session.scalar(
        select(func.coalesce(func.sum(Delivery.quantity), 0))
        .join(Commitment, Commitment.id == Delivery.commitment_id)
        .where(Commitment.unit_id == unit.id, Delivery.at >= start, Delivery.at < end)
    )
    admins = select(UnitAdmin.user_id).where(UnitAdmin.unit_id == unit.id)
    wishes = await session.scalar(
        select(func.count(Wish.id)).where(
            Wish.claimer_kind == ClaimerKind.unit,
            Wish.claimer_id.in_(admins),
            Wish.status.in_(CLAIMED),
            Wish.claimed_at >= start,
            Wish.claimed_at < end,
        )
    )
    # A reward's donor is written as the unit's name when it is published.
    donated = select(Reward.id).where(Reward.donor == unit.name)
    rewards_donated = await session.scalar(
        select(func.count(Reward.id)).where(
            Reward.donor == unit.name, Reward.created_at >= start, Reward.created_at < end
        )
    )
    redeemed = await session.scalar(
        select(func.coalesce(func.sum(Redemption.quantity), 0)).where(
            Redemption.reward_id.in_(donated),
            Redemption.status == RedemptionStatus.fulfilled,
            Redemption.settled_at >= start,
            Redemption.settled_at < end,
        )
    )
    stars: dict[RaterKind, list[int]] = {RaterKind.resident: [], RaterKind.community: []}
    for kind, value in await session.execute(
        select(UnitRating.rater_kind, UnitRating.stars).where(
            UnitRating.unit_id == unit.id, UnitRating.created_at >= start, UnitRating.created_at < end
        )
    ):
        stars[RaterKind(kind)].append(value)
    figures = Figures(
        made=len(commitments),
        kept=kept,
        wishes_claimed=wishes or 0,
        redeemed=redeemed or 0,
        resident_stars=tuple(stars[RaterKind.resident]),
        community_stars=tuple(stars[RaterKind.community]),
    )
    score = unit_score(figures)

    def average(values: list[int]) -> float | None:
        return round(sum(values) / len(values), 1) if values else None

    return UnitReview(
        unit_id=unit.id,
        unit_name=unit.name,
        year=year,
        half=half,
        commitments_made=figures.made,
        commitments_kept=kept,
        commitments_late=figures.made - kept,
        quantity_delivered=delivered or 0,
        wishes_claimed=figures.wishes_claimed,
        rewards_donated=rewards_donated or 0,
        rewards_redeemed=figures.redeemed,
        resident_ratings=len(stars[RaterKind.resident]),
        resident_average=average(stars[RaterKind.resident]),
        community_ratings=len(stars[RaterKind.community]),
        community_average=average(stars[RaterKind.community]),
        score=ScoreRead(
            keeping=score.keeping,
            residents=score.residents,
            communities=score.communities,
            giving=score.giving,
            total=score.total,
        ),
    )


async def reviews(
    session: AsyncSession, actor: Actor, year: int, half: int, tz: ZoneInfo
) -> list[UnitReview]:
    """Every unit the actor may read, best score first."""
    found = [await review_one(session, u, year, half, tz) for u in await reviewable_units(session, actor)]
    return sorted(found, key=lambda r: (-r.score.total, r.unit_name, r.unit_id))


async def review(
    session: AsyncSession, actor: Actor, unit_id: int, year: int, half: int, tz: ZoneInfo
) -> UnitReview:
    unit = next((u for u in await reviewable_units(session, actor) if u.id == unit_id), None)
    if unit is None:
        raise NotFound(f"Unit {unit_id} does not exist.", code="unit_not_found")
    return await review_one(session, unit, year, half, tz)


# How long after a project closes it is offered for rating on the pages.
RATING_WINDOW_DAYS = 90


async def projects_to_rate(
    session: AsyncSession, actor: Actor, now: datetime
) -> list[tuple[int, str, datetime, list[tuple[int, str, int | None]]]]:
    """Closed projects the actor may rate the units of (taken part in, or of a community they run),
    closed in the last RATING_WINDOW_DAYS, latest first: (id, title, closed at, `units_to_rate`)."""
    conditions = [Project.id.in_(select(Participant.project_id).where(Participant.user_id == actor.id))]
    if actor.is_community_manager:
        conditions.append(Project.community_code.startswith(actor.area_code, autoescape=True))
    projects = await session.scalars(
        select(Project)
        .where(
            or_(*conditions),
            Project.status.in_(CLOSED),
            Project.closed_at >= now - timedelta(days=RATING_WINDOW_DAYS),
        )
        .order_by(Project.closed_at.desc(), Project.id.desc())
        .limit(50)
    )
    found = []
    for project in projects:
        units = await units_to_rate(session, actor, project.id)
        if units:
            found.append((project.id, project.title, project.closed_at, units))
    return found

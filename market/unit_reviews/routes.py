from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from market import exports
from market.auth.access import ActorRequest
from market.fields import PathId
from market.settings import Settings
from market.unit_reviews import service
from market.unit_reviews.schemas import RatingRead, RatingWrite, UnitReview

YearQuery = Annotated[int, QueryParameter(ge=2000, le=2099)]
HalfQuery = Annotated[int, QueryParameter(ge=1, le=2, description="1: January to June, 2: July to December")]
REVIEW_COLUMNS = (
    "unit", "commitments_made", "commitments_kept", "commitments_late", "quantity_delivered",
    "wishes_claimed", "rewards_donated", "rewards_redeemed", "resident_ratings", "resident_average",
    "community_ratings", "community_average", "score_keeping", "score_residents", "score_communities",
    "score_giving", "score",
)  # fmt: skip


def review_cells(r: UnitReview) -> list[object]:
    s = r.score
    return [
        r.unit_name, r.commitments_made, r.commitments_kept, r.commitments_late, r.quantity_delivered,
        r.wishes_claimed, r.rewards_donated, r.rewards_redeemed, r.resident_ratings, r.resident_average,
        r.community_ratings, r.community_average, s.keeping, s.residents, s.communities, s.giving, s.total,
    ]  # fmt: skip


class UnitReviewController(Controller):
    """述职评议: co-building units' half-years for the street's review meeting."""

    path = "/api/unit-reviews"
    tags = ["units"]

    @get(
        "/",
        summary="The half-year's reviews of the units you may read, best score first; ?format=xlsx",
        responses=exports.json_or_download(list[UnitReview]),
    )
    async def reviews(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        year: YearQuery,
        half: HalfQuery,
        format: Annotated[Literal["json", "xlsx"], QueryParameter()] = "json",
    ) -> list[UnitReview] | Stream:
        found = await service.reviews(session, request.user, year, half, settings.tz)
        if format == "xlsx":
            rows = [review_cells(r) for r in found]
            return exports.download(
                "xlsx",
                f"unit-reviews-{year}-H{half}",
                REVIEW_COLUMNS,
                exports.one_batch(rows),
                sheet=f"{year}H{half}",
            )
        return found

    @get("/{unit_id:int}", summary="One unit's half-year and score")
    async def review(
        self,
        request: ActorRequest,
        unit_id: PathId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        year: YearQuery,
        half: HalfQuery,
    ) -> UnitReview:
        return await service.review(session, request.user, unit_id, year, half, settings.tz)


class UnitRatingController(Controller):
    """Rating the units that worked on a closed project: its participants and its community."""

    path = "/api/projects/{project_id:int}/unit-ratings"
    tags = ["units"]

    @post("/", summary="Rate a unit that worked on the closed project (once)")
    async def rate(
        self,
        request: ActorRequest,
        project_id: PathId,
        data: JSONBody[RatingWrite],
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
    ) -> RatingRead:
        return await service.rate_unit(session, request.user, project_id, data, now)

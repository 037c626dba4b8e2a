"""Pages: the desk's overview of today, where grid workers, community managers, street admins and
administrators land — the orders waiting, late and escalated in their area, the follow-ups due and
overdue, the commitments to confirm, the overdue responsibilities, the owed rewards and the pools
running low, each number a link to its page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.service import area_names
from market.auth.access import Actor, ActorRequest, requires_manager
from market.followups import service as followups
from market.ledger import service as ledger
from market.ledger.models import OwedStatus
from market.orders import service as orders
from market.people import service as people
from market.projects import service as projects
from market.settings import Settings
from market.web.pages import page, url

PATH = "/desk"
# A community pool with less than this many points left to give is "running low".
LOW_POOL_POINTS = 1000
# Overdue responsibilities listed on the overview, the longest overdue first.
OVERDUE_SHOWN = 10
# The desk page that lists the approvals (sign-ups, volunteer applications) waiting for the actor.
APPROVALS_PATH = "/desk/approvals"
FOLLOWUPS_PATH = "/desk/followups"


async def overview(session: AsyncSession, actor: Actor, now: datetime, settings: Settings) -> dict[str, Any]:
    counts = await orders.board_counts(session, actor, actor.area_code, now, settings)
    _, _, owed = await ledger.list_owed(session, actor, OwedStatus.owed, 1, 0)
    pools = await ledger.low_pools(session, actor, LOW_POOL_POINTS)
    board = "/desk/dispatch"
    calls = await followups.open_counts(session, actor, now)
    overdue, overdue_count = await projects.overdue_responsibilities(session, actor, now, OVERDUE_SHOWN)
    tiles = [
        ("waiting", counts["waiting"], url(board, area_id=actor.area_id, section="waiting")),
        ("late", counts["late"], url(board, area_id=actor.area_id, section="late")),
        ("escalated", counts["escalated"], url(board, area_id=actor.area_id, section="escalated")),
        ("followups_due", calls["due"], url(FOLLOWUPS_PATH, status="due")),
        ("followups_overdue", calls["overdue"], url(FOLLOWUPS_PATH, status="overdue")),
        ("approvals", await people.pending_approvals_count(session, actor), APPROVALS_PATH),
        ("commitments", await projects.commitments_to_confirm(session, actor), "/desk/projects"),
        ("overdue_responsibilities", overdue_count, "#overdue-responsibilities"),
        ("owed", owed, url("/desk/ledger/owed", status="owed")),
        ("low_pools", len(pools), url("/desk/ledger", kind="community_pool")),
    ]
    return {
        "tiles": [(key, count, href) for key, count, href in tiles if count is not None],
        "pools": pools,
        "pool_names": await area_names(session, {p.area_id for p in pools if p.area_id is not None}),
        "low_pool_points": LOW_POOL_POINTS,
        "overdue": overdue,
        "more_overdue": overdue_count - len(overdue),
    }


class DeskHome(Controller):
    path = PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def home(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> Template:
        return page(request, "desk/home.html", **await overview(session, request.user, now, settings))


CONTROLLERS: list[type[Controller]] = [DeskHome]

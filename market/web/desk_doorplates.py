"""Pages: the printable sheet of doorplate codes (数字门牌码上服务) for a manager's community, grid or
compound — an A4 page of QR codes, each with its place's full name and code, to stick on the
buildings and compound gates. Codes are issued once (a button) and every reprint shows the same;
a plate's code is revoked (its page then says so) or replaced by a new one, each after a question."""

from __future__ import annotations

from datetime import datetime

import segno
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import AreaLevel
from market.areas.service import managed_areas
from market.auth.access import ActorRequest, requires_manager
from market.doorplates import service as doorplates
from market.errors import NotFound
from market.fields import PathId, query_id, query_text
from market.web.pages import page, see_other, url

SHEET_PATH = "/desk/areas/doorplates"
PLACE_PATH = "/p"
# The areas a sheet is printed for, as the picker offers them.
SHEET_LEVELS = (AreaLevel.community, AreaLevel.grid, AreaLevel.compound)


def plate_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PLACE_PATH}/{token}"


def qr_svg(link: str) -> Markup:
    # Drawn here as SVG from the link the page builds (a random token, never a person's text).
    return Markup(segno.make(link, micro=False, error="m").svg_inline(scale=3, svgclass="qr", omitsize=True))


class DoorplateDesk(Controller):
    path = SHEET_PATH
    guards = [requires_manager]
    include_in_schema = False

    @get("/")
    async def sheet(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        root: query_id("The community, grid or compound the sheet is for") = None,
    ) -> Template | Redirect:
        actor = request.user
        area_id = root or (actor.area_id if not actor.is_admin else None)
        if area_id is None:  # an administrator without a home area picks one on the area tree
            return Redirect("/desk/areas", status_code=303)
        area, plates, unissued = await doorplates.sheet(session, actor, area_id)
        base = str(request.base_url)
        choices = [(a.id, a.name, a.level) for a in await managed_areas(session, actor, SHEET_LEVELS)]
        return page(
            request,
            "desk/doorplates_sheet.html",
            area=area,
            plates=[(p, plate_url(base, p.token), qr_svg(plate_url(base, p.token))) for p in plates],
            unissued=unissued,
            choices=choices,
        )

    @post("/")
    async def issue(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        root: query_id("The community, grid or compound the codes are for") = None,
    ) -> Redirect:
        if root is None:
            raise NotFound("Choose the area first.", code="area_not_found")
        await doorplates.issue_plates(session, request.user, root, now)
        return see_other(url(SHEET_PATH, root=root), notice="doorplates_issued")

    @post("/{area_id:int}/revoke")
    async def revoke(
        self,
        request: ActorRequest,
        area_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        root: query_id("The sheet to go back to") = None,
        token: query_text(64, "The code as the sheet showed it") = None,
    ) -> Redirect:
        await doorplates.revoke_plate(session, request.user, area_id, token, now)
        return see_other(url(SHEET_PATH, root=root or area_id), notice="doorplate_revoked")

    @post("/{area_id:int}/replace")
    async def replace(
        self,
        request: ActorRequest,
        area_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        root: query_id("The sheet to go back to") = None,
        token: query_text(64, "The code as the sheet showed it") = None,
    ) -> Redirect:
        await doorplates.revoke_plate(session, request.user, area_id, token, now, reissue=True)
        return see_other(url(SHEET_PATH, root=root or area_id), notice="doorplate_replaced")


CONTROLLERS: list[type[Controller]] = [DoorplateDesk]

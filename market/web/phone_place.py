"""Pages: the place a doorplate's QR code opens (数字门牌码上服务), for anyone who scans it, logged
in or not — post an order there (the place filled in; logging in or signing up first comes back to
the form), call the grid's grid worker, and see the place's open wishes as the wall shows them."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.doorplates import service as doorplates
from market.errors import NotFound
from market.web.desk_doorplates import PLACE_PATH
from market.web.pages import page, url

# Longer than any token issued: no need to look it up.
TOKEN_MAX = 64


class PlacePages(Controller):
    path = PLACE_PATH
    include_in_schema = False

    @get("/{token:str}")
    async def place(
        self, request: Request, token: Annotated[str, PathParameter()], session: NamedDependency[AsyncSession]
    ) -> Template:
        if len(token) > TOKEN_MAX:
            raise NotFound("No place has this doorplate code.", code="doorplate_not_found")
        place = await doorplates.place_of(session, token)
        return page(
            request,
            "phone/place.html",
            place=place,
            order_link=url("/r/orders/new", place=token),
        )


CONTROLLERS: list[type[Controller]] = [PlacePages]

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas import service
from market.areas.schemas import AreaCreate, AreaNode, AreaRead
from market.auth.access import ActorRequest, requires_manager
from market.fields import ID_MAX, PathId


class AreaController(Controller):
    path = "/api/areas"
    tags = ["areas"]

    @get("/", summary="The area tree, or the subtree under ?root=")
    async def tree(
        self,
        session: NamedDependency[AsyncSession],
        root: Annotated[
            int | None, QueryParameter(ge=1, le=ID_MAX, description="Id of the subtree's root area")
        ] = None,
    ) -> list[AreaNode]:
        root_area = await service.get_area(session, root) if root is not None else None
        return service.build_tree(await service.subtree(session, root_area))

    @get("/{area_id:int}", summary="One area")
    async def get_area(self, area_id: PathId, session: NamedDependency[AsyncSession]) -> AreaRead:
        return service.area_read(await service.get_area(session, area_id))

    @post("/", summary="Add an area under one you manage", guards=[requires_manager])
    async def create(
        self,
        request: ActorRequest,
        data: JSONBody[AreaCreate],
        session: NamedDependency[AsyncSession],
    ) -> AreaRead:
        return service.area_read(await service.create_area(session, request.user, data))

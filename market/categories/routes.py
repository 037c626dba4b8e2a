from __future__ import annotations

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import requires
from market.categories import service
from market.categories.schemas import CategoryCreate, CategoryRead, CategoryUpdate
from market.fields import path_text


class CategoryController(Controller):
    path = "/api/categories"
    tags = ["categories"]

    @get("/", summary="Service categories (order kinds and volunteer skills)")
    async def list_categories(self, session: NamedDependency[AsyncSession]) -> list[CategoryRead]:
        return [service.category_read(c) for c in await service.list_categories(session)]

    @post("/", summary="Add a service category (administrators)", guards=[requires()])
    async def create(
        self, data: JSONBody[CategoryCreate], session: NamedDependency[AsyncSession]
    ) -> CategoryRead:
        return service.category_read(await service.create_category(session, data))

    @patch("/{code:str}", summary="Rename or retire a service category (administrators)", guards=[requires()])
    async def update(
        self, code: path_text(32), data: JSONBody[CategoryUpdate], session: NamedDependency[AsyncSession]
    ) -> CategoryRead:
        return service.category_read(await service.update_category(session, code, data))

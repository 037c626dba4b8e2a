from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.categories.models import ServiceCategory
from market.categories.schemas import CategoryCreate, CategoryRead
from market.errors import Conflict, InvalidInput


def category_read(category: ServiceCategory) -> CategoryRead:
    return CategoryRead(
        code=category.code, name_zh=category.name_zh, name_en=category.name_en, is_active=category.is_active
    )


async def list_categories(session: AsyncSession) -> list[ServiceCategory]:
    return list(await session.scalars(select(ServiceCategory).order_by(ServiceCategory.code)))


async def create_category(session: AsyncSession, data: CategoryCreate) -> ServiceCategory:
    if await session.get(ServiceCategory, data.code):
        raise Conflict(f"Category {data.code} already exists.", code="category_exists")
    category = ServiceCategory(
        code=data.code, name_zh=data.name_zh.strip(), name_en=data.name_en.strip(), is_active=True
    )
    session.add(category)
    await session.flush()
    return category


async def active_category(session: AsyncSession, code: str) -> ServiceCategory:
    category = await session.get(ServiceCategory, code)
    if category is None or not category.is_active:
        raise InvalidInput(f"Unknown service category {code!r}.", code="unknown_category")
    return category

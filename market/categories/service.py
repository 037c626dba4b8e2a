from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.categories.models import ServiceCategory
from market.categories.schemas import CategoryCreate, CategoryRead, CategoryUpdate
from market.errors import Conflict, InvalidInput, NotFound


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


# Whether the category `category` takes new orders: one column, not the category, which a post
# reads in the statement that reads its place (`orders.service`); NULL for no such category.
ACTIVE_CATEGORY = (
    select(ServiceCategory.is_active).where(ServiceCategory.code == bindparam("category")).scalar_subquery()
)


def check_active_category(is_active: bool | None, code: str) -> None:
    """Refuse a category that takes no new orders (`is_active`: what ACTIVE_CATEGORY read)."""
    if not is_active:
        raise InvalidInput(f"Unknown service category {code!r}.", code="unknown_category")


async def update_category(session: AsyncSession, code: str, data: CategoryUpdate) -> ServiceCategory:
    """Rename or retire a category. A retired one takes no new orders or skills; what it already
    names (orders, skills, points rates) keeps it."""
    category = await session.get(ServiceCategory, code)
    if category is None:
        raise NotFound(f"Category {code!r} does not exist.", code="category_not_found")
    if data.name_zh is not None:
        category.name_zh = data.name_zh.strip()
    if data.name_en is not None:
        category.name_en = data.name_en.strip()
    if data.is_active is not None:
        category.is_active = data.is_active
    await session.flush()
    return category

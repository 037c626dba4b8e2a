from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class ServiceCategory(Base):
    """A kind of service residents order and volunteers are skilled in.

    The first migration ships the standard list; administrators may add more.
    """

    __tablename__ = "service_categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(50))
    is_active: Mapped[bool] = mapped_column(default=True)

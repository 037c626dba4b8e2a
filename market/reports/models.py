from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base


class PointsMonth(Base):
    """The points issued to and redeemed by the members of one home area in one ended local month,
    summed once by the `roll_up_points` job so that the summary need not read the month's transfers
    again. Transfers are timestamped when they are posted, so an ended month gains none.

    Every rolled-up month has a row for the empty area code (members without a home, often zero),
    written even when it is zero: its presence says the month is rolled up."""

    __tablename__ = "report_points_months"

    time_zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    issued: Mapped[int] = mapped_column(BigInteger)
    redeemed: Mapped[int] = mapped_column(BigInteger)

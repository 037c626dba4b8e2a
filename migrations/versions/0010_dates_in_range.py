"""dates stored before they were checked, brought into the range the service accepts

Revision ID: 0010
Revises: 0009

Until every date a request carries was checked (market/fields.py: 2000-01-01 to 2099-12-31), a
reward could be valid until 9999-12-31 and a project due in year 1. Such moments overflow wherever
they are moved to local time or computed with, no request can set them back, and an edit form
showing one would be refused as it stands. They mean "for ever" and "long ago", so they become
moments that lie in range in every UTC offset; a period whose ends would meet keeps an hour between
them. Only the moments requests set are touched, and only those more than a day out of range: what
the service accepts now stays as it is. The downgrade leaves the data as it is.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from advanced_alchemy.types.datetime import DateTimeUTC
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 2000-01-01 and 2099-12-31 from -12:00 to +14:00.
FIRST = datetime(2000, 1, 1, 12, tzinfo=UTC)
LAST = datetime(2099, 12, 31, tzinfo=UTC)
BELOW, ABOVE = datetime(1999, 12, 30, tzinfo=UTC), datetime(2100, 1, 2, tzinfo=UTC)
GAP = timedelta(hours=1)
# (table, column, the column that must stay after it or None)
MOMENTS = [
    ("orders", "window_start", "window_end"),
    ("resources", "available_from", "available_until"),
    ("projects", "start_at", "deadline"),
    ("project_responsibilities", "due_at", None),
    ("needs", "deadline", None),
    ("rewards", "valid_until", None),
    ("wishes", "deadline", None),
]


def upgrade() -> None:
    clamp(op.get_bind())


def downgrade() -> None:
    pass


def clamp(connection: sa.Connection) -> None:
    for name, first, then in MOMENTS:
        names = [first, then] if then else [first]
        table = sa.table(
            name, sa.column("id", sa.Integer), *(sa.column(c, DateTimeUTC(timezone=True)) for c in names)
        )
        far = sa.or_(*(sa.or_(table.c[c] < BELOW, table.c[c] > ABOVE) for c in names))
        for row in connection.execute(sa.select(table).where(far)).mappings().all():
            values = {c: _clamped(row[c]) for c in names}
            if then and values[then] is not None and values[first] >= values[then]:
                if values[then] == LAST:
                    values[first] = LAST - GAP
                else:
                    values[then] = values[first] + GAP
            connection.execute(sa.update(table).where(table.c.id == row["id"]).values(values))


def _clamped(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return FIRST if moment < BELOW else LAST if moment > ABOVE else moment

"""volunteers serve only within their home street: remove serving areas outside it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00.000000

Serving areas used to be anything a volunteer chose, so a volunteer could add a community of
another street, claim a wish there and read the resident's contact. From now on a profile lists
only areas inside the street the volunteer lives in (market.volunteers.service); the rows that
break the rule are deleted here, so every check that trusts serving areas (dispatch, wish
claims, teams, who may see a volunteer) holds for old data too. The volunteer or a manager of
that street may add the areas again; a manager elsewhere cannot. There is no way back: the
downgrade leaves the rows deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A street's code is the first 9 digits of every code under it (market.areas.models, frozen here).
STREET_CODE_DIGITS = 9


def upgrade() -> None:
    op.execute(
        sa.text(
            """
            DELETE FROM volunteer_serving_areas
            WHERE id IN (
                SELECT s.id
                FROM volunteer_serving_areas s
                JOIN users u ON u.id = s.user_id
                LEFT JOIN areas home ON home.id = u.area_id
                WHERE home.id IS NULL
                   OR substr(s.area_code, 1, :digits) <> substr(home.code, 1, :digits)
            )
            """
        ).bindparams(digits=STREET_CODE_DIGITS)
    )


def downgrade() -> None:
    pass

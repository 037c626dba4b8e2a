"""honest close-out: commitments name the need they serve, responsibilities are held by reference

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 10:00:00

A need's delivered quantity is the sum of the deliveries against commitments naming it, so each
existing commitment is given its need where it can be told: the project's only need, else the one
need the applied allocation plan sent that resource to, else the one need of the project with the
resource's category and unit of measure. Where none can be told it stays unattributed (it counted
for no need, as nothing said which it served).

Responsibilities held by a team's name point to the team of the project's community of that
name; a name no team of the community bears is kept in the task and the responsibility goes to
the project's creator, who can reassign it. A responsibility without a due date is due at the
project's deadline.
"""

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)
TASK_LENGTH = 200


def upgrade() -> None:
    with op.batch_alter_table("project_commitments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("need_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("project_responsibilities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("escalation", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", MOMENT, nullable=True))
        # The old rule counts a team by its name: it goes before the names become references.
        batch_op.drop_constraint(batch_op.f("ck_project_responsibilities_one_assignee"), type_="check")

    connection = op.get_bind()
    _attribute_commitments(connection)
    _hold_by_reference(connection)

    with op.batch_alter_table("project_commitments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_project_commitments_project_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_project_commitments_project_id"), ["project_id", "resource_id", "need_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_project_commitments_need_id_needs"), "needs", ["need_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_project_commitments_need_id"), ["need_id"], unique=False)
    with op.batch_alter_table("project_responsibilities", schema=None) as batch_op:
        batch_op.drop_column("team")
        batch_op.alter_column("due_at", existing_type=MOMENT, nullable=False)
        batch_op.create_check_constraint(
            "one_assignee",
            "(CASE WHEN unit_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN team_id IS NULL THEN 0 ELSE 1 END) = 1",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_project_responsibilities_team_id_teams"), "teams", ["team_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_project_responsibilities_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_project_responsibilities_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_project_responsibilities_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_project_responsibilities_due", ["done_at", "due_at"], unique=False)


def _attribute_commitments(connection: sa.Connection) -> None:
    needs_of: dict[int, list[int]] = {}
    for project_id, need_id in connection.execute(
        sa.text("SELECT project_id, need_id FROM project_needs ORDER BY need_id")
    ):
        needs_of.setdefault(project_id, []).append(need_id)
    commitments = connection.execute(
        sa.text(
            "SELECT c.id, c.project_id, c.resource_id, r.category, r.unit_of_measure"
            " FROM project_commitments c JOIN resources r ON r.id = c.resource_id ORDER BY c.id"
        )
    ).all()
    for commitment_id, project_id, resource_id, category, measure in commitments:
        candidates = needs_of.get(project_id, [])
        if len(candidates) > 1:
            candidates = [
                need_id
                for (need_id,) in connection.execute(
                    sa.text(
                        "SELECT DISTINCT f.need_id FROM allocation_flows f"
                        " JOIN allocation_plans p ON p.id = f.plan_id"
                        " WHERE p.project_id = :project AND f.resource_id = :resource"
                        " AND f.outcome = 'applied'"
                    ),
                    {"project": project_id, "resource": resource_id},
                )
            ] or [
                need_id
                for (need_id,) in connection.execute(
                    sa.text(
                        "SELECT n.id FROM needs n JOIN project_needs pn ON pn.need_id = n.id"
                        " WHERE pn.project_id = :project AND n.category = :category"
                        " AND lower(trim(n.unit_of_measure)) = lower(trim(:measure))"
                    ),
                    {"project": project_id, "category": category, "measure": measure},
                )
            ]
        if len(candidates) == 1:
            connection.execute(
                sa.text("UPDATE project_commitments SET need_id = :need WHERE id = :id"),
                {"need": candidates[0], "id": commitment_id},
            )


def _hold_by_reference(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.text(
            "SELECT r.id, r.task, r.team, p.community_id, p.created_by_id FROM project_responsibilities r"
            " JOIN projects p ON p.id = r.project_id WHERE r.team <> '' ORDER BY r.id"
        )
    ).all()
    for responsibility_id, task, team, community_id, creator_id in rows:
        team_id = connection.scalar(
            sa.text(
                "SELECT id FROM teams WHERE community_id = :community"
                " AND lower(trim(name)) = lower(trim(:name))"
                " ORDER BY id LIMIT 1"
            ),
            {"community": community_id, "name": team},
        )
        if team_id is not None:
            values = {"team_id": team_id, "user_id": None, "task": task}
        else:
            values = {
                "team_id": None,
                "user_id": creator_id,
                "task": f"{task} ({team.strip()})"[:TASK_LENGTH],
            }
        connection.execute(
            sa.text(
                "UPDATE project_responsibilities SET team_id = :team_id, user_id = :user_id, task = :task,"
                " team = '' WHERE id = :id"
            ),
            {**values, "id": responsibility_id},
        )
    connection.execute(
        sa.text(
            "UPDATE project_responsibilities SET due_at ="
            " (SELECT deadline FROM projects WHERE projects.id = project_responsibilities.project_id)"
            " WHERE due_at IS NULL"
        )
    )


def downgrade() -> None:
    # Team-held responsibilities go back to the team's name; attributions to needs are dropped.
    with op.batch_alter_table("project_responsibilities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=100), server_default="", nullable=False))
    op.execute(
        "UPDATE project_responsibilities SET team ="
        " (SELECT name FROM teams WHERE teams.id = project_responsibilities.team_id)"
        " WHERE team_id IS NOT NULL"
    )
    with op.batch_alter_table("project_responsibilities", schema=None) as batch_op:
        batch_op.drop_index("ix_project_responsibilities_due")
        batch_op.drop_index(batch_op.f("ix_project_responsibilities_user_id"))
        batch_op.drop_index(batch_op.f("ix_project_responsibilities_unit_id"))
        batch_op.drop_index(batch_op.f("ix_project_responsibilities_team_id"))
        batch_op.drop_constraint(batch_op.f("fk_project_responsibilities_team_id_teams"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("ck_project_responsibilities_one_assignee"), type_="check")
        batch_op.drop_column("team_id")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("escalation")
        batch_op.alter_column("due_at", existing_type=MOMENT, nullable=True)
        batch_op.create_check_constraint(
            "one_assignee",
            "(CASE WHEN unit_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN user_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN team = '' THEN 0 ELSE 1 END) = 1",
        )
    with op.batch_alter_table("project_commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_commitments_need_id"))
        batch_op.drop_constraint(batch_op.f("fk_project_commitments_need_id_needs"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_project_commitments_project_id"), type_="unique")
        batch_op.drop_column("need_id")
        batch_op.create_unique_constraint(
            batch_op.f("uq_project_commitments_project_id"), ["project_id", "resource_id"]
        )

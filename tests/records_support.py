"""Records a project's participation without running the project: the service record reads closed
projects' participants, however their hours got there."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.projects.models import Participant, Project, ProjectStatus
from tests.world import World

HOUR = timedelta(hours=1)


async def closed_project(
    session_maker: async_sessionmaker[AsyncSession],
    world: World,
    volunteer: str,
    tenths: int,
    start: datetime,
    status: ProjectStatus = ProjectStatus.completed,
) -> int:
    """A project of community 1 in `status`, with `volunteer` taking part for `tenths` tenths of an hour;
    the participant's id."""
    async with session_maker() as session, session.begin():
        project = Project(
            title="社区义诊",
            community_id=world.areas["c1"].id,
            community_code=world.areas["c1"].code,
            status=status,
            start_at=start,
            deadline=start + 4 * HOUR,
            created_by_id=world.id("manager"),
            created_at=world.now,
            updated_at=world.now,
        )
        session.add(project)
        await session.flush()
        participant = Participant(
            project_id=project.id,
            user_id=world.id(volunteer),
            tenths=tenths,
            added_by_id=world.id("manager"),
            added_at=world.now,
        )
        session.add(participant)
        await session.flush()
        return participant.id

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import requires
from market.auth.models import Role
from market.fields import query_text
from market.jobs import service
from market.jobs.models import JobOutcome
from market.jobs.schemas import JobRunRead, JobSummary
from market.pagination import Limit, Offset, Page
from market.scheduler import jobs
from market.settings import Settings

# Runs span every street and their errors may name internals: administrators only.
admins_only = requires(Role.admin)


class JobController(Controller):
    path = "/api/admin/jobs"
    tags = ["admin"]

    @get("/", summary="Runs of the scheduled jobs, newest first (administrators)", guards=[admins_only])
    async def list_runs(
        self,
        session: NamedDependency[AsyncSession],
        job: query_text(64, "Only runs of this job") = None,
        outcome: Annotated[JobOutcome | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[JobRunRead]:
        items, total = await service.list_runs(session, job, outcome, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get(
        "/summary",
        summary="Each scheduled job: its interval, last run, last success, last failure (administrators)",
        guards=[admins_only],
    )
    async def summary(
        self, session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
    ) -> list[JobSummary]:
        every = {name: seconds for name, (_job, seconds) in jobs(settings).items()}
        return await service.summaries(session, every)

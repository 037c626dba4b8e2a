from __future__ import annotations

from datetime import datetime

import msgspec

from market.jobs.models import JobOutcome


class JobRunRead(msgspec.Struct):
    id: int
    job: str
    outcome: JobOutcome
    started_at: datetime
    finished_at: datetime
    seconds: float
    handled: int
    error: str | None
    host: str
    pid: int


class JobSummary(msgspec.Struct):
    job: str
    every_seconds: int
    last_run: JobRunRead | None
    last_success_at: datetime | None
    # The newest failed run, even if later runs succeeded.
    last_failure: JobRunRead | None

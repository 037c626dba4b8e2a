"""Benchmark: importing 5,000 people from a spreadsheet, as the desk page does it.

    .venv/bin/python bench/people_import.py [--rows N] [--database-url URL]

On a fresh SQLite file migrated with `market.migrate.upgrade` (or the PostgreSQL database named,
whose `public` schema is dropped and rebuilt), with one street of 12 communities, 64 grids and
640 buildings: a CSV of N people (a third of them volunteers with skills and availability) is
checked (the preview), then written batch after batch, each in its own transaction as the page
requests them; then the same file is imported again (nothing changes). The baseline, in the same
run on an emptied copy of the same tables, is raw executemany INSERTs of the same rows (users,
roles, volunteer profiles, skills, availability, serving areas) in one transaction: the ratio
import ÷ raw is what checking, comparing and batching cost over writing the rows at all.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from market import migrate
from market.areas.models import Area, AreaLevel
from market.auth.access import Actor
from market.auth.models import Role, User, UserRole
from market.db import engine_for
from market.people import importing
from market.people.models import PeopleImport
from market.volunteers.models import (
    AvailabilityWindow,
    ServingArea,
    VolunteerProfile,
    VolunteerSkill,
)

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
STREET = "110105001"
SKILLS = ["escort", "repair", "shopping", "cleaning", "elderly_care"]


async def seed(maker: async_sessionmaker[AsyncSession]) -> tuple[Actor, list[str]]:
    """The street's tree and its administrator; the buildings' codes."""
    buildings: list[str] = []
    async with maker() as session, session.begin():
        street = Area(code=STREET, name="Street", level=AreaLevel.street)
        session.add(street)
        await session.flush()
        for c in range(1, 13):
            community = Area(
                code=f"{STREET}{c:03d}", name=f"C{c}", level=AreaLevel.community, parent_id=street.id
            )
            session.add(community)
            await session.flush()
            for g in range(1, 6 if c <= 4 else 5 + (c == 12)):
                grid = Area(
                    code=f"{community.code}{g:03d}",
                    name=f"G{g}",
                    level=AreaLevel.grid,
                    parent_id=community.id,
                )
                session.add(grid)
                await session.flush()
                compound = Area(
                    code=f"{grid.code}001", name="Garden", level=AreaLevel.compound, parent_id=grid.id
                )
                session.add(compound)
                await session.flush()
                for b in range(1, 11):
                    code = f"{compound.code}{b:03d}"
                    session.add(
                        Area(code=code, name=f"B{b}", level=AreaLevel.building, parent_id=compound.id)
                    )
                    buildings.append(code)
        admin = User(
            phone="13800000000",
            name="Admin",
            password_hash=None,
            area_id=street.id,
            is_active=True,
            created_at=NOW,
            role_rows=[UserRole(role=Role.street_admin)],
        )
        session.add(admin)
        await session.flush()
        actor = Actor(
            id=admin.id,
            name="Admin",
            roles=frozenset({Role.street_admin}),
            area_id=street.id,
            area_code=STREET,
        )
    return actor, buildings


def spreadsheet(rows: int, buildings: list[str], seed: int = 7) -> bytes:
    rnd = random.Random(seed)
    lines = ["phone,name,building,roles,skills,availability"]
    for i in range(rows):
        phone = f"13{rnd.randint(5, 9)}{i:08d}"
        if i % 3 == 0:
            skills = "、".join(rnd.sample(SKILLS, 2))
            week = "1-5 08:00-12:00; 6 09:00-17:00"
            lines.append(f"{phone},Person {i},{rnd.choice(buildings)},resident、volunteer,{skills},{week}")
        else:
            lines.append(f"{phone},Person {i},{rnd.choice(buildings)},resident,,")
    return ("\n".join(lines) + "\n").encode()


async def import_file(
    maker: async_sessionmaker[AsyncSession], actor: Actor, data: bytes
) -> tuple[float, float, int, tuple]:
    """Seconds for the preview, seconds for writing every batch, batches, final counts."""
    started = time.perf_counter()
    async with maker() as session, session.begin():
        job = await importing.preview(session, actor, data, "people.csv", NOW)
        assert job.status == "ready", job.errors[:300]
        job_id = job.id
    checked = time.perf_counter()
    batches = 0
    while True:
        async with maker() as session, session.begin():
            job = await importing.run_batch(session, actor, job_id, NOW)
            batches += 1
            if job.status == "done":
                counts = (job.created, job.changed, job.unchanged)
                break
    return checked - started, time.perf_counter() - checked, batches, counts


async def raw_insert(maker: async_sessionmaker[AsyncSession], data: bytes) -> float:
    """The same rows written with plain executemany INSERTs (parsed already, ids known)."""
    async with maker() as session:
        areas = dict((await session.execute(select(Area.code, Area.id))).all())
        top = await session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
    lines = data.decode().splitlines()[1:]
    users, roles, profiles, skills, windows, serving = [], [], [], [], [], []
    for n, line in enumerate(lines, start=top + 1):
        phone, name, building, role_text, skill_text, _ = line.split(",")
        users.append(
            {
                "id": n,
                "phone": phone,
                "name": name,
                "password_hash": None,
                "area_id": areas[building],
                "is_active": True,
                "must_change_password": False,
                "token_version": 0,
                "created_at": NOW,
            }
        )
        roles.append({"user_id": n, "role": "resident"})
        if "volunteer" in role_text:
            roles.append({"user_id": n, "role": "volunteer"})
            profiles.append({"user_id": n, "capacity": 1, "rating_sum": 0, "rating_count": 0})
            skills.extend({"user_id": n, "category_code": s, "level": 1} for s in skill_text.split("、"))
            windows.extend(
                {"user_id": n, "weekday": d, "start_minute": 480, "end_minute": 720} for d in range(5)
            )
            windows.append({"user_id": n, "weekday": 5, "start_minute": 540, "end_minute": 1020})
            serving.append({"user_id": n, "area_id": areas[building[:12]], "area_code": building[:12]})
    started = time.perf_counter()
    async with maker() as session, session.begin():
        for model, rows in (
            (User, users),
            (UserRole, roles),
            (VolunteerProfile, profiles),
            (VolunteerSkill, skills),
            (AvailabilityWindow, windows),
            (ServingArea, serving),
        ):
            await session.execute(insert(model.__table__), rows)
    return time.perf_counter() - started  # fmt: skip


async def empty(maker: async_sessionmaker[AsyncSession], actor: Actor) -> None:
    async with maker() as session, session.begin():
        for model in (ServingArea, AvailabilityWindow, VolunteerSkill, VolunteerProfile, PeopleImport):
            await session.execute(delete(model))
        await session.execute(delete(UserRole).where(UserRole.user_id != actor.id))
        await session.execute(delete(User).where(User.id != actor.id))


async def main(url: str, rows: int) -> None:
    if url.startswith("postgresql"):
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = engine_for(url)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    try:
        actor, buildings = await seed(maker)
        data = spreadsheet(rows, buildings)
        print(
            f"-- {url.split('://')[0]}: {rows} rows, {len(data) / 1024:.0f} KiB, {len(buildings)} buildings"
        )
        check, write, batches, counts = await import_file(maker, actor, data)
        total = check + write
        print(f"import   preview {check:6.2f} s  write {write:6.2f} s in {batches} batches")
        print(
            f"         total {total:6.2f} s  {rows / total:8,.0f} rows/s  created/changed/unchanged {counts}"
        )
        check2, write2, _, counts2 = await import_file(maker, actor, data)
        print(f"again    preview {check2:6.2f} s  write {write2:6.2f} s  created/changed/unchanged {counts2}")
        await empty(maker, actor)
        raw = await raw_insert(maker, data)
        print(f"raw      {raw:6.2f} s  {rows / raw:8,.0f} rows/s")
        print(f"ratio import ÷ raw: {total / raw:.1f}  (writing alone: {write / raw:.1f})")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        asyncio.run(main(url, args.rows))

"""A small street for tests: two communities, staff, residents and volunteers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.auth.passwords import hash_password_sync
from market.auth.tokens import issue_token
from market.clock import Clock
from market.ledger.models import StreetPolicy
from market.settings import Settings
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill
from tests.database import EMPTIED_TABLES, Rows, put_rows, take_rows, used_tables

PASSWORD = "correct-horse-9"
ALL_SKILLS = ["escort", "repair", "shopping", "legal", "elderly_care", "cleaning"]


@cache
def password_hash() -> str:
    return hash_password_sync(PASSWORD)


@dataclass
class World:
    settings: Settings
    # When the world was built; `clock` is the test's clock, which tests may move on.
    now: datetime
    clock: Clock
    areas: dict[str, Area] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def id(self, name: str) -> int:
        return self.users[name].id

    def auth(self, name: str) -> dict[str, str]:
        token, _ = issue_token(self.settings, self.users[name], self.clock())
        return {"Authorization": f"Bearer {token}"}

    def order_body(self, resident: str = "resident", **overrides: object) -> dict[str, object]:
        building = "c1_building" if resident in ("resident", "resident_b", "vol_resident") else "c2_building"
        body: dict[str, object] = {
            "category": "escort",
            "description": "Take me to the hospital for a check-up",
            "area_id": self.areas[building].id,
            # Soon enough that the volunteer may check in at once (from 30 minutes before).
            "window_start": (self.now + timedelta(minutes=15)).isoformat(),
            "window_end": (self.now + timedelta(hours=6)).isoformat(),
            "urgency": "normal",
            "address_detail": "Unit 2, Room 502",
        }
        body.update(overrides)
        return body


# The world a worker built first, by the moment it was built at: its rows, and the ids of the areas
# and people it names.
_BUILT_WORLDS: dict[datetime, tuple[Rows, dict[str, int], dict[str, int]]] = {}


async def world_in(engine: AsyncEngine, settings: Settings, clock: Clock) -> World:
    """The test world in `engine`'s database. A worker builds it once and copies its rows into each
    later test's empty database, a statement a table: built row by row it took 60 ms (SQLite) to
    70 ms (PostgreSQL). Copied only where its tables are empty, and taken only from a database that
    held nothing else, so that the copy is the world alone."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
        conn = await session.connection()
        built = _BUILT_WORLDS.get(clock())
        if await used_tables(conn, [table for table, _ in built[0]] if built else EMPTIED_TABLES):
            return await build_world(session, settings, clock)
        if built:
            rows, areas, users = built
            await put_rows(conn, rows)
            return await load_world(session, settings, clock, areas, users)
        world = await build_world(session, settings, clock)
        _BUILT_WORLDS[clock()] = (
            await take_rows(conn),
            {key: area.id for key, area in world.areas.items()},
            {key: user.id for key, user in world.users.items()},
        )
        return world


async def build_world(session: AsyncSession, settings: Settings, clock: Clock) -> World:
    now = clock()
    world = World(settings=settings, now=now, clock=clock)

    async def area(key: str, code: str, name: str, level: AreaLevel, parent: str | None) -> None:
        a = Area(code=code, name=name, level=level, parent_id=world.areas[parent].id if parent else None)
        session.add(a)
        await session.flush()
        world.areas[key] = a

    await area("street", "110105001", "Sunny Street", AreaLevel.street, None)
    for c in (1, 2):
        await area(f"c{c}", f"110105001{c:03d}", f"Community {c}", AreaLevel.community, "street")
        await area(f"c{c}_grid", f"110105001{c:03d}001", f"Grid {c}-1", AreaLevel.grid, f"c{c}")
        await area(
            f"c{c}_compound", f"110105001{c:03d}001001", f"Garden {c}", AreaLevel.compound, f"c{c}_grid"
        )
        await area(
            f"c{c}_building",
            f"110105001{c:03d}001001001",
            f"Building {c}",
            AreaLevel.building,
            f"c{c}_compound",
        )

    def user(key: str, phone: str, roles: list[Role], area_key: str | None) -> User:
        u = User(
            phone=phone,
            name=key.replace("_", " ").title(),
            password_hash=password_hash(),
            area_id=world.areas[area_key].id if area_key else None,
            is_active=True,
            created_at=now,
            role_rows=[UserRole(role=r) for r in roles],
        )
        session.add(u)
        world.users[key] = u
        return u

    user("admin", "13800000000", [Role.admin], None)
    user("street_admin", "13800000001", [Role.street_admin], "street")
    user("manager", "13800000010", [Role.community_manager], "c1")
    user("manager_c2", "13800000011", [Role.community_manager], "c2")
    user("grid_worker", "13800000020", [Role.grid_worker], "c1_grid")
    user("grid_worker_c2", "13800000021", [Role.grid_worker], "c2_grid")
    user("unit_admin", "13800000030", [Role.unit_admin], "street")
    user("resident", "13700000001", [Role.resident], "c1_building")
    user("resident_b", "13700000002", [Role.resident], "c1_building")
    user("resident_c2", "13700000003", [Role.resident], "c2_building")
    volunteers = {
        "volunteer": ("13900000001", "c1_building", 2),
        "volunteer_b": ("13900000002", "c1_building", 1),
        "volunteer_c": ("13900000003", "c1_building", 1),
        "volunteer_c2": ("13900000004", "c2_building", 1),
    }
    for key, (phone, home, _) in volunteers.items():
        user(key, phone, [Role.volunteer], home)
    # A resident who also volunteers: never offered their own orders.
    user("vol_resident", "13900000005", [Role.volunteer, Role.resident], "c1_building")
    await session.flush()
    for key, (_, home, capacity) in [*volunteers.items(), ("vol_resident", ("", "c1_building", 1))]:
        await add_volunteer_profile(session, world.users[key], world.areas[home[:2]], capacity)
    await session.flush()
    return world


async def load_world(
    session: AsyncSession, settings: Settings, clock: Clock, areas: dict[str, int], users: dict[str, int]
) -> World:
    """A world whose rows are already in the database (copied from one `build_world` made), by the
    ids its areas and people have there."""
    world = World(settings=settings, now=clock(), clock=clock)
    found_areas = {a.id: a for a in await session.scalars(select(Area).where(Area.id.in_(areas.values())))}
    found_users = {
        u.id: u
        for u in await session.scalars(
            select(User).options(selectinload(User.role_rows)).where(User.id.in_(users.values()))
        )
    }
    world.areas = {key: found_areas[id_] for key, id_ in areas.items()}
    world.users = {key: found_users[id_] for key, id_ in users.items()}
    return world


async def add_volunteer_profile(session: AsyncSession, user: User, serving: Area, capacity: int = 1) -> None:
    session.add(
        VolunteerProfile(
            user_id=user.id,
            capacity=capacity,
            rating_sum=0,
            rating_count=0,
            skills=[VolunteerSkill(category_code=c, level=2) for c in ALL_SKILLS],
            availability=[AvailabilityWindow(weekday=d, start_minute=0, end_minute=1440) for d in range(7)],
            serving_areas=[ServingArea(area_id=serving.id, area_code=serving.code)],
        )
    )


# ---------------------------------------------------------------- neighbours (privacy tests)


async def add_neighbours(session: AsyncSession, world: World) -> None:
    """People next door who must not reach the world's volunteers: a second grid in community 1
    with its grid worker, and a second street with a community, its staff, a resident and a
    volunteer. Not part of `build_world`, so the other tests' counts stay as they are."""
    areas = [
        ("c1_grid2", "110105001001002", "Grid 1-2", AreaLevel.grid, "c1"),
        ("street2", "110105002", "Rainy Street", AreaLevel.street, None),
        ("s2_c1", "110105002001", "Rainy Community", AreaLevel.community, "street2"),
        ("s2_grid", "110105002001001", "Rainy Grid", AreaLevel.grid, "s2_c1"),
        ("s2_compound", "110105002001001001", "Rainy Garden", AreaLevel.compound, "s2_grid"),
        ("s2_building", "110105002001001001001", "Rainy Building", AreaLevel.building, "s2_compound"),
    ]
    for key, code, name, level, parent in areas:
        area = Area(code=code, name=name, level=level, parent_id=world.areas[parent].id if parent else None)
        session.add(area)
        await session.flush()
        world.areas[key] = area
    people = [
        ("grid_worker_g2", "13800000042", Role.grid_worker, "c1_grid2"),
        ("street_admin_s2", "13800000052", Role.street_admin, "street2"),
        ("manager_s2", "13800000062", Role.community_manager, "s2_c1"),
        ("resident_s2", "13700000044", Role.resident, "s2_building"),
        ("volunteer_s2", "13900000066", Role.volunteer, "s2_building"),
    ]
    for key, phone, role, home in people:
        user = User(
            phone=phone,
            name=key.replace("_", " ").title(),
            password_hash=password_hash(),
            area_id=world.areas[home].id,
            is_active=True,
            created_at=world.now,
            role_rows=[UserRole(role=role)],
        )
        session.add(user)
        world.users[key] = user
    await session.flush()
    await add_volunteer_profile(session, world.users["volunteer_s2"], world.areas["s2_c1"])
    await session.flush()


async def allow_adjustments_alone(session: AsyncSession, world: World) -> None:
    """Let one manager adjust any number of points alone in the world's street: for tests that hand
    out starting points by adjustment, more than the default threshold adds up to."""
    session.add(StreetPolicy(street_id=world.areas["street"].id, adjustment_threshold=10**9))
    await session.flush()

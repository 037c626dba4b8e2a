"""Growth with data: the reads that grow with a street's history, through the HTTP API, on PostgreSQL.

    .venv/bin/python bench/scale.py [--scale 0.1] [--database-url URL] [--rebuild] [--repeat 5]

Builds a street (20 communities, 200 grids; at scale 1: 20k residents, 5k volunteers with skills
and weekly times, 500k orders with their events and offers, 2M transfers; at any scale one grid
with 2,000 orders waiting for dispatch) with set-based SQL in a database of its own
(postgresql+asyncpg://postgres@127.0.0.1:5432/bench_scale, or bench_scale_0_1 at --scale 0.1),
created with `createdb` when missing. The build is kept: a re-run migrates it to the newest
revision and reuses it unless the build's version or scale differ, or --rebuild.

The rows keep the product's invariants: every order's status follows its events, an order is
served by a volunteer of its community, rewards are paid from the community's pool for confirmed
orders, member accounts never go below zero, and every account's counters are the sums of its
transfers (the trial balance balances). One resident (the "busy" member) receives 50k gifts
(5k at --scale 0.1): the statement that is downloaded.

Then it serves the app with uvicorn in a thread and prints, for each read, the median of
--repeat runs against its target (and measured ÷ target): the order list's pages 1 and 500 per
role, the street's reports summary (read from the transfers alone, then again once the hourly job
`roll_up_points` has summed the ended months, as it would in a running street) and its grid and
community rankings of a month, the street's trial balance, the busy member's statement as CSV
(time, time to the first byte, bytes on the wire, and the peak of Python memory allocated while it
is sent, traced in a run of its own), and the grid worker's dispatch plan for the busy grid's 2,000
waiting orders.

Not part of the test suite (pytest collects only tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from market import migrate
from market.app import create_app
from market.areas.models import AreaLevel, code_length
from market.auth.models import User
from market.auth.tokens import issue_token
from market.clock import FrozenClock
from market.reports.models import PointsMonth
from market.scheduler import jobs, run_job
from market.settings import Settings

# Bump when the build below changes: a cached street of another version is rebuilt.
BUILD_VERSION = 2
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
NOW = datetime.fromisoformat("2026-12-01T10:00:00+08:00")
TZ = ZoneInfo("Asia/Shanghai")
SECRET = "bench-scale-secret-key-0123456789abcdef"
STREET = "110105001"
COMMUNITIES, GRIDS, COMPOUNDS, BUILDINGS = 20, 10, 2, 5  # each per parent
PAGE = 20
# The first grid of the first community: its grid worker plans this many waiting orders.
WAITING = 2_000
TARGETS_MS = {"orders": 100.0, "summary": 1000.0, "areas": 1000.0, "trial": 100.0, "plan": 1000.0}
# The last whole month before NOW: the grid ranking's month.
LAST_MONTH = "2026-11"

# The last statuses orders end in (old orders) and are in (the last three days), with weights,
# and the actions that led there from `post`.
OLD = {"confirmed": 50, "completed": 5, "cancelled": 20, "expired": 20, "rejected": 5}
RECENT = {"submitted": 1, "dispatched": 1, "accepted": 1, "in_service": 1, "completed": 1}
PATHS = {
    "submitted": ["post"],
    "dispatched": ["post", "dispatch"],
    "accepted": ["post", "dispatch", "accept"],
    "in_service": ["post", "dispatch", "accept", "check_in"],
    "completed": ["post", "dispatch", "accept", "check_in", "check_out", "complete"],
    "confirmed": ["post", "dispatch", "accept", "check_in", "check_out", "complete", "confirm"],
    "cancelled": ["post", "dispatch", "cancel"],
    "expired": ["post", "dispatch", "expire"],
    "rejected": ["post", "reject"],
}
STEPS = {  # action: (from, to)
    "post": (None, "submitted"),
    "dispatch": ("submitted", "dispatched"),
    "accept": ("dispatched", "accepted"),
    "check_in": ("accepted", "in_service"),
    "check_out": ("in_service", "in_service"),
    "complete": ("in_service", "completed"),
    "confirm": ("completed", "confirmed"),
    "cancel": ("dispatched", "cancelled"),
    "expire": ("dispatched", "expired"),
    "reject": ("submitted", "rejected"),
}
SERVED = ("accepted", "in_service", "completed", "confirmed")


def _buckets(weights: dict[str, int]) -> str:
    """A CASE over `u` (0 ≤ u < 1) that picks a status with these weights."""
    total, edge, arms = sum(weights.values()), 0, []
    for status, weight in weights.items():
        edge += weight
        arms.append(f"WHEN u < {edge / total} THEN '{status}'")
    return "CASE " + " ".join(arms[:-1]) + f" ELSE '{list(weights)[-1]}' END"


def _values(rows: list[tuple]) -> str:
    def literal(v: object) -> str:
        return "NULL" if v is None else str(v) if isinstance(v, int) else f"'{v}'"

    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


class Street:
    """Sizes and id ranges of the built street (ids are given, so that the build is one pass)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.residents = int(20_000 * scale)
        self.volunteers = int(5_000 * scale)
        self.orders = int(500_000 * scale)
        self.transfers = int(2_000_000 * scale)
        self.busy_gifts = int(50_000 * scale)
        self.buildings = COMMUNITIES * GRIDS * COMPOUNDS * BUILDINGS
        # users: 1 admin, 2 street admin, then community managers, grid workers, residents, volunteers
        self.first_manager = 3
        self.first_grid_worker = self.first_manager + COMMUNITIES
        self.first_resident = self.first_grid_worker + COMMUNITIES * GRIDS
        self.first_volunteer = self.first_resident + self.residents
        self.users = self.first_volunteer + self.volunteers - 1

    def areas(self) -> list[tuple]:
        """(id, code, name, level, parent_id): the street, then each level, buildings last."""
        rows: list[tuple] = [(1, STREET, "规模街道", "street", None)]
        parents = [(1, STREET)]
        for level, count in zip(
            (AreaLevel.community, AreaLevel.grid, AreaLevel.compound, AreaLevel.building),
            (COMMUNITIES, GRIDS, COMPOUNDS, BUILDINGS),
            strict=True,
        ):
            children = []
            for parent_id, parent_code in parents:
                for n in range(1, count + 1):
                    code = f"{parent_code}{n:03d}"
                    rows.append((len(rows) + 1, code, f"{level} {code[9:]}", str(level), parent_id))
                    children.append((len(rows), code))
            parents = children
        return rows


async def _build(conn: AsyncConnection, street: Street) -> None:
    areas = street.areas()
    n_areas = len(areas)
    first_building = n_areas - street.buildings + 1
    per_community = street.buildings // COMMUNITIES
    first_grid = 1 + COMMUNITIES + 1
    await conn.execute(text("SET LOCAL synchronous_commit = off"))
    await conn.execute(text("SELECT setseed(0.16)"))
    await conn.execute(text(f"INSERT INTO areas (id, code, name, level, parent_id) VALUES {_values(areas)}"))
    # Users: ids from Street; residents live in buildings round robin, volunteers in their community.
    params = {
        "residents": street.residents,
        "volunteers": street.volunteers,
        "fr": street.first_resident,
        "fv": street.first_volunteer,
        "fm": street.first_manager,
        "fg": street.first_grid_worker,
        "fb": first_building,
        "nb": street.buildings,
        "pc": per_community,
        "fgrid": first_grid,
        "now": NOW,
    }
    await conn.execute(
        text("""
        CREATE TEMP TABLE people ON COMMIT DROP AS
        SELECT 1 AS id, 1 AS area_id, 'admin' AS role
        UNION ALL SELECT 2, 1, 'street_admin'
        UNION ALL SELECT :fm + c, 2 + c, 'community_manager' FROM generate_series(0, 19) c
        UNION ALL SELECT :fg + g, :fgrid + g, 'grid_worker' FROM generate_series(0, 199) g
        UNION ALL SELECT :fr + r, :fb + r % :nb, 'resident' FROM generate_series(0, :residents - 1) r
        UNION ALL SELECT :fv + v, :fb + (v % 20) * :pc + (v / 20) % :pc, 'volunteer'
            FROM generate_series(0, :volunteers - 1) v
        """),
        params,
    )
    await conn.execute(
        text("""
        INSERT INTO users (id, phone, name, password_hash, area_id, is_active, created_at,
                           token_version, must_change_password)
        SELECT id, '139' || lpad(id::text, 8, '0'), '居民' || id, NULL, area_id, true,
               CAST(:now AS timestamptz) - interval '800 days', 0, false
        FROM people
        """),
        params,
    )
    await conn.execute(
        text("""
        INSERT INTO user_roles (user_id, role)
        SELECT id, role FROM people
        UNION ALL SELECT id, 'resident' FROM people WHERE role = 'volunteer'
        """)
    )
    await conn.execute(
        text("""
        INSERT INTO volunteer_profiles (user_id, capacity, rating_sum, rating_count)
        SELECT id, 3, 0, 0 FROM people WHERE role = 'volunteer'
        """)
    )
    # Three skills each, categories in turn; weekday evenings or every day's daytime.
    await conn.execute(
        text("""
        INSERT INTO volunteer_skills (user_id, category_code, level)
        SELECT p.id, c.code, 1 + (p.id + k) % 3 FROM people p
        CROSS JOIN generate_series(0, 2) k
        JOIN (SELECT code, row_number() OVER (ORDER BY code) - 1 AS n FROM service_categories) c
             ON c.n = (p.id + 4 * k) % (SELECT count(*) FROM service_categories)
        WHERE p.role = 'volunteer'
        """)
    )
    await conn.execute(
        text("""
        INSERT INTO volunteer_availability (user_id, weekday, start_minute, end_minute)
        SELECT p.id, d, CASE WHEN p.id % 2 = 0 THEN 1080 ELSE 480 END,
               CASE WHEN p.id % 2 = 0 THEN 1260 ELSE 1080 END
        FROM people p CROSS JOIN generate_series(0, 6) d
        WHERE p.role = 'volunteer' AND (p.id % 2 = 1 OR d < 5)
        """)
    )
    await conn.execute(
        text("""
        INSERT INTO volunteer_serving_areas (user_id, area_id, area_code)
        SELECT p.id, grid.id, grid.code FROM people p
        JOIN areas b ON b.id = p.area_id JOIN areas c ON c.id = b.parent_id
        JOIN areas grid ON grid.id = c.parent_id
        WHERE p.role = 'volunteer'
        """)
    )
    # Orders: a random resident's, at their building, over the last two years; old orders have
    # ended, those of the last three days are under way. Volunteers serve in their community.
    await conn.execute(
        text(f"""
        CREATE TEMP TABLE o ON COMMIT DROP AS
        SELECT g AS id, requester, :fb + requester % :nb AS area_id,
               (requester % :nb) / :pc AS community, created_at, u,
               CASE WHEN created_at > CAST(:now AS timestamptz) - interval '3 days'
                    THEN {_buckets(RECENT)} ELSE {_buckets(OLD)} END AS status,
               (g::bigint * 7919) % 60 + 1 AS to_dispatch, (g::bigint * 104729) % 240 + 1 AS to_accept
        FROM (
            SELECT g, floor(random() * :residents)::int AS requester,
                   CAST(:now AS timestamptz) - random() * interval '730 days' AS created_at, random() AS u
            FROM generate_series(1, :orders) g
        ) s
        """),
        {**params, "orders": street.orders},
    )
    categories = [c for (c,) in await conn.execute(text("SELECT code FROM service_categories ORDER BY code"))]
    steps = _values([(a, f, t) for a, (f, t) in STEPS.items()])
    paths = _values([(s, a, i) for s, path in PATHS.items() for i, a in enumerate(path)])
    await conn.execute(
        text(f"""
        INSERT INTO orders (id, requester_id, area_id, area_code, category_code, description,
            address_detail, window_start, window_end, urgency, status, volunteer_id, accepted_at,
            checked_in_at, checked_out_at, completed_at, confirmed_at, rating, comment, created_at,
            updated_at, channel)
        SELECT o.id, :fr + o.requester, o.area_id, a.code,
               (ARRAY[{", ".join(f"'{c}'" for c in categories)}])[1 + o.id % {len(categories)}],
               '需要帮助 #' || o.id, (o.id % 30 + 1) || '号 ' || (o.id % 6 + 1) || '01室',
               o.created_at + interval '1 day', o.created_at + interval '1 day 2 hours',
               CASE WHEN o.id % 10 = 0 THEN 'urgent' ELSE 'normal' END, o.status,
               CASE WHEN o.status IN {SERVED}
                    THEN :fv + o.community + 20 * ((o.id * 31) % (:volunteers / 20)) END,
               CASE WHEN o.status IN {SERVED}
                    THEN o.created_at + (o.to_dispatch + o.to_accept) * interval '1 minute' END,
               CASE WHEN o.status IN ('in_service', 'completed', 'confirmed')
                    THEN o.created_at + interval '1 day' END,
               CASE WHEN o.status IN ('completed', 'confirmed')
                    THEN o.created_at + interval '1 day' + (60 + o.id % 90) * interval '1 minute' END,
               CASE WHEN o.status IN ('completed', 'confirmed')
                    THEN o.created_at + interval '1 day' + (60 + o.id % 90) * interval '1 minute' END,
               CASE WHEN o.status = 'confirmed' THEN o.created_at + interval '2 days' END,
               CASE WHEN o.status = 'confirmed' AND o.id % 3 > 0 THEN 5 - (o.id / 3) % 7 % 5 END,
               CASE WHEN o.status = 'confirmed' AND o.id % 3 > 0 THEN '谢谢' END,
               o.created_at,
               o.created_at + CASE o.status WHEN 'submitted' THEN interval '0' ELSE interval '2 days' END,
               'page'
        FROM o JOIN areas a ON a.id = o.area_id
        """),
        params,
    )
    await conn.execute(
        text(f"""
        INSERT INTO order_events (order_id, actor_id, action, from_status, to_status, note, at)
        SELECT o.id,
               CASE WHEN p.action IN ('post', 'confirm', 'cancel') THEN x.requester_id
                    WHEN p.action IN ('accept', 'check_in', 'check_out', 'complete') THEN x.volunteer_id
                    WHEN p.action = 'dispatch' THEN :fm + o.community END,
               p.action, s.from_status, s.to_status, '',
               CASE p.action
                 WHEN 'post' THEN o.created_at
                 WHEN 'dispatch' THEN o.created_at + o.to_dispatch * interval '1 minute'
                 WHEN 'accept' THEN o.created_at + (o.to_dispatch + o.to_accept) * interval '1 minute'
                 WHEN 'check_in' THEN x.checked_in_at
                 WHEN 'check_out' THEN x.checked_out_at
                 WHEN 'complete' THEN x.completed_at
                 WHEN 'confirm' THEN x.confirmed_at
                 ELSE x.updated_at END
        FROM o JOIN orders x ON x.id = o.id
        JOIN (VALUES {paths}) AS p (status, action, step) ON p.status = o.status
        JOIN (VALUES {steps}) AS s (action, from_status, to_status) ON s.action = p.action
        ORDER BY o.id, p.step
        """),
        params,
    )
    # One offer per dispatched order: the serving volunteer's, or a community volunteer's that expired.
    await conn.execute(
        text(f"""
        INSERT INTO offers (order_id, volunteer_id, dispatched_by_id, mode, status, created_at,
                            expires_at, responded_at)
        SELECT o.id, coalesce(x.volunteer_id, :fv + o.community + 20 * ((o.id * 17) % (:volunteers / 20))),
               :fm + o.community, 'direct',
               CASE WHEN o.status IN {SERVED} THEN 'accepted'
                    WHEN o.status = 'dispatched' THEN 'pending' ELSE 'expired' END,
               o.created_at + o.to_dispatch * interval '1 minute',
               o.created_at + (o.to_dispatch + 720) * interval '1 minute',
               CASE WHEN o.status IN {SERVED}
                    THEN o.created_at + (o.to_dispatch + o.to_accept) * interval '1 minute' END
        FROM o JOIN orders x ON x.id = o.id
        WHERE o.status NOT IN ('submitted', 'rejected')
        """),
        params,
    )
    await _build_waiting_grid(conn, street, params, categories)
    await conn.execute(
        text("""
        UPDATE volunteer_profiles v SET rating_sum = r.total, rating_count = r.n
        FROM (SELECT volunteer_id, sum(rating) AS total, count(*) AS n FROM orders
              WHERE rating IS NOT NULL GROUP BY volunteer_id) r
        WHERE r.volunteer_id = v.user_id
        """)
    )
    await _build_ledger(conn, street, params)


async def _build_waiting_grid(
    conn: AsyncConnection, street: Street, params: dict, categories: list[str]
) -> None:
    """WAITING orders posted over the last day in the first grid's buildings (its first
    COMPOUNDS * BUILDINGS), by residents of the street, for windows over the next three days."""
    await conn.execute(
        text(f"""
        INSERT INTO orders (id, requester_id, area_id, area_code, category_code, description,
            address_detail, window_start, window_end, urgency, status, created_at, updated_at, channel)
        SELECT :orders + g, :fr + (g * 13) % :residents, a.id, a.code,
               (ARRAY[{", ".join(f"'{c}'" for c in categories)}])[1 + g % {len(categories)}],
               '需要帮助 #' || g, '', w.start, w.start + interval '2 hours',
               CASE WHEN g % 10 = 0 THEN 'urgent' ELSE 'normal' END, 'submitted', w.posted, w.posted,
               'page'
        FROM generate_series(1, :waiting) g
        JOIN areas a ON a.id = :fb + g % {COMPOUNDS * BUILDINGS}
        CROSS JOIN LATERAL (SELECT CAST(:now AS timestamptz) - (g % 1440) * interval '1 minute' AS posted,
                                   date_trunc('hour', CAST(:now AS timestamptz))
                                   + (1 + g % 72) * interval '1 hour' AS start) w
        """),
        {**params, "orders": street.orders, "waiting": WAITING},
    )
    await conn.execute(
        text("""
        INSERT INTO order_events (order_id, actor_id, action, from_status, to_status, note, at)
        SELECT id, requester_id, 'post', NULL, 'submitted', '', created_at
        FROM orders WHERE id > :orders ORDER BY id
        """),
        {"orders": street.orders},
    )


async def _build_ledger(conn: AsyncConnection, street: Street, params: dict) -> None:
    # Accounts with the keys the product opens them under (market/ledger/accounts.py).
    await conn.execute(
        text("""
        INSERT INTO ledger_accounts (key, asset, kind, user_id, area_id, area_code,
            debits_must_not_exceed_credits, debits_pending, debits_posted, credits_pending,
            credits_posted, created_at)
        SELECT k.asset || ':' || k.kind || ':area:1', k.asset, k.kind, CAST(NULL AS integer), 1,
               :street, false,
               0, 0, 0, 0, CAST(:now AS timestamptz) - interval '800 days'
        FROM (VALUES ('service', 'street_issuance'), ('service', 'redemption_sink'),
                     ('service', 'expiry_sink'), ('credit', 'street_issuance')) AS k (asset, kind)
        UNION ALL
        SELECT 'service:community_pool:area:' || a.id, 'service', 'community_pool', CAST(NULL AS integer),
               a.id, a.code,
               true, 0, 0, 0, 0, CAST(:now AS timestamptz) - interval '800 days'
        FROM areas a WHERE a.level = 'community'
        UNION ALL
        SELECT 'service:member:user:' || u.id, 'service', 'member', u.id, c.id, h.code,
               true, 0, 0, 0, 0, u.created_at
        FROM users u JOIN areas h ON h.id = u.area_id
        JOIN areas c ON c.code = left(h.code, :community_digits)
        JOIN user_roles r ON r.user_id = u.id AND r.role = 'resident'
        """),
        {**params, "street": STREET, "community_digits": code_length(AreaLevel.community)},
    )
    # Rewards for confirmed orders, from the community's pool to the volunteer (20–59 points).
    await conn.execute(
        text("""
        INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, asset, code,
            reference, memo, pending, post_pending, void_pending, linked, timestamp)
        SELECT '~reward:order:' || x.id, pool.id, m.id, 20 + x.id % 40, 'service', 'service_reward',
               'order:' || x.id, x.category_code || ' service', false, false, false, false,
               x.confirmed_at
        FROM orders x
        JOIN ledger_accounts m ON m.key = 'service:member:user:' || x.volunteer_id
        JOIN ledger_accounts pool ON pool.key = 'service:community_pool:area:' || m.area_id
        WHERE x.status = 'confirmed'
        """)
    )
    # The street funds each pool monthly with what it pays out that month, and a margin.
    await conn.execute(
        text("""
        INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, asset, code,
            reference, memo, pending, post_pending, void_pending, linked, timestamp)
        SELECT '~budget:bench:' || t.debit_account_id || ':' || t.month, issuance.id, t.debit_account_id,
               t.total + 1000, 'service', 'budget', '', 'monthly budget', false, false, false, false,
               t.month - interval '1 day'
        FROM (SELECT debit_account_id, date_trunc('month', timestamp) AS month, sum(amount) AS total
              FROM ledger_transfers GROUP BY 1, 2) t
        JOIN ledger_accounts issuance ON issuance.key = 'service:street_issuance:area:1'
        """)
    )
    # The rest: one point at a time from the volunteers (round robin, far within what they earned),
    # half as gifts to residents (the busy member first), half redeemed.
    await conn.execute(
        text("""
        INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, asset, code,
            reference, memo, pending, post_pending, void_pending, linked, timestamp)
        SELECT 'bench:' || g, giver.id,
               CASE WHEN g <= :busy THEN busy.id WHEN g % 2 = 0 THEN sink.id
                    ELSE resident.id END,
               1, 'service', CASE WHEN g <= :busy OR g % 2 = 1 THEN 'gift' ELSE 'redemption' END,
               '', CASE WHEN g <= :busy OR g % 2 = 1 THEN '谢谢' ELSE '' END, false, false, false, false,
               CAST(:now AS timestamptz) - (g % 700) * interval '1 day' - (g % 1440) * interval '1 minute'
        FROM generate_series(1, :small) g
        JOIN ledger_accounts giver
             ON giver.key = 'service:member:user:' || (CAST(:fv AS integer) + g % :volunteers)
        JOIN ledger_accounts sink ON sink.key = 'service:redemption_sink:area:1'
        JOIN ledger_accounts busy ON busy.key = 'service:member:user:' || CAST(:fr AS integer)
        JOIN ledger_accounts resident
             ON resident.key = 'service:member:user:' || (CAST(:fr AS integer) + (g * 7) % :residents)
        """),
        {
            **params,
            "busy": street.busy_gifts,
            "small": street.transfers - street.orders // 2 - 500,
        },
    )
    # Counters are the sums of the journal; a member's points sit in one lot.
    await conn.execute(
        text("""
        UPDATE ledger_accounts a
        SET debits_posted = coalesce(d.total, 0), credits_posted = coalesce(c.total, 0)
        FROM ledger_accounts b
        LEFT JOIN (SELECT debit_account_id AS id, sum(amount) AS total FROM ledger_transfers GROUP BY 1) d
               ON d.id = b.id
        LEFT JOIN (SELECT credit_account_id AS id, sum(amount) AS total FROM ledger_transfers GROUP BY 1) c
               ON c.id = b.id
        WHERE a.id = b.id
        """)
    )
    await conn.execute(
        text("""
        INSERT INTO ledger_lots (account_id, transfer_id, amount, remaining, expires_at)
        SELECT a.id, (SELECT t.id FROM ledger_transfers t WHERE t.credit_account_id = a.id
                      ORDER BY t.timestamp DESC LIMIT 1),
               a.credits_posted - a.debits_posted, a.credits_posted - a.debits_posted, NULL
        FROM ledger_accounts a
        WHERE a.kind = 'member' AND a.credits_posted > a.debits_posted
        """)
    )
    for table in ("areas", "users", "user_roles", "orders", "order_events", "offers", "ledger_accounts"):
        await conn.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )
    await conn.execute(
        text("CREATE TABLE bench_scale_build (version integer NOT NULL, scale double precision NOT NULL)")
    )
    await conn.execute(
        text("INSERT INTO bench_scale_build VALUES (:v, :s)"), {"v": BUILD_VERSION, "s": street.scale}
    )


def _ensure_database(url: str) -> None:
    parsed = make_url(url)
    where = [
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
    ]
    query = f"SELECT 1 FROM pg_database WHERE datname = '{parsed.database}'"
    found = subprocess.run(
        ["psql", *where, "-Atc", query, "postgres"], capture_output=True, text=True, check=True
    )
    if not found.stdout.strip():
        subprocess.run(["createdb", *where, parsed.database or ""], check=True)


async def prepare(url: str, street: Street, rebuild: bool) -> None:
    """Migrate the cached street to the newest revision, or build it anew."""
    _ensure_database(url)
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        built = await conn.scalar(text("SELECT to_regclass('bench_scale_build') IS NOT NULL"))
        marker = (
            (await conn.execute(text("SELECT version, scale FROM bench_scale_build"))).first()
            if built
            else None
        )
    if rebuild or marker is None or tuple(marker) != (BUILD_VERSION, street.scale):
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await asyncio.to_thread(migrate.upgrade, url)
        started = time.perf_counter()
        async with engine.begin() as conn:
            await _build(conn, street)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        print(f"built the street in {time.perf_counter() - started:.0f} s")
    else:
        await asyncio.to_thread(migrate.upgrade, url)
        print("reusing the street built before (--rebuild to build it anew)")
    async with engine.connect() as conn:
        counts = {
            t: await conn.scalar(text(f"SELECT count(*) FROM {t}"))
            for t in ("users", "orders", "order_events", "offers", "ledger_transfers")
        }
    await engine.dispose()
    print("  " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))


class Server:
    """The app served by uvicorn in a thread, as `market serve` would."""

    def __init__(self, settings: Settings) -> None:
        app = create_app(settings, clock=FrozenClock(NOW))
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def _median_ms(repeat: int, call: Callable[[], Awaitable[object]]) -> float:
    await call()  # warm: plans, caches, the pool
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class Failed(Exception):
    """A request answered with an error: printed in place of its figure."""


def _line(name: str, measured: float, target: float, unit: str = "ms") -> None:
    print(f"  {name:<44} {measured:9.1f} {unit}  target {target:7.0f} {unit}  ratio {measured / target:6.2f}")


async def measure(url: str, street: Street, repeat: int) -> None:
    # Plans are limited per person and minute; the measurement runs one after another.
    settings = Settings(database_url=url, scheduler=False, secret_key=SECRET, plans_per_minute=1000)
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        busy_account = await conn.scalar(
            text("SELECT id FROM ledger_accounts WHERE key = :k"),
            {"k": f"service:member:user:{street.first_resident}"},
        )
        resident = await conn.scalar(text("SELECT requester_id FROM orders ORDER BY id LIMIT 1"))
        busy_entries = await conn.scalar(
            text(
                "SELECT count(*) FROM ledger_transfers WHERE credit_account_id = :a OR debit_account_id = :a"
            ),
            {"a": busy_account},
        )
    await engine.dispose()
    roles = {
        "resident": resident,
        "volunteer": street.first_volunteer,
        "grid worker": street.first_grid_worker,
        "community manager": street.first_manager,
        "street admin": 2,
    }

    def auth(user_id: int) -> dict[str, str]:
        token, _ = issue_token(settings, User(id=user_id, token_version=0), NOW)
        return {"Authorization": f"Bearer {token}"}

    async def get(client: httpx.AsyncClient, path: str, user_id: int) -> httpx.Response:
        response = await client.get(path, headers=auth(user_id))
        if response.is_error:
            raise Failed(f"HTTP {response.status_code}")
        return response

    async def plan(client: httpx.AsyncClient) -> httpx.Response:
        # The first grid (after the street and the communities), by its own grid worker.
        response = await client.post(
            "/api/dispatch/plans", json={"area_id": COMMUNITIES + 2}, headers=auth(street.first_grid_worker)
        )
        if response.is_error:
            raise Failed(f"HTTP {response.status_code}")
        return response

    with Server(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=300) as client:
            print(f"order lists ({PAGE} a page)")
            for role, user_id in roles.items():
                for page in (1, 500):
                    path = f"/api/orders?limit={PAGE}&offset={(page - 1) * PAGE}"
                    ms = await _median_ms(repeat, lambda p=path, u=user_id: get(client, p, u))
                    total = (await get(client, path, user_id)).json()["total"]
                    _line(f"{role} page {page} (of {total:,})", ms, TARGETS_MS["orders"])
            print("street")
            # The summary read from the transfers alone, then as it is read once the hourly job
            # `roll_up_points` has summed the ended months.
            await _forget_roll_up(url)
            ms = await _median_ms(repeat, lambda: get(client, "/api/reports/summary", 2))
            _line("reports summary (12 months, no roll-up)", ms, TARGETS_MS["summary"])
            started = time.perf_counter()
            months = await _roll_up(settings)
            print(f"  job roll_up_points: {months} ended months in {time.perf_counter() - started:.1f} s")
            ms = await _median_ms(repeat, lambda: get(client, "/api/reports/summary", 2))
            _line("reports summary (12 months)", ms, TARGETS_MS["summary"])
            for level, count in (
                ("grid", f"{COMMUNITIES * GRIDS} grids"),
                ("community", f"{COMMUNITIES} communities"),
            ):
                path = f"/api/reports/areas?level={level}&month={LAST_MONTH}"
                ms = await _median_ms(repeat, lambda p=path: get(client, p, 2))
                _line(f"{level} ranking ({LAST_MONTH}, {count})", ms, TARGETS_MS["areas"])
            try:
                ms = await _median_ms(
                    repeat, lambda: get(client, "/api/ledger/trial-balance?asset=service", 2)
                )
                _line("trial balance", ms, TARGETS_MS["trial"])
            except Failed as failure:
                print(f"  {'trial balance':<44} failed: {failure}")
            await _statement(client, auth(2), busy_account, busy_entries, repeat)
            ms = await _median_ms(repeat, lambda: plan(client))
            summary = (await plan(client)).json()["summary"]
            print(f"dispatch plan of the busy grid ({summary['orders']:,} waiting orders)")
            _line(f"grid worker's plan ({summary['assigned']:,} proposed)", ms, TARGETS_MS["plan"])


async def _forget_roll_up(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(delete(PointsMonth))
    await engine.dispose()


async def _roll_up(settings: Settings) -> int:
    engine = create_async_engine(settings.database_url, poolclass=NullPool)
    run = await run_job(
        async_sessionmaker(engine, expire_on_commit=False),
        FrozenClock(NOW),
        "roll_up_points",
        jobs(settings)["roll_up_points"][0],
    )
    await engine.dispose()
    if run.outcome != "succeeded":
        raise Failed(f"roll_up_points {run.outcome}: {run.error}")
    return run.handled


async def _statement(
    client: httpx.AsyncClient, headers: dict[str, str], account: int, entries: int, repeat: int
) -> None:
    """The statement as CSV, gzipped as a browser asks for it; read and dropped chunk by chunk."""
    path = f"/api/ledger/accounts/{account}/entries?format=csv"

    async def download() -> tuple[float, float, int]:
        started = time.perf_counter()
        first, size = 0.0, 0
        async with client.stream("GET", path, headers={**headers, "Accept-Encoding": "gzip"}) as response:
            response.raise_for_status()
            async for chunk in response.aiter_raw():
                if not size:
                    first = time.perf_counter() - started
                size += len(chunk)
        return time.perf_counter() - started, first, size

    await download()
    runs = [await download() for _ in range(repeat)]
    seconds = statistics.median(r[0] for r in runs)
    first = statistics.median(r[1] for r in runs)
    size = runs[0][2]
    tracemalloc.start()
    await download()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"statement CSV of {entries:,} entries, gzip")
    _line("whole download", seconds * 1000, entries / 50_000 * 1000)
    _line("first byte", first * 1000, 100)
    print(f"  {'bytes on the wire':<44} {size:9,}")
    print(f"  {'peak Python memory while sent (traced)':<44} {peak / 2**20:9.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1: 500k orders, 2M transfers")
    parser.add_argument("--database-url", help=f"default {DEFAULT_SERVER}/bench_scale[_<scale>]")
    parser.add_argument("--rebuild", action="store_true", help="build the street anew")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    suffix = "" if args.scale == 1 else "_" + str(args.scale).replace(".", "_")
    url = args.database_url or f"{DEFAULT_SERVER}/bench_scale{suffix}"
    street = Street(args.scale)
    asyncio.run(prepare(url, street, args.rebuild))
    asyncio.run(measure(url, street, args.repeat))


if __name__ == "__main__":
    main()

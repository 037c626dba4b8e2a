"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata, render_python_code
from alembic.migration import MigrationContext
from alembic.operations import ops
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from market import migrate
from market.models import metadata
from tests.conftest import _run_in_thread


async def _schema_diff(url: str) -> list:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()


async def test_an_empty_database_upgrades_to_head_and_matches_the_models(tmp_path: Path) -> None:
    # The folder does not exist yet, as ./var/ on a new machine.
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'market.db'}"
    _run_in_thread(migrate.upgrade, url)
    assert await _schema_diff(url) == []


async def test_the_suite_database_matches_the_models(database_url: str) -> None:
    # conftest built it with the migrations; under MARKET_TEST_DATABASE_URL this is PostgreSQL.
    assert await _schema_diff(database_url) == []


PRIVACY_REVISION = "0008"


def test_serving_areas_outside_the_home_street_are_removed(tmp_path: Path) -> None:
    """Before the rule, a volunteer could serve another street; the upgrade removes those rows
    and keeps every serving area inside the volunteer's home street."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(PRIVACY_REVISION)
    _run_in_thread(migrate.upgrade, url, before.down_revision)
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id) VALUES (?, ?, ?, ?, ?)",
            [
                (1, "110105001", "Sunny Street", "street", None),
                (2, "110105001001", "Community 1", "community", 1),
                (3, "110105001002", "Community 2", "community", 1),
                (4, "110105002", "Rainy Street", "street", None),
                (5, "110105002001", "Rainy Community", "community", 4),
            ],
        )
        db.executemany(
            "INSERT INTO users (id, phone, name, password_hash, area_id, is_active, failed_logins,"
            " created_at) VALUES (?, ?, ?, 'x', ?, 1, 0, '2026-01-01 00:00:00')",
            [(1, "13900000001", "Lives in Sunny", 2), (2, "13900000002", "No home", None)],
        )
        db.executemany(
            "INSERT INTO volunteer_profiles (user_id, capacity, rating_sum, rating_count)"
            " VALUES (?, 1, 0, 0)",
            [(1,), (2,)],
        )
        db.executemany(
            "INSERT INTO volunteer_serving_areas (id, user_id, area_id, area_code) VALUES (?, ?, ?, ?)",
            [
                (1, 1, 2, "110105001001"),
                (2, 1, 3, "110105001002"),
                (3, 1, 1, "110105001"),
                (4, 1, 5, "110105002001"),
                (5, 1, 4, "110105002"),
                (6, 2, 2, "110105001001"),
            ],
        )

    _run_in_thread(migrate.upgrade, url, PRIVACY_REVISION)

    with sqlite3.connect(tmp_path / "old.db") as db:
        kept = db.execute("SELECT id FROM volunteer_serving_areas ORDER BY id").fetchall()
    assert kept == [(1,), (2,), (3,)]


AREA_ACCOUNTS_REVISION = "0012"


def test_streets_and_communities_made_before_get_their_accounts(tmp_path: Path) -> None:
    """Areas stored before they opened their accounts get them; an account opened lazily before
    (here a pool that a reward opened) is kept as it is, and areas below a community get none."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(AREA_ACCOUNTS_REVISION)
    _run_in_thread(migrate.upgrade, url, before.down_revision)
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id) VALUES (?, ?, ?, ?, ?)",
            [
                (1, "110105001", "Sunny Street", "street", None),
                (2, "110105001001", "Community 1", "community", 1),
                (3, "110105001002", "Community 2", "community", 1),
                (4, "110105001001001", "Grid 1", "grid", 2),
            ],
        )
        db.execute(
            "INSERT INTO ledger_accounts (id, key, asset, kind, area_id, area_code,"
            " debits_must_not_exceed_credits, debits_pending, debits_posted, credits_pending,"
            " credits_posted, created_at) VALUES (1, 'service:community_pool:area:2', 'service',"
            " 'community_pool', 2, '110105001001', 1, 0, 0, 0, 40, '2026-01-01 00:00:00')"
        )

    _run_in_thread(migrate.upgrade, url, AREA_ACCOUNTS_REVISION)

    with sqlite3.connect(tmp_path / "old.db") as db:
        accounts = db.execute(
            "SELECT key, area_id, area_code, debits_must_not_exceed_credits, credits_posted"
            " FROM ledger_accounts ORDER BY key"
        ).fetchall()
    assert accounts == [
        ("credit:street_issuance:area:1", 1, "110105001", 0, 0),
        ("service:community_pool:area:2", 2, "110105001001", 1, 40),
        ("service:community_pool:area:3", 3, "110105001002", 1, 0),
        ("service:expiry_sink:area:1", 1, "110105001", 0, 0),
        ("service:redemption_sink:area:1", 1, "110105001", 0, 0),
        ("service:street_issuance:area:1", 1, "110105001", 0, 0),
    ]


NOTIFICATION_CODES_REVISION = "0020"


def test_messages_stored_as_prose_keep_their_words_under_the_generic_code(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(
        NOTIFICATION_CODES_REVISION
    )
    _run_in_thread(migrate.upgrade, url, before.down_revision)
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute(
            "INSERT INTO users (id, phone, name, password_hash, is_active, created_at, token_version,"
            " must_change_password) VALUES (1, '13900000001', 'Reader', 'x', 1, '2026-01-01 00:00:00', 0, 0)"
        )
        db.execute(
            "INSERT INTO notifications (id, user_id, kind, title, body, subject_type, subject_id, created_at)"
            " VALUES (1, 1, 'escalation', 'Order 3 is late', 'escort, submitted', 'order', 3,"
            " '2026-01-01 00:00:00')"
        )

    _run_in_thread(migrate.upgrade, url, NOTIFICATION_CODES_REVISION)

    with sqlite3.connect(tmp_path / "old.db") as db:
        rows = db.execute("SELECT code, params, subject_type, subject_id FROM notifications").fetchall()
    assert [(code, json.loads(params), *subject) for code, params, *subject in rows] == [
        ("earlier_message", {"title": "Order 3 is late", "body": "escort, submitted"}, "order", 3)
    ]


ACCEPTED_AT_REVISION = "0019"


def test_orders_accepted_before_get_the_moment_of_their_first_accept(tmp_path: Path) -> None:
    """From the order's history: an accepted offer or a claim from the board; an order never
    accepted has none."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(ACCEPTED_AT_REVISION)
    _run_in_thread(migrate.upgrade, url, before.down_revision)
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("INSERT INTO areas (id, code, name, level) VALUES (1, '110105001', 'Sunny', 'street')")
        db.execute(
            "INSERT INTO users (id, phone, name, password_hash, area_id, is_active, created_at,"
            " token_version, must_change_password)"
            " VALUES (1, '13900000001', 'Resident', 'x', 1, 1, '2026-01-01 00:00:00', 0, 0)"
        )
        db.executemany(
            "INSERT INTO orders (id, requester_id, area_id, area_code, category_code, description,"
            " address_detail, window_start, window_end, urgency, status, created_at, updated_at)"
            " VALUES (?, 1, 1, '110105001', 'escort', '', '', '2026-01-02 00:00:00',"
            " '2026-01-02 02:00:00', 'normal', ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
            [(1, "completed"), (2, "accepted"), (3, "expired")],
        )
        db.executemany(
            "INSERT INTO order_events (order_id, action, from_status, to_status, note, at)"
            " VALUES (?, ?, ?, ?, '', ?)",
            [
                (1, "post", None, "submitted", "2026-01-01 00:00:00"),
                (1, "dispatch", "submitted", "dispatched", "2026-01-01 00:10:00"),
                (1, "accept", "dispatched", "accepted", "2026-01-01 00:25:00"),
                (1, "complete", "in_service", "completed", "2026-01-01 03:00:00"),
                (2, "post", None, "submitted", "2026-01-01 00:00:00"),
                (2, "claim", "submitted", "accepted", "2026-01-01 01:00:00"),
                (3, "post", None, "submitted", "2026-01-01 00:00:00"),
                (3, "expire", "submitted", "expired", "2026-01-02 00:00:00"),
            ],
        )

    _run_in_thread(migrate.upgrade, url, ACCEPTED_AT_REVISION)

    with sqlite3.connect(tmp_path / "old.db") as db:
        accepted = db.execute("SELECT id, accepted_at FROM orders ORDER BY id").fetchall()
    assert accepted == [(1, "2026-01-01 00:25:00"), (2, "2026-01-01 01:00:00"), (3, None)]


CLOSEOUT_REVISION = "0025"


def test_commitments_find_their_need_and_team_names_become_teams(tmp_path: Path) -> None:
    """Commitments made before they named their need get it where it can be told (the project's only
    need; the one need the applied plan sent the resource to; the one need of the resource's kind);
    a team's name becomes the community's team of that name, or the creator's task when none bears
    it; a responsibility without a due date is due at the project's deadline."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    before = ScriptDirectory.from_config(migrate.alembic_config(url)).get_revision(CLOSEOUT_REVISION)
    _run_in_thread(migrate.upgrade, url, before.down_revision)
    moment = "2026-01-01 00:00:00"
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executemany(
            "INSERT INTO projects (id, title, description, community_id, community_code, status, start_at,"
            " deadline, created_by_id, created_at, updated_at)"
            f" VALUES (?, 'P', '', 2, '110105001001', 'active', '{moment}', ?, 5, '{moment}', '{moment}')",
            [(1, "2026-02-01 00:00:00"), (2, "2026-02-02 00:00:00"), (3, "2026-02-03 00:00:00")],
        )
        db.executemany(
            "INSERT INTO needs (id, community_id, area_id, area_code, category, title, description, quantity,"
            " unit_of_measure, priority, deadline, status, note, created_by_id, created_at, updated_at)"
            f" VALUES (?, 2, 2, '110105001001', 'goods', 'N', '', 10, ?, 3, '{moment}', 'planned', '', 5,"
            f" '{moment}', '{moment}')",
            [(10, "kg"), (11, "kg"), (13, "kg"), (14, "kg"), (15, "pieces")],
        )
        db.executemany(
            "INSERT INTO project_needs (id, project_id, need_id) VALUES (?, ?, ?)",
            [(1, 1, 10), (2, 2, 11), (3, 2, 13), (4, 3, 14), (5, 3, 15)],
        )
        db.executemany(
            "INSERT INTO resources (id, unit_id, category, title, description, quantity, unit_of_measure,"
            f" held, delivered, available_from, status, created_by_id, created_at, updated_at) VALUES"
            f" (?, 1, 'goods', 'R', '', 100, ?, 0, 0, '{moment}', 'published', 5, '{moment}', '{moment}')",
            [(1, "kg"), (2, "kg"), (3, " Pieces ")],
        )
        db.execute(
            "INSERT INTO allocation_plans (id, community_id, community_code, created_by_id, created_at,"
            " status, summary, project_id)"
            f" VALUES (1, 2, '110105001001', 5, '{moment}', 'applied', '{{}}', 2)"
        )
        db.executemany(
            "INSERT INTO allocation_flows (id, plan_id, resource_id, need_id, quantity, cost, outcome, note)"
            " VALUES (?, 1, ?, ?, 5, 1, ?, '')",
            [(1, 1, 11, "applied"), (2, 1, 13, "not_chosen"), (3, 2, 11, "applied"), (4, 2, 13, "applied")],
        )
        db.executemany(
            "INSERT INTO project_commitments (id, project_id, resource_id, unit_id, quantity, delivered,"
            " released) VALUES (?, ?, ?, 1, 5, 0, 0)",
            [(1, 1, 1), (2, 2, 1), (3, 2, 2), (4, 3, 3)],
        )
        db.execute(
            "INSERT INTO teams (id, name, speciality, description, community_id, area_code, leader_id,"
            f" is_active, created_by_id, created_at, updated_at) VALUES (1, 'Party members'' team', 'other',"
            f" '', 2, '110105001001', 6, 1, 5, '{moment}', '{moment}')"
        )
        db.executemany(
            "INSERT INTO project_responsibilities (id, project_id, task, unit_id, user_id, team, due_at)"
            " VALUES (?, 1, ?, ?, ?, ?, ?)",
            [
                (1, "Keep the list", None, None, " party members' TEAM ", None),
                (2, "Sweep up", None, None, "Unknown crew", "2026-01-20 00:00:00"),
                (3, "Bring chairs", 1, None, "", None),
            ],
        )

    _run_in_thread(migrate.upgrade, url, CLOSEOUT_REVISION)

    with sqlite3.connect(tmp_path / "old.db") as db:
        needs = db.execute("SELECT id, need_id FROM project_commitments ORDER BY id").fetchall()
        held = db.execute(
            "SELECT id, task, unit_id, user_id, team_id, substr(due_at, 1, 10) FROM project_responsibilities"
            " ORDER BY id"
        ).fetchall()
    # The plan sent resource 2 to two needs: which one a delivery served cannot be told.
    assert needs == [(1, 10), (2, 11), (3, None), (4, 15)]
    assert held == [
        (1, "Keep the list", None, None, 1, "2026-02-01"),
        (2, "Sweep up (Unknown crew)", None, 5, None, "2026-01-20"),
        (3, "Bring chairs", 1, None, None, "2026-02-01"),
    ]


ONE_WAITING_REVISION = "0031"


def test_duplicate_waiting_certificate_requests_are_refused_but_the_oldest_and_it_goes_down(
    tmp_path: Path,
) -> None:
    """Requests sent at once before the index could both wait: the upgrade keeps the oldest waiting
    and refuses the others; the downgrade drops the index and keeps the rows."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    config = migrate.alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision(ONE_WAITING_REVISION)
    _run_in_thread(migrate.upgrade, url, before.down_revision)
    moment = "2026-01-01 00:00:00"
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executemany(
            "INSERT INTO areas (id, code, name, level, parent_id) VALUES (?, ?, ?, ?, ?)",
            [
                (1, "110105001", "Sunny Street", "street", None),
                (2, "110105001001", "Community 1", "community", 1),
            ],
        )
        db.executemany(
            "INSERT INTO users (id, phone, name, password_hash, area_id, is_active, created_at)"
            f" VALUES (?, ?, 'V', 'x', 2, 1, '{moment}')",
            [(1, "13900000001"), (2, "13900000002")],
        )
        db.executemany(
            "INSERT INTO certificates (id, volunteer_id, community_id, community_code, period_start,"
            " period_end, status, requested_at, volunteer_name, issuer_name, responsible_person, contact,"
            " handler_name, reason, memo) VALUES (?, ?, 2, '110105001001', '2025-12-01', '2025-12-31',"
            " ?, ?, 'V', '', '', '', '', '', '')",
            [
                (1, 1, "issued", moment),
                (2, 1, "requested", "2026-01-02 00:00:00"),
                (3, 1, "requested", "2026-01-02 00:00:01"),
                (4, 1, "requested", "2026-01-02 00:00:02"),
                (5, 2, "requested", moment),
            ],
        )

    _run_in_thread(migrate.upgrade, url, ONE_WAITING_REVISION)

    with sqlite3.connect(tmp_path / "old.db") as db:
        rows = db.execute("SELECT id, status, reason FROM certificates ORDER BY id").fetchall()
        assert rows == [
            (1, "issued", ""),
            (2, "requested", ""),
            (3, "refused", "other"),
            (4, "refused", "other"),
            (5, "requested", ""),
        ]
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(
                "INSERT INTO certificates (volunteer_id, community_id, community_code, period_start,"
                " period_end, status, requested_at, volunteer_name, issuer_name, responsible_person,"
                " contact, handler_name, reason, memo) VALUES (1, 2, '110105001001', '2025-12-01',"
                f" '2025-12-31', 'requested', '{moment}', 'V', '', '', '', '', '', '')"
            )

    _run_in_thread(command.downgrade, config, before.down_revision)

    with sqlite3.connect(tmp_path / "old.db") as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list('certificates')")}
        assert "uq_certificates_one_waiting" not in indexes
        assert db.execute("SELECT count(*) FROM certificates").fetchone() == (5,)


SHIFT_CANCEL_REVISION = "0032"


def test_cancelled_shifts_go_down_and_up_again(tmp_path: Path) -> None:
    """Going down from the revision that lets an organiser cancel a shift turns its called-off
    sign-ups into cancelled ones (the older code knows no other word) and drops the columns."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shifts.db'}"
    config = migrate.alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision(SHIFT_CANCEL_REVISION)
    _run_in_thread(migrate.upgrade, url, SHIFT_CANCEL_REVISION)
    with sqlite3.connect(tmp_path / "shifts.db") as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute(
            "INSERT INTO shifts (id, project_id, title, description, area_id, starts_at, ends_at, slots,"
            " cancel_cutoff_hours, arrivals, created_by_id, created_at, status, cancel_reason)"
            " VALUES (1, 1, 'Stalls', '', 1, '2026-02-01 01:00:00', '2026-02-01 04:00:00', 2, 12, 2, 1,"
            " '2026-01-01 00:00:00', 'cancelled', 'weather')"
        )
        db.executemany(
            "INSERT INTO shift_signups (id, shift_id, user_id, status, arrival, signed_up_at, updated_at,"
            " tenths) VALUES (?, 1, ?, ?, ?, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)",
            [(1, 1, "called_off", 1), (2, 2, "cancelled", 2)],
        )

    _run_in_thread(command.downgrade, config, before.down_revision)

    with sqlite3.connect(tmp_path / "shifts.db") as db:
        signups = db.execute("SELECT id, status FROM shift_signups ORDER BY id").fetchall()
        columns = {row[1] for row in db.execute("PRAGMA table_info(shifts)")}
    assert signups == [(1, "cancelled"), (2, "cancelled")]
    assert not columns & {"status", "cancelled_at", "cancelled_by_id", "cancel_reason"}

    _run_in_thread(migrate.upgrade, url)
    with sqlite3.connect(tmp_path / "shifts.db") as db:
        assert db.execute("SELECT status, cancel_reason FROM shifts").fetchall() == [("open", None)]


def test_a_new_migration_names_the_product_s_timestamps_by_their_type_in_the_database() -> None:
    """Autogenerate renders `UTCDateTime` columns as advanced_alchemy's `DateTimeUTC`, which the
    template imports: named as Alembic would (`market.db.UTCDateTime`), a new migration would not run."""
    rendered = render_python_code(
        ops.UpgradeOps(ops=[ops.CreateTableOp.from_table(metadata.tables["orders"])]),
        render_item=migrate.render_item,
    )
    assert "sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)" in rendered
    assert "market." not in rendered
    assert "sa.Column('description', sa.Text()" in rendered  # other types as Alembic names them

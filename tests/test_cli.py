"""The `market` command on a fresh embedded database."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from market.cli import main


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "var" / "market.db"
    monkeypatch.setenv("MARKET_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    # As a new install: the secret the command makes goes to ./var/ there, not into the checkout.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MARKET_SECRET_KEY", raising=False)
    return path


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_upgrade_then_demo_loads_a_street_once_and_prints_the_logins(fresh_db: Path) -> None:
    run("db", "upgrade")
    output = run("demo")
    assert "demo data loaded" in output and "13700000000" in output and "demo12345" in output
    db = sqlite3.connect(fresh_db)
    levels = dict(db.execute("SELECT level, count(*) FROM areas GROUP BY level").fetchall())
    assert levels["street"] == 1 and levels["community"] == 3 and levels["grid"] >= 3
    roles = dict(db.execute("SELECT role, count(*) FROM user_roles GROUP BY role").fetchall())
    assert roles["resident"] >= 50 and roles["volunteer"] == 30
    assert db.execute("SELECT count(*) FROM volunteer_profiles").fetchone() == (30,)
    statuses = {s for (s,) in db.execute("SELECT status FROM orders")}
    assert {"submitted", "dispatched", "accepted", "completed"} <= statuses
    # Funded budgets, earned points and a pending redemption, and the books balance.
    posted, pending = db.execute(
        "SELECT sum(credits_posted - debits_posted), sum(credits_pending - debits_pending)"
        " FROM ledger_accounts"
    ).fetchone()
    assert (posted, pending) == (0, 0)
    assert db.execute("SELECT count(*) FROM rewards").fetchone() == (3,)
    assert db.execute("SELECT status FROM redemptions").fetchall() == [("pending",)]
    assert (fresh_db.parent / "secret_key").stat().st_mode & 0o077 == 0, "the install's own secret"

    again = CliRunner().invoke(main, ["demo"])
    assert again.exit_code != 0 and "already has users" in again.output
    assert "not loaded again" in run("demo", "--if-empty")


def test_the_first_administrator_is_made_on_an_empty_database(fresh_db: Path) -> None:
    run("db", "upgrade")
    output = run(
        "user",
        "create",
        "--phone",
        "13812345678",
        "--name",
        "管理员",
        "--password",
        "a-long-secret",
        "--role",
        "admin",
    )
    assert "created user" in output
    duplicate = CliRunner().invoke(
        main,
        [
            "user",
            "create",
            "--phone",
            "13812345678",
            "--name",
            "x",
            "--password",
            "a-long-secret",
            "--role",
            "admin",
        ],
    )
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    no_area = CliRunner().invoke(
        main,
        [
            "user",
            "create",
            "--phone",
            "13812345679",
            "--name",
            "x",
            "--password",
            "a-long-secret",
            "--role",
            "resident",
        ],
    )
    assert no_area.exit_code != 0 and "home area" in no_area.output


def test_serve_refuses_the_default_secret_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKET_ENV", "production")
    monkeypatch.delenv("MARKET_SECRET_KEY", raising=False)
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "MARKET_SECRET_KEY" in result.output


def test_serve_gives_workers_time_to_start_on_a_loaded_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn kills a worker that is not serving within its health-check timeout (5 s by default):
    # under load a worker starting in 6 s was killed and started again, and again.
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("MARKET_WORKER_TIMEOUT_SECONDS", "90")
    run("serve", "--workers", "2")
    assert calls[0]["workers"] == 2 and calls[0]["timeout_worker_healthcheck"] == 90


def test_serve_runs_on_libuv_and_a_c_http_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    run("serve")
    assert (calls[0]["loop"], calls[0]["http"]) == ("uvloop", "httptools")


def test_each_served_worker_freezes_what_it_holds_once_made(fresh_db: Path) -> None:
    """`market serve`'s app is made by `served_app` in each worker, which moves everything alive by
    then out of the garbage collector's reach (the full collections over it were the API's p99).
    In a process of its own: freezing is for the life of the process."""
    script = "import gc; from market.cli import served_app; served_app(); print(gc.get_freeze_count())"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(done.stdout) > 100_000, done.stdout

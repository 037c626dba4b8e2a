"""The `market` command on a fresh embedded database."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from uvicorn.config import STARTUP_FAILURE

from market.cli import main
from market.serving import WorkerSockets
from tests.conftest import free_port


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
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(WorkerSockets, "run", lambda self: configs.append(self.config))
    monkeypatch.setattr("uvicorn.supervisors.multiprocess.signal.signal", lambda *_: None)
    monkeypatch.setenv("MARKET_WORKER_TIMEOUT_SECONDS", "90")
    run("serve", "--port", str(free_port()), "--workers", "2")
    assert configs[0].workers == 2 and configs[0].timeout_worker_healthcheck == 90


def test_each_worker_is_started_on_a_listening_socket_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """On one shared socket, the worker that wakes first takes every connection waiting: a client's
    8 keep-alive connections could all go to one of 2 workers. Each worker's own socket on the same
    port (SO_REUSEPORT) lets the kernel spread them. uvicorn starts each worker (at start, on a
    restart, on SIGTTIN) with its supervisor's `sockets`, which binds a new one each time."""
    started: list[list[socket.socket]] = []
    monkeypatch.setattr("uvicorn.supervisors.multiprocess.signal.signal", lambda *_: None)

    class Started:  # a worker, without its process
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            started.append(sockets)

        def start(self) -> None:
            pass

    monkeypatch.setattr("uvicorn.supervisors.multiprocess.Process", Started)
    port = free_port()
    supervisor = WorkerSockets(uvicorn.Config("market.serving:served_app", port=port, workers=2), sockets=[])
    supervisor.init_processes()
    supervisor.handle_ttin()
    try:
        assert [len(sockets) for sockets in started] == [1, 1, 1]
        own = [sockets[0] for sockets in started]
        assert len({sock.fileno() for sock in own}) == 3
        for sock in own:
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.proto == socket.IPPROTO_TCP  # so that replies get TCP_NODELAY (pyproject.toml)
    finally:
        for sockets in started:
            sockets[0].close()


def test_serve_with_workers_refuses_a_port_something_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers' own sockets would otherwise share the port with whatever is there: an earlier
    # `market serve` still running would answer half the requests.
    monkeypatch.setattr(WorkerSockets, "run", lambda self: pytest.fail("workers started"))
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = CliRunner().invoke(main, ["serve", "--port", str(taken.getsockname()[1]), "--workers", "2"])
    assert result.exit_code == STARTUP_FAILURE


def test_serve_runs_on_libuv_and_a_c_http_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    run("serve")
    assert (calls[0]["loop"], calls[0]["http"]) == ("uvloop", "httptools")


def test_each_served_worker_freezes_what_it_holds_once_made(fresh_db: Path) -> None:
    """`market serve`'s app is made by `served_app` in each worker, which moves everything alive by
    then out of the garbage collector's reach (the full collections over it were the API's p99).
    In a process of its own: freezing is for the life of the process."""
    script = "import gc; from market.serving import served_app; served_app(); print(gc.get_freeze_count())"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert int(done.stdout) > 100_000, done.stdout


def test_served_workers_listen_each_on_a_socket_of_their_own(fresh_db: Path) -> None:
    """`market serve --workers 2` itself: two listening sockets on its port (where uvicorn alone
    has one, shared), and the API answers."""
    run("db", "upgrade")
    port = free_port()
    log = fresh_db.parent / "serve.log"
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("market")), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, "MARKET_SCHEDULER": "off"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    try:
        listening: set[str] = set()
        for _ in range(1200):  # two workers start in a few seconds; a loaded machine may take minutes
            if len(listening := _listening_sockets(port)) == 2 or server.poll() is not None:
                break
            time.sleep(0.1)
        assert len(listening) == 2, log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the sockets listening on `port` (Linux's table of TCP sockets)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {row[9] for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A"}

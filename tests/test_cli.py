"""The `market` command on a fresh embedded database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from litestar import Litestar
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

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


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The workers uvicorn's supervisor starts, in order, as stand-ins without a process; and the
    supervisor's signal handlers left out of the test's process."""
    started: list[Worker] = []

    class Worker:  # uvicorn's `Process`, without the process
        def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
            self.sockets, self.alive, self.exitcode, self.pid = sockets, True, None, 0
            self.joined = False
            started.append(self)

        def start(self) -> None:
            pass

        def is_alive(self, timeout: float) -> bool:
            return self.alive

        def wait_until_ready(self, timeout: float, should_exit: object) -> bool:
            return True

        def kill(self) -> None:
            self.alive, self.exitcode = False, -signal.SIGKILL

        terminate = kill

        def join(self) -> None:
            self.joined = True

    monkeypatch.setattr("uvicorn.supervisors.multiprocess.signal.signal", lambda *_: None)
    monkeypatch.setattr("uvicorn.supervisors.multiprocess.Process", Worker)
    yield started
    for worker in started:
        worker.sockets[0].close()


def test_each_worker_is_started_on_a_listening_socket_of_its_own(workers: list[Any]) -> None:
    """On one shared socket, the worker that wakes first takes every connection waiting: a client's
    8 keep-alive connections could all go to one of 2 workers. Each worker's own socket on the same
    port (SO_REUSEPORT) lets the kernel spread them. uvicorn starts each worker (at start, in place
    of a dead one, on SIGHUP, on SIGTTIN) with its supervisor's `sockets`, which binds a new one."""
    port = free_port()
    supervisor = WorkerSockets(uvicorn.Config("market.serving:served_app", port=port, workers=2), sockets=[])
    supervisor.init_processes()
    workers[0].alive = False
    supervisor.keep_subprocess_alive()  # one in place of the dead one
    supervisor.handle_hup()  # two more, one in place of each
    supervisor.handle_ttin()  # and one more
    assert len(workers) == 6 and [worker.alive for worker in supervisor.processes] == [True] * 3
    own = [sock for worker in workers for sock in worker.sockets]
    assert len(own) == 6 and len({sock.fileno() for sock in own}) == 6
    for sock in own:
        assert sock.getsockname() == ("127.0.0.1", port)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        assert sock.proto == socket.IPPROTO_TCP  # so that replies get TCP_NODELAY (pyproject.toml)


def test_workers_stop_with_their_supervisor_when_it_fails(
    workers: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's socket that cannot be bound after the start (its address gone, no file handles
    left) fails the supervisor's loop: the workers it started stop too, not serve unsupervised."""
    supervisor = WorkerSockets(
        uvicorn.Config("market.serving:served_app", port=free_port(), workers=2), sockets=[]
    )

    def fails(self: WorkerSockets) -> None:
        self.init_processes()
        raise OSError("Cannot assign requested address")

    monkeypatch.setattr(Multiprocess, "run", fails)
    with pytest.raises(OSError, match="Cannot assign"):
        supervisor.run()
    assert len(workers) == 2 and all(not worker.alive and worker.joined for worker in workers)


def test_serve_with_workers_refuses_a_port_something_listens_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers' own sockets would otherwise share the port with whatever is there: an earlier
    # `market serve` still running would answer half the requests.
    monkeypatch.setattr("uvicorn.supervisors.multiprocess.signal.signal", lambda *_: None)
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


# Where each worker gets a socket of its own (`market.serving.serve_app`).
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT on Linux")


@linux_only
def test_served_workers_listen_each_on_a_socket_of_their_own(fresh_db: Path, tmp_path: Path) -> None:
    """The app `market serve --workers 2` serves, served as it does: two listening sockets on its
    port (where uvicorn alone has one, shared), and the API answers."""
    run("db", "upgrade")
    listening = _served(tmp_path, "market.serving:served_app", worker_timeout=60)
    assert len(listening) == 2


@linux_only
def test_serve_with_workers_fails_when_a_worker_cannot_start(tmp_path: Path) -> None:
    """As with one worker (uvicorn exits 3), so that a service manager sees the failure."""
    with pytest.raises(subprocess.CalledProcessError) as failed:
        # uvicorn waits up to the health check's timeout for the failed worker's answer.
        _served(tmp_path, "tests.test_cli:an_app_that_fails_to_start", worker_timeout=5)
    assert failed.value.returncode == STARTUP_FAILURE


def an_app_that_fails_to_start() -> Litestar:
    def fail() -> None:
        raise RuntimeError("the database is not there")

    return Litestar([], on_startup=[fail])


def _served(folder: Path, factory: str, *, worker_timeout: int) -> set[str]:
    """Serve `factory` with 2 workers as `market serve` does until both listen; their sockets.
    Raises CalledProcessError when the server stops first."""
    port = free_port()
    arguments = f"{factory!r}, '127.0.0.1', {port}, 2, {worker_timeout}"
    code = f"from market.serving import serve_app; serve_app({arguments})"
    log = folder / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-c", code],
            # The checkout, for a factory among the tests; the working folder stays the test's own.
            env={**os.environ, "MARKET_SCHEDULER": "off", "PYTHONPATH": str(Path(__file__).parents[1])},
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        for _ in range(1200):  # two workers start in a few seconds; a loaded machine may take minutes
            if len(listening := _listening_sockets(port)) == 2:
                assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                return listening
            if (returncode := server.poll()) is not None:
                raise subprocess.CalledProcessError(returncode, code, log.read_text())
            time.sleep(0.1)
        raise AssertionError(log.read_text())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _listening_sockets(port: int) -> set[str]:
    """The inodes of the sockets listening on `port` (Linux's table of TCP sockets)."""
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return {row[9] for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A"}

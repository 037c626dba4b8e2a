"""The CPU work of a request, counted: instructions per request of the product's endpoints and of the
floor app, each served in-process under callgrind, so that a change's effect shows on a shared,
noisy machine where req/s move by 5-25% from one run to the next.

    .venv/bin/python -m bench.instructions [--db postgres,sqlite] [--endpoints post_order,accept,...]
                                           [--requests 100] [--baseline ../before]

The data are bench.api's (the demo street, posting residents, takers and their offers; PostgreSQL's
`bench_api` schema is dropped and migrated again, SQLite is a fresh file). For each endpoint, each
checkout (this one; with --baseline, another's too) and the floor (bench.api's: the same JWT decode
and one primary-key statement; for a write also the floor making as many statements as this
checkout's write) runs in a child process under `valgrind --tool=callgrind` (installed with apt-get
when missing). The child sends 20 requests to warm up, then `callgrind_control` switches counting on
for --requests more, driven straight through ASGI (no HTTP server, no load generator: what is
counted is the app, its driver and the database client, not uvicorn or wrk). A database server's
work and the kernel's are not counted, so a round trip saved shows here only as its client side.

The table shows million instructions per request and floor ÷ product, the speed the counts imply,
against the same targets as bench.api (reads 0.5, writes 0.3). Counts repeat within about 1% from
run to run. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WARM_UP = 20


# ---------------------------------------------------------------- the child, counted


def child(spec_file: str) -> None:
    """Serve the app `spec` names in-process and send its requests; the parent counts all but the
    first WARM_UP. This process says its id when warmed up, and `done` when the rest are sent, and
    waits for a line from the parent after each."""
    spec = json.loads(Path(spec_file).read_text())
    sys.path.insert(0, spec["root"])  # the measured checkout's `market`, before any import of it
    os.environ.update(spec["env"])
    if spec["floor"]:
        from bench.api import floor_app

        app = floor_app()
    else:
        from datetime import datetime

        from market.app import create_app
        from market.clock import FrozenClock
        from market.settings import Settings

        url, secret = spec["env"]["MARKET_DATABASE_URL"], spec["secret"]
        settings = Settings(database_url=url, secret_key=secret, scheduler=False)
        app = create_app(settings, clock=FrozenClock(datetime.fromisoformat(spec["now"])))
    asyncio.run(_serve(app, spec))


async def _serve(app: Any, spec: dict[str, Any]) -> None:
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    serving = asyncio.create_task(app(lifespan, inbox.get, outbox.put))
    if (started := await outbox.get())["type"] != "lifespan.startup.complete":
        sys.exit(f"the app did not start: {started}")
    requests = spec["requests"]
    for request in requests[:WARM_UP]:
        await _send(app, *request)
    print(os.getpid(), flush=True)
    sys.stdin.readline()  # counting is on
    for request in requests[WARM_UP:]:
        await _send(app, *request)
    print("done", flush=True)
    sys.stdin.readline()  # the counts are written
    serving.cancel()


async def _send(app: Any, method: str, path: str, token: str, body: str | None) -> None:
    content = (body or "").encode()
    headers = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    received = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.sleep(3600)  # a disconnect only: none comes
        received = True
        return {"type": "http.request", "body": content, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    if not 200 <= status < 300:
        sys.exit(f"{method} {path} answered {status}")


# ---------------------------------------------------------------- the parent, counting


def ensure_valgrind() -> None:
    if shutil.which("valgrind") and shutil.which("callgrind_control"):
        return
    print("-- installing valgrind with apt-get", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "valgrind"], check=True, capture_output=True)
    if not shutil.which("callgrind_control"):
        sys.exit("valgrind is missing and apt-get did not install it")


def instructions(root: Path, url: str, requests: list, *, floor: bool = False) -> float:
    """Million instructions per request of the app (the floor app, or `root`'s product) sending
    `requests` after WARM_UP more."""
    from bench import api

    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as folder:
        spec = {
            "root": str(root),
            "floor": floor,
            "secret": api.SECRET,
            "now": api.NOW,
            "requests": requests,
            "env": {
                "MARKET_DATABASE_URL": url,
                "MARKET_SECRET_KEY": api.SECRET,
                "MARKET_NOW": api.NOW,
                "MARKET_SCHEDULER": "off",
            },
        }
        Path(folder, "spec.json").write_text(json.dumps(spec))
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={folder}/counts.%p",
            sys.executable,
            "-m",
            "bench.instructions",
            "--child",
            f"{folder}/spec.json",
        ]
        with open(f"{folder}/log", "w") as log:
            process = subprocess.Popen(
                command, cwd=api.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )
        try:
            pid = _said(process, folder)
            subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
            _tell(process, "go")
            _said(process, folder)
            subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
            _tell(process, "end")
            process.wait(timeout=120)
        finally:
            process.kill()
            process.wait()
        (dump,) = Path(folder).glob(f"counts.{pid}.*")
        totals = next(line for line in dump.read_text().splitlines() if line.startswith("totals:"))
        return int(totals.split()[1]) / (len(requests) - WARM_UP) / 1e6


def _said(process: subprocess.Popen, folder: str) -> str:
    """The measured process's next line; its log when it stopped instead."""
    line = process.stdout.readline().strip()
    if not line:
        process.wait()
        sys.exit(f"the measured app stopped:\n{Path(folder, 'log').read_text()[-3000:]}")
    return line


def _tell(process: subprocess.Popen, line: str) -> None:
    process.stdin.write(line + "\n")
    process.stdin.flush()


def measure(args: argparse.Namespace, name: str, url: str) -> None:
    from bench import api

    fx = asyncio.run(api.prepare(url))
    products = {"product": api.ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    count = WARM_UP + args.requests
    floors: dict[str, float] = {}
    print(f"\n{name}: million instructions per request; ratio = floor ÷ product (< : below target)")
    print(f"{'endpoint':30} {'floor':>6} {'product':>8} {'ratio':>7}", end="")
    print(f" {'baseline':>9} {'ratio':>7} {'baseline ÷ product':>19}" if args.baseline else "")
    for endpoint in args.endpoints:
        kind = api.floor_kind(endpoint)
        if kind not in floors:  # every read's floor is the same request, as is every write's
            floors[kind] = instructions(api.ROOT, url, api.floor_requests(fx, endpoint) * count, floor=True)
        floor = floors[kind]
        counted = {}
        for label, root in products.items():
            accepts = asyncio.run(api.add_offers(url, fx, count)) if endpoint == "accept" else []
            requests = api.product_requests(fx, endpoint, accepts)
            counted[label] = instructions(root, url, (requests * count)[:count])
        product = counted["product"]
        mark = "<" if floor / product < api.TARGETS[kind] else " "
        line = f"{api.LABELS[endpoint]:30} {floor:6.2f} {product:8.2f} {floor / product:6.3f}{mark}"
        if args.baseline:
            base = counted["baseline"]
            line += f" {base:9.2f} {floor / base:7.3f} {base / product:19.3f}"
        print(line, flush=True)
        if kind == "write":
            accepts = asyncio.run(api.add_offers(url, fx, 1)) if endpoint == "accept" else []
            statements = api.statements_of(url, api.product_requests(fx, endpoint, accepts)[0])
            requests = api.floor_requests(fx, endpoint, statements) * count
            matched = instructions(api.ROOT, url, requests, floor=True)
            label = f"  floor of {statements} statements"
            print(f"{label:30} {matched:6.2f} {'':8} {matched / product:6.3f}", flush=True)


def main() -> int:
    from bench import api
    from market import migrate

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgres,sqlite")
    parser.add_argument("--endpoints", default=",".join(api.ENDPOINTS), help="of " + ", ".join(api.ENDPOINTS))
    parser.add_argument("--requests", type=int, default=100, help="counted, after 20 to warm up")
    parser.add_argument("--baseline", type=Path, help="another checkout, counted in turn with this one")
    parser.add_argument(
        "--database-url", default=api.DEFAULT_POSTGRES, help="the PostgreSQL to reset and use"
    )
    args = parser.parse_args()
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    if unknown := set(args.endpoints) - set(api.ENDPOINTS):
        parser.error(f"unknown endpoints {sorted(unknown)}")
    ensure_valgrind()
    for name in args.db.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                migrate.upgrade(url)
                measure(args, "SQLite", url)
        elif name == "postgres":
            if problem := api._postgres(args.database_url):
                print(f"-- PostgreSQL skipped: {problem}")
                continue
            measure(args, "PostgreSQL", args.database_url)
        else:
            parser.error(f"unknown database {name}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        sys.exit(main())

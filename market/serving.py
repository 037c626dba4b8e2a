"""How `market serve` runs the API: uvicorn, on libuv and a C HTTP parser, with the app frozen out of
the garbage collector's reach and, with several workers, a listening socket for each worker."""

from __future__ import annotations

import gc
import socket
import sys

import uvicorn
from litestar import Litestar
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess


def served_app() -> Litestar:
    """The app `market serve` runs, made in each worker."""
    from market.app import create_app

    return frozen(create_app())


def frozen(app: Litestar) -> Litestar:
    """`app`, with everything alive once it is made (the modules, the routes, the app) moved out of
    the garbage collector's reach. Each full collection walked all of it, about 150 ms in a worker
    holding the product: GET /api/me on PostgreSQL had a p99 of 170 ms beside a p50 of 12, and 19
    ms once frozen. What requests make is collected as before."""
    gc.collect()
    gc.freeze()
    return app


def serve_app(factory: str, host: str, port: int, workers: int, worker_timeout: int) -> None:
    """Serve the app `factory` ("module:function") as `market serve` does (bench/api.py serves its
    floor app here too, frozen as well, so both run under the same server settings)."""
    options = dict(
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        # Named, not left to uvicorn's "auto", so that a missing one fails at start instead of
        # quietly serving fewer requests (see pyproject.toml).
        loop="asyncio" if sys.platform == "win32" else "uvloop",
        http="httptools",
        log_level="info",
        timeout_worker_healthcheck=worker_timeout,
    )
    if workers == 1 or not sys.platform.startswith("linux"):
        uvicorn.run(factory, **options)
        return
    config = uvicorn.Config(factory, **options)
    # Fails, as uvicorn does, when something already listens there: the workers' own sockets
    # would otherwise share the port with it, even with an earlier `market serve` still running.
    config.bind_socket().close()
    supervisor = WorkerSockets(config, sockets=[])
    supervisor.run()
    if any(worker.exitcode == STARTUP_FAILURE for worker in supervisor.processes):
        sys.exit(STARTUP_FAILURE)  # as uvicorn exits with one worker, so that a service manager sees it


class WorkerSockets(Multiprocess):
    """uvicorn's supervisor of workers (health checks, restarts, signals), each worker listening on a
    socket of its own on the same port (SO_REUSEPORT, Linux), so that the kernel spreads new
    connections over the workers. On one shared socket the worker that wakes first accepts every
    connection waiting: 8 keep-alive connections opened at once all went to one of 2 workers now and
    then, and served what one worker serves (GET /api/me: 866 req/s where a [5, 3] split served 1,430).
    The cost (README): a worker that stops taking connections still gets its share of new ones.
    """

    @property
    def sockets(self) -> list[socket.socket]:
        # uvicorn hands `self.sockets` to each worker it starts (Process(config, self.sockets)):
        # each start binds a new socket, which closes when the worker it was made for is gone.
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # As uvicorn binds its own (TCP, so that replies get TCP_NODELAY; see pyproject.toml).
        sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.config.host, self.config.port))
        sock.set_inheritable(True)
        return [sock]

    @sockets.setter
    def sockets(self, shared: list[socket.socket]) -> None:
        """uvicorn's `__init__` sets the one shared socket; there is none here."""

    def run(self) -> None:
        # A socket that cannot be bound for a worker started later (a restart, SIGTTIN) raises here,
        # out of uvicorn's loop: the other workers stop too, rather than serve with no supervisor.
        try:
            super().run()
        except BaseException:
            self.terminate_all()
            self.join_all()
            raise

"""The request's unit of work (`market.unit_of_work`): where the caller is read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.test_authorization import build_order
from tests.test_photos import png, upload
from tests.world import PASSWORD, World


@contextmanager
def transactions() -> Iterator[list[int]]:
    """One entry per transaction any engine begins meanwhile."""
    begun: list[int] = []

    def record(_connection: Any) -> None:
        begun.append(1)

    event.listen(Engine, "begin", record)
    try:
        yield begun
    finally:
        event.remove(Engine, "begin", record)


async def test_a_change_reads_its_caller_in_the_transaction_it_makes_the_change_in(
    client: AsyncTestClient, world: World
) -> None:
    with transactions() as begun:
        r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    assert len(begun) == 1


async def test_a_handler_working_in_sessions_of_its_own_reads_its_caller_apart(
    client: AsyncTestClient, world: World
) -> None:
    # The password change checks the password in a session of its own: the request's transaction,
    # which read the caller, has ended by then (tests/test_signin.py: it holds no write lock).
    with transactions() as begun:
        r = await client.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": "a-new-secret-9"},
            headers=world.auth("resident"),
        )
    assert r.status_code == 200, r.text
    assert len(begun) >= 2


async def test_an_upload_is_read_before_the_change_s_transaction_begins(
    client: AsyncTestClient, world: World
) -> None:
    # The photo is parsed before the handler reads anything: on SQLite the write lock is not held
    # meanwhile, so the caller is read in a transaction of its own.
    order, _ = await build_order(client, world, "submitted")
    with transactions() as begun:
        r = await upload(client, world, "resident", order, "posted", ("door.png", png(), "image/png"))
    assert r.status_code == 201, r.text
    assert len(begun) >= 2

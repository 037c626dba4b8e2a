"""`Idempotency-Key` on the POSTs that move points or stock.

A retry with the same key and body gets the first response again and moves
nothing; the same key with another body is refused; a retry while the first
request still runs waits for it and gets its response; keys belong to their
caller; a refusal, a server error or a crash keeps nothing, so the client may
retry with the same key; the key and its response commit with the change they
describe, never apart. A deadlock or serialisation failure is run again inside
the request, never a 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.idempotency import IdempotencyRecord, fingerprint, purge_idempotency_keys
from market.ledger import service as ledger_service
from market.ledger.models import Account, AccountKind, Asset, Transfer, TransferCode
from market.ledger.service import area_account, member_account
from market.orders.models import Order
from market.rewards.models import Redemption, Reward
from market.unit_of_work import ATTEMPTS
from tests import watch
from tests.world import PASSWORD, World, allow_adjustments_alone

REPLAYED = "idempotent-replayed"


@pytest.fixture
async def accounts(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> dict[str, int]:
    """Community 1's pool with 10,000 points; resident and resident_b with 300 each."""
    async with session_maker() as session, session.begin():
        ids = {
            "issuance": (
                await area_account(session, world.areas["street"], AccountKind.street_issuance, Asset.service)
            ).id,
            "pool": (
                await area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
            ).id,
        }
        for name in ("resident", "resident_b", "volunteer"):
            ids[name] = (await member_account(session, world.id(name))).id
        await allow_adjustments_alone(session, world)
    transfers = [budget("budget-setup", ids, 10_000)] + [
        {
            "id": f"setup-{name}",
            "debit_account_id": ids["pool"],
            "credit_account_id": ids[name],
            "amount": 300,
            "code": "adjustment",
            "reason": "correction",
            "memo": "starting points",
        }
        for name in ("resident", "resident_b")
    ]
    r = await client.post("/api/ledger/transfers", json={"transfers": transfers}, headers=world.auth("admin"))
    assert r.json()["created"] == 3, r.text
    return ids


def budget(transfer_id: str, ids: dict[str, int], amount: int) -> dict[str, Any]:
    return {
        "id": transfer_id,
        "debit_account_id": ids["issuance"],
        "credit_account_id": ids["pool"],
        "amount": amount,
        "code": "budget",
    }


def keyed(world: World, who: str, key: str) -> dict[str, str]:
    return {**world.auth(who), "Idempotency-Key": key}


async def gift(
    client: AsyncTestClient, world: World, key: str | None, amount: int = 40, who: str = "resident"
) -> Response:
    headers = keyed(world, who, key) if key is not None else world.auth(who)
    return await client.post(
        "/api/ledger/gifts", json={"to_user_id": world.id("volunteer"), "amount": amount}, headers=headers
    )


async def balance(session_maker: async_sessionmaker[AsyncSession], account_id: int) -> int:
    async with session_maker() as session:
        return (await session.get(Account, account_id)).balance


async def gifts(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).where(Transfer.code == TransferCode.gift))


async def keys(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(IdempotencyRecord))


def assert_problem(r: Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code, r.json()


def assert_replay_of(replay: Response, first: Response) -> None:
    assert replay.headers.get(REPLAYED) == "true"
    assert (replay.status_code, replay.content) == (first.status_code, first.content)
    assert replay.headers["content-type"] == first.headers["content-type"]


# ---------------------------------------------------------------- replays


async def test_a_retried_gift_is_given_once(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    first = await gift(client, world, "gift-7f3a")
    retry = await gift(client, world, "gift-7f3a")

    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert_replay_of(retry, first)
    assert await gifts(session_maker) == 1
    assert await balance(session_maker, accounts["resident"]) == 260
    assert await balance(session_maker, accounts["volunteer"]) == 40
    # Without a key, the same request is a second gift.
    assert (await gift(client, world, None)).status_code == 201
    assert await gifts(session_maker) == 2


async def test_a_retried_redemption_holds_points_and_stock_once(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    r = await client.post(
        "/api/rewards",
        json={
            "name": "Eggs, a dozen",
            "price": 50,
            "stock": 3,
            "limit_per_person": 3,
            "pickup_place": "Community 1 service centre",
            "valid_until": (world.now + timedelta(days=30)).isoformat(),
            "community_ids": [world.areas["c1"].id],
        },
        headers=world.auth("unit_admin"),
    )
    reward_id = r.json()["id"]
    body = {"reward_id": reward_id, "quantity": 2}

    first = await client.post("/api/redemptions", json=body, headers=keyed(world, "resident", "redeem-1"))
    retry = await client.post("/api/redemptions", json=body, headers=keyed(world, "resident", "redeem-1"))

    assert first.status_code == 201, first.text
    assert_replay_of(retry, first)
    assert retry.json()["pickup_code"] == first.json()["pickup_code"]
    async with session_maker() as session:
        assert await session.scalar(select(func.count()).select_from(Redemption)) == 1
        reward = await session.get(Reward, reward_id)
        assert (reward.held, reward.stock_left) == (2, 1)
        account = await session.get(Account, accounts["resident"])
        assert (account.debits_pending, account.available) == (100, 200)


async def test_a_retried_batch_replays_its_results(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    body = {"transfers": [budget("budget-q2", accounts, 500)]}

    first = await client.post("/api/ledger/transfers", json=body, headers=keyed(world, "street_admin", "q2"))
    retry = await client.post("/api/ledger/transfers", json=body, headers=keyed(world, "street_admin", "q2"))
    unkeyed = await client.post("/api/ledger/transfers", json=body, headers=world.auth("street_admin"))

    assert first.status_code == 200, first.text
    assert_replay_of(retry, first)
    # The replay is the stored response ("created"); running the batch again reports "exists".
    assert retry.json()["results"][0]["result"] == "created"
    assert unkeyed.json()["results"][0]["result"] == "exists"
    assert await balance(session_maker, accounts["pool"]) == 10_000 - 600 + 500


async def test_a_refusal_keeps_no_key_so_the_retry_runs_again(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    first = await gift(client, world, "too-big", amount=250)
    retry = await gift(client, world, "too-big", amount=250)

    assert_problem(first, 400, "gift_too_large")
    assert_problem(retry, 400, "gift_too_large")
    assert REPLAYED not in retry.headers
    assert await keys(session_maker) == 0
    assert await gifts(session_maker) == 0


# ---------------------------------------------------------------- refusals


async def test_the_same_key_with_another_request_is_refused(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    assert (await gift(client, world, "k-1", amount=40)).status_code == 201

    other_amount = await gift(client, world, "k-1", amount=41)
    other_path = await client.post(
        "/api/redemptions",
        json={"to_user_id": world.id("volunteer"), "amount": 40},
        headers=keyed(world, "resident", "k-1"),
    )

    assert_problem(other_amount, 422, "idempotency_key_reused")
    assert_problem(other_path, 422, "idempotency_key_reused")
    assert REPLAYED not in other_amount.headers
    assert await gifts(session_maker) == 1
    assert await balance(session_maker, accounts["resident"]) == 260


async def test_a_key_and_its_response_commit_with_the_change_or_not_at_all(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The gift is made and its response rendered, then the commit fails (as a crash would end it):
    # neither the gift nor the key remain, so the retry runs and gives once.
    real_commit = AsyncSession.commit

    async def failing_commit(self: AsyncSession) -> None:
        raise RuntimeError("the connection dropped at commit")

    with monkeypatch.context() as patch:
        patch.setattr(AsyncSession, "commit", failing_commit)
        failed = await gift(client, world, "crash")
    assert AsyncSession.commit is real_commit
    assert_problem(failed, 500, "internal_error")
    assert (await keys(session_maker), await gifts(session_maker)) == (0, 0)

    retry = await gift(client, world, "crash")
    assert retry.status_code == 201 and REPLAYED not in retry.headers, retry.text
    async with session_maker() as session:
        record = await session.scalar(select(IdempotencyRecord))
        transfer = await session.get(Transfer, retry.json()["id"])
    assert (record.status_code, record.body) == (201, retry.content) and transfer is not None


async def test_a_key_left_running_by_an_earlier_version_is_free(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    # Before keys were stored with their change, a killed request left its key "running" for a day.
    async with session_maker() as session, session.begin():
        session.add(
            IdempotencyRecord(
                caller_id=world.id("resident"),
                key="left-over",
                fingerprint=fingerprint(
                    "POST", "/api/ledger/gifts", b'{"to_user_id":%d,"amount":40}' % world.id("volunteer")
                ),
                status_code=None,
                created_at=clock(),
            )
        )

    r = await gift(client, world, "left-over")

    assert r.status_code == 201 and REPLAYED not in r.headers, r.text
    assert_replay_of(await gift(client, world, "left-over"), r)
    assert await gifts(session_maker) == 1


async def test_credentials_are_never_stored(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"phone": "13700000001", "password": PASSWORD}
    first = await client.post("/api/auth/login", json=body, headers={"Idempotency-Key": "login-1"})
    again = await client.post("/api/auth/login", json=body, headers={"Idempotency-Key": "login-1"})

    assert first.status_code == again.status_code == 200
    assert REPLAYED not in again.headers
    assert first.headers["cache-control"] == "no-store"
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "another-horse-7"},
        headers={**world.auth("resident"), "Idempotency-Key": "password-1"},
    )
    assert changed.status_code == 200 and changed.headers["cache-control"] == "no-store", changed.text
    assert await keys(session_maker) == 0


async def test_keys_belong_to_their_caller(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    mine = await gift(client, world, "same-key", who="resident")
    theirs = await gift(client, world, "same-key", who="resident_b")
    theirs_other_body = await gift(client, world, "shared-2", who="resident", amount=10)
    mine_other_body = await gift(client, world, "shared-2", who="resident_b", amount=20)

    for r in (mine, theirs, theirs_other_body, mine_other_body):
        assert r.status_code == 201, r.text
        assert REPLAYED not in r.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert await gifts(session_maker) == 4
    assert await balance(session_maker, accounts["resident"]) == 300 - 40 - 10
    assert await balance(session_maker, accounts["resident_b"]) == 300 - 40 - 20


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_a_malformed_key_is_refused(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    key: str,
) -> None:
    r = await gift(client, world, key)

    assert_problem(r, 422, "invalid_idempotency_key")
    assert await gifts(session_maker) == 0


async def test_a_server_error_keeps_no_key(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("the disk is on fire")

    with monkeypatch.context() as patch:
        patch.setattr(ledger_service, "gift", broken)
        failed = await gift(client, world, "retry-me")

    retry = await gift(client, world, "retry-me")

    assert_problem(failed, 500, "internal_error")
    assert retry.status_code == 201, retry.text
    assert REPLAYED not in retry.headers
    assert await gifts(session_maker) == 1
    assert_replay_of(await gift(client, world, "retry-me"), retry)


async def test_keys_are_forgotten_after_a_day(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    assert (await gift(client, world, "old")).status_code == 201
    async with session_maker() as session, session.begin():
        assert await purge_idempotency_keys(session, clock()) == 0
    clock.advance(timedelta(hours=25))
    async with session_maker() as session, session.begin():
        assert await purge_idempotency_keys(session, clock()) == 1

    r = await gift(client, world, "old", amount=5)

    assert r.status_code == 201, r.text
    assert await gifts(session_maker) == 2


# ---------------------------------------------------------------- a real race


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_the_same_key_sent_ten_times_at_once_gives_once(
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    body = {"to_user_id": world.id("volunteer"), "amount": 40}

    responses = await asyncio.gather(
        *(
            racing.post("/api/ledger/gifts", json=body, headers=keyed(world, "resident", "burst"))
            for _ in range(10)
        )
    )

    # Each retry waits for the first request and replays its response.
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1
    assert sum(REPLAYED not in r.headers for r in responses) == 1
    assert await gifts(session_maker) == 1
    assert await balance(session_maker, accounts["volunteer"]) == 40


# ---------------------------------------------------------------- lost races are run again


class Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_request_that_loses_a_deadlock_is_run_again(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_gift = ledger_service.gift
    calls = 0

    async def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await real_gift(*args, **kwargs)  # its writes are rolled back with the attempt
            raise DBAPIError("UPDATE ledger_accounts …", {}, Deadlock())
        return await real_gift(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ledger_service, "gift", deadlocked_once)
        r = await gift(client, world, "deadlocked")

    assert r.status_code == 201, r.text
    assert calls == 2
    assert await gifts(session_maker) == 1
    assert await balance(session_maker, accounts["volunteer"]) == 40
    assert_replay_of(await gift(client, world, "deadlocked"), r)


async def test_a_request_that_keeps_losing_is_told_to_try_again_not_a_500(
    client: AsyncTestClient,
    world: World,
    accounts: dict[str, int],
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def always_deadlocked(*_args: Any, **_kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        raise DBAPIError("UPDATE ledger_accounts …", {}, Deadlock())

    with monkeypatch.context() as patch:
        patch.setattr(ledger_service, "gift", always_deadlocked)
        r = await gift(client, world, "unlucky")

    assert_problem(r, 503, "busy_try_again")
    assert r.headers["retry-after"] == "1"
    assert calls == ATTEMPTS
    assert (await keys(session_maker), await gifts(session_maker)) == (0, 0)


def _residents_request(world: World, method: str = "POST", path: str = "/api/orders") -> dict[str, Any]:
    """The ASGI scope of a request of the resident's (a JSON body), for an app called directly (once the
    test client has started it)."""
    token = world.auth("resident")["Authorization"].encode()
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"authorization", token), (b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "root_path": "",
        "state": {},
    }


async def test_a_change_whose_client_leaves_before_its_body_is_in_is_not_run(
    app: Litestar, client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """A body cut short (the client gone) is not taken for the whole: a truncated form may still parse."""
    body = json.dumps(world.order_body()).encode()
    messages = [{"type": "http.request", "body": body[:10], "more_body": True}, {"type": "http.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    count = select(func.count()).select_from(Order)
    async with session_maker() as session:
        before = await session.scalar(count)
    await app(_residents_request(world), receive, send)  # type: ignore[arg-type]
    assert sent == []
    async with session_maker() as session:
        assert await session.scalar(count) == before


async def test_a_change_loads_its_caller_once_its_body_is_in_on_the_connection_it_writes_on(
    app: Litestar, client: AsyncTestClient, world: World
) -> None:
    """While a change's body is still coming, nothing is taken from the database for it; once it is
    in, the caller and the change use one connection (on SQLite the caller is read before the
    change's transaction, on the same connection)."""
    body = json.dumps(world.order_body()).encode()
    body_sent = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await body_sent.wait()
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with watch.checkouts() as handed_out:
        request = asyncio.create_task(app(_residents_request(world), receive, send))  # type: ignore[arg-type]
        await asyncio.sleep(0.2)
        assert handed_out == [] and sent == []
        body_sent.set()
        await asyncio.wait_for(request, 10)
    assert sent[0]["status"] == 201
    assert len(handed_out) == 1


async def test_a_read_whose_client_leaves_takes_nothing_from_the_database(
    app: Litestar, client: AsyncTestClient, world: World
) -> None:
    """The body is read before the caller is loaded: a client gone by then costs no connection."""
    scope = _residents_request(world, "GET", "/api/me")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with watch.checkouts() as handed_out:
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent == [] and handed_out == []


async def _call_with_an_endless_body(
    app: Litestar, scope: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    """Call the app with a body that never ends: (how many times it asked for more, what it sent)."""
    received = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"{", "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    return received, sent


@pytest.mark.parametrize("token", [None, b"Bearer not-a-token"])
async def test_a_request_without_a_valid_token_is_refused_before_its_body_is_read(
    app: Litestar, client: AsyncTestClient, world: World, token: bytes | None
) -> None:
    """The token is checked before the body is read: nobody unknown has the server hold a body."""
    scope = _residents_request(world)
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
    if token is not None:
        scope["headers"].append((b"authorization", token))
    with watch.checkouts() as handed_out:
        received, sent = await _call_with_an_endless_body(app, scope)
    assert sent[0]["status"] == 401 and received == 0 and handed_out == []


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    app: Litestar, client: AsyncTestClient, world: World
) -> None:
    """A body whose Content-Length is over the route's limit is refused (413) without a byte of it
    read: the retrying middleware keeps bodies in memory only up to the limit."""
    scope = _residents_request(world)
    scope["headers"].append((b"content-length", str(app.request_max_body_size + 1).encode()))
    received, sent = await _call_with_an_endless_body(app, scope)
    assert sent[0]["status"] == 413 and received == 0
    assert b"request_too_large" in sent[1]["body"]

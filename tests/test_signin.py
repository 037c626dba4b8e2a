"""Signing in: failed logins slow further attempts down (never a lock anyone can set off), with
growing waits that reach their longest; a device that has logged in before is held only to its own
failures (OWASP's device cookies); failures are recorded for administrators, passwords change,
tokens end, and a password is never checked while the database's write lock is held."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth import passwords
from market.auth.models import AttemptKind, FailedAttempt, User
from market.auth.service import deactivate
from market.auth.tokens import read_device_token
from market.clock import FrozenClock
from market.scheduler import jobs, run_job
from market.settings import Settings, SettingsError
from tests.conftest import another_client
from tests.world import PASSWORD, World

RESIDENT = "13700000001"
ADMIN = "13800000000"

Address = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def address(client: AsyncTestClient) -> Address:
    """Clients calling the app from a given address (`client` keeps the app's lifespan running)."""

    @asynccontextmanager
    async def calling_from(host: str) -> AsyncIterator[AsyncTestClient]:
        yield another_client(client, calling_from=host)

    return calling_from


async def login(
    caller: httpx.AsyncClient | AsyncTestClient, phone: str, password: str, device: str | None = None
) -> httpx.Response:
    body = {"phone": phone, "password": password}
    return await caller.post(
        "/api/auth/login", json=body if device is None else {**body, "device_token": device}
    )


@pytest.fixture
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 takes half a second a check: tests that guess hundreds of times check PASSWORD only."""
    monkeypatch.setattr(
        passwords, "_verify", lambda hashed, typed: hashed != passwords.dummy_hash() and typed == PASSWORD
    )


def refused(r: httpx.Response) -> int:
    """The wait a refused attempt names, after checking it is refused as it should be."""
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "too_many_failed_attempts"
    assert int(r.headers["retry-after"]) == r.json()["retry_after_seconds"] > 0
    return int(r.headers["retry-after"])


async def failures(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(FailedAttempt)) or 0


# ---------------------------------------------------------------- failed logins


async def test_failures_from_one_address_make_it_wait_longer_and_longer(
    address: Address, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with address("203.0.113.5") as stranger:
        for _ in range(world.settings.login_free_failures):
            assert (await login(stranger, RESIDENT, "wrong-password")).status_code == 401
        # Even the right password waits: a guess is not tried while the wait lasts.
        first = refused(await login(stranger, RESIDENT, PASSWORD))
        assert first == world.settings.throttle_first_wait_seconds
        assert await failures(session_maker) == 5, "a refused attempt is not tried, so it is no failure"
        clock.advance(timedelta(seconds=first))
        assert (await login(stranger, RESIDENT, "wrong-password")).status_code == 401
        second = refused(await login(stranger, RESIDENT, "wrong-password"))
        assert second == 2 * first
        clock.advance(timedelta(seconds=second))
        assert (await login(stranger, RESIDENT, PASSWORD)).status_code == 200


async def test_nobody_can_lock_the_administrator_out(
    address: Address, world: World, clock: FrozenClock
) -> None:
    # A stranger guesses the administrator's password from one address as fast as they are let,
    # for an hour, and goes on until told to wait. Before, five wrong passwords locked the account
    # for everyone.
    start = clock()
    async with address("198.51.100.7") as stranger:
        while True:
            r = await login(stranger, ADMIN, "guess-guess")
            if r.status_code == 401:
                continue
            assert r.status_code == 429, r.text
            if clock() - start > timedelta(hours=1):
                break
            clock.advance(timedelta(seconds=int(r.headers["retry-after"])))
    async with address("192.0.2.1") as owner:
        r = await login(owner, ADMIN, PASSWORD)
    assert r.status_code == 200, r.text


async def test_spraying_a_few_guesses_over_many_accounts_is_slowed(address: Address, world: World) -> None:
    accounts = ["13700000001", "13700000002", "13700000003", "13900000001", "13900000002"]
    async with address("203.0.113.66") as sprayer:
        # Four guesses each: below what one account from one address may fail.
        for phone in accounts:
            for _ in range(world.settings.login_free_failures - 1):
                assert (await login(sprayer, phone, "Password1")).status_code == 401
        refused(await login(sprayer, "13900000003", "Password1"))
    async with address("192.0.2.44") as neighbour:
        assert (await login(neighbour, "13900000003", PASSWORD)).status_code == 200


async def test_an_account_guessed_from_many_addresses_waits_only_past_a_high_threshold(
    address: Address, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    threshold = world.settings.login_account_free_failures
    assert threshold > world.settings.login_client_free_failures, "one address alone never gets there"

    async def guessed_from(count: int) -> None:
        async with session_maker() as session, session.begin():
            session.add_all(
                FailedAttempt(
                    kind=AttemptKind.login,
                    account=RESIDENT,
                    user_id=world.id("resident"),
                    client=f"10.0.{i // 250}.{i % 250}",
                    at=clock() - timedelta(seconds=i),
                )
                for i in range(count)
            )

    await guessed_from(threshold - 1)
    async with address("192.0.2.8") as owner:
        assert (await login(owner, RESIDENT, PASSWORD)).status_code == 200
    await guessed_from(1)
    async with address("192.0.2.8") as owner:
        refused(await login(owner, RESIDENT, PASSWORD))


def test_the_account_threshold_must_stay_above_what_one_address_may_fail() -> None:
    with pytest.raises(SettingsError):
        Settings(secret_key="k" * 32, login_account_free_failures=20, login_client_free_failures=20).check()


async def test_failures_are_recorded_for_administrators_and_a_success_erases_none(
    address: Address, client: AsyncTestClient, world: World
) -> None:
    async with address("203.0.113.5") as caller:
        await login(caller, RESIDENT, "wrong-password")
        await login(caller, "13799999999", "wrong-password")  # no such account
        assert (await login(caller, RESIDENT, PASSWORD)).status_code == 200

    seen = (await client.get("/api/admin/failed-attempts", headers=world.auth("admin"))).json()
    assert seen["total"] == 2
    assert {(a["kind"], a["account"], a["user_name"], a["client"]) for a in seen["items"]} == {
        ("login", RESIDENT, "Resident", "203.0.113.5"),
        ("login", "13799999999", None, "203.0.113.5"),
    }
    # A street's administrators see their street's accounts; a phone without one is nobody's.
    street = (await client.get("/api/admin/failed-attempts", headers=world.auth("street_admin"))).json()
    assert [a["account"] for a in street["items"]] == [RESIDENT]
    only = await client.get(
        "/api/admin/failed-attempts", params={"kind": "pickup_code"}, headers=world.auth("admin")
    )
    assert only.json()["total"] == 0
    for who in ("manager", "grid_worker", "resident"):
        r = await client.get("/api/admin/failed-attempts", headers=world.auth(who))
        assert r.status_code == 403 and r.json()["code"] == "role_required"


async def test_old_records_of_failures_are_purged(
    session_maker: async_sessionmaker[AsyncSession], clock: FrozenClock, settings: Settings, world: World
) -> None:
    keep = timedelta(days=settings.failed_attempts_keep_days)
    async with session_maker() as session, session.begin():
        session.add_all(
            FailedAttempt(kind=AttemptKind.login, account=RESIDENT, client="192.0.2.1", at=clock() - age)
            for age in (keep + timedelta(minutes=1), keep - timedelta(minutes=1), timedelta(0))
        )

    run = await run_job(
        session_maker, clock, "purge_failed_attempts", jobs(settings)["purge_failed_attempts"][0]
    )

    assert (run.outcome, run.handled) == ("succeeded", 1)
    assert await failures(session_maker) == 2


# ---------------------------------------------------------------- passwords and tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_changed_password_ends_every_other_token_and_hands_back_a_fresh_one(
    client: AsyncTestClient, world: World
) -> None:
    phone_token = (await login(client, RESIDENT, PASSWORD)).json()["access_token"]
    other = world.auth("resident")

    r = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-new-secret-9"},
        headers=bearer(phone_token),
    )

    assert r.status_code == 200, r.text
    fresh = r.json()["access_token"]
    assert (await client.get("/api/me", headers=bearer(fresh))).json()["phone"] == RESIDENT
    for ended in (bearer(phone_token), other):
        assert (await client.get("/api/me", headers=ended)).status_code == 401
    assert (await login(client, RESIDENT, PASSWORD)).status_code == 401
    assert (await login(client, RESIDENT, "a-new-secret-9")).status_code == 200


async def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_login(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    headers = world.auth("resident")
    body = {"current_password": "not-it", "new_password": "a-new-secret-9"}
    for _ in range(world.settings.login_free_failures):
        r = await client.post("/api/auth/password", json=body, headers=headers)
        assert r.status_code == 400 and r.json()["code"] == "wrong_current_password", r.text
    refused(
        await client.post("/api/auth/password", json={**body, "current_password": PASSWORD}, headers=headers)
    )
    assert (await client.get("/api/me", headers=headers)).status_code == 200, "nothing changed"
    short = await client.post(
        "/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert short.status_code == 400 and short.json()["code"] == "invalid_input"
    assert await failures(session_maker) == 5


async def test_logging_out_ends_the_persons_tokens(client: AsyncTestClient, world: World) -> None:
    token = (await login(client, RESIDENT, PASSWORD)).json()["access_token"]
    elsewhere = world.auth("resident")

    r = await client.post("/api/auth/logout", headers=bearer(token))

    assert r.status_code == 204, r.text
    for ended in (bearer(token), elsewhere):
        assert (await client.get("/api/me", headers=ended)).status_code == 401
    again = (await login(client, RESIDENT, PASSWORD)).json()["access_token"]
    assert (await client.get("/api/me", headers=bearer(again))).status_code == 200


async def test_a_deactivated_account_loses_its_tokens_and_its_logins(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    headers = world.auth("resident")
    assert (await client.get("/api/me", headers=headers)).status_code == 200

    async with session_maker() as session, session.begin():
        assert (await deactivate(session, world.id("resident"))).is_active is False

    assert (await client.get("/api/me", headers=headers)).status_code == 401
    assert (await login(client, RESIDENT, PASSWORD)).status_code == 401
    # Brought back, the account starts afresh: the tokens it had stay ended.
    async with session_maker() as session, session.begin():
        (await session.get(User, world.id("resident"))).is_active = True
    assert (await client.get("/api/me", headers=headers)).status_code == 401
    assert (await login(client, RESIDENT, PASSWORD)).status_code == 200


# ---------------------------------------------------------------- logins on SQLite


async def test_a_password_is_checked_while_others_may_write(
    client: AsyncTestClient, world: World, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's one write lock")
    path = make_url(database_url).database
    could_write: list[bool] = []
    verify = passwords._verify

    def verify_and_try_to_write(password_hash: str, password: str) -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            could_write.append(True)
        except sqlite3.OperationalError:
            could_write.append(False)
        finally:
            other.close()
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", verify_and_try_to_write)
    assert (await login(client, RESIDENT, "wrong-password")).status_code == 401
    assert (await login(client, RESIDENT, PASSWORD)).status_code == 200
    r = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-new-secret-9"},
        headers=world.auth("resident"),
    )
    assert r.status_code == 200, r.text
    assert could_write == [True, True, True]


async def test_concurrent_wrong_logins_neither_hold_up_reads_nor_fail(
    live_server: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hashing that lasts until the reads are done, without taking the processor: a read that had to
    # wait for a hashing login (its write lock, a worker it holds) would never finish.
    reads_done = threading.Event()

    def slow_and_wrong(_password_hash: str, _password: str) -> bool:
        reads_done.wait(timeout=120)
        return False

    monkeypatch.setattr(passwords, "_verify", slow_and_wrong)
    headers = world.auth("manager")

    async def wrong_login(caller: httpx.AsyncClient, i: int) -> int:
        r = await caller.post(
            "/api/auth/login",
            # Phones of nobody: their password is still checked, against a stand-in.
            json={"phone": f"135000000{i:02d}", "password": f"wrong-{i}"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )
        return r.status_code

    async with httpx.AsyncClient(base_url=live_server, timeout=120) as caller:
        logins = [asyncio.create_task(wrong_login(caller, i)) for i in range(16)]
        await asyncio.sleep(0.2)
        try:
            # Before, a read waited for the hashing logins ahead of it to give the write lock back,
            # and logins waiting longer than SQLite's busy timeout failed with 500 "database is locked".
            async with asyncio.timeout(60):
                reads = [(await caller.get("/api/me", headers=headers)).status_code for _ in range(4)]
        finally:
            reads_done.set()
        statuses = await asyncio.gather(*logins)

    assert statuses == [401] * 16
    assert set(reads) == {200}


# ---------------------------------------------------------------- growing waits, device tokens


async def guess_as_fast_as_let(
    caller: httpx.AsyncClient, clock: FrozenClock, phone: str, until: timedelta, device: str | None = None
) -> list[int]:
    """Wrong passwords, each as soon as the last wait is over, for `until`: the waits named."""
    waits, start = [], clock()
    while clock() - start < until:
        r = await login(caller, phone, "guess-guess", device)
        if r.status_code != 401:
            waits.append(refused(r))
            clock.advance(timedelta(seconds=waits[-1]))
    return waits


async def test_the_wait_grows_to_its_longest_and_stays_there_while_guessing_goes_on(
    address: Address, world: World, clock: FrozenClock, quick_passwords: None
) -> None:
    settings = world.settings
    async with address("203.0.113.5") as stranger:
        waits = await guess_as_fast_as_let(stranger, clock, RESIDENT, timedelta(hours=6))
    # Before, failures fell out of a ten-minute window before the wait could grow: 60, 120, 240,
    # 480, then 60 again, for ever; the longest wait was never reached.
    first, longest = settings.throttle_first_wait_seconds, settings.throttle_max_wait_seconds
    assert waits[:5] == [first, 2 * first, 4 * first, 8 * first, longest]
    assert set(waits[5:]) == {longest} and len(waits) > 20


async def test_the_owners_success_clears_their_own_typing_slips(
    address: Address, world: World, clock: FrozenClock, quick_passwords: None
) -> None:
    async with address("192.0.2.8") as owner:
        for _ in range(2):
            for _ in range(world.settings.login_free_failures):
                assert (await login(owner, RESIDENT, "typing-slip")).status_code == 401
            clock.advance(timedelta(seconds=refused(await login(owner, RESIDENT, PASSWORD))))
            # After waiting once, the right password gets in, and the slips stop counting.
            assert (await login(owner, RESIDENT, PASSWORD)).status_code == 200


async def test_a_strangers_guesses_from_many_addresses_never_stop_the_owners_device(
    address: Address, world: World, clock: FrozenClock, quick_passwords: None, client: AsyncTestClient
) -> None:
    # The administrator logs in at the community centre, whose addresses everyone there shares.
    async with address("100.64.0.1") as centre:
        device = (await login(centre, ADMIN, PASSWORD)).json()["device_token"]
        # Someone at the centre tries a few passwords on many accounts: the address now waits.
        for i in range(world.settings.login_client_free_failures):
            assert (await login(centre, f"1350000{i:04d}", "Password1")).status_code == 401
        refused(await login(centre, RESIDENT, PASSWORD))
    # A stranger guesses the administrator's password 200 times, from 200 addresses.
    for i in range(200):
        async with address(f"10.0.{i // 250}.{i % 250}") as stranger:
            assert (await login(stranger, ADMIN, "guess-guess")).status_code in (401, 429)

    # Before, both made the owner's right password wait (an address's 20, an account's 100).
    async with address("100.64.0.1") as centre:
        r = await login(centre, ADMIN, PASSWORD, device)
    assert r.status_code == 200, r.text
    fresh = r.json()["device_token"]
    assert fresh != device and read_device_token(world.settings, fresh, clock()) is not None
    # Typing the password again to change it is held to the same limits.
    change = {"current_password": PASSWORD, "new_password": "a-new-secret-9"}
    headers = bearer(r.json()["access_token"])
    refused(await client.post("/api/auth/password", json=change, headers=headers))
    r = await client.post("/api/auth/password", json={**change, "device_token": fresh}, headers=headers)
    assert r.status_code == 200, r.text
    # Administrators see every guess that was tried (those past the account's limit were refused
    # untried, and are no failures).
    seen = await client.get("/api/admin/failed-attempts", headers=bearer(r.json()["access_token"]))
    assert (
        seen.json()["total"]
        == world.settings.login_client_free_failures + world.settings.login_account_free_failures
    )


async def test_without_a_device_token_the_owner_is_slowed_never_locked(
    address: Address, world: World, clock: FrozenClock, quick_passwords: None
) -> None:
    # A stranger with many addresses guesses as fast as they are let, for an hour.
    start, i = clock(), 0
    while clock() - start < timedelta(hours=1):
        i += 1
        async with address(f"10.1.{i // 250}.{i % 250}") as stranger:
            r = await login(stranger, ADMIN, "guess-guess")
        if r.status_code == 429:
            clock.advance(timedelta(seconds=refused(r)))
    async with address("10.2.0.1") as stranger:
        assert (await login(stranger, ADMIN, "guess-guess")).status_code == 401
    assert i > world.settings.login_account_free_failures
    # The owner, on a new phone, waits as anyone without a device token does: at most the
    # longest wait after the stranger's last guess, and is then let in.
    async with address("192.0.2.1") as owner:
        wait = refused(await login(owner, ADMIN, PASSWORD))
        assert wait == world.settings.throttle_max_wait_seconds
        clock.advance(timedelta(seconds=wait))
        assert (await login(owner, ADMIN, PASSWORD)).status_code == 200


async def test_a_device_token_that_keeps_failing_is_itself_slowed(
    address: Address, world: World, clock: FrozenClock, quick_passwords: None
) -> None:
    settings = world.settings
    async with address("192.0.2.8") as owner:
        device = (await login(owner, RESIDENT, PASSWORD)).json()["device_token"]
    # Someone who took the owner's phone (or copied its token) guesses with it.
    async with address("198.51.100.9") as thief:
        for _ in range(settings.login_device_free_failures):
            assert (await login(thief, RESIDENT, "guess-guess", device)).status_code == 401
        assert refused(await login(thief, RESIDENT, PASSWORD, device)) == settings.throttle_first_wait_seconds
        waits = await guess_as_fast_as_let(thief, clock, RESIDENT, timedelta(hours=2), device)
    first, longest = settings.throttle_first_wait_seconds, settings.throttle_max_wait_seconds
    assert waits[:5] == [first, 2 * first, 4 * first, 8 * first, longest]
    assert set(waits[5:]) == {longest}
    # The device's failures are its own: logins without it are not held to them.
    async with address("192.0.2.9") as elsewhere:
        assert (await login(elsewhere, RESIDENT, PASSWORD)).status_code == 200


async def test_a_device_token_of_another_account_or_forged_gives_nothing(
    address: Address, world: World, clock: FrozenClock, quick_passwords: None, client: AsyncTestClient
) -> None:
    async with address("198.51.100.7") as stranger:
        own = (await login(stranger, RESIDENT, PASSWORD)).json()["device_token"]
    user_id, expiry, nonce, signature = own.split(".")
    forged = {
        "another account's": own,
        "renamed": f"{world.id('admin')}.{expiry}.{nonce}.{signature}",
        "unsigned": f"{world.id('admin')}.{expiry}.{nonce}.",
        "extended": f"{user_id}.{int(expiry) + 1}.{nonce}.{signature}",
        "an access token": world.auth("admin")["Authorization"].split(" ")[1],
        "nonsense": "..." + "x" * 150,
    }
    for i, (name, token) in enumerate(forged.items()):
        async with address(f"198.51.100.{10 + i}") as stranger:
            for _ in range(world.settings.login_free_failures):
                assert (await login(stranger, ADMIN, "guess-guess", token)).status_code == 401, name
            # Held to the limits of logins without a device token, as if it sent none.
            refused(await login(stranger, ADMIN, PASSWORD, token))
    # A device token is no login either.
    assert (await client.get("/api/me", headers=bearer(own))).status_code == 401
    # An expired one is no device token.
    clock.advance(timedelta(days=world.settings.device_token_days))
    assert read_device_token(world.settings, own, clock()) is None


async def test_failures_record_a_devices_hash_never_its_token(
    address: Address, world: World, client: AsyncTestClient, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with address("192.0.2.8") as owner:
        device = (await login(owner, RESIDENT, PASSWORD)).json()["device_token"]
        assert (await login(owner, RESIDENT, "typing-slip", device)).status_code == 401
        assert (await login(owner, RESIDENT, "typing-slip")).status_code == 401
    async with session_maker() as session:
        recorded = list(await session.scalars(select(FailedAttempt).order_by(FailedAttempt.id)))
    assert [r.device for r in recorded] == [hashlib.sha256(device.encode()).hexdigest(), None]
    assert all(device not in (r.device, r.client, r.account) for r in recorded)

    async with address("192.0.2.8") as owner:
        assert (await login(owner, RESIDENT, PASSWORD, device)).status_code == 200

    # Administrators see which failures came from a known device, and which a success vouched for.
    seen = (await client.get("/api/admin/failed-attempts", headers=world.auth("admin"))).json()
    assert [(a["known_device"], a["cleared"]) for a in seen["items"]] == [(False, False), (True, True)]


def test_the_window_must_keep_the_longest_wait() -> None:
    with pytest.raises(SettingsError, match="WINDOW"):
        Settings(secret_key="k" * 32, throttle_window_minutes=10).check()
    Settings(secret_key="k" * 32).check()

"""Login, accounts and their scoping (failures and tokens: test_signin.py; the secret: test_secret_key.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth import tokens
from market.clock import FrozenClock, clock_at, system_clock
from market.settings import Settings, SettingsError
from tests.world import PASSWORD, World, add_neighbours


async def test_login_returns_a_token_that_opens_me(client: AsyncTestClient, world: World) -> None:
    r = await client.post("/api/auth/login", json={"phone": "13700000001", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == world.id("resident") and me.json()["roles"] == ["resident"]


@pytest.mark.parametrize(
    ("phone", "password"),
    [("13700000001", "wrong-password"), ("13799999999", PASSWORD)],
    ids=["wrong password", "unknown phone"],
)
async def test_a_failed_login_says_the_same_thing_whatever_was_wrong(
    client: AsyncTestClient, world: World, phone: str, password: str
) -> None:
    r = await client.post("/api/auth/login", json={"phone": phone, "password": password})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_credentials"


async def test_requests_without_or_with_a_bad_token_are_refused(
    client: AsyncTestClient, world: World
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        r = await client.get("/api/orders", headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


async def test_a_token_lasts_its_hours_by_the_service_clock(
    client: AsyncTestClient, world: World, clock: FrozenClock
) -> None:
    # The suite's clock stands months away from the machine's: a token is judged by the service's.
    headers = world.auth("resident")
    clock.advance(timedelta(hours=world.settings.token_hours) - timedelta(seconds=1))
    assert (await client.get("/api/me", headers=headers)).status_code == 200
    clock.advance(timedelta(seconds=1))
    r = await client.get("/api/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


async def test_a_tokens_signature_is_checked_once_a_process_and_a_forged_ones_every_time(
    client: AsyncTestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens._verified_payload.cache_clear()
    checked: list[str] = []
    real_decode = jwt.decode

    def counted(**kwargs: object) -> object:
        checked.append(kwargs["jwt"])
        return real_decode(**kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    headers = world.auth("resident")
    token = headers["Authorization"].removeprefix("Bearer ")
    for _ in range(3):
        assert (await client.get("/api/me", headers=headers)).status_code == 200
    assert checked == [token]
    # One character of the signature changed: refused, and checked again each time it comes.
    head, body, signature = token.split(".")
    middle = len(signature) // 2
    swapped = "A" if signature[middle] != "A" else "B"
    forged = f"{head}.{body}.{signature[:middle]}{swapped}{signature[middle + 1 :]}"
    for _ in range(2):
        r = await client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert checked == [token, forged, forged]
    # Each decode gets claims of its own: what one request's token holds is not another's.
    first, second = (
        tokens.ServiceToken.decode(token, world.settings.secret_key, tokens.TOKEN_ALGORITHM) for _ in "ab"
    )
    assert first == second and first.extras is not second.extras


async def test_managers_create_accounts_only_in_their_area_and_below_their_rank(
    client: AsyncTestClient, world: World
) -> None:
    body = {
        "phone": "13511112222",
        "name": "New Neighbour",
        "password": "long-enough-1",
        "roles": ["resident", "volunteer"],
        "area_id": world.areas["c1_building"].id,
    }
    r = await client.post("/api/users", json=body, headers=world.auth("manager"))
    assert r.status_code == 201, r.text
    assert r.json()["roles"] == ["resident", "volunteer"]

    again = await client.post("/api/users", json=body, headers=world.auth("manager"))
    assert again.status_code == 409 and again.json()["code"] == "phone_taken"

    outside = {**body, "phone": "13511113333", "area_id": world.areas["c2_building"].id}
    r = await client.post("/api/users", json=outside, headers=world.auth("manager"))
    assert r.status_code == 403 and r.json()["code"] == "outside_your_area"

    promote = {
        **body,
        "phone": "13511114444",
        "roles": ["community_manager"],
        "area_id": world.areas["c1"].id,
    }
    r = await client.post("/api/users", json=promote, headers=world.auth("manager"))
    assert r.status_code == 403 and r.json()["code"] == "role_not_grantable"
    r = await client.post("/api/users", json=promote, headers=world.auth("street_admin"))
    assert r.status_code == 201

    r = await client.post("/api/users", json={**body, "phone": "13511115555"}, headers=world.auth("resident"))
    assert r.status_code == 403 and r.json()["code"] == "role_required"


@pytest.mark.parametrize(
    "change",
    [
        {"phone": "12345678901"},
        {"phone": "1380000000"},
        {"password": "short"},
        {"roles": []},
        {"name": "   "},
        {"roles": ["mayor"]},
        {"unexpected": 1},
    ],
)
async def test_invalid_accounts_are_refused_with_field_errors(
    client: AsyncTestClient, world: World, change: dict
) -> None:
    body = {
        "phone": "13511112222",
        "name": "New Neighbour",
        "password": "long-enough-1",
        "roles": ["resident"],
        "area_id": world.areas["c1_building"].id,
        **change,
    }
    r = await client.post("/api/users", json=body, headers=world.auth("manager"))
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["code"] == "invalid_input" and problem["errors"]
    listed = await client.get("/api/users", params={"q": "New Neighbour"}, headers=world.auth("manager"))
    assert listed.json()["total"] == 0


async def test_user_lists_are_scoped_and_paginated(client: AsyncTestClient, world: World) -> None:
    c1 = (await client.get("/api/users", params={"limit": 100}, headers=world.auth("manager"))).json()
    phones = {u["phone"] for u in c1["items"]}
    assert world.users["resident"].phone in phones and world.users["resident_c2"].phone not in phones
    page = (
        await client.get("/api/users", params={"limit": 2, "offset": 2}, headers=world.auth("manager"))
    ).json()
    assert page["total"] == c1["total"] and len(page["items"]) == 2
    assert page["items"] == c1["items"][2:4]
    volunteers = (
        await client.get("/api/users", params={"role": "volunteer"}, headers=world.auth("manager"))
    ).json()
    assert all("volunteer" in u["roles"] for u in volunteers["items"])
    r = await client.get(f"/api/users/{world.id('resident_c2')}", headers=world.auth("manager"))
    assert r.status_code == 404


async def test_managers_see_the_volunteers_who_serve_their_area_not_only_those_who_live_there(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
    url = f"/api/users/{world.id('volunteer_c2')}"
    assert (await client.get(url, headers=world.auth("grid_worker"))).status_code == 404
    r = await client.put(
        f"/api/volunteers/{world.id('volunteer_c2')}/profile",
        json={"serving_area_ids": [world.areas["c2"].id, world.areas["c1_compound"].id]},
        headers=world.auth("volunteer_c2"),
    )
    assert r.status_code == 200, r.text

    for who, status in [
        # They dispatch orders of Garden 1 to the volunteer and must be able to call them.
        ("grid_worker", 200),
        ("manager", 200),
        ("manager_c2", 200),
        ("street_admin", 200),
        ("grid_worker_g2", 404),  # the volunteer serves only Grid 1-1 of community 1
        ("manager_s2", 404),
        ("volunteer", 404),
        ("resident", 404),
    ]:
        r = await client.get(url, headers=world.auth(who))
        assert r.status_code == status, who
        if status == 200:
            assert (r.json()["name"], r.json()["phone"]) == ("Volunteer C2", "13900000004")
    # Serving there is what counts: a resident of community 2 stays out of community 1's sight.
    r = await client.get(f"/api/users/{world.id('resident_c2')}", headers=world.auth("grid_worker"))
    assert r.status_code == 404


def test_an_unknown_time_zone_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where the install's own secret is made
    with pytest.raises(SettingsError):
        Settings.from_env({"MARKET_TIMEZONE": "Mars/Olympus"})


def test_market_now_stops_the_clock_outside_production_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"MARKET_NOW": "2026-03-11T15:57:00+08:00"})
    assert clock_at(settings.now)() == datetime(2026, 3, 11, 7, 57, tzinfo=UTC)
    assert clock_at(None) is system_clock
    for wrong in ("15:57", "2026-03-11T15:57:00"):  # not a moment; no offset
        with pytest.raises(SettingsError):
            Settings.from_env({"MARKET_NOW": wrong})
    with pytest.raises(SettingsError):
        Settings.from_env(
            {
                "MARKET_ENV": "production",
                "MARKET_SECRET_KEY": "x" * 40,
                "MARKET_NOW": "2026-03-11T15:57:00+08:00",
            }
        )

"""Settings kept one row per community are upserts: the first PUTs of a community's points policy
or auto-dispatch setting, sent at once, used to find no row and both insert it - one of them a 500
(unique key) on PostgreSQL.

The PUTs go to a real server (uvicorn in a thread) so that they run in parallel; each round starts
from no row, as the first PUT of a community does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.dispatch.models import AutoDispatch
from market.ledger.models import PointsPolicy
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill
from tests.world import World

ROUNDS = 4
AT_ONCE = 8


@pytest.fixture
async def racing(live_server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def race(
    racing: httpx.AsyncClient,
    session_maker: async_sessionmaker[AsyncSession],
    model: Any,
    url: str,
    bodies: list[dict[str, Any]],
    auth: dict[str, str],
) -> list[httpx.Response]:
    async with session_maker() as session, session.begin():
        await session.execute(delete(model))
    return await asyncio.gather(*(racing.put(url, json=body, headers=auth) for body in bodies))


async def rows(session_maker: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_first_policies_put_at_once_are_all_taken(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    url = f"/api/ledger/policies/{world.areas['c1'].id}"
    bodies = [{"default_rate": rate, "daily_cap": 50 + rate} for rate in range(1, AT_ONCE + 1)]
    for _ in range(ROUNDS):
        responses = await race(racing, session_maker, PointsPolicy, url, bodies, world.auth("manager"))
        assert [r.status_code for r in responses] == [200] * AT_ONCE, [r.text for r in responses]
        assert await rows(session_maker, PointsPolicy) == 1
        # One of them is the policy now, whole (not a mix of two).
        policy = (await client.get(url, headers=world.auth("manager"))).json()
        assert policy["daily_cap"] == 50 + policy["default_rate"], policy
        assert {r.json()["default_rate"] for r in responses} == set(range(1, AT_ONCE + 1))


async def test_a_policy_put_again_replaces_it(client: AsyncTestClient, world: World) -> None:
    url = f"/api/ledger/policies/{world.areas['c1'].id}"
    first = {"rates": {"escort": 12}, "expiry": "months", "expiry_months": 6, "gift_max": 50}
    r = await client.put(url, json=first, headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["rates"] == {"escort": 12} and r.json()["expiry_months"] == 6
    r = await client.put(url, json={"default_rate": 7}, headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    expected = {"rates": {}, "default_rate": 7, "expiry": "none", "expiry_months": None, "gift_max": 200}
    for body in (r.json(), (await client.get(url, headers=world.auth("resident"))).json()):
        assert {k: body[k] for k in expected} == expected, body


async def test_first_auto_dispatch_settings_put_at_once_are_all_taken(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    url = f"/api/dispatch/auto/{world.areas['c1'].id}"
    bodies = [{"enabled": i % 2 == 0} for i in range(AT_ONCE)]
    for _ in range(ROUNDS):
        responses = await race(racing, session_maker, AutoDispatch, url, bodies, world.auth("manager"))
        assert [r.status_code for r in responses] == [200] * AT_ONCE, [r.text for r in responses]
        assert await rows(session_maker, AutoDispatch) == 1
        setting = (await client.get(url, headers=world.auth("manager"))).json()
        assert setting["updated_by_id"] == world.id("manager") and setting["updated_at"], setting
    r = await client.put(url, json={"enabled": True}, headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["enabled"] is True
    r = await client.put(url, json={"enabled": False}, headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert (await client.get(url, headers=world.auth("grid_worker"))).json()["enabled"] is False


async def test_first_volunteer_profiles_put_at_once_are_all_taken(
    world: World, session_maker: async_sessionmaker[AsyncSession], racing: httpx.AsyncClient
) -> None:
    """The first PUTs of a volunteer's profile at once: one inserts it, the others wait for it and
    replace what it holds; none is a 500, and the profile is one of them whole."""
    volunteer = world.id("volunteer")
    url = f"/api/volunteers/{volunteer}/profile"
    c1 = world.areas["c1"].id
    bodies = [
        {"capacity": n, "skills": [{"category": "escort", "level": 1}], "serving_area_ids": [c1]}
        for n in range(1, AT_ONCE + 1)
    ]
    for _ in range(ROUNDS):
        async with session_maker() as session, session.begin():
            for model in (VolunteerSkill, AvailabilityWindow, ServingArea, VolunteerProfile):
                await session.execute(delete(model).where(model.user_id == volunteer))
        responses = await asyncio.gather(
            *(racing.put(url, json=body, headers=world.auth("volunteer")) for body in bodies)
        )
        assert [r.status_code for r in responses] == [200] * AT_ONCE, [r.text for r in responses]
        async with session_maker() as session:
            profiles = await session.scalar(
                select(func.count())
                .select_from(VolunteerProfile)
                .where(VolunteerProfile.user_id == volunteer)
            )
            skills = await session.scalar(
                select(func.count()).select_from(VolunteerSkill).where(VolunteerSkill.user_id == volunteer)
            )
            areas = await session.scalar(
                select(func.count()).select_from(ServingArea).where(ServingArea.user_id == volunteer)
            )
        assert (profiles, skills, areas) == (1, 1, 1)

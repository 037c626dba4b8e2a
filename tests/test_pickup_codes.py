"""Wrong pickup codes: limited per person and per counter, recorded, and the counter's people told."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from tests.test_rewards import books, redeem, shop  # noqa: F401 - fixtures
from tests.test_units_support import add_unit_admin, ok, problem, unit_body
from tests.world import World


def wrong_for(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def hand_out(client: AsyncTestClient, world: World, who: str, redemption: dict, code: str):
    return await client.post(
        f"/api/redemptions/{redemption['id']}/fulfil", json={"pickup_code": code}, headers=world.auth(who)
    )


async def test_the_eleventh_code_waits_even_when_right_and_after_the_wait_it_hands_out(
    client: AsyncTestClient,
    world: World,
    shop: int,  # noqa: F811
    clock: FrozenClock,
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()
    right, wrong = redemption["pickup_code"], wrong_for(redemption["pickup_code"])
    for _ in range(world.settings.pickup_free_failures):
        problem(await hand_out(client, world, "grid_worker", redemption, wrong), 409, "wrong_pickup_code")

    r = await hand_out(client, world, "grid_worker", redemption, right)

    refusal = problem(r, 429, "too_many_failed_attempts")
    first = int(r.headers["retry-after"])
    assert first == refusal["retry_after_seconds"] == world.settings.throttle_first_wait_seconds
    assert (
        ok(await client.get(f"/api/redemptions/{redemption['id']}", headers=world.auth("admin")))["status"]
        == "pending"
    )
    # Each wrong code past the free ones waits twice as long as the one before.
    clock.advance(timedelta(seconds=first))
    problem(await hand_out(client, world, "grid_worker", redemption, wrong), 409, "wrong_pickup_code")
    r = await hand_out(client, world, "grid_worker", redemption, right)
    problem(r, 429, "too_many_failed_attempts")
    assert int(r.headers["retry-after"]) == 2 * first
    clock.advance(timedelta(seconds=2 * first))

    handed = ok(await hand_out(client, world, "grid_worker", redemption, right))

    assert handed["status"] == "fulfilled"


async def test_wrong_codes_are_recorded_and_the_counters_people_told_once(
    client: AsyncTestClient,
    world: World,
    shop: int,  # noqa: F811
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    # The reward's publisher runs a unit with a fellow admin.
    await add_unit_admin(session_maker, world, "unit_admin_b")
    ok(
        await client.post(
            "/api/units",
            json=unit_body(world, "District Hospital", ["c1"], ["unit_admin", "unit_admin_b"]),
            headers=world.auth("street_admin"),
        )
    )
    redemption = (await redeem(client, world, "resident", shop)).json()
    wrong = wrong_for(redemption["pickup_code"])
    for _ in range(world.settings.pickup_free_failures + 1):
        await hand_out(client, world, "grid_worker", redemption, wrong)

    seen = ok(
        await client.get("/api/admin/failed-attempts?kind=pickup_code&limit=100", headers=world.auth("admin"))
    )
    assert seen["total"] == world.settings.pickup_free_failures, "a refused try is not tried"
    assert {(a["actor_name"], a["user_name"]) for a in seen["items"]} == {("Grid Worker", "Unit Admin")}
    street = ok(await client.get("/api/admin/failed-attempts", headers=world.auth("street_admin")))
    assert street["total"] == world.settings.pickup_free_failures
    for who in ("unit_admin", "unit_admin_b"):
        inbox = ok(await client.get("/api/notifications", headers=world.auth(who)))["items"]
        told = [n for n in inbox if n["code"] == "pickup_codes_guessed"]
        assert len(told) == 1, inbox
        assert told[0]["params"] == {"name": "Grid Worker"}
        assert (told[0]["subject_type"], told[0]["subject_id"]) == ("user", world.id("grid_worker"))
    assert not [
        n
        for n in ok(await client.get("/api/notifications", headers=world.auth("grid_worker")))["items"]
        if n["code"] == "pickup_codes_guessed"
    ]


async def test_everyone_trying_codes_at_one_counter_shares_its_limit(
    client: AsyncTestClient,
    world: World,
    shop: int,  # noqa: F811
) -> None:
    redemption = (await redeem(client, world, "resident", shop)).json()
    wrong = wrong_for(redemption["pickup_code"])
    people = ["grid_worker", "manager", "street_admin"]
    per_person = world.settings.pickup_counter_free_failures // len(people)
    assert per_person <= world.settings.pickup_free_failures
    for who in people:
        for _ in range(per_person):
            problem(await hand_out(client, world, who, redemption, wrong), 409, "wrong_pickup_code")

    # Someone who has typed nothing wrong yet waits too: the counter is being guessed at.
    r = await hand_out(client, world, "admin", redemption, redemption["pickup_code"])

    problem(r, 429, "too_many_failed_attempts")

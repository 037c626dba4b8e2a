"""Micro-wishes: the wall with masked residents, claim → fulfil → confirm, release, withdraw,
expiry, wish points paid once, and two claimers at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clock import FrozenClock
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, Transfer, TransferCode
from market.notifications.models import Notification
from market.wishes.models import Wish, WishEvent
from market.wishes.service import expire_wishes
from tests.test_rewards import confirm as confirm_order
from tests.test_rewards import served_order
from tests.world import World, add_neighbours

WISH_POINTS = 20  # the default MARKET_WISH_POINTS


def wish_body(world: World, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "A pair of reading glasses",
        "description": "+2.5, for reading the newspaper",
        "value_yuan": 60,
        "deadline": (world.now + timedelta(days=7)).isoformat(),
    }
    body.update(overrides)
    return body


async def post_wish(client: AsyncTestClient, world: World, who: str = "resident", **overrides: Any) -> int:
    r = await client.post("/api/wishes", json=wish_body(world, **overrides), headers=world.auth(who))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def act(client: AsyncTestClient, world: World, who: str, wish_id: int, action: str, **body: Any):
    return await client.post(f"/api/wishes/{wish_id}/{action}", json=body, headers=world.auth(who))


async def fund_pool(
    session_maker: async_sessionmaker[AsyncSession], world: World, amount: int = 1000
) -> None:
    async with session_maker() as session, session.begin():
        issuance = await ledger.area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await ledger.area_account(
            session, world.areas["c1"], AccountKind.community_pool, Asset.service
        )
        await ledger.transfer_one(
            session,
            Draft(
                id="budget",
                debit_account_id=issuance.id,
                credit_account_id=pool.id,
                amount=amount,
                code=TransferCode.budget,
            ),
            world.now,
            world.settings.tz,
        )


async def balance(session_maker: async_sessionmaker[AsyncSession], user_id: int) -> int:
    async with session_maker() as session, session.begin():
        return (await ledger.member_account(session, user_id)).balance


async def wish_transfers(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.code == TransferCode.wish_reward)
        )


async def kinds(session_maker: async_sessionmaker[AsyncSession], user_id: int) -> list[str]:
    async with session_maker() as session:
        return list(
            await session.scalars(
                select(Notification.code).where(Notification.user_id == user_id).order_by(Notification.id)
            )
        )


async def snapshot(session_maker: async_sessionmaker[AsyncSession], wish_id: int) -> tuple:
    async with session_maker() as session:
        wish = await session.get(Wish, wish_id)
        events = await session.scalar(select(func.count()).where(WishEvent.wish_id == wish_id))
        return wish.status, wish.claimer_id, wish.updated_at, wish.points, events


# ---------------------------------------------------------------- posting


async def test_a_resident_posts_a_wish_on_their_communitys_wall(
    client: AsyncTestClient, world: World
) -> None:
    r = await client.post("/api/wishes", json=wish_body(world), headers=world.auth("resident"))
    assert r.status_code == 201, r.text
    wish = r.json()
    assert wish["status"] == "open"
    assert wish["community_id"] == world.areas["c1"].id
    assert wish["masked"] is False
    assert wish["resident"]["name"] == "Resident"
    assert [(e["action"], e["from_status"], e["to_status"]) for e in wish["events"]] == [
        ("post", None, "open")
    ]


async def test_a_wish_needs_a_title_a_bounded_value_and_a_deadline_ahead(
    client: AsyncTestClient, world: World
) -> None:
    def deadline(hours: int) -> str:
        return (world.now + timedelta(hours=hours)).isoformat()

    for overrides, status, code in [
        ({"deadline": deadline(-1)}, 400, "deadline_in_past"),
        ({"deadline": deadline(0)}, 400, "deadline_in_past"),
        ({"deadline": deadline(91 * 24)}, 400, "deadline_too_far"),
        ({"value_yuan": 0}, 400, "invalid_input"),
        ({"value_yuan": 2001}, 400, "invalid_input"),
        ({"title": "   "}, 400, "invalid_input"),
        ({"deadline": "2030-01-01T00:00:00"}, 400, "invalid_input"),
        ({"extra": 1}, 400, "invalid_input"),
    ]:
        r = await client.post(
            "/api/wishes", json=wish_body(world, **overrides), headers=world.auth("resident")
        )
        assert (r.status_code, r.json()["code"]) == (status, code), (overrides, r.text)
    assert (await client.get("/api/wishes", headers=world.auth("resident"))).json()["total"] == 0


async def test_only_residents_post_and_only_a_few_wishes_at_a_time(
    client: AsyncTestClient, world: World
) -> None:
    r = await client.post("/api/wishes", json=wish_body(world), headers=world.auth("volunteer"))
    assert (r.status_code, r.json()["code"]) == (403, "role_required")
    for _ in range(5):
        await post_wish(client, world)
    r = await client.post("/api/wishes", json=wish_body(world), headers=world.auth("resident"))
    assert (r.status_code, r.json()["code"]) == (409, "too_many_wishes")
    # A withdrawn wish no longer counts.
    first = (await client.get("/api/wishes?posted_by_me=true", headers=world.auth("resident"))).json()
    await act(client, world, "resident", first["items"][0]["id"], "withdraw")
    await post_wish(client, world)


# ---------------------------------------------------------------- the wall and masking


async def test_the_wall_masks_the_resident_for_all_but_the_resident_managers_and_claimer(
    client: AsyncTestClient, world: World
) -> None:
    wish_id = await post_wish(client, world)
    wall = f"/api/wishes?community_id={world.areas['c1'].id}&status=open"
    for who, masked in [
        ("resident", False),
        ("manager", False),
        ("grid_worker", False),
        ("street_admin", False),
        ("resident_b", True),
        ("volunteer", True),
        ("manager_c2", True),
        ("resident_c2", True),
    ]:
        page = (await client.get(wall, headers=world.auth(who))).json()
        assert page["total"] == 1, who
        item = page["items"][0]
        assert item["masked"] is masked, who
        if masked:
            assert item["resident"]["name"] == "R*******"
            assert item["resident"]["phone"] == "137****0001"
            assert item["resident"]["id"] is None
            assert item["area"]["id"] == world.areas["c1_compound"].id
        else:
            assert item["resident"]["phone"] == "13700000001"
            assert item["resident"]["id"] == world.id("resident")
            assert item["area"]["id"] == world.areas["c1_building"].id
    # The history does not give the name away either.
    detail = (await client.get(f"/api/wishes/{wish_id}", headers=world.auth("resident_b"))).json()
    assert (detail["events"][0]["actor_name"], detail["events"][0]["actor_id"]) == ("R*******", None)
    # Once the volunteer holds the wish they see who and where, to deliver it.
    await act(client, world, "volunteer", wish_id, "claim")
    detail = (await client.get(f"/api/wishes/{wish_id}", headers=world.auth("volunteer"))).json()
    assert (detail["masked"], detail["resident"]["name"]) == (False, "Resident")
    # Others see who claimed it, but not the claimer's phone.
    other = (await client.get(f"/api/wishes/{wish_id}", headers=world.auth("resident_b"))).json()
    assert other["claimer"]["name"] == "Volunteer" and other["claimer"]["phone"] == "139****0001"
    empty = await client.get(
        f"/api/wishes?community_id={world.areas['c2'].id}", headers=world.auth("resident")
    )
    assert empty.json()["total"] == 0


async def test_withdrawn_wishes_leave_the_wall_but_not_the_residents_list(
    client: AsyncTestClient, world: World
) -> None:
    wish_id = await post_wish(client, world)
    assert (await act(client, world, "resident", wish_id, "withdraw", note="got one")).status_code == 200
    assert (await client.get(f"/api/wishes/{wish_id}", headers=world.auth("resident_b"))).status_code == 404
    assert (await client.get("/api/wishes", headers=world.auth("resident_b"))).json()["total"] == 0
    mine = (await client.get("/api/wishes?status=withdrawn", headers=world.auth("resident"))).json()
    assert [w["id"] for w in mine["items"]] == [wish_id]
    assert (await client.get(f"/api/wishes/{wish_id}", headers=world.auth("manager"))).status_code == 200
    # Acting on it is "not found" for those who cannot see it.
    r = await act(client, world, "resident_b", wish_id, "confirm")
    assert (r.status_code, r.json()["code"]) == (404, "wish_not_found")


# ---------------------------------------------------------------- the flow, points and notifications


async def test_claim_fulfil_confirm_pays_the_volunteer_once_and_tells_each_side(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await fund_pool(session_maker, world)
    wish_id = await post_wish(client, world)
    r = await act(client, world, "volunteer", wish_id, "claim", note="I'll bring them on Saturday")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["claimer_kind"]) == ("claimed", "volunteer")
    r = await act(client, world, "volunteer", wish_id, "fulfil", note="handed over")
    assert r.json()["status"] == "fulfilled"
    r = await act(client, world, "resident", wish_id, "confirm", note="thank you")
    assert r.status_code == 200, r.text
    wish = r.json()
    assert (wish["status"], wish["points"]) == ("confirmed", WISH_POINTS)
    assert [(e["action"], e["from_status"], e["to_status"], e["actor_id"]) for e in wish["events"]] == [
        ("post", None, "open", world.id("resident")),
        ("claim", "open", "claimed", world.id("volunteer")),
        ("fulfil", "claimed", "fulfilled", world.id("volunteer")),
        ("confirm", "fulfilled", "confirmed", world.id("resident")),
    ]
    assert await balance(session_maker, world.id("volunteer")) == WISH_POINTS
    async with session_maker() as session:
        paid = await session.get(Transfer, f"~wish:{wish_id}")
        assert (paid.amount, paid.code, paid.reference) == (
            WISH_POINTS,
            TransferCode.wish_reward,
            f"wish:{wish_id}",
        )

    r = await act(client, world, "resident", wish_id, "confirm")
    assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")
    assert await balance(session_maker, world.id("volunteer")) == WISH_POINTS
    assert await wish_transfers(session_maker) == 1
    assert await kinds(session_maker, world.id("resident")) == ["wish_claimed", "wish_fulfilled"]
    assert await kinds(session_maker, world.id("volunteer")) == ["wish_confirmed"]


async def test_a_unit_claims_for_its_unit_and_earns_no_member_points(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await fund_pool(session_maker, world)
    wish_id = await post_wish(client, world)
    r = await act(client, world, "unit_admin", wish_id, "claim")
    assert (r.json()["claimer_kind"], r.json()["claimer"]["id"]) == ("unit", world.id("unit_admin"))
    await act(client, world, "unit_admin", wish_id, "fulfil")
    r = await act(client, world, "resident", wish_id, "confirm")
    assert (r.json()["status"], r.json()["points"]) == ("confirmed", None)
    assert await wish_transfers(session_maker) == 0
    # A volunteer cannot claim in a unit's name.
    other = await post_wish(client, world)
    r = await act(client, world, "volunteer", other, "claim", claimer_kind="unit")
    assert (r.status_code, r.json()["code"]) == (403, "role_required")


async def test_an_empty_pool_owes_the_wish_points(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    wish_id = await post_wish(client, world)
    await act(client, world, "volunteer", wish_id, "claim")
    await act(client, world, "volunteer", wish_id, "fulfil")
    assert (await act(client, world, "resident", wish_id, "confirm")).status_code == 200
    assert await balance(session_maker, world.id("volunteer")) == 0
    await fund_pool(session_maker, world)
    async with session_maker() as session, session.begin():
        assert await ledger.post_owed_rewards(session, world.now, world.settings.tz) == 1
    assert await balance(session_maker, world.id("volunteer")) == WISH_POINTS


async def test_release_reopens_and_withdraw_tells_the_claimer(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    wish_id = await post_wish(client, world)
    await act(client, world, "volunteer", wish_id, "claim")
    r = await act(client, world, "volunteer", wish_id, "release", note="cannot make it")
    assert (r.json()["status"], r.json()["claimer"]) == ("open", None)
    await act(client, world, "volunteer_b", wish_id, "claim")
    # A manager may release a claim for a claimer gone quiet.
    assert (await act(client, world, "manager", wish_id, "release")).json()["status"] == "open"
    await act(client, world, "volunteer_c", wish_id, "claim")
    r = await act(client, world, "resident", wish_id, "withdraw", note="my son bought them")
    assert r.json()["status"] == "withdrawn"
    assert await kinds(session_maker, world.id("volunteer_c")) == ["wish_withdrawn"]
    assert await kinds(session_maker, world.id("resident")) == [
        "wish_claimed",
        "wish_released",
        "wish_claimed",
        "wish_released",
        "wish_claimed",
    ]


# ---------------------------------------------------------------- permissions


async def test_who_may_act_on_an_open_wish(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    wish_id = await post_wish(client, world)
    before = await snapshot(session_maker, wish_id)
    for who, action, code in [
        ("resident", "claim", "role_required"),
        ("volunteer_c2", "claim", "outside_your_community"),
        ("manager", "claim", "role_required"),
        ("resident_b", "withdraw", "not_resident"),
        ("manager_c2", "withdraw", "not_resident"),
        ("volunteer", "fulfil", "not_claimer"),
        ("volunteer", "release", "not_claimer"),
        ("resident_b", "confirm", "not_resident"),
    ]:
        r = await act(client, world, who, wish_id, action)
        assert (r.status_code, r.json()["code"]) == (403, code), (who, action, r.text)
    assert await snapshot(session_maker, wish_id) == before


async def test_a_volunteer_claims_wishes_only_in_their_own_street(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
    profile = f"/api/volunteers/{world.id('volunteer')}/profile"
    far = await post_wish(client, world, "resident_s2")
    # Serving a community of another street is refused, so its wishes stay out of reach.
    r = await client.put(
        profile, json={"serving_area_ids": [world.areas["s2_c1"].id]}, headers=world.auth("volunteer")
    )
    assert (r.status_code, r.json()["code"]) == (400, "outside_home_street")
    r = await act(client, world, "volunteer", far, "claim")
    assert (r.status_code, r.json()["code"]) == (403, "outside_your_community")
    seen = (await client.get(f"/api/wishes/{far}", headers=world.auth("volunteer"))).json()
    assert seen["masked"] is True and seen["resident"]["phone"] == "137****0044"
    # A neighbouring community of their own street is theirs to serve, and its wishes to claim.
    near = await post_wish(client, world, "resident_c2")
    assert (await act(client, world, "volunteer", near, "claim")).json()["code"] == "outside_your_community"
    r = await client.put(
        profile,
        json={"serving_area_ids": [world.areas["c1"].id, world.areas["c2"].id]},
        headers=world.auth("volunteer"),
    )
    assert r.status_code == 200, r.text
    assert (await act(client, world, "volunteer", near, "claim")).status_code == 200
    assert (await act(client, world, "volunteer_s2", far, "claim")).status_code == 200


async def test_who_may_act_on_a_claimed_wish(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    wish_id = await post_wish(client, world, "vol_resident")
    r = await act(client, world, "vol_resident", wish_id, "claim")
    assert (r.status_code, r.json()["code"]) == (403, "own_wish")
    await act(client, world, "volunteer", wish_id, "claim")
    before = await snapshot(session_maker, wish_id)
    for who, action, code in [
        ("volunteer_b", "fulfil", "not_claimer"),
        ("volunteer_b", "release", "not_claimer"),
        ("resident", "fulfil", "not_claimer"),
        ("volunteer", "confirm", "not_resident"),
        ("volunteer", "withdraw", "not_resident"),
    ]:
        r = await act(client, world, who, wish_id, action)
        assert (r.status_code, r.json()["code"]) == (403, code), (who, action)
    assert await snapshot(session_maker, wish_id) == before


# ---------------------------------------------------------------- the state machine


ILLEGAL = {
    # state -> (who, action) pairs that state does not allow, each asked by someone who may act
    "open": [("resident", "confirm"), ("manager", "release")],
    "claimed": [("volunteer_b", "claim"), ("volunteer", "claim"), ("resident", "confirm")],
    "fulfilled": [
        ("volunteer_b", "claim"),
        ("volunteer", "fulfil"),
        ("volunteer", "release"),
        ("resident", "withdraw"),
    ],
    "confirmed": [
        ("resident", "confirm"),
        ("resident", "withdraw"),
        ("volunteer", "fulfil"),
        ("volunteer", "release"),
        ("volunteer_b", "claim"),
    ],
    "withdrawn": [("resident", "withdraw"), ("volunteer", "claim"), ("resident", "confirm")],
    "expired": [("resident", "withdraw"), ("manager", "withdraw"), ("resident", "confirm")],
}
STEPS = {
    "open": [],
    "claimed": [("volunteer", "claim")],
    "fulfilled": [("volunteer", "claim"), ("volunteer", "fulfil")],
    "confirmed": [("volunteer", "claim"), ("volunteer", "fulfil"), ("resident", "confirm")],
    "withdrawn": [("resident", "withdraw")],
}


@pytest.mark.parametrize("state", list(ILLEGAL))
async def test_every_illegal_step_is_a_409_that_changes_nothing(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    state: str,
) -> None:
    await fund_pool(session_maker, world)
    wish_id = await post_wish(client, world)
    if state == "expired":
        clock.advance(timedelta(days=8))
        async with session_maker() as session, session.begin():
            assert await expire_wishes(session, clock()) == 1
    for who, action in STEPS.get(state, []):
        assert (await act(client, world, who, wish_id, action)).status_code == 200
    before = await snapshot(session_maker, wish_id)
    assert before[0] == state
    for who, action in ILLEGAL[state]:
        r = await act(client, world, who, wish_id, action)
        assert r.status_code == 409, (who, action, r.text)
        assert r.json()["code"] in ("illegal_transition", "deadline_passed"), r.text
        assert await snapshot(session_maker, wish_id) == before
    assert await wish_transfers(session_maker) == (1 if state == "confirmed" else 0)


# ---------------------------------------------------------------- expiry


async def test_open_wishes_expire_at_their_deadline_claimed_ones_do_not(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
) -> None:
    deadline = (world.now + timedelta(hours=1)).isoformat()
    open_id = await post_wish(client, world, deadline=deadline)
    claimed_id = await post_wish(client, world, deadline=deadline)
    await act(client, world, "volunteer", claimed_id, "claim")

    async def run() -> int:
        async with session_maker() as session, session.begin():
            return await expire_wishes(session, clock())

    clock.advance(timedelta(minutes=59, seconds=59))
    assert await run() == 0
    clock.advance(timedelta(seconds=1))  # exactly at the deadline
    # Before the job runs, the wish can no longer be claimed.
    r = await act(client, world, "volunteer_b", open_id, "claim")
    assert (r.status_code, r.json()["code"]) == (409, "deadline_passed")
    assert await run() == 1
    clock.advance(timedelta(hours=1))
    assert await run() == 0
    detail = (await client.get(f"/api/wishes/{open_id}", headers=world.auth("resident"))).json()
    assert detail["status"] == "expired"
    assert (detail["events"][-1]["action"], detail["events"][-1]["actor_id"]) == ("expire", None)
    claimed = (await client.get(f"/api/wishes/{claimed_id}", headers=world.auth("resident"))).json()
    assert claimed["status"] == "claimed"
    # A wish posted later, past its own deadline at the next run, expires too.
    later = await post_wish(client, world, deadline=(clock() + timedelta(minutes=5)).isoformat())
    clock.advance(timedelta(minutes=6))
    assert await run() == 1
    assert (await client.get(f"/api/wishes/{later}", headers=world.auth("resident"))).json()[
        "status"
    ] == "expired"
    assert "wish_expired" in await kinds(session_maker, world.id("resident"))


# ---------------------------------------------------------------- races


@pytest.fixture
async def racing(live_server: str):
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as client:
        yield client


async def test_claimers_at_once_exactly_one_wins(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    wish_id = await post_wish(client, world)
    claimers = ["volunteer", "volunteer_b", "volunteer_c", "vol_resident", "unit_admin"]
    responses = await asyncio.gather(
        *(racing.post(f"/api/wishes/{wish_id}/claim", json={}, headers=world.auth(who)) for who in claimers)
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"illegal_transition"}
    winner = claimers[[r.status_code for r in responses].index(200)]
    async with session_maker() as session:
        wish = await session.get(Wish, wish_id)
        assert wish.claimer_id == world.id(winner)
        claims = await session.scalar(
            select(func.count()).where(WishEvent.wish_id == wish_id, WishEvent.action == "claim")
        )
        assert claims == 1


async def test_confirms_at_once_pay_once(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    racing: httpx.AsyncClient,
) -> None:
    await fund_pool(session_maker, world)
    wish_id = await post_wish(client, world)
    await act(client, world, "volunteer", wish_id, "claim")
    await act(client, world, "volunteer", wish_id, "fulfil")
    responses = await asyncio.gather(
        *(
            racing.post(f"/api/wishes/{wish_id}/confirm", json={}, headers=world.auth("resident"))
            for _ in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409], [r.text for r in responses]
    assert await wish_transfers(session_maker) == 1
    assert await balance(session_maker, world.id("volunteer")) == WISH_POINTS


# ---------------------------------------------------------------- caps and the pair limit


def mid_morning(clock: FrozenClock, world: World) -> None:
    """09:00 in Asia/Shanghai in the middle of a month: no cap straddles a day or a month."""
    clock.now = datetime(2030, 3, 12, 1, 0, tzinfo=UTC)
    world.now = clock()


async def round_trip(client: AsyncTestClient, world: World, resident: str, volunteer: str) -> dict[str, Any]:
    """A wish posted, claimed, fulfilled and confirmed: the confirmed wish."""
    wish_id = await post_wish(client, world, resident)
    assert (await act(client, world, volunteer, wish_id, "claim")).status_code == 200
    assert (await act(client, world, volunteer, wish_id, "fulfil")).status_code == 200
    r = await act(client, world, resident, wish_id, "confirm")
    assert r.status_code == 200, r.text
    return r.json()


async def withheld(client: AsyncTestClient, world: World) -> list[tuple[str, int, str]]:
    r = await client.get("/api/ledger/owed-rewards?status=withheld&limit=100", headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    return [(o["reference"], o["amount"], o["reason"]) for o in r.json()["items"]]


async def test_a_resident_and_a_volunteer_earn_one_wish_reward_a_week(
    client: AsyncTestClient, world: World, clock: FrozenClock, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    mid_morning(clock, world)
    await fund_pool(session_maker, world)

    wishes = [await round_trip(client, world, "resident", "volunteer") for _ in range(15)]

    assert [w["points"] for w in wishes] == [WISH_POINTS] + [0] * 14
    assert await balance(session_maker, world.id("volunteer")) == WISH_POINTS
    assert await wish_transfers(session_maker) == 1
    assert await withheld(client, world) == [
        (f"wish:{w['id']}", WISH_POINTS, "pair_weekly_limit") for w in wishes[1:]
    ]
    # Another pair earns; the same pair earns again a week later.
    assert (await round_trip(client, world, "resident_b", "volunteer"))["points"] == WISH_POINTS
    assert (await round_trip(client, world, "resident", "volunteer_b"))["points"] == WISH_POINTS
    clock.advance(timedelta(days=7))
    world.now = clock()
    assert (await round_trip(client, world, "resident", "volunteer"))["points"] == WISH_POINTS
    assert await balance(session_maker, world.id("volunteer")) == 3 * WISH_POINTS


async def test_wish_rewards_and_service_rewards_share_the_daily_cap(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    mid_morning(clock, world)
    await fund_pool(session_maker, world)
    r = await client.put(
        f"/api/ledger/policies/{world.areas['c1'].id}",
        json={"default_rate": 10, "daily_cap": 40},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    order_id = await served_order(client, world, clock, 1)
    assert (await confirm_order(client, world, order_id)).status_code == 200  # 10 service points

    first = await round_trip(client, world, "resident", "volunteer")
    second = await round_trip(client, world, "resident_b", "volunteer")
    third = await round_trip(client, world, "vol_resident", "volunteer")

    assert [first["points"], second["points"], third["points"]] == [20, 10, 0]
    assert await balance(session_maker, world.id("volunteer")) == 40
    assert await withheld(client, world) == [
        (f"wish:{second['id']}", 10, "daily_cap"),
        (f"wish:{third['id']}", 20, "daily_cap"),
    ]
    # And a service reward after the wishes earns nothing more today.
    order_id = await served_order(client, world, clock, 1)
    assert (await confirm_order(client, world, order_id)).status_code == 200
    assert await balance(session_maker, world.id("volunteer")) == 40
    assert (await withheld(client, world))[-1] == (f"order:{order_id}", 10, "daily_cap")

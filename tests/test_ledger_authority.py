"""Who may move points: the authority table (market/ledger/authority.py), cell by cell, through
the API; adjustments with their reason, threshold and second manager; the street's threshold.

A cell is (role, code, debit account kind, credit account kind, relation): the relation says how
the accounts stand to the person — one is their own member account ("own"), both are someone
else's inside their area ("other"), or one lies outside their area ("outside"). The table below
is written out again here, from the README, and the API must agree with it in every cell that can
be built: new transfers through the batch endpoint, reversals through the reversal endpoint.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.clock import FrozenClock
from market.ledger.engine import Draft, expire_pending
from market.ledger.models import Account, AccountKind, Asset, Transfer, TransferCode
from market.ledger.service import area_account, get_or_create_account, member_account, transfer_one
from tests.world import World, password_hash

K = AccountKind
KINDS = list(AccountKind)
MANAGERS = {"community_manager", "street_admin", "admin"}
STREET_ADMINS = {"street_admin", "admin"}
# The README's table: what a person may post by hand, (code, debit kind, credit kind) -> roles.
ALLOWED: dict[tuple[str, str, str], set[str]] = {
    ("budget", "street_issuance", "community_pool"): STREET_ADMINS,
    ("adjustment", "community_pool", "member"): MANAGERS,
    ("adjustment", "member", "community_pool"): MANAGERS,
    ("reversal", "community_pool", "street_issuance"): STREET_ADMINS,
    ("reversal", "unit", "street_issuance"): STREET_ADMINS,
    ("reversal", "member", "community_pool"): MANAGERS,
    ("reversal", "community_pool", "member"): MANAGERS,
    ("reversal", "member", "member"): MANAGERS,
    ("reversal", "redemption_sink", "member"): MANAGERS,
    ("reversal", "expiry_sink", "member"): MANAGERS,
}
# The people of tests/world.py (and a second street) acting, with their role.
ACTORS = {
    "grid_worker": "grid_worker",
    "manager": "community_manager",
    "street_admin": "street_admin",
    "admin": "admin",
}


def expected(role: str, code: str, debit: str, credit: str, relation: str) -> str | None:
    """What the API must answer for a cell: None (allowed) or the refusal's code, the first that
    applies in this order."""
    if code not in ("budget", "adjustment", "reversal"):
        return "code_made_by_the_service"
    roles = ALLOWED.get((code, debit, credit))
    if roles is None:
        return "accounts_not_for_this_code"
    if role not in roles:
        return "role_may_not_transfer"
    if relation == "own":
        return "own_account"
    if relation == "outside":
        return "account_outside_your_area"
    return None


@dataclass
class Places:
    """Accounts of every kind in each place, and each actor's own member account."""

    accounts: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, place) -> id
    own: dict[str, int] = field(default_factory=dict)
    # The places inside and outside each actor's area, nearest first.
    inside: dict[str, list[str]] = field(default_factory=dict)
    outside: dict[str, list[str]] = field(default_factory=dict)

    def pick(self, kind: str, places: list[str], avoid: int | None = None) -> int | None:
        for place in places:
            found = self.accounts.get((kind, place))
            if found is not None and found != avoid:
                return found
        return None


async def _second_street(session: AsyncSession, world: World) -> None:
    """Rainy Street, with one community, a resident and its own street admin."""

    async def area(key: str, code: str, level: AreaLevel, parent: str | None) -> None:
        a = Area(
            code=code, name=key.title(), level=level, parent_id=world.areas[parent].id if parent else None
        )
        session.add(a)
        await session.flush()
        world.areas[key] = a

    await area("street_2", "110105002", AreaLevel.street, None)
    await area("c3", "110105002001", AreaLevel.community, "street_2")
    await area("c3_building", "110105002001001001001", AreaLevel.building, "c3")
    for key, phone, role, home in (
        ("street_admin_2", "13800000002", Role.street_admin, "street_2"),
        ("resident_c3", "13700000009", Role.resident, "c3_building"),
    ):
        user = User(
            phone=phone,
            name=key.replace("_", " ").title(),
            password_hash=password_hash(),
            area_id=world.areas[home].id,
            is_active=True,
            created_at=world.now,
            role_rows=[UserRole(role=role)],
        )
        session.add(user)
        world.users[key] = user
    await session.flush()


@pytest.fixture
async def places(session_maker: async_sessionmaker[AsyncSession], world: World) -> Places:
    found = Places()
    async with session_maker() as session, session.begin():
        await _second_street(session, world)
        streets = {"street": world.areas["street"], "street_2": world.areas["street_2"]}
        communities = {c: world.areas[c] for c in ("c1", "c2", "c3")}
        for place, street in streets.items():
            for kind in (K.street_issuance, K.redemption_sink, K.expiry_sink):
                found.accounts[(kind, place)] = (await area_account(session, street, kind, Asset.service)).id
        for place, community in communities.items():
            pool = await area_account(session, community, K.community_pool, Asset.service)
            found.accounts[(K.community_pool, place)] = pool.id
            # A co-building unit's account kept in the community (units keep theirs where they are).
            unit = await get_or_create_account(
                session,
                f"service:unit:test:{place}",
                asset=Asset.service,
                kind=K.unit,
                user_id=None,
                area_id=community.id,
                area_code=community.code,
                debits_must_not_exceed_credits=True,
                created_at=world.now,
            )
            found.accounts[(K.unit, place)] = unit.id
        for name, place in (
            ("resident", "c1_home"),
            ("resident_b", "c1_home_b"),
            ("resident_c2", "c2_home"),
            ("resident_c3", "c3_home"),
        ):
            found.accounts[(K.member, place)] = (await member_account(session, world.id(name))).id
        for name in ACTORS:
            found.own[name] = (await member_account(session, world.id(name))).id
    # Members live in buildings (c1_home_b: a second member of community 1, for member-to-member
    # cells); pools and units belong to the community, the other accounts to the street.
    found.inside = {
        "grid_worker": ["c1_home", "c1_home_b"],  # Grid 1-1 holds the residents' building only
        "manager": ["c1", "c1_home", "c1_home_b"],
        "street_admin": ["c1", "c1_home", "c1_home_b", "street", "c2", "c2_home"],
        "admin": ["c1", "c1_home", "c1_home_b", "street", "c2", "c2_home", "c3", "c3_home", "street_2"],
    }
    found.outside = {
        "grid_worker": ["c1", "c2", "c2_home", "street"],
        "manager": ["c2", "c2_home", "street"],
        "street_admin": ["c3", "c3_home", "street_2"],
        "admin": [],
    }
    return found


def cells(places: Places, who: str) -> list[tuple[str, str, str, int, int]]:
    """(debit kind, credit kind, relation, debit id, credit id) for every cell that can be built
    for `who`: own on either side, outside on either side."""
    built = []
    inside, outside, own = places.inside[who], places.outside[who], places.own[who]
    for debit_kind in KINDS:
        for credit_kind in KINDS:
            debit = places.pick(debit_kind, inside)
            credit = places.pick(credit_kind, inside, avoid=debit)
            if debit and credit:
                built.append((debit_kind, credit_kind, "other", debit, credit))
            for side in ("debit", "credit"):
                mine, theirs = (debit_kind, credit_kind) if side == "debit" else (credit_kind, debit_kind)
                if mine == K.member:
                    other = places.pick(theirs, inside + outside, avoid=own)
                    if other:
                        pair = (own, other) if side == "debit" else (other, own)
                        built.append((debit_kind, credit_kind, "own", *pair))
                far = places.pick(mine, outside)
                near = places.pick(theirs, inside, avoid=far)
                if far and near:
                    pair = (far, near) if side == "debit" else (near, far)
                    built.append((debit_kind, credit_kind, "outside", *pair))
    return built


def _cell_id(code: str, debit_kind: str, credit_kind: str, relation: str, n: int) -> str:
    return f"{code}.{debit_kind}.{credit_kind}.{relation}.{n}"


async def _post(client: AsyncTestClient, world: World, who: str, transfers: list[dict[str, Any]]) -> Response:
    return await client.post("/api/ledger/transfers", json={"transfers": transfers}, headers=world.auth(who))


def _transfer(transfer_id: str, code: str, debit: int, credit: int, amount: int = 1, **extra: Any) -> dict:
    return {
        "id": transfer_id,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "code": code,
        "reason": "correction",
        "memo": "the table's cell",
        **extra,
    }


async def _fund_everything(
    session_maker: async_sessionmaker[AsyncSession], world: World, places: Places
) -> None:
    """Every guarded account (pools, units, members) holds points, straight from an issuance."""
    guarded = [a for (kind, _), a in places.accounts.items() if kind in (K.community_pool, K.unit, K.member)]
    async with session_maker() as session, session.begin():
        for account_id in [*guarded, *places.own.values()]:
            draft = Draft(
                id=f"seed-{account_id}",
                debit_account_id=places.accounts[(K.street_issuance, "street")],
                credit_account_id=account_id,
                amount=1000,
                code=TransferCode.budget,
            )
            assert (await transfer_one(session, draft, world.now, world.settings.tz)).result == "created"


# ---------------------------------------------------------------- the table, cell by cell


@pytest.mark.parametrize("who", list(ACTORS))
async def test_every_cell_of_the_authority_table_for_new_transfers(
    client: AsyncTestClient,
    world: World,
    places: Places,
    session_maker: async_sessionmaker[AsyncSession],
    who: str,
) -> None:
    await _fund_everything(session_maker, world, places)
    role = ACTORS[who]
    built = cells(places, who)
    allowed = []
    for code in TransferCode:
        batch = [
            _transfer(_cell_id(code, d, c, relation, n), code, debit, credit)
            for n, (d, c, relation, debit, credit) in enumerate(built)
        ]
        want = {
            t["id"]: expected(role, code, d, c, relation)
            for t, (d, c, relation, _, _) in zip(batch, built, strict=True)
        }
        # Reversals are made through their own endpoint, never in a batch.
        if code == TransferCode.reversal:
            want = dict.fromkeys(want, "code_made_by_the_service")

        r = await _post(client, world, who, batch)

        assert r.status_code == 403, r.text
        assert r.json()["code"] == "transfer_not_permitted"
        got = {p["id"]: p["code"] for p in r.json()["transfers"]}
        assert got == {i: why for i, why in want.items() if why is not None}, code
        allowed += [t for t in batch if want[t["id"]] is None]

    # What the table allows goes through: alone in a batch, each is created.
    expected_allowed = {
        (code, d, c)
        for (code, d, c), roles in ALLOWED.items()
        if role in roles and code != "reversal" and places.pick(d, places.inside[who])
    }
    assert {tuple(t["id"].split(".")[:3]) for t in allowed} == expected_allowed
    if allowed:
        r = await _post(client, world, who, allowed)
        assert r.status_code == 200, r.text
        assert r.json()["created"] == len(allowed), r.text


ORIGINAL_CODES = {
    # The code an original transfer between these kinds would have; reversals judge only the kinds.
    (K.street_issuance, K.community_pool): TransferCode.budget,
    (K.community_pool, K.member): TransferCode.service_reward,
    (K.member, K.member): TransferCode.gift,
    (K.member, K.redemption_sink): TransferCode.redemption,
    (K.member, K.expiry_sink): TransferCode.expiry,
    (K.street_issuance, K.unit): TransferCode.project_reward,
}


@pytest.mark.parametrize("who", list(ACTORS))
async def test_every_cell_of_the_authority_table_for_reversals(
    client: AsyncTestClient,
    world: World,
    places: Places,
    session_maker: async_sessionmaker[AsyncSession],
    who: str,
) -> None:
    await _fund_everything(session_maker, world, places)
    role = ACTORS[who]
    # Each cell is a reversal (debit kind → credit kind): its original went the other way.
    built = cells(places, who)
    async with session_maker() as session, session.begin():
        for n, (d, c, relation, debit, credit) in enumerate(built):
            draft = Draft(
                id=_cell_id("original", d, c, relation, n),
                debit_account_id=credit,
                credit_account_id=debit,
                amount=1,
                code=ORIGINAL_CODES.get((c, d), TransferCode.adjustment),
            )
            assert (await transfer_one(session, draft, world.now, world.settings.tz)).result == "created"

    for n, (d, c, relation, _, _) in enumerate(built):
        original = _cell_id("original", d, c, relation, n)
        r = await client.post(
            f"/api/ledger/transfers/{original}/reverse", json={"reason": "a cell"}, headers=world.auth(who)
        )
        want = expected(role, "reversal", d, c, relation)
        if want is None:
            assert r.status_code == 201, (original, r.text)
        else:
            assert (r.status_code, r.json()["code"]) == (403, want), (original, r.text)


async def test_people_without_a_managing_role_move_no_points_by_hand(
    client: AsyncTestClient, world: World, places: Places
) -> None:
    pool, member = places.accounts[(K.community_pool, "c1")], places.accounts[(K.member, "c1_home_b")]
    for who in ("resident", "volunteer", "unit_admin"):
        r = await _post(client, world, who, [_transfer("by-hand", "adjustment", pool, member)])
        assert (r.status_code, r.json()["code"]) == (403, "role_required")
        r = await client.post(
            "/api/ledger/adjustments",
            json={"account_id": member, "amount": 1, "direction": "give", "reason": "other", "memo": "x"},
            headers=world.auth(who),
        )
        assert (r.status_code, r.json()["code"]) == (403, "role_required")


async def test_accounts_must_belong_together(
    client: AsyncTestClient, world: World, places: Places, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    await _fund_everything(session_maker, world, places)
    a = places.accounts
    async with session_maker() as session, session.begin():
        # The unit admin lives at the street's level, in no community.
        streetwise = (await member_account(session, world.id("unit_admin"))).id
    r = await _post(
        client,
        world,
        "street_admin",
        [
            # Community 1's pool and a member of community 2: both inside the street admin's area.
            _transfer(
                "pool-to-stranger", "adjustment", a[(K.community_pool, "c1")], a[(K.member, "c2_home")]
            ),
            _transfer("pool-to-street", "adjustment", a[(K.community_pool, "c1")], streetwise),
        ],
    )

    assert r.status_code == 403, r.text
    assert {p["id"]: p["code"] for p in r.json()["transfers"]} == {
        "pool-to-stranger": "accounts_in_different_areas",
        "pool-to-street": "accounts_in_different_areas",
    }
    r = await _post(
        client,
        world,
        "admin",
        [
            # One street's issuance funding another street's community.
            _transfer(
                "issuance-to-far-pool",
                "budget",
                a[(K.street_issuance, "street")],
                a[(K.community_pool, "c3")],
            ),
        ],
    )

    assert r.status_code == 403, r.text
    assert {p["id"]: p["code"] for p in r.json()["transfers"]} == {
        "issuance-to-far-pool": "accounts_in_different_areas"
    }


# ---------------------------------------------------------------- the findings


async def test_a_street_admin_cannot_move_issuance_into_their_own_account(
    client: AsyncTestClient, world: World, places: Places, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    issuance = places.accounts[(K.street_issuance, "street")]
    pool = places.accounts[(K.community_pool, "c1")]
    mine = places.own["street_admin"]
    await _post(client, world, "street_admin", [_transfer("fund", "budget", issuance, pool, 5000)])

    straight = await _post(
        client, world, "street_admin", [_transfer("mine", "adjustment", issuance, mine, 10**12)]
    )
    via_pool = await _post(
        client, world, "street_admin", [_transfer("mine-2", "adjustment", pool, mine, 100)]
    )
    as_budget = await _post(
        client, world, "street_admin", [_transfer("mine-3", "budget", issuance, mine, 100)]
    )

    for r, why in (
        (straight, "accounts_not_for_this_code"),
        (via_pool, "own_account"),
        (as_budget, "accounts_not_for_this_code"),
    ):
        assert r.status_code == 403, r.text
        assert [p["code"] for p in r.json()["transfers"]] == [why]
    async with session_maker() as session:
        assert (await session.get(Account, mine)).balance == 0


async def test_a_grid_worker_cannot_move_a_volunteers_points_into_his_own_account(
    client: AsyncTestClient, world: World, places: Places, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    pool = places.accounts[(K.community_pool, "c1")]
    async with session_maker() as session, session.begin():
        volunteer = (await member_account(session, world.id("volunteer"))).id
    await _post(
        client,
        world,
        "street_admin",
        [_transfer("fund", "budget", places.accounts[(K.street_issuance, "street")], pool, 500)],
    )
    await _post(client, world, "manager", [_transfer("earned", "adjustment", pool, volunteer, 50)])

    r = await _post(
        client,
        world,
        "grid_worker",
        [_transfer("take", "adjustment", volunteer, places.own["grid_worker"], 50)],
    )
    taken_back = await client.post(
        "/api/ledger/adjustments",
        json={"account_id": volunteer, "amount": 50, "direction": "take", "reason": "other", "memo": "mine"},
        headers=world.auth("grid_worker"),
    )

    assert r.status_code == 403 and [p["code"] for p in r.json()["transfers"]] == [
        "accounts_not_for_this_code"
    ]
    assert (taken_back.status_code, taken_back.json()["code"]) == (403, "role_may_not_transfer")
    async with session_maker() as session:
        assert (await session.get(Account, volunteer)).balance == 50
        assert (await session.get(Account, places.own["grid_worker"])).balance == 0


# ---------------------------------------------------------------- adjustments and their second manager


def adjustment_body(account: int, amount: int, direction: str = "give", **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account,
        "amount": amount,
        "direction": direction,
        "reason": "missed_reward",
        "memo": "escort on 3 March was not recorded",
        **extra,
    }


async def adjust(client: AsyncTestClient, world: World, who: str, body: dict[str, Any]) -> Response:
    return await client.post("/api/ledger/adjustments", json=body, headers=world.auth(who))


async def settle(client: AsyncTestClient, world: World, who: str, transfer_id: str, action: str) -> Response:
    return await client.post(f"/api/ledger/adjustments/{transfer_id}/{action}", headers=world.auth(who))


async def balances(session_maker: async_sessionmaker[AsyncSession], *ids: int) -> list[tuple[int, int]]:
    """(balance, pending) of each account: posted, and held in or out."""
    async with session_maker() as session:
        accounts = [await session.get(Account, i) for i in ids]
        return [(a.balance, a.credits_pending - a.debits_pending) for a in accounts]


@pytest.fixture
async def funded(client: AsyncTestClient, world: World, places: Places) -> Places:
    issuance, pool = places.accounts[(K.street_issuance, "street")], places.accounts[(K.community_pool, "c1")]
    r = await _post(client, world, "street_admin", [_transfer("fund", "budget", issuance, pool, 10_000)])
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    return places


async def test_an_adjustment_up_to_the_threshold_is_posted_at_once(
    client: AsyncTestClient, world: World, funded: Places, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]

    r = await adjust(client, world, "manager", adjustment_body(member, 500))

    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["code"], made["reason"], made["memo"], made["flags"]) == (
        "adjustment",
        "missed_reward",
        "escort on 3 March was not recorded",
        [],
    )
    assert (made["debit_account_id"], made["credit_account_id"]) == (pool, member)
    taken = await adjust(
        client, world, "street_admin", adjustment_body(member, 200, "take", reason="duplicate_reward")
    )
    assert taken.status_code == 201, taken.text
    assert taken.json()["flags"] == []
    assert await balances(session_maker, member, pool) == [(300, 0), (9700, 0)]


async def test_what_one_manager_adjusts_alone_adds_up_over_thirty_days(
    client: AsyncTestClient,
    world: World,
    funded: Places,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """Splitting a large adjustment into many just under the threshold needs a second manager too:
    what one manager posts alone (giving or taking) adds up over 30 days against the threshold."""
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]

    first = await adjust(client, world, "manager", adjustment_body(member, 300))
    taken = await adjust(
        client, world, "manager", adjustment_body(member, 150, "take", reason="duplicate_reward")
    )
    up_to = await adjust(client, world, "manager", adjustment_body(member, 50))
    over = await adjust(client, world, "manager", adjustment_body(member, 1))
    batch = await _post(client, world, "manager", [_transfer("split", "adjustment", pool, member, 1)])
    # Another manager has their own 500.
    other = await adjust(client, world, "street_admin", adjustment_body(member, 500))

    assert [r.json()["flags"] for r in (first, taken, up_to, over)] == [[], [], [], ["pending"]]
    assert [p["code"] for p in batch.json()["transfers"]] == ["adjustment_needs_second_manager"]
    assert other.json()["flags"] == []
    assert await balances(session_maker, member, pool) == [(700, 1), (9300, -1)]
    # Thirty days on, the first three have left the window.
    clock.advance(timedelta(days=30))
    again = await adjust(client, world, "manager", adjustment_body(member, 500))
    assert again.json()["flags"] == [], again.text
    # Several in one batch add up as well.
    clock.advance(timedelta(days=30))
    two = [
        _transfer("half-1", "adjustment", pool, member, 300),
        _transfer("half-2", "adjustment", pool, member, 300),
    ]
    r = await _post(client, world, "manager", two)
    assert [(p["id"], p["code"]) for p in r.json()["transfers"]] == [
        ("half-2", "adjustment_needs_second_manager")
    ]


async def test_two_adjustments_of_one_manager_at_once_cannot_both_fit_under_the_threshold(
    world: World, funded: Places, live_server: str, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as racing:
        responses = await asyncio.gather(
            *(
                racing.post(
                    "/api/ledger/adjustments",
                    json=adjustment_body(member, 300),
                    headers=world.auth("manager"),
                )
                for _ in range(4)
            )
        )
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert sorted(r.json()["flags"] for r in responses) == [[], ["pending"], ["pending"], ["pending"]]
    assert await balances(session_maker, member, pool) == [(300, 900), (9700, -900)]


async def test_above_the_threshold_a_second_manager_posts_the_adjustment(
    client: AsyncTestClient,
    world: World,
    funded: Places,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]

    r = await adjust(client, world, "manager", adjustment_body(member, 600))

    assert r.status_code == 201, r.text
    held = r.json()
    assert (held["flags"], held["pending_status"]) == (["pending"], "pending")
    assert held["expires_at"].startswith((clock() + timedelta(days=7)).date().isoformat())
    assert await balances(session_maker, member, pool) == [(0, 600), (10_000, -600)]
    # The maker sees it waiting; a manager of the street may post it.
    r = await client.get("/api/ledger/adjustments/pending", headers=world.auth("manager"))
    (waiting,) = r.json()["items"]
    assert (waiting["id"], waiting["direction"], waiting["maker_name"], waiting["member_name"]) == (
        held["id"],
        "give",
        "Manager",
        "Resident",
    )
    assert (waiting["may_post"], waiting["may_void"]) == (False, True)
    r = await client.get("/api/ledger/adjustments/pending", headers=world.auth("street_admin"))
    assert [(w["may_post"], w["may_void"]) for w in r.json()["items"]] == [(True, True)]
    assert (await client.get("/api/ledger/adjustments/pending", headers=world.auth("manager_c2"))).json()[
        "total"
    ] == 0

    by_maker = await settle(client, world, "manager", held["id"], "post")
    by_other_area = await settle(client, world, "manager_c2", held["id"], "post")
    by_grid_worker = await settle(client, world, "grid_worker", held["id"], "post")

    assert (by_maker.status_code, by_maker.json()["code"]) == (403, "maker_cannot_post")
    assert (by_other_area.status_code, by_other_area.json()["code"]) == (404, "transfer_not_found")
    assert (by_grid_worker.status_code, by_grid_worker.json()["code"]) == (403, "role_may_not_transfer")
    assert await balances(session_maker, member, pool) == [(0, 600), (10_000, -600)]

    posted = await settle(client, world, "street_admin", held["id"], "post")

    assert posted.status_code == 200, posted.text
    assert posted.json()["flags"] == ["post_pending"]
    assert await balances(session_maker, member, pool) == [(600, 0), (9400, 0)]
    again = await settle(client, world, "admin", held["id"], "void")
    assert (again.status_code, again.json()["code"]) == (409, "pending_transfer_already_posted")
    assert (await client.get("/api/ledger/adjustments/pending", headers=world.auth("admin"))).json()[
        "total"
    ] == 0


@pytest.mark.parametrize("who", ["manager", "street_admin"])
async def test_the_maker_or_a_second_manager_voids_a_held_adjustment(
    client: AsyncTestClient,
    world: World,
    funded: Places,
    session_maker: async_sessionmaker[AsyncSession],
    who: str,
) -> None:
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]
    held = (await adjust(client, world, "manager", adjustment_body(member, 501))).json()

    r = await settle(client, world, who, held["id"], "void")

    assert r.status_code == 200, r.text
    assert await balances(session_maker, member, pool) == [(0, 0), (10_000, 0)]
    assert (await settle(client, world, "street_admin", held["id"], "post")).json()["code"] == (
        "pending_transfer_already_voided"
    )


async def test_a_held_adjustment_expires_after_seven_days(
    client: AsyncTestClient,
    world: World,
    funded: Places,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]
    held = (await adjust(client, world, "manager", adjustment_body(member, 800))).json()
    clock.advance(timedelta(days=7))

    assert (await client.get("/api/ledger/adjustments/pending", headers=world.auth("street_admin"))).json()[
        "total"
    ] == 0
    late = await settle(client, world, "street_admin", held["id"], "post")
    async with session_maker() as session, session.begin():
        assert await expire_pending(session, clock()) == 1

    assert (late.status_code, late.json()["code"]) == (409, "pending_transfer_expired")
    assert await balances(session_maker, member, pool) == [(0, 0), (10_000, 0)]
    async with session_maker() as session:
        assert (await session.get(Transfer, held["id"])).pending_status == "expired"


async def test_the_batch_endpoint_keeps_the_same_rules_for_adjustments(
    client: AsyncTestClient, world: World, funded: Places, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    member, pool = funded.accounts[(K.member, "c1_home")], funded.accounts[(K.community_pool, "c1")]
    big = _transfer("big", "adjustment", pool, member, 600)

    unheld = await _post(client, world, "manager", [big])
    too_long = await _post(
        client, world, "manager", [{**big, "flags": ["pending"], "timeout_seconds": 8 * 86400}]
    )
    own_post = await _post(
        client,
        world,
        "manager",
        [{**big, "flags": ["pending"]}, {"id": "big-post", "pending_id": "big", "flags": ["post_pending"]}],
    )

    assert [p["code"] for p in unheld.json()["transfers"]] == ["adjustment_needs_second_manager"]
    assert [p["code"] for p in too_long.json()["transfers"]] == ["adjustment_hold_too_long"]
    assert [(p["id"], p["code"]) for p in own_post.json()["transfers"]] == [("big-post", "maker_cannot_post")]
    held = await _post(client, world, "manager", [{**big, "flags": ["pending"]}])
    assert held.json()["created"] == 1, held.text
    async with session_maker() as session:
        stored = await session.get(Transfer, "big")
        assert (stored.timeout_seconds, stored.reason) == (7 * 86400, "correction")
    posted = await _post(
        client, world, "street_admin", [{"id": "big-post", "pending_id": "big", "flags": ["post_pending"]}]
    )
    assert posted.json()["created"] == 1, posted.text
    assert await balances(session_maker, member) == [(600, 0)]


async def test_adjustments_are_for_members_accounts_the_caller_sees(
    client: AsyncTestClient, world: World, funded: Places
) -> None:
    pool = funded.accounts[(K.community_pool, "c1")]

    not_a_member = await adjust(client, world, "manager", adjustment_body(pool, 10))
    unseen = await adjust(
        client, world, "manager", adjustment_body(funded.accounts[(K.member, "c2_home")], 10)
    )
    own = await adjust(client, world, "manager", adjustment_body(funded.own["manager"], 10))
    blank = await adjust(
        client, world, "manager", adjustment_body(funded.accounts[(K.member, "c1_home")], 10, memo=" ")
    )

    assert (not_a_member.status_code, not_a_member.json()["code"]) == (400, "not_a_member_account")
    assert (unseen.status_code, unseen.json()["code"]) == (404, "account_not_found")
    assert (own.status_code, own.json()["code"]) == (403, "own_account")
    assert blank.status_code == 400


# ---------------------------------------------------------------- the street's threshold


async def test_the_streets_admins_set_its_threshold(
    client: AsyncTestClient, world: World, funded: Places, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    street = world.areas["street"].id
    url = f"/api/ledger/streets/{street}/policy"
    r = await client.get(url, headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    assert (r.json()["adjustment_threshold"], r.json()["may_set"]) == (500, False)

    by_manager = await client.put(url, json={"adjustment_threshold": 5}, headers=world.auth("manager"))
    by_other_street = await client.put(
        url, json={"adjustment_threshold": 5}, headers=world.auth("street_admin_2")
    )
    negative = await client.put(url, json={"adjustment_threshold": -1}, headers=world.auth("street_admin"))
    assert (by_manager.status_code, by_manager.json()["code"]) == (403, "street_admin_required")
    assert (by_other_street.status_code, by_other_street.json()["code"]) == (403, "street_admin_required")
    assert negative.status_code == 400
    assert (await client.get(url, headers=world.auth("street_admin_2"))).status_code == 404

    r = await client.put(url, json={"adjustment_threshold": 1000}, headers=world.auth("street_admin"))
    assert r.status_code == 200, r.text
    assert (r.json()["adjustment_threshold"], r.json()["may_set"]) == (1000, True)
    r = await client.put(url, json={"adjustment_threshold": 900}, headers=world.auth("admin"))
    assert r.json()["adjustment_threshold"] == 900

    member = funded.accounts[(K.member, "c1_home")]
    at_once = await adjust(client, world, "manager", adjustment_body(member, 900))
    held = await adjust(client, world, "manager", adjustment_body(member, 901))
    assert (at_once.json()["flags"], held.json()["flags"]) == ([], ["pending"])
    # Another street keeps the default.
    r = await client.get(
        f"/api/ledger/streets/{world.areas['street_2'].id}/policy", headers=world.auth("admin")
    )
    assert r.json()["adjustment_threshold"] == 500
    assert await balances(session_maker, member) == [(900, 901)]

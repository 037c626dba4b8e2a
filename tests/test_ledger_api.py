"""The points ledger through the HTTP API.

Budgets flow street issuance → community pool; managers move points with adjustments (a reason
code and a memo; who may do what is tests/test_ledger_authority.py); members see their own
accounts, give gifts inside their community and download their statements. Every refusal changes
nothing, and the trial balance always balances.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.clock import FrozenClock
from market.ledger.engine import Draft
from market.ledger.models import Account, AccountKind, Asset, TransferCode
from market.ledger.service import area_account, member_account, transfer_one
from market.scheduler import jobs, run_job
from market.settings import Settings
from tests.world import World, add_neighbours, password_hash


@dataclass
class Books:
    """The accounts most tests need, created the way the service creates them: on demand."""

    issuance: int
    pool: int
    pool_c2: int
    members: dict[str, int]


@pytest.fixture
async def books(session_maker: async_sessionmaker[AsyncSession], world: World) -> Books:
    async with session_maker() as session, session.begin():
        issuance = await area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await area_account(session, world.areas["c1"], AccountKind.community_pool, Asset.service)
        pool_c2 = await area_account(session, world.areas["c2"], AccountKind.community_pool, Asset.service)
        members = {
            name: (await member_account(session, world.id(name))).id
            for name in ("resident", "resident_b", "resident_c2", "volunteer")
        }
    return Books(issuance.id, pool.id, pool_c2.id, members)


def budget(transfer_id: str, books: Books, amount: int, pool: int | None = None) -> dict[str, Any]:
    return {
        "id": transfer_id,
        "debit_account_id": books.issuance,
        "credit_account_id": pool or books.pool,
        "amount": amount,
        "code": "budget",
    }


def adjustment(transfer_id: str, debit: int, credit: int, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": transfer_id,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "code": "adjustment",
        "reason": "missed_reward",
        "memo": "volunteer day bonus",
        **extra,
    }


async def post_transfers(
    client: AsyncTestClient, world: World, who: str, *transfers: dict[str, Any]
) -> Response:
    return await client.post(
        "/api/ledger/transfers", json={"transfers": list(transfers)}, headers=world.auth(who)
    )


async def account(
    client: AsyncTestClient, world: World, account_id: int, who: str = "admin"
) -> dict[str, Any]:
    r = await client.get(f"/api/ledger/accounts/{account_id}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r.json()


async def balance(client: AsyncTestClient, world: World, account_id: int) -> int:
    return (await account(client, world, account_id))["balance"]


async def fund(client: AsyncTestClient, world: World, books: Books, pool: int = 10_000) -> None:
    """The street admin funds community 1's pool."""
    r = await post_transfers(client, world, "street_admin", budget("budget-fund", books, pool))
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


async def give(client: AsyncTestClient, world: World, books: Books, name: str, amount: int) -> None:
    r = await post_transfers(
        client, world, "manager", adjustment(f"give-{name}-{amount}", books.pool, books.members[name], amount)
    )
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


def assert_problem(r: Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    return body


async def assert_balanced(client: AsyncTestClient, world: World) -> None:
    r = await client.get("/api/ledger/trial-balance?journal=true", headers=world.auth("admin"))
    assert r.status_code == 200, r.text
    trial = r.json()
    assert trial["balanced"] is True, trial
    assert (trial["posted_sum"], trial["pending_sum"], trial["differences"]) == (0, 0, [])


# ---------------------------------------------------------------- budgets and batches


async def test_street_admin_funds_a_community_pool(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    r = await post_transfers(client, world, "street_admin", budget("budget-2024-q1", books, 5000))

    assert r.status_code == 200, r.text
    assert r.json() == {
        "results": [{"id": "budget-2024-q1", "result": "created", "field": None}],
        "created": 1,
        "failed": 0,
    }
    pool = await account(client, world, books.pool)
    assert (pool["balance"], pool["available"], pool["credits_posted"]) == (5000, 5000, 5000)
    assert await balance(client, world, books.issuance) == -5000
    r = await client.get("/api/ledger/transfers/budget-2024-q1", headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    assert r.json()["code"] == "budget" and r.json()["flags"] == []
    await assert_balanced(client, world)


async def test_a_transfer_id_is_its_idempotency_key(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    await post_transfers(client, world, "street_admin", budget("budget-once", books, 700))

    again = await post_transfers(client, world, "street_admin", budget("budget-once", books, 700))
    changed = await post_transfers(client, world, "street_admin", budget("budget-once", books, 800))

    assert again.json()["results"] == [{"id": "budget-once", "result": "exists", "field": None}]
    assert (again.json()["created"], again.json()["failed"]) == (0, 0)
    assert changed.json()["results"] == [
        {"id": "budget-once", "result": "exists_with_different_fields", "field": "amount"}
    ]
    assert changed.json()["failed"] == 1
    assert await balance(client, world, books.pool) == 700


async def test_a_batch_reports_each_transfer_on_its_own(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    # The adjustments below add up to more than the default threshold, which what one person
    # adjusts alone counts against; this street's is higher.
    street = world.areas["street"].id
    r = await client.put(
        f"/api/ledger/streets/{street}/policy",
        json={"adjustment_threshold": 5000},
        headers=world.auth("admin"),
    )
    assert r.status_code == 200, r.text
    r = await post_transfers(
        client,
        world,
        "admin",
        budget("b-ok", books, 100),
        adjustment("too-much", books.pool, books.members["resident"], 500),
        adjustment("no-such-account", books.pool, 999_999, 5),
        adjustment("chain-1", books.pool, books.members["resident"], 40, flags=["linked"]),
        adjustment("chain-2", books.pool, books.members["resident_b"], 400),
        adjustment("fits", books.pool, books.members["resident_b"], 60),
    )

    assert r.status_code == 200, r.text
    assert {x["id"]: x["result"] for x in r.json()["results"]} == {
        "b-ok": "created",
        "too-much": "exceeds_credits",
        "no-such-account": "account_not_found",
        "chain-1": "linked_event_failed",
        "chain-2": "exceeds_credits",
        "fits": "created",
    }
    assert (r.json()["created"], r.json()["failed"]) == (2, 4)
    assert await balance(client, world, books.pool) == 40
    assert await balance(client, world, books.members["resident"]) == 0
    assert await balance(client, world, books.members["resident_b"]) == 60
    assert (await client.get("/api/ledger/transfers/chain-1", headers=world.auth("admin"))).status_code == 404
    await assert_balanced(client, world)


async def _second_street(session_maker: async_sessionmaker[AsyncSession], world: World) -> None:
    async with session_maker() as session, session.begin():
        street = Area(code="110105002", name="Rainy Street", level=AreaLevel.street, parent_id=None)
        session.add(street)
        await session.flush()
        admin = User(
            phone="13800000002",
            name="Rainy Street Admin",
            password_hash=password_hash(),
            area_id=street.id,
            is_active=True,
            created_at=world.now,
            role_rows=[UserRole(role=Role.street_admin)],
        )
        session.add(admin)
    world.areas["street_2"], world.users["street_admin_2"] = street, admin


@pytest.mark.parametrize(
    ("who", "transfer", "why"),
    [
        ("manager", "budget", "role_may_not_transfer"),
        ("street_admin_2", "budget", "account_outside_your_area"),
        ("street_admin", "budget to a member", "accounts_not_for_this_code"),
        ("manager", "adjustment without memo", "adjustment_memo_required"),
        ("manager", "adjustment without reason", "adjustment_reason_required"),
        ("manager_c2", "adjustment", "account_outside_your_area"),
        ("grid_worker", "adjustment", "role_may_not_transfer"),
        ("admin", "service_reward", "code_made_by_the_service"),
        ("street_admin", "gift", "code_made_by_the_service"),
        ("manager", "redemption", "code_made_by_the_service"),
        ("manager", "reversal", "code_made_by_the_service"),
    ],
)
async def test_who_may_move_points(
    client: AsyncTestClient,
    world: World,
    books: Books,
    session_maker: async_sessionmaker[AsyncSession],
    who: str,
    transfer: str,
    why: str,
) -> None:
    await _second_street(session_maker, world)
    await fund(client, world, books)
    resident = books.members["resident"]
    refused = {
        "budget": budget("refused", books, 100),
        "budget to a member": budget("refused", books, 100, pool=resident),
        "adjustment without memo": adjustment("refused", books.pool, resident, 10, memo="  "),
        "adjustment without reason": adjustment("refused", books.pool, resident, 10, reason=None),
        "adjustment": adjustment("refused", books.pool, resident, 10),
        "service_reward": adjustment("refused", books.pool, resident, 10, code="service_reward"),
        "gift": adjustment("refused", books.pool, resident, 10, code="gift"),
        "redemption": adjustment("refused", books.pool, resident, 10, code="redemption"),
        "reversal": adjustment("refused", books.pool, resident, 10, code="reversal"),
    }[transfer]
    permitted = adjustment("permitted", books.pool, books.members["resident_b"], 10)

    r = await post_transfers(client, world, who, permitted, refused)

    body = assert_problem(r, 403, "transfer_not_permitted")
    codes = {p["id"]: p["code"] for p in body["transfers"]}
    assert codes["refused"] == why
    if who in ("manager", "street_admin", "admin"):  # they may make the other transfer
        assert list(codes) == ["refused"]
    # Nothing of the batch was applied, not even the transfer the caller may make.
    assert await balance(client, world, books.pool) == 10_000
    assert await balance(client, world, books.members["resident_b"]) == 0
    assert (
        await client.get("/api/ledger/transfers/permitted", headers=world.auth("admin"))
    ).status_code == 404


@pytest.mark.parametrize("who", ["manager", "street_admin", "admin"])
async def test_managers_adjust_inside_their_area(
    client: AsyncTestClient, world: World, books: Books, who: str
) -> None:
    await fund(client, world, books)

    r = await post_transfers(
        client, world, who, adjustment("adj-1", books.pool, books.members["volunteer"], 25)
    )

    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    assert await balance(client, world, books.members["volunteer"]) == 25
    r = await client.get("/api/ledger/transfers/adj-1", headers=world.auth(who))
    assert r.json()["memo"] == "volunteer day bonus"


@pytest.mark.parametrize(
    "code",
    [
        None,
        "adjustment",
    ],
)
@pytest.mark.parametrize("settle", ["void_pending", "post_pending"])
async def test_the_services_own_pending_transfers_cannot_be_settled_by_hand(
    client: AsyncTestClient,
    world: World,
    books: Books,
    session_maker: async_sessionmaker[AsyncSession],
    settle: str,
    code: str | None,
) -> None:
    await fund(client, world, books)
    await give(client, world, books, "resident", 100)
    # The hold a redemption puts on a member's points, as the rewards service makes it.
    async with session_maker() as session, session.begin():
        sink = await area_account(session, world.areas["street"], AccountKind.redemption_sink, Asset.service)
        hold = Draft(
            id="~redemption:7",
            debit_account_id=books.members["resident"],
            credit_account_id=sink.id,
            amount=30,
            code=TransferCode.redemption,
            pending=True,
        )
        assert (await transfer_one(session, hold, world.now, world.settings.tz)).result == "created"
    settlement = {"id": "by-hand", "pending_id": "~redemption:7", "flags": [settle], "memo": "picked up"}
    if code is not None:
        settlement["code"] = code

    r = await post_transfers(client, world, "street_admin", settlement)

    assert_problem(r, 403, "transfer_not_permitted")
    held = await account(client, world, books.members["resident"])
    assert (held["balance"], held["pending_out"]) == (100, 30)


@pytest.mark.parametrize("who", ["resident", "volunteer", "unit_admin"])
async def test_people_without_a_manager_role_move_no_points(
    client: AsyncTestClient, world: World, books: Books, who: str
) -> None:
    r = await post_transfers(client, world, who, budget("b", books, 100))

    assert_problem(r, 403, "role_required")
    assert await balance(client, world, books.pool) == 0


async def test_a_client_cannot_use_the_reserved_transfer_ids(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    r = await post_transfers(client, world, "street_admin", budget("~reward:order:1", books, 100))

    assert r.status_code == 400, r.text
    assert await balance(client, world, books.pool) == 0


# ---------------------------------------------------------------- reading accounts


async def test_a_member_sees_only_their_own_accounts(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    me = world.id("resident")

    r = await client.get(f"/api/ledger/accounts?user_id={me}", headers=world.auth("resident"))
    everything = await client.get("/api/ledger/accounts", headers=world.auth("resident"))
    others = await client.get(
        f"/api/ledger/accounts?user_id={world.id('resident_b')}", headers=world.auth("resident")
    )

    assert r.status_code == 200, r.text
    # Both assets: the service points account and the credit record, made on the first look.
    assert sorted((a["asset"], a["kind"], a["user_id"]) for a in r.json()["items"]) == [
        ("credit", "member", me),
        ("service", "member", me),
    ]
    assert everything.json()["total"] == 2
    assert {a["user_id"] for a in everything.json()["items"]} == {me}
    assert others.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}
    for account_id in (books.pool, books.members["resident_b"], books.issuance):
        r = await client.get(f"/api/ledger/accounts/{account_id}", headers=world.auth("resident"))
        assert_problem(r, 404, "account_not_found")
        r = await client.get(f"/api/ledger/accounts/{account_id}/entries", headers=world.auth("resident"))
        assert_problem(r, 404, "account_not_found")


async def test_a_manager_sees_the_accounts_of_their_area(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    r = await client.get("/api/ledger/accounts?limit=100", headers=world.auth("manager"))

    assert r.status_code == 200, r.text
    seen = {a["id"] for a in r.json()["items"]}
    c1 = {books.pool, books.members["resident"], books.members["resident_b"], books.members["volunteer"]}
    assert seen == c1
    r = await client.get("/api/ledger/accounts?limit=100", headers=world.auth("street_admin"))
    assert {a["id"] for a in r.json()["items"]} == c1 | {
        books.issuance,
        books.pool_c2,
        books.members["resident_c2"],
    }
    r = await client.get("/api/ledger/accounts?kind=community_pool", headers=world.auth("street_admin"))
    assert [a["id"] for a in r.json()["items"]] == sorted([books.pool, books.pool_c2])
    r = await client.get(f"/api/ledger/accounts/{books.pool_c2}", headers=world.auth("manager"))
    assert_problem(r, 404, "account_not_found")
    r = await client.get(f"/api/ledger/accounts/{books.pool}", headers=world.auth("manager"))
    assert r.json()["owner_name"] == "Community 1 community pool"


async def test_balances_show_posted_pending_and_available(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    await fund(client, world, books, pool=1000)
    member = books.members["volunteer"]
    await give(client, world, books, "volunteer", 100)
    r = await post_transfers(
        client,
        world,
        "manager",
        adjustment("hold-1", books.pool, member, 300, flags=["pending"], timeout_seconds=3600),
        adjustment("hold-2", books.pool, member, 50, flags=["pending"]),
    )
    assert r.json()["created"] == 2, r.text

    pool, mine = await account(client, world, books.pool), await account(client, world, member, "volunteer")

    assert (pool["balance"], pool["pending_out"], pool["available"]) == (900, 350, 550)
    assert (mine["balance"], mine["pending_in"], mine["available"]) == (100, 350, 100)

    # A second manager posts a pending adjustment; its maker may void it.
    r = await post_transfers(
        client,
        world,
        "street_admin",
        {
            "id": "hold-1-post",
            "pending_id": "hold-1",
            "amount": 200,
            "flags": ["post_pending"],
            "memo": "200 of 300",
        },
    )
    assert r.json()["created"] == 1, r.text
    r = await post_transfers(
        client,
        world,
        "manager",
        {"id": "hold-2-void", "pending_id": "hold-2", "flags": ["void_pending"], "memo": "not earned"},
    )
    assert r.json()["created"] == 1, r.text

    pool, mine = await account(client, world, books.pool), await account(client, world, member, "volunteer")
    assert (pool["balance"], pool["pending_out"], pool["available"]) == (700, 0, 700)
    assert (mine["balance"], mine["pending_in"], mine["available"]) == (300, 0, 300)
    assert (mine["debits_posted"], mine["credits_posted"], mine["expiring"]) == (0, 300, [])
    r = await client.get("/api/ledger/transfers/hold-1", headers=world.auth("manager"))
    assert r.json()["pending_status"] == "posted"
    await assert_balanced(client, world)


# ---------------------------------------------------------------- statements


async def _five_entries(client: AsyncTestClient, world: World, books: Books, clock: FrozenClock) -> list[str]:
    await fund(client, world, books)
    ids = []
    for i in range(5):
        clock.advance(timedelta(minutes=1))
        ids.append(f"adj-{i}")
        r = await post_transfers(
            client,
            world,
            "manager",
            adjustment(f"adj-{i}", books.pool, books.members["resident"], 10 + i, memo=f"社区服务 {i}"),
        )
        assert r.json()["created"] == 1, r.text
    return ids[::-1]  # newest first


async def test_entries_page_newest_first(
    client: AsyncTestClient, world: World, books: Books, clock: FrozenClock
) -> None:
    newest_first = await _five_entries(client, world, books, clock)
    url = f"/api/ledger/accounts/{books.members['resident']}/entries"

    pages = [
        (await client.get(f"{url}?limit=2&offset={offset}", headers=world.auth("resident"))).json()
        for offset in (0, 2, 4)
    ]

    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [e["transfer_id"] for p in pages for e in p["items"]] == newest_first
    first = pages[0]["items"][0]
    assert (first["code"], first["side"], first["amount"], first["status"]) == (
        "adjustment",
        "credit",
        14,
        "posted",
    )
    assert first["counterparty_account_id"] == books.pool
    assert first["memo"] == "社区服务 4"
    r = await client.get(f"{url}?code=budget", headers=world.auth("resident"))
    assert r.json()["total"] == 0
    middle = pages[1]["items"][0]["timestamp"]  # adj-2
    r = await client.get(url, params={"since": middle}, headers=world.auth("resident"))
    assert [e["transfer_id"] for e in r.json()["items"]] == newest_first[:3]
    r = await client.get(url, params={"until": middle}, headers=world.auth("resident"))
    assert [e["transfer_id"] for e in r.json()["items"]] == newest_first[3:]
    r = await client.get(
        f"/api/ledger/accounts/{books.pool}/entries?limit=100", headers=world.auth("manager")
    )
    assert [(e["side"], e["code"]) for e in r.json()["items"]] == [("debit", "adjustment")] * 5 + [
        ("credit", "budget")
    ]


async def test_entries_download_as_csv(
    client: AsyncTestClient, world: World, books: Books, clock: FrozenClock
) -> None:
    newest_first = await _five_entries(client, world, books, clock)
    member = books.members["resident"]

    r = await client.get(
        f"/api/ledger/accounts/{member}/entries?format=csv&limit=1", headers=world.auth("resident")
    )

    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="account-{member}-statement.csv"'
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    # A download holds every entry, not one page.
    assert [row["transfer_id"] for row in rows] == newest_first
    assert list(rows[0]) == [
        "timestamp",
        "transfer_id",
        "code",
        "side",
        "amount",
        "status",
        "counterparty",
        "reference",
        "memo",
    ]
    assert (rows[0]["code"], rows[0]["side"], rows[0]["amount"], rows[0]["memo"]) == (
        "adjustment",
        "credit",
        "14",
        "社区服务 4",
    )
    assert rows[0]["counterparty"] == "Community 1 community pool"


async def test_the_csv_download_names_its_charset_once(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    r = await client.get(
        f"/api/ledger/accounts/{books.members['resident']}/entries?format=csv", headers=world.auth("resident")
    )

    assert r.headers["content-type"] == "text/csv; charset=utf-8"


async def test_entries_download_as_xlsx(
    client: AsyncTestClient, world: World, books: Books, clock: FrozenClock
) -> None:
    newest_first = await _five_entries(client, world, books, clock)
    member = books.members["resident"]

    r = await client.get(f"/api/ledger/accounts/{member}/entries?format=xlsx", headers=world.auth("manager"))

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"] == f'attachment; filename="account-{member}-statement.xlsx"'
    sheet = load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert sheet.title == "statement"
    assert rows[0][:5] == ("timestamp", "transfer_id", "code", "side", "amount")
    assert [row[1] for row in rows[1:]] == newest_first
    assert (rows[1][4], rows[1][8]) == (14, "社区服务 4")


async def test_statements_of_other_people_cannot_be_downloaded(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    for fmt in ("csv", "xlsx"):
        r = await client.get(
            f"/api/ledger/accounts/{books.members['resident']}/entries?format={fmt}",
            headers=world.auth("resident_b"),
        )
        assert_problem(r, 404, "account_not_found")


# ---------------------------------------------------------------- reversals


async def test_a_transfer_is_reversed_once(client: AsyncTestClient, world: World, books: Books) -> None:
    await fund(client, world, books, pool=1000)
    await give(client, world, books, "volunteer", 100)
    original = "give-volunteer-100"

    r = await client.post(
        f"/api/ledger/transfers/{original}/reverse",
        json={"reason": "wrong person"},
        headers=world.auth("manager"),
    )

    assert r.status_code == 201, r.text
    reversal = r.json()
    assert (reversal["code"], reversal["reversal_of"], reversal["amount"]) == ("reversal", original, 100)
    assert (reversal["debit_account_id"], reversal["credit_account_id"]) == (
        books.members["volunteer"],
        books.pool,
    )
    assert reversal["memo"] == "wrong person"
    assert await balance(client, world, books.members["volunteer"]) == 0
    assert await balance(client, world, books.pool) == 1000

    again = await client.post(
        f"/api/ledger/transfers/{original}/reverse", json={"reason": "again"}, headers=world.auth("manager")
    )
    assert_problem(again, 409, "already_reversed")
    of_reversal = await client.post(
        f"/api/ledger/transfers/{reversal['id']}/reverse",
        json={"reason": "undo"},
        headers=world.auth("admin"),
    )
    assert_problem(of_reversal, 409, "not_reversible")
    assert await balance(client, world, books.pool) == 1000
    await assert_balanced(client, world)


async def test_reversing_points_already_spent_is_refused(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    await fund(client, world, books, pool=1000)
    await give(client, world, books, "resident", 100)
    r = await client.post(
        "/api/ledger/gifts",
        json={"to_user_id": world.id("resident_b"), "amount": 80},
        headers=world.auth("resident"),
    )
    assert r.status_code == 201, r.text

    r = await client.post(
        "/api/ledger/transfers/give-resident-100/reverse",
        json={"reason": "mistake"},
        headers=world.auth("manager"),
    )

    assert_problem(r, 409, "exceeds_credits")
    assert await balance(client, world, books.members["resident"]) == 20
    assert await balance(client, world, books.pool) == 900
    r = await client.get("/api/ledger/transfers/~reversal:give-resident-100", headers=world.auth("admin"))
    assert r.status_code == 404


async def test_reversal_is_for_managers_of_both_accounts(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    await fund(client, world, books)

    outside = await client.post(
        "/api/ledger/transfers/budget-fund/reverse", json={"reason": "x"}, headers=world.auth("manager_c2")
    )
    resident = await client.post(
        "/api/ledger/transfers/budget-fund/reverse", json={"reason": "x"}, headers=world.auth("resident")
    )
    missing = await client.post(
        "/api/ledger/transfers/nope/reverse", json={"reason": "x"}, headers=world.auth("admin")
    )

    assert_problem(outside, 404, "transfer_not_found")
    assert_problem(resident, 403, "role_required")
    assert_problem(missing, 404, "transfer_not_found")
    assert await balance(client, world, books.pool) == 10_000


async def test_a_transfer_with_the_longest_id_can_be_reversed(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    long_id = "b" * 60
    await post_transfers(client, world, "street_admin", budget(long_id, books, 100))

    r = await client.post(
        f"/api/ledger/transfers/{long_id}/reverse",
        json={"reason": "typo"},
        headers=world.auth("street_admin"),
    )

    assert r.status_code == 201, r.text
    assert await balance(client, world, books.pool) == 0


# ---------------------------------------------------------------- trial balance


async def test_trial_balance_balances_after_every_kind_of_flow(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    await fund(client, world, books, pool=1000)
    await post_transfers(client, world, "street_admin", budget("budget-c2", books, 300, pool=books.pool_c2))
    await give(client, world, books, "resident", 200)
    await post_transfers(
        client,
        world,
        "manager",
        adjustment("hold", books.pool, books.members["volunteer"], 70, flags=["pending"]),
    )
    await client.post(
        "/api/ledger/gifts",
        json={"to_user_id": world.id("resident_b"), "amount": 30},
        headers=world.auth("resident"),
    )
    await client.post(
        "/api/ledger/transfers/give-resident-200/reverse", json={"reason": "x"}, headers=world.auth("manager")
    )

    r = await client.get("/api/ledger/trial-balance?journal=true", headers=world.auth("street_admin"))

    assert r.status_code == 200, r.text
    trial = r.json()
    assert trial["balanced"] is True, trial
    assert (trial["posted_sum"], trial["pending_sum"], trial["differences"]) == (0, 0, [])
    assert trial["transfers"] == 5  # the reversal was refused: 170 of the 200 are left
    assert trial["accounts"] >= 6
    assert_problem(
        await client.get("/api/ledger/trial-balance", headers=world.auth("resident")), 403, "role_required"
    )


async def test_the_trial_balance_reads_the_counters_and_the_daily_check_reads_the_journal(
    client: AsyncTestClient,
    world: World,
    books: Books,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    settings: Settings,
) -> None:
    await fund(client, world, books, pool=1000)
    await give(client, world, books, "resident", 200)
    check = jobs(settings)["check_journal"][0]
    assert (await run_job(session_maker, clock, "check_journal", check)).outcome == "succeeded"
    # A counter that no transfer explains: moved with the sum over all accounts still zero.
    member = books.members["resident"]
    async with session_maker() as session, session.begin():
        await session.execute(
            update(Account).where(Account.id == member).values(credits_posted=Account.credits_posted + 5)
        )
        await session.execute(
            update(Account).where(Account.id == books.pool).values(credits_posted=Account.credits_posted - 5)
        )

    counters = (await client.get("/api/ledger/trial-balance", headers=world.auth("admin"))).json()
    checked = (await client.get("/api/ledger/trial-balance?journal=true", headers=world.auth("admin"))).json()

    assert (counters["balanced"], counters["transfers"], counters["differences"]) == (True, None, None)
    assert checked["balanced"] is False
    assert {(d["account_id"], d["field"]) for d in checked["differences"]} == {
        (member, "credits_posted"),
        (books.pool, "credits_posted"),
    }
    run = await run_job(session_maker, clock, "check_journal", check)
    assert run.outcome == "failed"
    assert f"service:member:user:{world.id('resident')} credits_posted" in run.error


# ---------------------------------------------------------------- points policy


POLICY = {
    "rates": {"escort": 12, "legal": 30},
    "default_rate": 8,
    "daily_cap": 50,
    "monthly_cap": 400,
    "expiry": "months",
    "expiry_months": 12,
    "gift_max": 100,
    "gift_monthly_max": 300,
}


async def test_a_community_policy_starts_at_the_defaults(client: AsyncTestClient, world: World) -> None:
    c1 = world.areas["c1"].id

    r = await client.get(f"/api/ledger/policies/{c1}", headers=world.auth("resident"))

    assert r.status_code == 200, r.text
    assert r.json() == {
        "rates": {},
        "default_rate": 10,
        "daily_cap": 100,
        "monthly_cap": 1000,
        "expiry": "none",
        "expiry_months": None,
        "gift_max": 200,
        "gift_monthly_max": 500,
        "community_id": c1,
    }
    for area in ("street", "c1_grid"):
        r = await client.get(f"/api/ledger/policies/{world.areas[area].id}", headers=world.auth("resident"))
        assert_problem(r, 404, "community_not_found")


@pytest.mark.parametrize("who", ["manager", "street_admin", "admin"])
async def test_the_communitys_managers_set_its_policy(
    client: AsyncTestClient, world: World, who: str
) -> None:
    c1 = world.areas["c1"].id

    r = await client.put(f"/api/ledger/policies/{c1}", json=POLICY, headers=world.auth(who))

    assert r.status_code == 200, r.text
    assert r.json() == {**POLICY, "community_id": c1}
    r = await client.get(f"/api/ledger/policies/{c1}", headers=world.auth("volunteer"))
    assert r.json() == {**POLICY, "community_id": c1}
    r = await client.put(f"/api/ledger/policies/{c1}", json={"default_rate": 5}, headers=world.auth(who))
    assert (r.json()["default_rate"], r.json()["expiry"], r.json()["rates"]) == (5, "none", {})


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("manager_c2", 403, "manager_required"),
        ("grid_worker", 403, "manager_required"),
        ("resident", 403, "role_required"),
        ("unit_admin", 403, "role_required"),
    ],
)
async def test_nobody_else_sets_a_policy(
    client: AsyncTestClient, world: World, who: str, status: int, code: str
) -> None:
    c1 = world.areas["c1"].id

    r = await client.put(f"/api/ledger/policies/{c1}", json=POLICY, headers=world.auth(who))

    assert_problem(r, status, code)
    r = await client.get(f"/api/ledger/policies/{c1}", headers=world.auth("manager"))
    assert r.json()["default_rate"] == 10


async def test_a_policy_is_checked(client: AsyncTestClient, world: World) -> None:
    c1 = world.areas["c1"].id

    no_months = await client.put(
        f"/api/ledger/policies/{c1}", json={"expiry": "months"}, headers=world.auth("manager")
    )
    negative = await client.put(
        f"/api/ledger/policies/{c1}", json={"daily_cap": -1}, headers=world.auth("manager")
    )
    unknown = await client.put(f"/api/ledger/policies/{c1}", json={"bonus": 1}, headers=world.auth("manager"))

    # Ten times the defaults at most: no manager sets a reward of a billion points.
    for field, too_much in (
        ("default_rate", 101),
        ("rates", {"escort": 101}),
        ("daily_cap", 1001),
        ("monthly_cap", 10_001),
        ("gift_max", 2001),
        ("gift_monthly_max", 5001),
    ):
        r = await client.put(
            f"/api/ledger/policies/{c1}", json={field: too_much}, headers=world.auth("manager")
        )
        assert r.status_code == 400, (field, r.text)
    r = await client.put(
        f"/api/ledger/policies/{c1}",
        json={"default_rate": 100, "daily_cap": 1000},
        headers=world.auth("manager"),
    )
    assert r.status_code == 200, r.text
    r = await client.put(f"/api/ledger/policies/{c1}", json={}, headers=world.auth("manager"))
    assert_problem(no_months, 400, "expiry_months_required")
    assert negative.status_code == 400 and unknown.status_code == 400
    r = await client.get(f"/api/ledger/policies/{c1}", headers=world.auth("manager"))
    assert r.json()["expiry"] == "none"


# ---------------------------------------------------------------- gifts


async def gift(client: AsyncTestClient, world: World, sender: str, to: str, amount: int) -> Response:
    return await client.post(
        "/api/ledger/gifts",
        json={"to_user_id": world.id(to), "amount": amount, "memo": "谢谢"},
        headers=world.auth(sender),
    )


async def test_a_member_gives_points_to_a_neighbour(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    await fund(client, world, books)
    await give(client, world, books, "resident", 150)

    r = await gift(client, world, "resident", "resident_b", 60)

    assert r.status_code == 201, r.text
    assert (r.json()["code"], r.json()["amount"], r.json()["memo"]) == ("gift", 60, "谢谢")
    assert (r.json()["debit_account_id"], r.json()["credit_account_id"]) == (
        books.members["resident"],
        books.members["resident_b"],
    )
    assert await balance(client, world, books.members["resident"]) == 90
    assert await balance(client, world, books.members["resident_b"]) == 60
    await assert_balanced(client, world)


@pytest.mark.parametrize(
    ("to", "amount", "status", "code"),
    [
        ("resident", 10, 400, "gift_to_self"),
        ("resident_c2", 10, 403, "outside_your_community"),
        ("resident_b", 201, 400, "gift_too_large"),
        ("resident_b", 151, 409, "exceeds_credits"),
    ],
)
async def test_gifts_that_are_refused(
    client: AsyncTestClient, world: World, books: Books, to: str, amount: int, status: int, code: str
) -> None:
    await fund(client, world, books)
    await give(client, world, books, "resident", 150)

    r = await gift(client, world, "resident", to, amount)

    assert_problem(r, status, code)
    assert await balance(client, world, books.members["resident"]) == 150
    r = await client.get(
        f"/api/ledger/accounts/{books.members['resident']}/entries", headers=world.auth("resident")
    )
    assert [e["code"] for e in r.json()["items"]] == ["adjustment"]


async def test_gifts_are_limited_per_month_by_the_policy(
    client: AsyncTestClient, world: World, books: Books, clock: FrozenClock
) -> None:
    await client.put(
        f"/api/ledger/policies/{world.areas['c1'].id}",
        json={"gift_max": 50, "gift_monthly_max": 90},
        headers=world.auth("manager"),
    )
    await fund(client, world, books)
    await give(client, world, books, "resident", 500)

    assert_problem(await gift(client, world, "resident", "resident_b", 51), 400, "gift_too_large")
    assert (await gift(client, world, "resident", "resident_b", 50)).status_code == 201
    assert (await gift(client, world, "resident", "volunteer", 40)).status_code == 201
    over = await gift(client, world, "resident", "resident_b", 1)
    assert_problem(over, 409, "gift_limit_reached")
    # Gifts received do not count against the receiver's own limit.
    assert (await gift(client, world, "resident_b", "resident", 50)).status_code == 201

    clock.advance(timedelta(days=32))
    assert (await gift(client, world, "resident", "resident_b", 50)).status_code == 201
    assert await balance(client, world, books.members["resident"]) == 500 - 140 + 50


async def test_a_member_without_a_community_cannot_give(
    client: AsyncTestClient, world: World, books: Books
) -> None:
    r = await gift(client, world, "admin", "resident", 1)

    assert_problem(r, 403, "outside_your_community")


# ---------------------------------------------------------------- the trial balance


async def test_the_trial_balance_is_for_street_admins_of_their_street_and_admins(
    client: AsyncTestClient, world: World, books: Books, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
        await member_account(session, world.id("resident_s2"))
    for who in ("manager", "grid_worker", "resident", "volunteer", "unit_admin"):
        r = await client.get("/api/ledger/trial-balance", headers=world.auth(who))
        assert_problem(r, 403, "role_required")
    everything = await client.get("/api/ledger/trial-balance?journal=true", headers=world.auth("admin"))
    street = await client.get("/api/ledger/trial-balance?journal=true", headers=world.auth("street_admin"))
    other = await client.get("/api/ledger/trial-balance", headers=world.auth("street_admin_s2"))
    assert all(r.status_code == 200 for r in (everything, street, other)), street.text
    assert other.json()["accounts"] == 1 and other.json()["balanced"] is True
    assert street.json()["accounts"] == everything.json()["accounts"] - 1
    assert street.json()["balanced"] is True

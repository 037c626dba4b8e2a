"""Spreadsheet downloads (market/exports.py): text that would be a formula stays text, and a
statement of any length is streamed whole.

A member's gift memo `=HYPERLINK(...)` became a live formula in the Excel statement a manager
downloads (CSV injection); statements were built whole in memory before the first byte was sent.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.service import load_actor
from market.exports import cell, cells
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, TransferCode
from market.ledger.schemas import Entry
from tests.world import World

HYPERLINK = '=HYPERLINK("http://x","y")'
DANGEROUS = [HYPERLINK, "+1+2", "-3+4", "@SUM(A1:A2)", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_would_start_a_formula_is_quoted(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize("value", ["谢谢", "a=b", " =1", "", "'quoted", 14, -3, 0, 2.5, None])
def test_everything_else_is_left_as_it_is(value: object) -> None:
    assert cell(value) == value


@pytest.mark.parametrize(
    ("text", "written"), [("a\x01b", "a b"), ("\x1b[31m", " [31m"), ("x\x0b\x0cy", "x  y")]
)
def test_control_characters_an_excel_file_cannot_hold_are_spaces(text: str, written: str) -> None:
    assert cell(text) == written


PLAIN_ROW = ["2025-03-01T10:00:00+00:00", "gift:1", "gift", "credit", 5, None, "谢谢", "a=b", "", " =1"]


def test_a_batch_of_plain_cells_is_written_as_it_is() -> None:
    rows = [PLAIN_ROW, ["line one\nline two", 2.5, -3, "'quoted"]]
    assert cells(rows) is rows


@pytest.mark.parametrize("text", [*DANGEROUS, "a\x01b", "\x1b[31m", "x\x0b\x0cy"])
@pytest.mark.parametrize("where", [0, 5, 9])
def test_a_batch_with_any_cell_to_change_goes_cell_by_cell(text: str, where: int) -> None:
    """Wherever the cell is, first or last, in the first row or a later one."""
    row = list(PLAIN_ROW)
    row[where] = text
    rows = [PLAIN_ROW, row]
    assert cells(rows) == [[cell(v) for v in r] for r in rows]
    assert cells(rows)[1][where] != text


async def test_an_old_memo_with_a_control_character_still_downloads(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    """Text is refused with control characters now; what was stored before still exports."""
    pool, members = await pool_and_members(session_maker, world, 0)
    async with session_maker() as session, session.begin():
        drafts = [Draft("old", pool, members["resident"], 5, TransferCode.adjustment, memo="bell\x07 rang")]
        (result,) = await ledger.transfer(session, drafts, world.now, world.settings.tz)
        assert result.result == "created"
    r = await client.post(
        "/api/ledger/gifts",
        json={"to_user_id": world.id("resident_b"), "amount": 1, "memo": "bell\x07 rang"},
        headers=world.auth("resident"),
    )
    assert r.status_code == 400, r.text

    sheet = load_workbook(
        io.BytesIO((await statement(client, world, members["resident"], "xlsx")).content)
    ).active
    header = [c.value for c in sheet[1]]
    assert [row[header.index("memo")].value for row in sheet.iter_rows(min_row=2)] == ["bell  rang"]
    rows = csv_rows((await statement(client, world, members["resident"], "csv")).content)
    assert [row["memo"] for row in rows] == ["bell  rang"]


async def statement(client: AsyncTestClient, world: World, account: int, fmt: str, who: str = "manager"):
    r = await client.get(f"/api/ledger/accounts/{account}/entries?format={fmt}", headers=world.auth(who))
    assert r.status_code == 200, r.text
    return r


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


async def pool_and_members(
    session_maker: async_sessionmaker[AsyncSession], world: World, points: int
) -> tuple[int, dict[str, int]]:
    """Community 1's pool, funded, and the member accounts; `points` for the resident."""
    async with session_maker() as session, session.begin():
        street = world.areas["street"]
        issuance = await ledger.area_account(session, street, AccountKind.street_issuance, Asset.service)
        pool = await ledger.area_account(
            session, world.areas["c1"], AccountKind.community_pool, Asset.service
        )
        members = {
            name: (await ledger.member_account(session, world.id(name))).id
            for name in ("resident", "resident_b", "volunteer")
        }
        drafts = [Draft("fund", issuance.id, pool.id, 100_000, TransferCode.budget)]
        if points:
            drafts.append(Draft("give", pool.id, members["resident"], points, TransferCode.adjustment))
        results = await ledger.transfer(session, drafts, world.now - timedelta(days=1), world.settings.tz)
        assert {r.result for r in results} == {"created"}
    return pool.id, members


async def test_a_gift_memo_is_no_formula_in_either_download(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    _, members = await pool_and_members(session_maker, world, 150)
    for i, memo in enumerate(DANGEROUS):
        r = await client.post(
            "/api/ledger/gifts",
            json={"to_user_id": world.id("resident_b"), "amount": 10 + i, "memo": memo},
            headers=world.auth("resident"),
        )
        assert r.status_code == 201, r.text
    account = members["resident_b"]

    rows = csv_rows((await statement(client, world, account, "csv")).content)
    assert sorted(row["memo"] for row in rows) == sorted("'" + memo for memo in DANGEROUS)
    assert {row["amount"] for row in rows} == {str(10 + i) for i in range(len(DANGEROUS))}

    sheet = load_workbook(io.BytesIO((await statement(client, world, account, "xlsx")).content)).active
    header = [c.value for c in sheet[1]]
    memos = [row[header.index("memo")] for row in sheet.iter_rows(min_row=2)]
    amounts = [row[header.index("amount")] for row in sheet.iter_rows(min_row=2)]
    # XML keeps no carriage return: it reads back as a line feed, after the quote all the same.
    assert sorted(c.value for c in memos) == sorted("'" + memo.replace("\r", "\n") for memo in DANGEROUS)
    # Text cells, not formulas; the amounts still numbers.
    assert {c.data_type for c in memos} == {"s"}
    assert {c.data_type for c in amounts} == {"n"} and {c.value for c in amounts} == set(range(10, 16))


async def test_a_long_statement_downloads_whole_and_as_listed(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    """More entries than one batch of the server-side cursor: every one, in order, as the JSON
    statement lists them."""
    count = 1_234
    pool, members = await pool_and_members(session_maker, world, 0)
    async with session_maker() as session, session.begin():
        drafts = [
            Draft(
                id=f"many-{i:05d}",
                debit_account_id=pool,
                credit_account_id=members["volunteer"],
                amount=1 + i % 7,
                code=TransferCode.adjustment,
                memo=f"entry {i}" if i % 100 else "-minus, quoted",
            )
            for i in range(count)
        ]
        for start in range(0, count, 500):
            moment = world.now - timedelta(minutes=count - start)
            results = await ledger.transfer(session, drafts[start : start + 500], moment, world.settings.tz)
            assert {r.result for r in results} == {"created"}
    account = members["volunteer"]
    async with session_maker() as session:
        manager = await load_actor(session, world.id("manager"))
        assert manager is not None
        listed, total = await ledger.entries(
            session, manager, account, code=None, since=None, until=None, limit=count + 10, offset=0
        )
        # Read a batch at a time, each as the listing has it.
        batches = [
            batch
            async for batch in ledger.stream_entries(
                session, manager, account, code=None, since=None, until=None, batch=100
            )
        ]
    assert total == count and len(listed) == count
    assert [len(b) for b in batches] == [100] * 12 + [34]
    assert [e for b in batches for e in b] == listed

    def expected(e: Entry) -> list[str]:
        return [
            e.timestamp.isoformat(),
            e.transfer_id,
            str(e.code),
            e.side,
            str(e.amount),
            e.status,
            e.counterparty,
            e.reference,
            str(cell(e.memo)),
        ]

    rows = csv_rows((await statement(client, world, account, "csv")).content)
    assert [list(row.values()) for row in rows] == [expected(e) for e in listed]
    assert rows[0]["transfer_id"] == "many-01233" and rows[-1]["transfer_id"] == "many-00000"
    assert sum(row["memo"] == "'-minus, quoted" for row in rows) == 13

    sheet = load_workbook(io.BytesIO((await statement(client, world, account, "xlsx")).content)).active
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    # Excel keeps no empty text: an empty reference reads back as no value.
    assert [["" if v is None else str(v) for v in row] for row in values] == [expected(e) for e in listed]


async def test_a_members_statement_masks_other_members_names_unless_the_reader_manages_them(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    _, members = await pool_and_members(session_maker, world, 100)
    r = await client.post(
        "/api/ledger/gifts",
        json={"to_user_id": world.id("resident_b"), "amount": 10, "memo": "thanks"},
        headers=world.auth("resident"),
    )
    assert r.status_code == 201, r.text
    account = members["resident_b"]

    own = await client.get(f"/api/ledger/accounts/{account}/entries", headers=world.auth("resident_b"))
    managed = await client.get(f"/api/ledger/accounts/{account}/entries", headers=world.auth("manager"))
    downloaded = csv_rows((await statement(client, world, account, "csv", who="resident_b")).content)
    sheet = load_workbook(
        io.BytesIO((await statement(client, world, account, "xlsx", who="resident_b")).content)
    ).active
    header = [c.value for c in sheet[1]]

    assert [e["counterparty"] for e in own.json()["items"]] == ["R*******"]
    assert [e["counterparty"] for e in managed.json()["items"]] == ["Resident"]
    assert [row["counterparty"] for row in downloaded] == ["R*******"]
    assert [row[header.index("counterparty")].value for row in sheet.iter_rows(min_row=2)] == ["R*******"]
    # The pool that paid the resident is named whole on their own statement.
    mine = await client.get(
        f"/api/ledger/accounts/{members['resident']}/entries", headers=world.auth("resident")
    )
    assert sorted(e["counterparty"] for e in mine.json()["items"]) == [
        "Community 1 community pool",
        "R*********",
    ]

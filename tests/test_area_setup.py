"""Setting a street up from nothing: areas made through the API open their ledger accounts, so a
street can fund its pools and rewards get paid; renaming areas; importing the area tree from a
spreadsheet (every refusal, re-import changing nothing, scope); funding a pool once per request."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import imports
from market.areas.models import Area
from market.ledger import service as ledger
from market.ledger.models import Account, AccountKind, Asset, OwedReward, OwedStatus, TransferCode
from tests.test_authorization import assert_problem
from tests.world import World

TZ = ZoneInfo("Asia/Shanghai")
HEADINGS = ["编码", "名称", "上级编码"]


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv(rows: list[list[str]]) -> bytes:
    return "\n".join(",".join(row) for row in rows).encode()


async def upload(
    client: AsyncTestClient, world: World, who: str, data: bytes, *, dry_run: bool, name: str = "tree.xlsx"
) -> Response:
    return await client.post(
        "/api/areas/import",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, data, "application/octet-stream")},
        headers=world.auth(who),
    )


async def snapshot(session_maker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, int | None]]:
    async with session_maker() as session:
        rows = await session.execute(select(Area.code, Area.name, Area.parent_id).order_by(Area.code))
        return [tuple(r) for r in rows.all()]


async def accounts_of(session_maker: async_sessionmaker[AsyncSession], area_id: int) -> set[str]:
    async with session_maker() as session:
        return set(await session.scalars(select(Account.key).where(Account.area_id == area_id)))


# ---------------------------------------------------------------- accounts


async def test_a_street_made_through_the_api_can_fund_its_pools_and_pay_rewards(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    r = await client.post(
        "/api/areas", json={"name": "North", "code": "110105009"}, headers=world.auth("admin")
    )
    street = r.json()["id"]
    assert await accounts_of(session_maker, street) == {
        f"service:street_issuance:area:{street}",
        f"service:redemption_sink:area:{street}",
        f"service:expiry_sink:area:{street}",
        f"credit:street_issuance:area:{street}",
    }
    r = await client.post("/api/areas", json={"name": "N1", "parent_id": street}, headers=world.auth("admin"))
    community = r.json()["id"]
    assert await accounts_of(session_maker, community) == {f"service:community_pool:area:{community}"}
    r = await client.post(
        "/api/areas", json={"name": "G1", "parent_id": community}, headers=world.auth("admin")
    )
    assert await accounts_of(session_maker, r.json()["id"]) == set()

    # A reward before the pool has points is owed; the budget funds it; then rewards are paid.
    async with session_maker() as session, session.begin():
        area = await session.get(Area, community)
        owed = await ledger.reward(
            session, transfer_id="t-owed", code=TransferCode.service_reward, reference="order:1",
            user_id=world.id("volunteer"), community=area, amount=30, memo="", now=world.now, tz=TZ,
        )  # fmt: skip
        assert owed is not None
    body = {"community_id": community, "amount": 500, "memo": "2027 budget", "request_id": "fund-north-1"}
    r = await client.post("/api/ledger/budgets", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == 500 and r.json()["code"] == "budget"
    async with session_maker() as session, session.begin():
        assert await ledger.post_owed_rewards(session, world.now, TZ) == 1
        paid = await ledger.reward(
            session, transfer_id="t-paid", code=TransferCode.service_reward, reference="order:2",
            user_id=world.id("volunteer"), community=await session.get(Area, community), amount=20,
            memo="", now=world.now, tz=TZ,
        )  # fmt: skip
        assert paid is None
        pool = await ledger.area_account(
            session, await session.get(Area, community), AccountKind.community_pool, Asset.service
        )
        assert pool.balance == 450
        assert await session.scalar(select(OwedReward.status)) == OwedStatus.posted


# ---------------------------------------------------------------- renaming


async def test_renaming_inside_ones_own_area(client: AsyncTestClient, world: World) -> None:
    grid = world.areas["c1_grid"].id
    r = await client.patch(f"/api/areas/{grid}", json={"name": " Grid  A "}, headers=world.auth("manager"))
    assert r.status_code == 200 and r.json()["name"] == "Grid  A".strip()
    # Not the community itself, nor another community's grid; a street only by an administrator.
    for who, area, code in [
        ("manager", "c1", "outside_your_area"),
        ("manager", "c2_grid", "outside_your_area"),
        ("street_admin", "street", "admin_required"),
        ("grid_worker", "c1_grid", "outside_your_area"),
    ]:
        r = await client.patch(
            f"/api/areas/{world.areas[area].id}", json={"name": "X"}, headers=world.auth(who)
        )
        assert_problem(r, 403, {code})
    r = await client.patch(
        f"/api/areas/{world.areas['street'].id}", json={"name": "S"}, headers=world.auth("admin")
    )
    assert r.status_code == 200
    r = await client.patch(f"/api/areas/{grid}", json={"name": " "}, headers=world.auth("manager"))
    assert_problem(r, 400)
    r = await client.patch(f"/api/areas/{grid}", json={"name": "x"}, headers=world.auth("volunteer"))
    assert_problem(r, 403, {"role_required"})


# ---------------------------------------------------------------- importing the tree

# A new street with its tree, children before their parents; headings in Chinese.
NEW_STREET = [
    HEADINGS,
    ["110105007001001", "第1网格", "110105007001"],
    ["110105007001", "和平社区", "110105007"],
    ["110105007", "和平街道", ""],
    ["110105007001001001", "和平东苑", "110105007001001"],
    ["110105007001001001001", "1号楼", "110105007001001001"],
    ["110105007002", "安宁社区", "110105007"],
]


async def test_a_new_street_previewed_then_imported_then_imported_again(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    before = await snapshot(session_maker)
    data = xlsx(NEW_STREET)
    r = await upload(client, world, "admin", data, dry_run=True)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert (preview["dry_run"], preview["created"], preview["rejected"]) == (True, 6, 0)
    assert [(row["line"], row["action"], row["level"]) for row in preview["rows"]] == [
        (2, "create", "grid"),
        (3, "create", "community"),
        (4, "create", "street"),
        (5, "create", "compound"),
        (6, "create", "building"),
        (7, "create", "community"),
    ]
    assert await snapshot(session_maker) == before, "a preview writes nothing"

    r = await upload(client, world, "admin", data, dry_run=False)
    assert r.status_code == 200, r.text
    assert (r.json()["dry_run"], r.json()["created"]) == (False, 6)
    after = await snapshot(session_maker)
    assert len(after) == len(before) + 6
    async with session_maker() as session:
        street = await session.scalar(select(Area).where(Area.code == "110105007"))
        grid = await session.scalar(select(Area).where(Area.code == "110105007001001"))
        community = await session.get(Area, grid.parent_id)
        assert (community.code, community.parent_id, grid.level) == ("110105007001", street.id, "grid")
    assert len(await accounts_of(session_maker, street.id)) == 4
    assert await accounts_of(session_maker, community.id) == {f"service:community_pool:area:{community.id}"}

    # The same file again, as CSV this time: nothing changes.
    again = csv([[str(c) for c in row] for row in NEW_STREET])
    r = await upload(client, world, "admin", again, dry_run=False, name="tree.csv")
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["renamed"], r.json()["unchanged"]) == (0, 0, 6)
    assert await snapshot(session_maker) == after

    # A changed name renames, keyed by code.
    renamed = [row[:] for row in NEW_STREET]
    renamed[1][1] = "第一网格"
    r = await upload(client, world, "admin", xlsx(renamed), dry_run=False)
    assert (r.json()["created"], r.json()["renamed"], r.json()["unchanged"]) == (0, 1, 5)
    async with session_maker() as session:
        assert (await session.get(Area, grid.id)).name == "第一网格"


async def test_english_headings_and_a_manager_adding_inside_their_community(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    rows = [
        ["Name", "Parent code", "Code"],
        ["Grid 1-2", "110105001001", "110105001001002"],
        ["Garden 1-2", "110105001001002", "110105001001002001"],
        ["Community 1", "110105001", "110105001001"],  # their own community, unchanged
    ]
    r = await upload(client, world, "manager", xlsx(rows), dry_run=False)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["unchanged"]) == (2, 1)


# (rows after the headings, the line with the problem, its code, its column), imported by the c1 manager.
ROW_PROBLEMS = [
    ([["11010500100A", "X", "110105001"]], "area_code_malformed", "code"),
    ([["1101050010010", "X", "110105001001"]], "area_code_malformed", "code"),
    ([["", "X", "110105001001"]], "area_code_malformed", "code"),
    ([["110105001001009", "X", "110105001001777"]], "area_parent_unknown", "parent_code"),
    ([["110105001002009", "X", "110105001002"]], "outside_your_area", "parent_code"),
    ([["110105001002", "Renamed", "110105001"]], "outside_your_area", "parent_code"),
    ([["110105001002", "Community 2", "110105001"]], "outside_your_area", "parent_code"),
    ([["110105001001009", "A", "110105001001"], ["110105001001009", "B", "110105001001"]],
     "area_code_duplicate_in_file", "code"),
    ([["110105001001009001", "X", "110105001001"]], "area_code_wrong_length", "code"),
    ([["110105001", "X", "110105001001"]], "area_code_wrong_length", "code"),
    ([["110105001002009", "X", "110105001001"]], "area_code_not_under_parent", "code"),
    ([["110105001001009", "", "110105001001"]], "area_name_required", "name"),
    ([["110105001001009", "x" * 101, "110105001001"]], "area_name_too_long", "name"),
    ([["110105008", "New street", ""]], "admin_required", "code"),
    ([["110105001001001001001001", "X", "110105001001001001001"]], "area_code_malformed", "code"),
    ([["110105001001001001001009", "X", "110105001001001001001"]], "area_code_malformed", "code"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "code", "column"), ROW_PROBLEMS, ids=[p[1] + f"-{i}" for i, p in enumerate(ROW_PROBLEMS)]
)
async def test_every_row_problem_is_listed_and_nothing_is_written(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    rows: list[list[str]],
    code: str,
    column: str,
) -> None:
    before = await snapshot(session_maker)
    # A good row beside the bad one: it is not imported either.
    data = xlsx([HEADINGS, ["110105001001005", "Fine", "110105001001"], *rows])
    r = await upload(client, world, "manager", data, dry_run=True)
    assert r.status_code == 200, r.text
    listed = [(row["line"], p["code"], p["column"]) for row in r.json()["rows"] for p in row["problems"]]
    assert (len(rows) + 2, code, column) in listed, listed
    assert r.json()["rows"][0]["action"] == "create"
    r = await upload(client, world, "manager", data, dry_run=False)
    assert_problem(r, 422, {"import_has_problems"})
    assert [row["line"] for row in r.json()["rows"]] == sorted({line for line, _, _ in listed})
    assert await snapshot(session_maker) == before


async def test_a_building_cannot_hold_areas(client: AsyncTestClient, world: World) -> None:
    building = world.areas["c1_building"].code
    r = await upload(
        client, world, "manager", xlsx([HEADINGS, [building + "001", "X", building]]), dry_run=True
    )
    assert "area_too_deep" in [p["code"] for p in r.json()["rows"][0]["problems"]]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "file_empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "not_a_spreadsheet"),
        (b"PK\x03\x04 a broken workbook", "not_a_spreadsheet"),
        (b"%PDF-1.7\n\x00\x01\x02", "not_a_spreadsheet"),
        ("名称,备注\n甲,乙\n".encode(), "columns_missing"),
        (b"code,name\n" + b"x" * (imports.MAX_BYTES + 10), "file_too_large"),
    ],
    ids=["empty", "png", "broken-xlsx", "pdf", "no-code-column", "just-over-the-limit"],
)
async def test_files_that_are_not_a_table_of_areas(
    client: AsyncTestClient, world: World, session_maker, data: bytes, code: str
) -> None:
    before = await snapshot(session_maker)
    for dry_run in (True, False):
        r = await upload(client, world, "admin", data, dry_run=dry_run)
        assert_problem(r, 400, {code})
    assert await snapshot(session_maker) == before


async def test_a_10_mb_upload_is_refused_as_too_large_before_it_is_read(
    client: AsyncTestClient, world: World
) -> None:
    data = b"code,name\n" + b"1" * (10 * 1024 * 1024)
    r = await upload(client, world, "admin", data, dry_run=True)
    assert_problem(r, 400, {"file_too_large"})
    assert r.json()["limit_bytes"] == imports.MAX_BYTES
    # Without a file field at all.
    r = await client.post(
        "/api/areas/import", files={"other": ("x.csv", b"a", "text/csv")}, headers=world.auth("admin")
    )
    assert_problem(r, 400, {"file_missing"})


async def test_who_may_import(client: AsyncTestClient, world: World) -> None:
    data = xlsx([HEADINGS, ["110105001001001002", "Garden", "110105001001001"]])
    for who in ("resident", "volunteer", "unit_admin"):
        assert_problem(await upload(client, world, who, data, dry_run=True), 403, {"role_required"})
    # The grid's worker adds compounds and buildings in the grid; the other grid's worker may not.
    r = await upload(client, world, "grid_worker", data, dry_run=True)
    assert r.json()["rejected"] == 0
    r = await upload(client, world, "grid_worker_c2", data, dry_run=True)
    assert r.json()["rows"][0]["problems"][0]["code"] == "outside_your_area"
    r = await client.post("/api/areas/import", files={"file": ("x.csv", data)})
    assert_problem(r, 401)


async def test_the_template_reads_back_as_an_import(client: AsyncTestClient, world: World) -> None:
    for lang in ("zh", "en"):
        r = await client.get("/api/areas/import/template", params={"lang": lang}, headers=world.auth("admin"))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(imports.TEMPLATE_CONTENT_TYPE)
        preview = (await upload(client, world, "admin", r.content, dry_run=True)).json()
        # The examples are the test world's own street: a rename for the admin to see, or no change.
        assert preview["rejected"] == 0 and len(preview["rows"]) == 5

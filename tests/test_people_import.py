"""Importing people from a spreadsheet: every error by its code, nothing written by a preview or a
refused file, re-import changes nothing, and the importer's scope."""

from __future__ import annotations

import io

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import Workbook

from market.imports import read_table
from market.people.importing import COLUMNS
from tests.world import World

HEAD = "phone,name,building,roles,skills,availability\n"
B1 = "110105001001001001001"
B2 = "110105001002001001001"


def csv(*lines: str) -> bytes:
    return (HEAD + "".join(line + "\n" for line in lines)).encode()


async def upload(client: AsyncTestClient, world: World, who: str, data: bytes, name: str = "people.csv"):
    return await client.post(
        "/api/people/imports", files={"file": (name, data, "text/csv")}, headers=world.auth(who)
    )


async def run_all(client: AsyncTestClient, world: World, who: str, import_id: int) -> dict:
    for _ in range(20):
        r = await client.post(f"/api/people/imports/{import_id}/run", headers=world.auth(who))
        assert r.status_code == 200, r.text
        if r.json()["status"] == "done":
            return r.json()
    raise AssertionError("the import never finished")


async def people(client: AsyncTestClient, world: World) -> list[tuple]:
    r = await client.get("/api/users?limit=100", headers=world.auth("admin"))
    return sorted(
        (u["phone"], u["name"], u["area_id"], tuple(u["roles"]), u["is_active"]) for u in r.json()["items"]
    )


GOOD = csv(
    f"13611110001,Zhang Guilan,{B1},,,",
    f"13611110002,Li Ming,{B1},resident、volunteer,escort; repair,1-5 08:00-12:00; 6 09:00-17:00",
    f"13611110003,Wang Wu,{B1},志愿者,,",
)


async def test_preview_writes_nothing_then_confirm_imports_and_again_changes_nothing(
    client: AsyncTestClient, world: World
) -> None:
    before = await people(client, world)
    r = await upload(client, world, "manager", GOOD)
    assert r.status_code == 201, r.text
    preview = r.json()
    assert preview["status"] == "ready" and preview["errors"] == []
    assert (preview["total"], preview["created"], preview["changed"], preview["unchanged"]) == (3, 3, 0, 0)
    assert await people(client, world) == before
    done = await run_all(client, world, "manager", preview["id"])
    assert (done["done"], done["created"]) == (3, 3)
    after = await people(client, world)
    assert len(after) == len(before) + 3
    li = next(p for p in after if p[0] == "13611110002")
    assert li[3] == ("resident", "volunteer")
    users = (await client.get("/api/users?q=13611110002", headers=world.auth("manager"))).json()["items"]
    profile = await client.get(f"/api/volunteers/{users[0]['id']}/profile", headers=world.auth("manager"))
    body = profile.json()
    assert sorted(s["category"] for s in body["skills"]) == ["escort", "repair"]
    assert len(body["availability"]) == 6 and body["serving_areas"][0]["id"] == world.areas["c1"].id
    assert users[0]["has_password"] is False

    again = (await upload(client, world, "manager", GOOD)).json()
    assert (again["created"], again["changed"], again["unchanged"]) == (0, 0, 3)
    finished = await run_all(client, world, "manager", again["id"])
    assert (finished["created"], finished["changed"], finished["unchanged"]) == (0, 0, 3)
    assert await people(client, world) == after


async def test_a_changed_row_updates_the_person_keyed_by_phone(client: AsyncTestClient, world: World) -> None:
    first = (await upload(client, world, "manager", GOOD)).json()
    await run_all(client, world, "manager", first["id"])
    changed = csv(f"13611110001,Zhang Guilan,{B1},volunteer,cleaning,")
    second = (await upload(client, world, "manager", changed)).json()
    assert (second["created"], second["changed"]) == (0, 1), second
    await run_all(client, world, "manager", second["id"])
    found = (await client.get("/api/users?q=13611110001", headers=world.auth("manager"))).json()["items"][0]
    assert found["roles"] == ["resident", "volunteer"]


@pytest.mark.parametrize(
    ("line", "column", "code"),
    [
        (f"1361111000,Short Phone,{B1},,,", "phone", "invalid_phone"),
        (f"13611110001,,{B1},,,", "name", "name_required"),
        ("13611110009,No Building,110105001001001001999,,,", "building", "unknown_building"),
        ("13611110009,A Grid,110105001001001,,,", "building", "unknown_building"),
        (f"13611110009,Elsewhere,{B2},,,", "building", "building_outside_your_area"),
        (f"13611110009,Promoted,{B1},community_manager,,", "roles", "role_not_grantable"),
        (f"13611110009,Mayor,{B1},mayor,,", "roles", "unknown_role"),
        (f"13611110009,Juggler,{B1},volunteer,juggling,", "skills", "unknown_skill"),
        (f"13611110009,Sometimes,{B1},volunteer,,weekends", "availability", "invalid_availability"),
        (f"13611110009,Skilled,{B1},resident,escort,", "skills", "skills_need_volunteer"),
        (f"13700000003,Their Resident,{B1},,,", "phone", "person_outside_your_area"),
    ],
)
async def test_every_row_error_has_its_code_and_nothing_is_written(
    client: AsyncTestClient, world: World, line: str, column: str, code: str
) -> None:
    before = await people(client, world)
    r = await upload(client, world, "manager", csv(f"13611110005,Fine Person,{B1},,,", line))
    body = r.json()
    assert r.status_code == 201 and body["status"] == "refused", body
    assert [(e["line"], e["column"], e["code"]) for e in body["errors"]] == [(3, column, code)]
    run = await client.post(f"/api/people/imports/{body['id']}/run", headers=world.auth("manager"))
    assert run.status_code == 409 and run.json()["code"] == "import_has_errors"
    assert await people(client, world) == before


async def test_duplicate_phones_in_the_file_are_each_listed(client: AsyncTestClient, world: World) -> None:
    data = csv(f"13611110001,A,{B1},,,", f"13611110001,B,{B1},,,", f"136 1111 0001,C,{B1},,,")
    body = (await upload(client, world, "manager", data)).json()
    assert [(e["line"], e["code"]) for e in body["errors"]] == [
        (3, "duplicate_phone_in_file"),
        (4, "duplicate_phone_in_file"),
    ]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "file_empty"),
        (b"\x00\x01\x02binary\x00", "not_a_spreadsheet"),
        (b"PK\x03\x04 not really a zip", "not_a_spreadsheet"),
        (b"who,what\nx,y\n", "columns_missing"),
        (b"a" * (6 * 1024 * 1024), "file_too_large"),
    ],
    ids=["empty", "binary", "broken-xlsx", "columns", "over-5MB"],
)
async def test_files_that_are_not_a_people_table_are_refused(
    client: AsyncTestClient, world: World, data: bytes, code: str
) -> None:
    r = await upload(client, world, "manager", data)
    assert r.status_code == 400 and r.json()["code"] == code, r.text


async def test_a_10_mb_upload_is_a_clear_problem(client: AsyncTestClient, world: World) -> None:
    r = await upload(client, world, "manager", b"a" * (10 * 1024 * 1024))
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "request_too_large"


async def test_an_xlsx_file_imports_as_well(client: AsyncTestClient, world: World) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["手机号", "姓名", "楼栋编码", "身份"])
    # Excel keeps a phone as a number; a 21-digit code only as text (a number would lose digits).
    sheet.append([13611110001, "张三", B1, "居民"])
    out = io.BytesIO()
    book.save(out)
    body = (await upload(client, world, "grid_worker", out.getvalue(), "people.xlsx")).json()
    assert body["status"] == "ready" and body["created"] == 1, body


async def test_the_templates_read_back_in_both_languages(client: AsyncTestClient, world: World) -> None:
    for lang in ("zh", "en"):
        r = await client.get(f"/api/people/imports/template?lang={lang}", headers=world.auth("grid_worker"))
        assert r.status_code == 200
        rows = read_table(r.content, COLUMNS)
        assert len(rows) == 2 and rows[1].values["availability"].startswith("1-5")


async def test_only_managers_import_and_only_their_own_imports(client: AsyncTestClient, world: World) -> None:
    r = await upload(client, world, "resident", GOOD)
    assert r.status_code == 403 and r.json()["code"] == "role_required"
    mine = (await upload(client, world, "manager", GOOD)).json()
    for who in ("manager_c2", "street_admin"):
        r = await client.post(f"/api/people/imports/{mine['id']}/run", headers=world.auth(who))
        assert r.status_code == 404 and r.json()["code"] == "import_not_found"
    # Community 2's manager cannot import community 1's buildings.
    other = (await upload(client, world, "manager_c2", GOOD)).json()
    assert {e["code"] for e in other["errors"]} == {"building_outside_your_area"}

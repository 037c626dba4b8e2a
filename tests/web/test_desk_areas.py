"""The desk's area tree: browsing it, adding and renaming areas inside one's own, and importing
the tree from a spreadsheet (preview, then confirm)."""

from __future__ import annotations

import html
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area
from market.web.i18n import translate
from tests.web.conftest import Browser, field_errors
from tests.world import World


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def area_count(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(Area)) or 0


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_tree_renders_in_both_languages(browser: Browser, world: World, lang: str) -> None:
    browser.login("street_admin", lang)
    r = await browser.get("/desk/areas")
    assert r.status_code == 200, r.text
    assert "Community 1" in r.text and "110105001001001" in r.text
    assert translate(lang, "areas.title") in r.text
    r = await browser.get(f"/desk/areas?root={world.areas['c1_grid'].id}")
    assert r.status_code == 200 and "Building 1" in r.text
    r = await browser.get("/desk/areas/import")
    assert r.status_code == 200 and translate(lang, "areas.import_title") in r.text


async def test_upload_preview_confirm(browser: Browser, world: World, session_maker) -> None:
    browser.login("manager", "en")
    data = xlsx(
        [
            ["Code", "Name", "Parent code"],
            ["110105001001002001", "New Garden", "110105001001002"],
            ["110105001001002", "Grid 1-2", "110105001001"],
            ["110105001001001", "Grid One", "110105001001"],
        ]
    )
    token = await browser.csrf()
    r = await browser.client.post(
        "/desk/areas/import",
        data={"_csrf_token": token},
        files={"file": ("tree.xlsx", data, "application/octet-stream")},
    )
    assert r.status_code == 200, r.text
    assert 'id="confirm-import"' in r.text, r.text
    rows = html.unescape(r.text.split('name="rows" value="')[1].split('"')[0])
    before = await area_count(session_maker)
    r = await browser.post("/desk/areas/import/confirm", {"rows": rows})
    assert r.status_code == 303, r.text
    assert await area_count(session_maker) == before + 2


async def upload_page(browser: Browser, data: bytes, name: str = "tree.xlsx"):
    token = await browser.csrf()
    return await browser.client.post(
        "/desk/areas/import",
        data={"_csrf_token": token},
        files={"file": (name, data, "application/octet-stream")},
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_adding_and_renaming_with_errors_next_to_the_field(
    browser: Browser, world: World, session_maker, lang: str
) -> None:
    browser.login("manager", lang)
    grid = world.areas["c1_grid"]
    r = await browser.post(
        "/desk/areas/add", {"parent_id": grid.id, "name": "Garden 2", "code": "110105001002001001"}
    )
    assert r.status_code == 400
    assert {k: html.unescape(v) for k, v in field_errors(r.text).items()} == {
        "code": translate(lang, "error.invalid_area_code")
    }
    assert 'value="Garden 2"' in r.text, "what was typed is kept"
    before = await area_count(session_maker)
    r = await browser.post("/desk/areas/add", {"parent_id": grid.id, "name": ""})
    assert field_errors(r.text) == {"name": translate(lang, "form.required")}
    assert await area_count(session_maker) == before
    r = await browser.post("/desk/areas/add", {"parent_id": grid.id, "name": "Garden 2"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/desk/areas?root={grid.id}")
    assert await area_count(session_maker) == before + 1

    r = await browser.post(f"/desk/areas/{grid.id}/rename", {"name": "x" * 101})
    assert field_errors(r.text) == {"name": translate(lang, "form.too_long", max=100)}
    r = await browser.post(f"/desk/areas/{grid.id}/rename", {"name": "Grid North"})
    assert r.status_code == 303
    page = await browser.get(r.headers["location"])
    assert "Grid North" in page.text and translate(lang, "notice.area_renamed") in page.text


async def test_a_manager_cannot_open_add_or_rename_in_another_community(
    browser: Browser, world: World, session_maker
) -> None:
    browser.login("manager", "en")
    other = world.areas["c2_grid"]
    r = await browser.get(f"/desk/areas?root={other.id}")
    assert r.status_code == 403 and translate("en", "error.outside_your_area") in r.text
    before = await area_count(session_maker)
    r = await browser.post("/desk/areas/add", {"parent_id": other.id, "name": "Mine now"})
    assert r.status_code == 403
    r = await browser.post(f"/desk/areas/{other.id}/rename", {"name": "Mine now"})
    assert r.status_code == 403
    assert await area_count(session_maker) == before
    # Their own community: shown, but not renamable by them (its street's admins name it).
    r = await browser.get(f"/desk/areas?root={world.areas['c1'].id}")
    assert r.status_code == 200 and 'id="rename-form"' not in r.text and 'id="add-form"' in r.text
    # Volunteers have no area desk.
    browser.login("volunteer", "en")
    assert (await browser.get("/desk/areas")).status_code == 403


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_preview_lists_each_rows_problems_in_the_pages_language(
    browser: Browser, world: World, session_maker, lang: str
) -> None:
    browser.login("manager", lang)
    before = await area_count(session_maker)
    data = xlsx(
        [
            ["编码", "名称", "上级编码"],
            ["110105001001009", "A", "110105001001"],
            ["110105001001009", "B", "110105001001"],
            ["110105001002009", "C", "110105001002"],
            ["1101050010010", "D", "110105001001"],
            ["110105001001008", "E", "110105001001777"],
        ]
    )
    r = await upload_page(browser, data)
    assert r.status_code == 200, r.text
    assert 'id="confirm-import"' not in r.text
    for code in (
        "area_code_duplicate_in_file",
        "outside_your_area",
        "area_code_malformed",
        "area_parent_unknown",
    ):
        assert html.escape(translate(lang, f"error.{code}"), quote=False) in r.text, code
    assert translate(lang, "areas.preview_rejected", n=4) in r.text
    assert await area_count(session_maker) == before


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_a_spreadsheet"),
        (b"", "file_empty"),
        (b"code,name\n" + b"1" * (10 * 1024 * 1024), "file_too_large"),
        (b"code,name\n" + b"1" * (5 * 1024 * 1024), "file_too_large"),
    ],
    ids=["png", "empty", "10MB", "just-over-5MB"],
)
async def test_a_file_that_cannot_be_read_is_refused_next_to_the_file_field(
    browser: Browser, world: World, lang: str, data: bytes, code: str
) -> None:
    browser.login("street_admin", lang)
    r = await upload_page(browser, data)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert field_errors(r.text) == {"file": translate(lang, f"error.{code}")}
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in r.text
    # No file chosen at all.
    token = await browser.csrf()
    r = await browser.client.post("/desk/areas/import", data={"_csrf_token": token}, files={"x": ("", b"")})
    assert field_errors(r.text) == {"file": translate(lang, "error.file_missing")}


async def test_the_templates_download(browser: Browser, world: World) -> None:
    browser.login("street_admin", "en")
    for lang in ("zh", "en"):
        r = await browser.get(f"/desk/areas/import/template?lang={lang}")
        assert r.status_code == 200 and r.content.startswith(b"PK")


async def test_confirm_rechecks_and_a_second_confirm_changes_nothing(
    browser: Browser, world: World, session_maker
) -> None:
    browser.login("manager", "zh")
    rows = '[[2, "110105001001002", "Grid 1-2", "110105001001"]]'
    before = await area_count(session_maker)
    assert (await browser.post("/desk/areas/import/confirm", {"rows": rows})).status_code == 303
    assert (await browser.post("/desk/areas/import/confirm", {"rows": rows})).status_code == 303
    assert await area_count(session_maker) == before + 1
    # A confirm form altered to reach another community is checked like a file.
    r = await browser.post(
        "/desk/areas/import/confirm", {"rows": '[[2, "110105001002009", "X", "110105001002"]]'}
    )
    assert r.status_code == 200 and 'id="confirm-import"' not in r.text
    assert await area_count(session_maker) == before + 1
    r = await browser.post("/desk/areas/import/confirm", {"rows": "not json"})
    assert r.status_code == 400

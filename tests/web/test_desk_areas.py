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
from tests.web.conftest import Browser
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

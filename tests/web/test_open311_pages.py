"""The desk's Open311 keys page: administrators and street admins issue a key for a street (shown
once, kept as a hash), list their streets' keys and revoke one; nobody else reaches it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.open311.models import Open311Key
from market.open311.service import hash_key
from tests.web.conftest import Browser, field_errors
from tests.world import World, add_neighbours

HOME = "/desk/open311"
KEY = re.compile(r"<code>(o311_[\w-]+)</code>")


async def keys(session_maker: async_sessionmaker[AsyncSession]) -> list[Open311Key]:
    async with session_maker() as session:
        return list(await session.scalars(select(Open311Key).order_by(Open311Key.id)))


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_street_admin_issues_a_key_shown_once_and_revokes_it(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str
) -> None:
    browser.login("street_admin", lang)
    empty = await browser.get(HOME)
    assert empty.status_code == 200 and 'id="open311-keys"' in empty.text

    issued = await browser.post(HOME, {"street_id": world.areas["street"].id, "system": "hotline12345"})
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    [secret] = KEY.findall(issued.text)
    [key] = await keys(session_maker)
    assert key.key_hash == hash_key(secret) and secret not in (key.key_hash, key.key_prefix)
    assert (key.system, key.street_id, key.issued_by_id) == (
        "hotline12345",
        world.areas["street"].id,
        world.id("street_admin"),
    )

    listed = await browser.get(HOME)
    assert secret not in listed.text and key.key_prefix in listed.text

    revoked = await browser.post(f"{HOME}/{key.id}/revoke")
    assert revoked.status_code == 303
    [key] = await keys(session_maker)
    assert key.revoked_at is not None and key.revoked_by_id == world.id("street_admin")
    after = await browser.get(revoked.headers["location"])
    assert 'data-revoked="true"' in after.text
    assert {"zh": "密钥已作废。", "en": "The key is revoked."}[lang] in after.text


@pytest.mark.parametrize(
    ("lang", "message"), [("zh", "系统名为 2 到 16 个小写字母"), ("en", "A system&#39;s name is 2 to 16")]
)
async def test_a_bad_system_name_is_shown_again_and_nothing_issued(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession], lang: str, message: str
) -> None:
    browser.login("street_admin", lang)
    for system in ("Hotline 12345", "phone"):
        refused = await browser.post(HOME, {"street_id": world.areas["street"].id, "system": system})
        assert refused.status_code == 400, refused.text
        assert message in refused.text
    assert await keys(session_maker) == []


async def test_a_street_admin_issues_and_revokes_only_for_their_street(
    browser: Browser, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    async with session_maker() as session, session.begin():
        await add_neighbours(session, world)
    browser.login("street_admin_s2")
    refused = await browser.post(HOME, {"street_id": world.areas["street"].id, "system": "hotline"})
    assert refused.status_code == 403
    assert field_errors(refused.text) or "街道" in refused.text
    browser.login("street_admin")
    assert (
        await browser.post(HOME, {"street_id": world.areas["street"].id, "system": "hotline"})
    ).status_code == 200
    [key] = await keys(session_maker)
    browser.login("street_admin_s2")
    assert key.key_prefix not in (await browser.get(HOME)).text
    assert (await browser.post(f"{HOME}/{key.id}/revoke")).status_code == 404
    [key] = await keys(session_maker)
    assert key.revoked_at is None


@pytest.mark.parametrize("who", ["community_manager", "grid_worker", "resident"])
async def test_only_admins_and_street_admins_reach_the_keys(browser: Browser, world: World, who: str) -> None:
    name = {"community_manager": "manager"}.get(who, who)
    browser.login(name)
    assert (await browser.get(HOME)).status_code == 403
    issued = await browser.post(HOME, {"street_id": world.areas["street"].id, "system": "hotline"})
    assert issued.status_code == 403

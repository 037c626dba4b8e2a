"""The signing secret: MARKET_SECRET_KEY, or else the install's own random secret kept under
./var/ (made once, readable by its owner only, shared by every process); never a constant."""

from __future__ import annotations

import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jwt
import pytest
from litestar.testing import AsyncTestClient

from market.app import create_app
from market.settings import Settings, SettingsError, install_secret
from tests.world import PASSWORD, World

# What the service signed tokens with when MARKET_SECRET_KEY was not set: public in its source.
OLD_PUBLIC_SECRET = "dev-only-secret-change-me-0123456789abcdef"


def test_without_a_secret_key_each_install_makes_and_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = Settings.from_env({})
    kept = tmp_path / "var" / "secret_key"
    assert kept.read_text().strip() == first.secret_key != OLD_PUBLIC_SECRET
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert Settings.from_env({}).secret_key == first.secret_key, "a restart keeps the tokens valid"

    other = tmp_path / "another-install"
    other.mkdir()
    monkeypatch.chdir(other)
    assert Settings.from_env({}).secret_key != first.secret_key
    assert Settings.from_env({"MARKET_SECRET_KEY": "s" * 40}).secret_key == "s" * 40


def test_production_needs_its_secret_key_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError):
        Settings.from_env({"MARKET_ENV": "production"})
    assert not (tmp_path / "var").exists()
    assert (
        Settings.from_env({"MARKET_ENV": "production", "MARKET_SECRET_KEY": "x" * 40}).secret_key == "x" * 40
    )


def test_processes_starting_together_share_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    # Fresh processes, as separate starts of the service are (not forks of the test's own).
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        secrets = set(pool.map(install_secret, [path] * 8))
    assert secrets == {path.read_text().strip()}
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"], "no drafts left behind"


async def test_a_token_signed_with_the_once_public_default_opens_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, world: World
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        {"MARKET_DATABASE_URL": database_url, "MARKET_DATABASE_POOL": "0", "MARKET_SCHEDULER": "off"}
    )
    now = int(world.now.timestamp())
    claims = {"sub": str(world.id("admin")), "iat": now, "exp": now + 3600, "ver": 0}
    forged = jwt.encode(claims, OLD_PUBLIC_SECRET, algorithm="HS256")

    async with AsyncTestClient(app=create_app(settings, clock=world.clock)) as client:
        r = await client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        login = {"phone": world.users["admin"].phone, "password": PASSWORD}
        assert (await client.post("/api/auth/login", json=login)).status_code == 200


def test_the_secret_file_is_never_world_readable_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        install_secret(tmp_path / "secret_key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600

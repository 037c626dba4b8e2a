"""Order photos: what is accepted and how it is kept, limits, storage in a folder and in S3."""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.app import create_app
from market.auth.service import actor_for_token
from market.clock import FrozenClock
from market.photos import service
from market.photos.models import Photo, PhotoKind
from market.photos.schemas import PhotoFile
from market.photos.storage import FolderStorage, S3Storage, storage_for, thumbnail_key
from market.settings import Settings
from tests.test_authorization import assert_problem, build_order
from tests.test_idempotency import Deadlock
from tests.world import World

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(width: int = 64, height: int = 32) -> bytes:
    """A JPEG whose EXIF says where it was taken and that it must be turned a quarter to stand up."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[GPS_IFD] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 17.0)}
    out = BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 40, height: int = 30) -> bytes:
    out = BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 255, 128)).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size and holds no pixels: enough for the header to be read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def files(*items: tuple[str, bytes, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("photos", item) for item in items]


async def upload(client: AsyncTestClient, world: World, role: str, order: int, kind: str, *items):
    return await client.post(
        f"/api/orders/{order}/photos", params={"kind": kind}, files=files(*items), headers=world.auth(role)
    )


async def photo_count(session_maker: async_sessionmaker[AsyncSession]) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(Photo)) or 0


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def stored_files(settings: Settings) -> list[Path]:
    return files_under(Path(settings.photo_storage))


async def test_a_jpeg_is_kept_upright_without_its_location(client: AsyncTestClient, world: World) -> None:
    order, _ = await build_order(client, world, "submitted")
    original = jpeg_with_gps()
    assert Image.open(BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the upload does carry a location

    r = await upload(client, world, "resident", order, "posted", ("door.jpg", original, "image/jpeg"))

    assert r.status_code == 201, r.text
    (read,) = r.json()
    assert (read["kind"], read["content_type"]) == ("posted", "image/jpeg")
    # Turned as the orientation tag said: 64×32 stands up as 32×64.
    assert (read["width"], read["height"]) == (32, 64)
    kept = await client.get(read["url"], headers=world.auth("resident"))
    assert kept.status_code == 200 and kept.headers["content-type"] == "image/jpeg"
    assert kept.headers["cache-control"].startswith("private")
    image = Image.open(BytesIO(kept.content))
    assert image.size == (32, 64) and len(kept.content) == read["bytes"]
    assert not image.getexif() and "exif" not in image.info
    thumb = Image.open(
        BytesIO((await client.get(read["thumbnail_url"], headers=world.auth("resident"))).content)
    )
    assert thumb.size == (32, 64) and not thumb.getexif()


async def test_a_large_photo_gets_a_thumbnail_of_320_pixels(client: AsyncTestClient, world: World) -> None:
    order, _ = await build_order(client, world, "submitted")
    r = await upload(client, world, "resident", order, "posted", ("wide.png", png(1000, 500), "image/png"))
    (read,) = r.json()
    thumb = await client.get(read["thumbnail_url"], headers=world.auth("resident"))
    assert Image.open(BytesIO(thumb.content)).size == (320, 160)


async def test_a_png_named_jpg_is_kept_as_the_png_it_is(client: AsyncTestClient, world: World) -> None:
    order, _ = await build_order(client, world, "submitted")

    r = await upload(client, world, "resident", order, "posted", ("photo.jpg", png(), "image/jpeg"))

    assert r.status_code == 201, r.text
    (read,) = r.json()
    assert read["content_type"] == "image/png"
    kept = await client.get(read["url"], headers=world.auth("resident"))
    assert kept.headers["content-type"] == "image/png" and kept.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("notes.jpg", b"GIF89a not really a photo", "photo_type_not_allowed"),
        ("page.jpg", b"%PDF-1.7\n", "photo_type_not_allowed"),
        ("huge.png", png_header_only(10_000, 5_000), "photo_too_many_pixels"),
        ("cut.jpg", jpeg_with_gps()[:300], "photo_unreadable"),
    ],
)
async def test_a_refused_photo_keeps_nothing(
    client: AsyncTestClient,
    world: World,
    settings: Settings,
    session_maker: async_sessionmaker[AsyncSession],
    name: str,
    data: bytes,
    code: str,
) -> None:
    order, _ = await build_order(client, world, "submitted")
    before = stored_files(settings)

    # A good photo beside the refused one is not kept either: all or nothing.
    r = await upload(
        client, world, "resident", order, "posted", ("ok.png", png(), "image/png"), (name, data, "image/jpeg")
    )

    assert_problem(r, 400, {code})
    assert await photo_count(session_maker) == 0
    assert stored_files(settings) == before


async def test_fifty_megapixels_are_refused_from_the_header(world: World) -> None:
    from market.photos import images

    with pytest.raises(images.InvalidInput) as refused:
        images.prepare(png_header_only(10_000, 5_000), max_bytes=10_000_000, max_pixels=40_000_000)
    assert refused.value.code == "photo_too_many_pixels"
    # Pillow's own guard (at the ceiling a street may set) refuses a bomb before our check is reached.
    with pytest.raises(images.InvalidInput) as bomb:
        images.prepare(png_header_only(20_000, 20_000), max_bytes=10_000_000, max_pixels=40_000_000)
    assert bomb.value.code == "photo_too_many_pixels"


def encoded(fmt: str, **options: object) -> bytes:
    out = BytesIO()
    Image.new("RGB", (50, 40), "blue").save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "kept_as"),
    [
        (lambda: encoded("WEBP"), "image/webp"),
        # A phone's JPEG with a second picture (Pillow's "MPO") is kept as a JPEG.
        (lambda: encoded("MPO", save_all=True, append_images=[Image.new("RGB", (50, 40))]), "image/jpeg"),
        (lambda: encoded("GIF"), None),
        (lambda: encoded("TIFF"), None),
    ],
)
def test_what_types_are_kept(data, kept_as: str | None) -> None:
    from market.photos import images

    if kept_as is None:
        with pytest.raises(images.InvalidInput) as refused:
            images.prepare(data(), max_bytes=10_000_000, max_pixels=40_000_000)
        assert refused.value.code == "photo_type_not_allowed"
    else:
        prepared = images.prepare(data(), max_bytes=10_000_000, max_pixels=40_000_000)
        assert prepared.content_type == kept_as
        assert Image.open(BytesIO(prepared.data)).get_format_mimetype() == kept_as


async def test_a_photo_over_the_size_limit_is_refused(
    client: AsyncTestClient, world: World, settings: Settings
) -> None:
    order, _ = await build_order(client, world, "submitted")
    big = png() + b"\0" * settings.photo_max_bytes

    r = await upload(client, world, "resident", order, "posted", ("big.png", big, "image/png"))

    assert_problem(r, 400, {"photo_too_large"})
    assert r.json()["limit_bytes"] == settings.photo_max_bytes


async def test_at_most_three_photos_of_a_kind(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> None:
    order, _ = await build_order(client, world, "submitted")
    four = [(f"{i}.png", png(), "image/png") for i in range(4)]

    assert_problem(await upload(client, world, "resident", order, "posted", *four), 409, {"too_many_photos"})
    assert await photo_count(session_maker) == 0

    assert (await upload(client, world, "resident", order, "posted", *four[:2])).status_code == 201
    assert (await upload(client, world, "resident", order, "posted", four[2])).status_code == 201
    r = await upload(client, world, "resident", order, "posted", four[3])
    assert_problem(r, 409, {"too_many_photos"})
    assert r.json()["held"] == 3
    assert await photo_count(session_maker) == 3


async def test_the_volunteer_adds_result_photos_while_serving(client: AsyncTestClient, world: World) -> None:
    order, _ = await build_order(client, world, "in_service")
    photo = ("done.png", png(), "image/png")

    assert_problem(await upload(client, world, "resident", order, "result", photo), 403, {"not_assigned"})
    assert_problem(await upload(client, world, "volunteer", order, "posted", photo), 403, {"not_requester"})
    # The resident's own photos are for telling what needs doing, before the service starts.
    assert_problem(await upload(client, world, "resident", order, "posted", photo), 409, {"photos_closed"})
    r = await upload(client, world, "volunteer", order, "result", photo)
    assert r.status_code == 201, r.text

    listed = (await client.get(f"/api/orders/{order}/photos", headers=world.auth("resident"))).json()
    assert [(p["kind"], p["uploader_id"]) for p in listed] == [("result", world.id("volunteer"))]


async def test_an_upload_without_photos_is_refused(client: AsyncTestClient, world: World) -> None:
    order, _ = await build_order(client, world, "submitted")
    r = await client.post(
        f"/api/orders/{order}/photos",
        params={"kind": "posted"},
        files={"note": (None, "no photo here")},
        headers=world.auth("resident"),
    )
    assert_problem(r, 400, {"photo_missing"})


async def test_files_of_a_transaction_that_rolls_back_are_deleted(
    client: AsyncTestClient,
    world: World,
    settings: Settings,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    order, _ = await build_order(client, world, "submitted")
    store = FolderStorage(tmp_path)
    async with session_maker() as session, session.begin():
        actor = await actor_for_token(session, world.id("resident"), world.users["resident"].token_version)
    assert actor is not None
    async with session_maker() as session:
        await session.begin()
        photos = await service.add_photos(
            session, actor, order, PhotoKind.posted, [PhotoFile("a.png", png())], clock(), settings, store
        )
        key = photos[0].storage_key
        assert (tmp_path / key).is_file() and (tmp_path / thumbnail_key(key)).is_file()
        # Whatever fails after the files are written (here: the caller gives up) takes them away.
        await session.rollback()
    assert files_under(tmp_path) == []

    async with session_maker() as session, session.begin():
        photos = await service.add_photos(
            session, actor, order, PhotoKind.posted, [PhotoFile("a.png", png())], clock(), settings, store
        )
    assert (tmp_path / photos[0].storage_key).is_file()  # committed: kept


# ---------------------------------------------------------------- S3, against moto's server


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


_BUCKETS = itertools.count(1)


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The usual variables boto3 reads, pointing at the fake; a fresh bucket."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # One server serves the module: each test has its own bucket, so no test sees another's files.
    bucket = f"photos-{next(_BUCKETS)}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


def s3_keys(bucket: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def test_photos_in_s3_are_served_through_the_app(
    s3_env: str, settings: Settings, clock: FrozenClock, world: World
) -> None:
    s3_settings = replace(settings, photo_storage=f"s3://{s3_env}/market/photos")
    async with AsyncTestClient(app=create_app(s3_settings, clock=clock)) as client:
        order, _ = await build_order(client, world, "submitted")
        r = await upload(
            client, world, "resident", order, "posted", ("door.jpg", jpeg_with_gps(), "image/jpeg")
        )
        assert r.status_code == 201, r.text
        (read,) = r.json()
        keys = s3_keys(s3_env)
        assert len(keys) == 2 and all(k.startswith(f"market/photos/orders/{order}/") for k in keys)

        kept = await client.get(read["url"], headers=world.auth("resident"))
        assert kept.status_code == 200 and not Image.open(BytesIO(kept.content)).getexif()
        hidden = await client.get(read["url"], headers=world.auth("resident_b"))
        assert_problem(hidden, 404, {"photo_not_found"})

        refused = await upload(client, world, "resident", order, "posted", ("x.jpg", b"nope", "image/jpeg"))
        assert_problem(refused, 400, {"photo_type_not_allowed"})
        assert s3_keys(s3_env) == keys


async def test_s3_files_of_a_transaction_that_rolls_back_are_deleted(s3_env: str) -> None:
    store = storage_for(f"s3://{s3_env}/p")
    assert isinstance(store, S3Storage)
    await store.put("orders/1/a.png", png(), "image/png")
    assert await store.get("orders/1/a.png") == png()
    store.discard(["orders/1/a.png", "orders/1/never-written.png"])
    assert s3_keys(s3_env) == []


async def test_an_upload_that_loses_a_race_is_run_again_with_its_files(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The retry reads the form anew: the first attempt's parsed files were closed when it ended."""
    order, _ = await build_order(client, world, "submitted")
    real_add = service.add_photos
    calls = 0

    async def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise DBAPIError("INSERT INTO order_photos …", {}, Deadlock())
        return await real_add(*args, **kwargs)

    monkeypatch.setattr(service, "add_photos", deadlocked_once)
    r = await upload(client, world, "resident", order, "posted", ("door.png", png(), "image/png"))

    assert r.status_code == 201, r.text
    assert calls == 2 and await photo_count(session_maker) == 1

"""Order photos: the resident's (`posted`) while the order waits, the volunteer's (`result`) while
serving and once done; at most `MAX_PER_KIND` of each.

Who sees them is the order's own rule: those who may read the order and see it unmasked (the
resident, the area's managers, the volunteer from accepting until it is confirmed). A volunteer
who was only offered the order reads it masked and sees no photos: a photo can show a face or a
door as plainly as the address the mask hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import anyio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import Actor
from market.errors import Conflict, Forbidden, NotFound
from market.orders import service as orders
from market.orders.models import Order, OrderStatus
from market.photos import images, storage
from market.photos.models import MAX_PER_KIND, Photo, PhotoKind
from market.photos.schemas import PhotoFile, PhotoRead
from market.settings import Settings

S = OrderStatus
# When each kind may be added, and by whom: the resident before the service starts, the volunteer
# who holds the order while serving and until the resident confirms.
OPEN_FOR = {
    PhotoKind.posted: frozenset({S.submitted, S.dispatched, S.accepted}),
    PhotoKind.result: frozenset({S.in_service, S.completed}),
}


def _refusal(actor: Actor, order: Order, kind: PhotoKind) -> Forbidden | None:
    """Why the actor, who may read the order, may not add photos of this kind to it, if they may not."""
    if kind == PhotoKind.posted:
        if order.requester_id != actor.id:
            return Forbidden(
                "Only the resident who posted the order can add its photos.", code="not_requester"
            )
    elif order.volunteer_id != actor.id:
        return Forbidden("Only the volunteer who holds the order can add result photos.", code="not_assigned")
    return None


async def add_photos(
    session: AsyncSession,
    actor: Actor,
    order_id: int,
    kind: PhotoKind,
    files: Sequence[PhotoFile],
    now: datetime,
    settings: Settings,
    store: storage.PhotoStorage,
) -> list[Photo]:
    """Check every file, then keep them all (rows and files) or nothing."""
    order = await orders.readable_order(session, actor, order_id, lock=True)
    if (refusal := _refusal(actor, order, kind)) is not None:
        raise refusal
    if order.status not in OPEN_FOR[kind]:
        raise Conflict(
            f"An order that is {order.status} takes no {kind} photos.",
            code="photos_closed",
            kind=str(kind),
            order_status=str(order.status),
        )
    held = await session.scalar(
        select(func.count()).select_from(Photo).where(Photo.order_id == order.id, Photo.kind == kind)
    )
    if (held or 0) + len(files) > MAX_PER_KIND:
        raise Conflict(
            f"An order takes at most {MAX_PER_KIND} {kind} photos; it has {held}.",
            code="too_many_photos",
            limit=MAX_PER_KIND,
            held=held,
        )
    prepared = [
        await anyio.to_thread.run_sync(
            lambda f=f: images.prepare(
                f.data, max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels
            )
        )
        for f in files
    ]
    photos = []
    for p in prepared:
        photo = Photo(
            order_id=order.id,
            kind=kind,
            uploader_id=actor.id,
            storage_key=storage.new_key(order.id, p.extension),
            content_type=p.content_type,
            width=p.width,
            height=p.height,
            bytes=len(p.data),
            created_at=now,
        )
        session.add(photo)
        photos.append(photo)
    await session.flush()
    # Remembered before the first write, so a write that fails halfway leaves nothing behind either.
    keys = [k for photo in photos for k in (photo.storage_key, storage.thumbnail_key(photo.storage_key))]
    storage.remember_written(session, store, keys)
    for photo, p in zip(photos, prepared, strict=True):
        await store.put(photo.storage_key, p.data, p.content_type)
        await store.put(storage.thumbnail_key(photo.storage_key), p.thumbnail, p.content_type)
    return photos


def _hidden(order_id: int) -> Forbidden:
    return Forbidden(
        f"The photos of order {order_id} are shown once you hold it.", code="photos_hidden_until_held"
    )


async def list_photos(session: AsyncSession, actor: Actor, order_id: int) -> list[PhotoRead]:
    """The order's photos, posted first, each kind in the order they were added."""
    order = await orders.readable_order(session, actor, order_id)
    if not orders.shows_resident(order, actor):
        raise _hidden(order_id)
    return photo_reads(await order_photos(session, order.id))


async def order_photos(session: AsyncSession, order_id: int) -> Sequence[Photo]:
    return (
        await session.scalars(select(Photo).where(Photo.order_id == order_id).order_by(Photo.kind, Photo.id))
    ).all()


def photo_reads(photos: Sequence[Photo]) -> list[PhotoRead]:
    return [
        PhotoRead(
            id=p.id,
            order_id=p.order_id,
            kind=p.kind,
            uploader_id=p.uploader_id,
            content_type=p.content_type,
            width=p.width,
            height=p.height,
            bytes=p.bytes,
            created_at=p.created_at,
            url=f"/api/photos/{p.id}",
            thumbnail_url=f"/api/photos/{p.id}/thumbnail",
        )
        for p in photos
    ]


async def read_photo(
    session: AsyncSession, actor: Actor, photo_id: int, store: storage.PhotoStorage, *, thumbnail: bool
) -> tuple[Photo, bytes]:
    """A photo's file, for those who may see it; whoever may not read its order is told it does not exist."""
    photo = await session.get(Photo, photo_id)
    missing = NotFound(f"Photo {photo_id} does not exist.", code="photo_not_found")
    if photo is None:
        raise missing
    try:
        order = await orders.readable_order(session, actor, photo.order_id)
    except NotFound:
        raise missing from None
    if not orders.shows_resident(order, actor):
        raise _hidden(order.id)
    key = storage.thumbnail_key(photo.storage_key) if thumbnail else photo.storage_key
    return photo, await store.get(key)

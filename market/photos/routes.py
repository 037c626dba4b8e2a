from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.auth.access import ActorRequest
from market.errors import InvalidInput
from market.fields import PathId
from market.photos import images, service
from market.photos.models import MAX_PER_KIND, PhotoKind
from market.photos.schemas import PhotoFile, PhotoRead
from market.photos.storage import PhotoStorage
from market.settings import PHOTO_BYTES_CEILING, Settings

# The form field that carries the photos, once per file.
FIELD = "photos"
# A body may hold the most photos at the largest size a street may allow, with the form's own parts;
# a larger one is refused before it is read (`photo_too_large`). Each file is held to
# MARKET_PHOTO_MAX_BYTES once read.
UPLOAD_MAX_BODY = MAX_PER_KIND * PHOTO_BYTES_CEILING + 64 * 1024
Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def photo_too_large(request: Request) -> InvalidInput:
    settings: Settings = request.app.state.settings
    return images.too_large(settings.photo_max_bytes)


def _too_large(request: Request, _error: HTTPException) -> Response:
    return photo_too_large(request).to_response(request)


async def photo_files(value: Any) -> list[PhotoFile]:
    """The files a multipart field carries (none, one or several); empty file inputs are skipped."""
    uploads = value if isinstance(value, list) else [value]
    files = []
    for upload in uploads:
        if isinstance(upload, UploadFile):
            data = await upload.read()
            if data or upload.filename:
                files.append(PhotoFile(filename=upload.filename or "", data=data))
    return files


def photo_response(content_type: str, data: bytes) -> Response[bytes]:
    return Response(
        data,
        media_type=content_type,
        headers={
            # The browser may keep it for a while, never a shared cache: each read is authorised.
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )


class PhotoController(Controller):
    path = "/api"
    tags = ["photos"]

    @post(
        "/orders/{order_id:int}/photos",
        summary="Add photos to an order: the resident's while it waits, the volunteer's while serving",
        description=(
            f"A multipart upload with the field `{FIELD}`, once per file, at most {MAX_PER_KIND} of a kind "
            "per order: JPEG, PNG or WebP (read from the bytes, not the name), within MARKET_PHOTO_MAX_BYTES "
            "and MARKET_PHOTO_MAX_PIXELS. Each is kept upright, without its metadata (EXIF, GPS), with a "
            "thumbnail. All are kept or none."
        ),
        status_code=201,
        request_max_body_size=UPLOAD_MAX_BODY,
        exception_handlers={413: _too_large},
    )
    async def add(
        self,
        request: ActorRequest,
        order_id: PathId,
        data: Multipart,
        kind: Annotated[PhotoKind, QueryParameter(description=PhotoKind.__doc__)],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
        photo_storage: NamedDependency[PhotoStorage],
    ) -> list[PhotoRead]:
        files = await photo_files(data.get(FIELD))
        if not files:
            raise InvalidInput(f"Send the photos as the form field `{FIELD}`.", code="photo_missing")
        photos = await service.add_photos(
            session, request.user, order_id, kind, files, now, settings, photo_storage
        )
        return service.photo_reads(photos)

    @get("/orders/{order_id:int}/photos", summary="An order's photos, for those who see the order unmasked")
    async def list_photos(
        self, request: ActorRequest, order_id: PathId, session: NamedDependency[AsyncSession]
    ) -> list[PhotoRead]:
        return await service.list_photos(session, request.user, order_id)

    @get("/photos/{photo_id:int}", summary="A photo, as kept", media_type="image/*")
    async def photo(
        self,
        request: ActorRequest,
        photo_id: PathId,
        session: NamedDependency[AsyncSession],
        photo_storage: NamedDependency[PhotoStorage],
    ) -> Response[bytes]:
        photo, data = await service.read_photo(
            session, request.user, photo_id, photo_storage, thumbnail=False
        )
        return photo_response(photo.content_type, data)

    @get("/photos/{photo_id:int}/thumbnail", summary="A photo's thumbnail", media_type="image/*")
    async def thumbnail(
        self,
        request: ActorRequest,
        photo_id: PathId,
        session: NamedDependency[AsyncSession],
        photo_storage: NamedDependency[PhotoStorage],
    ) -> Response[bytes]:
        photo, data = await service.read_photo(session, request.user, photo_id, photo_storage, thumbnail=True)
        return photo_response(photo.content_type, data)

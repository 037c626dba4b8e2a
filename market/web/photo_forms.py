"""What the page forms that carry photos share: the multipart body, where photo refusals go on
the form, and a body over the upload limit (refused before it is read) as a page."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body
from litestar.response import Template

from market.photos.routes import FIELD, UPLOAD_MAX_BODY, photo_files, photo_too_large
from market.photos.schemas import PhotoFile
from market.web.pages import Form, page

# The body of a page form with a file input.
MultipartFormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
# Each photo refusal is shown next to the photos input.
PHOTO_FIELDS = {
    code: FIELD
    for code in (
        "photo_type_not_allowed",
        "photo_too_large",
        "photo_too_many_pixels",
        "photo_unreadable",
        "too_many_photos",
    )
}


def too_large_page(request: Request, _error: HTTPException) -> Template:
    error = photo_too_large(request)
    return page(request, "error.html", status_code=413, message=(f"error.{error.code}", {}))


# The route options of a page form that carries photos.
PHOTO_FORM_OPTIONS: dict[str, Any] = {
    "request_max_body_size": UPLOAD_MAX_BODY,
    "exception_handlers": {413: too_large_page},
}


async def form_with_photos(data: dict[str, Any]) -> tuple[Form, list[PhotoFile]]:
    """The form as typed (files are never shown back) and the photos it carries."""
    files = await photo_files(data.get(FIELD))
    return Form.of({k: v for k, v in data.items() if k != FIELD}), files

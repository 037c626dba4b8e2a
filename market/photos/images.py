"""What an uploaded photo becomes before it is kept: its type read from its bytes, its size and
pixel count checked before it is decoded, then redrawn upright without its metadata (EXIF, GPS,
text chunks) and shrunk into a thumbnail. Pure: bytes in, bytes out, so it runs in a thread."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from market.errors import InvalidInput
from market.settings import PHOTO_PIXELS_CEILING

# Pillow refuses outright (DecompressionBombError) what is twice this, before anything is decoded;
# below that the product's own limit (MARKET_PHOTO_MAX_PIXELS, never above this) refuses first.
Image.MAX_IMAGE_PIXELS = PHOTO_PIXELS_CEILING

# What phones take and browsers show, by Pillow's name for the format: (content type, extension).
# Anything else (GIF, HEIC, SVG, a PDF renamed .jpg) is refused. A photo keeps its own type: a PNG
# named .jpg is kept as the PNG it is.
# Pillow names a phone's JPEG that carries a second picture (a depth map, a preview) "MPO"; it is
# kept as the JPEG of its first picture.
ACCEPTED = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
SAVED_AS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# The readers tried (the JPEG reader also answers for MPO).
READERS = tuple(SAVED_AS.values())
THUMBNAIL_PX = 320
# What Pillow raises on a file of an accepted type that is cut short or corrupt.
UNREADABLE = (OSError, SyntaxError, ValueError, EOFError)
QUALITY = 85


@dataclass(frozen=True)
class Prepared:
    content_type: str
    extension: str
    width: int
    height: int
    data: bytes
    thumbnail: bytes


def too_large(max_bytes: int) -> InvalidInput:
    return InvalidInput(
        f"A photo is larger than the limit of {max_bytes // (1024 * 1024)} MB.",
        code="photo_too_large",
        limit_bytes=max_bytes,
    )


def prepare(data: bytes, *, max_bytes: int, max_pixels: int) -> Prepared:
    """The photo as it will be kept, or a refusal naming why not."""
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    try:
        # Reads the header only: the type from the bytes and the size from the header.
        image = Image.open(BytesIO(data), formats=READERS)
    except UnidentifiedImageError as error:
        raise InvalidInput(
            "A photo must be a JPEG, PNG or WebP image.",
            code="photo_type_not_allowed",
            accepted=sorted(t for t, _ in ACCEPTED.values()),
        ) from error
    except Image.DecompressionBombError as error:
        raise _too_many_pixels(max_pixels) from error
    except UNREADABLE as error:  # a JPEG cut short before its header ends
        raise _unreadable() from error
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    content_type, extension = ACCEPTED[image.format or ""]
    try:
        return _redrawn(image, content_type, extension)
    except UNREADABLE as error:  # truncated or corrupt pixel data
        raise _unreadable() from error


def _unreadable() -> InvalidInput:
    return InvalidInput("A photo could not be read; take it again.", code="photo_unreadable")


def _too_many_pixels(max_pixels: int) -> InvalidInput:
    return InvalidInput(
        f"A photo has more than {max_pixels / 1_000_000:g} megapixels.",
        code="photo_too_many_pixels",
        limit_pixels=max_pixels,
    )


def _redrawn(image: Image.Image, content_type: str, extension: str) -> Prepared:
    fmt = SAVED_AS[content_type]
    # Turned as the camera meant; the copy loses the orientation tag with the rest of the metadata.
    upright = ImageOps.exif_transpose(image)
    icc_profile = image.info.get("icc_profile")
    # Only what drawing needs is kept (PNG's transparent colour); EXIF, GPS and text are left behind.
    upright.info = {k: v for k, v in image.info.items() if k == "transparency"}
    if fmt == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    thumbnail = upright.copy()
    thumbnail.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return Prepared(
        content_type=content_type,
        extension=extension,
        width=upright.width,
        height=upright.height,
        data=_encoded(upright, fmt, icc_profile),
        thumbnail=_encoded(thumbnail, fmt, icc_profile),
    )


def _encoded(image: Image.Image, fmt: str, icc_profile: bytes | None) -> bytes:
    out = BytesIO()
    options: dict[str, object] = {"quality": QUALITY} if fmt in ("JPEG", "WEBP") else {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(out, fmt, **options)
    return out.getvalue()

"""Open311's two formats, chosen by the path's suffix: JSON (lists and objects as the spec's
examples) and XML (a root element wrapping one element per item, UTF-8 with its declaration)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import msgspec
from litestar import Response

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The element of each item of a list, by the list's element.
ITEMS = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "history": "event",
    "services": "service",
    "service_requests": "request",
    "errors": "error",
}


def split(name: str) -> tuple[str, str | None]:
    """`requests.json` → ("requests", "json"); a name without a known suffix has no format."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix not in FORMATS:
        return name, None
    return stem, suffix


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _fill(ElementTree.SubElement(element, name), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ElementTree.SubElement(element, ITEMS[element.tag]), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    element = ElementTree.Element(root)
    _fill(element, value)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(element, encoding="unicode").encode()
    )


def respond(fmt: str, root: str, value: Any, status_code: int = 200) -> Response[bytes]:
    """`value` in the format: in JSON as it is, in XML under `root` (a list: one element per item)."""
    body = msgspec.json.encode(value) if fmt == "json" else to_xml(root, value)
    return Response(content=body, status_code=status_code, media_type=FORMATS[fmt])

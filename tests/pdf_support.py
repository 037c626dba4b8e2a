"""Reading the product's PDFs back in tests with Debian's poppler-utils: the text a reader would
copy, and each page drawn as an image, so a missing font or a broken file fails the test."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import IN_CI

POPPLER = ("pdftotext", "pdftoppm")


def _poppler_or_skip() -> None:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    if not missing:
        return
    message = f"no {', '.join(missing)}: `make test` installs poppler-utils (apt-get install poppler-utils)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def pdf_text(document: bytes) -> str:
    """The document's text in reading order, as pdftotext extracts it."""
    _poppler_or_skip()
    result = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=document, capture_output=True, check=True
    )
    return result.stdout.decode()


def pdf_page_images(document: bytes) -> list[bytes]:
    """Each page drawn as a PNG (72 dpi), as pdftoppm renders it."""
    _poppler_or_skip()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(document)
        subprocess.run(["pdftoppm", "-png", "-r", "72", str(source), str(Path(folder) / "page")], check=True)
        return [page.read_bytes() for page in sorted(Path(folder).glob("page*.png"))]

"""The PDF layer: Chinese prints from the embedded font, pages render, a QR code reads back."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from market.documents.pdf import PdfDocument
from tests.pdf_support import pdf_page_images, pdf_text


def _sample() -> bytes:
    document = PdfDocument("志愿服务证明", created_at=datetime(2026, 3, 12, tzinfo=UTC))
    document.heading("志愿服务证明")
    document.fields([("证明编号", "幸福里-2026-0001"), ("志愿者", "张喆堃")])
    document.paragraph("兹证明该志愿者累计服务 12.5 小时。Hours of service: 12.5")
    document.table(["日期", "服务内容", "小时"], [["2026-03-01", "陪同就医", "2.5"]] * 60)
    document.qr("https://example.org/verify/abc", caption="扫码核验")
    return document.to_bytes()


def test_chinese_text_is_extractable_including_rare_name_characters() -> None:
    text = pdf_text(_sample())
    for expected in ("志愿服务证明", "幸福里-2026-0001", "张喆堃", "陪同就医", "扫码核验", "Hours of"):
        assert expected in text


def test_every_page_renders_with_ink_and_a_long_table_runs_over_pages() -> None:
    pages = pdf_page_images(_sample())
    assert len(pages) >= 2
    for page in pages:
        image = Image.open(io.BytesIO(page)).convert("L")
        darkest, _ = image.getextrema()
        assert darkest < 100  # text was drawn: a page in a missing font comes out blank or boxes only


def test_the_font_is_embedded_as_a_subset() -> None:
    document = _sample()
    assert b"/FontFile2" in document  # the TrueType program is inside the file
    assert len(document) < 400_000  # only the glyphs used, not the whole 4.6 MB font


def test_same_content_and_date_give_the_same_bytes() -> None:
    assert _sample() == _sample()

"""A4 PDFs that print Chinese on any machine: the font travels inside the file.

fpdf2 embeds only the glyphs a document uses, so a one-page letter stays small although the
font covers GBK. Callers pass text already in the reader's language; this module lays it out.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

FONT_FILE = Path(__file__).parent / "fonts" / "WenQuanYiMicroHei.ttf"
FONT = "wqy"
MARGIN_MM = 20
BODY_PT = 11


class PdfDocument:
    """One A4 document, written top to bottom: headings, paragraphs, label/value lines, tables, a QR."""

    def __init__(self, title: str, *, author: str = "", created_at: datetime | None = None) -> None:
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
        pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
        pdf.add_font(FONT, fname=str(FONT_FILE))
        pdf.set_title(title)
        pdf.set_author(author)
        pdf.set_creator("Linli market")
        if created_at is not None:
            # A fixed creation date keeps the bytes a function of the data (and of the clock).
            pdf.set_creation_date(created_at)
        pdf.add_page()
        pdf.set_font(FONT, size=BODY_PT)
        self._pdf = pdf

    @property
    def width(self) -> float:
        """The width between the margins, in mm."""
        return self._pdf.epw

    def heading(self, text: str, *, size: float = 18, align: str = "C") -> None:
        self._pdf.set_font(FONT, size=size)
        self._pdf.multi_cell(0, size * 0.5, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._pdf.set_font(FONT, size=BODY_PT)
        self.space(3)

    def paragraph(self, text: str, *, size: float = BODY_PT, align: str = "J") -> None:
        self._pdf.set_font(FONT, size=size)
        self._pdf.multi_cell(0, size * 0.55, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._pdf.set_font(FONT, size=BODY_PT)
        self.space(2)

    def fields(self, rows: Sequence[tuple[str, str]], *, label_width: float = 40) -> None:
        """Label / value lines, such as a certificate's number, holder and issuer."""
        line = BODY_PT * 0.6
        for label, value in rows:
            self._pdf.cell(label_width, line, label)
            self._pdf.multi_cell(0, line, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.space(2)

    def table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], *, widths: Sequence[float] | None = None
    ) -> None:
        """A ruled table whose header repeats on every page it runs over."""
        self._pdf.set_font(FONT, size=BODY_PT - 1)
        with self._pdf.table(
            col_widths=tuple(widths) if widths else None,
            first_row_as_headings=True,
            # The font has no bold face: headings stand out by their shade instead.
            headings_style=FontFace(emphasis=None, fill_color=(230, 230, 230)),
            repeat_headings=1,
            line_height=(BODY_PT - 1) * 0.6,
            text_align="LEFT",
        ) as table:
            for values in (header, *rows):
                row = table.row()
                for value in values:
                    row.cell(str(value))
        self._pdf.set_font(FONT, size=BODY_PT)
        self.space(3)

    def qr(self, url: str, *, size_mm: float = 30, caption: str = "") -> None:
        """A QR code at the right margin (always a full QR: phone scanners rarely read Micro QR)."""
        image = io.BytesIO()
        segno.make(url, micro=False, error="m").save(image, kind="png", scale=8, border=2)
        image.seek(0)
        if self._pdf.get_y() + size_mm > self._pdf.h - MARGIN_MM:
            self._pdf.add_page()
        x = self._pdf.w - MARGIN_MM - size_mm
        y = self._pdf.get_y()
        self._pdf.image(image, x=x, y=y, w=size_mm, h=size_mm)
        if caption:
            self._pdf.set_font(FONT, size=8)
            self._pdf.set_xy(x - 10, y + size_mm)
            self._pdf.multi_cell(size_mm + 20, 4, caption, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self._pdf.set_font(FONT, size=BODY_PT)
        else:
            self._pdf.set_y(y + size_mm)
        self.space(2)

    def space(self, mm: float) -> None:
        self._pdf.ln(mm)

    def new_page(self) -> None:
        self._pdf.add_page()

    def to_bytes(self) -> bytes:
        return bytes(self._pdf.output())

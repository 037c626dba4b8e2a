"""Spreadsheet downloads: every CSV and Excel file the service hands out is written here, row by row
as the rows are read, with text that a spreadsheet program cannot take for a formula.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and
LibreOffice (CSV injection): a member's gift memo `=HYPERLINK("http://x","y")` became a live link
in the statement a manager downloads. As OWASP advises, such text gets a leading single quote;
numbers stay numbers. openpyxl would even store such text as a formula in an Excel file.

Most cells need nothing: a batch whose text holds no control character and starts no cell with a
formula character is written as it is (searched for in the batch's text joined), so a long
statement is not converted cell by cell; a batch with any such cell goes cell by cell.

CSV is sent as it is written. An Excel file is a zip that is complete only at the end, so its rows
go into openpyxl's write-only workbook (which keeps them in a temporary file, not in memory) and
the file is sent once written, in chunks.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any, Literal, NamedTuple

import anyio.to_thread
from litestar.openapi import ResponseSpec
from litestar.response import Response, Stream
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

Format = Literal["csv", "xlsx"]
Row = Sequence[object]
CONTENT_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A formula character after a line feed: in a batch's text cells joined by line feeds, the start of
# a cell (or of a line inside one, which only sends the batch the slow way).
FORMULA_AFTER_LINE_FEED = re.compile(r"\n[=+\-@\t\r]")
CHUNK = 64 * 1024


def json_or_download(data: Any) -> dict[int, ResponseSpec]:
    """The OpenAPI answer of an endpoint that returns `data` as JSON, or a download with ?format=.
    Left to its return type (`data | Stream`) the document says "one of `data` or anything", which
    every JSON answer breaks (it matches both). No generated examples: for a list they are random,
    and the document must be the same on every build."""
    return {
        200: ResponseSpec(
            data_container=data, description="JSON; with ?format= a download", generate_examples=False
        )
    }


def pdf_download(content: bytes, filename: str) -> Response[bytes]:
    """A PDF the browser saves as `filename`.pdf."""
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
    )


class Sheet(NamedTuple):
    """One sheet of a workbook: its name, its header and its rows, in batches."""

    name: str
    columns: Sequence[str]
    batches: AsyncIterable[Sequence[Row]]


def cell(value: object) -> object:
    """A value as a spreadsheet cell holding what it says: text that would start a formula is quoted,
    and control characters an Excel file cannot hold (stored before text refused them) are spaces."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub(" ", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def plain(rows: Sequence[Row]) -> bool:
    """Whether every cell of `rows` is already what `cell` would make of it."""
    # Two searches of one string (a literal-led pattern and a character class are the fast kinds).
    text = "\n" + "\n".join([v for row in rows for v in row if type(v) is str])
    return ILLEGAL_CHARACTERS_RE.search(text) is None and FORMULA_AFTER_LINE_FEED.search(text) is None


def cells(rows: Sequence[Row]) -> Sequence[Row]:
    return rows if plain(rows) else [[cell(v) for v in row] for row in rows]


async def one_batch(rows: Sequence[Row]) -> AsyncIterator[Sequence[Row]]:
    """Rows already read (a report of a few hundred) as the batches `download` takes."""
    yield rows


def download(
    fmt: Format, filename: str, columns: Sequence[str], batches: AsyncIterable[Sequence[Row]], *, sheet: str
) -> Stream:
    """The rows of `batches`, under a header of `columns`, as an attachment named `filename.<fmt>`."""
    content = _csv(columns, batches) if fmt == "csv" else _xlsx([Sheet(sheet, columns, batches)])
    return _attachment(fmt, filename, content)


def workbook(filename: str, sheets: Sequence[Sheet]) -> Stream:
    """An Excel file of several sheets, named `filename.xlsx`."""
    return _attachment("xlsx", filename, _xlsx(sheets))


def _attachment(fmt: Format, filename: str, content: AsyncIterator[bytes]) -> Stream:
    return Stream(
        content,
        # A header, not `media_type`: a Stream takes the handler's media type (JSON) over its own.
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
        },
    )


async def _csv(columns: Sequence[str], batches: AsyncIterable[Sequence[Row]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # A byte-order mark so that spreadsheet programs read Chinese names correctly.
    buffer.write("\ufeff")
    writer.writerow([cell(c) for c in columns])
    async for rows in batches:
        writer.writerows(cells(rows))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # only the header: no batch at all
        yield buffer.getvalue().encode()


async def _xlsx(sheets: Sequence[Sheet]) -> AsyncIterator[bytes]:
    book = Workbook(write_only=True)
    for sheet in sheets:
        worksheet = book.create_sheet(sheet.name)
        worksheet.append([cell(c) for c in sheet.columns])
        async for rows in sheet.batches:
            for row in cells(rows):
                worksheet.append(row)
    with tempfile.TemporaryFile() as file:
        # Zipping the rows up takes a while for a long statement: off the event loop.
        await anyio.to_thread.run_sync(book.save, file)
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk

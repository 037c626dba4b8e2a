"""Spreadsheet downloads: every CSV and Excel file the service hands out is written here, row by row
as the rows are read, with text that a spreadsheet program cannot take for a formula.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and
LibreOffice (CSV injection): a member's gift memo `=HYPERLINK("http://x","y")` became a live link
in the statement a manager downloads. As OWASP advises, such text gets a leading single quote;
numbers stay numbers. openpyxl would even store such text as a formula in an Excel file.

CSV is sent as it is written. An Excel file is a zip that is complete only at the end, so its rows
go into openpyxl's write-only workbook (which keeps them in a temporary file, not in memory) and
the file is sent once written, in chunks.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Literal

import anyio.to_thread
from litestar.response import Stream
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

Format = Literal["csv", "xlsx"]
Row = Sequence[object]
CONTENT_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 64 * 1024


def cell(value: object) -> object:
    """A value as a spreadsheet cell holding what it says: text that would start a formula is quoted,
    and control characters an Excel file cannot hold (stored before text refused them) are spaces."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub(" ", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def download(
    fmt: Format, filename: str, columns: Sequence[str], batches: AsyncIterable[Sequence[Row]], *, sheet: str
) -> Stream:
    """The rows of `batches`, under a header of `columns`, as an attachment named `filename.<fmt>`."""
    content = _csv(columns, batches) if fmt == "csv" else _xlsx(columns, batches, sheet)
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
        writer.writerows([cell(v) for v in row] for row in rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # only the header: no batch at all
        yield buffer.getvalue().encode()


async def _xlsx(
    columns: Sequence[str], batches: AsyncIterable[Sequence[Row]], sheet: str
) -> AsyncIterator[bytes]:
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append([cell(c) for c in columns])
    async for rows in batches:
        for row in rows:
            worksheet.append([cell(v) for v in row])
    with tempfile.TemporaryFile() as file:
        # Zipping the rows up takes a while for a long statement: off the event loop.
        await anyio.to_thread.run_sync(workbook.save, file)
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk

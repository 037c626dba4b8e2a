"""Spreadsheet uploads: the rows of a CSV or Excel file a person uploads, keyed by column.

Every import (the area tree, people) reads its file here, so they all accept the same files and
refuse bad ones with the same codes: an `.xlsx` workbook (its first sheet) or a CSV in UTF-8 (with
or without the BOM Excel writes) or GB18030 (what Excel on a Chinese Windows saves). The first
non-blank row holds the headings, matched to columns by key or by either language's label, in any
order; blank rows are skipped. Values come back as stripped text: a phone number Excel stored as
the number 13800000000.0 reads as "13800000000". Checking what the values mean is the importer's
business; this module only says whether the file is a table with the columns asked for.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from market.errors import InvalidInput
from market.exports import CONTENT_TYPES, cell

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Column:
    """One column of an import: its key and its heading in each language."""

    key: str
    zh: str
    en: str
    required: bool = True

    def names(self) -> set[str]:
        return {_heading(self.key), _heading(self.zh), _heading(self.en)}


@dataclass(frozen=True)
class Row:
    """One data row: its line number in the file as a spreadsheet program shows it, and its values."""

    line: int
    values: Mapping[str, str]


def read_table(data: bytes, columns: Sequence[Column]) -> list[Row]:
    """The non-blank rows of an uploaded file, each keyed by the columns' keys (missing cells are "")."""
    if not data.strip():
        raise InvalidInput("The file is empty.", code="file_empty")
    if len(data) > MAX_BYTES:
        raise InvalidInput("The file is larger than the limit.", code="file_too_large", limit_bytes=MAX_BYTES)
    lines = _xlsx_lines(data) if data.startswith(XLSX_MAGIC) else _csv_lines(data)
    numbered = ((number, [_text(value) for value in line]) for number, line in lines)
    filled = ((number, line) for number, line in numbered if any(line))
    heading = next(filled, None)
    if heading is None:
        raise InvalidInput("The file is empty.", code="file_empty")
    positions = _positions(heading[1], columns)
    rows: list[Row] = []
    for number, line in filled:
        if len(rows) == MAX_ROWS:
            raise InvalidInput("The file has too many rows.", code="too_many_rows", limit=MAX_ROWS)
        rows.append(
            Row(
                number,
                {key: line[index] if index < len(line) else "" for key, index in positions.items()},
            )
        )
    return rows


def template(columns: Sequence[Column], lang: str, examples: Iterable[Sequence[object]] = ()) -> bytes:
    """An Excel file with the columns' headings in `lang` (and example rows) for people to fill in."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append([column.zh if lang == "zh" else column.en for column in columns])
    for example in examples:
        sheet.append([cell(value) for value in example])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TEMPLATE_CONTENT_TYPE = CONTENT_TYPES["xlsx"]


def _positions(heading: list[str], columns: Sequence[Column]) -> dict[str, int]:
    found: dict[str, int] = {}
    seen = [_heading(name) for name in heading]
    for column in columns:
        names = column.names()
        index = next((i for i, name in enumerate(seen) if name in names), None)
        if index is not None:
            found[column.key] = index
    missing = [column.key for column in columns if column.required and column.key not in found]
    if missing:
        raise InvalidInput("The file lacks required columns.", code="columns_missing", columns=missing)
    return found


def _heading(name: str) -> str:
    return "".join(name.split()).casefold()


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise InvalidInput("The file is not a spreadsheet.", code="not_a_spreadsheet") from error
    sheet = book.worksheets[0] if book.worksheets else None
    if sheet is None:
        raise InvalidInput("The file is empty.", code="file_empty")
    try:
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        book.close()


def _csv_lines(data: bytes) -> Iterator[tuple[int, Sequence[object]]]:
    if b"\x00" in data:
        raise InvalidInput("The file is not a spreadsheet.", code="not_a_spreadsheet")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput("The file is not a spreadsheet.", code="not_a_spreadsheet")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        yield from enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)
    except csv.Error as error:
        raise InvalidInput("The file is not a spreadsheet.", code="not_a_spreadsheet") from error


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()

"""Uploaded spreadsheets: what every import accepts, and the codes it refuses bad files with."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from market.errors import InvalidInput
from market.imports import MAX_BYTES, MAX_ROWS, Column, read_table, template

COLUMNS = [
    Column("phone", "手机号", "Phone"),
    Column("name", "姓名", "Name"),
    Column("note", "备注", "Note", required=False),
]


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def refused(data: bytes) -> str:
    with pytest.raises(InvalidInput) as caught:
        read_table(data, COLUMNS)
    return caught.value.code


def test_csv_in_utf8_with_bom_and_headings_in_chinese_in_any_order() -> None:
    data = "\ufeff姓名,手机号\n张三,13800000001\n\n李四,13800000002\n".encode()
    rows = read_table(data, COLUMNS)
    assert [(row.line, dict(row.values)) for row in rows] == [
        (2, {"name": "张三", "phone": "13800000001"}),
        (4, {"name": "李四", "phone": "13800000002"}),
    ]


def test_csv_in_gb18030_and_tab_separated_with_english_headings() -> None:
    data = "Phone\tName\tNote\n13800000001\t王五\t三楼\n".encode("gb18030")
    assert dict(read_table(data, COLUMNS)[0].values) == {
        "phone": "13800000001",
        "name": "王五",
        "note": "三楼",
    }


def test_xlsx_numbers_read_as_the_digits_people_typed() -> None:
    data = xlsx([["phone", "NAME"], [13800000001.0, " 赵六 "], [None, None], [13800000002, "钱七"]])
    assert [dict(row.values) for row in read_table(data, COLUMNS)] == [
        {"phone": "13800000001", "name": "赵六"},
        {"phone": "13800000002", "name": "钱七"},
    ]


def test_the_template_reads_back_in_either_language() -> None:
    for lang in ("zh", "en"):
        data = template(COLUMNS, lang, [["13800000001", "=cmd", ""]])
        (row,) = read_table(data, COLUMNS)
        assert row.values["phone"] == "13800000001"
        assert row.values["name"] == "'=cmd", "example text that would start a formula is quoted"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "file_empty"),
        (b"\n\n  \n", "file_empty"),
        (b"name,note\nx,y\n", "columns_missing"),
        (b"PK\x03\x04not really a zip", "not_a_spreadsheet"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not_a_spreadsheet"),
        (bytes([0xFF, 0xFE, 0xFD, 0x81, 0x30]) * 3, "not_a_spreadsheet"),
        (b"phone,name\n" + b"1,a\n" * (MAX_ROWS + 1), "too_many_rows"),
        (b"phone,name\n" + b"x" * MAX_BYTES, "file_too_large"),
    ],
)
def test_bad_files_are_refused_with_a_code(data: bytes, code: str) -> None:
    assert refused(data) == code


def test_missing_columns_are_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(b"note\nx\n", COLUMNS)
    assert caught.value.extra["columns"] == ["phone", "name"]

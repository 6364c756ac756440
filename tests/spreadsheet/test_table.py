"""Reading raw CSV and XLSX exports: encodings, delimiters, quoting, bad files."""

from __future__ import annotations

import codecs
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from connectors.errors import InputFileError
from connectors.spreadsheet.table import cell_text, read_table


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_csv_with_bom_crlf_and_all_quoted_cells(tmp_path):
    data = codecs.BOM_UTF8 + b'"Record ID","First Name","Email"\r\n"123456789012","Ann",""\r\n'
    table = read_table(write_bytes(tmp_path, "hubspot.csv", data))
    assert table.header == ("Record ID", "First Name", "Email")
    assert table.rows == [("123456789012", "Ann", "")]
    assert table.dialect.bom is True
    assert table.dialect.line_terminator == "\r\n"
    assert table.dialect.quote_all is True


def test_quoted_cell_with_line_breaks_stays_one_row(tmp_path):
    data = b'Contact Id,Notes,Tags\r\na1,"first line\r\nsecond line\nthird",vip\r\na2,plain,\r\n'
    table = read_table(write_bytes(tmp_path, "ghl.csv", data))
    assert len(table.rows) == 2
    assert table.rows[0][1] == "first line\r\nsecond line\nthird"
    assert table.rows[1][0] == "a2"


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"Name;Email;Tags\nAnn;a@example.com;vip, botox\nBo;b@example.com;\n", ";"),
        (b'Name,Email,Tags\nAnn,a@example.com,"vip; botox"\n', ","),
        (b"Name\tEmail\nAnn\ta@example.com\n", "\t"),
        (b"Name|Email\nAnn|a@example.com\n", "|"),
    ],
    ids=["semicolon-with-comma-in-cell", "comma-with-semicolon-in-cell", "tab", "pipe"],
)
def test_delimiter_is_sniffed(tmp_path, data, delimiter):
    table = read_table(write_bytes(tmp_path, "leads.csv", data))
    assert table.dialect.delimiter == delimiter
    assert table.header[:2] == ("Name", "Email")
    assert table.rows[0][0] == "Ann"


def test_latin1_bytes_fall_back_without_crash(tmp_path):
    data = "Name,Treatment\nRenée,Crème peel\n".encode("latin-1")
    table = read_table(write_bytes(tmp_path, "old-excel.csv", data))
    assert table.rows[0] == ("Renée", "Crème peel")
    assert table.dialect.encoding == "cp1252"
    assert any("not UTF-8" in warning for warning in table.warnings)


def test_utf16_excel_unicode_text_is_read(tmp_path):
    data = "Name\tEmail\r\nZoë\tz@example.com\r\n".encode("utf-16")
    table = read_table(write_bytes(tmp_path, "unicode.txt", data))
    assert table.rows[0] == ("Zoë", "z@example.com")


def test_blank_lines_before_header_are_skipped(tmp_path):
    table = read_table(write_bytes(tmp_path, "leads.csv", b"\n\nName,Email\nAnn,a@x.com\n"))
    assert table.header == ("Name", "Email")
    assert table.warnings


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "is empty"),
        (b"  \r\n\r\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"%PDF-1.7\n", "PDF document"),
        (b"abc\x00\x01\x02def", "binary file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Excel 97-2003"),
        (b"PK\x03\x04not really a workbook", "not a readable XLSX"),
    ],
    ids=["empty", "whitespace-only", "png", "pdf", "nul-bytes", "xls", "broken-zip"],
)
def test_unusable_file_raises_input_file_error(tmp_path, data, expected):
    path = write_bytes(tmp_path, "leads.csv", data)
    with pytest.raises(InputFileError) as caught:
        read_table(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        read_table(tmp_path / "nope.csv")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(InputFileError, match="is a directory"):
        read_table(tmp_path)


def test_sheet_option_on_csv_is_rejected(tmp_path):
    path = write_bytes(tmp_path, "leads.csv", b"Name\nAnn\n")
    with pytest.raises(InputFileError, match="no sheets"):
        read_table(path, sheet="Leads")


def make_workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_first_sheet_and_long_ids_as_text(tmp_path):
    path = make_workbook(
        tmp_path / "export.xlsx",
        {
            "Contacts": [
                ["Record ID", "Create Date", "Visits"],
                [123456789012, datetime(2025, 11, 14, 14, 30), 3],
                [987654321098.0, None, None],
                [None, None, None],
            ],
            "Other": [["x"]],
        },
    )
    table = read_table(path)
    assert table.format == "xlsx"
    assert table.sheet == "Contacts"
    assert table.header == ("Record ID", "Create Date", "Visits")
    assert len(table.rows) == 2
    assert cell_text(table.rows[0][0]) == "123456789012"
    assert cell_text(table.rows[1][0]) == "987654321098"
    assert table.rows[0][1] == datetime(2025, 11, 14, 14, 30)


def test_xlsx_named_sheet(tmp_path):
    path = make_workbook(tmp_path / "book.xlsx", {"Notes": [["a"]], "Leads": [["Name"], ["Ann"]]})
    table = read_table(path, sheet="Leads")
    assert table.rows == [("Ann",)]


def test_xlsx_unknown_sheet_lists_sheets(tmp_path):
    path = make_workbook(tmp_path / "book.xlsx", {"Notes": [["a"]], "Leads": [["Name"]]})
    with pytest.raises(InputFileError) as caught:
        read_table(path, sheet="Contacts")
    assert "'Notes', 'Leads'" in str(caught.value)


def test_workbook_renamed_to_csv_is_read_as_xlsx(tmp_path):
    path = make_workbook(tmp_path / "book.xlsx", {"Leads": [["Name"], ["Ann"]]})
    renamed = path.rename(tmp_path / "leads.csv")
    table = read_table(renamed)
    assert table.format == "xlsx"
    assert table.rows == [("Ann",)]


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        (None, ""),
        ("  padded ", "padded"),
        (123456789012345, "123456789012345"),
        (123456789012.0, "123456789012"),
        (2.5, "2.5"),
        (True, "TRUE"),
        (datetime(2025, 1, 2, 3, 4), "2025-01-02T03:04:00"),
    ],
    ids=["none", "strip", "int", "whole-float", "fraction", "bool", "datetime"],
)
def test_cell_text(cell, text):
    assert cell_text(cell) == text


def test_unclosed_quote_reports_line(tmp_path):
    data = b'Name,Notes\nAnn,"open quote\nBo,fine\n' + b"x,y\n" * 40_000
    with pytest.raises(InputFileError) as caught:
        read_table(write_bytes(tmp_path, "leads.csv", data))
    assert "not valid CSV near line" in str(caught.value)
    assert "unclosed quote" in str(caught.value)


def test_header_of_empty_names_is_rejected(tmp_path):
    with pytest.raises(InputFileError, match="no header row"):
        read_table(write_bytes(tmp_path, "leads.csv", b",,\n"))


def test_header_without_rows_gives_empty_table(tmp_path):
    table = read_table(write_bytes(tmp_path, "leads.csv", b"Record ID,Budget\r\n"))
    assert table.header == ("Record ID", "Budget")
    assert table.rows == []

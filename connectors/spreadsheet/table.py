"""Load a CSV or XLSX file into a header and raw rows, exactly as exported.

CRM exports are messy: a UTF-8 byte order mark, CRLF line ends, every cell
quoted, line breaks inside quoted cells, semicolons in place of commas
(European Excel), Latin-1 bytes from an older Excel "Save as CSV". This module
handles all of that and does not use the field mapping.

The format is taken from the file's content, not its name, so a workbook
saved as `leads.csv` still opens. Every failure raises `InputFileError` with
the path and what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

import structlog

from connectors.errors import InputFileError

log = structlog.get_logger(__name__)

FileFormat = Literal["csv", "xlsx"]
# A cell as read: text from a CSV, or a number, date, bool or text from a workbook.
Cell = str | int | float | bool | datetime | date | time | None

CSV_DELIMITERS = (",", ";", "\t", "|")
# Lines read to choose the delimiter; enough to see past a title line.
SNIFF_LINES = 50
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls
# Signatures of files that are certainly not spreadsheets, for a precise message.
_BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}


@dataclass(frozen=True, slots=True)
class CsvDialect:
    """The delimiter, encoding, line ends and quoting of a CSV file, reused for the scored copy."""

    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    line_terminator: str = "\r\n"
    quote_all: bool = False


@dataclass(slots=True)
class Table:
    """The header and the data rows of one sheet, cells as read.

    `rows[i]` is data row `i + 1` (the header is not counted), which is the
    row number shown to users. Rows keep their own length: a short row is
    not padded and a long row is not cut, so a writer can copy it unchanged.
    """

    path: Path
    format: FileFormat
    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    sheet: str | None = None
    dialect: CsvDialect | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        """Return the number of columns needed to hold the header and the longest row."""
        longest = max((len(row) for row in self.rows), default=0)
        return max(len(self.header), longest)


def read_table(path: str | Path, *, sheet: str | None = None) -> Table:
    """Read the first sheet of `path` (or the sheet named `sheet`) into a `Table`.

    Raises `InputFileError` when the file is missing, unreadable, empty,
    binary, or an unsupported format.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"input file {path} not found; check the path", path=str(path))
    if path.is_dir():
        raise InputFileError(f"{path} is a directory; pass a CSV or XLSX file", path=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(
            f"cannot read {path}: {exc.strerror or exc}; check the file permissions",
            path=str(path),
        ) from exc

    if not data.strip():
        raise InputFileError(
            f"{path} is empty; export the leads again with a header row", path=str(path)
        )
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(path, data, sheet)
    if data.startswith(_OLE_MAGIC):
        raise InputFileError(
            f"{path} is an Excel 97-2003 (.xls) workbook, which is not supported; "
            "open it in Excel and save it as .xlsx or .csv",
            path=str(path),
        )
    _reject_binary(path, data)
    if sheet is not None:
        raise InputFileError(
            f"--sheet {sheet!r} was given but {path} is a CSV file, which has no sheets",
            path=str(path),
        )
    return _read_csv(path, data)


def _reject_binary(path: Path, data: bytes) -> None:
    for signature, kind in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise InputFileError(
                f"{path} is {kind}, not a spreadsheet; pass a CSV or XLSX export",
                path=str(path),
            )
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    if b"\x00" in head:
        raise InputFileError(
            f"{path} is a binary file, not a spreadsheet; pass a CSV or XLSX export",
            path=str(path),
        )


def _decode(path: Path, data: bytes) -> tuple[str, str, bool]:
    """Return the text, the encoding used and whether a byte order mark was present."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, bom, body = "utf-8", True, data[len(codecs.BOM_UTF8) :]
        try:
            return body.decode("utf-8"), encoding, bom
        except UnicodeDecodeError:
            pass  # A BOM followed by non-UTF-8 bytes: fall through to the 8-bit codecs.
        data = body
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16", True
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{path} starts with a UTF-16 byte order mark but is not valid UTF-16; "
                "export it again as CSV UTF-8",
                path=str(path),
            ) from exc
    else:
        try:
            return data.decode("utf-8"), "utf-8", False
        except UnicodeDecodeError:
            pass

    # Not UTF-8: Excel on Windows writes Windows-1252, a superset of the
    # printable Latin-1 range. Latin-1 decodes any byte, so it is the last resort.
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        log.warning("input_not_utf8", path=str(path), encoding=encoding)
        return text, encoding, False
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _choose_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines into the most, equally wide, columns."""
    sample_lines: list[str] = []
    for line in io.StringIO(text, newline=None):
        sample_lines.append(line)
        if len(sample_lines) >= SNIFF_LINES:
            break
    sample = "".join(sample_lines)
    best, best_key = ",", (-1, -1)
    for delimiter in CSV_DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not rows:
            continue
        header_width = len(rows[0])
        # Every complete row (the last may be cut mid-cell) as wide as the header.
        consistent = sum(1 for row in rows[1:-1] if len(row) == header_width)
        key = (int(header_width > 1), consistent * header_width + header_width)
        if key > best_key:
            best, best_key = delimiter, key
    return best


def _line_terminator(text: str) -> str:
    newline = text.find("\n")
    return "\r\n" if newline > 0 and text[newline - 1] == "\r" else "\n"


def _read_csv(path: Path, data: bytes) -> Table:
    text, encoding, bom = _decode(path, data)
    delimiter = _choose_delimiter(text)
    dialect = CsvDialect(
        delimiter=delimiter,
        encoding=encoding,
        bom=bom,
        line_terminator=_line_terminator(text),
        quote_all=text.lstrip().startswith('"'),
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    header: tuple[str, ...] = ()
    blank_lines = 0
    rows: list[tuple[Cell, ...]] = []
    try:
        for record in reader:
            if header:
                rows.append(tuple(record))
            elif any(cell.strip() for cell in record):
                header = _clean_header(record)
            else:
                blank_lines += 1
    except csv.Error as exc:
        raise InputFileError(
            f"{path} is not valid CSV near line {reader.line_num}: {exc}; "
            "check for an unclosed quote",
            path=str(path),
        ) from exc

    if not header:
        raise InputFileError(
            f"{path} has no header row; export the leads again with column names",
            path=str(path),
        )
    table = Table(path=path, format="csv", header=header, rows=rows, dialect=dialect)
    if blank_lines:
        table.warnings.append(f"skipped {blank_lines} blank line(s) before the header")
    if encoding not in ("utf-8", "utf-16"):
        table.warnings.append(
            f"{path.name} is not UTF-8; read it as {encoding} (the scored copy is UTF-8)"
        )
    return table


def _read_xlsx(path: Path, data: bytes, sheet: str | None) -> Table:
    # Imported here so CSV-only use does not pay for loading openpyxl.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputFileError(
            f"{path} is a ZIP file but not a readable XLSX workbook ({exc}); "
            "open it in Excel and save it again as .xlsx or .csv",
            path=str(path),
        ) from exc
    try:
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            raise InputFileError(
                f"sheet {sheet!r} not found in {path}; its sheets are: "
                + ", ".join(repr(name) for name in workbook.sheetnames),
                path=str(path),
            )
        records = [tuple(row) for row in worksheet.iter_rows(values_only=True)]
        title = worksheet.title
    finally:
        workbook.close()

    header_index = next(
        (i for i, row in enumerate(records) if any(cell_text(c) for c in row)), None
    )
    if header_index is None:
        raise InputFileError(
            f"sheet {title!r} of {path} is empty; put a header row on the first line",
            path=str(path),
        )
    header = _clean_header([cell_text(cell) for cell in records[header_index]])
    rows = [_trim_trailing_empty(row) for row in records[header_index + 1 :]]
    # read_only mode reports the sheet's formatted extent, which often
    # includes trailing rows with nothing in them.
    while rows and not any(cell_text(cell) for cell in rows[-1]):
        rows.pop()
    table = Table(path=path, format="xlsx", header=header, rows=rows, sheet=title)
    if header_index:
        table.warnings.append(f"skipped {header_index} blank row(s) before the header")
    return table


def _trim_trailing_empty(row: Sequence[Cell]) -> tuple[Cell, ...]:
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return tuple(row[:end])


def _clean_header(names: Sequence[str]) -> tuple[str, ...]:
    cleaned = []
    for name in names:
        name = name.replace("\ufeff", "").strip()
        cleaned.append(name)
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    return tuple(cleaned)


def cell_text(cell: Cell) -> str:
    """Return a cell as text, the way a person reading the sheet would write it.

    Whole floats from a workbook lose the `.0`, so a 12-digit HubSpot Record ID
    stored as a number reads `123456789012`, not `123456789012.0` or `1.2e11`.
    """
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        if cell.is_integer() and abs(cell) < 1e18:
            return str(int(cell))
        return repr(cell)
    if isinstance(cell, datetime | date | time):
        return cell.isoformat()
    return str(cell)

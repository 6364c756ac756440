"""Write a scored copy of a sheet: every input row unchanged, plus the score columns.

The copy is written to a temporary file next to the target and moved into
place when complete, so an interrupted run never leaves half a file (and
`--in-place` never loses the input).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from connectors.errors import InputFileError
from connectors.spreadsheet.table import Cell, CsvDialect, Table

SCORE_COLUMNS = ("score", "fit", "intent", "tier", "reasons")
# Prefix for a score column whose name the input already uses for something else.
COLUMN_PREFIX = "leadscore_"


def output_format(path: Path, table: Table) -> str:
    """Return "xlsx" or "csv": by the output extension, else the input's format."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    return table.format


class ScoreLayout:
    """Positions of the score columns in the output header.

    A file scored before already has all five score columns: they are
    overwritten in place, so scoring a scored file again does not add
    another set. Otherwise they are appended after the widest row, and any
    name already used by an input column gets the `leadscore_` prefix.
    """

    def __init__(self, table: Table) -> None:
        header = list(table.header)
        if all(name in header for name in SCORE_COLUMNS):
            self.header = tuple(header)
            self.positions = {name: header.index(name) for name in SCORE_COLUMNS}
            self.width = max(table.width, len(header))
            return
        width = table.width
        padded = header + [""] * (width - len(header))
        names = [name if name not in header else COLUMN_PREFIX + name for name in SCORE_COLUMNS]
        self.header = tuple(padded + names)
        self.positions = {name: width + i for i, name in enumerate(SCORE_COLUMNS)}
        self.width = width + len(SCORE_COLUMNS)

    def row(self, cells: Sequence[Cell], scores: Mapping[str, Cell] | None) -> list[Cell]:
        """Return the output row: the input cells, then the score cells (blank when unscored)."""
        out: list[Cell] = list(cells) + [None] * (self.width - len(cells))
        for name, position in self.positions.items():
            out[position] = scores.get(name) if scores else None
        return out


def write_scored(
    table: Table,
    scores: Iterable[Mapping[str, Cell] | None],
    output: Path,
    *,
    fmt: str | None = None,
) -> None:
    """Write `table` with one score mapping (or None) per data row to `output`.

    `scores` must give one item per row of `table.rows`, in order.
    """
    fmt = fmt or output_format(output, table)
    layout = ScoreLayout(table)
    rows = (
        layout.row(cells, row_scores) for cells, row_scores in zip(table.rows, scores, strict=True)
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{output.stem}.", suffix=output.suffix, dir=output.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        if fmt == "xlsx":
            _write_xlsx(temp, layout.header, rows, table.sheet or "Leads")
        else:
            _write_csv(temp, layout.header, rows, table.dialect or CsvDialect())
        os.replace(temp, output)
    except OSError as exc:
        raise InputFileError(
            f"cannot write {output}: {exc.strerror or exc}; check the folder exists and is "
            "writable, or choose another path with -o",
            path=str(output),
        ) from exc
    finally:
        temp.unlink(missing_ok=True)


def _write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]], dialect: CsvDialect
) -> None:
    # UTF-8 always; keep a byte order mark when the input had one or was not
    # UTF-8, because Excel needs it to read UTF-8 CSV correctly.
    bom = dialect.bom or dialect.encoding not in ("utf-8", "utf-16")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else dialect.delimiter
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as stream:
        # Python 3.11's csv writer quotes a cell only for the characters of its
        # own line terminator, so with "\n" a lone "\r" in a cell would be
        # written bare and read back as a line break. Write "\r\n" (which quotes
        # both) and change each record's terminator on the way out.
        target = stream if dialect.line_terminator == "\r\n" else _LineEndWriter(stream)
        writer = csv.writer(
            target,
            delimiter=delimiter,
            lineterminator="\r\n",
            quoting=csv.QUOTE_ALL if dialect.quote_all else csv.QUOTE_MINIMAL,
        )
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if cell is None else cell for cell in row])


class _LineEndWriter:
    """A text stream wrapper that ends each CSV record with "\n" instead of "\r\n"."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, record: str) -> int:
        # The csv writer hands over one whole record per call; the terminator
        # is its last two characters, and line breaks inside cells are quoted.
        return self._stream.write(record[:-2] + "\n")


def _write_xlsx(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]], sheet: str
) -> None:
    from openpyxl import Workbook

    # NOTE: only cell values are copied; the input's formatting, formulas
    # (their last computed values are kept) and other sheets are not.
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(title=sheet)
    worksheet.append(list(header))
    for row in rows:
        worksheet.append([_xlsx_safe(cell) for cell in row])
    workbook.save(path)


def _xlsx_safe(cell: Cell) -> Cell:
    # XLSX cannot store most ASCII control characters; a CSV cell may hold them.
    if isinstance(cell, str):
        return ILLEGAL_CHARACTERS_RE.sub("", cell)
    return cell

"""`SpreadsheetSource`: the rows of a CSV or XLSX export as `Contact` objects."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path

import structlog

from connectors.base import Contact, SkippedRecord
from connectors.spreadsheet.columns import ColumnPlan, plan_columns
from connectors.spreadsheet.table import Cell, Table, cell_text, read_table
from connectors.spreadsheet.values import (
    CellValueError,
    answer_text,
    parse_count,
    parse_datetime,
    parse_flag,
    split_tags,
)
from scoring.lead import Activity, ActivityKind, AnswerValue, Lead
from scoring.mapping import FieldMapping

log = structlog.get_logger(__name__)

# Excel's scientific notation for a long number in a General-format cell, which
# "Save as CSV" writes too: a 12-digit Record ID 123456789012 becomes "1.23457E+11".
_EXCEL_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+\d+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CellIssue:
    """A cell that could not be read; the row is still scored without that fact."""

    row: int
    column: str
    value: str
    reason: str


class RowView(Mapping[str, Cell]):
    """A read-only mapping of header name to cell over one row, without copying it.

    Large files keep a view per contact, so the row tuple is shared instead of
    copied into a dict. A duplicated header name maps to its first column.
    """

    __slots__ = ("_positions", "_row")

    def __init__(self, positions: Mapping[str, int], row: Sequence[Cell]) -> None:
        self._positions = positions
        self._row = row

    def __getitem__(self, name: str) -> Cell:
        index = self._positions[name]
        return self._row[index] if index < len(self._row) else None

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


class SpreadsheetSource:
    """Contacts from one sheet of a CSV or XLSX file, read through a field mapping.

    The file is read and its header matched when the source is built, so a
    missing file or a mapping that does not fit fails at once with
    `InputFileError`. `iter_records()` then yields one `Contact` or
    `SkippedRecord` per data row, in file order; unreadable cells of a usable
    row are collected in `issues`.
    """

    def __init__(
        self,
        path: str | Path,
        mapping: FieldMapping,
        *,
        sheet: str | None = None,
        timezone: tzinfo = UTC,
        strict: bool = False,
        allow_missing_answers: bool = False,
    ) -> None:
        self.path = Path(path)
        self.mapping = mapping
        self.timezone = timezone
        self.table: Table = read_table(self.path, sheet=sheet)
        self.plan: ColumnPlan = plan_columns(
            self.table.header,
            mapping,
            path=str(self.path),
            strict=strict,
            allow_missing_answers=allow_missing_answers,
        )
        self.issues: list[CellIssue] = []
        self._parse_date = functools.partial(parse_datetime, default_tz=timezone)
        self._positions: dict[str, int] = {}
        for index, name in enumerate(self.table.header):
            self._positions.setdefault(name, index)

    @property
    def header(self) -> tuple[str, ...]:
        return self.table.header

    @property
    def rows(self) -> list[tuple[Cell, ...]]:
        """The raw data rows, cells as read, for writing an unchanged copy."""
        return self.table.rows

    def iter_records(self) -> Iterator[Contact | SkippedRecord]:
        """Yield a contact, or a skipped record with the reason, for every data row."""
        self.issues = []
        for number in range(1, len(self.table.rows) + 1):
            yield self.record_for_row(number)

    def record_for_row(self, number: int) -> Contact | SkippedRecord:
        """Build the contact of 1-based data row `number`, or a `SkippedRecord` with the reason."""
        row = self.table.rows[number - 1]
        if not any(cell_text(cell) for cell in row):
            return SkippedRecord(reason="row is blank", row=number)
        width = len(self.table.header)
        extra = [cell_text(cell) for cell in row[width:] if cell_text(cell)]
        if extra:
            return SkippedRecord(
                reason=(
                    f"row has {len(row)} cells but the header has {width} columns, "
                    "so its values may be shifted; check for an unquoted delimiter in a cell"
                ),
                row=number,
                value=", ".join(extra[:3]),
            )
        try:
            return self._build_contact(number, row)
        except ValueError as exc:
            return SkippedRecord(reason=str(exc), row=number)

    def _cell(self, row: Sequence[Cell], index: int | None) -> Cell:
        if index is None or index >= len(row):
            return None
        return row[index]

    def _note(self, number: int, index: int, cell: Cell, exc: CellValueError) -> None:
        issue = CellIssue(
            row=number, column=self.table.header[index], value=cell_text(cell), reason=str(exc)
        )
        self.issues.append(issue)
        log.debug("spreadsheet_cell_unreadable", row=number, column=issue.column)

    def _contact_text(self, row: Sequence[Cell], fact: str) -> str | None:
        return cell_text(self._cell(row, self.plan.contact.get(fact))) or None

    def _build_contact(self, number: int, row: Sequence[Cell]) -> Contact:
        plan = self.plan
        lead_id = self._contact_text(row, "id") or f"row-{number}"
        if _EXCEL_SCIENTIFIC.match(lead_id):
            index = plan.contact["id"]
            reason = (
                "id looks like Excel scientific notation, so its last digits are lost; "
                "export the file again as XLSX, or format the id column as text before "
                "saving as CSV"
            )
            self._note(number, index, row[index], CellValueError(reason))

        created_at = None
        if "created_at" in plan.contact:
            index = plan.contact["created_at"]
            try:
                created_at = parse_datetime(self._cell(row, index), self.timezone)
            except CellValueError as exc:
                self._note(number, index, row[index], exc)

        flags: dict[str, bool] = {}
        for fact in ("do_not_contact", "unsubscribed"):
            if fact in plan.contact:
                index = plan.contact[fact]
                try:
                    flags[fact] = bool(parse_flag(self._cell(row, index)))
                except CellValueError as exc:
                    self._note(number, index, row[index], exc)

        answers: dict[str, AnswerValue] = {}
        for key, index in plan.answers.items():
            text = answer_text(self._cell(row, index))
            if text is not None:
                answers[key] = text
        attributes: dict[str, AnswerValue] = {}
        for key, index in plan.attributes.items():
            text = answer_text(self._cell(row, index))
            if text is not None:
                attributes[key] = text

        tags: frozenset[str] = frozenset()
        if "tags" in plan.contact:
            tags = split_tags(self._cell(row, plan.contact["tags"]), self.mapping.tag_separator)

        lead = Lead(
            id=lead_id,
            created_at=created_at,
            answers=answers,
            attributes=attributes,
            tags=tags,
            activities=self._activities(number, row),
            do_not_contact=flags.get("do_not_contact", False),
            unsubscribed=flags.get("unsubscribed", False),
        )
        full_name = self._contact_text(row, "full_name")
        if full_name is None:
            parts = [self._contact_text(row, "first_name"), self._contact_text(row, "last_name")]
            full_name = " ".join(part for part in parts if part) or None
        return Contact(
            lead=lead,
            name=full_name,
            email=self._contact_text(row, "email"),
            phone=self._contact_text(row, "phone"),
            owner_id=self._contact_text(row, "owner"),
            source_row=number,
            raw=RowView(self._positions, row),
        )

    def _activities(self, number: int, row: Sequence[Cell]) -> tuple[Activity, ...]:
        activities = []
        for kind, columns in self.plan.activities.items():
            activity = self._activity(number, row, kind, columns)
            if activity is not None:
                activities.append(activity)
        return tuple(activities)

    def _activity(
        self, number: int, row: Sequence[Cell], kind: ActivityKind, columns: dict[str, int]
    ) -> Activity | None:
        values: dict[str, object] = {}
        for part, index in columns.items():
            cell = row[index] if index < len(row) else None
            if part in ("url", "detail"):
                text = cell_text(cell)
                if text:
                    values[part] = text
                continue
            parse = parse_count if part == "count" else self._parse_date
            try:
                value = parse(cell)
            except CellValueError as exc:
                self._note(number, index, cell, exc)
                continue
            if value is not None:
                values[part] = value

        count = values.get("count")
        if count is None:
            # A date without a counter column still proves one event happened.
            if "last_at" not in values and "first_at" not in values:
                return None
            values["count"] = 1
        elif count == 0:
            return None
        return Activity(kind=kind, **values)  # type: ignore[arg-type]

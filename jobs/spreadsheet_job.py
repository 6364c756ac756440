"""Score every row of a spreadsheet and summarise the run.

The CLI command `leadscore score` is a thin layer over `score_sheet`; the
benchmarks and tests call it directly.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from connectors.base import Contact, SkippedRecord
from connectors.spreadsheet import SpreadsheetSource, write_scored
from connectors.spreadsheet.table import Cell
from scoring.engine import score
from scoring.result import ScoreResult, Tier

log = structlog.get_logger(__name__)

# Excel stores at most 32,767 characters in a cell; the explanation is cut
# at a rule boundary below that.
MAX_REASONS_CHARS = 32_000
# Allocations between young-generation garbage collections while a sheet is
# scored (CPython's default is 700). Every row allocates a few dozen acyclic
# objects, and with the default threshold about a quarter of the run went to
# collection (measured on 30,000 generated rows like benchmarks/bench_spreadsheet.py).
GC_THRESHOLD_WHILE_SCORING = 50_000


@dataclass(frozen=True, slots=True)
class ScoredRow:
    """One data row after scoring: its result, or why it was skipped.

    Only the contact's name is kept, not the whole contact, so a run of
    100,000 rows uses about a third less memory.
    """

    row: int
    name: str | None = None
    result: ScoreResult | None = None
    skipped: SkippedRecord | None = None


@dataclass(slots=True)
class UnreadableColumn:
    """The unreadable cells of one column: values counted, the first reason, data rows."""

    values: Counter[str]
    reason: str
    rows: list[int] = field(default_factory=list)


@dataclass(slots=True)
class SheetReport:
    """The outcome of a run: every row's result or skip reason, and the summary data."""

    source: SpreadsheetSource
    model_version: str
    scored_at: datetime
    rows: list[ScoredRow] = field(default_factory=list)

    @property
    def results(self) -> list[tuple[ScoredRow, ScoreResult]]:
        return [(row, row.result) for row in self.rows if row.result is not None]

    @property
    def skipped(self) -> list[SkippedRecord]:
        return [row.skipped for row in self.rows if row.skipped is not None]

    def tier_counts(self) -> Counter[Tier]:
        """Return the number of scored leads in each tier (every tier present, zeros included)."""
        counts: Counter[Tier] = Counter({tier: 0 for tier in Tier})
        counts.update(result.tier for _, result in self.results)
        return counts

    def unparsed_by_column(self) -> dict[str, Counter[str]]:
        """Return the answers the engine could not interpret, counted by value per column.

        Columns are named as in the file header when the answer came from a
        column; otherwise by the model's question key.
        """
        by_column: dict[str, Counter[str]] = {}
        plan = self.source.plan
        for _, result in self.results:
            for unknown in result.unknowns:
                column = plan.column_of(unknown.field) or unknown.field
                by_column.setdefault(column, Counter())[unknown.value] += 1
        return by_column

    def unreadable_cells(self) -> dict[str, UnreadableColumn]:
        """Return cells the reader could not read (dates, counts, flags, ids) per column."""
        by_column: dict[str, UnreadableColumn] = {}
        for issue in self.source.issues:
            column = by_column.setdefault(
                issue.column, UnreadableColumn(values=Counter(), reason=issue.reason)
            )
            column.values[issue.value] += 1
            column.rows.append(issue.row)
        return by_column

    def hot_leads(self, limit: int) -> list[tuple[ScoredRow, ScoreResult]]:
        """Return up to `limit` hot leads, highest score first, ties in file order."""
        hot = [(row, result) for row, result in self.results if result.tier is Tier.HOT]
        hot.sort(key=lambda item: (-item[1].score, item[0].row))
        return hot[:limit]


def score_cells(result: ScoreResult) -> dict[str, Cell]:
    """Return the values of the five score columns for one result."""
    return {
        "score": result.score,
        "fit": result.fit,
        "intent": result.intent,
        "tier": result.tier.value,
        "reasons": result.reasons_text(max_chars=MAX_REASONS_CHARS),
    }


def score_contact(contact: Contact, model: Any, now: datetime) -> ScoreResult | SkippedRecord:
    """Score one contact; a failure inside the engine skips this row only."""
    try:
        return score(contact.lead, model, now)
    except Exception as exc:  # one bad lead must never stop the file
        log.warning(
            "lead_scoring_failed",
            row=contact.source_row,
            lead_id=contact.id,
            error=f"{type(exc).__name__}: {exc}",
        )
        return SkippedRecord(
            reason=f"scoring failed: {type(exc).__name__}: {exc}",
            record_id=contact.id,
            row=contact.source_row,
        )


def score_sheet(
    source: SpreadsheetSource,
    model: Any,
    now: datetime,
    *,
    on_row: Callable[[int], None] | None = None,
) -> SheetReport:
    """Score every row of `source` with `model` at `now`; `on_row(n)` is called after row n."""
    report = SheetReport(
        source=source, model_version=str(getattr(model, "version", "")), scored_at=now
    )
    with _fewer_gc_passes():
        _score_rows(report, source, model, now, on_row)
    log.info(
        "spreadsheet_scored",
        path=str(source.path),
        rows=len(report.rows),
        scored=len(report.results),
        skipped=len(report.skipped),
        model_version=report.model_version,
    )
    return report


def _score_rows(
    report: SheetReport,
    source: SpreadsheetSource,
    model: Any,
    now: datetime,
    on_row: Callable[[int], None] | None,
) -> None:
    for record in source.iter_records():
        if isinstance(record, SkippedRecord):
            report.rows.append(ScoredRow(row=record.row or len(report.rows) + 1, skipped=record))
        else:
            outcome = score_contact(record, model, now)
            row_number = record.source_row or len(report.rows) + 1
            if isinstance(outcome, SkippedRecord):
                report.rows.append(ScoredRow(row=row_number, name=record.name, skipped=outcome))
            else:
                report.rows.append(ScoredRow(row=row_number, name=record.name, result=outcome))
        if on_row is not None:
            on_row(len(report.rows))


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], GC_THRESHOLD_WHILE_SCORING), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def write_report(report: SheetReport, output: Path) -> None:
    """Write the input rows unchanged plus the score columns to `output`."""
    cells = [score_cells(row.result) if row.result is not None else None for row in report.rows]
    write_scored(report.source.table, cells, output)
    log.info("spreadsheet_written", path=str(output), rows=len(cells))

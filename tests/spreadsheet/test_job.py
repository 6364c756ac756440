"""score_sheet: scoring a whole sheet, failures per row, and the summary data."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path

import pytest

import jobs.spreadsheet_job as job
from connectors.spreadsheet import SpreadsheetSource, read_table
from jobs.modelfile import load_model
from scoring.result import Tier

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def model():
    return load_model(None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(text)
    return path


SHEET = (
    "Record ID,How soon are you looking to book?,Budget,Treatment Interest,"
    "Marketing emails opened\n"
    "a,This week,$1000-$2000,Botox,2\n"
    "b,Just exploring,cheap as possible,Botox,\n"
    'c,This week,"$2,500+",Fillers,\n'
    "d,Within 2 weeks,$800+,CoolSculpting,many\n"
)


def test_engine_failure_skips_only_that_row(tmp_path, model, monkeypatch):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    real_score = job.score

    def failing_score(lead, model, now):
        if lead.id == "b":
            raise ZeroDivisionError("division by zero")
        return real_score(lead, model, now)

    monkeypatch.setattr(job, "score", failing_score)
    report = job.score_sheet(source, model, NOW)
    assert [row.row for row in report.rows] == [1, 2, 3, 4]
    (skipped,) = report.skipped
    assert skipped.row == 2
    assert skipped.record_id == "b"
    assert skipped.reason == "scoring failed: ZeroDivisionError: division by zero"
    assert len(report.results) == 3

    output = tmp_path / "out.csv"
    job.write_report(report, output)
    rows = read_table(output).rows
    assert rows[1][5:] == ("", "", "", "", "")
    assert rows[0][5] != ""


def test_unparsed_values_grouped_by_column(tmp_path, model):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    report = job.score_sheet(source, model, NOW)
    unparsed = report.unparsed_by_column()
    assert unparsed["Budget"]["cheap as possible"] == 1
    assert "Marketing emails opened" not in unparsed


def test_unreadable_cells_grouped_with_reason(tmp_path, model):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    report = job.score_sheet(source, model, NOW)
    cells = report.unreadable_cells()["Marketing emails opened"]
    assert cells.values == {"many": 1}
    assert cells.reason.startswith("not a count")
    assert cells.rows == [4]


def test_hot_leads_sorted_by_score_then_row(tmp_path, model):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    report = job.score_sheet(source, model, NOW)
    hot = report.hot_leads(10)
    assert hot
    assert all(result.tier is Tier.HOT for _, result in hot)
    keys = [(-result.score, row.row) for row, result in hot]
    assert keys == sorted(keys)
    assert len(report.hot_leads(1)) == 1


def test_tier_counts_include_every_tier(tmp_path, model):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    counts = job.score_sheet(source, model, NOW).tier_counts()
    assert set(counts) == set(Tier)
    assert sum(counts.values()) == 4


def test_gc_threshold_restored_after_run(tmp_path, model):
    before = gc.get_threshold()
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    job.score_sheet(source, model, NOW, on_row=lambda n: None)
    assert gc.get_threshold() == before


def test_on_row_reports_progress(tmp_path, model):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    seen: list[int] = []
    job.score_sheet(source, model, NOW, on_row=seen.append)
    assert seen == [1, 2, 3, 4]


def test_score_cells_fit_excel_limit(tmp_path, model):
    source = SpreadsheetSource(write(tmp_path, SHEET), model.mapping)
    _, result = job.score_sheet(source, model, NOW).results[0]
    cells = job.score_cells(result)
    assert list(cells) == ["score", "fit", "intent", "tier", "reasons"]
    assert cells["tier"] == result.tier.value
    assert len(cells["reasons"]) <= job.MAX_REASONS_CHARS

"""Calibrate and backtest tables stay readable in an 80-column terminal or a pipe."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from jobs import calibrate as job
from jobs.cli.calibrate import print_backtest, print_calibration
from scoring.model import parse_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads-with-outcomes.csv"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
WIDTH = 80


DEFAULT_MODEL_TEXT = (ROOT / "scoring" / "models" / "default.toml").read_text(encoding="utf-8")


def _load(model_text: str, name: str) -> job.ScoredLeads:
    model = parse_model(model_text)
    return job.load_scored_leads(
        EXAMPLE, model, "Booked", date_column="Created", now=NOW, model_name=name
    )


@pytest.fixture(scope="module")
def scored():
    return _load(DEFAULT_MODEL_TEXT, "default.toml")


def _render(printer, report) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=WIDTH, soft_wrap=True, color_system=None)
    printer(console, report)
    return buffer.getvalue()


def _table_lines(text: str) -> list[str]:
    """Return the lines drawn by Rich tables: those with a column gap or the header rule."""
    return [line for line in text.splitlines() if "  " in line.strip() or "──" in line]


def test_calibration_tables_fit_80_columns(scored):
    report = job.evaluate(scored, "Booked", job.CalibrateOptions(hot_per_day=3))
    text = _render(print_calibration, report)
    assert "…" not in text
    assert max(len(line) for line in _table_lines(text)) <= WIDTH
    for rule in report.rule_evidence:
        assert rule.rule_id in text
    assert "95% interval" in text
    assert report.lift.hot.reason in text


def test_backtest_tables_fit_80_columns(scored):
    # Base points lift every lead, so many change tier and the changes table fills up.
    candidate = _load("base_points = 15\n" + DEFAULT_MODEL_TEXT, "a-long-candidate-name.toml")
    report = job.backtest(scored, candidate, "Booked")
    text = _render(print_backtest, report)
    assert "…" not in text
    assert max(len(line) for line in _table_lines(text)) <= WIDTH
    assert "Booking rate per tier" in text
    assert report.changes
    for change in report.changes:
        assert change.lead_id in text

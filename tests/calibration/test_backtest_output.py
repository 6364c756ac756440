"""What `leadscore backtest` prints: booking rate per tier, and honest help text."""

import re
from pathlib import Path

from typer.testing import CliRunner

from jobs.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads-with-outcomes.csv"
DEFAULT_MODEL = ROOT / "scoring" / "models" / "default.toml"

runner = CliRunner()


def _backtest(*extra: str):
    return runner.invoke(
        app,
        [
            "backtest", str(EXAMPLE), "--outcome", "Booked", "--model", str(DEFAULT_MODEL),
            "--baseline", str(DEFAULT_MODEL), "--now", "2026-12-01T12:00:00Z", *extra,
        ],
    )  # fmt: skip


def test_backtest_prints_booking_rate_per_tier():
    result = _backtest()
    assert result.exit_code == 0, result.output
    assert "Booking rate per tier" in result.output
    rows = {
        match.group(1): match.groups()[1:]
        for match in re.finditer(
            r"^\W*(hot|warm|cold)\W+(\d+)\s+\W*([\d.]+%)\W+(\d+)\s+\W*([\d.]+%)",
            result.output,
            re.M,
        )
    }
    assert set(rows) == {"hot", "warm", "cold"}
    for baseline_leads, baseline_rate, candidate_leads, candidate_rate in rows.values():
        assert baseline_leads == candidate_leads
        assert baseline_rate == candidate_rate
    assert int(rows["hot"][0]) > 0


def test_backtest_help_describes_date_column():
    result = runner.invoke(app, ["backtest", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "time-ordered" not in result.output
    assert "arrival rate" in result.output

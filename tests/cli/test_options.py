"""`--now` and `--model` handling, shared by the spreadsheet and calibration commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from jobs.cli.options import UsageProblem, load_model, parse_now

ROOT = Path(__file__).resolve().parents[2]
OUTCOMES = ROOT / "examples" / "leads-with-outcomes.csv"
DEFAULT_MODEL = ROOT / "scoring" / "models" / "default.toml"
BROKEN_MODEL = 'name = "broken"\nversion = 1\n[tiers]\nhot = "high"\n'

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-12-01T12:00:00Z", UTC, datetime(2026, 12, 1, 12, tzinfo=UTC)),
        (
            "2026-12-01T12:00:00-05:00",
            UTC,
            datetime(2026, 12, 1, 12, tzinfo=timezone(timedelta(hours=-5))),
        ),
        (
            " 2026-12-01T12:00 ",
            ZoneInfo("America/New_York"),
            datetime(2026, 12, 1, 12, tzinfo=ZoneInfo("America/New_York")),
        ),
        ("2026-12-01", UTC, datetime(2026, 12, 1, tzinfo=UTC)),
    ],
    ids=["utc-suffix", "offset-kept", "naive-in-zone", "date-only"],
)
def test_parse_now_reads_iso_times(text, zone, expected):
    parsed = parse_now(text, zone)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


def test_parse_now_defaults_to_current_utc_time():
    parsed = parse_now(None)
    assert parsed.tzinfo is UTC
    assert abs(datetime.now(UTC) - parsed) < timedelta(seconds=5)


def test_parse_now_rejects_text_naming_the_value():
    with pytest.raises(UsageProblem, match="--now 'yesterday' is not an ISO 8601 time"):
        parse_now("yesterday")


def test_load_model_rejects_invalid_file_naming_it(tmp_path):
    model = tmp_path / "model.toml"
    model.write_text(BROKEN_MODEL)
    with pytest.raises(UsageProblem, match="invalid model") as caught:
        load_model(model)
    assert str(model) in str(caught.value)


def test_load_model_without_path_loads_built_in_model():
    model = load_model(None)
    assert model.name


@pytest.mark.parametrize(
    "command",
    [
        ["calibrate", str(OUTCOMES), "--outcome", "Booked"],
        [
            "backtest",
            str(OUTCOMES),
            "--outcome",
            "Booked",
            "--model",
            str(DEFAULT_MODEL),
            "--baseline",
            str(DEFAULT_MODEL),
        ],
    ],
    ids=["calibrate", "backtest"],
)
def test_calibration_command_rejects_bad_now(command):
    result = runner.invoke(app, [*command, "--now", "yesterday"])
    assert result.exit_code == 2
    assert "not an ISO 8601 time" in result.stderr


def test_calibrate_rejects_invalid_model(tmp_path):
    model = tmp_path / "model.toml"
    model.write_text(BROKEN_MODEL)
    result = runner.invoke(
        app, ["calibrate", str(OUTCOMES), "--outcome", "Booked", "--model", str(model)]
    )
    assert result.exit_code == 2
    assert "invalid model" in result.stderr
    assert str(model) in result.stderr

"""Candidates that pin many leads at score 1 or 100 get a warning."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from jobs import calibrate as job
from jobs.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads-with-outcomes.csv"
DEFAULT_MODEL = ROOT / "scoring" / "models" / "default.toml"

runner = CliRunner()


def _scores(at_one: int, at_hundred: int, total: int = 100) -> np.ndarray:
    middle = total - at_one - at_hundred
    return np.array([1] * at_one + [100] * at_hundred + [50] * middle)


@pytest.mark.parametrize(
    ("scores", "limits", "warning_parts"),
    [
        (_scores(35, 0), "35.0% of the 100 leads score 1 and 0.0% score 100", ["raise"]),
        (_scores(0, 8), "0.0% of the 100 leads score 1 and 8.0% score 100", ["lower"]),
        (_scores(3, 3), "3.0% of the 100 leads score 1 and 3.0% score 100", ["raise", "lower"]),
    ],
    ids=["many-at-one", "many-at-hundred", "both-ends-add-up"],
)
def test_score_limits_warn_above_five_percent(scores, limits, warning_parts):
    sentence, warning = job.describe_score_limits(scores)
    assert limits in sentence
    assert "sit at the 1 or 100 limit" in warning
    for part in warning_parts:
        assert part in warning


@pytest.mark.parametrize(
    "scores", [_scores(5, 0), _scores(2, 3), _scores(0, 0)], ids=["five-at-one", "split", "none"]
)
def test_score_limits_quiet_at_five_percent_or_less(scores):
    _, warning = job.describe_score_limits(scores)
    assert warning == ""


def test_write_model_reports_score_limits(tmp_path):
    candidate = tmp_path / "candidate.toml"
    report = tmp_path / "calibration.html"
    result = runner.invoke(
        app,
        [
            "calibrate", str(EXAMPLE), "--outcome", "Booked", "--model", str(DEFAULT_MODEL),
            "--date-column", "Created", "--write-model", str(candidate), "--report", str(report),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "Rescored with the candidate, " in output
    assert "of the 1461 leads score 1" in output
    assert "of the 1461 leads score 1" in report.read_text(encoding="utf-8")

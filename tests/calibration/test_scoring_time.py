"""When calibrate and backtest judge time-based rules: each lead's own time, or --now."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from jobs import calibrate as job
from jobs.cli import app
from scoring.lead import Activity, ActivityKind, Lead
from scoring.model import parse_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads-with-outcomes.csv"
DEFAULT_MODEL = parse_model(
    (ROOT / "scoring" / "models" / "default.toml").read_text(encoding="utf-8")
)
EXPORT_TIME = datetime(2026, 12, 1, 12, tzinfo=UTC)
MONTHS_LATER = datetime(2027, 2, 1, 12, tzinfo=UTC)

runner = CliRunner()


def _at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lead", "now", "expected"),
    [
        (Lead("a", created_at=_at(3)), EXPORT_TIME, _at(3)),
        (
            Lead(
                "b",
                created_at=_at(3),
                activities=(
                    Activity(ActivityKind.PAGE_VIEW, last_at=_at(9)),
                    Activity(ActivityKind.EMAIL_OPEN, count=2, first_at=_at(4), last_at=_at(6)),
                ),
            ),
            EXPORT_TIME,
            _at(9),
        ),
        (
            Lead("c", activities=(Activity(ActivityKind.REPLY, last_at=_at(2, month=12)),)),
            EXPORT_TIME,
            EXPORT_TIME,
        ),
        (Lead("d"), EXPORT_TIME, None),
    ],
    ids=["created-only", "latest-activity", "capped-at-now", "no-dates"],
)
def test_lead_scoring_time_picks_latest_date(lead, now, expected):
    assert job.lead_scoring_time(lead, now) == expected


def _load(now: datetime, score_at: str = job.SCORE_AT_LEAD) -> job.ScoredLeads:
    return job.load_scored_leads(
        EXAMPLE, DEFAULT_MODEL, "Booked", date_column="Created", now=now, score_at=score_at
    )


def test_default_scores_do_not_depend_on_run_date():
    at_export = _load(EXPORT_TIME)
    later = _load(MONTHS_LATER)
    assert np.array_equal(at_export.scores, later.scores)
    assert at_export.tiers == later.tiers


def test_score_at_now_lets_engagement_fade():
    at_export = _load(EXPORT_TIME, job.SCORE_AT_NOW)
    later = _load(MONTHS_LATER, job.SCORE_AT_NOW)
    assert later.scores.mean() < at_export.scores.mean()


def test_unknown_score_at_is_rejected():
    with pytest.raises(ValueError, match="score_at"):
        _load(EXPORT_TIME, "yesterday")


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("calibrate", []),
        ("backtest", ["--model", "scoring/models/default.toml", "--baseline",
                      "scoring/models/default.toml"]),
    ],
    ids=["calibrate", "backtest"],
)  # fmt: skip
@pytest.mark.parametrize(
    ("score_at", "statement"),
    [
        ([], "as of each lead's latest date"),
        (["--score-at", "now"], "as of 2026-12-01 12:00 UTC for every lead (--score-at now)"),
    ],
    ids=["default-lead", "now"],
)
def test_output_states_scoring_time(command, extra, score_at, statement):
    args = [command, str(EXAMPLE), "--outcome", "Booked", "--now", "2026-12-01T12:00:00Z"]
    extra = [str(ROOT / value) if value.endswith(".toml") else value for value in extra]
    result = runner.invoke(app, [*args, *extra, *score_at])
    assert result.exit_code == 0, result.output
    assert statement in " ".join(result.output.split())

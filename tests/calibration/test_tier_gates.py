"""The current cutoff rows count the tiers the model assigns, tier gates included."""

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from jobs import calibrate as job
from jobs.cli import app
from scoring.model import parse_model
from tests.calibration.builders import synthetic_leads

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads-with-outcomes.csv"
DEFAULT_MODEL_PATH = ROOT / "scoring" / "models" / "default.toml"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

runner = CliRunner()


def test_current_hot_leaves_out_gated_leads():
    scored = synthetic_leads(count=600, dated=False)
    gated = [i for i, score in enumerate(scored.scores) if score >= 80][:5]
    for i in gated:
        scored.tiers[i] = "warm"
    report = job.evaluate(scored, "Booked")
    by_score = int((scored.scores >= 80).sum())
    assert report.current_hot_stats.at_or_above.total == by_score - len(gated)
    assert report.current_warm_stats.total == scored.tiers.count("warm")


def test_calibrate_and_backtest_count_same_hot_leads():
    model = parse_model(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    scored = job.load_scored_leads(EXAMPLE, model, "Booked", now=NOW)
    report = job.evaluate(scored, "Booked")
    backtest = job.backtest(scored, scored, "Booked")
    hot_by_score = int((scored.scores >= model.tiers.hot).sum())
    assert model.tiers.hot_min_intent > 0
    assert report.current_hot_stats.at_or_above.total == backtest.baseline_hot.total
    assert report.current_hot_stats.at_or_above.total < hot_by_score


def test_gate_statement_names_gates():
    text = job.describe_tier_gates(("hot needs intent ≥ 40",))
    assert "gates included (hot needs intent ≥ 40)" in text
    assert "do not assume the gates" in text
    assert "score alone" in job.describe_tier_gates(())


def test_calibrate_output_and_report_state_gates(tmp_path):
    report = tmp_path / "calibration.html"
    result = runner.invoke(
        app,
        [
            "calibrate", str(EXAMPLE), "--outcome", "Booked", "--model", str(DEFAULT_MODEL_PATH),
            "--now", "2026-12-01T12:00:00Z", "--report", str(report),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "gates included (hot needs intent ≥ 40)" in output
    assert "gates included (hot needs intent ≥ 40)" in report.read_text(encoding="utf-8")

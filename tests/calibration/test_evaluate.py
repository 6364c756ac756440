"""Outcome parsing, evaluation and backtests on synthetic scored leads."""

import numpy as np
import pytest

from jobs.calibrate import (
    CalibrateOptions,
    CalibrationInputError,
    OutcomeReader,
    backtest,
    candidate_model_text,
    evaluate,
    fit_weights,
    parse_outcome,
)
from tests.calibration.builders import synthetic_leads

OUTCOME_CASES = [
    ("1", 1),
    ("0", 0),
    (1, 1),
    (0.0, 0),
    ("1.0", 1),
    (True, 1),
    ("Yes", 1),
    ("no", 0),
    ("TRUE", 1),
    ("false", 0),
    ("Booked", 1),
    ("Won", 1),
    ("Showed", 1),
    ("Closed Won", 1),
    ("Lost", 0),
    ("No show", 0),
    ("No-Show", 0),
    ("not_booked", 0),
    ("  Not Booked ", 0),
    ("", None),
    (None, None),
    ("   ", None),
]


@pytest.mark.parametrize(
    ("value", "expected"), OUTCOME_CASES, ids=[repr(c[0]) for c in OUTCOME_CASES]
)
def test_parse_outcome_reads_known_values(value, expected):
    assert parse_outcome(value) == expected


@pytest.mark.parametrize("value", ["maybe", "2", "pending"], ids=["maybe", "two", "pending"])
def test_parse_outcome_rejects_unknown_value(value):
    with pytest.raises(ValueError):
        parse_outcome(value)


def test_outcome_reader_lists_unknown_values_with_rows():
    reader = OutcomeReader("Status")
    values = ["yes", "Maybe", "no", "Maybe", "pending", "Maybe", "", "Maybe", "Maybe", "Maybe"]
    for row, value in enumerate(values, start=1):
        reader.read(value, row)
    with pytest.raises(CalibrationInputError) as caught:
        reader.raise_if_unrecognised("leads.csv")
    message = str(caught.value)
    assert "leads.csv: column 'Status'" in message
    assert "'Maybe': 6 rows (data rows 2, 4, 6, 8, 9, …)" in message
    assert "'pending': 1 rows (data rows 5)" in message
    assert reader.blank_rows == [7]


def test_evaluate_reports_bands_auc_and_cutoffs():
    leads = synthetic_leads()
    report = evaluate(leads, "Booked", CalibrateOptions(hot_per_day=5))
    assert report.lead_count == 3000
    assert len(report.bands) == 10
    assert sum(band.outcome.total for band in report.bands) == 3000
    assert 0.7 < report.auc < 0.9
    assert report.lift.hot.cutoff is not None
    hot = report.lift.hot.selected
    assert hot.rate >= 2 * report.base_rate
    assert report.capacity is not None
    assert report.leads_per_day == pytest.approx(3000 / 91, rel=0.02)
    assert report.capacity.hot_per_day <= 5
    assert report.time_check is not None
    assert report.time_check.test_size == 900


def test_evaluate_rule_evidence_matches_direction_of_effect():
    report = evaluate(synthetic_leads(), "Booked")
    evidence = {item.rule_id: item for item in report.rule_evidence}
    assert evidence["timeline_this_week"].lift > 1.3
    assert evidence["timeline_this_week"].separates
    assert evidence["no_reply"].lift < 1.0


def test_evaluate_capacity_needs_arrival_rate():
    report = evaluate(synthetic_leads(dated=False), "Booked", CalibrateOptions(hot_per_day=5))
    assert report.capacity is None
    assert "--leads-per-day" in report.capacity_note
    with_rate = evaluate(
        synthetic_leads(dated=False), "Booked", CalibrateOptions(hot_per_day=5, leads_per_day=40)
    )
    assert with_rate.capacity is not None


def test_evaluate_rejects_single_outcome():
    leads = synthetic_leads(count=200)
    leads.outcomes = np.zeros(200, dtype=int)
    with pytest.raises(CalibrationInputError, match="none of the 200 leads booked"):
        evaluate(leads, "Booked")


def test_fit_weights_orders_rules_by_true_effect():
    # The model gives pricing_page 15 points, more than its true effect (0.4) supports.
    fit = fit_weights(synthetic_leads(count=8000, dated=False), CalibrateOptions())
    suggested = {w.rule.rule_id: w.suggested_points for w in fit.weights}
    assert fit.converged
    assert suggested["timeline_this_week"] > suggested["budget_fits"] > suggested["pricing_page"]
    assert suggested["no_reply"] < 0
    assert fit.fitted_test_auc >= fit.current_test_auc - 0.01
    assert "seed 42" in fit.split


def test_candidate_model_text_replaces_points_and_keeps_comments():
    fit = fit_weights(synthetic_leads(count=4000, dated=False), CalibrateOptions())
    suggested = {w.rule.rule_id: w for w in fit.weights}
    text = """name = "demo"  # the spa's model
version = "1"

[[intent.rules]]
# How soon the lead wants to book.
id = "timeline_this_week"
label = "Timeline"
kind = "range"
field = "timeline"
parse = "timeline"
bands = [{ max = 8, points = 30 }, { min = 8, max = 31, points = 10 }]

[[intent.rules]]
id = "pricing_page"
label = "Pricing page"
kind = "event"
activity = "page_view"
count = "per_event"
points = 15
cap = 30

[[intent.rules]]
id = "unrelated"
label = "Not in the data"
kind = "tag"
tags = ["vip"]
points = 7
"""
    candidate = candidate_model_text(text, fit.weights)
    lines = candidate.splitlines()
    assert "leadscore backtest" in lines[0]
    assert "# the spa's model" in candidate
    assert "# How soon the lead wants to book." in candidate
    timeline = suggested["timeline_this_week"]
    assert timeline.level == 30.0
    assert f"{{ max = 8, points = {timeline.suggested_points} }}" in candidate
    # No lead in the data matched the 10-point band, so it keeps its points.
    assert "{ min = 8, max = 31, points = 10 }" in candidate
    pricing = suggested["pricing_page"]
    assert pricing.level is None
    assert f"points = {round(15 * pricing.factor)}" in candidate
    assert f"cap = {max(1, round(30 * abs(pricing.factor)))}" in candidate
    assert "points = 7" in candidate


def test_backtest_reports_migration_and_reasons():
    baseline = synthetic_leads(count=2000)
    candidate = synthetic_leads(count=2000, points=[45.0, 30.0, 5.0, -20.0])
    report = backtest(baseline, candidate, "Booked", top=5)
    assert report.tiers == ("hot", "warm", "cold")
    assert sum(map(sum, report.migration)) == 2000
    moved = sum(
        count for i, row in enumerate(report.migration) for j, count in enumerate(row) if i != j
    )
    assert moved == report.changed_count
    assert report.changed_count > 0
    assert len(report.changes) == 5
    first = report.changes[0]
    assert first.baseline_tier != first.candidate_tier
    assert any("→" in reason for reason in first.reasons)
    assert report.candidate_auc > 0.5


def test_backtest_rejects_different_leads():
    with pytest.raises(CalibrationInputError, match="same leads"):
        backtest(synthetic_leads(count=100), synthetic_leads(count=120), "Booked")

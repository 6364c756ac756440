"""Fitted candidates carry the regression's intercept as the model's base points."""

import csv
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from jobs.calibrate import (
    BASE_POINTS_COMMENT,
    CalibrateOptions,
    _spread_to_score_range,
    candidate_model_text,
    fit_weights,
    load_scored_leads,
)
from scoring import calibration as stats
from scoring.model import parse_model
from tests.calibration.builders import synthetic_leads

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# A spreadsheet model whose options mirror the effects drawn in `_write_leads`.
SYNTHETIC_MODEL = textwrap.dedent(
    """\
    # Synthetic spa model for the base points tests.
    name = "Synthetic spa"
    version = "1"

    [tiers]
    hot = 80
    warm = 50

    [mapping]
    id = ["Lead Id"]

    [mapping.answers]
    timeline = ["Timeline"]
    budget = ["Budget"]
    replied = ["Replied"]

    [[fit.rules]]
    # What the lead can spend.
    id = "budget"
    label = "Budget"
    kind = "answer"
    field = "budget"
    options = [
        { answer = "High", points = 25 },
        { answer = "Low", points = -20 },
    ]

    [[intent.rules]]
    id = "timeline"
    label = "Timeline"
    kind = "answer"
    field = "timeline"
    options = [
        { answer = "This week", points = 30 },
        { answer = "This month", points = 10 },
    ]

    [[intent.rules]]
    id = "no-reply"
    label = "Did not reply"
    kind = "answer"
    field = "replied"
    options = [{ answer = "No", points = -10 }]
    """
)

# True log-odds of booking: intercept plus one effect per answer.
INTERCEPT = -1.4
EFFECTS = {
    ("Timeline", "This week"): 1.6,
    ("Timeline", "This month"): 0.6,
    ("Budget", "High"): 0.9,
    ("Budget", "Low"): -0.9,
    ("Replied", "No"): -0.8,
}
CHOICES = {
    "Timeline": ["This week", "This month", "Later"],
    "Budget": ["High", "Medium", "Low"],
    "Replied": ["Yes", "No"],
}


def _write_leads(path: Path, count: int = 3000, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["Lead Id", *CHOICES, "Booked"])
        for index in range(count):
            answers = {column: str(rng.choice(options)) for column, options in CHOICES.items()}
            log_odds = INTERCEPT + sum(
                EFFECTS.get((column, answer), 0.0) for column, answer in answers.items()
            )
            booked = rng.random() < 1 / (1 + np.exp(-log_odds))
            writer.writerow([f"lead-{index}", *answers.values(), "yes" if booked else "no"])
    return path


def _held_out_auc(path: Path, model_text: str, test: np.ndarray) -> tuple[float, np.ndarray]:
    scored = load_scored_leads(path, parse_model(model_text), "Booked", now=NOW)
    scores = scored.scores[test]
    return stats.roc_auc(scores, scored.outcomes[test]), scores


# --------------------------------------------------------------- fitting


def test_spread_maps_percentiles_to_1_and_99():
    leads = synthetic_leads(count=4000, dated=False)
    fit = stats.fit_logistic(leads.fired.astype(float), leads.outcomes)
    multiplier, base_points = _spread_to_score_range(fit, leads.fired.astype(float))
    points = leads.fired.astype(float) @ (fit.coefficients * multiplier) + base_points
    low, high = np.quantile(points, [0.01, 0.99])
    assert low == pytest.approx(1, abs=1)
    assert high == pytest.approx(99, abs=1)


def test_spread_base_points_are_intercept_plus_shift():
    matrix = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]] * 50)
    fit = stats.LogisticFit(
        intercept=-2.0, coefficients=np.array([1.0, 2.0]), l2=1.0, iterations=5, converged=True
    )
    multiplier, base_points = _spread_to_score_range(fit, matrix)
    # Fitted log-odds run from -2 (no rule) to +1 (both rules).
    assert multiplier == pytest.approx(98 / 3)
    intercept_points = -2.0 * multiplier
    shift = 1 - (-2.0) * multiplier
    assert base_points == round(intercept_points + shift)
    assert base_points == 1


def test_spread_base_points_ignore_common_shift():
    # Raising the intercept raises every lead's log-odds alike, so the
    # 1st percentile lead still maps onto score 1 with the same points.
    matrix = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]] * 50)
    coefficients = np.array([1.0, -0.5])
    results = [
        _spread_to_score_range(
            stats.LogisticFit(
                intercept=intercept,
                coefficients=coefficients,
                l2=1.0,
                iterations=5,
                converged=True,
            ),
            matrix,
        )
        for intercept in (-3.0, 0.0, 2.0)
    ]
    assert results[0] == results[1]
    assert results[1] == results[2]
    # The lowest lead has log-odds intercept - 0.5: 0.5 units below the intercept.
    multiplier, base_points = results[0]
    assert base_points == round(1 + 0.5 * multiplier)


def test_spread_needs_different_log_odds():
    matrix = np.ones((100, 2))
    fit = stats.LogisticFit(
        intercept=-1.0, coefficients=np.array([0.5, 0.5]), l2=1.0, iterations=5, converged=True
    )
    assert _spread_to_score_range(fit, matrix) is None


def test_fit_weights_sets_base_points():
    fit = fit_weights(synthetic_leads(count=8000, dated=False), CalibrateOptions())
    assert fit.intercept < 0
    assert fit.base_points > 0
    # A lead whose only hit is the no-reply penalty still scores at least 1.
    suggested = {w.rule.rule_id: w.suggested_points for w in fit.weights}
    assert fit.base_points + suggested["no_reply"] >= 1


def test_fit_weights_without_spread_has_no_base_points():
    leads = synthetic_leads(count=400, dated=False)
    # Every lead fires every rule, so all have the same fitted log-odds.
    leads.points = np.tile(leads.points.max(axis=0), (len(leads), 1))
    leads.fired = leads.points != 0
    fit = fit_weights(leads, CalibrateOptions())
    assert fit.base_points == 0
    # The fallback keeps the current model's total points instead.
    total = sum(abs(weight.suggested_points) for weight in fit.weights)
    assert total == pytest.approx(fit.points_budget, abs=2)


# --------------------------------------------------------- candidate file


def test_candidate_adds_base_points_with_comment():
    text = candidate_model_text(SYNTHETIC_MODEL, [], base_points=23)
    lines = text.splitlines()
    position = lines.index("base_points = 23")
    comment = [f"# {line}" for line in BASE_POINTS_COMMENT]
    assert lines[position - len(comment) : position] == comment
    # Top-level keys must come before the first table to stay top-level.
    assert position < lines.index("[tiers]")
    assert "# Synthetic spa model for the base points tests." in text
    assert "# What the lead can spend." in text
    assert parse_model(text).base_points == 23


def test_candidate_replaces_existing_base_points():
    model = SYNTHETIC_MODEL.replace(
        'version = "1"\n', 'version = "1"\n# Our own start value.\nbase_points = 5\n'
    )
    text = candidate_model_text(model, [], base_points=-8)
    assert "# Our own start value.\nbase_points = -8\n" in text
    assert text.count("base_points") == 1
    assert parse_model(text).base_points == -8


@pytest.mark.parametrize("base_points", [0, None], ids=["zero", "not-given"])
def test_candidate_without_base_points_adds_no_key(base_points):
    text = candidate_model_text(SYNTHETIC_MODEL, [], base_points=base_points)
    assert "base_points" not in text
    assert parse_model(text).base_points == 0


# ------------------------------------------------------- rescored candidate


def test_rescored_candidate_keeps_held_out_auc(tmp_path):
    path = _write_leads(tmp_path / "leads.csv")
    scored = load_scored_leads(path, parse_model(SYNTHETIC_MODEL), "Booked", now=NOW)
    fit = fit_weights(scored, CalibrateOptions())
    test = fit.test_indices
    assert fit.base_points != 0

    text = candidate_model_text(SYNTHETIC_MODEL, fit.weights, base_points=fit.base_points)
    assert parse_model(text, source="candidate.toml").base_points == fit.base_points
    candidate_auc, candidate_scores = _held_out_auc(path, text, test)
    without_base = candidate_model_text(SYNTHETIC_MODEL, fit.weights, base_points=0)
    without_auc, without_scores = _held_out_auc(path, without_base, test)

    # The file ranks held-out leads as well as the fitted weights do...
    assert candidate_auc >= fit.fitted_test_auc - 0.005
    assert candidate_auc >= fit.current_test_auc
    # ...which it could not without the intercept, because negative totals tie at 1.
    assert candidate_auc > without_auc
    assert len(set(candidate_scores)) > len(set(without_scores))
    assert (candidate_scores == 1).mean() < 0.1
    assert (without_scores == 1).mean() > 0.3

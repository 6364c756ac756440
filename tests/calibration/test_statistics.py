"""Calibration statistics checked against hand-computed and published values."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.calibration import (
    CapacityPolicy,
    LiftPolicy,
    NoOutcomeVariation,
    Proportion,
    coefficients_to_points,
    cutoff_table,
    fit_logistic,
    random_split,
    recommend_by_capacity,
    recommend_by_lift,
    roc_auc,
    roc_points,
    rule_evidence,
    score_bands,
    tier_migration,
    time_split,
    wilson_interval,
)

# Wilson 95% intervals worked out by hand from the closed form with z = 1.96,
# rounded to four places.
WILSON_CASES = [
    (0, 10, 0.0, 0.2775),
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(
    ("booked", "total", "low", "high"),
    WILSON_CASES,
    ids=[f"{b}-of-{n}" for b, n, _, _ in WILSON_CASES],
)
def test_wilson_interval_matches_published_values(booked, total, low, high):
    computed_low, computed_high = wilson_interval(booked, total)
    assert computed_low == pytest.approx(low, abs=5e-5)
    assert computed_high == pytest.approx(high, abs=5e-5)


def test_wilson_interval_of_empty_group_is_whole_range():
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("booked", "total"), [(-1, 5), (6, 5), (0, -1)], ids=["neg", "over", "neg-n"]
)
def test_wilson_interval_rejects_impossible_counts(booked, total):
    with pytest.raises(ValueError, match="invalid proportion"):
        wilson_interval(booked, total)


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    )
)
@settings(max_examples=200, deadline=None)
def test_wilson_interval_contains_observed_rate(case):
    booked, total = case
    low, high = wilson_interval(booked, total)
    assert 0.0 <= low <= booked / total <= high <= 1.0


AUC_CASES = [
    # Pairs (booked score vs not-booked score): 2>1, 2=2 (half), 3>1, 3>2 → 3.5 / 4.
    ([1, 2, 2, 3], [0, 0, 1, 1], 0.875),
    ([10, 20, 30, 40], [0, 0, 1, 1], 1.0),
    ([10, 20, 30, 40], [1, 1, 0, 0], 0.0),
    ([50, 50, 50, 50], [0, 1, 0, 1], 0.5),
    # 3 bookings × 2 non-bookings: (5>1,5>3) (3=3 half, 3>1) (2>1, 2<3) → 4.5 / 6.
    ([5, 3, 2, 3, 1], [1, 1, 1, 0, 0], 0.75),
]


@pytest.mark.parametrize(
    ("scores", "outcomes", "expected"),
    AUC_CASES,
    ids=["ties", "perfect", "reversed", "all-tied", "three-by-two"],
)
def test_roc_auc_matches_hand_computed_value(scores, outcomes, expected):
    assert roc_auc(scores, outcomes) == pytest.approx(expected)


def _pairwise_auc(scores, outcomes):
    positives = [s for s, o in zip(scores, outcomes, strict=True) if o]
    negatives = [s for s, o in zip(scores, outcomes, strict=True) if not o]
    wins = 0.0
    for positive in positives:
        for negative in negatives:
            if positive > negative:
                wins += 1.0
            elif positive == negative:
                wins += 0.5
    return wins / (len(positives) * len(negatives))


@given(
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=1)),
        min_size=2,
        max_size=60,
    ).filter(lambda rows: 0 < sum(o for _, o in rows) < len(rows))
)
@settings(max_examples=200, deadline=None)
def test_roc_auc_equals_pairwise_count(rows):
    scores = [s for s, _ in rows]
    outcomes = [o for _, o in rows]
    assert roc_auc(scores, outcomes) == pytest.approx(_pairwise_auc(scores, outcomes))


def test_roc_area_under_points_equals_auc():
    rng = np.random.default_rng(3)
    scores = rng.integers(1, 101, size=400)
    outcomes = (rng.random(400) < scores / 120).astype(int)
    points = roc_points(scores, outcomes)
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    trapezoid = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(len(xs) - 1))
    assert points[0] == (0.0, 0.0)
    assert points[-1] == (1.0, 1.0)
    assert trapezoid == pytest.approx(roc_auc(scores, outcomes))


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [([0, 0, 0], "none of the 3 leads booked"), ([1, 1], "all 2 leads booked"), ([], "no leads")],
    ids=["none-booked", "all-booked", "empty"],
)
def test_roc_auc_rejects_single_outcome(outcomes, message):
    with pytest.raises(NoOutcomeVariation, match=message):
        roc_auc([50] * len(outcomes), outcomes)


def test_score_bands_split_into_ten():
    scores = [1, 9, 10, 55, 99, 100]
    outcomes = [0, 1, 1, 0, 1, 1]
    bands = score_bands(scores, outcomes)
    assert [band.label for band in bands] == [
        "1–9",
        "10–19",
        "20–29",
        "30–39",
        "40–49",
        "50–59",
        "60–69",
        "70–79",
        "80–89",
        "90–100",
    ]
    assert bands[0].outcome == Proportion(1, 2)
    assert bands[1].outcome == Proportion(1, 1)
    assert bands[5].outcome == Proportion(0, 1)
    assert bands[-1].outcome == Proportion(2, 2)
    assert sum(band.outcome.total for band in bands) == len(scores)


def test_cutoff_table_reports_captured_bookings():
    scores = [10, 20, 30, 40]
    outcomes = [0, 1, 0, 1]
    rows = {row.cutoff: row for row in cutoff_table(scores, outcomes, cutoffs=[1, 25, 35, 41])}
    assert rows[1].booking_share == 1.0
    assert rows[1].lead_share == 1.0
    assert rows[25].at_or_above == Proportion(1, 2)
    assert rows[25].booking_share == 0.5
    assert rows[35].lead_share == 0.25
    assert rows[41].at_or_above == Proportion(0, 0)


def _groups(*groups):
    """Build scores and outcomes from (score, leads, bookings) groups."""
    scores, outcomes = [], []
    for score, leads, booked in groups:
        scores += [score] * leads
        outcomes += [1] * booked + [0] * (leads - booked)
    return scores, outcomes


def test_lift_policy_picks_known_hot_and_warm_cutoffs():
    # Base rate 180/500 = 36%. At 85 and up: 80% (2.2×, lower bound 71% ≥ 54%).
    # At 50 and up: 160/300 = 53% < 72%, so hot is 85. Between 50 and 84: 40% ≥ 36%.
    scores, outcomes = _groups((20, 200, 20), (50, 200, 80), (85, 100, 80))
    recommendation = recommend_by_lift(scores, outcomes)
    assert recommendation.hot.cutoff == 85
    assert recommendation.hot.selected == Proportion(80, 100)
    assert recommendation.warm.cutoff == 50
    assert recommendation.warm.selected == Proportion(80, 200)
    assert "2× the base rate" in recommendation.statement


def test_lift_policy_thin_top_group():
    # The top group books 100% but has 10 leads, below the 30-lead minimum.
    scores, outcomes = _groups((20, 300, 30), (60, 300, 60), (95, 10, 10))
    recommendation = recommend_by_lift(scores, outcomes)
    assert recommendation.hot.cutoff is None
    assert recommendation.hot.thin
    assert "too thin" in recommendation.hot.reason
    assert recommendation.warm.cutoff is None


def test_lift_policy_flat_scores():
    scores, outcomes = _groups((20, 300, 90), (60, 300, 90), (90, 300, 90))
    recommendation = recommend_by_lift(scores, outcomes)
    assert recommendation.hot.cutoff is None
    assert not recommendation.hot.thin
    assert "does not separate" in recommendation.hot.reason


def test_lift_policy_checks_lower_bound():
    # 12 of 30 book (40% = 2.1× base) but the lower bound 24.6% is below 1.5× base (28.5%).
    scores, outcomes = _groups((10, 970, 178), (90, 30, 12))
    policy = LiftPolicy(min_bookings=5)
    recommendation = recommend_by_lift(scores, outcomes, policy)
    assert recommendation.hot.cutoff is None


def test_capacity_policy_fits_hot_leads_per_day():
    # 40 leads per day; 10% of leads score 90, 20% score 70, the rest 30.
    scores, outcomes = _groups((30, 700, 70), (70, 200, 80), (90, 100, 70))
    two_per_day = recommend_by_capacity(scores, outcomes, CapacityPolicy(4, 40))
    assert two_per_day.hot.cutoff == 90
    assert two_per_day.hot_per_day == pytest.approx(4.0)
    twelve_per_day = recommend_by_capacity(scores, outcomes, CapacityPolicy(12, 40))
    assert twelve_per_day.hot.cutoff == 70
    assert twelve_per_day.hot_per_day == pytest.approx(12.0)
    assert twelve_per_day.warm.cutoff is None


def test_capacity_policy_rejects_zero_capacity():
    scores, outcomes = _groups((30, 10, 5))
    with pytest.raises(ValueError, match="hot leads per day must be positive"):
        recommend_by_capacity(scores, outcomes, CapacityPolicy(0, 40))


def test_rule_evidence_compares_fired_with_not_fired():
    fired = np.array([[1, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)
    outcomes = [1, 1, 0, 0, 0]
    first, second = rule_evidence(["budget_high", "no_reply"], fired, outcomes, min_leads=1)
    assert first.fired == Proportion(2, 3)
    assert first.not_fired == Proportion(0, 2)
    assert first.lift == pytest.approx((2 / 3) / 0.4)
    assert second.fired == Proportion(0, 2)
    assert second.not_fired == Proportion(2, 3)


def test_rule_evidence_rejects_mismatched_matrix():
    with pytest.raises(ValueError, match="expected \\(2, 1\\)"):
        rule_evidence(["a"], np.zeros((3, 1), dtype=bool), [0, 1])


def test_logistic_regression_recovers_known_weights():
    rng = np.random.default_rng(7)
    true_intercept = -1.5
    true_weights = np.array([2.0, -1.0, 0.5, 0.0])
    features = (rng.random((40_000, 4)) < [0.3, 0.5, 0.4, 0.6]).astype(float)
    probability = 1 / (1 + np.exp(-(true_intercept + features @ true_weights)))
    outcomes = (rng.random(40_000) < probability).astype(int)
    fit = fit_logistic(features, outcomes, l2=0.01)
    assert fit.converged
    assert fit.intercept == pytest.approx(true_intercept, abs=0.06)
    for fitted, expected in zip(fit.coefficients, true_weights, strict=True):
        assert fitted == pytest.approx(expected, abs=0.06)


def test_logistic_regression_penalty_keeps_separated_rule_finite():
    features = np.array([[1.0], [1.0], [0.0], [0.0]])
    fit = fit_logistic(features, [1, 1, 0, 0], l2=1.0)
    assert fit.converged
    assert math.isfinite(fit.coefficients[0])
    assert fit.coefficients[0] > 0
    assert fit.predict(features)[0] > 0.5


def test_logistic_regression_penalty_shrinks_weights():
    rng = np.random.default_rng(1)
    features = (rng.random((500, 2)) < 0.5).astype(float)
    outcomes = (rng.random(500) < 0.2 + 0.5 * features[:, 0]).astype(int)
    loose = fit_logistic(features, outcomes, l2=0.0)
    tight = fit_logistic(features, outcomes, l2=200.0)
    assert abs(tight.coefficients[0]) < abs(loose.coefficients[0])


def test_coefficients_to_points_keeps_budget_and_sign():
    points = coefficients_to_points([2.0, -1.0, 1.0], points_budget=100)
    assert points == [50, -25, 25]
    assert coefficients_to_points([0.0, 0.0], points_budget=100) == [0, 0]


def test_random_split_is_seeded_and_disjoint():
    train, test = random_split(100, test_fraction=0.3, seed=5)
    again_train, again_test = random_split(100, test_fraction=0.3, seed=5)
    assert len(test) == 30
    assert set(train).isdisjoint(test)
    assert set(train) | set(test) == set(range(100))
    assert list(test) == list(again_test)
    assert list(train) == list(again_train)


def test_time_split_keeps_newest_leads_for_judging():
    stamps = [5, 1, 4, 2, 3, 3, 6, 7, 8, 9]
    train, test = time_split(stamps, test_fraction=0.3)
    assert max(stamps[i] for i in train) < min(stamps[i] for i in test)
    assert sorted(stamps[i] for i in test) == [7, 8, 9]


def test_time_split_rejects_single_date():
    with pytest.raises(ValueError, match="same date"):
        time_split([1.0] * 10)


def test_tier_migration_counts_moves():
    matrix = tier_migration(
        ["hot", "warm", "warm", "cold"], ["hot", "hot", "cold", "cold"], ["hot", "warm", "cold"]
    )
    assert matrix == [[1, 0, 0], [1, 0, 1], [0, 0, 1]]

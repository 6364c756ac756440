"""Calibration statistics: how well scores rank real bookings, and which cutoffs to use.

Everything here is pure arithmetic on arrays of scores, outcomes (1 = booked,
0 = not booked) and rule hits; loading files and writing reports is the job
of `jobs.calibrate`. Intervals are 95% Wilson score intervals, AUC is the
rank-based (Mann-Whitney) estimate with ties counted as one half, and the
point-weight fit is an L2-regularised logistic regression solved by Newton's
method (iteratively reweighted least squares).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from scoring.mapping import FieldMapping, normalize_source_name

# Two-sided 95% normal quantile.
Z_95 = 1.959963984540054

SCORE_MIN = 1
SCORE_MAX = 100
BAND_WIDTH = 10


class CalibrationError(ValueError):
    """The data cannot support the statistic that was requested."""


class NoOutcomeVariation(CalibrationError):
    """Every lead has the same outcome, so ranking and lift are undefined."""


class PostOutcomeColumnError(CalibrationError):
    """The model reads a column that was filled in after the outcome was known."""

    def __init__(self, reads: Sequence[tuple[str, str]]) -> None:
        self.reads = tuple(reads)
        listed = "; ".join(f"{where} reads {column!r}" for where, column in self.reads)
        super().__init__(
            f"the model reads post-outcome columns ({listed}). These columns are filled in "
            "after the lead booked or was lost, so scoring with them leaks the outcome. "
            "Remove them from the model's [mapping], or drop them from "
            "[mapping] post_outcome if they are known before the outcome."
        )


# --- Proportions and intervals -------------------------------------------------


def wilson_interval(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval for `successes` out of `total`.

    The interval stays inside [0, 1] and is defined at 0 and `total`
    successes, unlike the normal approximation. `total == 0` gives (0, 1).
    """
    if total < 0 or successes < 0 or successes > total:
        raise ValueError(f"invalid proportion {successes}/{total}")
    if total == 0:
        return (0.0, 1.0)
    p = successes / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denominator
    # Rounding can push a bound a hair past the observed rate at p = 0 or p = 1.
    low = min(p, max(0.0, centre - half_width))
    high = max(p, min(1.0, centre + half_width))
    return (low, high)


@dataclass(frozen=True, slots=True)
class Proportion:
    """A booking rate: `booked` out of `total` leads, with its 95% Wilson interval."""

    booked: int
    total: int

    @property
    def rate(self) -> float:
        return self.booked / self.total if self.total else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.booked, self.total)

    @property
    def low(self) -> float:
        return self.interval[0]

    @property
    def high(self) -> float:
        return self.interval[1]


# --- Input checks ----------------------------------------------------------------


def _as_arrays(scores: Iterable[float], outcomes: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    score_array = np.asarray(list(scores), dtype=float)
    outcome_array = np.asarray(list(outcomes), dtype=int)
    if score_array.shape != outcome_array.shape:
        raise ValueError(
            f"scores and outcomes differ in length: {score_array.size} vs {outcome_array.size}"
        )
    if outcome_array.size and not np.isin(outcome_array, (0, 1)).all():
        raise ValueError("outcomes must be 0 (not booked) or 1 (booked)")
    return score_array, outcome_array


def require_both_outcomes(outcomes: Sequence[int] | np.ndarray) -> None:
    """Raise `NoOutcomeVariation` unless there is at least one booking and one non-booking."""
    array = np.asarray(outcomes, dtype=int)
    booked = int(array.sum())
    if array.size == 0:
        raise NoOutcomeVariation("there are no leads with a known outcome")
    if booked == 0:
        raise NoOutcomeVariation(
            f"none of the {array.size} leads booked, so no score can be compared with bookings"
        )
    if booked == array.size:
        raise NoOutcomeVariation(
            f"all {array.size} leads booked, so no score can be compared with non-bookings"
        )


# --- Ranking quality ---------------------------------------------------------------


def roc_auc(scores: Iterable[float], outcomes: Iterable[int]) -> float:
    """Return the ROC AUC: the chance that a random booking outscores a random non-booking.

    Computed from ranks (the Mann-Whitney U statistic), with tied scores given
    their average rank, so a tie between a booking and a non-booking counts
    one half.
    """
    score_array, outcome_array = _as_arrays(scores, outcomes)
    require_both_outcomes(outcome_array)
    ranks = _average_ranks(score_array)
    positives = int(outcome_array.sum())
    negatives = outcome_array.size - positives
    rank_sum = float(ranks[outcome_array == 1].sum())
    u_statistic = rank_sum - positives * (positives + 1) / 2
    return u_statistic / (positives * negatives)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Return 1-based ranks, with each group of tied values given the group's mean rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=float)
    start = 0
    while start < values.size:
        end = start
        while end + 1 < values.size and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def roc_points(scores: Iterable[float], outcomes: Iterable[int]) -> list[tuple[float, float]]:
    """Return the ROC curve as (false positive rate, true positive rate) points.

    One point per distinct score, from the highest cutoff down, starting at
    (0, 0) and ending at (1, 1).
    """
    score_array, outcome_array = _as_arrays(scores, outcomes)
    require_both_outcomes(outcome_array)
    positives = int(outcome_array.sum())
    negatives = outcome_array.size - positives
    points = [(0.0, 0.0)]
    for cutoff in np.unique(score_array)[::-1]:
        selected = score_array >= cutoff
        true_positives = int(outcome_array[selected].sum())
        false_positives = int(selected.sum()) - true_positives
        points.append((false_positives / negatives, true_positives / positives))
    return points


# --- Score bands and cutoffs ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreBand:
    """Leads with `low <= score <= high`, and how many of them booked."""

    low: int
    high: int
    outcome: Proportion

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"


def score_bands(
    scores: Iterable[float], outcomes: Iterable[int], width: int = BAND_WIDTH
) -> tuple[ScoreBand, ...]:
    """Split the 1–100 range into bands of `width` points (1–9, 10–19, …, 90–100).

    The first band starts at 1 because scores start at 1, and the last band
    includes 100 so no band contains a single score.
    """
    score_array, outcome_array = _as_arrays(scores, outcomes)
    bands: list[ScoreBand] = []
    for start in range(0, SCORE_MAX, width):
        low = max(start, SCORE_MIN)
        high = start + width - 1
        if high + 1 >= SCORE_MAX:
            high = SCORE_MAX
        selected = (score_array >= low) & (score_array <= high)
        bands.append(
            ScoreBand(
                low, high, Proportion(int(outcome_array[selected].sum()), int(selected.sum()))
            )
        )
        if high == SCORE_MAX:
            break
    return tuple(bands)


@dataclass(frozen=True, slots=True)
class CutoffStats:
    """Leads scoring at or above a cutoff, and their bookings.

    `lead_share` is the share of all leads selected; `booking_share` is the
    share of all bookings captured.
    """

    cutoff: int
    at_or_above: Proportion
    lead_share: float
    booking_share: float


def cutoff_table(
    scores: Iterable[float],
    outcomes: Iterable[int],
    cutoffs: Iterable[int] = range(SCORE_MIN, SCORE_MAX + 1),
) -> tuple[CutoffStats, ...]:
    """Return `CutoffStats` for each cutoff (every score from 1 to 100 by default)."""
    score_array, outcome_array = _as_arrays(scores, outcomes)
    total = score_array.size
    total_booked = int(outcome_array.sum())
    rows = []
    for cutoff in cutoffs:
        selected = score_array >= cutoff
        count = int(selected.sum())
        booked = int(outcome_array[selected].sum())
        rows.append(
            CutoffStats(
                cutoff=int(cutoff),
                at_or_above=Proportion(booked, count),
                lead_share=count / total if total else 0.0,
                booking_share=booked / total_booked if total_booked else 0.0,
            )
        )
    return tuple(rows)


# --- Cutoff recommendations ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutoffChoice:
    """A recommended cutoff, or None with the reason no cutoff qualified.

    `selected` is the leads the tier would hold on this data: at or above the
    cutoff for hot, between the warm and hot cutoffs for warm.
    """

    cutoff: int | None
    reason: str
    selected: Proportion | None = None
    thin: bool = False


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Hot and warm cutoffs recommended under one policy, with the policy stated in words."""

    policy: str
    statement: str
    hot: CutoffChoice
    warm: CutoffChoice
    hot_per_day: float | None = None


@dataclass(frozen=True, slots=True)
class LiftPolicy:
    """Cutoffs chosen by how much more often the selected leads book than the average lead.

    Cutoffs are drawn from the scores seen in the data.
    Hot is the lowest cutoff whose leads at or above book at `hot_lift` times
    the base rate or more, with the Wilson lower bound at `hot_lower_lift`
    times the base rate or more. Warm is the lowest cutoff below hot whose
    leads between it and the hot cutoff book at `warm_lift` times the base rate
    or more, with the lower bound at `warm_lower_lift` times the base rate or
    more. A group with fewer than `min_leads` leads or `min_bookings` bookings
    is too thin to judge and never qualifies.
    """

    hot_lift: float = 2.0
    hot_lower_lift: float = 1.5
    warm_lift: float = 1.0
    warm_lower_lift: float = 0.75
    min_leads: int = 30
    min_bookings: int = 5

    def describe(self) -> str:
        return (
            f"Cutoffs are scores seen in the data. "
            f"Hot: the lowest cutoff whose leads at or above it book at ≥ {self.hot_lift:g}× "
            f"the base rate, with the 95% Wilson lower bound ≥ {self.hot_lower_lift:g}× the "
            f"base rate. Warm: the lowest cutoff below hot whose leads between it and the hot "
            f"cutoff book at ≥ {self.warm_lift:g}× the base rate, with the lower bound ≥ "
            f"{self.warm_lower_lift:g}× the base rate. A group needs at least "
            f"{self.min_leads} leads and {self.min_bookings} bookings to be judged."
        )


@dataclass(frozen=True, slots=True)
class CapacityPolicy:
    """Hot cutoff chosen so the hot tier fits what staff can call each day.

    Hot is the lowest cutoff whose expected hot leads per day (the share of
    leads at or above it × `leads_per_day`) is at most `hot_per_day`. Warm
    follows the warm rule of `lift` below that hot cutoff.
    """

    hot_per_day: float
    leads_per_day: float
    lift: LiftPolicy = field(default_factory=LiftPolicy)

    def describe(self) -> str:
        return (
            f"Hot: the lowest cutoff that sends at most {self.hot_per_day:g} hot leads per day, "
            f"at {self.leads_per_day:.1f} new leads per day. Warm: the lift rule below that "
            f"cutoff (leads between warm and hot book at ≥ {self.lift.warm_lift:g}× the base "
            f"rate, lower bound ≥ {self.lift.warm_lower_lift:g}×)."
        )


def _observed_cutoffs(scores: np.ndarray) -> list[int]:
    """Return the distinct scores seen, lowest first: the only cutoffs the data can judge.

    A cutoff between two observed scores selects the same leads as the next
    observed score above it, but would also admit future scores the data has
    never seen, so only observed scores are recommended.
    """
    return [int(value) for value in np.unique(np.ceil(scores))]


def _is_thin(outcome: Proportion, policy: LiftPolicy) -> bool:
    return outcome.total < policy.min_leads or outcome.booked < policy.min_bookings


def recommend_by_lift(
    scores: Iterable[float], outcomes: Iterable[int], policy: LiftPolicy | None = None
) -> Recommendation:
    """Recommend hot and warm cutoffs under a `LiftPolicy`."""
    policy = policy or LiftPolicy()
    score_array, outcome_array = _as_arrays(scores, outcomes)
    require_both_outcomes(outcome_array)
    base = float(outcome_array.mean())

    hot = _choose_hot_by_lift(score_array, outcome_array, base, policy)
    warm = _choose_warm(score_array, outcome_array, base, policy, hot.cutoff)
    return Recommendation(policy="lift", statement=policy.describe(), hot=hot, warm=warm)


def _choose_hot_by_lift(
    scores: np.ndarray, outcomes: np.ndarray, base: float, policy: LiftPolicy
) -> CutoffChoice:
    target = policy.hot_lift * base
    lower_target = policy.hot_lower_lift * base
    thin_but_high = False
    for cutoff in _observed_cutoffs(scores):
        selected = scores >= cutoff
        outcome = Proportion(int(outcomes[selected].sum()), int(selected.sum()))
        meets = outcome.rate >= target and outcome.low >= lower_target
        if _is_thin(outcome, policy):
            thin_but_high = thin_but_high or outcome.rate >= target
            continue
        if meets:
            return CutoffChoice(
                cutoff,
                f"leads at or above {cutoff} book at {outcome.rate:.1%} "
                f"({outcome.rate / base:.2f}× the base rate {base:.1%}, "
                f"lower bound {outcome.low / base:.2f}×)",
                outcome,
            )
    if thin_but_high:
        return CutoffChoice(
            None,
            f"too thin to recommend: the only cutoffs whose leads book at ≥ "
            f"{policy.hot_lift:g}× the base rate select fewer than {policy.min_leads} leads "
            f"or {policy.min_bookings} bookings",
            thin=True,
        )
    return CutoffChoice(
        None,
        f"no cutoff selects leads that book at ≥ {policy.hot_lift:g}× the base rate "
        f"({target:.1%}) with a lower bound ≥ {policy.hot_lower_lift:g}× ({lower_target:.1%}); "
        "the score does not separate bookings well enough for a hot tier under this policy",
    )


def _choose_warm(
    scores: np.ndarray,
    outcomes: np.ndarray,
    base: float,
    policy: LiftPolicy,
    hot_cutoff: int | None,
) -> CutoffChoice:
    if hot_cutoff is None:
        return CutoffChoice(None, "no warm cutoff without a hot cutoff")
    target = policy.warm_lift * base
    lower_target = policy.warm_lower_lift * base
    thin_only = True
    for cutoff in _observed_cutoffs(scores[scores < hot_cutoff]):
        selected = (scores >= cutoff) & (scores < hot_cutoff)
        outcome = Proportion(int(outcomes[selected].sum()), int(selected.sum()))
        if _is_thin(outcome, policy):
            continue
        thin_only = False
        if outcome.rate >= target and outcome.low >= lower_target:
            return CutoffChoice(
                cutoff,
                f"leads from {cutoff} to {hot_cutoff - 1} book at {outcome.rate:.1%} "
                f"({outcome.rate / base:.2f}× the base rate, "
                f"lower bound {outcome.low / base:.2f}×)",
                outcome,
            )
    if thin_only:
        return CutoffChoice(
            None,
            f"too thin to recommend: fewer than {policy.min_leads} leads or "
            f"{policy.min_bookings} bookings score below the hot cutoff {hot_cutoff}",
            thin=True,
        )
    return CutoffChoice(
        None,
        f"no cutoff below {hot_cutoff} selects leads that book at ≥ {policy.warm_lift:g}× "
        f"the base rate with a lower bound ≥ {policy.warm_lower_lift:g}×",
    )


def recommend_by_capacity(
    scores: Iterable[float], outcomes: Iterable[int], policy: CapacityPolicy
) -> Recommendation:
    """Recommend a hot cutoff that fits staff capacity, and a warm cutoff below it."""
    if policy.hot_per_day <= 0:
        raise ValueError(f"hot leads per day must be positive, got {policy.hot_per_day}")
    if policy.leads_per_day <= 0:
        raise ValueError(f"leads per day must be positive, got {policy.leads_per_day}")
    score_array, outcome_array = _as_arrays(scores, outcomes)
    require_both_outcomes(outcome_array)
    base = float(outcome_array.mean())
    total = score_array.size

    hot = CutoffChoice(
        None,
        f"even the top score sends more than {policy.hot_per_day:g} hot leads per day",
    )
    hot_per_day: float | None = None
    for cutoff in _observed_cutoffs(score_array):
        selected = score_array >= cutoff
        count = int(selected.sum())
        per_day = count / total * policy.leads_per_day
        if per_day <= policy.hot_per_day:
            outcome = Proportion(int(outcome_array[selected].sum()), count)
            reason = (
                f"{per_day:.1f} hot leads per day; they book at {outcome.rate:.1%} "
                f"({outcome.rate / base:.2f}× the base rate)"
            )
            thin = _is_thin(outcome, policy.lift)
            if thin:
                reason += f"; too thin to judge the booking rate ({outcome.total} leads)"
            hot = CutoffChoice(cutoff, reason, outcome, thin=thin)
            hot_per_day = per_day
            break
    warm = _choose_warm(score_array, outcome_array, base, policy.lift, hot.cutoff)
    return Recommendation(
        policy="capacity",
        statement=policy.describe(),
        hot=hot,
        warm=warm,
        hot_per_day=hot_per_day,
    )


# --- Per-rule evidence ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleEvidence:
    """Booking rate of leads where a rule fired against leads where it did not."""

    rule_id: str
    fired: Proportion
    not_fired: Proportion
    base_rate: float
    min_leads: int = 30

    @property
    def lift(self) -> float:
        """Booking rate when fired divided by the base rate (NaN when the rule never fired)."""
        if self.fired.total == 0 or self.base_rate == 0:
            return float("nan")
        return self.fired.rate / self.base_rate

    @property
    def thin(self) -> bool:
        return self.fired.total < self.min_leads or self.not_fired.total < self.min_leads

    @property
    def separates(self) -> bool:
        """True when the two 95% intervals do not overlap."""
        if self.thin:
            return False
        return self.fired.low > self.not_fired.high or self.fired.high < self.not_fired.low


def rule_evidence(
    rule_ids: Sequence[str],
    fired: np.ndarray,
    outcomes: Iterable[int],
    min_leads: int = 30,
) -> tuple[RuleEvidence, ...]:
    """Compare bookings with and without each rule.

    `fired` is a (leads × rules) boolean matrix whose column j is whether
    rule `rule_ids[j]` fired for each lead.
    """
    fired_matrix = np.asarray(fired, dtype=bool)
    outcome_array = np.asarray(list(outcomes), dtype=int)
    if fired_matrix.shape != (outcome_array.size, len(rule_ids)):
        raise ValueError(
            f"rule-hit matrix has shape {fired_matrix.shape}, "
            f"expected ({outcome_array.size}, {len(rule_ids)})"
        )
    base = float(outcome_array.mean()) if outcome_array.size else float("nan")
    evidence = []
    for column, rule_id in enumerate(rule_ids):
        hit = fired_matrix[:, column]
        evidence.append(
            RuleEvidence(
                rule_id=rule_id,
                fired=Proportion(int(outcome_array[hit].sum()), int(hit.sum())),
                not_fired=Proportion(int(outcome_array[~hit].sum()), int((~hit).sum())),
                base_rate=base,
                min_leads=min_leads,
            )
        )
    return tuple(evidence)


# --- Logistic regression on rule hits ----------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    """An L2-regularised logistic regression: log-odds = intercept + features · coefficients."""

    intercept: float
    coefficients: np.ndarray
    l2: float
    iterations: int
    converged: bool

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        return self.intercept + np.asarray(features, dtype=float) @ self.coefficients

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Return the fitted booking probability of each row of `features`."""
        return _sigmoid(self.log_odds(features))


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * values))


def fit_logistic(
    features: np.ndarray,
    outcomes: Iterable[int],
    l2: float = 1.0,
    max_iterations: int = 100,
    tolerance: float = 1e-8,
) -> LogisticFit:
    """Fit an L2-regularised logistic regression by Newton's method (IRLS).

    Minimises the negative log-likelihood plus `l2 / 2 · ‖coefficients‖²`;
    the intercept is not penalised. The penalty keeps the weights finite when
    a rule separates bookings perfectly or fires for no lead. Each Newton step
    is halved until the objective stops increasing, so the fit converges from
    any start.
    """
    x = np.asarray(features, dtype=float)
    y = np.asarray(list(outcomes), dtype=float)
    if x.ndim != 2 or x.shape[0] != y.size:
        raise ValueError(f"features have shape {x.shape}, expected ({y.size}, k)")
    if l2 < 0:
        raise ValueError(f"l2 penalty must be >= 0, got {l2}")
    require_both_outcomes(y.astype(int))

    rows, columns = x.shape
    design = np.hstack([np.ones((rows, 1)), x])
    penalty = np.full(columns + 1, float(l2))
    penalty[0] = 0.0
    prior = y.mean()
    weights = np.zeros(columns + 1)
    weights[0] = math.log(prior / (1 - prior))

    def objective(w: np.ndarray) -> float:
        eta = design @ w
        # log(1 + e^eta) computed without overflow.
        log_likelihood = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        return -log_likelihood + 0.5 * float(np.sum(penalty * w * w))

    current = objective(weights)
    converged = False
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        probability = _sigmoid(design @ weights)
        gradient = design.T @ (probability - y) + penalty * weights
        curvature = probability * (1 - probability)
        hessian = design.T @ (design * curvature[:, None]) + np.diag(penalty)
        # A tiny ridge keeps the solve defined when l2 = 0 and a column is constant.
        hessian[np.diag_indices_from(hessian)] += 1e-10
        step = np.linalg.solve(hessian, gradient)

        scale = 1.0
        candidate = weights - step
        candidate_value = objective(candidate)
        while candidate_value > current and scale > 1e-6:
            scale /= 2
            candidate = weights - scale * step
            candidate_value = objective(candidate)

        change = float(np.max(np.abs(candidate - weights)))
        weights, current = candidate, candidate_value
        if change < tolerance:
            converged = True
            break

    return LogisticFit(
        intercept=float(weights[0]),
        coefficients=weights[1:].copy(),
        l2=float(l2),
        iterations=iterations,
        converged=converged,
    )


def coefficients_to_points(coefficients: Sequence[float], points_budget: float) -> list[int]:
    """Rescale log-odds coefficients to whole points that spend `points_budget` in total.

    Points are proportional to the coefficients, so the sum of points a lead
    collects orders leads the way the fitted log-odds does (before the score
    is clipped to 1–100). The scale is chosen so the absolute points add up
    to `points_budget`, the same total the current model spends, which keeps
    the candidate's scores on the same scale as its tiers.
    """
    array = np.asarray(coefficients, dtype=float)
    total = float(np.abs(array).sum())
    if total == 0:
        return [0] * array.size
    scale = points_budget / total
    return [round(float(value)) for value in array * scale]


# --- Splits ---------------------------------------------------------------------


def random_split(
    count: int, test_fraction: float = 0.3, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, test) row indices of a seeded random split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    order = np.random.default_rng(seed).permutation(count)
    test_size = round(count * test_fraction)
    return np.sort(order[test_size:]), np.sort(order[:test_size])


def time_split(
    timestamps: Sequence[float], test_fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Return (train, test) row indices: the oldest leads to fit, the newest to judge.

    Leads with the same timestamp stay on the same side, so no lead from the
    test period's first moment leaks into training.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be between 0 and 1, got {test_fraction}")
    stamps = np.asarray(timestamps, dtype=float)
    order = np.argsort(stamps, kind="mergesort")
    train_size = round(stamps.size * (1 - test_fraction))
    if train_size in (0, stamps.size):
        raise CalibrationError(f"too few leads ({stamps.size}) to split by date")
    boundary = stamps[order[train_size - 1]]
    train = np.flatnonzero(stamps <= boundary)
    test = np.flatnonzero(stamps > boundary)
    if test.size == 0:
        raise CalibrationError("every lead has the same date, so there is no newer period to judge")
    return train, test


# --- Backtesting -----------------------------------------------------------------


def tier_migration(
    baseline_tiers: Sequence[str], candidate_tiers: Sequence[str], tiers: Sequence[str]
) -> list[list[int]]:
    """Return the tier migration matrix: row = baseline tier, column = candidate tier."""
    if len(baseline_tiers) != len(candidate_tiers):
        raise ValueError("both models must score the same leads")
    index = {tier: position for position, tier in enumerate(tiers)}
    matrix = [[0] * len(tiers) for _ in tiers]
    for before, after in zip(baseline_tiers, candidate_tiers, strict=True):
        matrix[index[before]][index[after]] += 1
    return matrix


# --- Leakage ---------------------------------------------------------------------


def post_outcome_reads(
    mapping: FieldMapping, extra_columns: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Return (mapping entry, source name) for every mapping source that is post-outcome.

    Post-outcome columns are `mapping.post_outcome` plus `extra_columns` (the
    outcome column itself). Names match after `normalize_source_name`.
    """
    forbidden = {normalize_source_name(name) for name in (*mapping.post_outcome, *extra_columns)}
    forbidden.discard("")
    reads: list[tuple[str, str]] = []
    for where, names in _mapping_sources(mapping):
        for name in names:
            if normalize_source_name(name) in forbidden:
                reads.append((where, name))
    return reads


def check_no_post_outcome_reads(mapping: FieldMapping, extra_columns: Iterable[str] = ()) -> None:
    """Raise `PostOutcomeColumnError` if the mapping reads a post-outcome column."""
    reads = post_outcome_reads(mapping, extra_columns)
    if reads:
        raise PostOutcomeColumnError(reads)


def _mapping_sources(mapping: FieldMapping) -> Iterable[tuple[str, Sequence[str]]]:
    # Built-in default names are skipped: readers never read a post-outcome
    # column through them, so only names the model file sets count as reads.
    for name in ("id", "created_at", "tags", "do_not_contact", "unsubscribed"):
        if name in mapping.model_fields_set:
            yield f"mapping.{name}", getattr(mapping, name)
    for key, names in mapping.answers.items():
        yield f"mapping.answers.{key}", names
    for key, names in mapping.attributes.items():
        yield f"mapping.attributes.{key}", names
    for kind, source in mapping.activities.items():
        for part in ("count", "last_at", "first_at", "url", "detail"):
            yield f"mapping.activities.{kind.value}.{part}", getattr(source, part)

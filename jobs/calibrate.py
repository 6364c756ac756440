"""Calibrate a model against real bookings, and backtest a candidate model.

`load_scored_leads` reads a spreadsheet with an outcome column, scores every
row with a model and keeps the rule hits. `evaluate` turns that into a
`CalibrationReport` (bands, AUC, recommended cutoffs, rule evidence and
fitted points); `backtest` compares two models on the same leads. Printing
to a terminal lives here; the HTML report is in `jobs.report_html`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog
import tomlkit

from connectors.base import SkippedRecord
from connectors.spreadsheet import SpreadsheetSource
from connectors.spreadsheet.values import CellValueError, parse_datetime
from scoring import calibration as stats
from scoring.lead import Lead
from scoring.mapping import find_source, normalize_source_name
from scoring.model import ScoringModel
from scoring.result import RuleHit

log = structlog.get_logger(__name__)

SECONDS_PER_DAY = 86_400.0

# Outcome cell values, compared after `normalize_outcome_text`.
POSITIVE_OUTCOMES = frozenset(
    {
        "1",
        "yes",
        "y",
        "true",
        "t",
        "booked",
        "won",
        "closed won",
        "showed",
        "show",
        "converted",
        "attended",
    }
)
NEGATIVE_OUTCOMES = frozenset(
    {
        "0",
        "no",
        "n",
        "false",
        "f",
        "lost",
        "closed lost",
        "no show",
        "noshow",
        "not booked",
        "not converted",
        "cancelled",
        "canceled",
    }
)
MAX_EXAMPLE_ROWS = 5
DEFAULT_SEED = 42
DEFAULT_TEST_FRACTION = 0.3
DEFAULT_L2 = 1.0
TIER_ORDER = ("hot", "warm", "cold", "disqualified")
# Fitted log-odds from the 1st to the 99th percentile map onto these scores.
SCORE_SPREAD_LOW = 1
SCORE_SPREAD_HIGH = 99


# When time-based rules (decay, "no reply in N days") are judged: at each lead's
# own latest date, or at one moment for every lead.
SCORE_AT_LEAD = "lead"
SCORE_AT_NOW = "now"
SCORE_AT_CHOICES = (SCORE_AT_LEAD, SCORE_AT_NOW)


class CalibrationInputError(ValueError):
    """The input cannot be calibrated: a missing column, unknown outcomes, no variation."""


def lead_scoring_time(lead: Lead, now: datetime) -> datetime | None:
    """Return the latest of the lead's created date and activity dates, capped at `now`.

    That is the lead's last known activity, so time-based rules judged then
    see what the worker saw at the time. Returns None when the lead has no
    dates at all.
    """
    known = [lead.created_at] if lead.created_at is not None else []
    for activity in lead.activities:
        known.extend(moment for moment in (activity.last_at, activity.first_at) if moment)
    if not known:
        return None
    return min(max(known), now)


def describe_scoring_time(score_at: str, now: datetime, undated: int = 0) -> str:
    """Return one sentence saying when time-based rules were judged, for the reports."""
    moment = f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if score_at == SCORE_AT_NOW:
        return (
            f"Time-based rules (decay, activity windows) were judged as of {moment} for every "
            "lead (--score-at now)."
        )
    text = (
        "Time-based rules (decay, activity windows) were judged as of each lead's latest "
        f"date: its created date or last activity, never later than {moment} (--score-at lead)."
    )
    if undated:
        text += f" {undated} leads have no dates and were judged as of {moment}."
    return text


# --- Outcomes --------------------------------------------------------------------


def normalize_outcome_text(value: object) -> str:
    """Fold an outcome cell for lookup: case, spacing, `-` and `_` ignored, `1.0` read as `1`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return ""
        if float(value).is_integer():
            return str(int(value))
        return str(value)
    text = re.sub(r"[\s_\-]+", " ", str(value).strip().lower())
    if re.fullmatch(r"[01]\.0+", text):
        return text[0]
    return text


def parse_outcome(value: object) -> int | None:
    """Return 1 for a booking, 0 for no booking, None for a blank cell.

    Raises ValueError for any other value.
    """
    text = normalize_outcome_text(value)
    if not text:
        return None
    if text in POSITIVE_OUTCOMES:
        return 1
    if text in NEGATIVE_OUTCOMES:
        return 0
    raise ValueError(text)


@dataclass
class OutcomeReader:
    """Collects outcomes row by row and the rows whose outcome is not recognised."""

    column: str
    unrecognised: dict[str, list[int]] = field(default_factory=dict)
    blank_rows: list[int] = field(default_factory=list)

    def read(self, value: object, row: int) -> int | None:
        try:
            outcome = parse_outcome(value)
        except ValueError:
            self.unrecognised.setdefault(str(value).strip(), []).append(row)
            return None
        if outcome is None:
            self.blank_rows.append(row)
        return outcome

    def raise_if_unrecognised(self, path: str) -> None:
        if not self.unrecognised:
            return
        lines = [f"{path}: column {self.column!r} has outcome values that are not recognised:"]
        ordered = sorted(self.unrecognised.items(), key=lambda item: (-len(item[1]), item[0]))
        for value, rows in ordered:
            shown = ", ".join(str(row) for row in rows[:MAX_EXAMPLE_ROWS])
            more = ", …" if len(rows) > MAX_EXAMPLE_ROWS else ""
            lines.append(f"  - {value!r}: {len(rows)} rows (data rows {shown}{more})")
        lines.append(
            "Booked values: 1, yes, true, booked, won, showed, converted. Not booked: 0, no, "
            "false, lost, no show, not booked. Case is ignored. Fix the cells, or leave a cell "
            "blank when the outcome is not known yet (blank rows are left out)."
        )
        raise CalibrationInputError("\n".join(lines))


def missing_column_message(path: str, option: str, column: str, header: Sequence[str]) -> str:
    listed = ", ".join(repr(name) for name in header)
    return (
        f"{path}: the {option} column {column!r} is not in the file. "
        f"Columns in the file: {listed}. Pass one of them with {option}."
    )


# --- The scored data ---------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    """A rule of the model, as calibration uses it.

    `points` is the largest points (by absolute value, with its sign) the
    rule gave any lead in the data, so one number stands for an answer rule
    whose options give different points.
    """

    rule_id: str
    label: str
    part: str
    points: float
    levels: tuple[float, ...] | None = None


@dataclass
class ScoredLeads:
    """Leads with a known outcome, scored by one model, with the rules that fired.

    Arrays are aligned: entry i of every field is the lead in data row
    `rows[i]`. `fired[i, j]` is whether `rules[j]` fired for lead i and
    `points[i, j]` the points it gave.
    `timestamps` is each lead's date as POSIX seconds (NaN when unreadable),
    or None when no date column was given.
    """

    source: str
    model_name: str
    lead_ids: list[str]
    rows: list[int]
    scores: np.ndarray
    tiers: list[str]
    outcomes: np.ndarray
    rules: list[RuleInfo]
    fired: np.ndarray
    points: np.ndarray
    hits: list[tuple[RuleHit, ...]]
    hot_cutoff: int
    warm_cutoff: int
    timestamps: np.ndarray | None = None
    skipped: list[tuple[int | None, str]] = field(default_factory=list)
    blank_outcomes: int = 0
    scoring_time: str = ""
    tier_gates: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.lead_ids)

    def subset(self, indices: np.ndarray) -> ScoredLeads:
        """Return the leads at `indices`, keeping the model's rules and cutoffs."""
        chosen = [int(i) for i in indices]
        return ScoredLeads(
            source=self.source,
            model_name=self.model_name,
            lead_ids=[self.lead_ids[i] for i in chosen],
            rows=[self.rows[i] for i in chosen],
            scores=self.scores[chosen],
            tiers=[self.tiers[i] for i in chosen],
            outcomes=self.outcomes[chosen],
            rules=self.rules,
            fired=self.fired[chosen],
            points=self.points[chosen],
            hits=[self.hits[i] for i in chosen],
            hot_cutoff=self.hot_cutoff,
            warm_cutoff=self.warm_cutoff,
            timestamps=self.timestamps[chosen] if self.timestamps is not None else None,
            scoring_time=self.scoring_time,
            tier_gates=self.tier_gates,
        )


# --- Evaluation --------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrateOptions:
    """Settings of one calibration run (the CLI's options)."""

    hot_per_day: float | None = None
    leads_per_day: float | None = None
    min_lift: float = 2.0
    min_leads: int = 30
    min_bookings: int = 5
    l2: float = DEFAULT_L2
    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = DEFAULT_SEED

    def lift_policy(self) -> stats.LiftPolicy:
        return stats.LiftPolicy(
            hot_lift=self.min_lift,
            hot_lower_lift=0.75 * self.min_lift,
            min_leads=self.min_leads,
            min_bookings=self.min_bookings,
        )


@dataclass(frozen=True)
class SuggestedWeight:
    """One fitted weight: a rule, or one points level of an answer or range rule.

    `level` is the current points of the options and bands this weight
    replaces, or None when the weight scales every points value of the rule
    (events, absences, tags). `current_points` and `suggested_points` are the
    points now and as fitted for a full hit.
    """

    rule: RuleInfo
    level: float | None
    coefficient: float
    current_points: float
    suggested_points: int
    fired_in_training: int

    @property
    def factor(self) -> float:
        """Suggested over current points: the multiplier for a rule fitted as one weight."""
        return self.suggested_points / self.current_points if self.current_points else 0.0


@dataclass(frozen=True)
class WeightFit:
    """Points fitted by logistic regression on rule hits, judged on held-out leads."""

    split: str
    train_size: int
    test_size: int
    l2: float
    converged: bool
    weights: tuple[SuggestedWeight, ...]
    fitted_test_auc: float | None
    current_test_auc: float | None
    points_budget: float
    note: str = ""
    test_indices: np.ndarray | None = None
    intercept: float = 0.0
    base_points: int = 0


@dataclass(frozen=True)
class TimeCheck:
    """Cutoffs chosen on older leads, then judged on newer ones."""

    boundary: datetime
    train_size: int
    test_size: int
    recommendation: stats.Recommendation
    test_hot: stats.Proportion | None
    test_warm: stats.Proportion | None
    test_base_rate: float
    test_auc: float | None


@dataclass
class CalibrationReport:
    """Everything the terminal and HTML reports show for one calibration run."""

    source: str
    model_name: str
    outcome_column: str
    lead_count: int
    booked: int
    base_rate: float
    auc: float
    roc: list[tuple[float, float]]
    bands: tuple[stats.ScoreBand, ...]
    cutoffs: tuple[stats.CutoffStats, ...]
    current_hot: int
    current_warm: int
    current_hot_stats: stats.CutoffStats
    current_warm_stats: stats.Proportion
    lift: stats.Recommendation
    capacity: stats.Recommendation | None
    capacity_note: str
    leads_per_day: float | None
    rule_evidence: tuple[stats.RuleEvidence, ...]
    rules: list[RuleInfo]
    weight_fit: WeightFit | None
    time_check: TimeCheck | None
    warnings: list[str] = field(default_factory=list)
    min_leads: int = 30
    candidate_test_auc: float | None = None
    scoring_time: str = ""
    tier_gates: tuple[str, ...] = ()
    candidate_limits: str = ""
    clamp_warning: str = ""


def evaluate(
    scored: ScoredLeads, outcome_column: str, options: CalibrateOptions | None = None
) -> CalibrationReport:
    """Compare scores with outcomes and recommend cutoffs and points.

    Raises `CalibrationInputError` when every lead has the same outcome.
    """
    options = options or CalibrateOptions()
    scores, outcomes = scored.scores, scored.outcomes
    try:
        stats.require_both_outcomes(outcomes)
    except stats.NoOutcomeVariation as exc:
        raise CalibrationInputError(
            f"{scored.source}: {exc}. Calibration needs leads that booked and leads that did "
            f"not; check that {outcome_column!r} is the outcome column and that the export "
            "covers enough time for bookings to happen."
        ) from exc

    warnings = _input_warnings(scored)
    booked = int(outcomes.sum())
    if booked < options.min_bookings or len(scored) - booked < options.min_bookings:
        warnings.append(
            f"only {booked} bookings and {len(scored) - booked} non-bookings: every estimate "
            "below is too thin to act on"
        )

    lift = stats.recommend_by_lift(scores, outcomes, options.lift_policy())
    leads_per_day = options.leads_per_day or _arrival_rate(scored)
    capacity, capacity_note = _capacity(scores, outcomes, options, leads_per_day)

    cutoffs = stats.cutoff_table(scores, outcomes)
    # The current rows count the tiers the model really assigned, so leads
    # stopped by a tier gate (hot needs intent ≥ 40) are not counted as hot.
    current_hot = _tier_rate(scored, "hot")
    current_hot_stats = stats.CutoffStats(
        scored.hot_cutoff,
        current_hot,
        current_hot.total / len(scored),
        current_hot.booked / booked,
    )
    current_warm_stats = _tier_rate(scored, "warm")

    report = CalibrationReport(
        source=scored.source,
        model_name=scored.model_name,
        outcome_column=outcome_column,
        lead_count=len(scored),
        booked=booked,
        base_rate=float(outcomes.mean()),
        auc=stats.roc_auc(scores, outcomes),
        roc=stats.roc_points(scores, outcomes),
        bands=stats.score_bands(scores, outcomes),
        cutoffs=cutoffs,
        current_hot=scored.hot_cutoff,
        current_warm=scored.warm_cutoff,
        current_hot_stats=current_hot_stats,
        current_warm_stats=current_warm_stats,
        lift=lift,
        capacity=capacity,
        capacity_note=capacity_note,
        leads_per_day=leads_per_day,
        rule_evidence=stats.rule_evidence(
            [rule.rule_id for rule in scored.rules], scored.fired, outcomes, options.min_leads
        ),
        rules=scored.rules,
        weight_fit=fit_weights(scored, options),
        time_check=_time_check(scored, options),
        warnings=warnings,
        min_leads=options.min_leads,
        scoring_time=scored.scoring_time,
        tier_gates=scored.tier_gates,
    )
    log.info(
        "calibration_evaluated",
        leads=report.lead_count,
        booked=booked,
        auc=round(report.auc, 4),
        hot=lift.hot.cutoff,
        warm=lift.warm.cutoff,
    )
    return report


def _input_warnings(scored: ScoredLeads) -> list[str]:
    warnings = []
    if scored.skipped:
        shown = ", ".join(str(row) for row, _ in scored.skipped[:MAX_EXAMPLE_ROWS])
        warnings.append(
            f"{len(scored.skipped)} rows could not be read as leads and were left out "
            f"(data rows {shown}); the first reason: {scored.skipped[0][1]}"
        )
    if scored.blank_outcomes:
        warnings.append(f"{scored.blank_outcomes} rows have a blank outcome and were left out")
    if scored.timestamps is not None:
        undated = int(np.isnan(scored.timestamps).sum())
        if undated:
            warnings.append(
                f"{undated} leads have no readable date; they are left out of the "
                "time-ordered check and the arrival rate"
            )
    return warnings


def _arrival_rate(scored: ScoredLeads) -> float | None:
    """Return new leads per day over the span of the date column, or None without dates."""
    if scored.timestamps is None:
        return None
    dated = scored.timestamps[~np.isnan(scored.timestamps)]
    if dated.size < 2:
        return None
    span_days = (dated.max() - dated.min()) / SECONDS_PER_DAY
    if span_days <= 0:
        return None
    # The span runs from the first to the last lead, so count the first day too.
    return float(dated.size / (span_days + 1))


def _capacity(
    scores: np.ndarray,
    outcomes: np.ndarray,
    options: CalibrateOptions,
    leads_per_day: float | None,
) -> tuple[stats.Recommendation | None, str]:
    if options.hot_per_day is None:
        return None, "no staff capacity given (use --hot-per-day N)"
    if leads_per_day is None:
        return None, (
            "--hot-per-day needs the lead arrival rate: pass --date-column with the lead's "
            "creation date, or --leads-per-day"
        )
    policy = stats.CapacityPolicy(options.hot_per_day, leads_per_day, options.lift_policy())
    return stats.recommend_by_capacity(scores, outcomes, policy), ""


@dataclass(frozen=True)
class _Feature:
    column: int
    level: float | None
    current_points: float


def _features(scored: ScoredLeads) -> tuple[list[_Feature], np.ndarray]:
    """Build the regression features: one per points level, or one per rule.

    An answer or range rule gets one 0/1 feature per distinct non-zero points
    value it gave, so each option or band can get its own weight. Other rules
    get one feature, the points given divided by the largest points given,
    so a decayed event counts as a fraction of a full hit.
    """
    features: list[_Feature] = []
    columns: list[np.ndarray] = []
    for j, rule in enumerate(scored.rules):
        given = scored.points[:, j]
        if rule.points == 0:
            continue
        if rule.levels is not None:
            for value in sorted(set(given[given != 0].tolist())):
                features.append(_Feature(j, float(value), float(value)))
                columns.append((given == value).astype(float))
        else:
            features.append(_Feature(j, None, rule.points))
            columns.append(given / rule.points)
    matrix = np.column_stack(columns) if columns else np.zeros((len(scored), 0))
    return features, matrix


def fit_weights(scored: ScoredLeads, options: CalibrateOptions) -> WeightFit | None:
    """Fit rule points to the outcomes on older (or random) leads and judge them on the rest.

    The fitted log-odds, intercept included, are mapped onto scores 1–99 (see
    `_spread_to_score_range`): the weights become rule points and the
    intercept becomes the model's base points. When every training lead has
    the same fitted log-odds, the weights are instead scaled so that the
    largest points of each rule add up to the same total as now, with no base
    points. Returns None when no rule gave points to any lead.
    """
    features, matrix = _features(scored)
    if not features:
        return None
    train, test, split = _split(scored, options)
    train_outcomes = scored.outcomes[train]
    test_outcomes = scored.outcomes[test]
    budget = _points_budget([(f.column, f.current_points) for f in features])
    if train_outcomes.min() == train_outcomes.max():
        return WeightFit(
            split,
            len(train),
            len(test),
            options.l2,
            False,
            (),
            None,
            None,
            budget,
            note="the training leads all have the same outcome, so no fit is possible",
        )

    fit = stats.fit_logistic(matrix[train], train_outcomes, l2=options.l2)
    fitted_budget = _points_budget(
        [(f.column, float(c)) for f, c in zip(features, fit.coefficients, strict=True)]
    )
    multiplier = budget / fitted_budget if fitted_budget else 0.0
    base_points = 0
    spread = _spread_to_score_range(fit, matrix[train])
    if spread is not None:
        multiplier, base_points = spread
    weights = []
    for position, (feature, coefficient) in enumerate(zip(features, fit.coefficients, strict=True)):
        suggested = float(coefficient) * multiplier
        weights.append(
            SuggestedWeight(
                rule=scored.rules[feature.column],
                level=feature.level,
                coefficient=float(coefficient),
                current_points=feature.current_points,
                suggested_points=round(suggested),
                fired_in_training=int((matrix[train, position] != 0).sum()),
            )
        )

    note = ""
    fitted_auc = current_auc = None
    if test_outcomes.min() != test_outcomes.max():
        fitted_auc = stats.roc_auc(fit.log_odds(matrix[test]), test_outcomes)
        current_auc = stats.roc_auc(scored.scores[test], test_outcomes)
    else:
        note = "the held-out leads all have the same outcome, so no AUC can be computed"
    if not fit.converged:
        note = f"the fit did not converge in {fit.iterations} iterations; treat the points as rough"
    return WeightFit(
        split=split,
        train_size=len(train),
        test_size=len(test),
        l2=options.l2,
        converged=fit.converged,
        weights=tuple(weights),
        fitted_test_auc=fitted_auc,
        current_test_auc=current_auc,
        points_budget=budget,
        note=note,
        test_indices=test,
        intercept=fit.intercept,
        base_points=base_points,
    )


def _spread_to_score_range(
    fit: stats.LogisticFit, train_matrix: np.ndarray
) -> tuple[float, int] | None:
    """Return (points per log-odds unit, base points) that spread scores over 1–99.

    The fitted log-odds of the 1st percentile training lead map onto score 1
    and those of the 99th onto 99, so only the extreme 1% at each end are
    clipped by the engine's 1–100 limit. The base points are the intercept in
    points plus the shift that puts the 1st percentile lead at 1. Returns None
    when those two percentiles are equal, because then there is nothing to spread.
    """
    log_odds = fit.log_odds(train_matrix)
    low, high = np.quantile(log_odds, [0.01, 0.99])
    if high <= low:
        return None
    multiplier = (SCORE_SPREAD_HIGH - SCORE_SPREAD_LOW) / (high - low)
    base_points = round(SCORE_SPREAD_LOW + (fit.intercept - low) * multiplier)
    return float(multiplier), base_points


def _points_budget(values: Sequence[tuple[int, float]]) -> float:
    """Return the sum over rules of each rule's largest absolute value."""
    largest: dict[int, float] = {}
    for column, value in values:
        largest[column] = max(largest.get(column, 0.0), abs(value))
    return float(sum(largest.values()))


def _split(scored: ScoredLeads, options: CalibrateOptions) -> tuple[np.ndarray, np.ndarray, str]:
    if scored.timestamps is not None and not np.isnan(scored.timestamps).all():
        dated = np.flatnonzero(~np.isnan(scored.timestamps))
        train, test = stats.time_split(scored.timestamps[dated], options.test_fraction)
        share = f"{options.test_fraction:.0%}"
        return dated[train], dated[test], f"by date: oldest leads to fit, newest {share} to judge"
    train, test = stats.random_split(len(scored), options.test_fraction, options.seed)
    return (
        train,
        test,
        (
            f"random: {1 - options.test_fraction:.0%} to fit, "
            f"{options.test_fraction:.0%} held out, seed {options.seed}"
        ),
    )


def _time_check(scored: ScoredLeads, options: CalibrateOptions) -> TimeCheck | None:
    """Choose cutoffs on the older leads and see how the newer leads in each tier booked."""
    if scored.timestamps is None:
        return None
    dated = np.flatnonzero(~np.isnan(scored.timestamps))
    if dated.size < 2 * options.min_leads:
        return None
    try:
        train, test = stats.time_split(scored.timestamps[dated], options.test_fraction)
    except stats.CalibrationError:
        return None
    train, test = dated[train], dated[test]
    try:
        recommendation = stats.recommend_by_lift(
            scored.scores[train], scored.outcomes[train], options.lift_policy()
        )
    except stats.NoOutcomeVariation:
        return None

    test_scores, test_outcomes = scored.scores[test], scored.outcomes[test]
    hot = recommendation.hot.cutoff
    warm = recommendation.warm.cutoff
    test_hot = test_warm = None
    if hot is not None:
        selected = test_scores >= hot
        test_hot = stats.Proportion(int(test_outcomes[selected].sum()), int(selected.sum()))
        if warm is not None:
            selected = (test_scores >= warm) & (test_scores < hot)
            test_warm = stats.Proportion(int(test_outcomes[selected].sum()), int(selected.sum()))
    test_auc = None
    if test_outcomes.min() != test_outcomes.max():
        test_auc = stats.roc_auc(test_scores, test_outcomes)
    boundary = datetime.fromtimestamp(float(scored.timestamps[train].max()), UTC)
    return TimeCheck(
        boundary=boundary,
        train_size=len(train),
        test_size=len(test),
        recommendation=recommendation,
        test_hot=test_hot,
        test_warm=test_warm,
        test_base_rate=float(test_outcomes.mean()),
        test_auc=test_auc,
    )


# --- Backtest ----------------------------------------------------------------------


@dataclass(frozen=True)
class TierChange:
    """A lead whose tier differs between the two models, with the rules that differ."""

    lead_id: str
    row: int
    baseline_score: int
    candidate_score: int
    baseline_tier: str
    candidate_tier: str
    outcome: int
    reasons: tuple[str, ...]


@dataclass
class BacktestReport:
    """Two models on the same leads."""

    source: str
    baseline_name: str
    candidate_name: str
    lead_count: int
    booked: int
    tiers: tuple[str, ...]
    migration: list[list[int]]
    baseline_auc: float
    candidate_auc: float
    baseline_hot: stats.Proportion
    candidate_hot: stats.Proportion
    baseline_tier_rates: dict[str, stats.Proportion]
    candidate_tier_rates: dict[str, stats.Proportion]
    leads_per_day: float | None
    changes: list[TierChange]
    changed_count: int
    scoring_time: str = ""


def backtest(
    baseline: ScoredLeads,
    candidate: ScoredLeads,
    outcome_column: str,
    *,
    leads_per_day: float | None = None,
    top: int = 20,
) -> BacktestReport:
    """Score the same leads with both models and report how tiers and ranking move."""
    if baseline.lead_ids != candidate.lead_ids:
        raise CalibrationInputError(
            "the two models did not score the same leads; they must read the same file with "
            "compatible mappings"
        )
    try:
        stats.require_both_outcomes(baseline.outcomes)
    except stats.NoOutcomeVariation as exc:
        raise CalibrationInputError(f"{baseline.source}: {exc}") from exc

    tiers = tuple(t for t in TIER_ORDER if t in set(baseline.tiers) | set(candidate.tiers))
    changes = []
    for i, lead_id in enumerate(baseline.lead_ids):
        if baseline.tiers[i] == candidate.tiers[i]:
            continue
        changes.append(
            TierChange(
                lead_id=lead_id,
                row=baseline.rows[i],
                baseline_score=int(baseline.scores[i]),
                candidate_score=int(candidate.scores[i]),
                baseline_tier=baseline.tiers[i],
                candidate_tier=candidate.tiers[i],
                outcome=int(baseline.outcomes[i]),
                reasons=_differing_rules(baseline.hits[i], candidate.hits[i]),
            )
        )
    changes.sort(
        key=lambda change: (
            -abs(_tier_rank(change.candidate_tier) - _tier_rank(change.baseline_tier)),
            -abs(change.candidate_score - change.baseline_score),
            change.row,
        )
    )
    return BacktestReport(
        source=baseline.source,
        baseline_name=baseline.model_name,
        candidate_name=candidate.model_name,
        lead_count=len(baseline),
        booked=int(baseline.outcomes.sum()),
        tiers=tiers,
        migration=stats.tier_migration(baseline.tiers, candidate.tiers, tiers),
        baseline_auc=stats.roc_auc(baseline.scores, baseline.outcomes),
        candidate_auc=stats.roc_auc(candidate.scores, candidate.outcomes),
        baseline_hot=_tier_rate(baseline, "hot"),
        candidate_hot=_tier_rate(candidate, "hot"),
        baseline_tier_rates={tier: _tier_rate(baseline, tier) for tier in tiers},
        candidate_tier_rates={tier: _tier_rate(candidate, tier) for tier in tiers},
        leads_per_day=leads_per_day or _arrival_rate(baseline),
        changes=changes[:top],
        changed_count=len(changes),
        scoring_time=baseline.scoring_time,
    )


def _tier_rank(tier: str) -> int:
    return len(TIER_ORDER) - TIER_ORDER.index(tier) if tier in TIER_ORDER else 0


def _tier_rate(scored: ScoredLeads, tier: str) -> stats.Proportion:
    selected = np.array([t == tier for t in scored.tiers], dtype=bool)
    return stats.Proportion(int(scored.outcomes[selected].sum()), int(selected.sum()))


def _differing_rules(baseline: Sequence[RuleHit], candidate: Sequence[RuleHit]) -> tuple[str, ...]:
    """Describe the rules that fired or scored differently under the two models."""
    before = {hit.rule_id: hit for hit in baseline}
    after = {hit.rule_id: hit for hit in candidate}
    reasons = []
    for rule_id in sorted(before.keys() | after.keys()):
        old, new = before.get(rule_id), after.get(rule_id)
        if old and new:
            if old.points != new.points:
                reasons.append(f"{rule_id}: {_signed(old.points)} → {_signed(new.points)}")
        elif new:
            reasons.append(f"{rule_id}: fires only in the candidate ({_signed(new.points)})")
        elif old:
            reasons.append(f"{rule_id}: fires only in the baseline ({_signed(old.points)})")
    return tuple(reasons)


def _signed(points: float) -> str:
    value = int(points) if float(points).is_integer() else round(points, 1)
    return f"+{value}" if points > 0 else str(value)


def describe_tier_counts(tiers: Sequence[str]) -> Mapping[str, int]:
    """Return the number of leads in each tier, in urgency order."""
    counts = Counter(tiers)
    return {tier: counts[tier] for tier in TIER_ORDER if counts[tier]}


# --- Loading ---------------------------------------------------------------------


def find_column(header: Sequence[str], name: str) -> int | None:
    """Return the index of column `name` in `header`, matched like mapping names."""
    found = find_source([name], header)
    return header.index(found) if found is not None else None


def check_leakage(model: ScoringModel, outcome_column: str) -> None:
    """Raise `CalibrationInputError` if the model's mapping reads a post-outcome column.

    Post-outcome columns are those in `[mapping] post_outcome` and the outcome
    column itself.
    """
    reads = stats.post_outcome_reads(model.mapping, extra_columns=[outcome_column])
    reads += _rules_reading_post_outcome(model, outcome_column)
    if reads:
        raise CalibrationInputError(str(stats.PostOutcomeColumnError(reads)))


def _rules_reading_post_outcome(model: ScoringModel, outcome_column: str) -> list[tuple[str, str]]:
    """Return (rule, field) for rules whose field key is itself a post-outcome column name."""
    forbidden = {
        normalize_source_name(name) for name in (*model.mapping.post_outcome, outcome_column)
    }
    reads = []
    for part, section in model.parts():
        for rule in section.rules:
            for key in ("field", "treatment_field"):
                value = getattr(rule, key, None)
                if value and normalize_source_name(value) in forbidden:
                    reads.append((f"{part.value}.rules {rule.id!r}", value))
    for rule in model.disqualifiers:
        if rule.field and normalize_source_name(rule.field) in forbidden:
            reads.append((f"disqualifier {rule.id!r}", rule.field))
    return reads


def load_scored_leads(
    path: str | Path,
    model: ScoringModel,
    outcome_column: str,
    *,
    date_column: str | None = None,
    model_name: str | None = None,
    now: datetime | None = None,
    score_at: str = SCORE_AT_LEAD,
) -> ScoredLeads:
    """Read a spreadsheet with an outcome column and score every lead with `model`.

    With `score_at="lead"` each lead is scored as of `lead_scoring_time`, so
    the result does not depend on when the export is calibrated; with
    `score_at="now"` every lead is scored as of `now`. `now` defaults to the
    current time. Rows with a blank outcome are left out and counted; rows
    the reader skips are kept in `skipped`. Raises `CalibrationInputError`
    for a missing outcome or date column, unrecognised outcome values, or a
    mapping that reads a post-outcome column.
    """
    from scoring.engine import score as score_lead

    path_text = str(path)
    check_leakage(model, outcome_column)
    source = SpreadsheetSource(path, model.mapping)
    header = list(source.header)
    outcome_index = find_column(header, outcome_column)
    if outcome_index is None:
        raise CalibrationInputError(
            missing_column_message(path_text, "--outcome", outcome_column, header)
        )
    _check_outcome_not_mapped(source, outcome_index, path_text)
    date_index = None
    if date_column is not None:
        date_index = find_column(header, date_column)
        if date_index is None:
            raise CalibrationInputError(
                missing_column_message(path_text, "--date-column", date_column, header)
            )

    if score_at not in SCORE_AT_CHOICES:
        raise ValueError(f"score_at must be one of {SCORE_AT_CHOICES}, got {score_at!r}")
    now = now or datetime.now(UTC)
    undated = 0
    reader = OutcomeReader(header[outcome_index])
    rule_infos = model.rules()
    rule_ids = [rule.id for rule in rule_infos]
    rule_position = {rule_id: j for j, rule_id in enumerate(rule_ids)}

    lead_ids: list[str] = []
    rows: list[int] = []
    scores: list[int] = []
    tiers: list[str] = []
    outcomes: list[int] = []
    stamps: list[float] = []
    points_rows: list[np.ndarray] = []
    hits: list[tuple[RuleHit, ...]] = []
    skipped: list[tuple[int | None, str]] = []
    for record in source.iter_records():
        if isinstance(record, SkippedRecord):
            if record.reason != "row is blank":
                skipped.append((record.row, record.reason))
            continue
        row = record.source_row or 0
        cells = source.rows[row - 1]
        outcome = reader.read(cells[outcome_index] if outcome_index < len(cells) else None, row)
        if outcome is None:
            continue
        moment = now
        if score_at == SCORE_AT_LEAD:
            own_time = lead_scoring_time(record.lead, now)
            if own_time is None:
                undated += 1
            moment = own_time or now
        result = score_lead(record.lead, model, moment)
        given = np.zeros(len(rule_ids))
        for hit in result.hits:
            if hit.rule_id in rule_position:
                given[rule_position[hit.rule_id]] += hit.points
        lead_ids.append(record.id)
        rows.append(row)
        scores.append(result.score)
        tiers.append(result.tier.value)
        outcomes.append(outcome)
        points_rows.append(given)
        hits.append(result.hits)
        if date_index is not None:
            stamps.append(_timestamp(cells[date_index] if date_index < len(cells) else None))
    reader.raise_if_unrecognised(path_text)

    points = np.vstack(points_rows) if points_rows else np.zeros((0, len(rule_ids)))
    levels = _rule_levels(model)
    infos = [
        RuleInfo(
            rule_id=rule.id,
            label=rule.label,
            part=str(rule.part),
            points=_extreme(points[:, j]) if len(points) else 0.0,
            levels=levels.get(rule.id),
        )
        for j, rule in enumerate(rule_infos)
    ]
    log.info(
        "calibration_input_loaded",
        path=path_text,
        leads=len(lead_ids),
        skipped=len(skipped),
        blank_outcomes=len(reader.blank_rows),
    )
    return ScoredLeads(
        source=path_text,
        model_name=model_name or model.name,
        lead_ids=lead_ids,
        rows=rows,
        scores=np.asarray(scores, dtype=int),
        tiers=tiers,
        outcomes=np.asarray(outcomes, dtype=int),
        rules=infos,
        fired=points != 0,
        points=points,
        hits=hits,
        hot_cutoff=model.tiers.hot,
        warm_cutoff=model.tiers.warm,
        timestamps=np.asarray(stamps, dtype=float) if date_index is not None else None,
        skipped=skipped,
        blank_outcomes=len(reader.blank_rows),
        scoring_time=describe_scoring_time(score_at, now, undated),
        tier_gates=tier_gates(model),
    )


def describe_tier_gates(gates: Sequence[str]) -> str:
    """Return one sentence saying whether the cutoff rows include the model's tier gates."""
    if not gates:
        return (
            "The model has no fit or intent minimums for its tiers, so the current and "
            "recommended cutoffs both select leads by score alone."
        )
    return (
        f"The current rows count the tiers the model assigns, gates included "
        f"({', '.join(gates)}). Recommended cutoffs select leads by score alone and do not "
        "assume the gates, which would make fewer leads hot or warm."
    )


def tier_gates(model: ScoringModel) -> tuple[str, ...]:
    """Describe the model's fit and intent minimums per tier, such as `hot needs intent ≥ 40`."""
    tiers = model.tiers
    gates = []
    for tier in ("hot", "warm"):
        for part in ("fit", "intent"):
            minimum = getattr(tiers, f"{tier}_min_{part}")
            if minimum:
                gates.append(f"{tier} needs {part} ≥ {minimum}")
    return tuple(gates)


def _check_outcome_not_mapped(source: SpreadsheetSource, outcome_index: int, path: str) -> None:
    plan = source.plan
    read = [
        *(f"mapping.{fact}" for fact, index in plan.contact.items() if index == outcome_index),
        *(
            f"mapping.answers.{key}"
            for key, index in plan.answers.items()
            if index == outcome_index
        ),
        *(
            f"mapping.attributes.{key}"
            for key, index in plan.attributes.items()
            if index == outcome_index
        ),
        *(
            f"mapping.activities.{kind.value}.{part}"
            for kind, columns in plan.activities.items()
            for part, index in columns.items()
            if index == outcome_index
        ),
    ]
    if read:
        column = source.header[outcome_index]
        raise CalibrationInputError(
            f"{path}: the model reads the outcome column {column!r} through "
            f"{', '.join(read)}; a score that reads the outcome cannot be judged against it. "
            "Remove the column from the model's [mapping]."
        )


def _rule_levels(model: ScoringModel) -> dict[str, tuple[float, ...]]:
    """Return the distinct non-zero points of each answer (best option) and range rule."""
    levels = {}
    for _, section in model.parts():
        for rule in section.rules:
            if rule.kind == "range":
                entries = [*rule.bands, *rule.options]
            elif rule.kind == "answer" and rule.mode == "best":
                entries = list(rule.options)
            else:
                continue
            values = sorted({float(entry.points) for entry in entries if entry.points != 0})
            levels[rule.id] = tuple(values)
    return levels


def _extreme(values: np.ndarray) -> float:
    """Return the value with the largest magnitude, keeping its sign (0 for no values)."""
    if values.size == 0:
        return 0.0
    position = int(np.argmax(np.abs(values)))
    return float(values[position])


def _timestamp(cell: object) -> float:
    """Return a date cell as POSIX seconds (UTC), or NaN when blank or unreadable."""
    try:
        value = parse_datetime(cell, UTC)
    except CellValueError:
        return float("nan")
    return value.timestamp() if value is not None else float("nan")


# --- Candidate model file --------------------------------------------------------

# Above this share of leads at score 1 or at 100, a candidate gets a warning.
CLAMP_WARNING_SHARE = 0.05


def describe_score_limits(scores: np.ndarray) -> tuple[str, str]:
    """Return a sentence with the shares of leads at score 1 and 100, and a warning or "".

    The engine clips totals to 1–100, so leads at either end tie and cannot
    be ranked or split by a cutoff. The warning is given when more than
    `CLAMP_WARNING_SHARE` of the leads sit at one end or the other.
    """
    count = len(scores)
    low = float((scores <= stats.SCORE_MIN).mean()) if count else 0.0
    high = float((scores >= stats.SCORE_MAX).mean()) if count else 0.0
    limits = (
        f"Rescored with the candidate, {low:.1%} of the {count} leads score 1 and "
        f"{high:.1%} score 100."
    )
    if low + high <= CLAMP_WARNING_SHARE:
        return limits, ""
    fixes = []
    if low > 0:
        fixes.append("raise `base_points` in the candidate to lift the leads at 1")
    if high > 0:
        fixes.append("lower it to bring down the leads at 100")
    warning = (
        f"{low + high:.1%} of the leads sit at the 1 or 100 limit, above "
        f"{CLAMP_WARNING_SHARE:.0%}. Leads at a limit tie: the score cannot rank them and no "
        f"cutoff can split them. To fix it, {' or '.join(fixes)}, or add rules that tell these "
        "leads apart, then run `leadscore calibrate` on the candidate again."
    )
    return limits, warning


def candidate_model_text(
    model_text: str, weights: Sequence[SuggestedWeight], base_points: int | None = None
) -> str:
    """Return the model TOML with fitted points in place of the current ones.

    Comments and layout are kept (tomlkit edits the document in place).
    Options and bands of an answer or range rule get the fitted points of
    their level. Other rules have `points` and `cap` multiplied by the rule's
    factor. Points are rounded to whole numbers. `base_points`, unless None,
    replaces the top-level `base_points`, which is added with a comment when
    the file has none and the value is not 0.
    """
    document = tomlkit.parse(model_text)
    by_rule: dict[str, list[SuggestedWeight]] = {}
    for weight in weights:
        by_rule.setdefault(weight.rule.rule_id, []).append(weight)
    for part in ("fit", "intent"):
        section = document.get(part)
        if section is None:
            continue
        for rule in section.get("rules", []):
            rule_weights = by_rule.get(str(rule.get("id")))
            if rule_weights:
                _replace_points(rule, rule_weights)
    if base_points is not None:
        _set_base_points(document, base_points)
    header = tomlkit.comment(
        "Candidate points fitted to booking outcomes by `leadscore calibrate`. "
        "Compare with `leadscore backtest` before using it."
    )
    document.body.insert(0, (None, header))
    return tomlkit.dumps(document)


def _replace_points(rule: Any, weights: Sequence[SuggestedWeight]) -> None:
    levels = {
        weight.level: weight.suggested_points for weight in weights if weight.level is not None
    }
    if levels:
        # NOTE: an option or band no lead in the data matched keeps its current
        # points, because there is no evidence to fit it.
        for key in ("options", "bands"):
            for entry in rule.get(key, []):
                current = float(entry.get("points", 0))
                if current in levels:
                    entry["points"] = levels[current]
        return
    factor = weights[0].factor
    if "points" in rule:
        rule["points"] = round(float(rule["points"]) * factor)
    if "cap" in rule:
        rule["cap"] = max(1, round(float(rule["cap"]) * abs(factor)))


BASE_POINTS_COMMENT = (
    "Points every lead starts with, before the rules below add or take away",
    "points. `leadscore calibrate` set this from your bookings. The score is",
    "still kept between 1 and 100.",
)


def _set_base_points(document: tomlkit.TOMLDocument, points: int) -> None:
    """Set the top-level `base_points`, adding it with an explaining comment when missing."""
    if "base_points" in document:
        # Assigning keeps the comment above the key.
        document["base_points"] = points
        return
    if points == 0:
        return
    # tomlkit puts a new plain key after the last top-level key, before the
    # first table, but would put a new comment at the end of the file.
    document.add("base_points", points)
    position = next(
        index
        for index, (key, _) in enumerate(document.body)
        if key is not None and key.key == "base_points"
    )
    lines = [tomlkit.ws("\n"), *(tomlkit.comment(line) for line in BASE_POINTS_COMMENT)]
    # NOTE: inserting into `body` leaves tomlkit's key index stale, so this
    # must be the document's last change before it is written out.
    for offset, item in enumerate(lines):
        document.body.insert(position + offset, (None, item))

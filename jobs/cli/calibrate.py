"""`leadscore calibrate` and `leadscore backtest`: judge models against real bookings.

Exit codes: 0 when the report was produced (estimates that are too thin are
stated in it), 2 when the input, a model or an option is invalid, or the
outcomes cannot support a comparison (the message names the fix).
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectors.errors import InputFileError
from jobs.cli.options import UsageProblem, load_model, parse_now

EXIT_INVALID_INPUT = 2

InputArg = Annotated[
    Path,
    typer.Argument(
        help="CSV or XLSX file of leads with their answers and an outcome column.",
        show_default=False,
    ),
]
OutcomeOption = Annotated[
    str,
    typer.Option(
        "--outcome",
        help="Column with whether the lead booked: 1/0, yes/no, true/false, Booked, Won, "
        "Showed (booked) or Lost, No show, Not booked (not booked). Blank cells are left out.",
        show_default=False,
    ),
]
ReportOption = Annotated[
    Path | None,
    typer.Option("--report", help="Write a self-contained HTML report with charts to this file."),
]
DateOption = Annotated[
    str | None,
    typer.Option(
        "--date-column",
        help="Column with each lead's creation date. Turns on the time-ordered check (cutoffs "
        "chosen on older leads, judged on newer ones) and gives the lead arrival rate.",
    ),
]
BacktestDateOption = Annotated[
    str | None,
    typer.Option(
        "--date-column",
        help="Column with each lead's creation date. Gives the lead arrival rate for hot "
        "leads per day.",
    ),
]
LeadsPerDayOption = Annotated[
    float | None,
    typer.Option(
        "--leads-per-day",
        help="New leads per day, for hot leads per day. Default: from --date-column.",
        min=0.0,
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Latest ISO 8601 time at which time-based rules (decay, no reply in N days) are "
        "judged. Default: the current time.",
    ),
]


class ScoreAt(StrEnum):
    """Values of `--score-at`; they match `jobs.calibrate.SCORE_AT_CHOICES`."""

    LEAD = "lead"
    NOW = "now"


ScoreAtOption = Annotated[
    ScoreAt,
    typer.Option(
        "--score-at",
        help="When to judge time-based rules: 'lead' scores each lead as of its latest date "
        "(created date or last activity, capped at --now), which is what the worker saw when "
        "the lead was last active; 'now' scores every lead as of --now.",
        case_sensitive=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `calibrate` and `backtest` commands to the `leadscore` application."""
    app.command("calibrate")(calibrate_command)
    app.command("backtest")(backtest_command)


def calibrate_command(
    input_path: InputArg,
    outcome: OutcomeOption,
    model_path: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Model TOML file. Default: the built-in med spa model."),
    ] = None,
    report_path: ReportOption = None,
    date_column: DateOption = None,
    hot_per_day: Annotated[
        float | None,
        typer.Option(
            "--hot-per-day",
            help="Hot leads staff can call per day; adds a cutoff that fits this capacity.",
            min=0.0,
        ),
    ] = None,
    leads_per_day: LeadsPerDayOption = None,
    min_lift: Annotated[
        float,
        typer.Option(
            "--min-lift",
            help="Hot leads must book at this many times the base rate (lower bound of the "
            "95% interval at 0.75 times this).",
            min=1.0,
        ),
    ] = 2.0,
    min_leads: Annotated[
        int,
        typer.Option("--min-leads", help="Minimum leads a group needs to be judged.", min=1),
    ] = 30,
    write_model: Annotated[
        Path | None,
        typer.Option(
            "--write-model",
            help="Write a candidate model file with fitted points (a copy of --model with "
            "comments kept). The model in use is never changed.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the random split when there is no date column.")
    ] = 42,
    test_fraction: Annotated[
        float,
        typer.Option(
            "--test-fraction",
            help="Share of leads held out to judge the fitted points.",
            min=0.05,
            max=0.9,
        ),
    ] = 0.3,
    now: NowOption = None,
    score_at: ScoreAtOption = ScoreAt.LEAD,
) -> None:
    """Compare scores with real bookings and recommend tier cutoffs and points."""
    from jobs import calibrate as job
    from jobs.report_html import render_calibration

    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    _configure_logging()
    options = job.CalibrateOptions(
        hot_per_day=hot_per_day,
        leads_per_day=leads_per_day,
        min_lift=min_lift,
        min_leads=min_leads,
        seed=seed,
        test_fraction=test_fraction,
    )
    try:
        _check_positive("--hot-per-day", hot_per_day)
        _check_positive("--leads-per-day", leads_per_day)
        if write_model is not None and model_path is None:
            raise UsageProblem(
                "--write-model needs --model: the candidate is a copy of that file with new points"
            )
        moment = parse_now(now)
        model = load_model(model_path)
        scored = job.load_scored_leads(
            input_path,
            model,
            outcome,
            date_column=date_column,
            now=moment,
            score_at=score_at.value,
        )
        report = job.evaluate(scored, outcome, options)
        if write_model is not None and report.weight_fit is not None:
            _write_candidate(
                job,
                model_path,
                write_model,
                report,
                input_path,
                outcome,
                date_column,
                moment,
                score_at.value,
            )
    except (UsageProblem, InputFileError, job.CalibrationInputError) as problem:
        err.print(Text(f"Error: {problem}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None

    print_calibration(out, report)
    if write_model is not None:
        out.print(f"\nCandidate model written to {write_model}. {report.candidate_limits}")
        if report.clamp_warning:
            out.print(Text("Warning: ", style="yellow") + Text(report.clamp_warning))
        out.print("Compare it with:")
        out.print(
            f"  leadscore backtest {input_path} --model {write_model} --baseline {model_path} "
            f"--outcome {_quote(outcome)}"
        )
    if report_path is not None:
        _write_report(report_path, render_calibration(report), err)
        out.print(f"HTML report written to {report_path}")


def backtest_command(
    input_path: InputArg,
    outcome: OutcomeOption,
    candidate_path: Annotated[
        Path, typer.Option("--model", "-m", help="Candidate model TOML file.", show_default=False)
    ],
    baseline_path: Annotated[
        Path,
        typer.Option("--baseline", help="Current model TOML file.", show_default=False),
    ],
    report_path: ReportOption = None,
    date_column: BacktestDateOption = None,
    leads_per_day: LeadsPerDayOption = None,
    top: Annotated[
        int, typer.Option("--top", help="Leads whose tier changes most to list.", min=0)
    ] = 20,
    now: NowOption = None,
    score_at: ScoreAtOption = ScoreAt.LEAD,
) -> None:
    """Score the same leads with a candidate and the current model and compare them."""
    from jobs import calibrate as job
    from jobs.report_html import render_backtest

    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    _configure_logging()
    try:
        _check_positive("--leads-per-day", leads_per_day)
        moment = parse_now(now)
        baseline_model = load_model(baseline_path)
        candidate_model = load_model(candidate_path)
        baseline = job.load_scored_leads(
            input_path,
            baseline_model,
            outcome,
            date_column=date_column,
            now=moment,
            model_name=baseline_path.name,
            score_at=score_at.value,
        )
        candidate = job.load_scored_leads(
            input_path,
            candidate_model,
            outcome,
            date_column=date_column,
            now=moment,
            model_name=candidate_path.name,
            score_at=score_at.value,
        )
        report = job.backtest(baseline, candidate, outcome, leads_per_day=leads_per_day, top=top)
    except (UsageProblem, InputFileError, job.CalibrationInputError) as problem:
        err.print(Text(f"Error: {problem}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None

    print_backtest(out, report)
    if report_path is not None:
        _write_report(report_path, render_backtest(report), err)
        out.print(f"HTML report written to {report_path}")


# --- Helpers -------------------------------------------------------------------


def _configure_logging() -> None:
    from jobs.logging import configure_logging

    configure_logging(level="WARNING")


def _check_positive(option: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise UsageProblem(f"{option} must be above 0, got {value:g}")


def _quote(text: str) -> str:
    return f'"{text}"' if " " in text else text


def _write_candidate(
    job: Any,
    model_path: Path,
    target: Path,
    report: Any,
    input_path: Path,
    outcome: str,
    date_column: str | None,
    moment: datetime,
    score_at: str,
) -> None:
    """Write the candidate model and rescore the input with it.

    Records on `report` the candidate's held-out ROC AUC and how many leads it
    puts at the score limits 1 and 100, with a warning when there are too many.
    """
    from scoring import calibration as stats
    from scoring.model import ModelError, parse_model

    text = job.candidate_model_text(
        model_path.read_text(encoding="utf-8"),
        report.weight_fit.weights,
        base_points=report.weight_fit.base_points,
    )
    try:
        candidate = parse_model(text, source=str(target))
    except ModelError as exc:
        raise UsageProblem(
            f"the candidate model is not valid, so it was not written: {exc}"
        ) from None
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot write {target}: {exc.strerror}") from None

    rescored = job.load_scored_leads(
        input_path, candidate, outcome, date_column=date_column, now=moment, score_at=score_at
    )
    report.candidate_limits, report.clamp_warning = job.describe_score_limits(rescored.scores)
    test = report.weight_fit.test_indices
    if test is None:
        return
    held_out = rescored.subset(test)
    try:
        report.candidate_test_auc = stats.roc_auc(held_out.scores, held_out.outcomes)
    except stats.NoOutcomeVariation:
        report.candidate_test_auc = None


def _write_report(path: Path, html: str, err: Console) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        err.print(Text(f"Error: cannot write the report to {path}: {exc.strerror}", style="red"))
        raise typer.Exit(EXIT_INVALID_INPUT) from None


def _table(title: str) -> Table:
    """Return a Rich table without side borders, so the widest tables fit 80 columns."""
    return Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def _percent(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.1%}"


def _interval(outcome: Any) -> str:
    if outcome is None or outcome.total == 0:
        return "–"
    return f"{outcome.low:.1%} – {outcome.high:.1%}"


def _short_interval(outcome: Any) -> str:
    """Return the 95% interval as `26.2–31.2%`, for tables that are short of room."""
    if outcome is None or outcome.total == 0:
        return "–"
    return f"{outcome.low * 100:.1f}–{outcome.high:.1%}"


def _auc(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _signed(points: float) -> str:
    value = int(points) if float(points).is_integer() else round(points, 1)
    return f"+{value}" if points > 0 else str(value)


# --- Terminal output ---------------------------------------------------------------


def print_calibration(console: Console, report: Any) -> None:
    """Print the calibration report as Rich tables."""
    console.print(
        f"[bold]{report.lead_count}[/] leads with a known outcome, [bold]{report.booked}[/] "
        f"booked (base rate {_percent(report.base_rate)}). ROC AUC of the current score: "
        f"[bold]{report.auc:.3f}[/]."
    )
    console.print(report.scoring_time, markup=False)
    for warning in report.warnings:
        console.print(Text("Note: ", style="yellow") + Text(warning))

    bands = _table("Booking rate per score band")
    for column in ("band", "leads", "booked", "rate", "95% interval", ""):
        bands.add_column(column, justify="right")
    for band in report.bands:
        outcome = band.outcome
        thin = "too thin" if 0 < outcome.total < report.min_leads else ""
        bands.add_row(
            band.label,
            str(outcome.total),
            str(outcome.booked),
            _percent(outcome.rate) if outcome.total else "–",
            _interval(outcome),
            thin,
        )
    console.print(bands)

    captured = _table("Bookings captured at or above each cutoff")
    for column in ("cutoff", "leads", "share of leads", "share of bookings", "booking rate"):
        captured.add_column(column, justify="right")
    for row in report.cutoffs:
        if row.cutoff % 10 and row.cutoff not in (report.current_hot, report.current_warm):
            continue
        captured.add_row(
            str(row.cutoff),
            str(row.at_or_above.total),
            _percent(row.lead_share),
            _percent(row.booking_share),
            _percent(row.at_or_above.rate) if row.at_or_above.total else "–",
        )
    console.print(captured)
    _print_recommendations(console, report)
    _print_rules(console, report)
    _print_weights(console, report)
    _print_time_check(console, report)
    console.print(
        "Leakage: only evidence known before the outcome may be scored. Columns in the model's "
        "[mapping] post_outcome, and the outcome column, are rejected if the mapping reads them.",
        markup=False,
    )


def _print_recommendations(console: Console, report: Any) -> None:
    from jobs.calibrate import describe_tier_gates

    table = _table("Cutoffs")
    for column in ("tier", "cutoff", "leads", "booking rate", "95% interval"):
        table.add_column(column, justify="left" if column == "tier" else "right", no_wrap=True)
    hot = report.current_hot_stats.at_or_above
    warm = report.current_warm_stats
    table.add_row(
        "current hot",
        str(report.current_hot),
        str(hot.total),
        _percent(hot.rate) if hot.total else "–",
        _interval(hot),
    )
    table.add_row(
        "current warm",
        str(report.current_warm),
        str(warm.total),
        _percent(warm.rate) if warm.total else "–",
        _interval(warm),
    )
    reasons = []
    recommendations = [report.lift] + ([report.capacity] if report.capacity else [])
    for recommendation in recommendations:
        for name, choice in (("hot", recommendation.hot), ("warm", recommendation.warm)):
            selected = choice.selected
            label = f"{recommendation.policy} {name}"
            table.add_row(
                label,
                str(choice.cutoff) if choice.cutoff is not None else "none",
                str(selected.total) if selected else "–",
                _percent(selected.rate) if selected and selected.total else "–",
                _interval(selected),
            )
            reasons.append((label, choice.reason))
    console.print(table)
    # The reasons are long sentences, so they go below the table, where they
    # wrap at the terminal width instead of squeezing the number columns.
    for label, reason in reasons:
        console.print(Text(f"{label}: ", style="bold") + Text(reason))
    console.print(describe_tier_gates(report.tier_gates), markup=False)
    console.print(Text("Lift policy: ", style="bold") + Text(report.lift.statement))
    if report.capacity is not None:
        console.print(Text("Capacity policy: ", style="bold") + Text(report.capacity.statement))
    else:
        console.print(Text(f"Capacity policy not run: {report.capacity_note}."))


def _print_rules(console: Console, report: Any) -> None:
    table = _table("Evidence per rule (booking rate when the rule fired vs not)")
    table.add_column("rule", overflow="fold")
    for column in ("fired", "rate", "95% interval", "not fired", "rate", "lift", ""):
        table.add_column(column, justify="right", no_wrap=True)
    for item in report.rule_evidence:
        table.add_row(
            item.rule_id,
            f"{item.fired.booked}/{item.fired.total}",
            _percent(item.fired.rate) if item.fired.total else "–",
            _short_interval(item.fired),
            f"{item.not_fired.booked}/{item.not_fired.total}",
            _percent(item.not_fired.rate) if item.not_fired.total else "–",
            "–" if math.isnan(item.lift) else f"{item.lift:.2f}",
            "thin" if item.thin else "",
        )
    console.print(table)


def _print_weights(console: Console, report: Any) -> None:
    fit = report.weight_fit
    if fit is None:
        console.print("No rule gave points to any lead, so no points were fitted.")
        return
    table = _table(
        "Suggested points (logistic regression on rule hits; fired: training leads it fired for)"
    )
    table.add_column("rule", overflow="fold")
    table.add_column("level", no_wrap=True)
    for column in ("now", "fitted", "log-odds", "fired"):
        table.add_column(column, justify="right", no_wrap=True)
    for weight in fit.weights:
        table.add_row(
            weight.rule.rule_id,
            "whole rule" if weight.level is None else f"worth {_signed(weight.level)}",
            _signed(weight.current_points),
            _signed(weight.suggested_points),
            f"{weight.coefficient:.3f}",
            str(weight.fired_in_training),
        )
    console.print(table)
    console.print(
        f"Fitted on {fit.train_size} leads, judged on {fit.test_size} held-out leads "
        f"(split {fit.split}, L2 penalty {fit.l2:g}). Held-out ROC AUC: fitted weights "
        f"{_auc(fit.fitted_test_auc)}, current score {_auc(fit.current_test_auc)}"
        + (
            f", candidate model file {_auc(report.candidate_test_auc)}."
            if report.candidate_test_auc is not None
            else "."
        )
    )
    if fit.base_points:
        console.print(
            f"Base points {_signed(fit.base_points)}: every lead starts with these points. "
            f"They are the fitted intercept ({fit.intercept:.3f} log-odds) in points, shifted "
            "so the lowest 1% of training leads score 1."
        )
    if fit.note:
        console.print(Text("Note: ", style="yellow") + Text(fit.note))


def _print_time_check(console: Console, report: Any) -> None:
    check = report.time_check
    if check is None:
        return
    rec = check.recommendation
    hot_rate = check.test_hot.rate if check.test_hot and check.test_hot.total else None
    warm_rate = check.test_warm.rate if check.test_warm and check.test_warm.total else None
    console.print(
        f"Time-ordered check: cutoffs from the {check.train_size} leads up to "
        f"{check.boundary:%Y-%m-%d} (hot {rec.hot.cutoff}, warm {rec.warm.cutoff}); on the "
        f"{check.test_size} newer leads hot booked {_percent(hot_rate)} "
        f"and warm {_percent(warm_rate)} "
        f"(base rate {_percent(check.test_base_rate)}, ROC AUC {_auc(check.test_auc)})."
    )


def print_backtest(console: Console, report: Any) -> None:
    """Print the backtest report as Rich tables."""
    console.print(
        f"{report.lead_count} leads, {report.booked} booked. {report.changed_count} leads "
        "change tier."
    )
    console.print(report.scoring_time, markup=False)
    summary = _table("Models")
    for column in ("model", "ROC AUC", "hot leads", "hot booking rate", "hot per day"):
        summary.add_column(column, justify="left" if column == "model" else "right")
    for name, auc, hot in (
        (f"baseline {report.baseline_name}", report.baseline_auc, report.baseline_hot),
        (f"candidate {report.candidate_name}", report.candidate_auc, report.candidate_hot),
    ):
        per_day = (
            f"{hot.total / report.lead_count * report.leads_per_day:.1f}"
            if report.leads_per_day
            else "– (no dates)"
        )
        summary.add_row(
            name, f"{auc:.3f}", str(hot.total), _percent(hot.rate) if hot.total else "–", per_day
        )
    console.print(summary)

    matrix = _table("Tier migration (rows: baseline, columns: candidate)")
    matrix.add_column("")
    for tier in report.tiers:
        matrix.add_column(tier, justify="right")
    for tier, row in zip(report.tiers, report.migration, strict=True):
        matrix.add_row(tier, *(str(count) for count in row))
    console.print(matrix)
    _print_tier_rates(console, report)

    if report.changes:
        changes = _table("Leads whose tier changes most")
        changes.add_column("lead", overflow="fold")
        for column in ("row", "baseline", "candidate", "booked"):
            changes.add_column(column, no_wrap=True)
        changes.add_column("rules that differ")
        for change in report.changes:
            changes.add_row(
                change.lead_id,
                str(change.row),
                f"{change.baseline_score} {change.baseline_tier}",
                f"{change.candidate_score} {change.candidate_tier}",
                "yes" if change.outcome else "no",
                "\n".join(change.reasons) or "same rules, different tier cutoffs",
            )
        console.print(changes)


def _print_tier_rates(console: Console, report: Any) -> None:
    table = _table("Booking rate per tier")
    for column in ("tier", "baseline leads", "rate", "candidate leads", "rate"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for tier in report.tiers:
        baseline = report.baseline_tier_rates[tier]
        candidate = report.candidate_tier_rates[tier]
        table.add_row(
            tier,
            str(baseline.total),
            _percent(baseline.rate) if baseline.total else "–",
            str(candidate.total),
            _percent(candidate.rate) if candidate.total else "–",
        )
    console.print(table)

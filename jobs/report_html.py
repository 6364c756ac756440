"""Self-contained HTML reports for `leadscore calibrate` and `leadscore backtest`.

Each report is one HTML file with inline CSS and inline SVG charts drawn
here: no scripts, web fonts or external resources, so it opens offline and
can be mailed to the spa's owner as one attachment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape

from jobs.calibrate import BacktestReport, CalibrationReport, describe_tier_gates
from scoring.calibration import CutoffChoice, Proportion, Recommendation, RuleEvidence

CHART_WIDTH = 640
CHART_HEIGHT = 300
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 24
MARGIN_BOTTOM = 44

COLORS = {
    "bar": "#4a7ab5",
    "interval": "#1d2f4a",
    "base": "#c0392b",
    "bookings": "#2e8b57",
    "leads": "#8e8e8e",
    "current": "#7d3c98",
    "recommended": "#d35400",
    "fired": "#2e8b57",
    "not_fired": "#8e8e8e",
}

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 60rem; color: #1f2933; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d9dee4; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #d9dee4; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f2f4f7; }
td.text, th.text { text-align: left; }
.meta { color: #5b6773; font-size: 0.9rem; }
.warning { background: #fff4e5; border-left: 4px solid #e67e22; padding: 0.4rem 0.8rem; }
.policy { background: #f2f4f7; padding: 0.5rem 0.8rem; font-size: 0.9rem; }
.thin { color: #8e8e8e; }
svg text { font-size: 11px; fill: #1f2933; }
"""


# --- Formatting ----------------------------------------------------------------------


def _percent(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f}%"


def _interval(outcome: Proportion) -> str:
    if outcome.total == 0:
        return "–"
    low, high = outcome.interval
    return f"{_percent(low)} – {_percent(high)}"


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}f}"


def _cutoff(choice: CutoffChoice | None) -> str:
    if choice is None or choice.cutoff is None:
        return "none"
    return str(choice.cutoff)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """Return an HTML table; the first `text_columns` columns are left-aligned."""
    head = "".join(
        f'<th class="text">{escape(h)}</th>' if i < text_columns else f"<th>{escape(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="text">{escape(c)}</td>' if i < text_columns else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _page(title: str, body: str) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">Generated {generated} by leadscore.</p>'
        f"{body}</body></html>\n"
    )


# --- SVG charts ----------------------------------------------------------------------


class _Plot:
    """Maps data coordinates to SVG pixels inside the chart margins."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x_min, self.x_max = x_range
        self.y_min, self.y_max = y_range
        self.inner_width = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        self.inner_height = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        share = (value - self.x_min) / (self.x_max - self.x_min)
        return round(MARGIN_LEFT + share * self.inner_width, 2)

    def y(self, value: float) -> float:
        share = (value - self.y_min) / (self.y_max - self.y_min)
        return round(MARGIN_TOP + (1 - share) * self.inner_height, 2)

    def axes(
        self,
        x_label: str,
        y_label: str,
        y_ticks: Sequence[float],
        y_format: Callable[[float], str],
        x_ticks: Sequence[float] = (),
        x_format: Callable[[float], str] = str,
    ) -> str:
        bottom = self.y(self.y_min)
        right = CHART_WIDTH - MARGIN_RIGHT
        parts = [
            f'<line x1="{MARGIN_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#5b6773"/>',
            f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}" '
            'stroke="#5b6773"/>',
        ]
        for tick in y_ticks:
            parts.append(
                f'<line x1="{MARGIN_LEFT}" y1="{self.y(tick)}" x2="{right}" '
                f'y2="{self.y(tick)}" stroke="#eef0f3"/>'
                f'<text x="{MARGIN_LEFT - 6}" y="{self.y(tick) + 4}" text-anchor="end">'
                f"{escape(y_format(tick))}</text>"
            )
        for tick in x_ticks:
            parts.append(
                f'<text x="{self.x(tick)}" y="{bottom + 14}" text-anchor="middle">'
                f"{escape(x_format(tick))}</text>"
            )
        middle = MARGIN_TOP + self.inner_height / 2
        parts.append(
            f'<text x="{MARGIN_LEFT + self.inner_width / 2}" y="{CHART_HEIGHT - 6}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
            f'<text x="12" y="{middle}" text-anchor="middle" '
            f'transform="rotate(-90 12 {middle})">{escape(y_label)}</text>'
        )
        return "".join(parts)


def _svg(chart_id: str, title: str, content: str, height: int = CHART_HEIGHT) -> str:
    return (
        f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{CHART_WIDTH}" height="{height}" viewBox="0 0 {CHART_WIDTH} {height}">'
        f"<title>{escape(title)}</title>{content}</svg>"
    )


def _rate_ceiling(values: Sequence[float]) -> float:
    top = max([v for v in values if not math.isnan(v)] + [0.1])
    return min(1.0, math.ceil(top * 10) / 10)


def _rate_ticks(ceiling: float) -> list[float]:
    """Return round tick values from 0 to `ceiling`: every 10%, or every 5% up to 50%."""
    step = 0.1 if ceiling > 0.5 else 0.05
    return [round(step * index, 2) for index in range(round(ceiling / step) + 1)]


def band_chart(report: CalibrationReport) -> str:
    """Draw the booking rate per score band as bars with 95% interval whiskers."""
    bands = report.bands
    ceiling = _rate_ceiling([band.outcome.high for band in bands if band.outcome.total])
    plot = _Plot((0, len(bands)), (0, ceiling))
    ticks = _rate_ticks(ceiling)
    parts = [plot.axes("score band", "booking rate", ticks, lambda t: _percent(t, 0))]
    slot = plot.inner_width / len(bands)
    for index, band in enumerate(bands):
        centre = plot.x(index + 0.5)
        parts.append(
            f'<text x="{centre}" y="{plot.y(0) + 14}" text-anchor="middle">'
            f"{escape(band.label)}</text>"
        )
        outcome = band.outcome
        if outcome.total == 0:
            continue
        left = round(centre - slot * 0.35, 2)
        top = plot.y(outcome.rate)
        parts.append(
            f'<rect class="band" x="{left}" y="{top}" width="{round(slot * 0.7, 2)}" '
            f'height="{round(plot.y(0) - top, 2)}" fill="{COLORS["bar"]}">'
            f"<title>{escape(band.label)}: {outcome.booked} of {outcome.total} booked "
            f"({_percent(outcome.rate)}, 95% CI {_interval(outcome)})</title></rect>"
        )
        parts.append(
            f'<line x1="{centre}" y1="{plot.y(outcome.low)}" x2="{centre}" '
            f'y2="{plot.y(outcome.high)}" stroke="{COLORS["interval"]}" stroke-width="1.5"/>'
            f'<text x="{centre}" y="{plot.y(outcome.high) - 4}" text-anchor="middle">'
            f"n={outcome.total}</text>"
        )
    base_y = plot.y(report.base_rate)
    parts.append(
        f'<line x1="{MARGIN_LEFT}" y1="{base_y}" x2="{CHART_WIDTH - MARGIN_RIGHT}" y2="{base_y}" '
        f'stroke="{COLORS["base"]}" stroke-dasharray="5 4"/>'
        f'<text x="{MARGIN_LEFT + 4}" y="{MARGIN_TOP - 8}" fill="{COLORS["base"]}">'
        f"- - base rate {_percent(report.base_rate)}; whiskers: 95% interval</text>"
    )
    return _svg("band-chart", "Booking rate per score band", "".join(parts))


def _polyline(points: Sequence[tuple[float, float]], color: str, css_class: str) -> str:
    coordinates = " ".join(f"{x},{y}" for x, y in points)
    return (
        f'<polyline class="{css_class}" points="{coordinates}" fill="none" '
        f'stroke="{color}" stroke-width="2"/>'
    )


def _vertical_marker(plot: _Plot, value: int, label: str, color: str, row: int) -> str:
    x = plot.x(value)
    # Labels right of the middle are drawn to the left of their line so they stay inside.
    if value > 50:
        anchor, text_x = "end", x - 3
    else:
        anchor, text_x = "start", x + 3
    return (
        f'<line x1="{x}" y1="{MARGIN_TOP}" x2="{x}" y2="{plot.y(0)}" stroke="{color}" '
        f'stroke-dasharray="3 3"/>'
        f'<text x="{text_x}" y="{MARGIN_TOP + 10 + 13 * row}" fill="{color}" '
        f'text-anchor="{anchor}">{escape(label)}</text>'
    )


def capture_chart(report: CalibrationReport) -> str:
    """Draw the share of bookings and of leads at or above each cutoff, with cutoffs marked."""
    plot = _Plot((1, 100), (0, 1))
    ticks = [step / 5 for step in range(6)]
    parts = [
        plot.axes(
            "cutoff (score at or above)",
            "share",
            ticks,
            lambda t: _percent(t, 0),
            x_ticks=[1, *range(10, 101, 10)],
            x_format=lambda t: str(int(t)),
        )
    ]
    bookings = [(plot.x(row.cutoff), plot.y(row.booking_share)) for row in report.cutoffs]
    leads = [(plot.x(row.cutoff), plot.y(row.lead_share)) for row in report.cutoffs]
    parts.append(_polyline(bookings, COLORS["bookings"], "bookings-captured"))
    parts.append(_polyline(leads, COLORS["leads"], "leads-selected"))
    markers = [
        (report.current_hot, f"current hot {report.current_hot}", COLORS["current"]),
        (report.current_warm, f"current warm {report.current_warm}", COLORS["current"]),
    ]
    if report.lift.hot.cutoff is not None:
        markers.append(
            (report.lift.hot.cutoff, f"lift hot {report.lift.hot.cutoff}", COLORS["recommended"])
        )
    if report.lift.warm.cutoff is not None:
        markers.append(
            (report.lift.warm.cutoff, f"lift warm {report.lift.warm.cutoff}", COLORS["recommended"])
        )
    if report.capacity is not None and report.capacity.hot.cutoff is not None:
        cutoff = report.capacity.hot.cutoff
        markers.append((cutoff, f"capacity hot {cutoff}", COLORS["recommended"]))
    for row, (value, label, color) in enumerate(markers):
        parts.append(_vertical_marker(plot, value, label, color, row))
    # The curves fall from the top left to the bottom right, so the bottom left is free.
    parts.append(
        f'<text x="{MARGIN_LEFT + 8}" y="{plot.y(0.14)}" fill="{COLORS["bookings"]}">'
        "— share of bookings captured</text>"
        f'<text x="{MARGIN_LEFT + 8}" y="{plot.y(0.06)}" fill="{COLORS["leads"]}">'
        "— share of leads selected</text>"
    )
    return _svg("capture-chart", "Bookings captured at or above each cutoff", "".join(parts))


def roc_chart(
    points: Sequence[tuple[float, float]], auc: float, chart_id: str = "roc-chart"
) -> str:
    """Draw the ROC curve with the chance diagonal."""
    plot = _Plot((0, 1), (0, 1))
    ticks = [step / 5 for step in range(6)]
    parts = [
        plot.axes(
            "false positive rate (non-bookings at or above the cutoff)",
            "true positive rate (bookings captured)",
            ticks,
            lambda t: f"{t:.1f}",
            x_ticks=ticks,
            x_format=lambda t: f"{t:.1f}",
        )
    ]
    parts.append(
        f'<line x1="{plot.x(0)}" y1="{plot.y(0)}" x2="{plot.x(1)}" y2="{plot.y(1)}" '
        'stroke="#bbbbbb" stroke-dasharray="4 4"/>'
    )
    parts.append(_polyline([(plot.x(x), plot.y(y)) for x, y in points], COLORS["bar"], "roc-curve"))
    parts.append(f'<text x="{plot.x(0.6)}" y="{plot.y(0.2)}">ROC AUC {auc:.3f}</text>')
    return _svg(chart_id, f"ROC curve, AUC {auc:.3f}", "".join(parts))


def rule_chart(report: CalibrationReport) -> str:
    """Draw each rule's booking rate when fired and when not, with 95% intervals."""
    evidence = report.rule_evidence
    if not evidence:
        return ""
    row_height = 22
    height = MARGIN_TOP + row_height * len(evidence) + 40
    label_width = 200
    left = label_width + 10
    width = CHART_WIDTH - left - MARGIN_RIGHT
    ceiling = _rate_ceiling(
        [e.fired.high for e in evidence if e.fired.total]
        + [e.not_fired.high for e in evidence if e.not_fired.total]
    )

    def x(value: float) -> float:
        return round(left + value / ceiling * width, 2)

    parts = []
    for index, item in enumerate(evidence):
        y = MARGIN_TOP + row_height * index + row_height / 2
        label = item.rule_id if len(item.rule_id) <= 30 else item.rule_id[:29] + "…"
        parts.append(
            f'<text x="{label_width}" y="{y + 4}" text-anchor="end">{escape(label)}</text>'
        )
        for outcome, color, css_class, offset in (
            (item.fired, COLORS["fired"], "rule-fired", -4),
            (item.not_fired, COLORS["not_fired"], "rule-not-fired", 4),
        ):
            if outcome.total == 0:
                continue
            parts.append(
                f'<line x1="{x(outcome.low)}" y1="{y + offset}" x2="{x(outcome.high)}" '
                f'y2="{y + offset}" stroke="{color}" stroke-width="1.5"/>'
                f'<circle class="{css_class}" cx="{x(outcome.rate)}" cy="{y + offset}" r="3.5" '
                f'fill="{color}"><title>{escape(item.rule_id)}: {outcome.booked} of '
                f"{outcome.total} booked</title></circle>"
            )
    base_x = x(report.base_rate)
    bottom = MARGIN_TOP + row_height * len(evidence)
    parts.append(
        f'<line x1="{base_x}" y1="{MARGIN_TOP}" x2="{base_x}" y2="{bottom}" '
        f'stroke="{COLORS["base"]}" stroke-dasharray="5 4"/>'
        f'<line x1="{left}" y1="{bottom}" x2="{left + width}" y2="{bottom}" stroke="#5b6773"/>'
    )
    for step in range(6):
        tick = ceiling * step / 5
        parts.append(
            f'<text x="{x(tick)}" y="{bottom + 14}" text-anchor="middle">{_percent(tick, 0)}</text>'
        )
    parts.append(
        f'<text x="{left}" y="{bottom + 32}" fill="{COLORS["fired"]}">● rule fired</text>'
        f'<text x="{left + 110}" y="{bottom + 32}" fill="{COLORS["not_fired"]}">● not fired</text>'
        f'<text x="{left + 210}" y="{bottom + 32}" fill="{COLORS["base"]}">'
        f"-- base rate {_percent(report.base_rate)}</text>"
    )
    return _svg("rule-chart", "Booking rate with and without each rule", "".join(parts), height)


# --- Calibration report --------------------------------------------------------------


def render_calibration(report: CalibrationReport) -> str:
    """Return the calibration report as one self-contained HTML page."""
    sections = [
        _summary_section(report),
        _band_section(report),
        _ranking_section(report),
        _recommendation_section(report),
        _rule_section(report),
        _weight_section(report),
        _time_section(report),
        _leakage_section(report),
    ]
    return _page(f"Calibration: {report.model_name}", "".join(sections))


def _summary_section(report: CalibrationReport) -> str:
    parts = [
        f"<p>{report.lead_count} leads from <code>{escape(report.source)}</code> with a known "
        f"outcome in column <code>{escape(report.outcome_column)}</code>; {report.booked} booked "
        f"(base rate {_percent(report.base_rate)}). ROC AUC of the current score: "
        f"<strong>{report.auc:.3f}</strong>.</p>",
        f"<p>{escape(report.scoring_time)}</p>",
    ]
    parts.extend(f'<p class="warning">{escape(text)}</p>' for text in report.warnings)
    return "".join(parts)


def _band_section(report: CalibrationReport) -> str:
    rows = []
    for band in report.bands:
        outcome = band.outcome
        thin = 0 < outcome.total < report.min_leads
        rows.append(
            [
                band.label,
                str(outcome.total),
                str(outcome.booked),
                _percent(outcome.rate) if outcome.total else "–",
                _interval(outcome),
                "too thin" if thin else "",
            ]
        )
    table = _table(["band", "leads", "booked", "booking rate", "95% interval", ""], rows)
    return (
        "<h2>Booking rate per score band</h2>"
        f"{band_chart(report)}"
        f'<div id="band-table">{table}</div>'
        f'<p class="meta">Bands with fewer than {report.min_leads} leads are marked too thin; '
        "intervals are 95% Wilson score intervals.</p>"
    )


def _ranking_section(report: CalibrationReport) -> str:
    rows = []
    for row in report.cutoffs:
        if row.cutoff % 10 and row.cutoff not in (report.current_hot, report.current_warm):
            continue
        rows.append(
            [
                str(row.cutoff),
                str(row.at_or_above.total),
                _percent(row.lead_share),
                _percent(row.booking_share),
                _percent(row.at_or_above.rate) if row.at_or_above.total else "–",
                _interval(row.at_or_above),
            ]
        )
    table = _table(
        [
            "cutoff",
            "leads at or above",
            "share of leads",
            "share of bookings",
            "booking rate",
            "95% interval",
        ],
        rows,
    )
    return (
        "<h2>Ranking quality</h2>"
        f"<p>ROC AUC {report.auc:.3f}: the chance that a lead who booked scores higher than one "
        "who did not (ties count one half). 0.5 is a coin toss, 1.0 a perfect ranking.</p>"
        f"{roc_chart(report.roc, report.auc)}"
        f"{capture_chart(report)}"
        f'<div id="cutoff-table">{table}</div>'
    )


def _choice_row(name: str, choice: CutoffChoice) -> list[str]:
    selected = choice.selected
    return [
        name,
        _cutoff(choice),
        str(selected.total) if selected else "–",
        _percent(selected.rate) if selected and selected.total else "–",
        _interval(selected) if selected else "–",
        choice.reason,
    ]


def _recommendation_rows(recommendation: Recommendation) -> list[list[str]]:
    label = recommendation.policy
    return [
        _choice_row(f"{label}: hot", recommendation.hot),
        _choice_row(f"{label}: warm", recommendation.warm),
    ]


def _recommendation_section(report: CalibrationReport) -> str:
    hot = report.current_hot_stats.at_or_above
    warm = report.current_warm_stats
    rows = [
        [
            "current: hot",
            str(report.current_hot),
            str(hot.total),
            _percent(hot.rate) if hot.total else "–",
            _interval(hot),
            "tiers the model assigns",
        ],
        [
            "current: warm",
            str(report.current_warm),
            str(warm.total),
            _percent(warm.rate) if warm.total else "–",
            _interval(warm),
            "tiers the model assigns",
        ],
    ]
    rows += _recommendation_rows(report.lift)
    statements = [
        f'<p class="policy"><strong>Lift policy.</strong> {escape(report.lift.statement)}</p>'
    ]
    if report.capacity is not None:
        rows += _recommendation_rows(report.capacity)
        statements.append(
            f'<p class="policy"><strong>Capacity policy.</strong> '
            f"{escape(report.capacity.statement)}</p>"
        )
    else:
        statements.append(
            f'<p class="policy">Capacity policy not run: {escape(report.capacity_note)}.</p>'
        )
    table = _table(["tier", "cutoff", "leads", "booking rate", "95% interval", "why"], rows)
    return (
        "<h2>Recommended cutoffs</h2>"
        f'<div id="recommendation-table">{table}</div>'
        f"<p>{escape(describe_tier_gates(report.tier_gates))}</p>{''.join(statements)}"
        '<p class="meta">These are recommendations: the model file is not changed. Edit '
        "<code>[tiers]</code> in the model file to apply them.</p>"
    )


def _rule_section(report: CalibrationReport) -> str:
    labels = {rule.rule_id: rule for rule in report.rules}
    rows = []
    for item in report.rule_evidence:
        rule = labels.get(item.rule_id)
        rows.append(
            [
                item.rule_id,
                rule.label if rule else "",
                _signed(rule.points) if rule else "",
                f"{item.fired.booked}/{item.fired.total}",
                _percent(item.fired.rate) if item.fired.total else "–",
                _interval(item.fired),
                f"{item.not_fired.booked}/{item.not_fired.total}",
                _percent(item.not_fired.rate) if item.not_fired.total else "–",
                _number(item.lift, 2),
                _separation(item),
            ]
        )
    table = _table(
        [
            "rule",
            "label",
            "points",
            "fired: booked/leads",
            "rate",
            "95% interval",
            "not fired: booked/leads",
            "rate",
            "lift",
            "intervals apart",
        ],
        rows,
        text_columns=2,
    )
    return (
        "<h2>Evidence per rule</h2>"
        "<p>Booking rate of leads where each rule fired against leads where it did not. Lift is "
        'the fired rate over the base rate. "Intervals apart" means the two 95% intervals do '
        "not overlap.</p>"
        f'{rule_chart(report)}<div id="rule-table">{table}</div>'
    )


def _separation(item: RuleEvidence) -> str:
    if item.thin:
        return "too thin"
    return "yes" if item.separates else "no"


def _weight_section(report: CalibrationReport) -> str:
    fit = report.weight_fit
    if fit is None:
        return "<h2>Suggested points</h2><p>The model has no rules with points to fit.</p>"
    rows = [
        [
            weight.rule.rule_id,
            "whole rule" if weight.level is None else f"options worth {_signed(weight.level)}",
            _signed(weight.current_points),
            _signed(weight.suggested_points),
            _number(weight.coefficient, 3),
            str(weight.fired_in_training),
        ]
        for weight in fit.weights
    ]
    table = _table(
        [
            "rule",
            "level",
            "current points",
            "suggested points",
            "log-odds weight",
            "fired (training leads)",
        ],
        rows,
        text_columns=2,
    )
    note = f'<p class="warning">{escape(fit.note)}</p>' if fit.note else ""
    if fit.base_points:
        note += (
            f"<p>Base points {_signed(fit.base_points)}: every lead starts with these points. "
            f"They are the fitted intercept ({fit.intercept:.3f} log-odds) in points, shifted "
            "so the lowest 1% of training leads score 1 and the candidate's scores spread over "
            "1–100 instead of tying at 1.</p>"
        )
    candidate = ""
    if report.candidate_test_auc is not None:
        candidate = (
            f", candidate model file rescored <strong>{_number(report.candidate_test_auc)}</strong>"
        )
    return (
        "<h2>Suggested points</h2>"
        "<p>An L2-regularised logistic regression of booking on which rules fired "
        f"(penalty {fit.l2:g}), fitted on {fit.train_size} leads and judged on {fit.test_size} "
        f"held-out leads (split {escape(fit.split)}). An answer or range rule gets one weight "
        "per points level (the options or bands now worth those points); other rules get one "
        "weight. Weights are rescaled to points so the fitted log-odds of the 1st to 99th "
        "percentile lead span scores 1 to 99, with the intercept as the model's base points "
        "(or, when every lead has the same fitted log-odds, so each rule's largest absolute "
        f"points add up to the current model's {fit.points_budget:g}).</p>"
        f"<p>Held-out ROC AUC: fitted weights <strong>{_number(fit.fitted_test_auc)}</strong>, "
        f"current score <strong>{_number(fit.current_test_auc)}</strong>"
        f"{candidate}.</p>{note}{_limits_paragraphs(report)}"
        f'<div id="weight-table">{table}</div>'
        '<p class="meta">The suggested points are written only to a candidate model file '
        "(<code>--write-model</code>); compare it with <code>leadscore backtest</code> before "
        "using it.</p>"
    )


def _limits_paragraphs(report: CalibrationReport) -> str:
    text = f"<p>{escape(report.candidate_limits)}</p>" if report.candidate_limits else ""
    if report.clamp_warning:
        text += f'<p class="warning">{escape(report.clamp_warning)}</p>'
    return text


def _time_section(report: CalibrationReport) -> str:
    check = report.time_check
    if check is None:
        return ""
    rec = check.recommendation
    rows = [
        [
            "hot",
            _cutoff(rec.hot),
            _percent(check.test_hot.rate) if check.test_hot and check.test_hot.total else "–",
            _interval(check.test_hot) if check.test_hot else "–",
            str(check.test_hot.total) if check.test_hot else "–",
        ],
        [
            "warm",
            _cutoff(rec.warm),
            _percent(check.test_warm.rate) if check.test_warm and check.test_warm.total else "–",
            _interval(check.test_warm) if check.test_warm else "–",
            str(check.test_warm.total) if check.test_warm else "–",
        ],
    ]
    table = _table(
        [
            "tier",
            "cutoff from older leads",
            "newer leads' booking rate",
            "95% interval",
            "newer leads",
        ],
        rows,
    )
    return (
        "<h2>Time-ordered check</h2>"
        f"<p>Cutoffs chosen by the lift policy on the {check.train_size} leads up to "
        f"{check.boundary:%Y-%m-%d}, judged on the {check.test_size} newer leads (base rate "
        f"{_percent(check.test_base_rate)}, ROC AUC {_number(check.test_auc)}).</p>{table}"
    )


def _leakage_section(report: CalibrationReport) -> str:
    return (
        "<h2>Leakage</h2>"
        "<p>Only evidence known before the outcome may be scored: a column filled in by staff "
        "after contact (sales notes, lead quality, last activity) predicts the outcome because "
        "it records it. Columns listed in the model's <code>[mapping] post_outcome</code> and "
        "the outcome column itself are rejected if the mapping reads them.</p>"
    )


def _signed(points: float) -> str:
    value = int(points) if float(points).is_integer() else round(points, 1)
    return f"+{value}" if points > 0 else str(value)


# --- Backtest report -----------------------------------------------------------------


def migration_table(report: BacktestReport) -> str:
    """Return the tier migration matrix as an HTML table shaded by count."""
    largest = max((count for row in report.migration for count in row), default=0) or 1
    head = "".join(f"<th>candidate {escape(t)}</th>" for t in report.tiers)
    body = []
    for tier, row in zip(report.tiers, report.migration, strict=True):
        cells = []
        for column, count in zip(report.tiers, row, strict=True):
            alpha = round(0.08 + 0.6 * count / largest, 2) if count else 0
            style = f' style="background: rgba(74,122,181,{alpha})"' if count else ""
            marker = " (same)" if column == tier else ""
            cells.append(f"<td{style}>{count}{marker}</td>")
        body.append(f'<tr><th class="text">baseline {escape(tier)}</th>{"".join(cells)}</tr>')
    return (
        f'<table id="migration-table"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def tier_rate_chart(report: BacktestReport) -> str:
    """Draw each tier's booking rate under both models, side by side."""
    tiers = report.tiers
    outcomes = [
        *report.baseline_tier_rates.values(),
        *report.candidate_tier_rates.values(),
    ]
    ceiling = _rate_ceiling([o.high for o in outcomes if o.total])
    plot = _Plot((0, len(tiers)), (0, ceiling))
    ticks = _rate_ticks(ceiling)
    parts = [plot.axes("tier", "booking rate", ticks, lambda t: _percent(t, 0))]
    slot = plot.inner_width / max(len(tiers), 1)
    for index, tier in enumerate(tiers):
        centre = plot.x(index + 0.5)
        parts.append(
            f'<text x="{centre}" y="{plot.y(0) + 14}" text-anchor="middle">{escape(tier)}</text>'
        )
        for offset, outcome, color, css_class in (
            (-0.2, report.baseline_tier_rates[tier], COLORS["leads"], "baseline-bar"),
            (0.2, report.candidate_tier_rates[tier], COLORS["bar"], "candidate-bar"),
        ):
            if outcome.total == 0:
                continue
            x_centre = centre + offset * slot
            top = plot.y(outcome.rate)
            parts.append(
                f'<rect class="{css_class}" x="{round(x_centre - slot * 0.17, 2)}" y="{top}" '
                f'width="{round(slot * 0.34, 2)}" height="{round(plot.y(0) - top, 2)}" '
                f'fill="{color}"><title>{escape(tier)}: {outcome.booked} of {outcome.total} '
                "booked</title></rect>"
                f'<line x1="{x_centre}" y1="{plot.y(outcome.low)}" x2="{x_centre}" '
                f'y2="{plot.y(outcome.high)}" stroke="{COLORS["interval"]}"/>'
            )
    legend_y = MARGIN_TOP - 8
    parts.append(
        f'<text x="{CHART_WIDTH - 220}" y="{legend_y}" fill="{COLORS["leads"]}">■ baseline</text>'
        f'<text x="{CHART_WIDTH - 130}" y="{legend_y}" fill="{COLORS["bar"]}">■ candidate</text>'
    )
    return _svg("tier-rate-chart", "Booking rate per tier under each model", "".join(parts))


def render_backtest(report: BacktestReport) -> str:
    """Return the backtest report as one self-contained HTML page."""
    per_day = report.leads_per_day

    def hot_per_day(outcome: Proportion) -> str:
        if per_day is None:
            return "– (no lead dates)"
        return f"{outcome.total / report.lead_count * per_day:.1f}"

    summary = _table(
        ["model", "ROC AUC", "hot leads", "hot booking rate", "95% interval", "hot leads per day"],
        [
            [
                f"baseline: {report.baseline_name}",
                f"{report.baseline_auc:.3f}",
                str(report.baseline_hot.total),
                _percent(report.baseline_hot.rate) if report.baseline_hot.total else "–",
                _interval(report.baseline_hot),
                hot_per_day(report.baseline_hot),
            ],
            [
                f"candidate: {report.candidate_name}",
                f"{report.candidate_auc:.3f}",
                str(report.candidate_hot.total),
                _percent(report.candidate_hot.rate) if report.candidate_hot.total else "–",
                _interval(report.candidate_hot),
                hot_per_day(report.candidate_hot),
            ],
        ],
    )
    changes = _table(
        ["lead", "row", "baseline", "candidate", "booked", "rules that differ"],
        [
            [
                change.lead_id,
                str(change.row),
                f"{change.baseline_score} {change.baseline_tier}",
                f"{change.candidate_score} {change.candidate_tier}",
                "yes" if change.outcome else "no",
                "; ".join(change.reasons) or "same rules, different tier cutoffs",
            ]
            for change in report.changes
        ],
        text_columns=2,
    )
    body = (
        f"<p>{report.lead_count} leads from <code>{escape(report.source)}</code>, "
        f"{report.booked} booked. {report.changed_count} leads change tier.</p>"
        f"<p>{escape(report.scoring_time)}</p>"
        f'<div id="summary-table">{summary}</div>'
        "<h2>Tier migration</h2>"
        "<p>Rows: tier under the baseline model; columns: tier under the candidate.</p>"
        f"{migration_table(report)}"
        f"{tier_rate_chart(report)}"
        "<h2>Leads whose tier changes most</h2>"
        f'<div id="changes-table">{changes}</div>'
    )
    return _page(f"Backtest: {report.candidate_name} against {report.baseline_name}", body)

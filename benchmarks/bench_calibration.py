"""Time `leadscore calibrate`'s statistics on synthetic leads, and end to end on a real file.

The synthetic part builds scored leads directly (scores, outcomes and rule
hits drawn from a fixed seed), so it times only the statistics, the weight
fit and the HTML report. With `--leads-file`, it also times loading and
scoring a spreadsheet with a model, which is the bulk of a real run.

    .venv/bin/python benchmarks/bench_calibration.py --leads 10000 100000
    .venv/bin/python benchmarks/bench_calibration.py --leads-file Leads.csv \
        --model examples/x-education/model.toml --outcome Converted
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from jobs.calibrate import CalibrateOptions, RuleInfo, ScoredLeads, evaluate, load_scored_leads
from jobs.modelfile import load_model
from jobs.report_html import render_calibration

RULE_COUNT = 12
SEED = 7
DAY_SECONDS = 86_400.0


def synthetic_leads(count: int, seed: int = SEED) -> ScoredLeads:
    """Return `count` scored leads with RULE_COUNT rules and dates over 90 days."""
    rng = np.random.default_rng(seed)
    points = rng.integers(-15, 30, size=RULE_COUNT).astype(float)
    points[points == 0] = 5.0
    fired = rng.random((count, RULE_COUNT)) < rng.uniform(0.1, 0.6, size=RULE_COUNT)
    given = fired * points
    effects = points / 20
    chance = 1 / (1 + np.exp(-(-1.5 + fired @ effects)))

    scores = np.clip(np.round(30 + given.sum(axis=1)), 1, 100).astype(int)
    tiers = np.select([scores >= 80, scores >= 50], ["hot", "warm"], default="cold").tolist()

    rules = [
        RuleInfo(f"rule-{j}", f"rule {j}", "intent", float(points[j]), levels=(float(points[j]),))
        for j in range(RULE_COUNT)
    ]
    return ScoredLeads(
        source="synthetic",
        model_name="synthetic",
        lead_ids=[str(i) for i in range(count)],
        rows=list(range(1, count + 1)),
        scores=scores,
        tiers=tiers,
        outcomes=(rng.random(count) < chance).astype(int),
        rules=rules,
        fired=fired,
        points=given,
        hits=[() for _ in range(count)],
        hot_cutoff=80,
        warm_cutoff=50,
        timestamps=1_700_000_000 + np.sort(rng.random(count)) * 90 * DAY_SECONDS,
    )


def time_synthetic(count: int) -> None:
    scored = synthetic_leads(count)
    options = CalibrateOptions(hot_per_day=5)
    started = time.perf_counter()
    report = evaluate(scored, "Booked", options)
    evaluated = time.perf_counter()
    html = render_calibration(report)
    rendered = time.perf_counter()
    print(
        f"| synthetic | {count:,} | {evaluated - started:.2f} s | {rendered - evaluated:.2f} s "
        f"| {len(html) / 1024:.0f} KiB |"
    )


def time_file(path: Path, model_path: Path, outcome: str) -> None:
    model = load_model(model_path)
    started = time.perf_counter()
    scored = load_scored_leads(path, model, outcome, now=datetime(2026, 12, 1, 12, tzinfo=UTC))
    loaded = time.perf_counter()
    report = evaluate(scored, outcome, CalibrateOptions())
    evaluated = time.perf_counter()
    render_calibration(report)
    rendered = time.perf_counter()
    print(
        f"| {path.name}: load and score | {len(scored):,} | {loaded - started:.2f} s | – | – |\n"
        f"| {path.name}: evaluate, render | {len(scored):,} | {evaluated - loaded:.2f} s "
        f"| {rendered - evaluated:.2f} s | – |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--leads-file", type=Path)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--outcome", default="Converted")
    args = parser.parse_args()
    print("| input | leads | evaluate | HTML report | report size |")
    print("|---|---:|---:|---:|---:|")
    for count in args.leads:
        time_synthetic(count)
    if args.leads_file is not None:
        time_file(args.leads_file, args.model, args.outcome)


if __name__ == "__main__":
    main()

"""Synthetic scored leads with a known relation between rules and bookings."""

from __future__ import annotations

import numpy as np

from jobs.calibrate import RuleInfo, ScoredLeads
from scoring.result import Part, RuleHit

# Rule id → (points in the model, true log-odds effect on booking).
RULES = {
    "timeline_this_week": (30.0, 1.6),
    "budget_fits": (25.0, 0.9),
    "pricing_page": (15.0, 0.4),
    "no_reply": (-10.0, -0.8),
}
INTERCEPT = -1.6
DAY = 86_400.0


def synthetic_leads(
    count: int = 3000, seed: int = 11, *, dated: bool = True, points=None
) -> ScoredLeads:
    """Build `count` leads whose bookings follow a logistic model of the rule hits.

    `points` overrides each rule's points (same order as `RULES`) to build a
    second model over the same leads.
    """
    rng = np.random.default_rng(seed)
    rule_ids = list(RULES)
    model_points = np.array(points if points is not None else [RULES[r][0] for r in rule_ids])
    effects = np.array([RULES[r][1] for r in rule_ids])
    fired = rng.random((count, len(rule_ids))) < [0.3, 0.45, 0.5, 0.25]
    probability = 1 / (1 + np.exp(-(INTERCEPT + fired @ effects)))
    outcomes = (rng.random(count) < probability).astype(int)
    given = fired * model_points
    scores = np.clip(np.round(20 + given.sum(axis=1)), 1, 100).astype(int)
    tiers = []
    for score in scores:
        if score >= 80:
            tiers.append("hot")
        elif score >= 50:
            tiers.append("warm")
        else:
            tiers.append("cold")
    hits = [
        tuple(
            RuleHit(rule_ids[j], rule_ids[j], Part.INTENT, float(given[i, j]), rule_ids[j])
            for j in range(len(rule_ids))
            if fired[i, j]
        )
        for i in range(count)
    ]
    # The timeline rule stands for a range rule whose one band fired.
    rules = [
        RuleInfo(
            rule_id,
            rule_id.replace("_", " "),
            "intent",
            float(model_points[j]),
            levels=(float(model_points[j]),) if rule_id == "timeline_this_week" else None,
        )
        for j, rule_id in enumerate(rule_ids)
    ]
    return ScoredLeads(
        source="synthetic.csv",
        model_name="synthetic",
        lead_ids=[f"lead-{i}" for i in range(count)],
        rows=list(range(1, count + 1)),
        scores=scores,
        tiers=tiers,
        outcomes=outcomes,
        rules=rules,
        fired=fired,
        points=given,
        hits=hits,
        hot_cutoff=80,
        warm_cutoff=50,
        timestamps=(1_700_000_000 + np.sort(rng.random(count)) * 90 * DAY) if dated else None,
    )

"""Write `examples/leads-with-outcomes.csv`: made-up med spa leads with a booking outcome.

The leads come from `examples/make_leads.py` (same columns and export
quirks, another seed and more rows). A "Booked" column is added, drawn from
a booking chance that rises with a near timeline, a higher budget, a reply
and page views, so `leadscore calibrate` has a known signal to find. Its
values mix the wordings CRMs use (Booked, Showed, No show, Lost, Not booked),
and a few are blank for leads whose outcome is not known yet.

The output depends only on the seed and on `make_leads.py`, so rerun this
script whenever that one changes:

    python examples/make_leads_with_outcomes.py            # rewrites the CSV
    python examples/make_leads_with_outcomes.py --check    # exits 1 if it differs
"""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "leads-with-outcomes.csv"
SEED = 20261204
LEAD_COUNT = 1500
OUTCOME_COLUMN = "Booked"
# Share of leads whose outcome is still open (blank cell).
OPEN_SHARE = 0.03

# Booking log-odds: a base, plus an effect for each answer that signals intent.
BASE_LOG_ODDS = -2.4
SOON = ("this week", "asap", "within 2 weeks", "2 weeks", "immediately")
MONTH = ("within 1 month", "1 month", "next month", "30 days")
HIGH_BUDGET_MARKERS = ("2,500", "2500", "5,000", "premium", "1,000-", "$1,500")
LOW_BUDGET_MARKERS = ("under", "100-", "entry")


def _load_lead_maker():
    spec = importlib.util.spec_from_file_location("make_leads", HERE / "make_leads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def booking_log_odds(row: dict[str, str]) -> float:
    """Return the log-odds that a lead books, from its answers and engagement."""
    timeline = row["How soon are you looking to book?"].lower()
    budget = row["Budget"].lower()
    log_odds = BASE_LOG_ODDS
    if any(marker in timeline for marker in SOON):
        log_odds += 1.8
    elif any(marker in timeline for marker in MONTH):
        log_odds += 0.9
    if any(marker in budget for marker in HIGH_BUDGET_MARKERS):
        log_odds += 1.0
    elif any(marker in budget for marker in LOW_BUDGET_MARKERS):
        log_odds -= 0.6
    if row["Recent Sales Email Replied Date"]:
        log_odds += 0.8
    log_odds += 0.08 * int(row["Number of Pageviews"] or 0)
    if row["Unsubscribed"] or "test" in row["Tags"].split(", "):
        log_odds -= 4.0
    return log_odds


def outcome_text(rng: random.Random, booked: bool) -> str:
    """Return the outcome as a CRM would write it, in one of its usual wordings."""
    if booked:
        return rng.choice(("Booked", "Booked", "Showed", "yes", "Won"))
    return rng.choice(("Not booked", "Not booked", "Lost", "No show", "no"))


def build_rows(seed: int = SEED, count: int = LEAD_COUNT) -> list[dict[str, str]]:
    """Return `count` leads, each with an outcome cell."""
    maker = _load_lead_maker()
    rows = maker.build_rows(seed, count)
    rng = random.Random(seed + 1)
    for row in rows:
        chance = 1 / (1 + math.exp(-booking_log_odds(row)))
        booked = rng.random() < chance
        row[OUTCOME_COLUMN] = "" if rng.random() < OPEN_SHARE else outcome_text(rng, booked)
    return rows


def render(rows: list[dict[str, str]]) -> bytes:
    """Return the CSV bytes in the same export shape as `examples/leads.csv`."""
    maker = _load_lead_maker()
    return maker.render(rows, (*maker.HEADER, OUTCOME_COLUMN))


def main(argv: list[str] | None = None) -> int:
    return _load_lead_maker().write_or_check(
        argv,
        description=__doc__.splitlines()[0],
        script="examples/make_leads_with_outcomes.py",
        output=OUTPUT,
        seed=SEED,
        count=LEAD_COUNT,
        make_csv=lambda seed, count: render(build_rows(seed, count)),
    )


if __name__ == "__main__":
    sys.exit(main())

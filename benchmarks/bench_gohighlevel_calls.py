"""API calls per contact of the GoHighLevel connector, against the floor the API allows.

    .venv/bin/python benchmarks/bench_gohighlevel_calls.py [--contacts 20000] [--validate]

Runs against the in-process fake GoHighLevel (served through `responses`)
with a simulated clock: the connector's rate limiter sleeps on that clock, so
"rate-limited time" is the time the 100-requests-per-10-s burst limit forces
on a real location, without waiting for it. The fake enforces the same limit
and would respond 429 to a connector that exceeded it; the run reports any 429.

Scenarios, on one location holding `--contacts` contacts (each with three
qualification fields and one email, a fifth of them with a form submission):

1. backfill: `pull_all`, then a score write for every contact;
2. first incremental sync after the backfill: every contact comes back,
   because the backfill's own writes changed `dateUpdated`; nothing is written;
3. a second sync 10 minutes later: the backfill's last writes still lie within
   the 10-minute overlap window before the first sync's start, so they are read
   again;
4. steady state with no changes, 5 minutes later: the overlap window before the
   second sync's start no longer reaches the backfill;
5. steady state with 1% of the contacts changed by staff.

The floor: there is no batch contact update, so one `PUT /contacts/{id}` per
changed contact, plus one search page per 500 contacts read, plus one
custom-field list per run.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import responses
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Contact, ScoreWrite
from connectors.gohighlevel import GoHighLevelConfig, GoHighLevelConnector
from connectors.http import RetrySettings
from scoring.mapping import FieldMapping
from scoring.result import Tier
from tests.fakes.gohighlevel import FakeGoHighLevel, FrozenClock
from tests.fakes.gohighlevel.spec import load_ghl_validator

LOCATION = "locBench01"
TOKEN = "pit-bench-0000-0000"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MAPPING = FieldMapping(
    answers={
        "timeline": ["contact.timeline"],
        "budget": ["contact.budget"],
        "treatments": ["contact.treatments"],
    }
)
SEARCH_PAGE = 500


def seed(fake: FakeGoHighLevel, count: int) -> None:
    state = fake.state
    state.add_location(LOCATION)
    state.issue_token(LOCATION, value=TOKEN)
    state.add_custom_field(
        LOCATION, "Timeline", "SINGLE_OPTIONS", options=["This week", "This month", "Later"]
    )
    state.add_custom_field(LOCATION, "Budget", "TEXT")
    state.add_custom_field(
        LOCATION, "Treatments", "MULTIPLE_OPTIONS", options=["Botox", "Filler", "Laser"]
    )
    for name, data_type in (
        ("Lead Score", "NUMERICAL"),
        ("Lead Fit", "NUMERICAL"),
        ("Lead Intent", "NUMERICAL"),
        ("Lead Score Reasons", "LARGE_TEXT"),
    ):
        state.add_custom_field(LOCATION, name, data_type)
    state.add_custom_field(
        LOCATION, "Lead Tier", "SINGLE_OPTIONS", options=["Hot", "Warm", "Cold", "Disqualified"]
    )
    timeline_id = state.field_id(LOCATION, "contact.timeline")
    for index in range(count):
        at = START - timedelta(days=300) + timedelta(minutes=index)
        contact = state.add_contact(
            LOCATION,
            contact_id=f"c{index:06d}",
            added_at=at,
            updated_at=at,
            custom={
                "contact.timeline": ("This week", "This month", "Later")[index % 3],
                "contact.budget": f"${(index % 20) * 250}",
                "contact.treatments": ["Botox", "Filler"][: 1 + index % 2],
            },
        )
        state.add_message(LOCATION, contact["id"], status="opened", added_at=at)
        if index % 5 == 0:
            state.add_submission(LOCATION, contact["id"], {timeline_id: "This week"}, created_at=at)


def score_of(contact: Contact) -> ScoreWrite:
    """A stand-in score that depends only on the contact's answers, like the engine's."""
    answers = repr(sorted(contact.lead.answers.items()))
    score = 1 + zlib.crc32(answers.encode()) % 100
    tier = Tier.COLD
    if score >= 80:
        tier = Tier.HOT
    elif score >= 50:
        tier = Tier.WARM
    return ScoreWrite(
        contact_id=contact.id,
        score=score,
        fit=score,
        intent=score,
        tier=tier,
        reasons=f'timeline "{contact.lead.answers.get("timeline")}" → +{score // 4}',
        scored_at=START,
    )


class Run:
    """Counts one scenario's calls and the simulated time the rate limit took."""

    def __init__(self, fake: FakeGoHighLevel, clock: FrozenClock, name: str) -> None:
        self.fake, self.clock, self.name = fake, clock, name
        self.first_request = len(fake.requests)
        self.started = clock.now
        self.wall = time.perf_counter()

    def finish(self, contacts: int) -> dict:
        requests = self.fake.requests[self.first_request :]
        by_endpoint = Counter(f"{r.method} {_template(r.path)}" for r in requests)
        return {
            "name": self.name,
            "contacts": contacts,
            "writes": by_endpoint["PUT /contacts/{id}"],
            "calls": len(requests),
            "by_endpoint": by_endpoint,
            "rate_limited_429": sum(1 for r in requests if r.status == 429),
            "simulated_seconds": (self.clock.now - self.started).total_seconds(),
            "wall_seconds": time.perf_counter() - self.wall,
        }


def _template(path: str) -> str:
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "contacts" and parts[2] not in ("search", ""):
        parts[2] = "{id}"
    if len(parts) >= 3 and parts[1] == "locations":
        parts[2] = "{id}"
    return "/".join(parts)


def sync(connector: GoHighLevelConnector, pages) -> tuple[int, datetime | None]:
    """Score and write every complete contact of the pages; return the count and the watermark."""
    contacts = 0
    watermark = None
    for page in pages:
        batch = [score_of(r) for r in page.records if isinstance(r, Contact) and r.facts_complete]
        contacts += len(batch)
        connector.write_scores(batch)
        if page.high_watermark and (watermark is None or page.high_watermark > watermark):
            watermark = page.high_watermark
    return contacts, watermark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument(
        "--validate", action="store_true", help="validate every request against the spec (slow)"
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    clock = FrozenClock(START)
    validator = load_ghl_validator() if args.validate else None
    fake = FakeGoHighLevel(clock=clock, validator=validator)
    seed(fake, args.contacts)

    def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    results = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.mount(mock)
        connector = GoHighLevelConnector(
            GoHighLevelConfig(location_id=LOCATION, token=TOKEN),
            MAPPING,
            sleep=sleep,
            monotonic=lambda: clock.now.timestamp(),
            now=clock,
            retry=RetrySettings(jitter_seconds=0.0),
        )

        run = Run(fake, clock, "backfill (pull_all + write every contact)")
        contacts, watermark = sync(connector, connector.pull_all())
        results.append(run.finish(contacts))

        clock.advance(minutes=5)
        run = Run(fake, clock, "first sync after backfill (own writes echo)")
        contacts, later = sync(connector, connector.pull_changed(watermark))
        results.append(run.finish(contacts))
        watermark = later or watermark

        clock.advance(minutes=10)
        run = Run(fake, clock, "second sync, 10 min later (backfill writes inside the overlap)")
        contacts, later = sync(connector, connector.pull_changed(watermark))
        results.append(run.finish(contacts))
        watermark = later or watermark

        clock.advance(minutes=5)
        run = Run(fake, clock, "steady state, nothing changed")
        contacts, later = sync(connector, connector.pull_changed(watermark))
        results.append(run.finish(contacts))
        watermark = later or watermark

        clock.advance(minutes=5)
        changed = max(1, args.contacts // 100)
        for index in range(changed):
            contact_id = f"c{index * 100:06d}"
            field_id = fake.state.field_id(LOCATION, "contact.timeline")
            for item in fake.state.locations[LOCATION].contacts[contact_id]["customFields"]:
                if item["id"] == field_id:
                    item["value"] = "This week" if item["value"] != "This week" else "Later"
            fake.state.touch_contact(LOCATION, contact_id)
        clock.advance(minutes=5)
        run = Run(fake, clock, f"steady state, {changed} contacts changed by staff")
        contacts, _ = sync(connector, connector.pull_changed(watermark))
        results.append(run.finish(contacts))
        connector.close()

    report(results, args.contacts)


def floor(contacts_read: int, writes: int) -> int:
    return writes + max(1, math.ceil(contacts_read / SEARCH_PAGE)) + 1


def report(results: list[dict], total: int) -> None:
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(f"location with {total} contacts; burst limit 100 requests per 10 s\n")
    print(
        "| scenario | contacts read | writes | API calls | floor | calls per contact "
        "| rate-limited time | 429s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        lower = floor(result["contacts"], result["writes"])
        per_contact = result["calls"] / max(1, result["contacts"])
        print(
            f"| {result['name']} | {result['contacts']:,} | {result['writes']:,} "
            f"| {result['calls']:,} | {lower:,} | {per_contact:.3f} "
            f"| {result['simulated_seconds']:,.0f} s | {result['rate_limited_429']} |"
        )
    for result in results:
        print(f"\n{result['name']} (harness wall time {result['wall_seconds']:.1f} s):")
        for endpoint, count in sorted(result["by_endpoint"].items(), key=lambda kv: -kv[1]):
            print(f"  {count:>7,}  {endpoint}")


if __name__ == "__main__":
    main()

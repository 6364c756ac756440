"""API calls per contact of the HubSpot connector, against the floor the API allows.

    .venv/bin/python benchmarks/bench_hubspot_calls.py [--contacts 20000]

Runs the real backfill and sync cycle (`jobs.backfill.run_backfill`,
`jobs.sync.run_cycle`, a SQLite store, the built-in model) against the
in-process fake HubSpot served through `responses`. The clock is simulated.
The connector's rate limiters sleep on that clock, so "rate-limited time" is
the time HubSpot's limits (100 requests per 10 s, search 5 per second) force
on a real account, without waiting for it. Each call also takes 50 ms of
simulated time. The fake enforces the same limits
and answers 429 to a connector that exceeds them; the run reports any 429.
Every request is checked against the official spec when the specs are present.

Scenarios, on one account holding `--contacts` contacts (three qualification
answers each, email engagement on a third of them):

1. backfill: list pages of 100, then one batch update per 100 scored contacts;
2. first sync after the backfill: every contact comes back through search,
   because the backfill's own writes changed `lastmodifieddate`; the sync
   recognises its own values and writes nothing;
3. the second sync: the first sync moved the cursor to its own start time,
   and the backfill's writes still fall inside the 5-minute overlap window
   before it, so they come once more;
4. steady state with no changes;
5. steady state with 1% of the contacts changed by staff.

The floor: one list page per 100 contacts or one search page per 200, and
one batch update per 100 changed contacts. The property list is read once
per process (by `setup` here) and is not counted.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import responses
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.hubspot import HubSpotConnector
from jobs.accounts import build_runtime, connector_config
from jobs.backfill import run_backfill
from jobs.settings import Settings
from jobs.sync import run_cycle
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot, SimulatedClock

PORTAL = "62515"
BASE_URL = "https://api.hubapi.com"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Simulated duration of one API call. It spreads the backfill's writes over
# time as on a real account, where a burst's 100 batches never share one
# millisecond of `lastmodifieddate`.
REQUEST_SECONDS = 0.05
TIMELINES = ["this_week", "this_month", "1_3_months", "just_researching"]
BUDGETS = ["under_300", "300_750", "750_1500", "over_1500"]
TREATMENTS = ["botox", "fillers", "laser_hair_removal", "coolsculpting", "hydrafacial"]


def add_contacts(fake: FakeHubSpot, count: int, clock: SimulatedClock) -> list[str]:
    stamp = int(clock() * 1000) - 86_400_000
    ids = []
    for n in range(count):
        properties = {
            "firstname": f"Lead{n}",
            "email": f"lead{n}@example.com",
            "booking_timeline": TIMELINES[n % 4],
            "budget": BUDGETS[(n // 4) % 4],
            "treatment_interest": TREATMENTS[n % 5],
        }
        if n % 3 == 0:
            properties.update(
                hs_email_delivered="4",
                hs_email_open=str(n % 5),
                hs_email_last_open_date="2026-11-25T10:00:00.000Z",
            )
        ids.append(fake.add_contact(properties, modified_ms=stamp + n))
    return ids


def measure(fake: FakeHubSpot, clock: SimulatedClock, run) -> dict:
    calls_before = len(fake.calls)
    slept_before = clock.slept
    started = time.perf_counter()
    result = run()
    wall = time.perf_counter() - started
    calls = fake.calls[calls_before:]
    return {
        "result": result,
        "calls": len(calls),
        "by_endpoint": Counter(f"{c.method} {_endpoint(c.path)}" for c in calls),
        "status_429": sum(1 for c in calls if c.status == 429),
        "limited_seconds": clock.slept - slept_before,
        "wall_seconds": wall,
    }


def _endpoint(path: str) -> str:
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return "/".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts in the account")
    args = parser.parse_args()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(40),  # errors only
    )

    clock = SimulatedClock(start=START.timestamp())
    fake = FakeHubSpot(clock=clock, request_seconds=REQUEST_SECONDS)
    ids = add_contacts(fake, args.contacts, clock)
    rows = []

    with (
        tempfile.TemporaryDirectory() as tmp,
        responses.RequestsMock(assert_all_requests_are_fired=False) as rsps,
    ):
        fake.install(rsps, BASE_URL)
        settings = Settings(
            _env_file=None,
            crm="hubspot",
            account_id=PORTAL,
            hubspot_token=DEFAULT_TOKEN,
            crm_base_url=BASE_URL,
            database_url=f"sqlite:///{Path(tmp) / 'store.db'}",
            heartbeat_file=Path(tmp) / "heartbeat",
        )

        def factory(account, model):
            return HubSpotConnector(
                connector_config(account),
                model.mapping,
                sleep=clock.sleep,
                clock=clock,
                now=clock.datetime,
            )

        runtime = build_runtime(settings, connector_factory=factory)
        [ctx] = runtime.contexts
        setup = ctx.connector.setup(apply=True)
        if setup.problems:
            print("setup problems:", setup.problems)
        n = args.contacts

        backfill = measure(fake, clock, lambda: run_backfill(ctx, clock=clock.datetime))
        rows.append(("backfill", n, backfill, math.ceil(n / 100) * 2))

        clock.advance(60)
        echo = measure(fake, clock, lambda: run_cycle(ctx, clock=clock.datetime))
        rows.append(("first sync after backfill (echo)", n, echo, math.ceil(n / 200)))

        clock.advance(600)
        overlap = measure(fake, clock, lambda: run_cycle(ctx, clock=clock.datetime))
        rows.append(("second sync after backfill (overlap)", n, overlap, 1))

        clock.advance(600)
        quiet = measure(fake, clock, lambda: run_cycle(ctx, clock=clock.datetime))
        rows.append(("steady state, no changes", n, quiet, 1))

        changed = ids[::100]
        for contact_id in changed:
            fake.objects["contacts"][contact_id].properties["booking_timeline"] = "this_week"
            fake.objects["contacts"][contact_id].properties["budget"] = "over_1500"
            fake._touch("contacts", fake.objects["contacts"][contact_id])
        clock.advance(60)
        busy = measure(fake, clock, lambda: run_cycle(ctx, clock=clock.datetime))
        floor = math.ceil(len(changed) / 200) + math.ceil(len(changed) / 100)
        rows.append((f"steady state, {len(changed)} changed by staff", n, busy, floor))
        runtime.close()

    print(f"# {args.contacts} contacts, Python {platform.python_version()}, {platform.machine()}")
    print("| scenario | calls | per contact | floor | 429s | rate-limited time | wall time |")
    print("|---|---|---|---|---|---|---|")
    for name, contacts, data, floor in rows:
        per_contact = data["calls"] / contacts
        limited = f"{data['limited_seconds']:.0f} s"
        wall = f"{data['wall_seconds']:.1f} s"
        print(
            f"| {name} | {data['calls']} | {per_contact:.4f} | {floor} | "
            f"{data['status_429']} | {limited} | {wall} |"
        )
    for name, _, data, _ in rows:
        endpoints = ", ".join(f"{k}: {v}" for k, v in sorted(data["by_endpoint"].items()))
        print(f"- {name}: {endpoints}")
        result = data["result"]
        stats = getattr(result, "stats", None)
        if stats is not None:
            print(f"  written={stats.written} pulled={stats.pulled} errors={stats.errors}")
    if fake.spec_problems:
        print("spec problems:", fake.spec_problems[:5])
    print("spec validation:", "on" if fake.validator is not None else "off (specs absent)")


if __name__ == "__main__":
    main()

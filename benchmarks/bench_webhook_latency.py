"""Seconds from a CRM event to the hot-lead alert: webhook path against polling path.

    .venv/bin/python benchmarks/bench_webhook_latency.py [--crm gohighlevel] [--leads 20]
        [--window 60] [--sync-interval 60] [--outbox-interval 30] [--scenarios webhook,polling]

Runs the daemon in this process (`jobs.daemon.Daemon`, built from settings as
`leadscore run` builds it) against the fake GoHighLevel or HubSpot served on 127.0.0.1,
with the webhook alert channel pointed at a recording HTTP server on
127.0.0.1. Every hop is a real HTTP request on loopback.

Each lead is added to the fake at a random moment (fixed seed) within
`--window` seconds, with form answers that score hot.

* webhook: right after adding the lead, a signed contact creation event
  (GoHighLevel ContactCreate or a HubSpot contact.creation batch) is POSTed
  to the daemon's receiver. The sync runs once at start and
  then hourly, and the drain job's own interval is 60 s, so only the
  receiver's wake-up of the drain job can deliver the alert in time.
* polling: no webhooks; the sync cycle runs every `--sync-interval` seconds.

Reported per scenario: the receiver's HTTP response time (webhook only),
event → score stored (the score history's `scored_at`), and event → alert
received, as p50, p95 and max. Alerts leave through the outbox job, which a job
that records an alert wakes at once. Its timer, every `--outbox-interval`
seconds (by default the worker's default), is the safety net.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs.settings import Settings  # noqa: E402
from jobs.store.schema import score_history  # noqa: E402
from tests.webhooks.e2e import Worker, running_worker  # noqa: E402

SEED = 11
# Seconds to wait for the last alert after the last lead was added.
ALERT_TIMEOUT_SECONDS = 180


@dataclass
class LeadTiming:
    name: str
    contact_id: str
    sent_wall: datetime
    sent_monotonic: float
    ack_seconds: float | None = None
    stored_seconds: float | None = None
    alert_seconds: float | None = None


@dataclass
class ScenarioResult:
    name: str
    timings: list[LeadTiming] = field(default_factory=list)
    wall_seconds: float = 0.0


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values` (fraction 0.5 for p50)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _watch_alerts(worker: Worker, timings: dict[str, LeadTiming], done: threading.Event) -> None:
    """Record, for each lead, the first moment its alert reached the alert receiver."""
    seen = 0
    while not done.is_set():
        with worker.alerts.lock:
            bodies = [received.body for received in worker.alerts.requests[seen:]]
            arrived = time.monotonic()
        seen += len(bodies)
        for body in bodies:
            for name, timing in timings.items():
                if timing.alert_seconds is None and name.encode() in body:
                    timing.alert_seconds = arrived - timing.sent_monotonic
        time.sleep(0.002)


def run_scenario(name: str, args: argparse.Namespace, workdir: Path) -> ScenarioResult:
    webhooks = name == "webhook"
    rng = random.Random(SEED)
    offsets = sorted(rng.uniform(0, args.window) for _ in range(args.leads))
    result = ScenarioResult(name)
    timings: dict[str, LeadTiming] = {}

    with running_worker(
        workdir,
        crm=args.crm,
        webhooks=webhooks,
        sync_interval_seconds=3600 if webhooks else args.sync_interval,
        outbox_interval_seconds=args.outbox_interval,
        drain_interval_seconds=60,
    ) as worker:
        done = threading.Event()
        watcher = threading.Thread(target=_watch_alerts, args=(worker, timings, done))
        watcher.start()
        started = time.monotonic()
        try:
            for number, offset in enumerate(offsets):
                delay = started + offset - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                lead_name = f"Bench{name.title()}{number:03d}"
                contact_id = worker.add_hot_lead(lead_name)
                timing = LeadTiming(lead_name, contact_id, datetime.now(UTC), time.monotonic())
                timings[lead_name] = timing
                if webhooks:
                    response = worker.send_contact_webhook(contact_id)
                    timing.ack_seconds = time.monotonic() - timing.sent_monotonic
                    if response.status_code != 200:
                        status = response.status_code
                        raise RuntimeError(f"the webhook receiver returned HTTP {status}")

            deadline = time.monotonic() + ALERT_TIMEOUT_SECONDS
            while time.monotonic() < deadline and any(
                timing.alert_seconds is None for timing in timings.values()
            ):
                time.sleep(0.05)
        finally:
            done.set()
            watcher.join()

        store = worker.daemon.runtime.store
        with store.begin() as conn:
            first_scored = dict(
                conn.execute(
                    sa.select(
                        score_history.c.contact_id, sa.func.min(score_history.c.scored_at)
                    ).group_by(score_history.c.contact_id)
                ).all()
            )
        result.wall_seconds = time.monotonic() - started

    for timing in timings.values():
        scored_at = first_scored.get(timing.contact_id)
        if scored_at is not None:
            if scored_at.tzinfo is None:
                scored_at = scored_at.replace(tzinfo=UTC)
            timing.stored_seconds = (scored_at - timing.sent_wall).total_seconds()
    result.timings = list(timings.values())
    return result


def summarize(values: list[float | None]) -> str:
    measured = [value for value in values if value is not None]
    if not measured:
        return "n/a | n/a | n/a"
    return (
        f"{percentile(measured, 0.5):.3f} | {percentile(measured, 0.95):.3f} | {max(measured):.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--crm",
        choices=("gohighlevel", "hubspot"),
        default="gohighlevel",
        help="Fake CRM the worker runs against.",
    )
    parser.add_argument("--leads", type=int, default=20, help="Hot leads per scenario.")
    parser.add_argument(
        "--window", type=float, default=60.0, help="Seconds over which the leads arrive."
    )
    parser.add_argument(
        "--sync-interval",
        type=int,
        default=60,
        help="Seconds between sync cycles in the polling scenario (min 5).",
    )
    parser.add_argument(
        "--outbox-interval",
        type=int,
        default=Settings.model_fields["outbox_interval_seconds"].default,
        help="Seconds between timed alert outbox runs, in both scenarios (default: the "
        "worker's default).",
    )
    parser.add_argument(
        "--scenarios",
        default="webhook,polling",
        help="Comma-separated scenarios to run: webhook, polling.",
    )
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    print(
        f"# Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"fake {args.crm}, {args.leads} leads over {args.window:.0f} s, "
        f"outbox every {args.outbox_interval} s, polling sync every {args.sync_interval} s"
    )
    print(
        "| path | leads alerted | response (s) p50, p95, max | event → score stored (s) "
        "p50, p95, max | event → alert (s) p50, p95, max | wall time |"
    )
    print("|---|---:|---|---|---|---:|")
    for name in args.scenarios.split(","):
        name = name.strip()
        with tempfile.TemporaryDirectory(prefix=f"bench-webhook-{name}-") as workdir:
            result = run_scenario(name, args, Path(workdir))
        alerted = sum(1 for timing in result.timings if timing.alert_seconds is not None)
        print(
            f"| {name} | {alerted}/{len(result.timings)} "
            f"| {summarize([timing.ack_seconds for timing in result.timings])} "
            f"| {summarize([timing.stored_seconds for timing in result.timings])} "
            f"| {summarize([timing.alert_seconds for timing in result.timings])} "
            f"| {result.wall_seconds:.0f} s |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

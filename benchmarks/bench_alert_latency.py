"""Seconds from a form submission reaching the CRM to the hot-lead alert at a chat webhook.

    .venv/bin/python benchmarks/bench_alert_latency.py [--leads 20] [--window 240]
        [--sync-interval SECONDS] [--outbox-interval SECONDS]

Runs the real worker, `leadscore run`, as a subprocess against the fake
GoHighLevel served on 127.0.0.1. The worker keeps its default schedule (a sync
cycle every 60 s, and an outbox run as soon as a cycle records an alert, with a
timed run every 30 s as the safety net) unless the options change it. Its
webhook alert channel posts to a receiver on 127.0.0.1. Each lead is added to
the fake at a random moment (fixed seed) within `--window` seconds, with
answers that score hot, and its latency is the time until the webhook
receiver gets its alert. The fake's search index shows new contacts at once;
a real CRM's index lag adds to this.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.alerts.servers import start_webhook_receiver, stop_webhook_receiver  # noqa: E402
from tests.fakes.gohighlevel import FakeGoHighLevel  # noqa: E402

LOCATION = "locBenchAlerts"
TOKEN = "pit-bench-0000-4a4a-9b9b-alerts"
SEED = 7
# Seconds to wait for the worker's first cycle, and for the last alert after the last lead.
STARTUP_TIMEOUT = 120
DRAIN_TIMEOUT = 200


def build_fake() -> FakeGoHighLevel:
    fake = FakeGoHighLevel()
    state = fake.state
    state.add_location(LOCATION)
    state.issue_token(LOCATION, value=TOKEN)
    state.add_custom_field(
        LOCATION,
        "How soon are you looking to book?",
        "SINGLE_OPTIONS",
        options=["This week", "Within a month", "Just researching"],
        field_key="contact.timeline",
    )
    state.add_custom_field(LOCATION, "Budget", "TEXT", field_key="contact.budget")
    state.add_custom_field(LOCATION, "Treatment Interest", "TEXT", field_key="contact.treatment")
    state.add_custom_field(LOCATION, "Age", "TEXT", field_key="contact.age")
    state.add_custom_field(
        LOCATION,
        "Have you had this treatment before?",
        "TEXT",
        field_key="contact.prior_treatment",
    )
    state.add_custom_field(LOCATION, "Sessions", "TEXT", field_key="contact.commitment")
    return fake


def worker_environment(
    base_url: str, webhook_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    environment.update(
        {
            "LEADSCORE_CRM": "gohighlevel",
            "LEADSCORE_ACCOUNT_ID": LOCATION,
            "LEADSCORE_GHL_TOKEN": TOKEN,
            "LEADSCORE_CRM_BASE_URL": base_url,
            "LEADSCORE_DATABASE_URL": f"sqlite:///{workdir / 'leadscore.db'}",
            "LEADSCORE_HEARTBEAT_FILE": str(workdir / "leadscore.heartbeat"),
            "LEADSCORE_LOG_FORMAT": "json",
            "LEADSCORE_ALERT_CHANNELS": "webhook",
            "LEADSCORE_ALERT_WEBHOOK_URL": webhook_url,
            "LEADSCORE_ALERT_DAILY_CAP": "0",
        }
    )
    # Without these options the worker keeps its default schedule.
    if args.sync_interval is not None:
        environment["LEADSCORE_SYNC_INTERVAL_SECONDS"] = str(args.sync_interval)
    if args.outbox_interval is not None:
        environment["LEADSCORE_OUTBOX_INTERVAL_SECONDS"] = str(args.outbox_interval)
    return environment


def add_hot_lead(fake: FakeGoHighLevel, number: int) -> None:
    with fake.state.lock:
        fake.state.add_contact(
            LOCATION,
            contact_id=f"ctBench{number:02d}",
            firstName=f"Bench{number:02d}",
            email=f"bench{number:02d}@example.com",
            phone=f"+1555010{number:02d}",
            custom={
                "contact.timeline": "This week",
                "contact.budget": "$1,500",
                "contact.treatment": "Botox",
                "contact.age": "35",
            },
        )


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values`."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def wait_for(predicate, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20, help="Hot leads to add.")
    parser.add_argument(
        "--window", type=float, default=240.0, help="Seconds over which the leads arrive."
    )
    parser.add_argument(
        "--sync-interval",
        type=int,
        default=None,
        help="Seconds between sync cycles. Default: the worker's default (60).",
    )
    parser.add_argument(
        "--outbox-interval",
        type=int,
        default=None,
        help="Seconds between outbox runs. Default: the worker's default (30).",
    )
    args = parser.parse_args()

    fake = build_fake()
    receiver = start_webhook_receiver()
    leadscore = str(Path(sys.executable).parent / "leadscore")
    with tempfile.TemporaryDirectory() as tmp, fake.serve() as base_url:
        workdir = Path(tmp)
        environment = worker_environment(base_url, receiver.url, workdir, args)
        setup = subprocess.run(
            [leadscore, "setup"],
            cwd=workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if setup.returncode != 0:
            print("leadscore setup failed:\n" + setup.stdout + setup.stderr)
            return 1
        log_path = workdir / "worker.log"
        with log_path.open("w") as log_file:
            worker = subprocess.Popen(
                [leadscore, "run"],
                cwd=workdir,
                env=environment,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                heartbeat = workdir / "leadscore.heartbeat"
                if not wait_for(heartbeat.exists, STARTUP_TIMEOUT):
                    print("the worker wrote no heartbeat; its log:\n" + log_path.read_text())
                    return 1
                rng = random.Random(SEED)
                offsets = sorted(rng.uniform(0, args.window) for _ in range(args.leads))
                start = time.time()
                created: dict[str, float] = {}
                for number, offset in enumerate(offsets, start=1):
                    time.sleep(max(0.0, start + offset - time.time()))
                    add_hot_lead(fake, number)
                    created[f"Bench{number:02d}"] = time.time()
                wait_for(lambda: len(receiver.requests) >= args.leads, DRAIN_TIMEOUT)
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
    stop_webhook_receiver(receiver)

    latencies: dict[str, float] = {}
    for request in receiver.requests:
        name = request.json()["text"].split("Hot lead: ", 1)[1].split(" ", 1)[0].rstrip(",")
        if name in created and name not in latencies:
            latencies[name] = request.received_at - created[name]
    missing = sorted(set(created) - set(latencies))
    values = list(latencies.values())
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(f"leads: {len(created)}, alerts received: {len(values)}, missing: {missing or 'none'}")
    print(f"webhook requests: {len(receiver.requests)} (a repeat would show here)")
    if values:
        print(f"latency p50: {percentile(values, 0.50):.1f} s")
        print(f"latency p95: {percentile(values, 0.95):.1f} s")
        print(f"latency min: {min(values):.1f} s, max: {max(values):.1f} s")
    return 0 if not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())

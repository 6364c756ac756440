"""A worker killed between sending and recording: at most one repeat, with the same key."""

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.alerts import build_channels, deliver_pending
from tests.alerts.conftest import ACCOUNT, delivery_rows, make_settings, record_first_score
from tests.alerts.crash_worker import LoopbackCrm
from tests.alerts.servers import start_webhook_receiver, stop_webhook_receiver

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
LEASE_SECONDS = 120


@pytest.fixture
def crm_endpoint():
    """A loopback CRM task endpoint that creates one task per Idempotency-Key header."""
    server = start_webhook_receiver()
    yield server
    stop_webhook_receiver(server)


def run_crashing_worker(database_url: str, settings: dict, now: datetime, crm_url: str):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.alerts.crash_worker",
            database_url,
            json.dumps(settings),
            now.isoformat(),
            crm_url,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("channel", ["webhook", "crm"], ids=["webhook", "crm-task"])
def test_killed_worker_redelivers_once_with_same_key(
    engine, model, receiver, crm_endpoint, channel
):
    values = {"channels": channel, "webhook_url": receiver.url, "lease_seconds": LEASE_SECONDS}
    settings = make_settings(**values)
    alert_id = record_first_score(engine, model, settings, START, score=90)

    database_url = engine.url.render_as_string(hide_password=False)
    result = run_crashing_worker(database_url, values, START, crm_endpoint.url)
    assert result.returncode == -signal.SIGKILL, result.stderr
    [delivery] = delivery_rows(engine)
    assert delivery.status == "sending"
    assert delivery.attempts == 1
    assert delivery.lease_until == START + timedelta(seconds=LEASE_SECONDS)

    assert len(receiver.requests) + len(crm_endpoint.requests) == 1

    # While the lease lasts, no other run sends it again.
    channels = build_channels(settings, {ACCOUNT: LoopbackCrm(crm_endpoint.url)})
    still_leased = START + timedelta(seconds=LEASE_SECONDS - 1)
    assert deliver_pending(engine, channels, still_leased, settings).results == []

    report = deliver_pending(engine, channels, START + timedelta(seconds=LEASE_SECONDS), settings)
    assert report.sent == 1
    [delivery] = delivery_rows(engine)
    assert delivery.status == "sent"
    assert delivery.attempts == 2
    key = f"leadscore-alert-{alert_id}-{channel}"
    if channel == "webhook":
        keys = [request.headers["X-Leadscore-Idempotency-Key"] for request in receiver.requests]
        assert keys == [key, key]
    else:
        keys = [request.headers["Idempotency-Key"] for request in crm_endpoint.requests]
        assert keys == [key, key]
        assert list(crm_endpoint.tasks) == [key]
        assert delivery.receipt == "task-1"

    # Sent is final: later runs send nothing more.
    assert deliver_pending(engine, channels, START + timedelta(hours=1), settings).results == []
    assert len(receiver.requests) <= 2

"""The daemon: jobs, heartbeat, per-account pauses, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from jobs.accounts import Runtime
from jobs.daemon import OUTBOX_JOB_ID, RESCORE_JOB_ID, SYNC_JOB_ID, Daemon
from jobs.settings import Settings
from jobs.sync import SyncContext
from scoring.lead import Activity, ActivityKind, Lead
from scoring.result import Tier
from tests.jobs.fake_crm import FakeCrm, simple_score

REPO_ROOT = Path(__file__).resolve().parents[2]


def make_daemon(store, tmp_path, crms: dict[str, FakeCrm]) -> Daemon:
    settings = Settings(
        _env_file=None, heartbeat_file=tmp_path / "heartbeat", sync_interval_seconds=60
    )
    runtime = Runtime(settings=settings, store=store, contexts=[])
    for account, crm in crms.items():
        runtime.contexts.append(
            SyncContext(
                account=account,
                crm="hubspot",
                connector=crm,
                store=store,
                score=simple_score,
                stop=runtime.stop,
            )
        )
    first = next(iter(crms.values()))
    return Daemon(runtime, clock=lambda: first.clock)


def test_rate_limited_account_paused_others_synced(store, tmp_path):
    limited, healthy = FakeCrm(), FakeCrm(account_id="5678")
    limited.upsert(Lead(id="a", answers={"timeline": "This week"}))
    healthy.upsert(Lead(id="b", answers={"timeline": "This week"}))
    limited.rate_limit_after = 7200
    daemon = make_daemon(store, tmp_path, {"hubspot:1234": limited, "hubspot:5678": healthy})

    daemon.sync_all()
    heartbeat = json.loads((tmp_path / "heartbeat").read_text())

    assert healthy.records["b"].written is not None
    assert limited.write_calls == []
    assert heartbeat["accounts"]["hubspot:5678"]["ok"] is True
    assert heartbeat["accounts"]["hubspot:1234"]["paused_until"] is not None


def test_no_heartbeat_when_every_account_fails(store, tmp_path):
    crm = FakeCrm()
    crm.rate_limit_after = 5
    daemon = make_daemon(store, tmp_path, {"hubspot:1234": crm})

    daemon.sync_all()

    assert not (tmp_path / "heartbeat").exists()


def test_jobs_scheduled_with_stable_options(store, tmp_path):
    daemon = make_daemon(store, tmp_path, {"hubspot:1234": FakeCrm()})

    daemon.schedule()
    jobs = {job.id: job for job in daemon.scheduler.get_jobs()}

    assert set(jobs) >= {SYNC_JOB_ID, RESCORE_JOB_ID, OUTBOX_JOB_ID}
    for job in jobs.values():
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time is not None
    assert jobs[SYNC_JOB_ID].trigger.interval == timedelta(seconds=60)
    assert str(jobs[RESCORE_JOB_ID].trigger.timezone) == "UTC"


def test_rescore_job_applies_time_rules(store, tmp_path):
    crm = FakeCrm()
    opens = Activity(ActivityKind.EMAIL_OPEN, count=2, last_at=crm.clock)
    crm.upsert(Lead(id="a", answers={"timeline": "This week"}, activities=(opens,)))
    daemon = make_daemon(store, tmp_path, {"hubspot:1234": crm})
    daemon.sync_all()
    assert crm.records["a"].written.score == 80

    daemon.clock = lambda: crm.clock + timedelta(days=31)
    daemon.rescore_all()

    assert crm.records["a"].written.score == 60


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_daemon_stops_cleanly_on_signal(tmp_path, sig):
    heartbeat = tmp_path / "heartbeat"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # 0.2 s per page: the first cycle (20 pages) takes about 4 s, so the
    # signal below arrives in the middle of the second cycle.
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.daemon_child", store_url, str(heartbeat), "0.2"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(heartbeat.exists, timeout=30), "the first cycle never finished"
        time.sleep(0.5)
        started = time.monotonic()
        child.send_signal(sig)
        _, stderr = child.communicate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert child.returncode == 0
    assert elapsed < 5
    assert "daemon_stopping" in events
    assert events[-1] == "daemon_stopped"
    assert "Traceback" not in stderr


def test_webhook_contact_scored_between_cycles(store, tmp_path):
    import requests

    from jobs.webhooks.settings import WebhookSettings

    crm = FakeCrm()
    crm.upsert(Lead(id="w1", answers={"timeline": "This week"}))
    daemon = make_daemon(store, tmp_path, {"hubspot:1234": crm})
    daemon.settings.webhooks = WebhookSettings(
        _env_file=None,
        enabled=True,
        port=0,
        generic_tokens={"hubspot:1234": "generic-token-0123456789abcdef"},
    )

    daemon.start()
    try:
        assert wait_for((tmp_path / "heartbeat").exists, timeout=10)
        assert crm.records["w1"].written.tier is Tier.WARM
        # The lead opens emails, and only the webhook reports it before the next cycle.
        opens = Activity(ActivityKind.EMAIL_OPEN, count=3, last_at=crm.clock)
        crm.add_activity("w1", opens)
        url = daemon.webhook_service.url
        response = requests.post(
            f"{url}/webhooks/generic/hubspot:1234",
            json={"contact_id": "w1"},
            headers={"X-Leadscore-Token": "generic-token-0123456789abcdef"},
            timeout=5,
        )
        scored = wait_for(lambda: crm.records["w1"].written.tier is Tier.HOT, timeout=10)
        health = requests.get(f"{url}/healthz", timeout=5)
    finally:
        daemon.stop()

    assert response.status_code == 200
    assert scored
    assert "w1" in crm.fetch_calls
    assert health.status_code == 200
    assert health.json()["heartbeat"]["ok"] is True


def test_second_daemon_with_same_heartbeat_exits(store, tmp_path):
    first = make_daemon(store, tmp_path, {"hubspot:1234": FakeCrm()})
    second = make_daemon(store, tmp_path, {"hubspot:1234": FakeCrm()})

    first.start()
    try:
        code = second.run()
    finally:
        first.stop()
    third = make_daemon(store, tmp_path, {"hubspot:1234": FakeCrm()})
    third.start()
    third.stop()

    assert code == 1
    assert (tmp_path / "heartbeat.lock").read_text().strip().isdigit()


@pytest.mark.slow
def test_webhook_alert_sent_before_outbox_interval(tmp_path):
    from tests.webhooks.e2e import running_worker

    # The outbox and the drain run hourly on their timers, so only wake-ups can be this fast.
    with running_worker(
        tmp_path, outbox_interval_seconds=3600, drain_interval_seconds=3600
    ) as worker:
        contact_id = worker.add_hot_lead("Wakehot")
        sent_at = time.monotonic()
        response = worker.send_contact_webhook(contact_id)
        alerted_at = worker.wait_for_alert("Wakehot", timeout=10)

    assert response.status_code == 200
    assert alerted_at is not None
    assert alerted_at - sent_at < 5


@pytest.mark.slow
def test_sync_alert_sent_before_outbox_interval(tmp_path):
    from tests.webhooks.e2e import running_worker

    with running_worker(
        tmp_path, webhooks=False, sync_interval_seconds=3600, outbox_interval_seconds=3600
    ) as worker:
        worker.add_hot_lead("Synchot")
        synced_at = time.monotonic()
        worker.daemon.sync_all()
        alerted_at = worker.wait_for_alert("Synchot", timeout=10)
        wakeups = worker.daemon.outbox_job.wakeups

    assert alerted_at is not None
    assert alerted_at - synced_at < 5
    assert wakeups >= 1


def test_sync_without_alerts_leaves_outbox_asleep(store, tmp_path):
    crm = FakeCrm()
    crm.upsert(Lead(id="a", answers={"timeline": "This week"}))
    daemon = make_daemon(store, tmp_path, {"hubspot:1234": crm})

    daemon.sync_all()

    assert crm.records["a"].written is not None
    assert daemon.outbox_job.wakeups == 0


def test_outbox_job_crash_logged_under_own_name(store, tmp_path, monkeypatch):
    from structlog.testing import capture_logs

    import jobs.alerts
    from jobs.alerts.settings import AlertSettings

    def failing_delivery(*args, **kwargs):
        raise RuntimeError("store unavailable")

    daemon = make_daemon(store, tmp_path, {"hubspot:1234": FakeCrm()})
    daemon.settings.alerts = AlertSettings(
        _env_file=None, channels="webhook", webhook_url="http://127.0.0.1:9/hook"
    )
    monkeypatch.setattr(jobs.alerts, "deliver_pending", failing_delivery)

    with capture_logs() as logs:
        daemon.deliver_outbox()

    events = [entry["event"] for entry in logs]
    assert "alert_outbox_job_failed" in events
    assert "alert_delivery_failed" not in events

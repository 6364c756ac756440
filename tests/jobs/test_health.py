"""The heartbeat file and the stale check behind `leadscore health`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.health import check_heartbeat, read_health, write_heartbeat
from jobs.settings import Settings

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_fresh_heartbeat_healthy(tmp_path):
    path = tmp_path / "run" / "heartbeat"
    write_heartbeat(path, now=NOW, accounts={"hubspot:1": {"ok": True}})

    status = check_heartbeat(path, max_age_seconds=180, now=NOW + timedelta(seconds=60))

    assert status.ok
    assert status.age_seconds == 60
    assert status.accounts == {"hubspot:1": {"ok": True}}


def test_heartbeat_goes_stale_after_three_intervals(tmp_path):
    path = tmp_path / "heartbeat"
    settings = Settings(_env_file=None, heartbeat_file=path, sync_interval_seconds=60)
    write_heartbeat(path, now=NOW, accounts={})

    fresh = read_health(settings, now=NOW + timedelta(seconds=179))
    stale = read_health(settings, now=NOW + timedelta(seconds=181))

    assert fresh.ok
    assert not stale.ok
    assert "more than 180 s" in stale.detail


def test_missing_heartbeat_unhealthy(tmp_path):
    status = check_heartbeat(tmp_path / "none", max_age_seconds=180, now=NOW)

    assert not status.ok
    assert "not found" in status.detail
    assert "has not finished a successful sync cycle" in status.detail


def test_corrupt_heartbeat_unhealthy(tmp_path):
    path = tmp_path / "heartbeat"
    path.write_text("{not json", encoding="utf-8")

    status = check_heartbeat(path, max_age_seconds=180, now=NOW)

    assert not status.ok
    assert "invalid" in status.detail

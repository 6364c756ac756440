"""The worker's commands against the fake HubSpot served on loopback HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot

PORTAL = "62515"


@pytest.fixture
def fake() -> FakeHubSpot:
    fake = FakeHubSpot(portal_id=PORTAL, burst_limit=1000)
    # Properties the built-in model maps that the fake's standard set lacks.
    for name, label, template in (
        ("commitment", "How many sessions are you considering?", "firstname"),
        ("hs_analytics_source", "Original Source", "firstname"),
    ):
        fake.properties[name] = {**fake.properties[template], "name": name, "label": label}
    for number in range(5):
        ready = number < 2
        fake.add_contact(
            {
                "firstname": f"Lead {number}",
                "booking_timeline": "this_week" if ready else "just_researching",
                "budget": "over_1500" if ready else "under_300",
                "treatment_interest": "botox",
                "had_treatment_before": "true",
                "age": "35",
            }
        )
    return fake


@pytest.fixture
def base_url(fake) -> Iterator[str]:
    with fake.serve() as url:
        yield url
    assert fake.spec_problems == []


@pytest.fixture
def env(base_url, tmp_path) -> dict[str, str]:
    return {
        "LEADSCORE_CRM": "hubspot",
        "LEADSCORE_ACCOUNT_ID": PORTAL,
        "LEADSCORE_HUBSPOT_TOKEN": DEFAULT_TOKEN,
        "LEADSCORE_CRM_BASE_URL": base_url,
        "LEADSCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "LEADSCORE_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
        "LEADSCORE_SYNC_INTERVAL_SECONDS": "5",
        "LEADSCORE_LOG_FORMAT": "json",
        "COLUMNS": "160",
    }


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def test_setup_creates_fields_then_finds_them(env, fake):
    first = invoke(env, "setup")
    second = invoke(env, "setup")

    assert first.exit_code == 0, first.output
    assert "+ created property leadscore_score" in first.output
    assert "leadscore_score" in fake.properties
    assert second.exit_code == 0, second.output
    assert "+ created" not in second.output


def test_doctor_passes_with_good_settings(env):
    invoke(env, "setup")

    result = invoke(env, "doctor")

    assert result.exit_code == 0, result.output
    assert "✓ state store" in result.output
    assert "✗" not in result.output


def test_doctor_fails_with_wrong_token(env):
    result = invoke({**env, "LEADSCORE_HUBSPOT_TOKEN": "pat-na1-wrong-token-123456"}, "doctor")

    assert result.exit_code == 1
    assert "✗" in result.output
    assert "fix:" in result.output
    assert "wrong-token" not in result.output


def test_doctor_reports_missing_settings(env):
    result = invoke({**env, "LEADSCORE_CRM": ""}, "doctor")

    assert result.exit_code == 1
    assert "no CRM account configured" in result.output
    assert "fix: set LEADSCORE_CRM and LEADSCORE_ACCOUNT_ID" in result.output
    assert "LEADSCORE_ACCOUNTS_FILE" in result.output.split("fix:")[1]


def test_doctor_unknown_account_suggests_keys(env):
    result = invoke(env, "doctor", "--account", "nosuch")

    assert result.exit_code == 1
    assert "account 'nosuch' not found; configured accounts: hubspot:62515" in result.output
    assert "fix: pass one of the listed account keys to --account" in result.output


def test_backfill_dry_run_prints_tiers_and_writes_nothing(env, fake, tmp_path):
    invoke(env, "setup")
    calls_before = len(fake.calls_to("POST", r"/batch/update"))

    result = invoke(env, "backfill", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would write 5" in result.output
    assert "Sample of changes" in result.output
    assert len(fake.calls_to("POST", r"/batch/update")) == calls_before
    assert all(fake.contact(i).get("leadscore_score") is None for i in fake.objects["contacts"])


def test_backfill_writes_scores(env, fake):
    invoke(env, "setup")

    result = invoke(env, "backfill")

    assert result.exit_code == 0, result.output
    tiers = sorted(fake.contact(i).get("leadscore_tier") for i in fake.objects["contacts"])
    assert tiers == ["cold", "cold", "cold", "hot", "hot"]


def test_invalid_settings_exit_two(env):
    result = invoke({**env, "LEADSCORE_SYNC_INTERVAL_SECONDS": "soon"}, "backfill")

    assert result.exit_code == 2
    assert "LEADSCORE_SYNC_INTERVAL_SECONDS='soon' (from the environment)" in result.output
    assert "errors.pydantic.dev" not in result.output


def test_doctor_invalid_crm_prints_one_line(env):
    result = invoke({**env, "LEADSCORE_CRM": "hubspott"}, "doctor")

    assert result.exit_code == 2
    assert "LEADSCORE_CRM='hubspott' (from the environment) is invalid" in result.output
    assert "expected 'hubspot' or 'gohighlevel'" in result.output
    assert "validation error" not in result.output


def write_heartbeat_at(path: Path, moment: datetime) -> None:
    path.write_text(json.dumps({"updated_at": moment.isoformat(), "accounts": {}}))


@pytest.mark.parametrize(
    ("age", "exit_code"),
    [(timedelta(seconds=5), 0), (timedelta(seconds=16), 1)],
    ids=["fresh", "stale"],
)
def test_health_exit_code_follows_heartbeat_age(env, tmp_path, age, exit_code):
    write_heartbeat_at(tmp_path / "heartbeat", datetime.now(UTC) - age)

    result = invoke(env, "health", "--json")

    assert result.exit_code == exit_code, result.output
    assert json.loads(result.output)["ok"] is (exit_code == 0)


@pytest.mark.slow
def test_run_syncs_beats_and_stops_on_sigterm(env, fake, tmp_path):
    invoke(env, "setup")
    heartbeat = tmp_path / "heartbeat"
    child = subprocess.Popen(
        [sys.executable, "-c", "from jobs.cli import main; main()", "run"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not heartbeat.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        beat_seen = heartbeat.exists()
        healthy = invoke(env, "health")
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=15)
        stop_seconds = time.monotonic() - started
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    names = [event["event"] for event in events]
    cycle = next(event for event in events if event["event"] == "sync_cycle_finished")
    assert beat_seen
    assert healthy.exit_code == 0
    assert child.returncode == 0
    assert stop_seconds < 5
    assert names[-1] == "daemon_stopped"
    assert cycle["written"] == 5
    assert cycle["account"] == f"hubspot:{PORTAL}"
    assert DEFAULT_TOKEN not in stderr


def test_setup_check_only_creates_nothing(env, fake):
    result = invoke(env, "setup", "--check-only")

    assert result.exit_code == 1
    assert "leadscore is missing" in result.output
    assert "+ created" not in result.output
    assert "leadscore_score" not in fake.properties


def test_doctor_reports_unreachable_store(env):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"postgresql://leadscore@127.0.0.1:{closed_port}/leadscore"

    result = invoke({**env, "LEADSCORE_DATABASE_URL": url}, "doctor")

    assert result.exit_code == 1
    assert "✗ state store" in result.output
    assert "LEADSCORE_DATABASE_URL" in result.output


WRONG_TOKEN = "pat-na1-wrong-token-123456"


@pytest.mark.parametrize("flags", [["--dry-run"], []], ids=["dry_run", "writing"])
def test_backfill_failure_exits_one_without_hint(env, flags):
    result = invoke({**env, "LEADSCORE_HUBSPOT_TOKEN": WRONG_TOKEN}, "backfill", *flags)

    assert result.exit_code == 1, result.output
    assert "HTTP 401" in result.output
    assert "resume" not in result.output
    assert "Nothing was saved" in result.output


def test_backfill_failure_after_page_prints_hint(env, fake):
    for number in range(150):
        fake.add_contact({"firstname": f"Extra {number}"})
    invoke(env, "setup")
    first = invoke(env, "backfill", "--limit", "100")

    second = invoke({**env, "LEADSCORE_HUBSPOT_TOKEN": WRONG_TOKEN}, "backfill")

    assert first.exit_code == 1, first.output
    assert second.exit_code == 1, second.output
    assert "Progress is saved (1 page, 100 contacts)" in second.output
    assert "run the same command again to resume" in second.output


def test_dry_run_failure_claims_no_progress(env, fake):
    for number in range(150):
        fake.add_contact({"firstname": f"Extra {number}"})
    invoke(env, "setup")
    invoke(env, "backfill", "--limit", "100")

    result = invoke({**env, "LEADSCORE_HUBSPOT_TOKEN": WRONG_TOKEN}, "backfill", "--dry-run")

    assert result.exit_code == 1, result.output
    assert "Progress is saved" not in result.output
    assert "a dry run saves nothing" in result.output


def closed_loopback_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_doctor_fails_fast_when_crm_refuses(env):
    url = f"http://127.0.0.1:{closed_loopback_port()}"
    started = time.monotonic()

    result = invoke({**env, "LEADSCORE_CRM_BASE_URL": url}, "doctor")

    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert elapsed < 10
    assert result.output.count("✗") == 1
    assert f"connection to {url} failed" in result.output
    assert "fix: check the CRM base URL (LEADSCORE_CRM_BASE_URL" in result.output
    assert "LEADSCORE_HUBSPOT_TOKEN" not in result.output
    assert "crm.schemas.contacts.read" not in result.output
    assert "skipped: fix the connection first" in result.output


def test_doctor_reports_401_once(env):
    result = invoke({**env, "LEADSCORE_HUBSPOT_TOKEN": WRONG_TOKEN}, "doctor")

    assert result.exit_code == 1, result.output
    assert result.output.count("HTTP 401") == 1
    assert result.output.count("fix:") == 1
    assert "skipped: fix the token first" in result.output
    assert "1 check(s) failed." in result.output


def test_doctor_warns_without_deals_scope(env, fake):
    invoke(env, "setup")
    fake.tokens = {
        DEFAULT_TOKEN: (frozenset({"crm.objects.contacts.read", "crm.schemas.contacts.read"}), None)
    }

    result = invoke(env, "doctor")

    assert result.exit_code == 0, result.output
    assert "✗" not in result.output
    assert "! hubspot deals read scope  warning:" in result.output
    assert "booking outcomes from deal stages" in result.output
    assert "1 warning(s)" in result.output


def test_doctor_does_not_create_default_store(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = invoke({**env, "LEADSCORE_CRM": "", "LEADSCORE_DATABASE_URL": None}, "doctor")

    assert result.exit_code == 1, result.output
    assert not (tmp_path / "leadscore.db").exists()
    assert f"SQLite file {tmp_path / 'leadscore.db'} does not exist yet" in result.output
    assert "✓ state store" in result.output


def test_doctor_reports_store_path_under_a_file(env, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'store.db'}"

    result = invoke({**env, "LEADSCORE_DATABASE_URL": url}, "doctor")

    assert result.exit_code == 1, result.output
    assert "✗ state store" in result.output
    assert f"{blocker} is not a directory" in result.output


def test_doctor_logs_no_info_events(env, tmp_path):
    invoke(env, "setup")

    result = invoke(env, "doctor")

    assert result.exit_code == 0, result.output
    assert f"✓ state store  SQLite file {tmp_path / 'store.db'}" in result.output
    assert "store_opened" not in result.output
    assert '"event"' not in result.output


def test_doctor_verbose_logs_info_events(env):
    invoke(env, "setup")

    result = invoke(env, "--verbose", "doctor")

    assert result.exit_code == 0, result.output
    assert '"event": "store_opened"' in result.output


def test_backfill_logs_info_events(env):
    invoke(env, "setup")

    result = invoke(env, "backfill")

    assert result.exit_code == 0, result.output
    assert '"event": "backfill_finished"' in result.output


def test_backfill_dry_run_creates_no_store_file(env, fake, tmp_path):
    store_file = tmp_path / "store.db"

    result = invoke(env, "backfill", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would write 5" in result.output
    assert not store_file.exists()
    assert not (tmp_path / "store.db-wal").exists()


def test_backfill_dry_run_reads_existing_store(env, fake, tmp_path):
    invoke(env, "setup")
    invoke(env, "backfill", "--limit", "2")
    store_file = tmp_path / "store.db"
    size_before = store_file.stat().st_size

    result = invoke(env, "backfill", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would write 3" in result.output
    assert store_file.stat().st_size == size_before


def accounts_env(env: dict[str, str], tmp_path: Path, options: str = "") -> dict[str, str]:
    """Point the env at an accounts file: the fake HubSpot portal and a GoHighLevel location."""
    accounts_file = tmp_path / "accounts.toml"
    accounts_file.write_text(
        f'[[accounts]]\ncrm = "hubspot"\nid = "{PORTAL}"\nname = "Austin"\n'
        f'token_env = "HS_TOKEN_AUSTIN"\nbase_url = "{env["LEADSCORE_CRM_BASE_URL"]}"\n'
        f"{options}"
        '[[accounts]]\ncrm = "gohighlevel"\nid = "loc-dallas"\ntoken_env = "GHL_TOKEN_DALLAS"\n',
        encoding="utf-8",
    )
    return {
        **env,
        "LEADSCORE_CRM": "",
        "LEADSCORE_ACCOUNTS_FILE": str(accounts_file),
        "HS_TOKEN_AUSTIN": DEFAULT_TOKEN,
    }


def test_doctor_account_skips_other_secrets(env, tmp_path):
    environ = accounts_env(env, tmp_path)
    invoke(environ, "setup", "--account", "Austin")

    result = invoke(environ, "doctor", "--account", "Austin")

    assert result.exit_code == 0, result.output
    assert "GHL_TOKEN_DALLAS" not in result.output


def test_backfill_account_skips_other_secrets(env, tmp_path):
    environ = accounts_env(env, tmp_path)

    result = invoke(environ, "backfill", "--account", "Austin", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would write 5" in result.output


def test_doctor_option_typo_names_file_and_key(env, tmp_path):
    environ = accounts_env(env, tmp_path, options="[accounts.options]\noverlap_secnds = 60\n")

    result = invoke(environ, "doctor", "--account", "Austin")

    assert result.exit_code == 1
    assert f"accounts file {tmp_path / 'accounts.toml'}" in result.output
    assert "fix: rename overlap_secnds to overlap_seconds" in result.output

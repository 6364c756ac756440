"""A real `leadscore backfill` process against the fake HubSpot on loopback, killed part-way.

A second run resumes the killed one. The CRM must end in the same state as
after one uninterrupted run, and no lead may have two alerts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from connectors.hubspot import HubSpotConfig, HubSpotConnector
from jobs.modelfile import load_model
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot

PORTAL = "62515"
CONTACTS = 450  # five pages of 100
SCORE_PROPERTIES = ("leadscore_score", "leadscore_fit", "leadscore_intent", "leadscore_tier")
# Each request to the slowed fake takes this long, so the kill lands mid-run.
SLOW_REQUEST_SECONDS = 0.15

pytestmark = pytest.mark.slow


def make_fake() -> FakeHubSpot:
    fake = FakeHubSpot(portal_id=PORTAL, burst_limit=1000)
    for number in range(CONTACTS):
        ready = number % 3 == 0
        fake.add_contact(
            {
                "firstname": f"Lead {number}",
                "email": f"lead{number}@example.com",
                "booking_timeline": "this_week" if ready else "just_researching",
                "budget": "over_1500" if ready else "under_300",
                "treatment_interest": "botox",
                "had_treatment_before": "true",
                "age": "35",
            }
        )
    return fake


def slow_down(fake: FakeHubSpot) -> None:
    handle = fake.handle

    def slow_handle(request):
        time.sleep(SLOW_REQUEST_SECONDS)
        return handle(request)

    fake.handle = slow_handle


def create_score_properties(base_url: str) -> None:
    config = HubSpotConfig(portal_id=PORTAL, token=SecretStr(DEFAULT_TOKEN), base_url=base_url)
    connector = HubSpotConnector(config, load_model(None).mapping)
    try:
        connector.setup(apply=True)
    finally:
        connector.close()


def backfill_env(base_url: str, store: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADSCORE_")}
    env.update(
        LEADSCORE_CRM="hubspot",
        LEADSCORE_ACCOUNT_ID=PORTAL,
        LEADSCORE_HUBSPOT_TOKEN=DEFAULT_TOKEN,
        LEADSCORE_CRM_BASE_URL=base_url,
        LEADSCORE_DATABASE_URL=f"sqlite:///{store}",
        LEADSCORE_HEARTBEAT_FILE=str(store.parent / "heartbeat"),
        LEADSCORE_LOG_FORMAT="json",
        LEADSCORE_ALERT_CHANNELS="crm",
    )
    return env


def leadscore(*args: str) -> list[str]:
    return [sys.executable, "-c", "from jobs.cli import main; main()", *args]


def saved_pages(store: Path) -> int:
    if not store.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{store}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT pages FROM backfill_progress")).scalar() or 0
    except sa.exc.OperationalError:  # the table is not created yet
        return 0
    finally:
        engine.dispose()


def crm_scores(fake: FakeHubSpot) -> dict[str, tuple]:
    return {
        contact_id: tuple(record.properties.get(name) for name in SCORE_PROPERTIES)
        for contact_id, record in fake.objects["contacts"].items()
    }


def alert_contacts(store: Path) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{store}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT contact_id FROM alerts WHERE kind = 'lead'")).all()
    engine.dispose()
    return [row.contact_id for row in rows]


def test_killed_backfill_resumes_to_same_crm_state(tmp_path):
    interrupted, reference = make_fake(), make_fake()
    slow_down(interrupted)
    interrupted_store = tmp_path / "interrupted" / "leadscore.db"
    reference_store = tmp_path / "reference" / "leadscore.db"

    with interrupted.serve() as base_url:
        create_score_properties(base_url)
        env = backfill_env(base_url, interrupted_store)
        child = subprocess.Popen(
            leadscore("backfill", "--alerts"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while saved_pages(interrupted_store) < 2 and time.monotonic() < deadline:
            if child.poll() is not None:
                break
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        pages_before_kill = saved_pages(interrupted_store)
        child.stderr.close()

        resumed = subprocess.run(
            leadscore("backfill", "--alerts"), env=env, capture_output=True, text=True, timeout=120
        )

    assert child.returncode == -signal.SIGKILL
    assert 2 <= pages_before_kill < 5
    assert resumed.returncode == 0, resumed.stderr
    assert "backfill_resumed" in resumed.stderr

    with reference.serve() as base_url:
        create_score_properties(base_url)
        uninterrupted = subprocess.run(
            leadscore("backfill", "--alerts"),
            env=backfill_env(base_url, reference_store),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    scores = crm_scores(interrupted)
    assert all(value[0] is not None for value in scores.values())
    assert scores == crm_scores(reference)
    alerted = alert_contacts(interrupted_store)
    assert len(alerted) == len(set(alerted))
    assert sorted(alerted) == sorted(alert_contacts(reference_store))
    assert len(alerted) == CONTACTS // 3

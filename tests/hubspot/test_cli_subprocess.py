"""`leadscore setup`, `backfill` and `doctor` in a subprocess against the fake over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served():
    fake = FakeHubSpot()
    # The built-in model also maps a "commitment" form question.
    fake.properties["commitment"] = {
        **fake.properties["age"],
        "name": "commitment",
        "label": "How many sessions are you considering?",
    }
    fake.add_contact(
        {
            "firstname": "Jane",
            "email": "jane.doe@example.com",
            "booking_timeline": "This week",
            "budget": "$1,500",
            "treatment_interest": "botox",
        }
    )
    fake.add_contact({"firstname": "Sam", "booking_timeline": "Just researching"})
    with fake.serve() as base_url:
        yield fake, base_url
    assert fake.spec_problems == []


def run_cli(args, base_url, tmp_path):
    env = {
        **os.environ,
        "LEADSCORE_CRM": "hubspot",
        "LEADSCORE_ACCOUNT_ID": "62515",
        "LEADSCORE_HUBSPOT_TOKEN": DEFAULT_TOKEN,
        "LEADSCORE_CRM_BASE_URL": base_url,
        "LEADSCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "LEADSCORE_HEARTBEAT_FILE": str(tmp_path / "heartbeat"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-c", "from jobs.cli import main; main()", *args]
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def test_setup_backfill_and_doctor_over_http(served, tmp_path):
    fake, base_url = served
    setup = run_cli(["setup"], base_url, tmp_path)
    backfill = run_cli(["backfill"], base_url, tmp_path)
    doctor = run_cli(["doctor"], base_url, tmp_path)

    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "leadscore_score" in fake.properties
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    scores = [c.properties.get("leadscore_score") for c in fake.objects["contacts"].values()]
    assert all(score is not None for score in scores)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    output = doctor.stdout + doctor.stderr
    assert "✓ hubspot connection, token and contacts read scope" in output
    assert "✓ hubspot field mapping" in output
    assert DEFAULT_TOKEN not in output + setup.stdout + setup.stderr + backfill.stderr

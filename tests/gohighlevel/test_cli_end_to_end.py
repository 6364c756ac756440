"""`leadscore setup`, `backfill` and `doctor` in a subprocess against the fake on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.gohighlevel import FakeGoHighLevel
from tests.gohighlevel.conftest import LOCATION, SPEC_VALIDATOR, TOKEN


def _served_fake() -> FakeGoHighLevel:
    fake = FakeGoHighLevel(validator=SPEC_VALIDATOR)
    state = fake.state
    state.add_location(LOCATION)
    state.issue_token(LOCATION, value=TOKEN)
    state.add_custom_field(
        LOCATION,
        "Timeline",
        "SINGLE_OPTIONS",
        options=["This week", "Within a month", "Just researching"],
    )
    state.add_custom_field(LOCATION, "Budget", "TEXT")
    state.add_custom_field(LOCATION, "Treatment", "TEXT")
    # The built-in model also maps these; a location without them fails setup.
    state.add_custom_field(LOCATION, "Previous Treatments", "TEXT")
    state.add_custom_field(LOCATION, "Sessions", "TEXT")
    state.add_custom_field(LOCATION, "Age", "NUMERICAL")
    answers = [
        ("hot1", "This week", "$1,500", "Botox"),
        ("warm1", "Within a month", "$600", "Filler"),
        ("cold1", "Just researching", "", "Laser hair removal"),
    ]
    for contact_id, timeline, budget, treatment in answers:
        state.add_contact(
            LOCATION,
            contact_id=contact_id,
            firstName=contact_id.title(),
            email=f"{contact_id}@example.com",
            custom={
                "contact.timeline": timeline,
                "contact.budget": budget,
                "contact.treatment": treatment,
            },
        )
    return fake


def _env(base_url: str, tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADSCORE_")}
    env.update(
        LEADSCORE_CRM="gohighlevel",
        LEADSCORE_ACCOUNT_ID=LOCATION,
        LEADSCORE_GHL_TOKEN=TOKEN,
        LEADSCORE_CRM_BASE_URL=base_url,
        LEADSCORE_DATABASE_URL=f"sqlite:///{tmp_path / 'leadscore.db'}",
        LEADSCORE_HEARTBEAT_FILE=str(tmp_path / "heartbeat"),
        LEADSCORE_LOG_FORMAT="json",
    )
    return env


def _leadscore(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from jobs.cli import main; main()", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_setup_backfill_doctor_against_served_fake(tmp_path: Path) -> None:
    fake = _served_fake()

    with fake.serve() as base_url:
        env = _env(base_url, tmp_path)
        setup = _leadscore(env, tmp_path, "setup")
        backfill = _leadscore(env, tmp_path, "backfill")
        doctor = _leadscore(env, tmp_path, "doctor")

    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "created contact.lead_score" in setup.stdout
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    scores = {
        contact_id: fake.state.custom_value(LOCATION, contact_id, "contact.lead_score")
        for contact_id in ("hot1", "warm1", "cold1")
    }
    assert all(isinstance(score, int) for score in scores.values()), scores
    assert scores["hot1"] > scores["cold1"]
    tiers = fake.state.custom_value(LOCATION, "hot1", "contact.lead_tier")
    assert tiers in ("Hot", "Warm", "Cold", "Disqualified")
    assert all(request.status < 400 for request in fake.requests), [
        (r.method, r.path, r.status) for r in fake.requests if r.status >= 400
    ]
    assert TOKEN not in setup.stderr + backfill.stderr + doctor.stderr
    assert "hot1@example.com" not in backfill.stderr

"""The sync and the daemon's jobs end to end against the stateful fake HubSpot.

The connector is built from settings as `leadscore run` builds it, with the
built-in model, a SQLite store, deal stages by tier and the real alert outbox
delivering to the CRM channel (a HubSpot task).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import responses
import sqlalchemy as sa

from jobs.accounts import build_runtime
from jobs.alerts.tables import alerts
from jobs.daemon import Daemon
from jobs.settings import Settings
from jobs.sync import run_cycle
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot

PORTAL = "62515"
BASE_URL = "https://api.hubapi.com"
STAGES = {"hot": "appointmentscheduled", "warm": "qualifiedtobuy", "cold": "presentationscheduled"}


def lead_properties(timeline: str, budget: str) -> dict[str, str]:
    return {
        "firstname": "Jane",
        "email": "jane@example.com",
        "booking_timeline": timeline,
        "budget": budget,
        "treatment_interest": "botox",
        "had_treatment_before": "true",
        "age": "35",
    }


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(portal_id=PORTAL, burst_limit=1000)
    yield fake
    assert fake.spec_problems == []


@pytest.fixture
def runtime(fake, tmp_path):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock, BASE_URL)
        settings = Settings(
            _env_file=None,
            crm="hubspot",
            account_id=PORTAL,
            hubspot_token=DEFAULT_TOKEN,
            database_url=f"sqlite:///{tmp_path / 'store.db'}",
            heartbeat_file=tmp_path / "heartbeat",
            pipeline_id="default",
            hot_stage=STAGES["hot"],
            warm_stage=STAGES["warm"],
            cold_stage=STAGES["cold"],
        )
        built = build_runtime(settings)
        built.contexts[0].connector.setup(apply=True)
        yield built
        built.close()


def deal_stage(fake: FakeHubSpot, contact_id: str) -> str | None:
    deal_ids = fake.associations.get(("contacts", contact_id, "deals"), {})
    stages = [fake.objects["deals"][deal_id].properties.get("dealstage") for deal_id in deal_ids]
    return stages[0] if len(stages) == 1 else None


def test_new_hot_lead_synced_in_one_cycle(fake, runtime):
    contact_id = fake.add_contact(lead_properties("this_week", "over_1500"))
    [ctx] = runtime.contexts

    report = run_cycle(ctx)

    properties = fake.contact(contact_id)
    assert report.ok
    assert report.stats.errors == 0
    assert properties["leadscore_tier"] == "hot"
    assert int(float(properties["leadscore_score"])) >= 80
    assert "timeline" in properties["leadscore_reasons"]
    assert deal_stage(fake, contact_id) == STAGES["hot"]
    with runtime.store.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one() == 1


def test_unchanged_second_cycle_makes_no_writes(fake, runtime):
    fake.add_contact(lead_properties("this_week", "over_1500"))
    fake.add_contact(lead_properties("just_researching", "under_300"))
    [ctx] = runtime.contexts
    run_cycle(ctx)
    writes_before = [call for call in fake.calls if call.method in ("POST", "PATCH", "PUT")]
    searches_before = len(fake.calls_to("POST", r"/search$"))

    second = run_cycle(ctx)

    writes_after = [call for call in fake.calls if call.method in ("POST", "PATCH", "PUT")]
    new_writes = [call for call in writes_after[len(writes_before) :] if "search" not in call.path]
    assert second.ok
    assert second.stats.written == 0
    assert new_writes == []
    assert len(fake.calls_to("POST", r"/search$")) > searches_before


def test_outbox_delivers_hot_lead_as_task_once(fake, runtime):
    fake.add_contact(lead_properties("this_week", "over_1500"))
    daemon = Daemon(runtime, clock=lambda: datetime.now(UTC))

    daemon.sync_all()
    daemon.deliver_outbox()
    daemon.sync_all()
    daemon.deliver_outbox()

    assert len(fake.objects["tasks"]) == 1
    assert (runtime.settings.heartbeat_file).exists()

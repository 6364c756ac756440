"""The sync and the daemon's jobs end to end against the stateful fake GoHighLevel.

The connector is built from settings exactly as `leadscore run` builds it
(`jobs.accounts.build_runtime`), the store is a real SQLite file, the model is
the built-in med spa model, and alerts go to the real outbox.
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
from scoring.result import Tier
from tests.fakes.gohighlevel import FakeGoHighLevel, FrozenClock
from tests.fakes.gohighlevel.medspa import add_med_spa_location

LOCATION = "locGlowE2E"
TOKEN = "pit-4c1d2e3f-0000-4a4a-9b9b-e2e"
PIPELINE_STAGES = ["Hot", "Warm", "Cold", "Booked"]


@pytest.fixture
def clock() -> FrozenClock:
    # The connector reads the real clock for its look-back windows, so the
    # fake's frozen clock starts at the current minute.
    return FrozenClock(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture
def fake(clock) -> FakeGoHighLevel:
    fake = FakeGoHighLevel(clock=clock)
    add_med_spa_location(fake.state, LOCATION, TOKEN)
    return fake


@pytest.fixture
def rsps(fake) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.mount(mock)
        yield mock


@pytest.fixture
def runtime(fake, rsps, tmp_path):
    pipeline = fake.state.add_pipeline(LOCATION, "Leads", PIPELINE_STAGES)
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
    settings = Settings(
        _env_file=None,
        crm="gohighlevel",
        account_id=LOCATION,
        ghl_token=TOKEN,
        crm_base_url=fake.base_url,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        heartbeat_file=tmp_path / "heartbeat",
        pipeline_id=pipeline["id"],
        hot_stage=stages["Hot"],
        warm_stage=stages["Warm"],
        cold_stage=stages["Cold"],
    )
    built = build_runtime(settings)
    [ctx] = built.contexts
    ctx.connector.setup(apply=True)
    built.stages = stages
    yield built
    built.close()


def add_lead(fake, contact_id: str, *, timeline: str, budget: str, when: datetime) -> None:
    fake.state.add_contact(
        LOCATION,
        contact_id=contact_id,
        firstName="Jane",
        email=f"{contact_id}@example.com",
        custom={
            "contact.timeline": timeline,
            "contact.budget": budget,
            "contact.treatment": "Botox",
            "contact.age": "35",
        },
        added_at=when,
        updated_at=when,
    )


def opportunity_stage(fake, contact_id: str) -> str | None:
    for opportunity in fake.state.locations[LOCATION].opportunities.values():
        if opportunity["contactId"] == contact_id:
            return opportunity["pipelineStageId"]
    return None


def alert_rows(runtime) -> list:
    with runtime.store.begin() as conn:
        return conn.execute(sa.select(alerts).order_by(alerts.c.id)).all()


def writes(fake) -> int:
    return len([call for call in fake.calls("PUT") if call.path.startswith("/contacts/")])


def opportunity_changes(fake) -> int:
    changes = [*fake.calls("POST"), *fake.calls("PUT")]
    return len([call for call in changes if call.path.startswith("/opportunities")])


def test_new_hot_lead_synced_in_one_cycle(fake, runtime, clock):
    add_lead(fake, "ctHot", timeline="This week", budget="$1,500", when=clock.now)
    [ctx] = runtime.contexts

    report = run_cycle(ctx, clock=clock)

    assert report.ok
    assert report.stats.errors == 0
    assert fake.state.custom_value(LOCATION, "ctHot", "contact.lead_tier") == "Hot"
    assert fake.state.custom_value(LOCATION, "ctHot", "contact.lead_score") >= 80
    assert opportunity_stage(fake, "ctHot") == runtime.stages["Hot"]
    [alert] = alert_rows(runtime)
    assert alert.contact_id == "ctHot"


def test_second_cycle_without_change_writes_nothing(fake, runtime, clock):
    add_lead(fake, "ctHot", timeline="This week", budget="$1,500", when=clock.now)
    [ctx] = runtime.contexts
    run_cycle(ctx, clock=clock)
    puts_after_first = writes(fake)
    opportunity_calls = opportunity_changes(fake)

    clock.advance(minutes=1)
    second = run_cycle(ctx, clock=clock)

    assert second.ok
    assert second.stats.written == 0
    assert writes(fake) == puts_after_first
    assert opportunity_changes(fake) == opportunity_calls
    assert len(alert_rows(runtime)) == 1


def test_warming_lead_crosses_into_hot_once(fake, runtime, clock):
    add_lead(fake, "ctWarm", timeline="Within a month", budget="$500", when=clock.now)
    [ctx] = runtime.contexts
    run_cycle(ctx, clock=clock)
    assert fake.state.custom_value(LOCATION, "ctWarm", "contact.lead_tier") == "Warm"

    clock.advance(minutes=5)
    sent = fake.state.add_message(LOCATION, "ctWarm", added_at=clock.now)
    fake.state.set_message_status(LOCATION, sent["id"], "clicked")
    fake.state.add_message(LOCATION, "ctWarm", direction="inbound", added_at=clock.now)
    fake.state.touch_contact(LOCATION, "ctWarm")
    clock.advance(minutes=1)
    run_cycle(ctx, clock=clock)
    clock.advance(minutes=1)
    run_cycle(ctx, clock=clock)

    assert fake.state.custom_value(LOCATION, "ctWarm", "contact.lead_tier") == "Hot"
    assert opportunity_stage(fake, "ctWarm") == runtime.stages["Hot"]
    assert [row.contact_id for row in alert_rows(runtime)] == ["ctWarm"]


def test_daemon_jobs_sync_deliver_and_beat(fake, runtime, clock, tmp_path):
    add_lead(fake, "ctHot", timeline="This week", budget="$1,500", when=clock.now)
    daemon = Daemon(runtime, clock=clock)

    daemon.sync_all()
    daemon.deliver_outbox()

    assert (tmp_path / "heartbeat").exists()
    tags = fake.state.locations[LOCATION].contacts["ctHot"]["tags"]
    assert "lead-tier-hot" in tags
    with runtime.store.begin() as conn:
        history = runtime.store.history(conn, runtime.contexts[0].account, "ctHot")
    assert history[0].result.tier is Tier.HOT
    assert history[0].trigger == "sync"


def test_nightly_rescore_without_change_writes_nothing(fake, runtime, clock):
    add_lead(fake, "ctHot", timeline="This week", budget="$1,500", when=clock.now)
    daemon = Daemon(runtime, clock=clock)
    daemon.sync_all()
    puts = writes(fake)
    reads = len(fake.requests)

    clock.advance(hours=6)
    daemon.rescore_all()

    assert writes(fake) == puts
    # The rescore reads the store, not the CRM.
    assert len(fake.requests) == reads

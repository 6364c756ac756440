"""The sync cycle end to end against the fake HubSpot.

The runtime is built from settings as `leadscore run` builds it, with a real
SQLite store and the built-in model. Only the connector's clock and sleep are
replaced, by the simulated clock the fake also reads.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from connectors.hubspot import HubSpotConnector
from jobs.accounts import build_runtime, connector_config
from jobs.alerts.tables import alerts
from jobs.settings import Settings
from jobs.sync import run_cycle
from tests.fakes.hubspot import DEFAULT_TOKEN
from tests.hubspot.conftest import BASE_URL

STAGES = {"hot": "consultbooked", "warm": "qualifiedtobuy", "cold": "appointmentscheduled"}


@pytest.fixture
def runtime(fake, mocked, clock, tmp_path):
    settings = Settings(
        _env_file=None,
        crm="hubspot",
        account_id="62515",
        hubspot_token=DEFAULT_TOKEN,
        crm_base_url=BASE_URL,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        heartbeat_file=tmp_path / "heartbeat",
        pipeline_id="default",
        hot_stage=STAGES["hot"],
        warm_stage=STAGES["warm"],
        cold_stage=STAGES["cold"],
    )

    def factory(account, model):
        return HubSpotConnector(
            connector_config(account),
            model.mapping,
            sleep=clock.sleep,
            clock=clock,
            now=clock.datetime,
            jitter=lambda limit: 0.0,
        )

    built = build_runtime(settings, connector_factory=factory)
    [ctx] = built.contexts
    report = ctx.connector.setup(apply=True)
    assert "property leadscore_score" in report.created
    yield built
    built.close()


def add_hot_lead(fake, clock):
    return fake.add_contact(
        {
            "firstname": "Jane",
            "lastname": "Doe",
            "email": "jane.doe@example.com",
            "hubspot_owner_id": "41629779",
            "booking_timeline": "This week",
            "budget": "$1,500",
            "treatment_interest": "botox",
            "age": "34",
        },
        modified_ms=int(clock() * 1000) - 1000,
    )


def deal_stage_of(fake, contact_id):
    deal_ids = fake.associations.get(("contacts", contact_id, "deals"), {})
    return [fake.objects["deals"][deal_id].properties["dealstage"] for deal_id in deal_ids]


def test_hot_lead_written_moved_and_alerted(fake, runtime, clock):
    contact_id = add_hot_lead(fake, clock)
    [ctx] = runtime.contexts

    report = run_cycle(ctx, clock=clock.datetime)

    assert report.ok, report.error
    assert report.stats.errors == 0
    contact = fake.contact(contact_id)
    assert int(contact["leadscore_score"]) >= 80
    assert contact["leadscore_tier"] == "hot"
    assert contact["leadscore_reasons"]
    assert deal_stage_of(fake, contact_id) == [STAGES["hot"]]
    with runtime.store.begin() as conn:
        rows = conn.execute(sa.select(alerts)).all()
    assert [row.contact_id for row in rows] == [contact_id]


def test_echo_of_own_write_writes_nothing(fake, runtime, clock):
    add_hot_lead(fake, clock)
    [ctx] = runtime.contexts
    run_cycle(ctx, clock=clock.datetime)
    writes_after_first = len(fake.calls_to("POST", r"/contacts/batch/update$"))

    # The echo comes back while it is inside the 5-minute overlap window
    # before the cursor, and is recognised each time.
    echoes = []
    for _ in range(2):
        clock.advance(300)
        echoes.append(run_cycle(ctx, clock=clock.datetime))
    clock.advance(300)
    quiet = run_cycle(ctx, clock=clock.datetime)

    assert all(report.ok for report in echoes)
    assert [report.stats.written for report in echoes] == [0, 0]
    assert quiet.ok
    assert quiet.stats.pulled == 0
    assert len(fake.calls_to("POST", r"/contacts/batch/update$")) == writes_after_first
    assert fake.calls_to("PATCH", r"/deals/") == []


def test_staff_closed_deal_is_left_alone(fake, runtime, clock):
    contact_id = add_hot_lead(fake, clock)
    [ctx] = runtime.contexts
    run_cycle(ctx, clock=clock.datetime)
    [deal_id] = fake.associations[("contacts", contact_id, "deals")]
    fake.objects["deals"][deal_id].properties["dealstage"] = "closedwon"
    contact = fake.objects["contacts"][contact_id]
    contact.properties["booking_timeline"] = "Just researching"
    fake._touch("contacts", contact)

    clock.advance(60)
    report = run_cycle(ctx, clock=clock.datetime)

    assert report.ok, report.error
    assert fake.contact(contact_id)["leadscore_tier"] != "hot"
    assert deal_stage_of(fake, contact_id) == ["closedwon"]

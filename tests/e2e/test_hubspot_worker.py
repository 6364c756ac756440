"""A med spa's HubSpot account through sync, nightly rescore and staff stage changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.hubspot.config import PipelineMode
from jobs.accounts import build_runtime
from jobs.alerts.tables import alerts
from jobs.sync import rescore_stored, run_cycle
from scoring.result import Tier
from tests.e2e.conftest import DEAL_STAGES, hubspot_factory, hubspot_settings

LEAD_STATUSES = {Tier.HOT: "OPEN", Tier.WARM: "IN_PROGRESS", Tier.COLD: "UNQUALIFIED"}


def engaged_lead(now: datetime, **changes: str) -> dict[str, str]:
    """A Botox lead booking within a month who opened and clicked emails yesterday: hot."""
    yesterday = (now - timedelta(days=1)).isoformat()
    properties = {
        "firstname": "Jane",
        "email": "jane@example.com",
        "booking_timeline": "within_a_month",
        "budget": "500_to_1000",
        "treatment_interest": "botox",
        "had_treatment_before": "true",
        "age": "35",
        "hs_email_delivered": "6",
        "hs_email_last_send_date": yesterday,
        "hs_email_open": "6",
        "hs_email_last_open_date": yesterday,
        "hs_email_click": "3",
        "hs_email_last_click_date": yesterday,
    }
    properties.update(changes)
    return properties


def deal_of(fake, contact_id: str):
    [deal_id] = fake.associations[("contacts", contact_id, "deals")]
    return fake.objects["deals"][deal_id]


def staff_edit(fake, contact_id: str, **properties: str) -> None:
    """Change contact properties as a staff member would in HubSpot's UI."""
    record = fake.objects["contacts"][contact_id]
    record.properties.update(properties)
    stamp = max(fake.now_ms(), record.updated_ms + 1)
    record.updated_ms = stamp
    record.properties["lastmodifieddate"] = str(stamp)


def score_writes(fake) -> list:
    return fake.calls_to("POST", r"/crm/v3/objects/contacts/batch/update$")


def alert_count(runtime) -> int:
    with runtime.store.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one()


def test_closed_won_deal_kept_when_decay_changes_tier(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx)
    assert hubspot.contact(contact_id)["leadscore_tier"] == "hot"
    deal = deal_of(hubspot, contact_id)
    assert deal.properties["dealstage"] == DEAL_STAGES["hot"]
    deal.properties["dealstage"] = "closedwon"

    stats = rescore_stored(ctx, clock=lambda: now + timedelta(days=60))

    assert stats.errors == 0
    assert hubspot.contact(contact_id)["leadscore_tier"] == "warm"
    assert deal_of(hubspot, contact_id).properties["dealstage"] == "closedwon"
    assert hubspot.calls_to("PATCH", r"/crm/v3/objects/deals/") == []


def test_closed_won_deal_kept_when_sync_changes_tier(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx)
    deal_of(hubspot, contact_id).properties["dealstage"] = "closedwon"
    staff_edit(hubspot, contact_id, booking_timeline="just_researching")

    report = run_cycle(ctx)

    assert report.ok
    assert hubspot.contact(contact_id)["leadscore_tier"] != "hot"
    assert deal_of(hubspot, contact_id).properties["dealstage"] == "closedwon"
    assert hubspot.calls_to("PATCH", r"/crm/v3/objects/deals/") == []


@pytest.fixture
def lead_status_runtime(hubspot, tmp_path):
    factory = hubspot_factory(
        pipeline_mode=PipelineMode.LEAD_STATUS,
        lead_status_values=LEAD_STATUSES,
        deal_stage_ids={},
    )
    built = build_runtime(hubspot_settings(tmp_path), connector_factory=factory)
    built.contexts[0].connector.setup(apply=True)
    yield built
    built.close()


def test_staff_lead_status_kept_by_nightly_rescore(hubspot, lead_status_runtime):
    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now, hs_lead_status="CONNECTED"))
    [ctx] = lead_status_runtime.contexts
    run_cycle(ctx)
    assert hubspot.contact(contact_id)["leadscore_tier"] == "hot"
    assert hubspot.contact(contact_id)["hs_lead_status"] == "CONNECTED"

    stats = rescore_stored(ctx, clock=lambda: now + timedelta(days=60))

    assert stats.written == 1
    assert hubspot.contact(contact_id)["leadscore_tier"] == "warm"
    assert hubspot.contact(contact_id)["hs_lead_status"] == "CONNECTED"


def test_worker_lead_status_follows_decay(hubspot, lead_status_runtime):
    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = lead_status_runtime.contexts
    run_cycle(ctx)
    assert hubspot.contact(contact_id)["hs_lead_status"] == LEAD_STATUSES[Tier.HOT]

    rescore_stored(ctx, clock=lambda: now + timedelta(days=60))

    assert hubspot.contact(contact_id)["hs_lead_status"] == LEAD_STATUSES[Tier.WARM]


def test_rescore_without_decay_writes_nothing(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx)
    writes_before = len(score_writes(hubspot))

    stats = rescore_stored(ctx, clock=lambda: now + timedelta(minutes=1))

    assert stats.written == 0
    assert len(score_writes(hubspot)) == writes_before


def test_decay_writes_only_changed_leads(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    engaged = hubspot.add_contact(engaged_lead(now))
    quiet = hubspot.add_contact(
        engaged_lead(
            now,
            hs_email_delivered="0",
            hs_email_open="0",
            hs_email_click="0",
            hs_email_last_send_date="",
            hs_email_last_open_date="",
            hs_email_last_click_date="",
        )
    )
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx)
    quiet_score = hubspot.contact(quiet)["leadscore_score"]
    writes_before = len(score_writes(hubspot))

    stats = rescore_stored(ctx, clock=lambda: now + timedelta(days=60))

    [batch] = score_writes(hubspot)[writes_before:]
    assert [item["id"] for item in batch.body["inputs"]] == [engaged]
    assert stats.written == 1
    assert hubspot.contact(quiet)["leadscore_score"] == quiet_score

"""A med spa's GoHighLevel location through sync, engagement-only updates and echoes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.accounts import build_runtime
from jobs.alerts.tables import alerts
from jobs.sync import run_cycle
from tests.e2e.conftest import GHL_LOCATION, ghl_settings

ANSWERS = {
    "contact.timeline": "This week",
    "contact.budget": "$1,500",
    "contact.treatment": "Botox",
    "contact.age": "35",
}


def add_lead(ghl, contact_id: str, *, custom=None, tags=(), when=None, phone=None) -> None:
    when = when or ghl.state.now()
    ghl.state.add_contact(
        GHL_LOCATION,
        contact_id=contact_id,
        firstName="Jane",
        email=f"{contact_id}@example.com",
        phone=phone,
        custom=ANSWERS if custom is None else custom,
        tags=list(tags),
        added_at=when,
        updated_at=when,
    )


def custom_value(ghl, contact_id: str, key: str):
    return ghl.state.custom_value(GHL_LOCATION, contact_id, key)


def contact_writes(ghl) -> int:
    return len([call for call in ghl.calls("PUT") if call.path.startswith("/contacts/")])


def stored_lead(runtime, contact_id: str):
    [ctx] = runtime.contexts
    with runtime.store.begin() as conn:
        return runtime.store.get_leads(conn, ctx.account, [contact_id])[contact_id]


def alert_contacts(runtime) -> list[str]:
    with runtime.store.begin() as conn:
        rows = conn.execute(sa.select(alerts.c.contact_id).order_by(alerts.c.id)).all()
    return [row.contact_id for row in rows]


def test_form_answers_survive_echo_of_score_write(ghl, ghl_runtime, ghl_clock):
    submitted_at = ghl_clock.now - timedelta(hours=3)
    add_lead(ghl, "ctForm", custom={}, when=submitted_at)
    others = {ghl.state.field_id(GHL_LOCATION, key): value for key, value in ANSWERS.items()}
    ghl.state.add_submission(GHL_LOCATION, "ctForm", others, created_at=submitted_at)
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    assert custom_value(ghl, "ctForm", "contact.lead_tier") == "Hot"
    puts_after_first = contact_writes(ghl)

    ghl_clock.advance(minutes=1)
    report = run_cycle(ctx, clock=ghl_clock)

    assert report.ok
    assert custom_value(ghl, "ctForm", "contact.lead_tier") == "Hot"
    assert report.stats.written == 0
    assert contact_writes(ghl) == puts_after_first
    assert stored_lead(ghl_runtime, "ctForm").lead.answers["timeline"] == "This week"


def stored_activities(runtime, contact_id: str) -> list:
    return list(stored_lead(runtime, contact_id).lead.activities)


def test_email_open_of_unknown_contact_reads_its_facts(ghl, ghl_runtime, ghl_clock):
    add_lead(ghl, "ctQuiet", tags=("vip",), when=ghl_clock.now - timedelta(days=3))
    sent = ghl.state.add_message(GHL_LOCATION, "ctQuiet", added_at=ghl_clock.now)
    ghl.state.set_message_status(GHL_LOCATION, sent["id"], "opened")
    [ctx] = ghl_runtime.contexts

    report = run_cycle(ctx, clock=ghl_clock)

    assert report.ok
    lead = stored_lead(ghl_runtime, "ctQuiet").lead
    assert lead.answers["timeline"] == "This week"
    assert "vip" in lead.tags
    assert {activity.kind.value for activity in lead.activities} >= {"email_sent", "email_open"}
    assert custom_value(ghl, "ctQuiet", "contact.lead_tier") == "Hot"


def test_email_open_of_known_contact_keeps_facts_once(ghl, ghl_runtime, ghl_clock):
    add_lead(ghl, "ctKnown", tags=("vip",), when=ghl_clock.now - timedelta(days=3))
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    before = stored_lead(ghl_runtime, "ctKnown").lead

    ghl_clock.advance(minutes=1)
    sent = ghl.state.add_message(GHL_LOCATION, "ctKnown", added_at=ghl_clock.now)
    ghl.state.set_message_status(GHL_LOCATION, sent["id"], "opened")
    ghl_clock.advance(minutes=1)
    run_cycle(ctx, clock=ghl_clock)
    after_first_read = stored_activities(ghl_runtime, "ctKnown")
    # The next pull reaches back over the same export page (overlap window).
    ghl_clock.advance(minutes=1)
    run_cycle(ctx, clock=ghl_clock)

    lead = stored_lead(ghl_runtime, "ctKnown").lead
    assert lead.answers == before.answers
    assert lead.tags == before.tags
    assert len(after_first_read) == len(before.activities) + 2
    assert list(lead.activities) == after_first_read


def test_opportunity_won_kept_on_tier_change(ghl, ghl_runtime, ghl_clock):
    add_lead(ghl, "ctWon")
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    [opportunity] = ghl.state.locations[GHL_LOCATION].opportunities.values()
    hot_stage = opportunity["pipelineStageId"]
    opportunity["status"] = "won"

    # The fake's clock stays at or before the real time the connector's
    # search window ends at, so the edit is seen by the next pull.
    contact = ghl.state.locations[GHL_LOCATION].contacts["ctWon"]
    timeline_id = ghl.state.field_id(GHL_LOCATION, "contact.timeline")
    for item in contact["customFields"]:
        if item["id"] == timeline_id:
            item["value"] = "Just researching"
    ghl.state.touch_contact(GHL_LOCATION, "ctWon")
    report = run_cycle(ctx, clock=ghl_clock)

    assert report.ok
    assert custom_value(ghl, "ctWon", "contact.lead_tier") != "Hot"
    assert opportunity["status"] == "won"
    assert opportunity["pipelineStageId"] == hot_stage
    assert len(ghl.state.locations[GHL_LOCATION].opportunities) == 1


def test_alert_tag_echo_writes_nothing(ghl, ghl_runtime, ghl_clock):
    from jobs.daemon import Daemon

    add_lead(ghl, "ctTag")
    daemon = Daemon(ghl_runtime, clock=ghl_clock)
    daemon.sync_all()
    daemon.deliver_outbox()
    assert "lead-tier-hot" in ghl.state.locations[GHL_LOCATION].contacts["ctTag"]["tags"]
    puts = contact_writes(ghl)
    [ctx] = ghl_runtime.contexts
    with ghl_runtime.store.begin() as conn:
        history_before = ghl_runtime.store.history(conn, ctx.account, "ctTag")

    ghl_clock.advance(minutes=1)
    report = run_cycle(ctx, clock=ghl_clock)

    assert report.ok
    assert report.stats.written == 0
    assert contact_writes(ghl) == puts
    with ghl_runtime.store.begin() as conn:
        assert ghl_runtime.store.history(conn, ctx.account, "ctTag") == history_before
    assert alert_contacts(ghl_runtime) == ["ctTag"]


def test_email_opened_then_clicked_counts_one_open(ghl, ghl_runtime, ghl_clock):
    add_lead(ghl, "ctClick", when=ghl_clock.now - timedelta(days=3))
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    sent = ghl.state.add_message(GHL_LOCATION, "ctClick", added_at=ghl_clock.now)
    ghl_clock.advance(minutes=1)
    ghl.state.set_message_status(GHL_LOCATION, sent["id"], "opened")
    run_cycle(ctx, clock=ghl_clock)

    ghl_clock.advance(minutes=1)
    ghl.state.set_message_status(GHL_LOCATION, sent["id"], "clicked")
    run_cycle(ctx, clock=ghl_clock)

    kinds = [activity.kind.value for activity in stored_activities(ghl_runtime, "ctClick")]
    assert kinds.count("email_sent") == 1
    assert kinds.count("email_open") == 1
    assert kinds.count("email_click") == 1


def no_sleep_connector(account, model):
    from connectors.gohighlevel import GoHighLevelConnector
    from jobs.accounts import connector_config

    return GoHighLevelConnector(
        connector_config(account), mapping=model.mapping, sleep=lambda _: None
    )


@pytest.fixture
def quick_runtime(ghl, tmp_path):
    built = build_runtime(ghl_settings(ghl, tmp_path), connector_factory=no_sleep_connector)
    built.contexts[0].connector.setup(apply=True)
    yield built
    built.close()


def test_server_error_on_one_contact_retried_next_cycle(ghl, quick_runtime, ghl_clock):
    add_lead(ghl, "ctOk")
    add_lead(ghl, "ctDown")
    # Five attempts: the first request and four retries, so one write fails.
    ghl.fail_next("/contacts/ctDown$", 503, method="PUT", times=5)
    [ctx] = quick_runtime.contexts

    first = run_cycle(ctx, clock=ghl_clock)

    assert first.ok
    assert first.stats.errors == 1
    assert custom_value(ghl, "ctOk", "contact.lead_tier") == "Hot"
    assert custom_value(ghl, "ctDown", "contact.lead_tier") is None
    with quick_runtime.store.begin() as conn:
        [failure] = quick_runtime.store.failures(conn, ctx.account)
    assert failure.contact_id == "ctDown"

    ghl_clock.advance(seconds=1)
    second = run_cycle(ctx, clock=ghl_clock)

    assert second.ok
    assert custom_value(ghl, "ctDown", "contact.lead_tier") == "Hot"
    with quick_runtime.store.begin() as conn:
        assert quick_runtime.store.failures(conn, ctx.account) == []
    stages = [o["contactId"] for o in ghl.state.locations[GHL_LOCATION].opportunities.values()]
    assert sorted(stages) == ["ctDown", "ctOk"]
    assert sorted(alert_contacts(quick_runtime)) == ["ctDown", "ctOk"]


def test_hot_by_email_click_alert_names_lead(ghl, ghl_runtime, ghl_clock):
    # The first cycle's score write happens an hour ago, before the next
    # pull's overlap window, so only the email events bring the lead back.
    real_now = ghl_clock.now
    ghl_clock.advance(hours=-1)
    warm = {**ANSWERS, "contact.timeline": "Within a month", "contact.budget": "$500"}
    when = ghl_clock.now - timedelta(days=1)
    add_lead(ghl, "ctWarm", custom=warm, when=when, phone="+15125550147")
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    assert custom_value(ghl, "ctWarm", "contact.lead_tier") == "Warm"

    # The lead clicks an email and replies; GoHighLevel does not touch the contact.
    ghl_clock.now = real_now
    sent = ghl.state.add_message(GHL_LOCATION, "ctWarm", added_at=ghl_clock.now)
    ghl.state.set_message_status(GHL_LOCATION, sent["id"], "clicked")
    ghl.state.add_message(GHL_LOCATION, "ctWarm", direction="inbound", added_at=ghl_clock.now)
    run_cycle(ctx, clock=ghl_clock)

    assert custom_value(ghl, "ctWarm", "contact.lead_tier") == "Hot"
    with ghl_runtime.store.begin() as conn:
        [payload] = conn.execute(sa.select(alerts.c.payload)).scalars().all()
    assert payload["name"] == "Jane"
    assert payload["email"] == "ctWarm@example.com"
    assert payload["phone"] == "+15125550147"
    assert payload["treatment"] == "Botox"
    assert payload["record_url"].endswith("ctWarm")


def test_opportunity_moved_to_other_pipeline_not_recreated(ghl, ghl_runtime, ghl_clock):
    add_lead(ghl, "ctMoved")
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    patients = ghl.state.add_pipeline(GHL_LOCATION, "Patients", ["Consult booked"])
    [opportunity] = ghl.state.locations[GHL_LOCATION].opportunities.values()
    opportunity["pipelineId"] = patients["id"]
    opportunity["pipelineStageId"] = patients["stages"][0]["id"]

    contact = ghl.state.locations[GHL_LOCATION].contacts["ctMoved"]
    timeline_id = ghl.state.field_id(GHL_LOCATION, "contact.timeline")
    for item in contact["customFields"]:
        if item["id"] == timeline_id:
            item["value"] = "Just researching"
    ghl.state.touch_contact(GHL_LOCATION, "ctMoved")
    report = run_cycle(ctx, clock=ghl_clock)

    assert report.ok
    assert custom_value(ghl, "ctMoved", "contact.lead_tier") != "Hot"
    assert list(ghl.state.locations[GHL_LOCATION].opportunities.values()) == [opportunity]
    assert opportunity["pipelineId"] == patients["id"]


def test_alert_tag_webhook_echo_writes_nothing(ghl, ghl_runtime, ghl_clock):
    from jobs.daemon import Daemon
    from jobs.sync import process_contacts
    from jobs.webhooks import queue
    from jobs.webhooks.drain import WebhookDrain

    add_lead(ghl, "ctHook")
    daemon = Daemon(ghl_runtime, clock=ghl_clock)
    daemon.sync_all()
    daemon.deliver_outbox()
    [ctx] = ghl_runtime.contexts
    puts = contact_writes(ghl)
    with ghl_runtime.store.begin() as conn:
        history_before = ghl_runtime.store.history(conn, ctx.account, "ctHook")
        event = queue.WebhookEvent(ctx.account, "ctHook", "ContactTagUpdate", ghl_clock.now)
        queue.enqueue(conn, [event], now=ghl_clock.now)
    drain = WebhookDrain(ghl_runtime.store, {ctx.account: ctx}, process_contacts, clock=ghl_clock)

    stats = drain()

    assert stats.processed == 1
    assert contact_writes(ghl) == puts
    with ghl_runtime.store.begin() as conn:
        assert ghl_runtime.store.history(conn, ctx.account, "ctHook") == history_before
    assert alert_contacts(ghl_runtime) == ["ctHook"]

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


def failure_ids(runtime) -> list[str]:
    [ctx] = runtime.contexts
    with runtime.store.begin() as conn:
        return [failure.contact_id for failure in runtime.store.failures(conn, ctx.account)]


def test_partial_write_failure_written_next_cycle(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    first = hubspot.add_contact(engaged_lead(now))
    second = hubspot.add_contact(engaged_lead(now, email="second@example.com"))
    hubspot.transient_batch_failures[second] = "RATE_LIMIT"
    [ctx] = hubspot_runtime.contexts

    report = run_cycle(ctx)

    assert report.stats.written == 1
    assert report.stats.errors == 1
    assert failure_ids(hubspot_runtime) == [second]
    assert "leadscore_score" not in hubspot.contact(second)
    assert hubspot.contact(first)["leadscore_tier"] == "hot"

    retry = run_cycle(ctx)

    assert retry.ok
    assert hubspot.contact(second)["leadscore_tier"] == "hot"
    assert failure_ids(hubspot_runtime) == []
    assert deal_of(hubspot, second).properties["dealstage"] == DEAL_STAGES["hot"]
    assert alert_count(hubspot_runtime) == 2


def test_daily_limit_pauses_account_until_reset(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    hubspot.daily_limit = 0  # the day's calls are used up

    report = run_cycle(ctx)

    assert not report.ok
    assert report.paused_until is not None
    assert report.paused_until > now + timedelta(minutes=1)
    hubspot.daily_limit = None
    calls = len(hubspot.calls)
    skipped = run_cycle(ctx)
    assert skipped.paused_until == report.paused_until
    assert len(hubspot.calls) == calls

    resumed = run_cycle(ctx, clock=lambda: report.paused_until + timedelta(seconds=1))

    assert resumed.ok
    assert hubspot.contact(contact_id)["leadscore_tier"] == "hot"


class JobClock:
    """The jobs' clock, moved by hours while the fake CRM keeps real time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_recrossing_alerts_only_after_cooldown(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    clock = JobClock(now)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    cooled = {"booking_timeline": "1_3_months", "budget": "300_to_500"}
    warmed = {"booking_timeline": "within_a_month", "budget": "500_to_1000"}

    def cycle_after(hours: float, properties: dict[str, str]) -> str:
        staff_edit(hubspot, contact_id, **properties)
        clock.now = now + timedelta(hours=hours)
        assert run_cycle(ctx, clock=clock).ok
        return hubspot.contact(contact_id)["leadscore_tier"]

    run_cycle(ctx, clock=clock)
    assert alert_count(hubspot_runtime) == 1
    assert cycle_after(1, cooled) == "warm"
    assert cycle_after(2, warmed) == "hot"
    assert alert_count(hubspot_runtime) == 1
    assert cycle_after(3, cooled) == "warm"

    assert cycle_after(24 * 8, warmed) == "hot"

    assert alert_count(hubspot_runtime) == 2


@pytest.mark.parametrize(
    ("cooldown_days", "alerts_after_reengaging"),
    [(90, 1), (30, 2)],
    ids=["within-cooldown", "after-cooldown"],
)
def test_decayed_lead_reengaged_alerts_per_cooldown(
    hubspot, tmp_path, cooldown_days, alerts_after_reengaging
):
    from jobs.alerts.settings import AlertSettings

    settings = hubspot_settings(
        tmp_path, alerts=AlertSettings(_env_file=None, cooldown_hours=24 * cooldown_days)
    )
    runtime = build_runtime(settings)
    [ctx] = runtime.contexts
    ctx.connector.setup(apply=True)
    now = datetime.now(UTC)
    clock = JobClock(now)
    contact_id = hubspot.add_contact(engaged_lead(now))
    run_cycle(ctx, clock=clock)
    assert alert_count(runtime) == 1

    clock.now = now + timedelta(days=60)
    rescore_stored(ctx, clock=clock)
    assert hubspot.contact(contact_id)["leadscore_tier"] == "warm"
    assert alert_count(runtime) == 1

    clicked = (clock.now - timedelta(hours=1)).isoformat()
    staff_edit(
        hubspot,
        contact_id,
        hs_email_click="4",
        hs_email_last_click_date=clicked,
        hs_email_open="7",
        hs_email_last_open_date=clicked,
    )
    report = run_cycle(ctx, clock=clock)

    assert report.ok
    assert hubspot.contact(contact_id)["leadscore_tier"] == "hot"
    assert alert_count(runtime) == alerts_after_reengaging
    runtime.close()


def test_explain_shows_history_after_changes(hubspot, hubspot_runtime, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jobs.cli import app

    now = datetime.now(UTC)
    clock = JobClock(now)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx, clock=clock)
    for hours, timeline in ((1, "1_3_months"), (2, "just_researching"), (3, "this_week")):
        staff_edit(hubspot, contact_id, booking_timeline=timeline)
        clock.now = now + timedelta(hours=hours)
        run_cycle(ctx, clock=clock)
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")

    result = CliRunner().invoke(app, ["explain", contact_id])

    assert result.exit_code == 0, result.output
    history = result.output.split("Score history (newest first)")[1]
    rows = [line for line in history.splitlines() if " sync " in line]
    assert len(rows) == 4
    assert "this_week" in result.output
    assert f"CRM holds score {hubspot.contact(contact_id)['leadscore_score']}" in result.output


def test_rescore_hitting_daily_limit_pauses_account(hubspot, hubspot_runtime):
    from jobs.daemon import Daemon

    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx)
    hubspot.daily_limit = 0  # the portal's calls for the day are used up
    daemon = Daemon(hubspot_runtime, clock=lambda: now + timedelta(days=60))

    daemon.rescore_all()

    with hubspot_runtime.store.begin() as conn:
        cursor = hubspot_runtime.store.get_cursor(conn, ctx.account)
    assert cursor.paused_until is not None
    assert cursor.paused_until > now + timedelta(days=60)
    calls = len(hubspot.calls)
    daemon.rescore_all()
    assert len(hubspot.calls) == calls

    hubspot.daily_limit = None
    rescore_stored(ctx, clock=lambda: cursor.paused_until + timedelta(seconds=1))

    assert hubspot.contact(contact_id)["leadscore_tier"] == "warm"


def test_deal_moved_to_other_pipeline_not_recreated(hubspot, hubspot_runtime):
    now = datetime.now(UTC)
    contact_id = hubspot.add_contact(engaged_lead(now))
    [ctx] = hubspot_runtime.contexts
    run_cycle(ctx)
    deal = deal_of(hubspot, contact_id)
    deal.properties["pipeline"] = "patients"
    deal.properties["dealstage"] = "consult_booked"

    stats = rescore_stored(ctx, clock=lambda: now + timedelta(days=60))

    assert stats.errors == 0
    assert hubspot.contact(contact_id)["leadscore_tier"] == "warm"
    assert list(hubspot.associations[("contacts", contact_id, "deals")]) == [deal.id]
    assert deal.properties["dealstage"] == "consult_booked"

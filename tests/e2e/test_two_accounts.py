"""One worker, one store, two spas: a HubSpot portal and a GoHighLevel location."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from jobs.accounts import build_runtime
from jobs.alerts.tables import alerts
from jobs.daemon import Daemon
from jobs.settings import Settings
from tests.e2e.conftest import DEAL_STAGES, GHL_LOCATION, GHL_STAGES, GHL_TOKEN, HUBSPOT_PORTAL
from tests.e2e.test_gohighlevel_worker import add_lead, custom_value
from tests.e2e.test_hubspot_worker import engaged_lead
from tests.fakes.hubspot import DEFAULT_TOKEN

HUBSPOT_KEY = f"hubspot:{HUBSPOT_PORTAL}"
GHL_KEY = f"gohighlevel:{GHL_LOCATION}"


@pytest.fixture
def runtime(hubspot, ghl, tmp_path):
    pipeline = ghl.state.add_pipeline(GHL_LOCATION, "Leads", GHL_STAGES)
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
    accounts_file = tmp_path / "accounts.toml"
    accounts_file.write_text(
        f"""
[[accounts]]
crm = "hubspot"
id = "{HUBSPOT_PORTAL}"
name = "Glow Downtown"
token_env = "HUBSPOT_TOKEN"

[accounts.pipeline]
pipeline_id = "default"
hot = "{DEAL_STAGES["hot"]}"
warm = "{DEAL_STAGES["warm"]}"
cold = "{DEAL_STAGES["cold"]}"

[[accounts]]
crm = "gohighlevel"
id = "{GHL_LOCATION}"
name = "Glow Uptown"
token_env = "GHL_TOKEN"
base_url = "{ghl.base_url}"

[accounts.pipeline]
pipeline_id = "{pipeline["id"]}"
hot = "{stages["Hot"]}"
warm = "{stages["Warm"]}"
cold = "{stages["Cold"]}"
""",
        encoding="utf-8",
    )
    settings = Settings(
        _env_file=None,
        accounts_file=accounts_file,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        heartbeat_file=tmp_path / "heartbeat",
    )
    environ = {"HUBSPOT_TOKEN": DEFAULT_TOKEN, "GHL_TOKEN": GHL_TOKEN}
    built = build_runtime(settings, environ=environ)
    for ctx in built.contexts:
        ctx.connector.setup(apply=True)
    yield built
    built.close()


def alerts_by_account(runtime) -> list[tuple[str, str]]:
    with runtime.store.begin() as conn:
        rows = conn.execute(sa.select(alerts.c.account, alerts.c.contact_id).order_by(alerts.c.id))
        return sorted((row.account, row.contact_id) for row in rows)


def test_same_contact_id_in_two_accounts_stays_apart(hubspot, ghl, ghl_clock, runtime):
    now = datetime.now(UTC)
    hubspot_id = hubspot.add_contact(engaged_lead(now))
    add_lead(ghl, hubspot_id, custom={"contact.timeline": "Just researching"})
    daemon = Daemon(runtime, clock=ghl_clock)

    daemon.sync_all()

    assert [ctx.account for ctx in runtime.contexts] == [HUBSPOT_KEY, GHL_KEY]
    assert hubspot.contact(hubspot_id)["leadscore_tier"] == "hot"
    assert custom_value(ghl, hubspot_id, "contact.lead_tier") != "Hot"
    assert alerts_by_account(runtime) == [(HUBSPOT_KEY, hubspot_id)]
    with runtime.store.begin() as conn:
        hubspot_lead = runtime.store.get_leads(conn, HUBSPOT_KEY, [hubspot_id])[hubspot_id]
        ghl_lead = runtime.store.get_leads(conn, GHL_KEY, [hubspot_id])[hubspot_id]
        hubspot_cursor = runtime.store.get_cursor(conn, HUBSPOT_KEY)
        ghl_cursor = runtime.store.get_cursor(conn, GHL_KEY)
    assert hubspot_lead.lead.answers["timeline"] != ghl_lead.lead.answers["timeline"]
    assert hubspot_cursor.cursor_at is not None
    assert ghl_cursor.cursor_at is not None


def test_daily_limit_on_one_account_keeps_other_syncing(hubspot, ghl, ghl_clock, runtime):
    now = datetime.now(UTC)
    hubspot_id = hubspot.add_contact(engaged_lead(now))
    hubspot.daily_limit = 0  # the portal's calls for the day are used up
    daemon = Daemon(runtime, clock=ghl_clock)

    daemon.sync_all()
    add_lead(ghl, "ctLater")
    daemon.sync_all()

    assert custom_value(ghl, "ctLater", "contact.lead_tier") == "Hot"
    with runtime.store.begin() as conn:
        hubspot_cursor = runtime.store.get_cursor(conn, HUBSPOT_KEY)
        ghl_cursor = runtime.store.get_cursor(conn, GHL_KEY)
    assert hubspot_cursor.paused_until is not None
    assert hubspot_cursor.paused_until > ghl_clock.now + timedelta(minutes=1)
    assert hubspot_cursor.cursor_at is None
    assert ghl_cursor.paused_until is None
    assert "leadscore_score" not in hubspot.contact(hubspot_id)
    assert alerts_by_account(runtime) == [(GHL_KEY, "ctLater")]


def test_alerts_delivered_through_own_account(hubspot, ghl, ghl_clock, runtime):
    now = datetime.now(UTC)
    hubspot_id = hubspot.add_contact(engaged_lead(now))
    add_lead(ghl, "ctUptown")
    daemon = Daemon(runtime, clock=ghl_clock)

    daemon.sync_all()
    daemon.deliver_outbox()

    tasks = hubspot.objects["tasks"]
    [task_id] = tasks
    assert hubspot.associations[("tasks", task_id, "contacts")].keys() == {hubspot_id}
    assert "lead-tier-hot" in ghl.state.locations[GHL_LOCATION].contacts["ctUptown"]["tags"]
    ghl_task_contacts = [request.path for request in ghl.calls("POST", r"/contacts/.*/tasks")]
    assert all("ctUptown" in path for path in ghl_task_contacts)
    with runtime.store.begin() as conn:
        statuses = conn.execute(sa.select(alerts.c.account, alerts.c.status)).all()
    assert sorted(statuses) == [(GHL_KEY, "sent"), (HUBSPOT_KEY, "sent")]

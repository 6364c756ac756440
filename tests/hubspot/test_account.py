from datetime import UTC, datetime, timedelta

import pytest
import requests
from pydantic import SecretStr, ValidationError

from connectors.base import HotLeadAlert, OutcomeKind, StageAction
from connectors.errors import (
    ConfigurationError,
    DataShapeError,
    MissingScopeError,
    TransientError,
)
from connectors.hubspot import HubSpotConfig, PipelineMode
from scoring.result import Tier
from tests.hubspot.conftest import build_connector

DEAL_STAGES = {
    Tier.HOT: "consultbooked",
    Tier.WARM: "qualifiedtobuy",
    Tier.COLD: "appointmentscheduled",
}


# -- OAuth --------------------------------------------------------------------


def oauth_connector(clock, fake, **settings):
    fake.add_oauth_client("client-1", "s3cret", "refresh-1")
    return build_connector(
        clock,
        token=None,
        oauth_client_id="client-1",
        oauth_client_secret=SecretStr("s3cret"),
        oauth_refresh_token=SecretStr("refresh-1"),
        **settings,
    )


def test_oauth_refreshes_before_expiry(clock, mocked, fake):
    fake.add_contact({})
    connector = oauth_connector(clock, fake)

    list(connector.pull_all())
    clock.advance(1800 - 300 - 1)
    list(connector.pull_all())
    refreshes_before_margin = connector.oauth.refresh_count
    clock.advance(2)
    list(connector.pull_all())

    assert refreshes_before_margin == 1
    assert connector.oauth.refresh_count == 2
    token_calls = fake.calls_to("POST", r"^/oauth/v1/token$")
    assert len(token_calls) == 2
    assert token_calls[0].body["grant_type"] == "refresh_token"
    assert all(call.status == 200 for call in fake.calls)


def test_oauth_bad_refresh_token_is_configuration_error(clock, mocked, fake):
    fake.add_oauth_client("client-1", "s3cret", "refresh-other")
    connector = build_connector(
        clock,
        token=None,
        oauth_client_id="client-1",
        oauth_client_secret=SecretStr("s3cret"),
        oauth_refresh_token=SecretStr("refresh-1"),
    )

    with pytest.raises(ConfigurationError, match="oauth_refresh_token"):
        list(connector.pull_all())


def test_config_without_credentials_is_rejected():
    with pytest.raises(ValidationError, match="LEADSCORE_HUBSPOT_TOKEN"):
        HubSpotConfig(portal_id="1")


# -- setup --------------------------------------------------------------------


def test_setup_creates_group_and_properties_once(connector, fake):
    first = connector.setup()
    posts_after_first = len([c for c in fake.calls if c.method == "POST"])
    second = connector.setup()

    assert "group leadscore" in first.created
    assert "property leadscore_score" in first.created
    assert len(first.created) == 7
    assert first.problems == ()
    assert second.created == ()
    assert len(second.existing) == 7
    assert len([c for c in fake.calls if c.method == "POST"]) == posts_after_first
    tier = fake.properties["leadscore_tier"]
    assert [o["value"] for o in tier["options"]] == ["hot", "warm", "cold", "disqualified"]
    assert fake.properties["leadscore_scored_at"]["type"] == "datetime"
    assert fake.properties["leadscore_reasons"]["fieldType"] == "textarea"


def test_setup_counts_conflict_as_existing(connector, fake):
    fake.fail_next(
        "POST",
        r"^/crm/v3/properties/contacts$",
        409,
        body={"status": "error", "message": "already exists", "category": "CONFLICT"},
    )

    report = connector.setup()

    assert "property leadscore_score" in report.existing
    assert "property leadscore_fit" in report.created


def test_setup_without_apply_only_reports(connector, fake):
    report = connector.setup(apply=False)

    assert report.created == ()
    assert any("leadscore_score is missing" in problem for problem in report.problems)
    assert "leadscore_score" not in fake.properties


def test_setup_reports_wrong_property_type(connector, fake):
    fake.properties["leadscore_score"] = {
        "name": "leadscore_score",
        "label": "x",
        "type": "string",
        "fieldType": "text",
        "groupName": "leadscore",
        "options": [],
    }

    report = connector.setup()

    assert any("exists with type string" in problem for problem in report.problems)


# -- pipeline -----------------------------------------------------------------


def deal_connector(clock):
    return build_connector(clock, pipeline_mode=PipelineMode.DEAL, deal_stage_ids=DEAL_STAGES)


def test_deal_created_then_unchanged_then_moved(clock, mocked, fake):
    contact_id = fake.add_contact({"firstname": "Jane", "hubspot_owner_id": "41629779"})
    connector = deal_connector(clock)
    contact = connector.fetch_contact(contact_id)

    created = connector.move_stage(contact, Tier.WARM)
    unchanged = connector.move_stage(contact, Tier.WARM)
    moved = connector.move_stage(contact, Tier.HOT)

    assert created.action is StageAction.CREATED
    assert unchanged.action is StageAction.UNCHANGED
    assert moved.action is StageAction.MOVED
    deal = fake.objects["deals"][created.record_id]
    assert deal.properties["dealstage"] == "consultbooked"
    assert deal.properties["pipeline"] == "default"
    assert deal.properties["dealname"] == "Jane (lead)"
    assert fake.associations[("deals", created.record_id, "contacts")] == {contact_id: 3}
    assert len(fake.objects["deals"]) == 1


@pytest.mark.parametrize(
    "stage",
    ["closedwon", "closedlost", "presentationscheduled"],
    ids=["won", "lost", "unmapped-stage"],
)
def test_staff_stage_is_not_moved(clock, mocked, fake, stage):
    contact_id = fake.add_contact({"firstname": "Jane"})
    deal_id = fake.add_object("deals", {"dealname": "x", "pipeline": "default", "dealstage": stage})
    fake.associate("deals", deal_id, "contacts", contact_id, 3)
    connector = deal_connector(clock)

    result = connector.move_stage(connector.fetch_contact(contact_id), Tier.HOT)

    assert result.action is StageAction.KEPT_STAFF_STAGE
    assert result.stage == stage
    assert fake.objects["deals"][deal_id].properties["dealstage"] == stage
    assert fake.calls_to("PATCH", r"/deals/") == []


def test_deal_in_other_pipeline_is_ignored(clock, mocked, fake):
    contact_id = fake.add_contact({"firstname": "Jane"})
    other = fake.add_object("deals", {"dealname": "x", "pipeline": "memberships", "dealstage": "a"})
    fake.associate("deals", other, "contacts", contact_id, 3)
    connector = deal_connector(clock)

    result = connector.move_stage(connector.fetch_contact(contact_id), Tier.HOT)

    assert result.action is StageAction.CREATED
    assert result.record_id != other


def test_lead_status_mode_moves_and_keeps_staff_value(clock, mocked, fake):
    statuses = {Tier.HOT: "OPEN", Tier.WARM: "NEW", Tier.COLD: "NEW"}
    connector = build_connector(
        clock, pipeline_mode=PipelineMode.LEAD_STATUS, lead_status_values=statuses
    )
    fresh = fake.add_contact({"hs_lead_status": "NEW"})
    staff = fake.add_contact({"hs_lead_status": "CONNECTED"})

    moved = connector.move_stage(connector.fetch_contact(fresh), Tier.HOT)
    kept = connector.move_stage(connector.fetch_contact(staff), Tier.HOT)

    assert moved.action is StageAction.MOVED
    assert fake.contact(fresh)["hs_lead_status"] == "OPEN"
    assert kept.action is StageAction.KEPT_STAFF_STAGE
    assert fake.contact(staff)["hs_lead_status"] == "CONNECTED"


def test_no_pipeline_mode_is_not_configured(connector, fake):
    contact = connector.fetch_contact(fake.add_contact({}))

    assert connector.move_stage(contact, Tier.HOT).action is StageAction.NOT_CONFIGURED


# -- alerts -------------------------------------------------------------------


def alert_for(contact_id, **fields):
    values = {
        "account": "62515",
        "contact_id": contact_id,
        "score": 92,
        "tier": Tier.HOT,
        "reasons": ('timeline "this_week" → +30', "3 email clicks → +10"),
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 415 555 0134",
        "treatment": "botox",
        "owner_id": "41629779",
        "record_url": f"https://app.hubspot.com/contacts/62515/record/0-1/{contact_id}",
        "previous_score": 61,
    }
    values.update(fields)
    return HotLeadAlert(**values)


def test_alert_creates_task_for_owner(connector, fake, clock):
    contact_id = fake.add_contact({"firstname": "Jane"})

    task_id = connector.create_alert(alert_for(contact_id), "62515:1001:2026-12-01")

    task = fake.objects["tasks"][task_id].properties
    assert task["hs_task_subject"] == "Hot lead: Jane Doe (92)"
    assert task["hubspot_owner_id"] == "41629779"
    assert task["hs_task_type"] == "CALL"
    assert task["hs_task_priority"] == "HIGH"
    assert task["hs_timestamp"] == "2026-12-01T12:15:00.000Z"
    for text in ("Score: 92 (was 61)", "botox", "+1 415 555 0134", "3 email clicks", "record/0-1"):
        assert text in task["hs_task_body"]
    assert fake.associations[("tasks", task_id, "contacts")] == {contact_id: 204}


def test_alert_with_same_key_creates_one_task(connector, fake):
    contact_id = fake.add_contact({"firstname": "Jane"})

    first = connector.create_alert(alert_for(contact_id), "key-1")
    again = connector.create_alert(alert_for(contact_id), "key-1")
    other = connector.create_alert(alert_for(contact_id), "key-2")

    assert again == first
    assert other != first
    assert len(fake.objects["tasks"]) == 2
    assert len(fake.calls_to("POST", r"^/crm/v3/objects/tasks$")) == 2


# -- outcomes -----------------------------------------------------------------


def test_outcomes_from_deal_stage_and_lifecycle(connector, fake, clock):
    won_at = clock.datetime() - timedelta(days=2)
    contact_id = fake.add_contact({})
    deal_id = fake.add_object(
        "deals",
        {
            "dealname": "x",
            "pipeline": "default",
            "dealstage": "closedwon",
            "hs_v2_date_entered_closedwon": str(int(won_at.timestamp() * 1000)),
        },
    )
    fake.associate("deals", deal_id, "contacts", contact_id, 3)
    fake.add_object(
        "deals", {"dealname": "open", "pipeline": "default", "dealstage": "qualifiedtobuy"}
    )
    customer = fake.add_contact({"hs_lifecyclestage_customer_date": "2026-11-30T08:00:00.000Z"})
    fake.add_contact({"lifecyclestage": "lead"})

    outcomes = list(connector.pull_outcomes(clock.datetime() - timedelta(days=7)))

    by_source = {o.source: o for o in outcomes}
    assert set(by_source) == {"deal_stage:closedwon", "lifecycle:customer"}
    won = by_source["deal_stage:closedwon"]
    assert won.contact_id == contact_id
    assert won.kind is OutcomeKind.WON
    assert won.record_id == deal_id
    assert abs(won.occurred_at - won_at) < timedelta(seconds=1)
    lifecycle = by_source["lifecycle:customer"]
    assert lifecycle.contact_id == customer
    assert lifecycle.occurred_at == datetime(2026, 11, 30, 8, tzinfo=UTC)


def test_outcomes_before_since_are_skipped(connector, fake, clock):
    fake.add_contact({"hs_lifecyclestage_customer_date": "2026-01-01T00:00:00.000Z"})

    assert list(connector.pull_outcomes(clock.datetime() - timedelta(days=1))) == []


# -- doctor -------------------------------------------------------------------


def test_check_passes_after_setup(connector):
    connector.setup()

    results = connector.check()

    failing = [r for r in results if not r.ok]
    assert failing == []
    assert any(r.name == "hubspot field mapping" for r in results)


def test_check_reports_missing_properties_and_scope(clock, mocked, fake):
    fake.tokens = {fake_token(fake): (frozenset({"crm.objects.contacts.read"}), None)}
    connector = build_connector(clock, pipeline_mode=PipelineMode.DEAL, deal_stage_ids=DEAL_STAGES)

    results = {r.name: r for r in connector.check()}

    assert results["hubspot connection, token and contacts read scope"].ok
    deals = results["hubspot deals read scope"]
    assert not deals.ok
    assert deals.failed
    assert "crm.objects.deals.read" in deals.fix
    assert not results["hubspot score properties"].ok
    assert "leadscore setup" in results["hubspot score properties"].fix


def test_check_lists_close_matches_for_mapping(clock, mocked, fake):
    from scoring.mapping import FieldMapping

    connector = build_connector(clock, mapping=FieldMapping(answers={"budget": ["budjet"]}))

    results = {r.name: r for r in connector.check()}

    mapping = results["hubspot field mapping"]
    assert not mapping.ok
    assert "budget" in mapping.detail


def fake_token(fake):
    return next(iter(fake.tokens))


def test_config_rejects_unknown_timezone():
    with pytest.raises(ValidationError, match="America/New_York"):
        HubSpotConfig(portal_id="1", token=SecretStr("t"), account_timezone="Pacific Time")


def test_oauth_refreshes_once_across_threads(clock, mocked, fake):
    import threading

    connector = oauth_connector(clock, fake)
    tokens = []

    def use_token():
        tokens.append(connector.oauth())

    threads = [threading.Thread(target=use_token) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert connector.oauth.refresh_count == 1
    assert len(set(tokens)) == 1
    assert len(fake.calls_to("POST", r"^/oauth/v1/token$")) == 1


def test_task_create_timeout_is_not_resent(connector, fake):
    import requests

    from connectors.errors import TransientError

    contact_id = fake.add_contact({"firstname": "Jane"})
    fake.fail_next(
        "POST",
        r"^/crm/v3/objects/tasks$",
        0,
        exception=requests.ReadTimeout("read timed out"),
        after_serving=True,
    )

    with pytest.raises(TransientError, match="may have been applied"):
        connector.create_alert(alert_for(contact_id), "key-1")
    task_id = connector.create_alert(alert_for(contact_id), "key-1")

    assert len(fake.objects["tasks"]) == 1
    assert task_id in fake.objects["tasks"]
    assert len(fake.calls_to("POST", r"^/crm/v3/objects/tasks$")) == 1


def test_task_create_retries_after_429(connector, fake):
    contact_id = fake.add_contact({"firstname": "Jane"})
    body = {
        "status": "error",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
        "message": "You have reached your ten_secondly_rolling limit.",
    }
    fake.fail_next("POST", r"^/crm/v3/objects/tasks$", 429, body=body)

    task_id = connector.create_alert(alert_for(contact_id), "key-1")

    assert task_id in fake.objects["tasks"]
    assert len(fake.calls_to("POST", r"^/crm/v3/objects/tasks$")) == 2


def test_deal_create_after_503_is_not_resent(clock, mocked, fake):
    from connectors.errors import TransientError

    contact_id = fake.add_contact({"firstname": "Jane"})
    connector = deal_connector(clock)
    contact = connector.fetch_contact(contact_id)
    fake.fail_next("POST", r"^/crm/v3/objects/deals$", 503)

    with pytest.raises(TransientError):
        connector.move_stage(contact, Tier.HOT)

    assert len(fake.calls_to("POST", r"^/crm/v3/objects/deals$")) == 1


def test_check_refused_sends_one_request(clock, mocked, fake):
    fake.fail_next(
        "GET", r"/crm/v3/objects/contacts$", 0, times=10, exception=requests.ConnectionError()
    )
    connector = build_connector(clock)

    results = connector.check()

    first, *rest = results
    assert not first.ok
    assert "connection to https://api.hubapi.com failed" in first.detail
    assert "LEADSCORE_CRM_BASE_URL" in first.fix
    assert "TOKEN" not in first.fix
    assert len(fake.calls) == 1
    assert clock.slept == 0
    assert [r.detail for r in rest] == ["skipped: fix the connection first"] * len(rest)
    assert all(r.skipped and not r.failed for r in rest)


def test_check_reports_401_once(clock, mocked, fake):
    connector = build_connector(clock, token=SecretStr("pat-na1-not-issued-0000"))

    results = connector.check()

    failed = [r for r in results if r.failed]
    assert len(failed) == 1
    assert "HTTP 401" in failed[0].detail
    assert "LEADSCORE_HUBSPOT_TOKEN" in failed[0].fix
    assert len(fake.calls) == 1
    skipped = [r for r in results if r.skipped]
    assert {r.detail for r in skipped} == {"skipped: fix the token first"}


def test_check_fix_names_missing_scope(clock, mocked, fake):
    fake.tokens = {fake_token(fake): (frozenset({"crm.objects.contacts.read"}), None)}
    connector = build_connector(clock, pipeline_mode=PipelineMode.DEAL, deal_stage_ids=DEAL_STAGES)

    results = {r.name: r for r in connector.check()}

    deals = results["hubspot deals read scope"]
    assert deals.failed
    assert deals.fix.startswith("grant crm.objects.deals.read")
    assert "TOKEN" not in deals.fix
    assert "LEADSCORE_CRM_BASE_URL" not in deals.fix


def test_check_restores_retry_policy(connector):
    retry, timeouts = connector.http.retry, connector.http.timeouts

    connector.check()

    assert connector.http.retry == retry
    assert connector.http.timeouts == timeouts


NO_DEALS_SCOPES = frozenset({"crm.objects.contacts.read", "crm.schemas.contacts.read"})


def test_deals_scope_missing_warns_for_outcomes(clock, mocked, fake):
    fake.tokens = {fake_token(fake): (NO_DEALS_SCOPES, None)}
    connector = build_connector(clock)

    results = {r.name: r for r in connector.check()}

    deals = results["hubspot deals read scope"]
    assert not deals.ok
    assert not deals.required
    assert not deals.failed
    assert "booking outcomes from deal stages closedlost, closedwon" in deals.detail
    assert "crm.objects.deals.read" in deals.fix
    assert "outcome_deal_stages = {}" in deals.fix


def test_deals_scope_not_needed_without_deal_features(clock, mocked, fake):
    fake.tokens = {fake_token(fake): (NO_DEALS_SCOPES, None)}
    connector = build_connector(clock, outcome_deal_stages={})

    results = {r.name: r for r in connector.check()}

    deals = results["hubspot deals read scope"]
    assert deals.skipped
    assert not deals.failed
    assert deals.detail.startswith("not needed")
    assert fake.calls_to("POST", r"/deals/search") == []


def test_deals_scope_required_for_deal_pipeline(clock, mocked, fake):
    fake.tokens = {fake_token(fake): (NO_DEALS_SCOPES, None)}
    connector = build_connector(clock, pipeline_mode=PipelineMode.DEAL, deal_stage_ids=DEAL_STAGES)

    results = {r.name: r for r in connector.check()}

    deals = results["hubspot deals read scope"]
    assert deals.failed
    assert "deal pipeline moves (pipeline default)" in deals.detail


@pytest.mark.parametrize(
    ("error", "expected_fix"),
    [
        (
            MissingScopeError("denied", scopes=("crm.objects.deals.read",), status=403),
            "grant crm.objects.deals.read to the token",
        ),
        (ConfigurationError("token invalid", status=401), "TOKEN FIX"),
        (DataShapeError("not JSON", status=200), "did not come from the CRM's API"),
        (TransientError("server error", status=503), "server error; run doctor again later"),
    ],
    ids=["missing_scope", "unauthorized", "not_json", "server_error"],
)
def test_fix_line_matches_error(error, expected_fix):
    from connectors.checks import fix_for

    fix = fix_for(error, token_fix="TOKEN FIX")

    assert expected_fix in fix

"""`setup` (custom fields), `check` (doctor) and the fake's spec validation."""

from __future__ import annotations

import requests

from connectors.base import CrmConnector
from connectors.gohighlevel.setup import display_name
from scoring.mapping import FieldMapping
from tests.fakes.gohighlevel import ALL_SCOPES
from tests.fakes.openapi import require_validator
from tests.gohighlevel.conftest import (
    LOCATION,
    SPEC_VALIDATOR,
    TOKEN,
    add_pipeline,
    add_worker_fields,
    tier_stages,
)

WORKER_KEYS = {
    "contact.lead_score": "NUMERICAL",
    "contact.lead_fit": "NUMERICAL",
    "contact.lead_intent": "NUMERICAL",
    "contact.lead_tier": "SINGLE_OPTIONS",
    "contact.lead_score_reasons": "LARGE_TEXT",
}


def _fields_by_key(fake) -> dict[str, dict]:
    return {f["fieldKey"]: f for f in fake.state.locations[LOCATION].custom_fields.values()}


def test_connector_satisfies_protocol(make_connector) -> None:
    assert isinstance(make_connector(), CrmConnector)


def test_display_name_gives_back_the_key() -> None:
    assert display_name("contact.lead_score_reasons") == "Lead Score Reasons"


def test_setup_creates_missing_fields_with_types(fake, make_connector) -> None:
    report = make_connector().setup()

    assert set(report.created) == set(WORKER_KEYS)
    assert report.existing == ()
    assert report.problems == ()
    fields = _fields_by_key(fake)
    for key, data_type in WORKER_KEYS.items():
        assert fields[key]["dataType"] == data_type
    assert fields["contact.lead_tier"]["picklistOptions"] == ["Hot", "Warm", "Cold", "Disqualified"]


def test_setup_twice_creates_nothing_more(fake, make_connector) -> None:
    connector = make_connector()
    connector.setup()

    again = connector.setup()

    assert again.created == ()
    assert set(again.existing) == set(WORKER_KEYS)
    assert len(fake.calls("POST", "/customFields")) == len(WORKER_KEYS)


def test_setup_without_apply_only_reports(fake, make_connector) -> None:
    report = make_connector().setup(apply=False)

    assert report.created == ()
    assert len([p for p in report.problems if "is missing" in p]) == len(WORKER_KEYS)
    assert fake.calls("POST") == []


def test_setup_reports_field_of_wrong_type(fake, make_connector) -> None:
    fake.state.add_custom_field(LOCATION, "Lead Score", "TEXT")

    report = make_connector().setup()

    assert "contact.lead_score" in report.existing
    assert any("has type TEXT, expected NUMERICAL" in p for p in report.problems)


def test_setup_reports_unmatched_mapping_names(fake, make_connector) -> None:
    mapping = FieldMapping(
        answers={"timeline": ["contact.timline"], "budget": ["budget"]},
        attributes={"zip": ["postalCode"]},
    )

    report = make_connector(mapping=mapping).setup()

    [problem] = [p for p in report.problems if p.startswith("mapping")]
    assert "answers.timeline" in problem
    assert "close matches: contact.timeline" in problem


def test_setup_checks_pipeline_stage_ids(fake, make_connector) -> None:
    pipeline_id, stages = add_pipeline(fake)
    stage_ids = tier_stages(stages)
    stage_ids[next(iter(stage_ids))] = "stage-from-another-pipeline"

    report = make_connector(pipeline_id=pipeline_id, stage_ids=stage_ids).setup()

    assert any("stage-from-another-pipeline" in p for p in report.problems)


def test_check_passes_on_a_set_up_location(fake, make_connector) -> None:
    add_worker_fields(fake)

    results = make_connector().check()

    failed = [r for r in results if not r.ok]
    assert failed == []
    names = {r.name for r in results}
    assert "scope contacts.readonly" in names
    assert "scope conversations/message.readonly" in names


def test_check_names_missing_scope_and_fields(fake, make_connector) -> None:
    limited = fake.state.issue_token(LOCATION, scopes=ALL_SCOPES - {"surveys.readonly"})

    results = {r.name: r for r in make_connector(token=limited).check()}

    assert results["token and location access"].ok
    survey = results["scope surveys.readonly"]
    assert not survey.ok
    assert "surveys.readonly" in survey.fix
    assert not results["score custom fields"].ok
    assert results["score custom fields"].fix == "run `leadscore setup`"


def test_check_stops_at_invalid_token(fake, make_connector) -> None:
    result, *rest = make_connector(token="pit-not-issued-0000").check()

    assert result.name == "token and location access"
    assert not result.ok
    assert "private integration token" in result.detail
    assert "LEADSCORE_GHL_TOKEN" in result.fix
    assert len(fake.calls()) == 1
    assert [r.detail for r in rest] == ["skipped: fix the token first"] * len(rest)
    assert not any(r.failed for r in rest)


def test_check_sends_one_request_when_refused(fake, make_connector, sleeps) -> None:
    # The responses mock raises ConnectionError for a URL the fake does not serve.
    connector = make_connector(base_url="http://127.0.0.1:9")

    result, *rest = connector.check()

    assert not result.ok
    assert "connection to http://127.0.0.1:9 failed (ConnectionError)" in result.detail
    assert "LEADSCORE_CRM_BASE_URL" in result.fix
    assert "token" not in result.fix.lower()
    assert sleeps == []
    assert [r.detail for r in rest] == ["skipped: fix the connection first"] * len(rest)


def test_check_restores_retry_policy(fake, make_connector) -> None:
    connector = make_connector()
    retry, timeouts = connector.client.http.retry, connector.client.http.timeouts

    connector.check()

    assert connector.client.http.retry == retry
    assert connector.client.http.timeouts == timeouts


def test_fake_rejects_body_that_breaks_the_spec(fake, rsps) -> None:
    require_validator(SPEC_VALIDATOR)
    fake.state.add_contact(LOCATION, contact_id="ct1")

    response = requests.put(
        f"{fake.base_url}/contacts/ct1",
        json={"customFields": [{"field_value": 3}]},  # an item without `id`
        headers={"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"},
        timeout=5,
    )

    assert response.status_code == 400
    [problem] = response.json()["message"]
    assert "customFields/0" in problem
    assert "not valid under any of the given schemas" in problem


def test_fake_rejects_search_above_page_limit(fake, rsps) -> None:
    response = requests.post(
        f"{fake.base_url}/contacts/search",
        json={"locationId": LOCATION, "pageLimit": 501},
        headers={"Authorization": f"Bearer {TOKEN}", "Version": "2021-07-28"},
        timeout=5,
    )

    assert response.status_code in (400, 422)
    assert "500" in str(response.json()["message"])


def test_outcome_scopes_missing_only_warn(fake, make_connector) -> None:
    add_worker_fields(fake)
    limited = fake.state.issue_token(
        LOCATION, scopes=ALL_SCOPES - {"opportunities.readonly", "calendars.readonly"}
    )

    results = {r.name: r for r in make_connector(token=limited).check()}

    for scope in ("opportunities.readonly", "calendars.readonly"):
        result = results[f"scope {scope}"]
        assert not result.ok
        assert not result.failed
        assert "booking outcomes" in result.detail
    assert [r.name for r in results.values() if r.failed] == []


def test_opportunities_scope_required_for_pipeline(fake, make_connector) -> None:
    add_worker_fields(fake)
    limited = fake.state.issue_token(LOCATION, scopes=ALL_SCOPES - {"opportunities.readonly"})
    pipeline_id, stages = add_pipeline(fake)

    connector = make_connector(
        token=limited, pipeline_id=pipeline_id, stage_ids=tier_stages(stages)
    )
    results = {r.name: r for r in connector.check()}

    opportunities = results["scope opportunities.readonly"]
    assert opportunities.failed
    assert "pipeline stage moves" in opportunities.detail

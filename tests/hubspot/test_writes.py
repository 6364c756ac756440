import json
from datetime import UTC, datetime

import pytest
import structlog

from connectors.base import ScoreWrite
from connectors.errors import (
    ConfigurationError,
    MissingScopeError,
    RateLimitedError,
    SkippableRecordError,
)
from scoring.result import Tier
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot
from tests.hubspot.conftest import build_connector

SCORED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def score(contact_id, value=87, tier=Tier.HOT):
    return ScoreWrite(
        contact_id=contact_id,
        score=value,
        fit=70,
        intent=90,
        tier=tier,
        reasons='timeline "this_week" → +30; budget "750_1500" → +20',
        scored_at=SCORED_AT,
    )


def with_score_properties(fake):
    for name, kind, field_type in [
        ("leadscore_score", "number", "number"),
        ("leadscore_fit", "number", "number"),
        ("leadscore_intent", "number", "number"),
        ("leadscore_reasons", "string", "textarea"),
        ("leadscore_scored_at", "datetime", "date"),
    ]:
        fake.properties[name] = {
            "name": name,
            "label": name,
            "type": kind,
            "fieldType": field_type,
            "groupName": "leadscore",
            "options": [],
        }
    fake.properties["leadscore_tier"] = {
        "name": "leadscore_tier",
        "label": "tier",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "leadscore",
        "options": [{"label": t.value, "value": t.value} for t in Tier],
    }


def test_write_scores_batches_absolute_values(connector, fake):
    with_score_properties(fake)
    ids = [fake.add_contact({}) for _ in range(250)]

    report = connector.write_scores([score(i) for i in ids])

    batches = fake.calls_to("POST", r"/contacts/batch/update$")
    assert [len(call.body["inputs"]) for call in batches] == [100, 100, 50]
    assert report.calls == 3
    assert set(report.written) == set(ids)
    assert report.failed == {}
    first = batches[0].body["inputs"][0]["properties"]
    assert first == {
        "leadscore_score": "87",
        "leadscore_fit": "70",
        "leadscore_intent": "90",
        "leadscore_tier": "hot",
        "leadscore_reasons": 'timeline "this_week" → +30; budget "750_1500" → +20',
        "leadscore_scored_at": "2026-12-01T12:00:00.000Z",
    }
    assert fake.contact(ids[0])["leadscore_score"] == "87"


def test_write_scores_reports_updated_at_for_echo_detection(connector, fake, clock):
    with_score_properties(fake)
    contact_id = fake.add_contact({}, modified_ms=int(clock() * 1000) - 5000)

    report = connector.write_scores([score(contact_id)])

    stored = fake.objects["contacts"][contact_id]
    assert report.modified_at[contact_id] == datetime.fromtimestamp(
        stored.updated_ms / 1000, tz=UTC
    )
    assert fake.contact(contact_id)["lastmodifieddate"].startswith("2026-12-01T12:00:00")


def test_write_scores_207_reports_only_the_bad_input(connector, fake):
    with_score_properties(fake)
    good = [fake.add_contact({}) for _ in range(3)]
    bad = fake.add_contact({})
    fake.rejected_values["leadscore_score"] = lambda value: value == "13"
    writes = [score(i) for i in good] + [score(bad, value=13)]

    report = connector.write_scores(writes)

    assert set(report.written) == set(good)
    assert list(report.failed) == [bad]
    assert "INVALID_VALUE" in report.failed[bad]
    # A value error is not retried: one batch call only.
    assert report.calls == 1


def test_write_scores_retries_transient_input_once(connector, fake):
    with_score_properties(fake)
    ids = [fake.add_contact({}) for _ in range(3)]
    fake.transient_batch_failures[ids[1]] = "INTERNAL_ERROR"

    report = connector.write_scores([score(i) for i in ids])

    assert set(report.written) == set(ids)
    assert report.failed == {}
    retry = fake.calls_to("POST", r"/contacts/batch/update$")[1]
    assert [item["id"] for item in retry.body["inputs"]] == [ids[1]]


def test_write_scores_splits_batch_rejected_whole(connector, fake):
    with_score_properties(fake)
    ids = [fake.add_contact({}) for _ in range(4)]
    fake.fail_next(
        "POST",
        r"/contacts/batch/update$",
        400,
        body={
            "status": "error",
            "message": "Property values were not valid",
            "category": "VALIDATION_ERROR",
        },
    )

    report = connector.write_scores([score(i) for i in ids])

    assert set(report.written) == set(ids)
    sizes = [len(c.body["inputs"]) for c in fake.calls_to("POST", r"/contacts/batch/update$")]
    assert sizes == [4, 2, 2]


def test_write_scores_unknown_contact_is_failed(connector, fake):
    with_score_properties(fake)
    known = fake.add_contact({})

    report = connector.write_scores([score(known), score("999999")])

    assert report.written == (known,)
    assert "not found" in report.failed["999999"].lower()


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (
            429,
            {},
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            },
        ),
        (503, {}, {"status": "error", "message": "Service Unavailable"}),
        (502, {"Retry-After": "2"}, {"status": "error", "message": "Bad Gateway"}),
        (423, {}, {"status": "error", "message": "Locked"}),
    ],
    ids=["429-ten-secondly", "503", "502-retry-after", "423-locked"],
)
def test_client_retries_then_succeeds(connector, fake, clock, status, headers, body):
    fake.add_contact({})
    fake.fail_next("GET", r"/crm/v3/objects/contacts$", status, body=body, headers=headers, times=2)

    pages = list(connector.pull_all())

    assert len(pages[0].records) == 1
    assert len(fake.calls_to("GET", r"/crm/v3/objects/contacts$")) == 3
    assert clock.slept > 0


def test_ten_secondly_429_waits_the_interval(connector, fake, clock):
    fake.add_contact({})
    body = {
        "status": "error",
        "errorType": "RATE_LIMIT",
        "policyName": "TEN_SECONDLY_ROLLING",
        "message": "You have reached your ten_secondly_rolling limit.",
    }
    fake.fail_next(
        "GET",
        r"/crm/v3/objects/contacts$",
        429,
        body=body,
        headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
    )
    before = clock.slept

    list(connector.pull_all())

    assert clock.slept - before == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(400, SkippableRecordError), (401, ConfigurationError), (403, ConfigurationError)],
    ids=["400", "401", "403"],
)
def test_client_does_not_retry(connector, fake, status, error_type):
    contact_id = fake.add_contact({})
    fake.fail_next("GET", r"/contacts/\d+$", status, body={"status": "error", "message": "no"})

    with pytest.raises(error_type):
        connector.fetch_contact(contact_id)

    assert len(fake.calls_to("GET", r"/contacts/\d+$")) == 1


def test_invalid_token_names_the_setting(clock, mocked, fake):
    fake.tokens = {"pat-na1-other": (frozenset(), None)}
    connector = build_connector(clock)

    with pytest.raises(ConfigurationError) as caught:
        list(connector.pull_all())

    message = str(caught.value)
    assert "LEADSCORE_HUBSPOT_TOKEN" in message
    assert "HTTP 401" in message
    assert DEFAULT_TOKEN not in message


def test_missing_scope_names_the_scope(clock, mocked, fake):
    fake.tokens = {DEFAULT_TOKEN: (frozenset({"crm.objects.contacts.read"}), None)}
    with_score_properties(fake)
    contact_id = fake.add_contact({})
    connector = build_connector(clock)

    with pytest.raises(MissingScopeError) as caught:
        connector.write_scores([score(contact_id)])

    assert caught.value.scopes == ("crm.objects.contacts.write",)
    assert "crm.objects.contacts.write" in str(caught.value)
    assert "POST /crm/v3/objects/contacts/batch/update" in str(caught.value)


def test_daily_limit_raises_rate_limited_with_reset(clock, mocked, fake):
    fake.daily_limit = 1
    fake.add_contact({})
    connector = build_connector(clock)
    connector.contact_properties()

    with pytest.raises(RateLimitedError) as caught:
        list(connector.pull_all())

    # 12:00 UTC in a UTC account: 12 hours to the reset at midnight.
    assert caught.value.retry_after == pytest.approx(12 * 3600)
    assert len(fake.calls_to("GET", r"/crm/v3/objects/contacts$")) == 1


def test_client_limiter_keeps_under_burst_limit(clock, mocked):
    fake = FakeHubSpot(clock=clock, burst_limit=10)
    mocked.reset()
    fake.install(mocked)
    with_score_properties(fake)
    ids = [fake.add_contact({}) for _ in range(30)]
    connector = build_connector(clock, burst_limit=10)

    for contact_id in ids:
        connector.fetch_contact(contact_id)

    statuses = [call.status for call in fake.calls]
    assert 429 not in statuses
    assert clock.slept >= 20
    assert fake.spec_problems == []


def test_search_limiter_keeps_under_five_per_second(connector, fake, clock):
    for _ in range(5):
        fake.add_contact({})
    fake_before = len(fake.calls)

    for _ in range(12):
        list(connector.pull_changed(None))

    searches = fake.calls[fake_before:]
    assert all(call.status == 200 for call in searches)
    assert clock.slept >= 2


def test_token_never_reaches_logs(clock, mocked, fake):
    with_score_properties(fake)
    contact_id = fake.add_contact({"email": "jane.doe@example.com"})
    connector = build_connector(clock)
    fake.fail_next("POST", r"/contacts/batch/update$", 503, times=1)
    fake.fail_next("GET", r"/contacts/\d+$", 401)

    with structlog.testing.capture_logs() as captured:
        connector.write_scores([score(contact_id)])
        with pytest.raises(ConfigurationError) as caught:
            connector.fetch_contact(contact_id)

    dumped = json.dumps(captured, default=str) + str(caught.value)
    assert any(entry["event"] == "http_retry" for entry in captured)
    assert DEFAULT_TOKEN not in dumped
    assert "jane.doe@example.com" not in dumped

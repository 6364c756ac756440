"""Pulling contacts, submissions and email engagement from the fake GoHighLevel."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from connectors.base import ActivityMode, Contact, SkippedRecord
from scoring.lead import ActivityKind
from scoring.result import Tier
from tests.fakes.gohighlevel import FakeGoHighLevel, FrozenClock
from tests.gohighlevel.conftest import (
    LOCATION,
    START,
    TOKEN,
    ConnectorFactory,
    add_worker_fields,
)


def _contacts(pages) -> list[Contact]:
    return [record for page in pages for record in page.records if isinstance(record, Contact)]


def test_fake_rejects_request_without_version_header(fake: FakeGoHighLevel, rsps) -> None:
    response = requests.post(
        f"{fake.base_url}/contacts/search",
        json={"locationId": LOCATION, "pageLimit": 10},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert response.status_code == 400
    assert "Version" in json.dumps(response.json()["message"])


def test_every_request_carries_version_and_bearer(
    fake: FakeGoHighLevel, make_connector: ConnectorFactory
) -> None:
    fake.state.add_contact(LOCATION, firstName="Ana")
    fake.state.add_message(LOCATION, "ct-unknown", status="opened")

    _contacts(make_connector().pull_all())

    assert fake.requests, "the connector sent no request"
    for request in fake.requests:
        assert request.status == 200, (request.path, request.status)
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
    versions = {request.path: request.headers["version"] for request in fake.requests}
    assert versions["/contacts/search"] == "2021-07-28"
    assert versions["/forms/submissions"] == "2021-07-28"
    assert versions["/conversations/messages/export"] == "2021-04-15"


def test_pull_all_maps_custom_fields_to_answers(
    fake: FakeGoHighLevel, make_connector: ConnectorFactory
) -> None:
    fake.state.add_contact(
        LOCATION,
        contact_id="ct1",
        firstName="Ana",
        lastName="Silva",
        email="ana@example.com",
        postalCode="94110",
        tags=["instagram", "lead-tier-hot"],
        custom={
            "contact.timeline": "This week",
            "contact.budget": "$500-$1,000",
            "contact.treatments_of_interest": ["Botox", "Filler"],
        },
    )

    [contact] = _contacts(make_connector().pull_all())

    assert contact.id == "ct1"
    assert contact.name == "Ana Silva"
    assert contact.lead.answers["timeline"] == "This week"
    assert contact.lead.answers["budget"] == "$500-$1,000"
    assert contact.lead.answers["treatments"] == ("Botox", "Filler")
    assert contact.lead.attributes["zip"] == "94110"
    assert contact.activity_mode is ActivityMode.EVENTS
    assert contact.facts_complete is True
    assert contact.record_url == (
        f"https://app.gohighlevel.com/v2/location/{LOCATION}/contacts/detail/ct1"
    )


def test_alert_tag_is_not_a_lead_fact(fake: FakeGoHighLevel, make_connector) -> None:
    fake.state.add_contact(LOCATION, tags=["instagram", "lead-tier-hot", "vip-worker"])

    [contact] = _contacts(make_connector(worker_tags=("vip-worker",)).pull_all())

    assert contact.lead.tags == frozenset({"instagram"})


def test_custom_fields_unknown_to_mapping_are_ignored(fake, make_connector) -> None:
    contact = fake.state.add_contact(LOCATION, custom={"contact.favourite_colour": "teal"})
    # A value of a field the location deleted: its id is in no definition.
    contact["customFields"].append({"id": "cfDeleted", "value": "stale"})
    fake.state.touch_contact(LOCATION, contact["id"])

    [mapped] = _contacts(make_connector().pull_all())

    assert dict(mapped.lead.answers) == {}
    assert dict(mapped.lead.attributes) == {}


def test_worker_fields_are_read_as_written_score(fake, make_connector) -> None:
    add_worker_fields(fake)
    fake.state.add_contact(
        LOCATION,
        custom={"contact.lead_score": "82", "contact.lead_tier": "Hot", "contact.lead_fit": 70},
    )

    [contact] = _contacts(make_connector().pull_all())

    assert contact.written is not None
    assert contact.written.score == 82
    assert contact.written.fit == 70
    assert contact.written.tier is Tier.HOT
    assert contact.written.intent is None


def test_contact_with_bad_date_is_skipped_not_fatal(fake, make_connector) -> None:
    bad = fake.state.add_contact(LOCATION, contact_id="ctBad")
    fake.state.add_contact(LOCATION, contact_id="ctGood")
    bad["dateUpdated"] = "yesterday"
    fake.state.locations[LOCATION].history["ctBad"][-1][1]["dateUpdated"] = "yesterday"

    records = [r for page in make_connector().pull_all() for r in page.records]

    skipped = [r for r in records if isinstance(r, SkippedRecord)]
    good = [r for r in records if isinstance(r, Contact)]
    assert [r.record_id for r in skipped] == ["ctBad"]
    assert skipped[0].value == "yesterday"
    assert [c.id for c in good] == ["ctGood"]


def test_search_switches_to_search_after_past_10000(fake, make_connector, clock) -> None:
    total = 10_700
    for index in range(total):
        fake.state.add_contact(
            LOCATION,
            contact_id=f"c{index:05d}",
            added_at=START - timedelta(days=400) + timedelta(minutes=index),
        )

    pages = list(make_connector(pull_forms=False, pull_surveys=False).pull_all())

    ids = [record.id for page in pages for record in page.records]
    assert len(ids) == total
    assert len(set(ids)) == total
    searches = [r.body for r in fake.calls("POST", "/contacts/search")]
    assert [body.get("page") for body in searches[:20]] == list(range(1, 21))
    assert all("searchAfter" in body and "page" not in body for body in searches[20:])
    assert len(searches) == 22


def test_pull_all_resumes_after_token(fake, make_connector) -> None:
    for index in range(1_200):
        fake.state.add_contact(
            LOCATION, contact_id=f"c{index:05d}", added_at=START - timedelta(minutes=2_000 - index)
        )
    connector = make_connector(pull_email_engagement=False, pull_forms=False, pull_surveys=False)
    first = next(iter(connector.pull_all()))

    resumed = list(connector.pull_all(resume_token=first.resume_token))

    assert json.loads(first.resume_token) == {"page": 2}
    resumed_ids = [r.id for page in resumed for r in page.records]
    assert resumed_ids[0] == "c00500"
    assert len(resumed_ids) == 700
    assert resumed[-1].resume_token is None


def test_resume_token_from_elsewhere_is_rejected(make_connector) -> None:
    with pytest.raises(ValueError, match="not a GoHighLevel search position"):
        list(make_connector().pull_all(resume_token='{"after": "x"}'))


def test_pull_changed_reaches_back_by_overlap(fake, make_connector, clock: FrozenClock) -> None:
    since = START - timedelta(hours=1)
    fake.state.add_contact(LOCATION, contact_id="old", updated_at=since - timedelta(hours=2))
    fake.state.add_contact(LOCATION, contact_id="lagged", updated_at=since - timedelta(minutes=5))
    fake.state.add_contact(LOCATION, contact_id="new", updated_at=since + timedelta(minutes=5))

    pages = list(make_connector(overlap_seconds=600).pull_changed(since))

    assert sorted(c.id for c in _contacts(pages)) == ["lagged", "new"]
    body = fake.calls("POST", "/contacts/search")[0].body
    [date_filter] = body["filters"]
    assert date_filter["field"] == "dateUpdated"
    assert date_filter["value"]["gte"] == "2026-12-04T10:50:00.000Z"
    assert body["sort"] == [{"field": "dateUpdated", "direction": "asc"}]
    # The only page is the last one, so its watermark is the pull's start.
    assert pages[0].high_watermark == START


def test_quiet_pull_moves_watermark_to_pull_start(fake, make_connector, clock) -> None:
    fake.state.add_contact(LOCATION, contact_id="old", updated_at=START - timedelta(hours=2))

    pages = list(make_connector().pull_changed(START - timedelta(hours=1)))

    assert len(pages) == 1
    assert list(pages[0].records) == []
    assert pages[0].high_watermark == START


def test_last_page_watermark_is_at_least_pull_start(fake, make_connector, clock) -> None:
    for index in range(600):
        fake.state.add_contact(
            LOCATION,
            contact_id=f"c{index:04d}",
            updated_at=START - timedelta(hours=2, seconds=-index),
        )
    connector = make_connector(pull_forms=False, pull_surveys=False, pull_email_engagement=False)

    pages = list(connector.pull_changed(None))

    assert [len(page.records) for page in pages] == [500, 100]
    assert pages[0].high_watermark < START
    assert pages[-1].high_watermark == START


def test_engagement_page_last_carries_pull_start(fake, make_connector, clock) -> None:
    # The search has not indexed this contact yet, so only its submission finds it.
    fake.state.add_contact(LOCATION, contact_id="unindexed", updated_at=START - timedelta(days=3))
    fake.state.add_submission(
        LOCATION, "unindexed", {"budget": "$900"}, created_at=START - timedelta(minutes=2)
    )

    pages = list(make_connector().pull_changed(START - timedelta(minutes=30)))

    assert [len(page.records) for page in pages] == [0, 1]
    assert pages[0].high_watermark is None
    assert pages[-1].high_watermark == START


def test_second_quiet_pull_reads_nothing(fake, make_connector, clock) -> None:
    # The second pull reaches back 10 minutes before the first pull's start, and
    # this update is 15 minutes older than that start.
    fake.state.add_contact(LOCATION, contact_id="new", updated_at=START - timedelta(minutes=15))
    connector = make_connector(overlap_seconds=600)
    first = list(connector.pull_changed(START - timedelta(hours=1)))
    cursor = max(page.high_watermark for page in first if page.high_watermark)

    clock.advance(minutes=1)
    second = list(connector.pull_changed(cursor))

    assert [c.id for c in _contacts(first)] == ["new"]
    assert _contacts(second) == []


def test_pull_changed_survives_moving_contacts(fake, make_connector, clock: FrozenClock) -> None:
    since = START - timedelta(days=1)
    for index in range(600):
        fake.state.add_contact(
            LOCATION, contact_id=f"c{index:04d}", updated_at=since + timedelta(minutes=index)
        )
    connector = make_connector(pull_forms=False, pull_surveys=False, pull_email_engagement=False)

    seen = []
    for page in connector.pull_changed(since):
        for contact in page.records:
            seen.append(contact.id)
            # The worker writes to each contact it reads, which bumps dateUpdated.
            fake.state.touch_contact(LOCATION, contact.id)

    assert sorted(set(seen)) == [f"c{index:04d}" for index in range(600)]
    second = fake.calls("POST", "/contacts/search")[1].body
    assert "searchAfter" in second


def test_email_events_are_grouped_without_per_contact_calls(
    fake, make_connector, clock: FrozenClock
) -> None:
    since = START - timedelta(hours=1)
    fake.state.add_contact(LOCATION, contact_id="changed", updated_at=START - timedelta(minutes=10))
    fake.state.add_contact(LOCATION, contact_id="quiet", updated_at=START - timedelta(days=30))
    sent = fake.state.add_message(LOCATION, "changed", added_at=START - timedelta(minutes=30))
    fake.state.set_message_status(LOCATION, sent["id"], "clicked")
    fake.state.add_message(
        LOCATION, "quiet", direction="inbound", added_at=START - timedelta(minutes=20)
    )
    fake.state.add_message(
        LOCATION, "quiet", status="undelivered", added_at=START - timedelta(minutes=15)
    )
    fake.state.add_message(LOCATION, "quiet", message_type="TYPE_SMS")

    pages = list(make_connector().pull_changed(since))

    by_id = {c.id: c for c in _contacts(pages)}
    changed, quiet = by_id["changed"], by_id["quiet"]
    assert changed.facts_complete is True
    assert {a.kind for a in changed.lead.activities} == {
        ActivityKind.EMAIL_SENT,
        ActivityKind.EMAIL_OPEN,
        ActivityKind.EMAIL_CLICK,
    }
    assert quiet.facts_complete is False
    assert quiet.activity_mode is ActivityMode.EVENTS
    assert {a.kind for a in quiet.lead.activities} == {
        ActivityKind.REPLY,
        ActivityKind.EMAIL_SENT,
        ActivityKind.EMAIL_BOUNCE,
    }
    exports = fake.calls("GET", "/conversations/messages/export")
    assert len(exports) == 1
    assert exports[0].query["channel"] == "Email"
    assert fake.calls("GET", "/contacts/quiet") == []


def test_form_submission_answers_fill_empty_fields(fake, make_connector) -> None:
    timeline_id = fake.state.field_id(LOCATION, "contact.timeline")
    fake.state.add_contact(LOCATION, contact_id="ct1", custom={"contact.budget": "$300"})
    fake.state.add_submission(
        LOCATION,
        "ct1",
        {timeline_id: "This month", "budget": "$5,000", "eventData": {"source": "ad"}},
        created_at=START - timedelta(days=90),
    )

    [contact] = _contacts(make_connector().pull_all())

    assert contact.lead.answers["timeline"] == "This month"
    assert contact.lead.answers["budget"] == "$300"  # the contact's own field wins
    [form] = contact.lead.activities_of([ActivityKind.FORM_SUBMISSION])
    assert form.last_at == START - timedelta(days=90)


def test_submission_requests_always_pass_start_and_end(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION)

    list(make_connector().pull_changed(START - timedelta(days=2)))

    for request in fake.calls("GET", "/(forms|surveys)/submissions"):
        assert request.query["startAt"] == "2026-12-02"
        assert request.query["endAt"] == "2026-12-05"


def test_lagging_contact_with_submission_read_in_full(
    fake, make_connector, clock: FrozenClock
) -> None:
    fake.state.search_lag = timedelta(minutes=5)
    fake.state.add_contact(LOCATION, contact_id="fresh", custom={"contact.budget": "$900"})
    fake.state.add_submission(LOCATION, "fresh", {"budget": "$900"})

    pages = list(make_connector().pull_changed(START - timedelta(minutes=1)))

    [contact] = _contacts(pages)
    assert contact.id == "fresh"
    assert contact.facts_complete is True
    assert contact.lead.answers["budget"] == "$900"
    assert len(fake.calls("GET", "/contacts/fresh$")) == 1


def test_fetch_contact_reads_one_contact(fake, make_connector) -> None:
    fake.state.add_contact(
        LOCATION, contact_id="ct9", custom={"contact.timeline": "Just researching"}
    )

    contact = make_connector().fetch_contact("ct9")

    assert contact.lead.answers["timeline"] == "Just researching"


def test_count_contacts_reads_search_total(fake, make_connector) -> None:
    for _ in range(3):
        fake.state.add_contact(LOCATION)

    assert make_connector().count_contacts() == 3
    [search] = fake.calls("POST", "/contacts/search")
    assert search.body["pageLimit"] == 1


def test_record_url_uses_white_label_domain(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION, contact_id="ct1")

    [contact] = _contacts(make_connector(app_url="https://crm.glowagency.com/").pull_all())

    assert contact.record_url == (
        f"https://crm.glowagency.com/v2/location/{LOCATION}/contacts/detail/ct1"
    )

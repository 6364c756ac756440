from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import ActivityMode, Contact, CrmConnector, SkippedRecord
from connectors.errors import DataShapeError
from connectors.hubspot.mapping import ContactMapper, PropertyInfo
from scoring.lead import ActivityKind
from scoring.result import Tier
from tests.hubspot.conftest import BASE_URL, MAPPING, build_connector

JANE = {
    "firstname": "Jane",
    "lastname": "Doe",
    "email": "jane.doe@example.com",
    "phone": "+1 415 555 0134",
    "hubspot_owner_id": "41629779",
    "treatment_interest": "botox;fillers",
    "budget": "750_1500",
    "booking_timeline": "this_week",
    "had_treatment_before": "true",
    "age": "34",
    "zip": "94110",
    "hs_email_open": "3",
    "hs_email_last_open_date": "2026-11-28T10:00:00.000Z",
    "hs_email_first_open_date": "2026-11-01T10:00:00.000Z",
    "hs_email_click": "0",
    "hs_analytics_num_page_views": "12",
    "hs_analytics_last_url": "https://glowmedspa.example/pricing",
    "hs_analytics_last_visit_timestamp": "1764583200000",
    "hs_sales_email_last_replied": "2026-11-29T09:00:00.000Z",
    "hs_email_optout": "false",
    "leadscore_score": "61",
    "leadscore_tier": "warm",
}


def test_connector_satisfies_protocol(connector):
    assert isinstance(connector, CrmConnector)
    assert connector.crm == "hubspot"
    assert connector.account_id == "62515"


def test_pull_all_returns_two_pages(connector, fake):
    ids = [fake.add_contact({"firstname": f"Lead {n}"}) for n in range(150)]

    pages = list(connector.pull_all())

    assert [len(page.records) for page in pages] == [100, 50]
    assert pages[0].resume_token == ids[100]
    assert pages[1].resume_token is None
    assert [c.id for page in pages for c in page.records] == ids
    assert len(fake.calls_to("GET", r"/crm/v3/objects/contacts$")) == 2


def test_pull_all_resumes_after_token(connector, fake):
    ids = [fake.add_contact({"firstname": f"Lead {n}"}) for n in range(150)]

    pages = list(connector.pull_all(resume_token=ids[100]))

    assert [c.id for page in pages for c in page.records] == ids[100:]


def test_pull_all_requests_mapped_and_engagement_properties(connector, fake):
    fake.add_contact(JANE)

    list(connector.pull_all())

    listed = fake.calls_to("GET", r"/crm/v3/objects/contacts$")[0]
    requested = listed.query["properties"].split(",")
    for name in ("budget", "zip", "hs_email_open", "leadscore_score", "lastmodifieddate"):
        assert name in requested
    assert listed.query["limit"] == "100"


def test_contact_maps_answers_activities_and_written_score(connector, fake):
    contact_id = fake.add_contact(JANE)

    contact = connector.fetch_contact(contact_id)

    assert contact.name == "Jane Doe"
    assert contact.email == "jane.doe@example.com"
    assert contact.owner_id == "41629779"
    assert contact.record_url == f"https://app.hubspot.com/contacts/62515/record/0-1/{contact_id}"
    assert contact.activity_mode is ActivityMode.SNAPSHOT
    assert contact.lead.answers["treatment"] == ("botox", "fillers")
    assert contact.lead.answers["budget"] == "750_1500"
    assert contact.lead.answers["treated_before"] is True
    assert contact.lead.attributes["age"] == 34
    assert contact.lead.attributes["postal_code"] == "94110"
    assert contact.lead.unsubscribed is False
    assert contact.written.score == 61
    assert contact.written.tier is Tier.WARM
    assert contact.modified_at is not None


def test_contact_engagement_becomes_snapshot_activities(connector, fake):
    contact_id = fake.add_contact(JANE)

    activities = {a.kind: a for a in connector.fetch_contact(contact_id).lead.activities}

    assert activities[ActivityKind.EMAIL_OPEN].count == 3
    assert activities[ActivityKind.EMAIL_OPEN].last_at == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert activities[ActivityKind.PAGE_VIEW].count == 12
    assert activities[ActivityKind.PAGE_VIEW].url == "https://glowmedspa.example/pricing"
    assert activities[ActivityKind.PAGE_VIEW].last_at == datetime(2025, 12, 1, 10, tzinfo=UTC)
    assert activities[ActivityKind.REPLY].last_at == datetime(2026, 11, 29, 9, tzinfo=UTC)
    assert ActivityKind.EMAIL_CLICK not in activities


def test_record_without_properties_is_skipped():
    mapper = ContactMapper(MAPPING, build_config_properties(), "62515", [PropertyInfo("email")])

    skipped = mapper.to_contact({"id": "7"})

    assert isinstance(skipped, SkippedRecord)
    assert skipped.record_id == "7"


def build_config_properties():
    from connectors.hubspot.config import ScoreProperties

    return ScoreProperties()


def test_mapping_reports_missing_property_with_close_match(clock, mocked, fake):
    from scoring.mapping import FieldMapping

    mapping = FieldMapping(answers={"timeline": ["booking_timelin"]})
    connector = build_connector(clock, mapping=mapping)

    missing = connector.mapper.missing

    assert len(missing) == 1
    assert missing[0].key == "timeline"
    assert "booking_timeline" in missing[0].close_matches


def test_pull_changed_filters_by_cursor_minus_overlap(connector, fake, clock):
    now = clock.datetime()
    old = fake.add_contact({"firstname": "Old"}, modified_ms=_ms(now - timedelta(hours=2)))
    recent = fake.add_contact({"firstname": "Recent"}, modified_ms=_ms(now - timedelta(minutes=3)))
    since = now - timedelta(minutes=1)

    pages = list(connector.pull_changed(since))

    ids = [c.id for page in pages for c in page.records]
    assert ids == [recent]
    assert old not in ids
    search = fake.calls_to("POST", r"/contacts/search$")[0].body
    gte = search["filterGroups"][0]["filters"][0]
    assert gte["operator"] == "GTE"
    assert int(gte["value"]) == _ms(since - timedelta(seconds=300))
    assert search["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert search["limit"] == 200
    assert pages[-1].high_watermark is not None


def test_pull_changed_does_not_see_unindexed_contact(connector, fake, clock):
    fake.index_lag_seconds = 30
    fake.add_contact({"firstname": "Fresh"})

    first = [c.id for page in connector.pull_changed(None) for c in page.records]
    clock.advance(31)
    second = [c.id for page in connector.pull_changed(None) for c in page.records]

    assert first == []
    assert len(second) == 1


@pytest.mark.slow
def test_pull_changed_reslices_past_search_cap(connector, fake, clock):
    start = _ms(clock.datetime()) - 20_000_000
    ids = [fake.add_contact({}, modified_ms=start + n * 1000) for n in range(10_450)]

    pulled = [c.id for page in connector.pull_changed(None) for c in page.records]

    assert sorted(pulled) == sorted(ids)
    assert len(pulled) == len(set(pulled))
    searches = fake.calls_to("POST", r"/contacts/search$")
    assert all(int(call.body.get("after", 0)) + 200 <= 10_000 for call in searches)
    assert all(call.status == 200 for call in searches)
    assert len(searches) <= 10_450 // 200 + 3


@pytest.mark.slow
def test_pull_changed_walks_ids_at_one_timestamp(connector, fake, clock):
    stamp = _ms(clock.datetime()) - 60_000
    same = [fake.add_contact({}, modified_ms=stamp) for _ in range(10_100)]
    later = fake.add_contact({}, modified_ms=stamp + 5)

    pulled = [c.id for page in connector.pull_changed(None) for c in page.records]

    assert sorted(pulled) == sorted([*same, later])
    assert len(pulled) == len(set(pulled))
    id_sliced = [
        call
        for call in fake.calls_to("POST", r"/contacts/search$")
        if call.body["sorts"][0]["propertyName"] == "hs_object_id"
    ]
    assert id_sliced


def test_repeated_list_cursor_raises(connector, fake):
    page = {"results": [], "paging": {"next": {"after": "5"}}}
    fake.fail_next("GET", r"/crm/v3/objects/contacts$", 200, body=page, times=2)

    with pytest.raises(DataShapeError, match="twice"):
        list(connector.pull_all())


def test_pull_all_over_loopback_http(clock, fake):
    fake.add_contact(JANE)
    fake.add_contact({"firstname": "Ann"})

    with fake.serve() as base_url:
        connector = build_connector(clock, base_url=base_url)
        pages = list(connector.pull_all())
        connector.close()

    assert base_url != BASE_URL
    records = [c for page in pages for c in page.records]
    assert [type(c) for c in records] == [Contact, Contact]
    assert records[0].lead.answers["treatment"] == ("botox", "fillers")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_quiet_pull_moves_watermark_to_pull_start(connector, fake, clock):
    fake.add_contact({}, modified_ms=_ms(clock.datetime()) - 3_600_000)

    pages = list(connector.pull_changed(clock.datetime() - timedelta(minutes=1)))

    assert len(pages) == 1
    assert pages[0].records == ()
    assert pages[0].high_watermark == clock.datetime()


def test_last_page_watermark_is_at_least_pull_start(connector, fake, clock):
    old = _ms(clock.datetime()) - 3_600_000
    for n in range(250):
        fake.add_contact({}, modified_ms=old + n)
    started = clock.datetime()

    pages = list(connector.pull_changed(None))

    assert [len(page.records) for page in pages] == [200, 50]
    assert pages[0].high_watermark < started
    assert pages[-1].high_watermark >= started


def test_count_contacts_reads_search_total(connector, fake, clock):
    old = _ms(clock.datetime()) - 3_600_000
    for n in range(3):
        fake.add_contact({}, modified_ms=old + n)

    total = connector.count_contacts()

    searches = fake.calls_to("POST", r"/contacts/search$")
    assert total == 3
    assert len(searches) == 1
    assert searches[0].body["limit"] == 1
    assert searches[0].body["filterGroups"] == []


def test_count_contacts_of_empty_account_is_zero(connector):
    assert connector.count_contacts() == 0


def test_count_contacts_without_total_raises(clock):
    import responses

    with responses.RequestsMock() as rsps:
        rsps.post(f"{BASE_URL}/crm/v3/objects/contacts/search", json={"results": []})
        connector = build_connector(clock)
        with pytest.raises(DataShapeError, match="no valid `total` count"):
            connector.count_contacts()
        connector.close()

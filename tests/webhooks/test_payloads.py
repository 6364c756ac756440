"""Payload validators against the official GoHighLevel event schemas and HubSpot's shape.

The GoHighLevel schemas and examples are read in place from the spec folder
(`LEADSCORE_SPECS_DIR`, or `../shared/specs` beside the repository); the tests
skip when it is absent.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.webhooks.payloads import (
    GHL_OUTCOME_EVENTS,
    PayloadError,
    parse_generic_contact_id,
    parse_ghl_delivery,
    parse_ghl_timestamp,
    parse_hubspot_batch,
)

ROOT = Path(__file__).resolve().parents[2]
# The events the receiver queues, and the schema path of the contact id in each.
QUEUED_GHL_EVENTS = {
    "ContactCreate": ("id",),
    "ContactUpdate": ("id",),
    "ContactTagUpdate": ("id",),
    "InboundMessage": ("contactId",),
    "OutboundMessage": ("contactId",),
    "AppointmentCreate": ("appointment", "contactId"),
    "AppointmentUpdate": ("appointment", "contactId"),
    "OpportunityCreate": ("contactId",),
    "OpportunityStageUpdate": ("contactId",),
    "OpportunityStatusUpdate": ("contactId",),
}
ENVELOPE = {"webhookId": "wh-spec-example", "timestamp": "2026-03-02T15:30:00.000Z"}


def _ghl_webhook_specs() -> Path:
    base = os.environ.get("LEADSCORE_SPECS_DIR")
    specs = Path(base) if base else ROOT.parent / "shared" / "specs"
    folder = specs / "ghl" / "webhooks"
    if not folder.is_dir():
        pytest.skip(f"GoHighLevel webhook specs not found at {folder}")
    return folder


def _load_spec(event_type: str) -> dict:
    return json.loads((_ghl_webhook_specs() / f"{event_type}.json").read_text(encoding="utf-8"))


def _schema_type(schema: dict, path: tuple[str, ...]) -> object:
    node = schema
    for key in path:
        node = node["properties"][key]
    return node["type"]


@pytest.mark.parametrize("event_type", sorted(QUEUED_GHL_EVENTS), ids=str)
def test_ghl_schema_declares_fields_we_read(event_type):
    spec = _load_spec(event_type)
    path = QUEUED_GHL_EVENTS[event_type]

    for schema in spec["schemas"]:
        assert _schema_type(schema, path) == "string"
        assert _schema_type(schema, ("locationId",)) == "string"
        assert _schema_type(schema, ("type",)) == "string"
    if event_type in ("ContactCreate", "ContactUpdate", "ContactTagUpdate"):
        assert _schema_type(spec["schemas"][0], ("tags",)) == "array"


@pytest.mark.parametrize("event_type", sorted(QUEUED_GHL_EVENTS), ids=str)
def test_ghl_spec_examples_parse_to_their_contact(event_type):
    spec = _load_spec(event_type)
    path = QUEUED_GHL_EVENTS[event_type]

    assert spec["examples"], f"{event_type} spec has no example"
    # Some files reuse a sibling's example (AppointmentUpdate shows an
    # AppointmentCreate body), so each example is sent as the file's event.
    for example in spec["examples"]:
        body = json.dumps({**example, "type": event_type, **ENVELOPE}).encode()
        delivery = parse_ghl_delivery(body)
        expected = example
        for key in path:
            expected = expected[key]
        assert delivery.event is not None
        assert delivery.event.contact_id == expected
        assert delivery.event.kind == event_type
        assert delivery.account == f"gohighlevel:{example['locationId']}"


def test_ghl_outcome_events_are_all_queued():
    assert set(QUEUED_GHL_EVENTS) >= GHL_OUTCOME_EVENTS


def test_ghl_tag_update_example_carries_full_tag_list():
    example = _load_spec("ContactTagUpdate")["examples"][0]

    delivery = parse_ghl_delivery(json.dumps({**example, **ENVELOPE}).encode())

    assert delivery.tags == frozenset(tag.lower() for tag in example["tags"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-02T15:30:00.000Z", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        ("2026-03-02T10:30:00-05:00", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        (1772465400000, datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        ("1772465400000", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        (1772465400, datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
    ],
    ids=["iso_utc", "iso_offset", "epoch_ms", "epoch_ms_text", "epoch_seconds"],
)
def test_ghl_timestamp_formats(value, expected):
    assert parse_ghl_timestamp(value) == expected


@pytest.mark.parametrize("value", [None, True, "yesterday", {}], ids=str)
def test_ghl_timestamp_invalid_rejected(value):
    with pytest.raises(PayloadError):
        parse_ghl_timestamp(value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"locationId": "l", "webhookId": "w", "timestamp": 1772465400000}, "type missing"),
        (
            {"type": "ContactUpdate", "webhookId": "w", "timestamp": 1772465400000, "id": "c"},
            "locationId missing",
        ),
        (
            {
                "type": "ContactUpdate",
                "locationId": "l",
                "webhookId": "w",
                "timestamp": 1772465400000,
                "id": "c",
                "tags": "vip",
            },
            "tags",
        ),
        (
            {
                "type": "AppointmentCreate",
                "locationId": "l",
                "webhookId": "w",
                "timestamp": 1772465400000,
                "appointment": "a-1",
            },
            "appointment.contactId missing",
        ),
    ],
    ids=["no_type", "no_location", "tags_not_list", "appointment_not_object"],
)
def test_ghl_malformed_delivery_names_field(fields, message):
    with pytest.raises(PayloadError, match=message):
        parse_ghl_delivery(json.dumps(fields).encode())


def test_hubspot_event_fields_validated_individually():
    good = {
        "eventId": 1,
        "subscriptionId": 2,
        "portalId": 3,
        "objectId": 4,
        "occurredAt": 1772465400000,
        "subscriptionType": "contact.creation",
    }
    seconds = {**good, "eventId": 2, "occurredAt": 1772465400}
    no_object = {key: value for key, value in good.items() if key != "objectId"}
    bool_id = {**good, "objectId": True}

    batch = parse_hubspot_batch(json.dumps([good, seconds, no_object, bool_id]).encode())

    assert [event.event.contact_id for event in batch.events] == ["4"]
    assert batch.invalid == [
        "event 1: occurredAt missing or not epoch milliseconds",
        "event 2: objectId missing or not an id",
        "event 3: objectId missing or not an id",
    ]


def test_hubspot_legacy_event_type_field_accepted():
    event = {
        "eventId": 1,
        "subscriptionId": 2,
        "portalId": 3,
        "objectId": 4,
        "occurredAt": 1772465400000,
        "eventType": "contact.propertyChange",
        "propertyName": "email",
    }

    batch = parse_hubspot_batch(json.dumps([event]).encode())

    assert batch.events[0].event.kind == "contact.propertyChange"


def test_hubspot_object_event_queues_only_contacts():
    contact = {
        "eventId": 1,
        "subscriptionId": 2,
        "portalId": 3,
        "objectId": 4,
        "occurredAt": 1772465400000,
        "subscriptionType": "object.propertyChange",
        "objectTypeId": "0-1",
    }
    deal = {**contact, "eventId": 2, "objectTypeId": "0-3"}

    batch = parse_hubspot_batch(json.dumps([contact, deal]).encode())

    assert batch.events[0].event.contact_id == "4"
    assert batch.events[1].event is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"contact_id=", "application/x-www-form-urlencoded"),
        (b"[1]", "application/json"),
        (b'{"id": ""}', "application/json"),
        (b'{"id": false}', "application/json"),
    ],
    ids=["blank_form_field", "json_array", "blank_id", "bool_id"],
)
def test_generic_body_without_contact_id_rejected(body, content_type):
    with pytest.raises(PayloadError):
        parse_generic_contact_id(body, content_type)

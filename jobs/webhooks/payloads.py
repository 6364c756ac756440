"""Validators for webhook bodies: each CRM's JSON reduced to `WebhookEvent`s.

Only the fields the worker relies on are checked (ids, types, times), so other
fields may come and go without breaking the receiver. A body that cannot be
read at all raises `PayloadError` (HTTP 400). In a HubSpot batch, one invalid
event is reported and skipped while the others are queued.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs

from jobs.webhooks.queue import WebhookEvent

HUBSPOT = "hubspot"
GOHIGHLEVEL = "gohighlevel"

# HubSpot sends at most 100 events in one request.
HUBSPOT_MAX_BATCH = 100
HUBSPOT_CONTACT_OBJECT_TYPE = "0-1"

# Contact events whose contact should be rescored. Deletions are left out
# because there is nothing left to score.
# NOTE: deal.* events name a deal, not a contact. Finding the deal's contact
# would need a CRM call on the request thread, so deal changes reach the
# worker through polling only.
_HUBSPOT_CONTACT_TYPES = frozenset(
    {
        "contact.creation",
        "contact.propertyChange",
        "contact.merge",
        "contact.restore",
        "contact.associationChange",
    }
)
# The generic object.* family names the object type in objectTypeId.
_HUBSPOT_OBJECT_TYPES = frozenset(
    {"object.creation", "object.propertyChange", "object.merge", "object.restore"}
)

# GoHighLevel event type → where its contact id sits.
_GHL_CONTACT_ID_PATHS: Mapping[str, tuple[str, ...]] = {
    "ContactCreate": ("id",),
    "ContactUpdate": ("id",),
    "ContactTagUpdate": ("id",),
    "ContactDndUpdate": ("id",),
    "InboundMessage": ("contactId",),
    # Staff outreach starts the "no reply after outreach" window.
    "OutboundMessage": ("contactId",),
    "AppointmentCreate": ("appointment", "contactId"),
    "AppointmentUpdate": ("appointment", "contactId"),
    "OpportunityCreate": ("contactId",),
    # NOTE: the worker's own stage moves come back as OpportunityStageUpdate and
    # cannot be told apart from staff moves. The rescore they cause writes
    # nothing, because the score is unchanged, but it costs one contact read.
    "OpportunityStageUpdate": ("contactId",),
    "OpportunityStatusUpdate": ("contactId",),
}
# Events that carry the contact's full tag list.
GHL_TAGGED_EVENTS = frozenset({"ContactCreate", "ContactUpdate", "ContactTagUpdate"})
# Appointment and opportunity events can be booking outcomes for calibration.
GHL_OUTCOME_EVENTS = frozenset(
    {
        "AppointmentCreate",
        "AppointmentUpdate",
        "OpportunityCreate",
        "OpportunityStageUpdate",
        "OpportunityStatusUpdate",
    }
)

# Body fields a CRM workflow "send webhook" action may use for the contact id.
GENERIC_CONTACT_ID_FIELDS = ("contact_id", "contactId", "id", "objectId")

# Epoch milliseconds are above 10**11 from March 1973 on; epoch seconds stay
# below it until the year 5138.
_EPOCH_MILLISECONDS_FLOOR = 10**11


class PayloadError(ValueError):
    """The body cannot be read as the expected webhook shape (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class HubSpotEvent:
    """One validated HubSpot event, before echo filtering."""

    event: WebhookEvent | None  # None when the event names no contact to rescore
    delivery_key: str
    subscription_type: str
    property_name: str | None
    change_source: str | None
    source_id: str | None


@dataclass(frozen=True, slots=True)
class HubSpotBatch:
    events: list[HubSpotEvent] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # "event 3: objectId missing"


@dataclass(frozen=True, slots=True)
class GhlDelivery:
    """One validated GoHighLevel delivery."""

    event_type: str
    account: str
    webhook_id: str
    sent_at: datetime
    event: WebhookEvent | None  # None for event types the worker does not use
    tags: frozenset[str] | None  # full tag list for contact events that carry one


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError("body is not UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"body is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from exc


def _id_text(value: object) -> str | None:
    """Return an id as text: a non-empty string, or an integer (not a bool)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _millis_to_datetime(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < _EPOCH_MILLISECONDS_FLOOR:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def parse_hubspot_batch(body: bytes) -> HubSpotBatch:
    """Validate a HubSpot delivery: a JSON array of 1 to 100 event objects."""
    document = parse_json(body)
    if not isinstance(document, list):
        raise PayloadError(
            f"HubSpot body must be a JSON array of events, got {type(document).__name__}"
        )
    if not document:
        raise PayloadError("HubSpot body is an empty array")
    if len(document) > HUBSPOT_MAX_BATCH:
        raise PayloadError(
            f"HubSpot body contains {len(document)} events, more than the maximum of "
            f"{HUBSPOT_MAX_BATCH} that HubSpot sends in one request"
        )

    batch = HubSpotBatch()
    for index, item in enumerate(document):
        try:
            batch.events.append(_parse_hubspot_event(item))
        except PayloadError as exc:
            batch.invalid.append(f"event {index}: {exc}")
    return batch


def _parse_hubspot_event(item: object) -> HubSpotEvent:
    if not isinstance(item, dict):
        raise PayloadError(f"must be an object, got {type(item).__name__}")

    missing = [
        name
        for name in ("eventId", "subscriptionId", "portalId", "objectId")
        if _id_text(item.get(name)) is None
    ]
    if missing:
        raise PayloadError(f"{', '.join(missing)} missing or not an id")
    subscription_type = item.get("subscriptionType") or item.get("eventType")
    if not isinstance(subscription_type, str) or "." not in subscription_type:
        raise PayloadError("subscriptionType missing or not of the form 'object.change'")
    occurred_at = _millis_to_datetime(item.get("occurredAt"))
    if occurred_at is None:
        raise PayloadError("occurredAt missing or not epoch milliseconds")
    property_name = item.get("propertyName")
    if property_name is not None and not isinstance(property_name, str):
        raise PayloadError("propertyName is not a string")

    event_id = _id_text(item["eventId"])
    subscription_id = _id_text(item["subscriptionId"])
    object_id = _id_text(item["objectId"])
    account = f"{HUBSPOT}:{_id_text(item['portalId'])}"
    delivery_key = (
        f"{HUBSPOT}:{event_id}:{subscription_id}:{object_id}:{property_name or ''}:"
        f"{item['occurredAt']}"
    )

    contact_id = _hubspot_contact_id(item, subscription_type, object_id)
    event = (
        WebhookEvent(account, contact_id, subscription_type, occurred_at)
        if contact_id is not None
        else None
    )
    change_source = item.get("changeSource")
    return HubSpotEvent(
        event=event,
        delivery_key=delivery_key,
        subscription_type=subscription_type,
        property_name=property_name,
        change_source=change_source if isinstance(change_source, str) else None,
        source_id=_id_text(item.get("sourceId")),
    )


def _hubspot_contact_id(item: dict, subscription_type: str, object_id: str | None) -> str | None:
    if subscription_type in _HUBSPOT_OBJECT_TYPES:
        if str(item.get("objectTypeId")) != HUBSPOT_CONTACT_OBJECT_TYPE:
            return None
    elif subscription_type not in _HUBSPOT_CONTACT_TYPES:
        return None
    if subscription_type.endswith(".merge"):
        # A merge keeps the primary record; the merged ids no longer exist.
        return _id_text(item.get("primaryObjectId")) or object_id
    return object_id


def parse_ghl_timestamp(value: object) -> datetime:
    """Read a GoHighLevel delivery `timestamp`: ISO 8601 text or epoch milliseconds.

    NOTE: GoHighLevel's webhook authentication docs name this field but show
    no example value, so both ISO text and epoch numbers are accepted. Numbers
    below 10**11 are read as epoch seconds.
    """
    if isinstance(value, bool):
        raise PayloadError("timestamp is not a time")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float):
        seconds = value / 1000 if value >= _EPOCH_MILLISECONDS_FLOOR else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise PayloadError(f"timestamp {value[:40]!r} is not ISO 8601") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    raise PayloadError("timestamp missing")


def parse_ghl_delivery(body: bytes) -> GhlDelivery:
    """Validate one GoHighLevel delivery: type, locationId, webhookId, timestamp, contact id."""
    document = parse_json(body)
    if not isinstance(document, dict):
        raise PayloadError(f"GoHighLevel body must be a JSON object, got {type(document).__name__}")
    event_type = document.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise PayloadError("type missing")
    location_id = _id_text(document.get("locationId"))
    if location_id is None:
        raise PayloadError("locationId missing")
    webhook_id = _id_text(document.get("webhookId"))
    if webhook_id is None:
        raise PayloadError("webhookId missing; it is needed to reject replays")
    sent_at = parse_ghl_timestamp(document.get("timestamp"))
    account = f"{GOHIGHLEVEL}:{location_id}"

    event = None
    path = _GHL_CONTACT_ID_PATHS.get(event_type)
    if path is not None:
        contact_id = _id_text(_dig(document, path))
        if contact_id is None:
            raise PayloadError(f"{'.'.join(path)} missing in {event_type} event")
        event = WebhookEvent(account, contact_id, event_type, sent_at)

    tags = None
    if event_type in GHL_TAGGED_EVENTS and "tags" in document:
        raw_tags = document["tags"]
        if not isinstance(raw_tags, list) or not all(isinstance(tag, str) for tag in raw_tags):
            raise PayloadError(f"tags in {event_type} event must be an array of strings")
        tags = frozenset(tag.strip().lower() for tag in raw_tags)

    return GhlDelivery(event_type, account, webhook_id, sent_at, event, tags)


def _dig(document: Mapping, path: tuple[str, ...]) -> object:
    value: object = document
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def parse_generic_contact_id(body: bytes, content_type: str) -> str:
    """Find the contact id in a workflow webhook body, JSON or form-encoded."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=False)
        except UnicodeDecodeError as exc:
            raise PayloadError("form body is not UTF-8") from exc
        fields: Mapping[str, object] = {name: values[0] for name, values in form.items()}
    else:
        document = parse_json(body)
        if not isinstance(document, dict):
            raise PayloadError(f"body must be a JSON object, got {type(document).__name__}")
        fields = document

    for name in GENERIC_CONTACT_ID_FIELDS:
        contact_id = _id_text(fields.get(name))
        if contact_id is not None:
            return contact_id
    raise PayloadError(f"no contact id: send one of {', '.join(GENERIC_CONTACT_ID_FIELDS)}")

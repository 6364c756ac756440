"""Request builders for the webhook tests: signed the way each CRM signs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

_event_ids = itertools.count(1000)


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def hubspot_event(
    contact_id: int,
    occurred_at: datetime,
    *,
    portal_id: int = 62515,
    subscription_type: str = "contact.propertyChange",
    property_name: str | None = "lifecyclestage",
    event_id: int | None = None,
    subscription_id: int = 12345,
    **extra: object,
) -> dict:
    """Build one HubSpot webhook event in the delivery shape."""
    event = {
        "eventId": event_id if event_id is not None else next(_event_ids),
        "subscriptionId": subscription_id,
        "portalId": portal_id,
        "appId": 54321,
        "occurredAt": millis(occurred_at),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": contact_id,
        "changeSource": "CRM_UI",
    }
    if property_name is not None:
        event["propertyName"] = property_name
        event["propertyValue"] = "lead"
    event.update(extra)
    return event


def hubspot_headers(
    secret: str, url: str, body: bytes, timestamp: str, *, method: str = "POST"
) -> dict[str, str]:
    """Sign a body as HubSpot does (v3): HMAC-SHA256 over method, URL, body, timestamp."""
    source = f"{method}{url}".encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature.decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def ghl_body(event_type: str, *, webhook_id: str, timestamp: str, **fields: object) -> bytes:
    """Build a GoHighLevel delivery: the event fields plus the envelope fields."""
    document = {"type": event_type, "locationId": "loc-1", **fields}
    document["webhookId"] = webhook_id
    document["timestamp"] = timestamp
    return json.dumps(document).encode()


def ghl_headers(private_key, body: bytes) -> dict[str, str]:
    signature = base64.b64encode(private_key.sign(body)).decode()
    return {"Content-Type": "application/json", "x-ghl-signature": signature}


def ghl_legacy_headers(rsa_private_key, body: bytes) -> dict[str, str]:
    signature = rsa_private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    encoded = base64.b64encode(signature).decode()
    return {"Content-Type": "application/json", "x-wh-signature": encoded}

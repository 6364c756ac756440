"""The receiver over real HTTP on 127.0.0.1: verification, status codes, what gets queued."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
import structlog

from jobs.webhooks.settings import WebhookSettings
from jobs.webhooks.tables import webhook_contact_tags, webhook_deliveries, webhook_queue
from tests.webhooks.conftest import (
    FROZEN_NOW,
    GENERIC_ACCOUNT,
    GENERIC_TOKEN,
    HUBSPOT_SECRET,
    PUBLIC_BASE_URL,
    public_pem,
)
from tests.webhooks.signing import (
    ghl_body,
    ghl_headers,
    ghl_legacy_headers,
    hubspot_event,
    hubspot_headers,
    millis,
)

HUBSPOT_URL = PUBLIC_BASE_URL + "/webhooks/hubspot"
NOW_MS = str(millis(FROZEN_NOW))
NOW_ISO = FROZEN_NOW.isoformat().replace("+00:00", "Z")


def queued_rows(store) -> list:
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(webhook_queue).order_by(webhook_queue.c.account, webhook_queue.c.contact_id)
        ).all()


def post_hubspot(
    receiver,
    events,
    *,
    secret=HUBSPOT_SECRET,
    url=HUBSPOT_URL,
    timestamp=NOW_MS,
    body=None,
    extra_headers=None,
):
    body = body if body is not None else json.dumps(events).encode()
    headers = hubspot_headers(secret, url, body, timestamp)
    headers.update(extra_headers or {})
    return requests.post(receiver.url + "/webhooks/hubspot", data=body, headers=headers, timeout=5)


# ---- HubSpot ----


def test_hubspot_valid_signature_queues_contact(receiver, sqlite_store):
    response = post_hubspot(receiver, [hubspot_event(501, FROZEN_NOW)])

    assert response.status_code == 200
    assert response.json()["queued"] == 1
    rows = queued_rows(sqlite_store)
    assert [(row.account, row.contact_id, row.status) for row in rows] == [
        ("hubspot:62515", "501", "pending")
    ]
    assert rows[0].last_kind == "contact.propertyChange"


def _modified_body(events):
    body = json.dumps(events).encode()
    return body, body.replace(b"501", b"502")


@pytest.mark.parametrize(
    ("case", "expected_status", "expected_reason"),
    [
        ("wrong_secret", 401, "invalid_signature"),
        ("modified_body", 401, "invalid_signature"),
        ("stale_timestamp", 401, "stale_timestamp"),
        ("future_timestamp", 401, "stale_timestamp"),
        ("seconds_timestamp", 401, "stale_timestamp"),
        ("proxy_rewritten_host", 401, "invalid_signature"),
        ("missing_signature", 401, "missing_signature"),
        ("missing_timestamp", 401, "missing_signature"),
        ("non_numeric_timestamp", 400, "malformed_timestamp"),
    ],
    ids=lambda value: str(value),
)
def test_hubspot_rejects_bad_request(
    receiver, sqlite_store, case, expected_status, expected_reason
):
    events = [hubspot_event(501, FROZEN_NOW)]
    body = json.dumps(events).encode()
    secret, url, timestamp = HUBSPOT_SECRET, HUBSPOT_URL, NOW_MS
    sent_body = body
    headers_override: dict[str, str] = {}

    if case == "wrong_secret":
        secret = "some-other-app-secret"
    elif case == "modified_body":
        sent_body = body.replace(b"501", b"502")
    elif case == "stale_timestamp":
        timestamp = str(millis(FROZEN_NOW - timedelta(minutes=5, seconds=1)))
    elif case == "future_timestamp":
        timestamp = str(millis(FROZEN_NOW + timedelta(minutes=6)))
    elif case == "seconds_timestamp":
        timestamp = str(int(FROZEN_NOW.timestamp()))
    elif case == "proxy_rewritten_host":
        # Signed for the host the request reached, not the configured public URL.
        url = receiver.url + "/webhooks/hubspot"
    elif case == "non_numeric_timestamp":
        timestamp = "2026-03-02T15:30:00Z"

    headers = hubspot_headers(secret, url, body, timestamp)
    if case == "missing_signature":
        del headers["X-HubSpot-Signature-v3"]
    if case == "missing_timestamp":
        del headers["X-HubSpot-Request-Timestamp"]
    headers.update(headers_override)

    response = requests.post(
        receiver.url + "/webhooks/hubspot", data=sent_body, headers=headers, timeout=5
    )

    assert response.status_code == expected_status
    assert response.json()["error"] == expected_reason
    assert queued_rows(sqlite_store) == []


def test_hubspot_ignores_host_header(receiver, sqlite_store):
    events = [hubspot_event(501, FROZEN_NOW)]
    response = post_hubspot(receiver, events, extra_headers={"Host": "attacker.example"})

    assert response.status_code == 200
    assert len(queued_rows(sqlite_store)) == 1


def test_hubspot_timestamp_at_window_edge_accepted(receiver, sqlite_store):
    timestamp = str(millis(FROZEN_NOW - timedelta(minutes=5)))
    response = post_hubspot(receiver, [hubspot_event(501, FROZEN_NOW)], timestamp=timestamp)

    assert response.status_code == 200


def test_hubspot_batch_of_100_queued(receiver, sqlite_store):
    events = [hubspot_event(10_000 + index, FROZEN_NOW) for index in range(100)]

    response = post_hubspot(receiver, events)

    assert response.status_code == 200
    assert response.json()["queued"] == 100
    contact_ids = {row.contact_id for row in queued_rows(sqlite_store)}
    assert contact_ids == {str(10_000 + index) for index in range(100)}


def test_hubspot_batch_over_100_events_rejected(receiver, sqlite_store):
    events = [hubspot_event(10_000 + index, FROZEN_NOW) for index in range(101)]

    response = post_hubspot(receiver, events)

    assert response.status_code == 400
    assert queued_rows(sqlite_store) == []


def test_hubspot_duplicates_collapse_to_one_row(receiver, sqlite_store):
    first = hubspot_event(501, FROZEN_NOW, event_id=1)
    second = hubspot_event(
        501, FROZEN_NOW + timedelta(seconds=1), event_id=2, property_name="firstname"
    )

    response = post_hubspot(receiver, [first, first, second])
    retried = post_hubspot(receiver, [first])

    assert response.json()["duplicates"] == 1
    assert response.json()["queued"] == 1
    assert retried.status_code == 200
    assert retried.json()["duplicates"] == 1
    assert retried.json()["queued"] == 0
    rows = queued_rows(sqlite_store)
    assert len(rows) == 1
    assert rows[0].event_kinds == "contact.propertyChange"


def test_hubspot_out_of_order_events_keep_latest(receiver, sqlite_store):
    later = hubspot_event(501, FROZEN_NOW, subscription_type="contact.propertyChange")
    earlier = hubspot_event(
        501,
        FROZEN_NOW - timedelta(minutes=2),
        subscription_type="contact.creation",
        property_name=None,
    )

    post_hubspot(receiver, [later])
    post_hubspot(receiver, [earlier])

    rows = queued_rows(sqlite_store)
    assert len(rows) == 1
    assert rows[0].occurred_at == FROZEN_NOW.replace(microsecond=0)
    assert rows[0].last_kind == "contact.propertyChange"
    assert rows[0].event_kinds == "contact.propertyChange,contact.creation"


def test_hubspot_own_property_change_dropped(receiver, sqlite_store):
    own = hubspot_event(501, FROZEN_NOW, property_name="leadscore_score")
    from_our_app = hubspot_event(
        502,
        FROZEN_NOW,
        property_name="lifecyclestage",
        changeSource="INTEGRATION",
        sourceId="777001",
    )
    staff_edit = hubspot_event(503, FROZEN_NOW, property_name="lifecyclestage")

    response = post_hubspot(receiver, [own, from_our_app, staff_edit])

    assert response.json()["own_writes"] == 2
    assert [row.contact_id for row in queued_rows(sqlite_store)] == ["503"]


def test_hubspot_deletion_and_deal_events_ignored(receiver, sqlite_store):
    deleted = hubspot_event(
        501, FROZEN_NOW, subscription_type="contact.deletion", property_name=None
    )
    deal = hubspot_event(
        9001, FROZEN_NOW, subscription_type="deal.propertyChange", property_name="dealstage"
    )

    response = post_hubspot(receiver, [deleted, deal])

    assert response.status_code == 200
    assert response.json()["ignored"] == 2
    assert queued_rows(sqlite_store) == []


def test_hubspot_merge_queues_primary_contact(receiver, sqlite_store):
    merge = hubspot_event(
        501,
        FROZEN_NOW,
        subscription_type="contact.merge",
        property_name=None,
        primaryObjectId=777,
        mergedObjectIds=[501, 502],
    )

    post_hubspot(receiver, [merge])

    assert [row.contact_id for row in queued_rows(sqlite_store)] == ["777"]


def test_hubspot_invalid_event_skipped_others_queued(receiver, sqlite_store):
    broken = {"eventId": 5, "portalId": 62515, "subscriptionType": "contact.creation"}

    response = post_hubspot(receiver, [broken, hubspot_event(501, FROZEN_NOW)])

    assert response.status_code == 200
    assert response.json()["invalid"] == 1
    assert [row.contact_id for row in queued_rows(sqlite_store)] == ["501"]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b"[]", b'[{"eventId": 1}]', '["\xff"]'.encode("latin-1")],
    ids=["not_json", "object_not_array", "empty_array", "no_valid_event", "not_utf8"],
)
def test_hubspot_malformed_body_returns_400(receiver, sqlite_store, body):
    response = post_hubspot(receiver, None, body=body)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_payload"
    assert queued_rows(sqlite_store) == []


def test_hubspot_body_over_limit_returns_413(receiver, sqlite_store):
    body = b"[" + b" " * (64 * 1024) + b"]"

    response = post_hubspot(receiver, None, body=body)

    assert response.status_code == 413
    assert queued_rows(sqlite_store) == []


def test_hubspot_route_404_when_not_configured(start_receiver, ed25519_key):
    settings = WebhookSettings(_env_file=None, port=0, ghl_public_key=public_pem(ed25519_key))
    receiver = start_receiver(settings)

    response = post_hubspot(receiver, [hubspot_event(501, FROZEN_NOW)])

    assert response.status_code == 404
    assert response.json()["error"] == "not_configured"


# ---- GoHighLevel ----


def post_ghl(receiver, body, headers):
    return requests.post(
        receiver.url + "/webhooks/gohighlevel", data=body, headers=headers, timeout=5
    )


@pytest.mark.parametrize(
    ("event_type", "fields", "contact_id"),
    [
        ("ContactCreate", {"id": "c-1", "tags": []}, "c-1"),
        ("ContactUpdate", {"id": "c-2"}, "c-2"),
        ("ContactTagUpdate", {"id": "c-3", "tags": ["vip"]}, "c-3"),
        ("InboundMessage", {"contactId": "c-4", "messageType": "SMS"}, "c-4"),
        ("AppointmentCreate", {"appointment": {"id": "a-1", "contactId": "c-5"}}, "c-5"),
        ("AppointmentUpdate", {"appointment": {"id": "a-1", "contactId": "c-6"}}, "c-6"),
        ("OpportunityCreate", {"id": "o-1", "contactId": "c-7"}, "c-7"),
        ("OpportunityStageUpdate", {"id": "o-1", "contactId": "c-8"}, "c-8"),
        ("OpportunityStatusUpdate", {"id": "o-1", "contactId": "c-9", "status": "won"}, "c-9"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_ghl_event_queues_its_contact(
    receiver, sqlite_store, ed25519_key, event_type, fields, contact_id
):
    body = ghl_body(event_type, webhook_id=f"wh-{event_type}", timestamp=NOW_ISO, **fields)

    response = post_ghl(receiver, body, ghl_headers(ed25519_key, body))

    assert response.status_code == 200
    assert response.json()["signature"] == "ed25519"
    rows = queued_rows(sqlite_store)
    assert [(row.account, row.contact_id, row.last_kind) for row in rows] == [
        ("gohighlevel:loc-1", contact_id, event_type)
    ]


def test_ghl_unused_event_acknowledged_not_queued(receiver, sqlite_store, ed25519_key):
    body = ghl_body("NoteCreate", webhook_id="wh-note", timestamp=NOW_ISO, contactId="c-1")

    response = post_ghl(receiver, body, ghl_headers(ed25519_key, body))

    assert response.status_code == 200
    assert response.json()["ignored"] == 1
    assert queued_rows(sqlite_store) == []


def test_ghl_replayed_webhook_id_rejected(receiver, sqlite_store, ed25519_key):
    body = ghl_body("ContactUpdate", webhook_id="wh-replay", timestamp=NOW_ISO, id="c-1")
    headers = ghl_headers(ed25519_key, body)

    first = post_ghl(receiver, body, headers)
    replay = post_ghl(receiver, body, headers)

    assert first.status_code == 200
    assert replay.status_code == 409
    assert replay.json()["error"] == "replayed_webhook_id"
    assert len(queued_rows(sqlite_store)) == 1


@pytest.mark.parametrize(
    ("case", "expected_status", "expected_reason"),
    [
        ("wrong_key", 401, "invalid_signature"),
        ("modified_body", 401, "invalid_signature"),
        ("unsigned", 401, "missing_signature"),
        ("signature_not_base64", 401, "invalid_signature"),
        ("stale_timestamp", 401, "stale_timestamp"),
        ("stale_epoch_millis", 401, "stale_timestamp"),
        ("missing_webhook_id", 400, "malformed_payload"),
        ("missing_contact_id", 400, "malformed_payload"),
        ("legacy_signature_without_legacy_key", 401, "missing_signature"),
    ],
    ids=lambda value: str(value),
)
def test_ghl_rejects_bad_request(
    receiver, sqlite_store, ed25519_key, rsa_key, case, expected_status, expected_reason
):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    timestamp = NOW_ISO
    fields = {"id": "c-1"}
    webhook_id = f"wh-{case}"
    if case == "stale_timestamp":
        timestamp = (FROZEN_NOW - timedelta(minutes=6)).isoformat()
    if case == "stale_epoch_millis":
        timestamp = str(millis(FROZEN_NOW - timedelta(hours=1)))
    if case == "missing_contact_id":
        fields = {}
    body = ghl_body("ContactUpdate", webhook_id=webhook_id, timestamp=timestamp, **fields)
    if case == "missing_webhook_id":
        document = json.loads(body)
        del document["webhookId"]
        body = json.dumps(document).encode()

    headers = ghl_headers(ed25519_key, body)
    sent_body = body
    if case == "wrong_key":
        headers = ghl_headers(Ed25519PrivateKey.generate(), body)
    elif case == "modified_body":
        sent_body = body.replace(b"c-1", b"c-2")
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "signature_not_base64":
        headers["x-ghl-signature"] = "%%% not base64 %%%"
    elif case == "legacy_signature_without_legacy_key":
        headers = ghl_legacy_headers(rsa_key, body)

    response = post_ghl(receiver, sent_body, headers)

    assert response.status_code == expected_status
    assert response.json()["error"] == expected_reason
    assert queued_rows(sqlite_store) == []


def test_ghl_legacy_rsa_signature_accepted(start_receiver, settings, rsa_key, sqlite_store):
    receiver = start_receiver(
        settings.model_copy(update={"ghl_legacy_public_key": public_pem(rsa_key)})
    )
    body = ghl_body("ContactUpdate", webhook_id="wh-legacy", timestamp=NOW_ISO, id="c-1")

    response = post_ghl(receiver, body, ghl_legacy_headers(rsa_key, body))

    assert response.status_code == 200
    assert response.json()["signature"] == "rsa-sha256"
    assert [row.contact_id for row in queued_rows(sqlite_store)] == ["c-1"]


def test_ghl_bad_ed25519_skips_legacy_fallback(start_receiver, settings, rsa_key, sqlite_store):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    receiver = start_receiver(
        settings.model_copy(update={"ghl_legacy_public_key": public_pem(rsa_key)})
    )
    body = ghl_body("ContactUpdate", webhook_id="wh-both", timestamp=NOW_ISO, id="c-1")
    headers = {
        **ghl_legacy_headers(rsa_key, body),
        **ghl_headers(Ed25519PrivateKey.generate(), body),
    }

    response = post_ghl(receiver, body, headers)

    assert response.status_code == 401
    assert queued_rows(sqlite_store) == []


def test_ghl_alert_tag_echo_dropped(receiver, sqlite_store, ed25519_key):
    update = ghl_body(
        "ContactUpdate", webhook_id="wh-1", timestamp=NOW_ISO, id="c-1", tags=["Botox", "new-lead"]
    )
    alert_tag_added = ghl_body(
        "ContactTagUpdate",
        webhook_id="wh-2",
        timestamp=NOW_ISO,
        id="c-1",
        tags=["botox", "new-lead", "Lead-Tier-Hot"],
    )
    staff_tag_added = ghl_body(
        "ContactTagUpdate",
        webhook_id="wh-3",
        timestamp=NOW_ISO,
        id="c-1",
        tags=["botox", "new-lead", "lead-tier-hot", "vip"],
    )

    post_ghl(receiver, update, ghl_headers(ed25519_key, update))
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.delete(webhook_queue))
    echo = post_ghl(receiver, alert_tag_added, ghl_headers(ed25519_key, alert_tag_added))
    rows_after_echo = queued_rows(sqlite_store)
    staff = post_ghl(receiver, staff_tag_added, ghl_headers(ed25519_key, staff_tag_added))

    assert echo.json()["own_writes"] == 1
    assert rows_after_echo == []
    assert staff.json()["queued"] == 1
    with sqlite_store.engine.connect() as conn:
        stored = conn.execute(sa.select(webhook_contact_tags.c.tags)).scalar_one()
    assert json.loads(stored) == ["botox", "lead-tier-hot", "new-lead", "vip"]


def test_ghl_tag_update_without_history_queued(receiver, sqlite_store, ed25519_key):
    body = ghl_body(
        "ContactTagUpdate", webhook_id="wh-1", timestamp=NOW_ISO, id="c-1", tags=["lead-tier-hot"]
    )

    response = post_ghl(receiver, body, ghl_headers(ed25519_key, body))

    assert response.json()["queued"] == 1


# ---- generic workflow webhooks ----


@pytest.mark.parametrize(
    ("kwargs", "contact_id"),
    [
        ({"json": {"contact_id": "c-10"}}, "c-10"),
        ({"json": {"contactId": "c-11", "email": "a@b.test"}}, "c-11"),
        ({"json": {"id": 12345}}, "12345"),
        ({"json": {"objectId": 987}}, "987"),
        ({"data": {"contact_id": "c-13"}}, "c-13"),
    ],
    ids=["json_contact_id", "json_contactId", "json_numeric_id", "hubspot_objectId", "form"],
)
def test_generic_webhook_queues_contact(receiver, sqlite_store, kwargs, contact_id):
    response = requests.post(
        receiver.url + f"/webhooks/generic/{GENERIC_ACCOUNT}",
        headers={"X-Leadscore-Token": GENERIC_TOKEN},
        timeout=5,
        **kwargs,
    )

    assert response.status_code == 200
    assert [(row.account, row.contact_id) for row in queued_rows(sqlite_store)] == [
        (GENERIC_ACCOUNT, contact_id)
    ]


@pytest.mark.parametrize(
    ("account", "token", "body", "expected_status"),
    [
        ("gohighlevel:unknown", GENERIC_TOKEN, {"contact_id": "c-1"}, 404),
        (GENERIC_ACCOUNT, "wrong-token", {"contact_id": "c-1"}, 401),
        (GENERIC_ACCOUNT, None, {"contact_id": "c-1"}, 401),
        (GENERIC_ACCOUNT, GENERIC_TOKEN, {"email": "lead@example.test"}, 400),
    ],
    ids=["unknown_account", "wrong_token", "missing_token", "no_contact_id"],
)
def test_generic_webhook_rejects_bad_request(
    receiver, sqlite_store, account, token, body, expected_status
):
    headers = {"X-Leadscore-Token": token} if token else {}

    response = requests.post(
        receiver.url + f"/webhooks/generic/{account}", json=body, headers=headers, timeout=5
    )

    assert response.status_code == expected_status
    assert queued_rows(sqlite_store) == []


# ---- routing, health, logging ----


@pytest.mark.parametrize(
    ("method", "path", "expected_status"),
    [
        ("GET", "/webhooks/hubspot", 405),
        ("POST", "/healthz", 405),
        ("GET", "/nothing-here", 404),
    ],
    ids=["get_on_webhook", "post_on_health", "unknown_path"],
)
def test_routing_status_codes(receiver, method, path, expected_status):
    response = requests.request(method, receiver.url + path, timeout=5)

    assert response.status_code == expected_status


def test_healthz_reports_queue_and_daemon(start_receiver, settings, sqlite_store):
    from jobs.webhooks.app import HealthReport

    healthy = start_receiver(
        settings, health=lambda: HealthReport(True, {"last_cycle_at": "2026-03-02T15:29:00Z"})
    )
    stale = start_receiver(settings, health=lambda: HealthReport(False, {"reason": "stale"}))
    requests.post(
        healthy.url + f"/webhooks/generic/{GENERIC_ACCOUNT}",
        json={"contact_id": "c-1"},
        headers={"X-Leadscore-Token": GENERIC_TOKEN},
        timeout=5,
    )

    ok = requests.get(healthy.url + "/healthz", timeout=5)
    not_ok = requests.get(stale.url + "/healthz", timeout=5)

    assert ok.status_code == 200
    assert ok.json()["last_cycle_at"] == "2026-03-02T15:29:00Z"
    assert ok.json()["webhook_queue"]["pending"] == 1
    assert not_ok.status_code == 503


def test_receiver_wakes_drain_only_when_queued(start_receiver, settings):
    wakeups: list[int] = []
    receiver = start_receiver(settings, on_enqueued=lambda: wakeups.append(1))

    post_hubspot(receiver, [hubspot_event(501, FROZEN_NOW)])
    post_hubspot(receiver, [hubspot_event(502, FROZEN_NOW, property_name="leadscore_tier")])

    assert wakeups == [1]


def test_rejections_never_log_body_or_secrets(receiver, ed25519_key):
    secret_marker = "jane.doe@example.test"
    events = [hubspot_event(501, FROZEN_NOW, propertyValue=secret_marker)]
    body = json.dumps(events).encode()

    with structlog.testing.capture_logs() as logs:
        requests.post(
            receiver.url + "/webhooks/hubspot",
            data=body,
            headers=hubspot_headers("wrong-secret", HUBSPOT_URL, body, NOW_MS),
            timeout=5,
        )
        requests.post(
            receiver.url + f"/webhooks/generic/{GENERIC_ACCOUNT}",
            json={"contact_id": "c-1"},
            headers={"X-Leadscore-Token": "bad-" + GENERIC_TOKEN},
            timeout=5,
        )

    text = repr(logs)
    assert any(entry["event"] == "webhook_rejected" for entry in logs)
    assert secret_marker not in text
    assert HUBSPOT_SECRET not in text
    assert GENERIC_TOKEN not in text


def test_repeated_rejections_logged_once_per_interval(receiver):
    body = json.dumps([hubspot_event(501, FROZEN_NOW)]).encode()
    headers = hubspot_headers("wrong-secret", HUBSPOT_URL, body, NOW_MS)

    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            requests.post(receiver.url + "/webhooks/hubspot", data=body, headers=headers, timeout=5)

    rejected = [entry for entry in logs if entry["event"] == "webhook_rejected"]
    assert len(rejected) == 1


def test_deliveries_recorded_for_duplicate_checks(receiver, sqlite_store, ed25519_key):
    body = ghl_body("ContactUpdate", webhook_id="wh-recorded", timestamp=NOW_ISO, id="c-1")
    post_ghl(receiver, body, ghl_headers(ed25519_key, body))

    with sqlite_store.engine.connect() as conn:
        keys = conn.execute(sa.select(webhook_deliveries.c.delivery_key)).scalars().all()

    assert keys == ["gohighlevel:wh-recorded"]


def test_service_on_taken_port_raises(receiver, settings, sqlite_store):
    from jobs.webhooks.service import WebhookService

    second = WebhookService(settings.model_copy(update={"port": receiver.port}), sqlite_store)

    with pytest.raises(OSError):
        second.start()


def test_service_stop_closes_port(start_receiver, settings):
    receiver = start_receiver(settings)
    url = receiver.url

    receiver.stop()
    receiver.stop()  # a second stop is harmless

    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)


def _chunks(padding: int):
    yield b'{"contact_id": "c-chunked", "pad": "'
    yield b"x" * padding
    yield b'"}'


@pytest.mark.parametrize(
    ("padding", "expected_status"), [(10, 200), (70_000, 413)], ids=["small", "over_limit"]
)
def test_chunked_body_limit(receiver, sqlite_store, padding, expected_status):
    response = requests.post(
        receiver.url + f"/webhooks/generic/{GENERIC_ACCOUNT}",
        data=_chunks(padding),
        headers={"X-Leadscore-Token": GENERIC_TOKEN, "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == expected_status
    assert len(queued_rows(sqlite_store)) == (1 if expected_status == 200 else 0)


def test_failed_wakeup_still_accepts_event(start_receiver, settings, sqlite_store):
    def broken_wakeup() -> None:
        raise RuntimeError("scheduler is shut down")

    receiver = start_receiver(settings, on_enqueued=broken_wakeup)

    with structlog.testing.capture_logs() as logs:
        response = requests.post(
            receiver.url + f"/webhooks/generic/{GENERIC_ACCOUNT}",
            json={"contact_id": "c-1"},
            headers={"X-Leadscore-Token": GENERIC_TOKEN},
            timeout=5,
        )

    [failure] = [entry for entry in logs if entry["event"] == "webhook_wakeup_failed"]
    assert response.status_code == 200
    assert len(queued_rows(sqlite_store)) == 1
    assert failure["error"] == "scheduler is shut down"
    assert "exc_info" not in failure
    assert GENERIC_TOKEN not in repr(logs)


def test_healthz_503_when_health_source_raises(start_receiver, settings):
    def broken_health():
        raise OSError("heartbeat file unreadable")

    receiver = start_receiver(settings, health=broken_health)

    response = requests.get(receiver.url + "/healthz", timeout=5)

    assert response.status_code == 503
    assert response.json()["health_error"] == "OSError"

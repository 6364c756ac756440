import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from jobs.alerts import build_channels, deliver_pending
from jobs.alerts.channels import verify_signature
from tests.alerts.conftest import (
    Clock,
    alert_rows,
    delivery_rows,
    make_settings,
    record_first_score,
)

START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York

# The loopback SMTP server requires AUTH without TLS, which aiosmtpd warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def webhook_settings(receiver, **overrides):
    return make_settings(**({"channels": "webhook", "webhook_url": receiver.url} | overrides))


def test_webhook_receives_slack_compatible_body(engine, model, receiver):
    settings = webhook_settings(receiver)
    alert_id = record_first_score(engine, model, settings, START)
    report = deliver_pending(engine, build_channels(settings), START, settings)
    assert report.sent == 1
    [request] = receiver.requests
    body = request.json()
    assert body["text"].startswith("Hot lead: Jane Doe for Botox, score 88")
    assert "+1 415 555 0134" in body["text"]
    assert "jane.doe@example.com" in body["text"]
    assert body["blocks"][0]["type"] == "header"
    assert request.headers["X-Leadscore-Idempotency-Key"] == f"leadscore-alert-{alert_id}-webhook"
    assert "X-Leadscore-Signature" not in request.headers
    [delivery] = delivery_rows(engine)
    assert delivery.status == "sent"
    assert delivery.sent_at == START
    assert delivery.attempts == 1
    assert delivery.receipt == "HTTP 200"
    assert alert_rows(engine)[0].status == "sent"


def test_webhook_signature_verifies_at_receiver(engine, model, receiver):
    settings = webhook_settings(receiver, webhook_secret="s3cret-signing-key")
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings), START, settings)
    [request] = receiver.requests
    timestamp = request.headers["X-Leadscore-Timestamp"]
    signature = request.headers["X-Leadscore-Signature"]
    assert signature.startswith("sha256=")
    assert verify_signature("s3cret-signing-key", timestamp, request.body, signature) is True
    assert verify_signature("another-key", timestamp, request.body, signature) is False
    tampered = request.body.replace(b"Jane", b"June")
    assert verify_signature("s3cret-signing-key", timestamp, tampered, signature) is False


def test_channel_failing_twice_then_succeeds(engine, model, receiver):
    settings = webhook_settings(receiver, retry_base_seconds=30)
    clock = Clock(START)
    record_first_score(engine, model, settings, clock.now)
    channels = build_channels(settings)
    receiver.fail_next(2, status=503)

    first = deliver_pending(engine, channels, clock.now, settings)
    assert first.retrying == 1
    [delivery] = delivery_rows(engine)
    assert delivery.status == "pending"
    assert delivery.attempts == 1
    assert "HTTP 503" in delivery.last_error
    assert delivery.next_attempt_at == START + timedelta(seconds=30)

    # Not due yet: nothing is sent before the backoff ends.
    assert deliver_pending(engine, channels, clock.advance(seconds=29), settings).results == []
    second = deliver_pending(engine, channels, clock.advance(seconds=1), settings)
    assert second.retrying == 1
    assert delivery_rows(engine)[0].next_attempt_at == clock.now + timedelta(seconds=60)

    third = deliver_pending(engine, channels, clock.advance(seconds=60), settings)
    assert third.sent == 1
    [delivery] = delivery_rows(engine)
    assert delivery.status == "sent"
    assert delivery.attempts == 3
    assert delivery.last_error is None
    assert len(receiver.requests) == 3
    keys = {request.headers["X-Leadscore-Idempotency-Key"] for request in receiver.requests}
    assert len(keys) == 1


def test_retry_limit_marks_failed_and_keeps_alert(engine, model, receiver):
    settings = webhook_settings(receiver, max_attempts=3, retry_base_seconds=10)
    clock = Clock(START)
    record_first_score(engine, model, settings, clock.now)
    channels = build_channels(settings)
    receiver.fail_next(10, status=500)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            deliver_pending(engine, channels, clock.now, settings)
            clock.advance(hours=1)
    [delivery] = delivery_rows(engine)
    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert delivery.next_attempt_at is None
    assert alert_rows(engine)[0].status == "failed"
    failed = [entry for entry in logs if entry["event"] == "alert_delivery_failed"]
    assert len(failed) == 1
    assert failed[0]["channel"] == "webhook"
    # A failed delivery is never retried on its own again.
    assert deliver_pending(engine, channels, clock.advance(days=1), settings).results == []


def test_invalid_webhook_url_names_setting_and_keeps_pending(engine, model):
    settings = make_settings(channels="webhook", webhook_url="hooks.slack.com/services/T/B/xyz")
    record_first_score(engine, model, settings, START)
    with structlog.testing.capture_logs() as logs:
        channels = build_channels(settings)
        report = deliver_pending(engine, channels, START, settings)
    assert report.retrying == 1
    [delivery] = delivery_rows(engine)
    assert delivery.status == "pending"
    assert "webhook channel: invalid webhook URL" in delivery.last_error
    assert "LEADSCORE_ALERT_WEBHOOK_URL" in delivery.last_error
    assert alert_rows(engine)[0].status == "pending"
    assert any(entry["event"] == "alert_channel_unavailable" for entry in logs)
    assert "xyz" not in json.dumps(logs, default=str)


def test_invalid_webhook_url_error_hides_path(engine, model):
    settings = make_settings(channels="webhook", webhook_url="ftp://hooks.example.com/T/B/xyz")
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings), START, settings)
    [delivery] = delivery_rows(engine)
    assert "invalid webhook URL ftp://hooks.example.com:" in delivery.last_error
    assert "xyz" not in delivery.last_error


def test_missing_webhook_url_names_setting(engine, model):
    settings = make_settings(channels="webhook")
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings), START, settings)
    [delivery] = delivery_rows(engine)
    assert "no URL is set" in delivery.last_error
    assert "LEADSCORE_ALERT_WEBHOOK_URL" in delivery.last_error


def test_unreachable_webhook_retries_without_leaking_path(engine, model, receiver):
    url = receiver.url
    settings = make_settings(channels="webhook", webhook_url=url)
    receiver.server.shutdown()
    receiver.server.server_close()
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings), START, settings)
    [delivery] = delivery_rows(engine)
    assert delivery.status == "pending"
    assert "POST to http://127.0.0.1:" in delivery.last_error
    assert "secret-path" not in delivery.last_error


def test_webhook_secrets_never_reach_logs(engine, model, receiver):
    settings = webhook_settings(receiver, webhook_secret="s3cret-signing-key")
    receiver.fail_next(1, status=404)
    record_first_score(engine, model, settings, START)
    with structlog.testing.capture_logs() as logs:
        deliver_pending(engine, build_channels(settings), START, settings)
    text = json.dumps(logs, default=str)
    assert "secret-path" not in text
    assert "s3cret-signing-key" not in text
    assert "jane.doe@example.com" not in text
    assert "555 0134" not in text


def test_several_channels_tracked_separately(engine, model, receiver, smtp_server):
    settings = webhook_settings(
        receiver,
        channels="webhook,email",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_username="frontdesk",
        smtp_password="wrong-password",
        email_from="alerts@spa.example",
        email_to="desk@spa.example",
    )
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings), START, settings)
    statuses = {row.channel: row.status for row in delivery_rows(engine)}
    assert statuses == {"webhook": "sent", "email": "pending"}
    assert alert_rows(engine)[0].status == "pending"


def test_email_sends_multipart_plain_and_html(engine, model, smtp_server):
    settings = make_settings(
        channels="email",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_username="frontdesk",
        smtp_password="correct-horse",
        email_from="alerts@spa.example",
        email_to="desk@spa.example, owner@spa.example",
    )
    alert_id = record_first_score(engine, model, settings, START)
    report = deliver_pending(engine, build_channels(settings), START, settings)
    assert report.sent == 1
    [(sender, recipients, raw)] = smtp_server.handler.messages
    assert sender == "alerts@spa.example"
    assert recipients == ["desk@spa.example", "owner@spa.example"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Hot lead: Jane Doe for Botox, score 88"
    assert message["Message-ID"] == f"<leadscore-alert-{alert_id}-email@spa.example>"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Phone: +1 415 555 0134" in plain
    assert "Inquired: Mon Mar 2, 9:05 AM EST" in plain
    assert 'href="tel:+1 415 555 0134"' in html
    assert "Open in CRM" in html


def test_smtp_login_failure_names_settings_and_keeps_pending(engine, model, smtp_server):
    settings = make_settings(
        channels="email",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
        smtp_username="frontdesk",
        smtp_password="wrong-password",
        email_from="alerts@spa.example",
        email_to="desk@spa.example",
    )
    record_first_score(engine, model, settings, START)
    with structlog.testing.capture_logs() as logs:
        deliver_pending(engine, build_channels(settings), START, settings)
    [delivery] = delivery_rows(engine)
    assert delivery.status == "pending"
    assert "email channel: SMTP login to 127.0.0.1" in delivery.last_error
    assert "as 'frontdesk' failed (535)" in delivery.last_error
    assert "LEADSCORE_ALERT_SMTP_PASSWORD" in delivery.last_error
    assert smtp_server.handler.messages == []
    assert "wrong-password" not in json.dumps(logs, default=str)


def test_missing_email_settings_are_named(engine, model):
    settings = make_settings(channels="email", smtp_host="127.0.0.1")
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings), START, settings)
    [delivery] = delivery_rows(engine)
    assert "LEADSCORE_ALERT_EMAIL_FROM" in delivery.last_error
    assert "LEADSCORE_ALERT_EMAIL_TO" in delivery.last_error


def test_deliveries_go_hottest_first_then_arrival(engine, model, receiver):
    settings = webhook_settings(receiver)
    for offset, (contact_id, score) in enumerate([("1", 80), ("2", 95), ("3", 80), ("4", 90)]):
        record_first_score(
            engine,
            model,
            settings,
            START + timedelta(seconds=offset),
            contact_id=contact_id,
            score=score,
        )
    deliver_pending(engine, build_channels(settings), START + timedelta(minutes=1), settings)
    subjects = [request.json()["text"].splitlines()[0] for request in receiver.requests]
    order = [subject.rsplit("score ", 1)[1] for subject in subjects]
    assert order == ["95", "90", "80", "80"]
    keys = [request.headers["X-Leadscore-Idempotency-Key"] for request in receiver.requests]
    assert keys[2] < keys[3]

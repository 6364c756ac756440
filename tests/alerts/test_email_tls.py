"""Email alerts over STARTTLS and implicit TLS, against a loopback SMTP server with AUTH."""

import email
import email.policy
import ssl
from zoneinfo import ZoneInfo

import pytest

from jobs.alerts.channels import ChannelError, EmailChannel
from jobs.alerts.message import sample_notice
from jobs.alerts.settings import SmtpSecurity
from tests.alerts.servers import (
    free_port,
    make_tls_files,
    server_tls_context,
    start_smtp_server,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def tls_files(tmp_path):
    return make_tls_files(tmp_path)


def email_channel(port: int, security: SmtpSecurity, cert_path, **overrides) -> EmailChannel:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": security,
        "sender": "alerts@spa.example",
        "recipients": ("desk@spa.example",),
        "zone": NEW_YORK,
        "username": "frontdesk",
        "password": "correct-horse",
        "timeout_seconds": 5,
        "ssl_context": ssl.create_default_context(cafile=str(cert_path)),
    } | overrides
    return EmailChannel(**values)


def test_starttls_then_login_sends(tls_files):
    cert_path, key_path = tls_files
    server = start_smtp_server(
        "frontdesk", "correct-horse", starttls_context=server_tls_context(cert_path, key_path)
    )
    try:
        channel = email_channel(server.port, SmtpSecurity.STARTTLS, cert_path)
        receipt = channel.send(sample_notice(), "leadscore-alert-5-email")
    finally:
        server.controller.stop()
    assert receipt == "sent <leadscore-alert-5-email@spa.example>"
    [(_, recipients, raw)] = server.handler.messages
    assert recipients == ["desk@spa.example"]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Hot lead: Test Lead (leadscore alerts test) for Botox, score 88"


def test_plain_connection_to_starttls_server_rejected(tls_files):
    cert_path, key_path = tls_files
    server = start_smtp_server(
        "frontdesk", "correct-horse", starttls_context=server_tls_context(cert_path, key_path)
    )
    try:
        channel = email_channel(server.port, SmtpSecurity.NONE, cert_path)
        with pytest.raises(ChannelError) as info:
            channel.send(sample_notice(), "leadscore-alert-6-email")
    finally:
        server.controller.stop()
    assert "does not support a step this setup needs (STARTTLS or AUTH)" in str(info.value)
    assert "LEADSCORE_ALERT_SMTP_SECURITY" in str(info.value)
    assert server.handler.messages == []


def test_untrusted_certificate_fails_clearly(tls_files, tmp_path):
    cert_path, key_path = tls_files
    other_directory = tmp_path / "other"
    other_directory.mkdir()
    other_cert, _ = make_tls_files(other_directory)
    server = start_smtp_server(
        "frontdesk", "correct-horse", starttls_context=server_tls_context(cert_path, key_path)
    )
    try:
        channel = email_channel(server.port, SmtpSecurity.STARTTLS, other_cert)
        with pytest.raises(ChannelError) as info:
            channel.send(sample_notice(), "leadscore-alert-7-email")
    finally:
        server.controller.stop()
    assert "sending through 127.0.0.1:" in str(info.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert server.handler.messages == []


def test_implicit_tls_sends(tls_files):
    cert_path, key_path = tls_files
    server = start_smtp_server(
        "frontdesk", "correct-horse", implicit_tls_context=server_tls_context(cert_path, key_path)
    )
    try:
        channel = email_channel(server.port, SmtpSecurity.SSL, cert_path)
        channel.send(sample_notice(), "leadscore-alert-8-email")
    finally:
        server.controller.stop()
    assert len(server.handler.messages) == 1


def test_closed_port_names_host_settings(tls_files):
    cert_path, _ = tls_files
    channel = email_channel(free_port(), SmtpSecurity.NONE, cert_path)
    with pytest.raises(ChannelError) as info:
        channel.send(sample_notice(), "leadscore-alert-9-email")
    assert "connecting to 127.0.0.1:" in str(info.value)
    assert "LEADSCORE_ALERT_SMTP_HOST" in str(info.value)

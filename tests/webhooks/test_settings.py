"""WebhookSettings from the environment: prefix, types, checks, secrets hidden."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jobs.webhooks.settings import WebhookSettings


def test_settings_read_prefixed_environment(monkeypatch):
    monkeypatch.setenv("LEADSCORE_WEBHOOK_ENABLED", "true")
    monkeypatch.setenv("LEADSCORE_WEBHOOK_PORT", "9000")
    monkeypatch.setenv("LEADSCORE_WEBHOOK_PUBLIC_BASE_URL", "https://hooks.example-spa.test/")
    monkeypatch.setenv("LEADSCORE_WEBHOOK_HUBSPOT_CLIENT_SECRET", "s3cret-value")
    monkeypatch.setenv("LEADSCORE_WEBHOOK_GENERIC_TOKENS", '{"gohighlevel:loc-1": "tok-1"}')
    monkeypatch.setenv("LEADSCORE_WEBHOOK_GHL_ALERT_TAGS", '["lead-tier-hot", "call-now"]')

    settings = WebhookSettings(_env_file=None)

    assert settings.enabled is True
    assert settings.port == 9000
    assert settings.host == "127.0.0.1"
    assert settings.public_base_url == "https://hooks.example-spa.test"
    assert settings.hubspot_client_secret.get_secret_value() == "s3cret-value"
    assert settings.generic_tokens["gohighlevel:loc-1"].get_secret_value() == "tok-1"
    assert settings.ghl_alert_tags == ("lead-tier-hot", "call-now")


def test_settings_hide_secrets_in_repr():
    settings = WebhookSettings(
        _env_file=None,
        public_base_url="https://h.test",
        hubspot_client_secret="s3cret-value",
        generic_tokens={"a": "tok-value"},
    )

    assert "s3cret-value" not in repr(settings)
    assert "tok-value" not in repr(settings)


def test_hubspot_secret_requires_public_url():
    with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
        WebhookSettings(_env_file=None, hubspot_client_secret="s3cret-value")


@pytest.mark.parametrize(
    "url",
    ["hooks.example-spa.test", "https://h.test/?x=1", "ftp://h.test"],
    ids=["no_scheme", "query", "wrong_scheme"],
)
def test_invalid_public_url_rejected(url):
    with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
        WebhookSettings(_env_file=None, public_base_url=url)


def test_invalid_ghl_key_rejected():
    with pytest.raises(ValidationError, match="PEM"):
        WebhookSettings(_env_file=None, ghl_public_key="not a key!")


def test_every_field_described():
    undocumented = [
        name for name, field in WebhookSettings.model_fields.items() if not field.description
    ]

    assert undocumented == []

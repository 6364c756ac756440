""".env.example lists every setting and parses with every settings class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jobs.alerts.settings import AlertSettings
from jobs.settings import Settings
from jobs.webhooks.settings import WebhookSettings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
# Fields that are other settings objects, not variables.
NESTED_FIELDS = {"alerts", "webhooks"}

SETTINGS_CLASSES = [
    pytest.param(Settings, "LEADSCORE_", id="worker"),
    pytest.param(AlertSettings, "LEADSCORE_ALERT_", id="alerts"),
    pytest.param(WebhookSettings, "LEADSCORE_WEBHOOK_", id="webhooks"),
]


def listed_variables() -> set[str]:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^(?:# )?(LEADSCORE_[A-Z0-9_]+)=", text, flags=re.MULTILINE))


@pytest.mark.parametrize(("settings_class", "prefix"), SETTINGS_CLASSES)
def test_every_setting_listed(settings_class, prefix):
    expected = {
        prefix + name.upper() for name in settings_class.model_fields if name not in NESTED_FIELDS
    }

    missing = expected - listed_variables()

    assert missing == set()


@pytest.mark.parametrize(
    ("settings_class", "field", "expected"),
    [
        (Settings, "sync_interval_seconds", 60),
        (Settings, "crm", "hubspot"),
        (AlertSettings, "channels", "crm"),
        (WebhookSettings, "enabled", False),
    ],
    ids=["worker_interval", "worker_crm", "alert_channels", "webhooks_off"],
)
def test_example_parses(settings_class, field, expected, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")

    settings = settings_class(_env_file=env_file)

    assert getattr(settings, field) == expected


def test_every_field_has_description():
    for settings_class in (Settings,):
        for name, field in settings_class.model_fields.items():
            assert field.description, f"{settings_class.__name__}.{name} has no description"

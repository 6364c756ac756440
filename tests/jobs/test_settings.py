"""Settings from variables and from a TOML accounts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.settings import Settings, SettingsError


def make_settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_single_account_from_variables():
    settings = make_settings(
        crm="hubspot", account_id="20240611", hubspot_token="pat-na1-abc", hot_stage="s-hot"
    )

    [account] = settings.accounts(environ={})

    assert account.key == "hubspot:20240611"
    assert account.token.get_secret_value() == "pat-na1-abc"
    assert account.api_base_url == "https://api.hubapi.com"
    assert account.pipeline.stage_for("hot") == "s-hot"


def test_environment_variables_read_at_construction(monkeypatch):
    monkeypatch.setenv("LEADSCORE_CRM", "gohighlevel")
    monkeypatch.setenv("LEADSCORE_ACCOUNT_ID", "loc-1")
    monkeypatch.setenv("LEADSCORE_GHL_TOKEN", "pit-xyz")
    monkeypatch.setenv("LEADSCORE_CRM_BASE_URL", "http://127.0.0.1:9999/")

    [account] = Settings(_env_file=None).accounts(environ={})

    assert account.key == "gohighlevel:loc-1"
    assert account.api_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "no CRM account configured"),
        ({"crm": "hubspot", "hubspot_token": "pat-1"}, "LEADSCORE_ACCOUNT_ID is missing"),
        ({"crm": "gohighlevel", "account_id": "loc"}, "LEADSCORE_GHL_TOKEN is missing"),
    ],
    ids=["no_crm", "no_account_id", "no_token"],
)
def test_single_account_missing_values_named(values, message):
    with pytest.raises(SettingsError, match=message):
        make_settings(**values).accounts(environ={})


def write_accounts(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.toml"
    path.write_text(text, encoding="utf-8")
    return path


ACCOUNTS = """
[[accounts]]
crm = "hubspot"
id = "111"
name = "Austin"
model = "models/austin.toml"
token_env = "HS_AUSTIN"
[accounts.pipeline]
pipeline_id = "default"
hot = "appointmentscheduled"

[[accounts]]
crm = "gohighlevel"
id = "loc-2"
token_env = "GHL_DALLAS"
[accounts.options]
refresh_token_env = "GHL_DALLAS_REFRESH"
"""


def test_accounts_file_resolves_secrets_and_paths(tmp_path):
    path = write_accounts(tmp_path, ACCOUNTS)
    environ = {"HS_AUSTIN": "pat-a", "GHL_DALLAS": "pit-d", "GHL_DALLAS_REFRESH": "r-1"}

    austin, dallas = make_settings(accounts_file=path).accounts(environ=environ)

    assert austin.token.get_secret_value() == "pat-a"
    assert austin.model == tmp_path / "models" / "austin.toml"
    assert austin.pipeline.hot == "appointmentscheduled"
    assert dallas.options["refresh_token"].get_secret_value() == "r-1"
    assert dallas.key == "gohighlevel:loc-2"


def test_accounts_file_missing_variable_named(tmp_path):
    path = write_accounts(tmp_path, ACCOUNTS)

    with pytest.raises(SettingsError, match="GHL_DALLAS is not set") as error:
        make_settings(accounts_file=path).accounts(environ={"HS_AUSTIN": "x"})

    assert str(path) in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[accounts]]\ncrm = "hubspot"\nid = "1"\ntoken = "pat-secret"\n', "remove `token`"),
        ('[[accounts]]\ncrm = "salesforce"\nid = "1"\ntoken_env = "X"\n', "crm"),
        ("accounts = [", "not valid TOML"),
        ("title = 'x'\n", "no \\[\\[accounts\\]\\]"),
        (
            '[[accounts]]\ncrm = "hubspot"\nid = "1"\ntoken_env = "X"\n' * 2,
            "listed twice",
        ),
    ],
    ids=["inline_token", "unknown_crm", "bad_toml", "no_accounts", "duplicate"],
)
def test_accounts_file_errors_name_the_problem(tmp_path, text, message):
    path = write_accounts(tmp_path, text)

    with pytest.raises(SettingsError, match=message):
        make_settings(accounts_file=path).accounts(environ={"X": "t"})


def test_account_selection_by_name_or_key(tmp_path):
    path = write_accounts(tmp_path, ACCOUNTS)
    environ = {"HS_AUSTIN": "a", "GHL_DALLAS": "d", "GHL_DALLAS_REFRESH": "r"}
    settings = make_settings(accounts_file=path)

    assert settings.account("Austin", environ).key == "hubspot:111"
    assert settings.account("gohighlevel:loc-2", environ).id == "loc-2"
    with pytest.raises(SettingsError, match="choose one with --account"):
        settings.account(None, environ)
    with pytest.raises(SettingsError, match="not found"):
        settings.account("Houston", environ)


def test_token_hidden_in_repr():
    settings = make_settings(crm="hubspot", account_id="1", hubspot_token="pat-na1-secret")

    assert "pat-na1-secret" not in repr(settings)
    assert "pat-na1-secret" not in repr(settings.accounts(environ={}))

"""Settings from variables and from a TOML accounts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.settings import AccountNotFoundError, NoAccountError, Settings, SettingsError


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
        (
            '[[accounts]]\ncrm = "salesforce"\nid = "1"\ntoken_env = "X"\n',
            "account #1 is invalid: crm='salesforce': expected 'hubspot' or 'gohighlevel'",
        ),
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


def test_chosen_account_ignores_other_secrets(tmp_path):
    path = write_accounts(tmp_path, ACCOUNTS)
    settings = make_settings(accounts_file=path)

    austin = settings.account("Austin", {"HS_AUSTIN": "pat-a"})

    assert austin.token.get_secret_value() == "pat-a"
    with pytest.raises(SettingsError, match="GHL_DALLAS is not set"):
        settings.account("loc-2", {"HS_AUSTIN": "pat-a"})


@pytest.mark.parametrize(
    ("values", "error_class", "fix"),
    [
        ({}, NoAccountError, "LEADSCORE_ACCOUNTS_FILE"),
        (
            {"crm": "hubspot", "account_id": "1", "hubspot_token": "x"},
            AccountNotFoundError,
            "--account",
        ),
    ],
    ids=["no_account", "unknown_account"],
)
def test_account_errors_carry_their_fix(values, error_class, fix):
    with pytest.raises(error_class) as caught:
        make_settings(**values).account("Houston", {})

    assert fix in caught.value.fix


def test_token_hidden_in_repr():
    settings = make_settings(crm="hubspot", account_id="1", hubspot_token="pat-na1-secret")

    assert "pat-na1-secret" not in repr(settings)
    assert "pat-na1-secret" not in repr(settings.accounts(environ={}))


# -- load_settings: readable validation errors ---------------------------------


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """An empty working directory, so no `.env` is read unless a test writes one."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("variable", "value", "expected_line"),
    [
        (
            "LEADSCORE_CRM",
            "hubspott",
            "LEADSCORE_CRM='hubspott' (from the environment) is invalid: "
            "expected 'hubspot' or 'gohighlevel'",
        ),
        (
            "LEADSCORE_SYNC_INTERVAL_SECONDS",
            "2",
            "LEADSCORE_SYNC_INTERVAL_SECONDS='2' (from the environment) is invalid: "
            "expected greater than or equal to 5",
        ),
        (
            "LEADSCORE_ALERT_THRESHOLD",
            "abc",
            "LEADSCORE_ALERT_THRESHOLD='abc' (from the environment) is invalid: "
            "expected a valid integer",
        ),
        (
            "LEADSCORE_WEBHOOK_GENERIC_TOKENS",
            "not-json-s3cret",
            "LEADSCORE_WEBHOOK_GENERIC_TOKENS (from the environment) is invalid: "
            "expected a JSON value",
        ),
    ],
    ids=["crm_literal", "interval_minimum", "alert_threshold", "webhook_tokens_json"],
)
def test_load_settings_names_variable(workdir, monkeypatch, variable, value, expected_line):
    from jobs.settings import load_settings

    monkeypatch.setenv(variable, value)

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert expected_line in message
    assert "pydantic" not in message
    assert "validation error" not in message


def test_load_settings_lists_every_problem(workdir, monkeypatch):
    from jobs.settings import load_settings

    monkeypatch.setenv("LEADSCORE_CRM", "hubspott")
    monkeypatch.setenv("LEADSCORE_SYNC_INTERVAL_SECONDS", "soon")
    monkeypatch.setenv("LEADSCORE_ALERT_THRESHOLD", "abc")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid settings:"
    assert len(lines) == 4
    assert any("LEADSCORE_CRM=" in line for line in lines)
    assert any("LEADSCORE_SYNC_INTERVAL_SECONDS=" in line for line in lines)
    assert any("LEADSCORE_ALERT_THRESHOLD=" in line for line in lines)


def test_load_settings_names_dotenv_path(workdir):
    from jobs.settings import load_settings

    (workdir / ".env").write_text("LEADSCORE_CRM=salesforce\n", encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    assert f"LEADSCORE_CRM='salesforce' (from {workdir / '.env'})" in str(caught.value)


def test_load_settings_hides_secret_value(workdir, monkeypatch):
    from jobs.settings import load_settings

    monkeypatch.setenv("LEADSCORE_WEBHOOK_HUBSPOT_CLIENT_SECRET", "s3cret-value")
    monkeypatch.setenv("LEADSCORE_WEBHOOK_GENERIC_TOKENS", "{not json s3cret-value")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert "LEADSCORE_WEBHOOK_" in message
    assert "s3cret-value" not in message


def test_load_settings_warns_once_per_bad_dotenv_line(workdir, capfd):
    from jobs.settings import load_settings

    (workdir / ".env").write_text(
        "LEADSCORE_LOG_LEVEL=warning\nthis line is not an assignment\n", encoding="utf-8"
    )
    warnings: list[str] = []

    settings = load_settings(warn=warnings.append)

    assert settings.log_level == "WARNING"
    assert warnings == [
        f"{workdir / '.env'}, line 2: not a NAME=value statement; the line is ignored"
    ]
    assert "could not parse" not in capfd.readouterr().err


def test_load_settings_rejects_non_utf8_dotenv(workdir):
    from jobs.settings import load_settings

    (workdir / ".env").write_bytes(b"LEADSCORE_CRM=hub\xffspot\n")

    with pytest.raises(SettingsError) as caught:
        load_settings()

    message = str(caught.value)
    assert str(workdir / ".env") in message
    assert "not UTF-8 text (byte 0xff at offset 17)" in message

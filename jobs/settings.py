"""Settings of the worker, from `LEADSCORE_*` environment variables and `.env`.

One deployment serves one CRM account from plain variables
(`LEADSCORE_CRM=hubspot`, `LEADSCORE_HUBSPOT_TOKEN`, …) or several accounts
listed in a TOML accounts file (`LEADSCORE_ACCOUNTS_FILE`). The accounts file
names the environment variable of each secret (`token_env = "HUBSPOT_TOKEN_SPA2"`)
so no secret is ever written into it:

    [[accounts]]
    crm = "hubspot"
    id = "20240611"
    name = "Glow Med Spa Austin"
    model = "models/austin.toml"
    token_env = "HUBSPOT_TOKEN_AUSTIN"

    [accounts.pipeline]
    pipeline_id = "default"
    hot = "appointmentscheduled"
    warm = "qualifiedtobuy"
    cold = "presentationscheduled"

    [accounts.options]               # passed to the connector's config class
    write_batch_size = 100
    refresh_token_env = "GHL_REFRESH_SPA2"   # `*_env` keys are read from the environment

Nothing reads the environment at import time: build `Settings()` when a
command starts, or pass values as keyword arguments in tests.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Literal

import pydantic_settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

CrmName = Literal["hubspot", "gohighlevel"]

HUBSPOT_BASE_URL = "https://api.hubapi.com"
GOHIGHLEVEL_BASE_URL = "https://services.leadconnectorhq.com"
DEFAULT_BASE_URLS: dict[str, str] = {
    "hubspot": HUBSPOT_BASE_URL,
    "gohighlevel": GOHIGHLEVEL_BASE_URL,
}

# Option keys ending in this suffix name an environment variable holding the value.
SECRET_ENV_SUFFIX = "_env"


class SettingsError(ValueError):
    """Settings or the accounts file are invalid; the message names the value and the fix."""

    # A fix line for doctor, when it differs from the generic one.
    fix: str | None = None


class NoAccountError(SettingsError):
    """Neither the single-account variables nor an accounts file are set."""

    fix = "set LEADSCORE_CRM and LEADSCORE_ACCOUNT_ID (and the token), or LEADSCORE_ACCOUNTS_FILE"


class AccountNotFoundError(SettingsError):
    """No enabled account matches the key, id or name given with --account."""

    fix = "pass one of the listed account keys to --account"


def _alert_settings() -> Any:
    # The alerts package may be absent from a trimmed install; then alerts are off.
    try:
        from jobs.alerts.settings import AlertSettings
    except ModuleNotFoundError:
        return None
    return AlertSettings()


def _webhook_settings() -> Any:
    try:
        from jobs.webhooks.settings import WebhookSettings
    except ModuleNotFoundError:
        return None
    return WebhookSettings()


class PipelineSettings(BaseModel):
    """Pipeline the worker moves leads in, and the stage id of each tier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline_id: str | None = Field(default=None, description="CRM pipeline id; empty: no moves.")
    hot: str | None = Field(default=None, description="Stage id for hot leads.")
    warm: str | None = Field(default=None, description="Stage id for warm leads.")
    cold: str | None = Field(default=None, description="Stage id for cold leads.")
    disqualified: str | None = Field(
        default=None,
        description="Stage id for disqualified leads; empty moves them to the cold stage.",
    )

    def stage_for(self, tier: str) -> str | None:
        return getattr(self, tier, None)


class AccountSettings(BaseModel):
    """One CRM account the worker keeps in sync, with its secret already resolved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    crm: CrmName = Field(description="Which CRM: hubspot or gohighlevel.")
    id: str = Field(min_length=1, description="HubSpot portal id or GoHighLevel location id.")
    name: str | None = Field(default=None, description="A label for logs and alerts.")
    model: Path | None = Field(
        default=None, description="Scoring model TOML file; empty uses the built-in model."
    )
    token: SecretStr | None = Field(
        default=None, description="Private app or private integration token."
    )
    token_env: str | None = Field(
        default=None,
        description="Name of the environment variable that contains the token (accounts file).",
    )
    base_url: str | None = Field(default=None, description="CRM API base URL override.")
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra connector settings, passed to its config class."
    )
    enabled: bool = Field(default=True, description="False skips the account in every job.")
    # Set by the accounts file reader, so errors found later can name the file.
    _source: str | None = PrivateAttr(default=None)

    @property
    def key(self) -> str:
        """Return the account key the store uses: `"<crm>:<id>"`."""
        return f"{self.crm}:{self.id}"

    @property
    def label(self) -> str:
        return self.name or self.key

    @property
    def from_accounts_file(self) -> bool:
        return self._source is not None

    @property
    def where(self) -> str:
        """Location for error messages: the accounts file and account key, or the key alone."""
        return self._source or f"account {self.key}"

    @property
    def api_base_url(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.crm]).rstrip("/")


class Settings(BaseSettings):
    """Every setting of the worker; see `.env.example` for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
    )

    # -- the account(s) ------------------------------------------------------
    crm: CrmName | None = Field(
        default=None,
        description="CRM of the single account configured from variables: hubspot or gohighlevel.",
    )
    account_id: str | None = Field(
        default=None,
        description="HubSpot portal id or GoHighLevel location id of the single account.",
    )
    account_name: str | None = Field(
        default=None, description="A label for the single account in logs and alerts."
    )
    hubspot_token: SecretStr | None = Field(
        default=None, description="HubSpot private app access token (pat-...)."
    )
    ghl_token: SecretStr | None = Field(
        default=None, description="GoHighLevel private integration token (pit-...)."
    )
    crm_base_url: str | None = Field(
        default=None,
        description=(
            "CRM API base URL; empty uses https://api.hubapi.com for HubSpot and "
            "https://services.leadconnectorhq.com for GoHighLevel."
        ),
    )
    model_file: Path | None = Field(
        default=None, description="Scoring model TOML file; empty uses the built-in model."
    )
    pipeline_id: str | None = Field(
        default=None, description="Pipeline to move leads in; empty disables stage moves."
    )
    hot_stage: str | None = Field(default=None, description="Pipeline stage id for hot leads.")
    warm_stage: str | None = Field(default=None, description="Pipeline stage id for warm leads.")
    cold_stage: str | None = Field(default=None, description="Pipeline stage id for cold leads.")
    disqualified_stage: str | None = Field(
        default=None,
        description="Pipeline stage id for disqualified leads; empty uses the cold stage.",
    )
    accounts_file: Path | None = Field(
        default=None,
        description="TOML file listing several accounts; when set, the single-account "
        "variables above are ignored.",
    )

    # -- state store -----------------------------------------------------------
    database_url: str = Field(
        default="sqlite:///leadscore.db",
        description=(
            "SQLAlchemy URL of the state store: sqlite:///path/to/file.db (created with mode "
            "0600) or postgresql://user:password@host/dbname."
        ),
    )

    # -- schedule -------------------------------------------------------------
    sync_interval_seconds: int = Field(
        default=60, ge=5, description="Seconds between incremental sync cycles."
    )
    rescore_time: time = Field(
        default=time(3, 0),
        description="UTC time of day (HH:MM) of the nightly rescore of every stored lead.",
    )
    outbox_interval_seconds: int = Field(
        default=30, ge=1, description="Seconds between alert outbox deliveries."
    )
    outcomes_interval_seconds: int = Field(
        default=3600, ge=60, description="Seconds between pulls of booking outcomes."
    )
    webhook_drain_interval_seconds: int = Field(
        default=5, ge=1, description="Seconds between runs that score contacts queued by webhooks."
    )
    misfire_grace_seconds: int = Field(
        default=30,
        ge=1,
        description="A scheduled run later than this many seconds (busy or asleep) is skipped.",
    )
    write_batch_size: int = Field(
        default=100, ge=1, le=100, description="Score writes per CRM batch call (100 at most)."
    )
    rate_limit_pause_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "A rate-limit wait longer than this pauses the account until the CRM's "
            "Retry-After time instead of failing cycle after cycle."
        ),
    )

    # -- health and logging ---------------------------------------------------
    heartbeat_file: Path = Field(
        default=Path("leadscore.heartbeat"),
        description="File touched after each successful sync cycle; `leadscore health` reads it.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        default=None,
        description="Lowest level that is logged; empty: INFO for `run` and `backfill`, "
        "WARNING for the other commands, which print their own summary.",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="auto: JSON lines when stderr is not a terminal, readable text otherwise.",
    )

    # -- other packages' settings ---------------------------------------------
    alerts: Any = Field(
        default_factory=_alert_settings,
        description="Hot-lead alert settings (LEADSCORE_ALERT_* variables).",
    )
    webhooks: Any = Field(
        default_factory=_webhook_settings,
        description="Webhook receiver settings (LEADSCORE_WEBHOOK_* variables).",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def accounts(self, environ: Mapping[str, str] | None = None) -> list[AccountSettings]:
        """Return the configured accounts with their secrets resolved.

        `environ` defaults to `os.environ` and is read only for the `*_env`
        names of the accounts file. Raises `SettingsError` naming the file,
        account and variable when something is missing or invalid.
        """
        environ = os.environ if environ is None else environ
        if self.accounts_file is not None:
            return load_accounts_file(self.accounts_file, environ)
        return [self._single_account()]

    def account(
        self, name: str | None, environ: Mapping[str, str] | None = None
    ) -> AccountSettings:
        """Return one account by key (`hubspot:123`), id or name; `None` needs exactly one.

        With an accounts file only the chosen account's secrets are read, so
        another account's unset variable does not stop this one.
        """
        environ = os.environ if environ is None else environ
        if self.accounts_file is not None:
            entries = read_accounts_file(self.accounts_file)
        else:
            entries = [AccountEntry(account=self._single_account(), where="")]
        enabled = [entry for entry in entries if entry.account.enabled]
        chosen = _choose_account(enabled, name)
        if self.accounts_file is None:
            return chosen.account
        return resolve_account_secrets(chosen, environ)

    def _single_account(self) -> AccountSettings:
        if self.crm is None:
            raise NoAccountError(
                "no CRM account configured: set LEADSCORE_CRM (hubspot or gohighlevel), "
                "LEADSCORE_ACCOUNT_ID and the token, or LEADSCORE_ACCOUNTS_FILE"
            )
        if not self.account_id:
            what = "HubSpot portal id" if self.crm == "hubspot" else "GoHighLevel location id"
            raise SettingsError(f"LEADSCORE_ACCOUNT_ID is missing: set it to the {what}")
        token = self.hubspot_token if self.crm == "hubspot" else self.ghl_token
        if token is None or not token.get_secret_value():
            variable = "LEADSCORE_HUBSPOT_TOKEN" if self.crm == "hubspot" else "LEADSCORE_GHL_TOKEN"
            raise SettingsError(f"{variable} is missing: set it to the account's API token")
        return AccountSettings(
            crm=self.crm,
            id=self.account_id,
            name=self.account_name,
            model=self.model_file,
            token=token,
            base_url=self.crm_base_url,
            pipeline=PipelineSettings(
                pipeline_id=self.pipeline_id,
                hot=self.hot_stage,
                warm=self.warm_stage,
                cold=self.cold_stage,
                disqualified=self.disqualified_stage,
            ),
            options={"write_batch_size": self.write_batch_size},
        )


@dataclass(frozen=True, slots=True)
class AccountEntry:
    """An account read from the accounts file, before its secrets are resolved."""

    account: AccountSettings
    where: str


def _choose_account(entries: list[AccountEntry], name: str | None) -> AccountEntry:
    if name is None:
        if len(entries) == 1:
            return entries[0]
        keys = ", ".join(entry.account.key for entry in entries)
        raise SettingsError(
            f"{len(entries)} accounts are configured ({keys}); choose one with --account"
        )
    for entry in entries:
        account = entry.account
        if name in (account.key, account.id, account.name):
            return entry
    keys = ", ".join(entry.account.key for entry in entries) or "none"
    raise AccountNotFoundError(f"account {name!r} not found; configured accounts: {keys}")


def load_accounts_file(path: Path, environ: Mapping[str, str]) -> list[AccountSettings]:
    """Read the TOML accounts file and resolve every account's secrets."""
    return [resolve_account_secrets(entry, environ) for entry in read_accounts_file(path)]


def read_accounts_file(path: Path) -> list[AccountEntry]:
    """Read and validate the TOML accounts file; relative model paths are relative to it."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(
            f"accounts file {path} not found: fix LEADSCORE_ACCOUNTS_FILE or create the file"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"accounts file {path} is not valid TOML: {exc}") from exc

    entries = data.get("accounts")
    if not isinstance(entries, list) or not entries:
        raise SettingsError(f"accounts file {path} has no [[accounts]] entries")

    accounts: list[AccountEntry] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        where = f"accounts file {path}, account #{position}"
        if not isinstance(entry, dict):
            raise SettingsError(f"{where} is not a table")
        if "token" in entry:
            raise SettingsError(
                f"{where}: remove `token` from the file and set `token_env` to the name of an "
                "environment variable that holds it"
            )
        try:
            account = AccountSettings.model_validate(entry)
        except ValidationError as exc:
            raise SettingsError(f"{where} is invalid: {validation_summary(exc)}") from exc
        where = f"accounts file {path}, account {account.key}"
        if account.key in seen:
            raise SettingsError(f"{where} is listed twice")
        seen.add(account.key)

        model = account.model
        if model is not None and not model.is_absolute():
            model = path.parent / model
        account = account.model_copy(update={"model": model})
        account._source = where
        accounts.append(AccountEntry(account=account, where=where))
    return accounts


def resolve_account_secrets(entry: AccountEntry, environ: Mapping[str, str]) -> AccountSettings:
    """Read the token and `*_env` options of one accounts-file account from `environ`."""
    account = entry.account
    where = entry.where
    token: SecretStr | None = None
    if account.token_env:
        value = environ.get(account.token_env)
        if not value:
            raise SettingsError(
                f"{where}: environment variable {account.token_env} is not set or empty"
            )
        token = SecretStr(value)
    elif "oauth_client_id" not in account.options:
        raise SettingsError(
            f"{where}: `token_env` is missing: set it to the name of the environment "
            "variable that holds the token (or configure OAuth in [accounts.options])"
        )
    options = _resolve_secret_options(account.options, environ, where)
    return account.model_copy(update={"token": token, "options": options})


def _resolve_secret_options(
    options: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in options.items():
        if key.endswith(SECRET_ENV_SUFFIX) and isinstance(value, str):
            name = key.removesuffix(SECRET_ENV_SUFFIX)
            secret = environ.get(value)
            if not secret:
                raise SettingsError(
                    f"{where}: option {key} names environment variable {value}, "
                    "which is not set or empty"
                )
            resolved[name] = SecretStr(secret)
        else:
            resolved[key] = value
    return resolved


def validation_summary(exc: ValidationError) -> str:
    """Return each error as `key='value': expected ...`, joined by semicolons."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(item) for item in error["loc"]) or "(entry)"
        value = error.get("input")
        shown = location
        secret = any(part in location.lower() for part in _SECRET_NAME_PARTS)
        hide_value = secret or error["type"] in ("missing", "extra_forbidden")
        if not hide_value and not isinstance(value, dict):
            shown = f"{location}={value!r}"
        parts.append(f"{shown}: {_expected(error['msg'])}")
    return "; ".join(parts)


# -- loading with readable errors ----------------------------------------------

DOTENV_PATH = Path(".env")
_SECRET_NAME_PARTS = ("token", "secret", "password")


def load_settings(warn: Callable[[str], None] | None = None) -> Settings:
    """Build `Settings()` from the environment and `.env`, with errors a user can act on.

    Raises `SettingsError` with one line per invalid value: the environment
    variable, the value (unless it is a secret), what is expected, and whether
    it came from the environment or the `.env` file. Alert and webhook
    settings are checked too. Lines of `.env` that python-dotenv cannot parse
    are passed to `warn` once each, with the file's path, because python-dotenv
    ignores them.
    """
    for line in unparsable_dotenv_lines(DOTENV_PATH):
        if warn is not None:
            warn(
                f"{DOTENV_PATH.resolve()}, line {line}: not a NAME=value statement; "
                "the line is ignored"
            )

    problems: list[str] = []
    with quiet_dotenv():
        alerts = _load_part(_settings_class("jobs.alerts.settings", "AlertSettings"), problems)
        webhooks = _load_part(
            _settings_class("jobs.webhooks.settings", "WebhookSettings"), problems
        )
        try:
            settings = Settings(alerts=alerts, webhooks=webhooks)
        except ValidationError as exc:
            problems[:0] = describe_validation_error(exc, Settings)
            settings = None
        except pydantic_settings.SettingsError as exc:
            problems.insert(0, describe_parse_error(exc, Settings))
            settings = None
    if problems or settings is None:
        raise SettingsError("invalid settings:\n" + "\n".join(f"  {p}" for p in problems))
    return settings


def unparsable_dotenv_lines(path: Path) -> list[int]:
    """Return the numbers of the lines in a `.env` file that python-dotenv cannot parse.

    Raises `SettingsError` naming the file when it exists but is not UTF-8 text.
    """
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return []
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"{path.resolve()} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}): save it as UTF-8"
        ) from exc
    return [binding.original.line for binding in parse_stream(io.StringIO(text)) if binding.error]


def describe_validation_error(exc: ValidationError, model: type[BaseSettings]) -> list[str]:
    """Return one line per error: variable, value unless secret, expectation and source."""
    prefix = str(model.model_config.get("env_prefix") or "")
    dotenv = _dotenv_values(model)
    lines = []
    for error in exc.errors():
        location = error["loc"]
        expected = _expected(error["msg"])
        if not location:
            lines.append(f"{prefix.rstrip('_')}_* settings are invalid: {expected}")
            continue
        field_name = str(location[0])
        variable = (prefix + field_name).upper()
        source = _value_source(variable, dotenv)
        if _is_secret(model, field_name):
            shown = f"{variable} (a secret, {source})"
        elif source == "not set":
            shown = f"{variable} (not set)"
        else:
            shown = f"{variable}={error.get('input')!r} ({source})"
        lines.append(f"{shown} is invalid: {expected}")
    return lines


def _load_part(settings_class: type[BaseSettings] | None, problems: list[str]) -> Any:
    if settings_class is None:
        return None
    try:
        return settings_class()
    except ValidationError as exc:
        problems.extend(describe_validation_error(exc, settings_class))
    except pydantic_settings.SettingsError as exc:
        problems.append(describe_parse_error(exc, settings_class))
    return None


def describe_parse_error(exc: pydantic_settings.SettingsError, model: type[BaseSettings]) -> str:
    """Describe a list or dict variable that is not valid JSON, without its value."""
    match = re.search(r'field "(\w+)" from source "(\w+)"', str(exc))
    if match is None:
        return str(exc)
    field_name, source_class = match.groups()
    variable = (str(model.model_config.get("env_prefix") or "") + field_name).upper()
    source = (
        f"from {DOTENV_PATH.resolve()}"
        if source_class.startswith("DotEnv")
        else "from the environment"
    )
    return f"{variable} ({source}) is invalid: expected a JSON value ({exc.__cause__})"


def _settings_class(module_name: str, class_name: str) -> type[BaseSettings] | None:
    # The alerts and webhooks packages may be absent from a trimmed install.
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    return getattr(module, class_name)


@contextmanager
def quiet_dotenv() -> Iterator[None]:
    """Hide python-dotenv's parse warnings, which name no file and repeat once per class."""
    dotenv_logger = logging.getLogger("dotenv.main")
    previous = dotenv_logger.disabled
    dotenv_logger.disabled = True
    try:
        yield
    finally:
        dotenv_logger.disabled = previous


def _dotenv_values(model: type[BaseSettings]) -> dict[str, str]:
    from dotenv import dotenv_values

    env_file = model.model_config.get("env_file")
    if not isinstance(env_file, str | Path) or not Path(env_file).is_file():
        return {}
    with quiet_dotenv():
        values = dotenv_values(env_file, encoding="utf-8")
    return {key.upper(): value for key, value in values.items() if value is not None}


def _value_source(variable: str, dotenv: Mapping[str, str]) -> str:
    # pydantic-settings matches variable names case-insensitively, and the
    # environment wins over the `.env` file.
    if any(name.upper() == variable and value for name, value in os.environ.items()):
        return "from the environment"
    if variable in dotenv:
        return f"from {DOTENV_PATH.resolve()}"
    return "not set"


def _is_secret(model: type[BaseSettings], field_name: str) -> bool:
    field = model.model_fields.get(field_name)
    annotation = repr(field.annotation) if field is not None else ""
    lowered = field_name.lower()
    return "SecretStr" in annotation or any(part in lowered for part in _SECRET_NAME_PARTS)


def _expected(message: str) -> str:
    """Turn pydantic's "Input should be X" into "expected X"."""
    for prefix in ("Input should be ", "Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            rest = message.removeprefix(prefix)
            return f"expected {rest}" if prefix == "Input should be " else rest
    return message

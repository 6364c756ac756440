"""Build each account's connector, model and sync context from the settings."""

from __future__ import annotations

import difflib
import functools
import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from connectors.base import CrmConnector
from jobs.settings import AccountSettings, Settings, SettingsError, validation_summary
from jobs.store import Store
from jobs.sync import SyncContext
from scoring.lead import Lead
from scoring.result import ScoreResult, Tier

# Account options the worker uses itself; every other option goes to the connector's config.
WORKER_OPTIONS = frozenset({"write_batch_size"})

# Connector class of each CRM, as "module:attribute", imported when first needed.
CONNECTOR_CLASSES: dict[str, str] = {
    "hubspot": "connectors.hubspot:HubSpotConnector",
    "gohighlevel": "connectors.gohighlevel:GoHighLevelConnector",
}

ConnectorFactory = Callable[[AccountSettings, Any], CrmConnector]


def open_store(settings: Settings) -> Store:
    return Store.open(settings.database_url)


def load_account_model(account: AccountSettings) -> Any:
    """Load the account's model file, or the built-in model when none is set."""
    from jobs.modelfile import load_model

    return load_model(account.model)


def _stage_ids(account: AccountSettings) -> dict[Tier, str]:
    pipeline = account.pipeline
    stages = {
        Tier.HOT: pipeline.hot,
        Tier.WARM: pipeline.warm,
        Tier.COLD: pipeline.cold,
        # A disqualified lead (do not contact, unsubscribed, spam) must not stay in
        # the hot column, so it goes to the cold stage unless it has its own.
        Tier.DISQUALIFIED: pipeline.disqualified or pipeline.cold,
    }
    return {tier: stage for tier, stage in stages.items() if stage}


def connector_config(account: AccountSettings) -> Any:
    """Return the connector config (`HubSpotConfig` or `GoHighLevelConfig`) of the account."""
    options = {k: v for k, v in account.options.items() if k not in WORKER_OPTIONS}
    stage_ids = _stage_ids(account)
    if account.crm == "hubspot":
        from connectors.hubspot.config import HubSpotConfig, PipelineMode

        config_class: Any = HubSpotConfig
        values: dict[str, Any] = {
            "portal_id": account.id,
            "token": account.token,
            "base_url": account.api_base_url,
        }
        if account.pipeline.pipeline_id:
            values.update(
                pipeline_mode=PipelineMode.DEAL,
                deal_pipeline_id=account.pipeline.pipeline_id,
                deal_stage_ids=stage_ids,
            )
    else:
        from connectors.gohighlevel.config import GoHighLevelConfig

        config_class = GoHighLevelConfig
        values = {
            "location_id": account.id,
            "token": account.token,
            "base_url": account.api_base_url,
        }
        if account.pipeline.pipeline_id:
            values.update(pipeline_id=account.pipeline.pipeline_id, stage_ids=stage_ids)
    try:
        return config_class(**{**values, **options})
    except ValidationError as exc:
        raise _invalid_options_error(account, config_class, exc) from exc


def _invalid_options_error(
    account: AccountSettings, config_class: Any, exc: ValidationError
) -> SettingsError:
    """Build the error for invalid connector options, suggesting close names for unknown keys."""
    error = SettingsError(f"{account.where}: invalid connector settings: {validation_summary(exc)}")
    valid_names = [*config_class.model_fields, *WORKER_OPTIONS]
    suggestions = []
    for problem in exc.errors():
        if problem["type"] != "extra_forbidden" or not problem["loc"]:
            continue
        unknown = str(problem["loc"][0])
        close = difflib.get_close_matches(unknown, valid_names, n=1)
        if close:
            suggestions.append(f"rename {unknown} to {close[0]}")
        else:
            suggestions.append(f"remove {unknown}")
    if account.from_accounts_file:
        where = f"[accounts.options] of account {account.key}"
    else:
        where = "the LEADSCORE_ variables"
    if suggestions:
        error.fix = f"{'; '.join(suggestions)} in {where}"
    else:
        error.fix = f"fix the values named above in {where}"
    return error


def build_connector(account: AccountSettings, model: Any) -> CrmConnector:
    """Build the account's connector with the model's field mapping."""
    module_name, _, class_name = CONNECTOR_CLASSES[account.crm].partition(":")
    connector_class = getattr(importlib.import_module(module_name), class_name)
    return connector_class(connector_config(account), mapping=model.mapping)


def model_scorer(model: Any) -> Callable[[Lead, datetime], ScoreResult]:
    from scoring.engine import score

    def score_lead(lead: Lead, now: datetime) -> ScoreResult:
        return score(lead, model, now)

    return score_lead


def alert_recorder(settings: Settings) -> Any:
    """Return `record_score_change` bound to the alert settings, or None when alerts are off."""
    alerts = settings.alerts
    if alerts is None or not alerts.enabled:
        return None
    from jobs.alerts import record_score_change

    return functools.partial(record_score_change, settings=alerts)


@dataclass
class Runtime:
    """The store and one sync context per enabled account, shared by every job."""

    settings: Settings
    store: Store
    contexts: list[SyncContext]
    stop: threading.Event = field(default_factory=threading.Event)

    def context(self, account_key: str) -> SyncContext | None:
        return next((ctx for ctx in self.contexts if ctx.account == account_key), None)

    @property
    def connectors(self) -> dict[str, CrmConnector]:
        return {ctx.account: ctx.connector for ctx in self.contexts}

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.connector.close()
        self.store.close()


def build_context(
    settings: Settings,
    account: AccountSettings,
    store: Store,
    *,
    connector_factory: ConnectorFactory | None = None,
    stop: threading.Event | None = None,
) -> SyncContext:
    model = load_account_model(account)
    factory = connector_factory or build_connector
    connector = factory(account, model)
    batch_size = int(account.options.get("write_batch_size", settings.write_batch_size))
    return SyncContext(
        account=account.key,
        crm=account.crm,
        connector=connector,
        store=store,
        score=model_scorer(model),
        model=model,
        label=account.label,
        write_batch_size=batch_size,
        rate_limit_pause_seconds=settings.rate_limit_pause_seconds,
        record_alert=alert_recorder(settings),
        stop=stop or threading.Event(),
    )


def build_runtime(
    settings: Settings,
    *,
    account_name: str | None = None,
    connector_factory: ConnectorFactory | None = None,
    store: Store | None = None,
    environ: Mapping[str, str] | None = None,
) -> Runtime:
    """Open the store and build a context for one account (`account_name`) or all of them.

    `environ` (default `os.environ`) supplies the secrets the accounts file names.
    """
    if account_name is not None:
        accounts = [settings.account(account_name, environ)]
    else:
        accounts = [account for account in settings.accounts(environ) if account.enabled]
    store = store or open_store(settings)
    stop = threading.Event()
    contexts = [
        build_context(settings, account, store, connector_factory=connector_factory, stop=stop)
        for account in accounts
    ]
    return Runtime(settings=settings, store=store, contexts=contexts, stop=stop)

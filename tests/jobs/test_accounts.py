"""Building each CRM's connector config and the runtime from settings."""

from __future__ import annotations

import pytest

from connectors.gohighlevel import GoHighLevelConnector
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.config import PipelineMode
from jobs.accounts import build_connector, build_runtime, connector_config
from jobs.modelfile import load_model
from jobs.settings import AccountSettings, PipelineSettings, Settings, SettingsError
from scoring.result import Tier


def hubspot_account(**values) -> AccountSettings:
    return AccountSettings(crm="hubspot", id="62515", token="pat-na1-x", **values)


def ghl_account(**values) -> AccountSettings:
    return AccountSettings(crm="gohighlevel", id="loc1", token="pit-x", **values)


def test_hubspot_config_from_account():
    account = hubspot_account(
        base_url="http://127.0.0.1:9/",
        pipeline=PipelineSettings(pipeline_id="default", hot="s-hot", cold="s-cold"),
        options={"write_batch_size": 50, "overlap_seconds": 60},
    )

    config = connector_config(account)

    assert config.portal_id == "62515"
    assert config.base_url == "http://127.0.0.1:9"
    assert config.pipeline_mode is PipelineMode.DEAL
    assert config.deal_stage_ids == {
        Tier.HOT: "s-hot",
        Tier.COLD: "s-cold",
        Tier.DISQUALIFIED: "s-cold",
    }
    assert config.overlap_seconds == 60
    assert config.token.get_secret_value() == "pat-na1-x"


def test_disqualified_leads_leave_hot_stage():
    account = ghl_account(
        pipeline=PipelineSettings(pipeline_id="pl1", hot="st-hot", cold="st-cold")
    )

    config = connector_config(account)

    assert config.stage_ids[Tier.DISQUALIFIED] == "st-cold"


def test_disqualified_stage_of_its_own():
    account = hubspot_account(
        pipeline=PipelineSettings(
            pipeline_id="default", hot="s-hot", cold="s-cold", disqualified="s-dq"
        )
    )

    config = connector_config(account)

    assert config.deal_stage_ids[Tier.DISQUALIFIED] == "s-dq"


def test_single_account_disqualified_stage_variable(monkeypatch):
    monkeypatch.setenv("LEADSCORE_DISQUALIFIED_STAGE", "s-dq")

    settings = Settings(
        _env_file=None,
        crm="hubspot",
        account_id="62515",
        hubspot_token="pat-na1-x",
        pipeline_id="default",
        cold_stage="s-cold",
    )

    account = settings.accounts()[0]
    assert account.pipeline.disqualified == "s-dq"


def test_hubspot_without_pipeline_moves_nothing():
    config = connector_config(hubspot_account())

    assert config.pipeline_mode is PipelineMode.NONE
    assert config.base_url == "https://api.hubapi.com"


def test_gohighlevel_config_from_account():
    account = ghl_account(pipeline=PipelineSettings(pipeline_id="pl1", hot="st-hot"))

    config = connector_config(account)

    assert config.location_id == "loc1"
    assert config.pipeline_id == "pl1"
    assert config.stage_ids == {Tier.HOT: "st-hot"}
    assert config.base_url == "https://services.leadconnectorhq.com"


def test_unknown_connector_option_names_account():
    account = ghl_account(options={"no_such_option": 1})

    with pytest.raises(SettingsError, match=r"gohighlevel:loc1.*no_such_option: Extra inputs"):
        connector_config(account)


def test_option_typo_suggests_valid_key(tmp_path):
    accounts_file = tmp_path / "accounts.toml"
    accounts_file.write_text(
        '[[accounts]]\ncrm = "gohighlevel"\nid = "loc1"\ntoken_env = "B"\n'
        "[accounts.options]\nalert_tsk = true\nzzz_unknown = 1\n",
        encoding="utf-8",
    )
    settings = Settings(_env_file=None, accounts_file=accounts_file)
    account = settings.account("loc1", {"B": "pit-b"})

    with pytest.raises(SettingsError) as caught:
        connector_config(account)

    assert f"accounts file {accounts_file}, account gohighlevel:loc1" in str(caught.value)
    assert "alert_tsk: Extra inputs are not permitted" in str(caught.value)
    assert "rename alert_tsk to alert_task" in caught.value.fix
    assert "remove zzz_unknown" in caught.value.fix
    assert "[accounts.options] of account gohighlevel:loc1" in caught.value.fix


@pytest.mark.parametrize(
    ("account", "connector_class"),
    [(hubspot_account(), HubSpotConnector), (ghl_account(), GoHighLevelConnector)],
    ids=["hubspot", "gohighlevel"],
)
def test_connector_built_with_model_mapping(account, connector_class):
    model = load_model(None)

    connector = build_connector(account, model)

    assert isinstance(connector, connector_class)
    assert connector.account_id == account.id
    assert connector.mapping == model.mapping
    connector.close()


def test_runtime_has_one_context_per_account(tmp_path):
    accounts_file = tmp_path / "accounts.toml"
    accounts_file.write_text(
        '[[accounts]]\ncrm = "hubspot"\nid = "1"\ntoken_env = "A"\n'
        '[[accounts]]\ncrm = "gohighlevel"\nid = "loc2"\ntoken_env = "B"\nenabled = false\n'
        '[[accounts]]\ncrm = "gohighlevel"\nid = "loc3"\ntoken_env = "B"\n'
        "[accounts.options]\nwrite_batch_size = 20\n",
        encoding="utf-8",
    )
    settings = Settings(
        _env_file=None,
        accounts_file=accounts_file,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
    )
    monkeypatched = {"A": "pat-a", "B": "pit-b"}

    runtime = build_runtime(settings, connector_factory=None, store=None, environ=monkeypatched)

    assert [ctx.account for ctx in runtime.contexts] == ["hubspot:1", "gohighlevel:loc3"]
    assert runtime.contexts[1].write_batch_size == 20
    assert runtime.contexts[0].record_alert is not None
    runtime.close()

"""Create the worker's contact properties, and check an account for `leadscore doctor`."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from connectors.base import CheckResult, SetupReport
from connectors.checks import ProbeRunner, fail_fast
from connectors.hubspot import api
from connectors.hubspot.config import PipelineMode, ScoreProperties
from scoring.result import Tier

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotConnector

_TIER_LABELS = {
    Tier.HOT: "Hot",
    Tier.WARM: "Warm",
    Tier.COLD: "Cold",
    Tier.DISQUALIFIED: "Disqualified",
}


def property_definitions(names: ScoreProperties) -> list[dict[str, Any]]:
    """Return the PropertyCreate bodies of the worker's contact properties."""
    number = {"type": "number", "fieldType": "number"}
    return [
        {"name": names.score, "label": "Lead score (1-100)", **number},
        {"name": names.fit, "label": "Lead fit (0-100)", **number},
        {"name": names.intent, "label": "Lead intent (0-100)", **number},
        {
            "name": names.tier,
            "label": "Lead tier",
            "type": "enumeration",
            "fieldType": "select",
            "options": [
                {
                    "label": _TIER_LABELS[tier],
                    "value": tier.value,
                    "displayOrder": order,
                    "hidden": False,
                }
                for order, tier in enumerate(Tier)
            ],
        },
        {
            "name": names.reasons,
            "label": "Lead score reasons",
            "type": "string",
            "fieldType": "textarea",
        },
        {
            "name": names.scored_at,
            "label": "Lead scored at",
            "type": "datetime",
            "fieldType": "date",
        },
    ]


def setup_account(connector: HubSpotConnector, *, apply: bool) -> SetupReport:
    """Create the property group and properties that are missing; report the rest."""
    http = connector.http
    names = connector.config.properties
    created: list[str] = []
    existing: list[str] = []
    problems: list[str] = []

    group_path = api.CONTACT_PROPERTY_GROUP.format(name=names.group)
    status, _ = http.request_json(
        "GET", group_path, endpoint="properties.group_get", allow_status=(404,)
    )
    group_label = f"group {names.group}"
    if status != 404:
        existing.append(group_label)
    elif not apply:
        problems.append(f"property group {names.group} is missing; run setup to create it")
    else:
        body = {"name": names.group, "label": names.group_label, "displayOrder": -1}
        status, _ = http.request_json(
            "POST",
            api.CONTACT_PROPERTY_GROUPS,
            json=body,
            endpoint="properties.group_create",
            allow_status=(409,),
        )
        (existing if status == 409 else created).append(group_label)

    current = {info.name: info for info in connector.contact_properties(refresh=True)}
    for definition in property_definitions(names):
        name = definition["name"]
        label = f"property {name}"
        info = current.get(name)
        if info is not None:
            existing.append(label)
            if info.type != definition["type"]:
                problems.append(
                    f"property {name} exists with type {info.type}, expected "
                    f"{definition['type']}; rename it in the settings or delete it in HubSpot"
                )
            continue
        if not apply:
            problems.append(f"property {name} is missing; run setup to create it")
            continue
        body = {**definition, "groupName": names.group, "formField": False}
        status, _ = http.request_json(
            "POST",
            api.CONTACT_PROPERTIES,
            json=body,
            endpoint="properties.create",
            allow_status=(409,),
        )
        (existing if status == 409 else created).append(label)

    connector.contact_properties(refresh=True)
    problems.extend(missing.describe() for missing in connector.mapper.missing)
    problems.extend(_pipeline_problems(connector))
    return SetupReport(created=tuple(created), existing=tuple(existing), problems=tuple(problems))


def _pipeline_problems(connector: HubSpotConnector) -> list[str]:
    config = connector.config
    if config.pipeline_mode is not PipelineMode.DEAL:
        return []
    path = api.DEAL_PIPELINE.format(pipeline_id=config.deal_pipeline_id)
    status, body = connector.http.request_json(
        "GET", path, endpoint="pipelines.get", allow_status=(404,)
    )
    if status == 404:
        return [f"deal pipeline {config.deal_pipeline_id!r} not found; set deal_pipeline_id"]
    stage_ids = {str(stage.get("id")) for stage in (body or {}).get("stages") or ()}
    return [
        f"deal stage {stage!r} for tier {tier.value} is not in pipeline "
        f"{config.deal_pipeline_id!r}; set deal_stage_ids"
        for tier, stage in config.deal_stage_ids.items()
        if stage not in stage_ids
    ]


TOKEN_FIX = (
    "create a new private app token and set LEADSCORE_HUBSPOT_TOKEN "
    "(or the variable named by token_env in the accounts file)"
)
SCOPE_FIX = "grant {scopes} to the private app, then copy its token again if it changed"


def check_account(connector: HubSpotConnector) -> list[CheckResult]:
    """Check the connection, the token, the scopes, the worker's properties and the mapping.

    Each probe is sent once with short timeouts. After a connection error or
    a 401 the remaining checks are reported as skipped.
    """
    with fail_fast(*connector.http_clients()):
        return _run_checks(connector)


def _run_checks(connector: HubSpotConnector) -> list[CheckResult]:
    http = connector.http
    config = connector.config
    runner = ProbeRunner(base_url=http.base_url, token_fix=TOKEN_FIX, scope_fix=SCOPE_FIX)
    results = [
        runner.run(
            "hubspot connection, token and contacts read scope",
            lambda: http.request_json(
                "GET", api.CONTACTS, params={"limit": "1"}, endpoint="contacts.list"
            ),
        ),
        runner.run(
            "hubspot properties read scope",
            lambda: connector.contact_properties(refresh=True),
        ),
    ]
    results.append(_deals_check(connector, runner))

    names = ("hubspot score properties", "hubspot field mapping")
    if runner.blocked or not results[1].ok:
        reason = runner.skip_reason or "skipped: fix the properties read scope first"
        results.extend(CheckResult(name, False, reason, skipped=True) for name in names)
        return results

    known = {info.name: info for info in connector.contact_properties()}
    expected = [definition["name"] for definition in property_definitions(config.properties)]
    missing = [name for name in expected if name not in known]
    results.append(
        CheckResult(
            names[0],
            not missing,
            "all present" if not missing else "missing: " + ", ".join(missing),
            "" if not missing else "run `leadscore setup` to create them",
        )
    )
    mapping_missing = connector.mapper.missing
    results.append(
        CheckResult(
            names[1],
            not mapping_missing,
            "every mapped property exists"
            if not mapping_missing
            else "; ".join(item.describe() for item in mapping_missing),
            "" if not mapping_missing else "fix the [mapping] names in the model file",
        )
    )
    results.append(
        CheckResult(
            "hubspot write scopes (listed, not checked)",
            True,
            "not verifiable without writing: crm.objects.contacts.write and "
            "crm.schemas.contacts.write are needed"
            + (
                ", and crm.objects.deals.write" if config.pipeline_mode is PipelineMode.DEAL else ""
            ),
        )
    )
    return results


def _deals_check(connector: HubSpotConnector, runner: ProbeRunner) -> CheckResult:
    """Check crm.objects.deals.read, which only deal pipeline moves and deal outcomes need.

    Deal pipeline moves fail without it, so there the check is required.
    Booking outcomes from deal stages are on by default but optional: without
    the scope the worker still scores, so doctor only warns.
    """
    config = connector.config
    name = "hubspot deals read scope"
    features = []
    if config.pipeline_mode is PipelineMode.DEAL:
        features.append(f"deal pipeline moves (pipeline {config.deal_pipeline_id})")
    if config.outcome_deal_stages:
        stages = ", ".join(sorted(config.outcome_deal_stages))
        features.append(f"booking outcomes from deal stages {stages}")
    if not features:
        return CheckResult(
            name,
            True,
            "not needed: no deal pipeline moves and no deal outcome stages configured",
            skipped=True,
        )
    result = runner.run(
        name,
        lambda: connector.http.request_json(
            "POST",
            api.DEALS_SEARCH,
            json={"filterGroups": [], "properties": ["dealstage"], "limit": 1},
            endpoint="deals.search",
            limiter="search",
        ),
        required=config.pipeline_mode is PipelineMode.DEAL,
        needed_for=" and ".join(features),
    )
    if result.ok or result.required or result.skipped:
        return result
    fix = (
        f"{result.fix}, or set outcome_deal_stages = {{}} in [accounts.options] "
        "to stop pulling deal outcomes"
    )
    return replace(result, fix=fix)

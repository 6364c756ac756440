"""`setup` and `doctor` for one GoHighLevel location.

`run_setup` creates the worker's custom fields when missing (NUMERICAL score,
fit and intent; SINGLE_OPTIONS tier; LARGE_TEXT reasons) and reports mapping
names that match no custom field. `run_checks` tests the token, location
access and read scopes with one cheap call per endpoint group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from connectors.base import CheckResult, SetupReport
from connectors.checks import ProbeRunner, describe_error, fail_fast, fix_for
from connectors.errors import ConnectorError, SkippableRecordError
from connectors.gohighlevel import constants
from connectors.gohighlevel.fields import FieldCatalog
from scoring.mapping import FieldMapping

if TYPE_CHECKING:
    from connectors.gohighlevel.connector import GoHighLevelConnector

WORKER_FIELD_TYPES: dict[str, str] = {
    "score": constants.DATA_TYPE_NUMBER,
    "fit": constants.DATA_TYPE_NUMBER,
    "intent": constants.DATA_TYPE_NUMBER,
    "tier": constants.DATA_TYPE_SINGLE_OPTION,
    "reasons": constants.DATA_TYPE_LARGE_TEXT,
}

# Standard contact fields a mapping may name, with the API's spelling.
STANDARD_CONTACT_FIELDS = frozenset(
    {
        "id", "firstName", "lastName", "fullName", "contactName", "name", "email", "phone",
        "tags", "dnd", "source", "assignedTo", "dateAdded", "dateUpdated", "dateOfBirth",
        "address1", "city", "state", "postalCode", "country", "companyName", "website",
        "timezone", "type", "lastActivity",
    }
)  # fmt: skip
_STANDARD_FOLDED = {name.lower() for name in STANDARD_CONTACT_FIELDS}


def display_name(field_key: str) -> str:
    """Return the name GoHighLevel turns into `field_key`: `contact.lead_score` → `Lead Score`."""
    return field_key.removeprefix("contact.").replace("_", " ").title()


def run_setup(connector: GoHighLevelConnector, *, apply: bool) -> SetupReport:
    config = connector.config
    catalog = connector._load_catalog()
    created: list[str] = []
    existing: list[str] = []
    problems: list[str] = []
    labels = [config.tier_labels[tier] for tier in config.tier_labels]

    for name, key in config.score_fields.items():
        data_type = WORKER_FIELD_TYPES[name]
        field = catalog.by_key.get(key)
        if field is not None:
            existing.append(key)
            if field.data_type != data_type:
                problems.append(
                    f"custom field {key} has type {field.data_type}, expected {data_type}: "
                    f"delete it in Settings > Custom Fields and rerun setup, or set {name}_field "
                    "to another key"
                )
            if name == "tier":
                problems.extend(_missing_options(key, field.options, labels))
            continue
        if not apply:
            problems.append(f"custom field {key} is missing: run `leadscore setup` to create it")
            continue
        body: dict[str, Any] = {
            "name": display_name(key),
            "dataType": data_type,
            "model": "contact",
        }
        if name == "tier":
            # NOTE: the locations spec documents no property for the options
            # of a SINGLE_OPTIONS field; `options` is what the API takes in
            # practice, and the answer is checked below.
            body["options"] = labels
        try:
            _, answer = connector.client.call(
                "POST",
                constants.CUSTOM_FIELDS,
                path_params={"location_id": config.location_id},
                json=body,
            )
        except SkippableRecordError as exc:
            problems.append(f"could not create custom field {key}: {exc}")
            continue
        record = answer.get("customField") if isinstance(answer, dict) else None
        record = record if isinstance(record, dict) else {}
        created_key = str(record.get("fieldKey") or key)
        created.append(created_key)
        if created_key != key:
            problems.append(
                f"GoHighLevel named the new field {created_key}, not {key}: set {name}_field "
                f"to {created_key!r}"
            )
        if name == "tier":
            options = tuple(str(option) for option in record.get("picklistOptions") or ())
            problems.extend(_missing_options(created_key, options, labels))

    if created:
        catalog = connector._load_catalog()
    problems.extend(mapping_problems(connector.mapping, catalog, config.location_id))
    if config.pipeline_id:
        problems.extend(_pipeline_problems(connector))
    return SetupReport(created=tuple(created), existing=tuple(existing), problems=tuple(problems))


def _missing_options(key: str, options: tuple[str, ...], labels: list[str]) -> list[str]:
    missing = [label for label in labels if label not in options]
    if not missing:
        return []
    return [
        f"custom field {key} lacks the option(s) {', '.join(missing)}: add them in "
        "Settings > Custom Fields, or change tier_labels"
    ]


def mapping_problems(mapping: FieldMapping, catalog: FieldCatalog, location_id: str) -> list[str]:
    """List mapping entries none of whose names is a custom field or standard contact field."""
    problems = []
    for section, entries in (("answers", mapping.answers), ("attributes", mapping.attributes)):
        for key, names in entries.items():
            if any(name.lower() in _STANDARD_FOLDED or catalog.find(name) for name in names):
                continue
            close: list[str] = []
            for name in names:
                close.extend(match for match in catalog.close_matches(name) if match not in close)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            problems.append(
                f"mapping {section}.{key}: none of {list(names)} is a custom field of location "
                f"{location_id} (form submission answers with these names are still read){hint}"
            )
    return problems


def _pipeline_problems(connector: GoHighLevelConnector) -> list[str]:
    config = connector.config
    try:
        _, body = connector.client.call(
            "GET", constants.PIPELINES, params={"locationId": config.location_id}
        )
    except SkippableRecordError as exc:
        return [f"could not read pipelines: {exc}"]
    pipelines = body.get("pipelines") if isinstance(body, dict) else None
    for pipeline in pipelines or []:
        if isinstance(pipeline, dict) and pipeline.get("id") == config.pipeline_id:
            stage_ids = {
                str(stage.get("id"))
                for stage in pipeline.get("stages") or []
                if isinstance(stage, dict)
            }
            return [
                f"stage {stage_id} of tier {tier.value} is not a stage of pipeline "
                f"{config.pipeline_id}: copy the stage id from the pipeline settings"
                for tier, stage_id in config.stage_ids.items()
                if stage_id not in stage_ids
            ]
    return [f"pipeline {config.pipeline_id} not found in location {config.location_id}"]


TOKEN_FIX = (
    "create a new private integration token for the location and set LEADSCORE_GHL_TOKEN "
    "(or the variable named by token_env in the accounts file); check the location id too"
)
SCOPE_FIX = "add the scope {scopes} to the token and issue a new one"


def run_checks(connector: GoHighLevelConnector) -> list[CheckResult]:
    """Check the connection, token, scopes, score fields, mapping and pipeline of a location.

    Each probe is sent once with short timeouts. After a connection error or
    a 401 the remaining checks are reported as skipped.
    """
    with fail_fast(connector.client.http):
        return _run_checks(connector)


def _run_checks(connector: GoHighLevelConnector) -> list[CheckResult]:
    config = connector.config
    location = config.location_id
    runner = ProbeRunner(
        base_url=connector.client.http.base_url, token_fix=TOKEN_FIX, scope_fix=SCOPE_FIX
    )

    def load_catalog() -> None:
        connector._catalog = connector._load_catalog()

    access = runner.run("token and location access", load_catalog)
    if access.ok:
        access = replace(
            access,
            detail=f"location {location}: {len(connector.catalog.fields)} contact custom fields",
        )
    results = [access]

    probes: list[tuple[str, Callable[[], Any], bool, str]] = [
        (
            "contacts.readonly",
            lambda: connector.client.call(
                "POST",
                constants.CONTACTS_SEARCH,
                json={"locationId": location, "pageLimit": 1, "page": 1},
            ),
            True,
            "",
        )
    ]
    if config.pull_forms:
        probes.append(
            (
                "forms.readonly",
                lambda: _list(connector, constants.FORM_SUBMISSIONS),
                True,
                "form answers (pull_forms)",
            )
        )
    if config.pull_surveys:
        probes.append(
            (
                "surveys.readonly",
                lambda: _list(connector, constants.SURVEY_SUBMISSIONS),
                True,
                "survey answers (pull_surveys)",
            )
        )
    if config.pull_email_engagement:
        probes.append(
            (
                "conversations/message.readonly",
                lambda: connector.client.call(
                    "GET",
                    constants.MESSAGES_EXPORT,
                    params={"locationId": location, "channel": "Email", "limit": 10},
                    group="conversations",
                ),
                True,
                "email engagement (pull_email_engagement)",
            )
        )
    # Booking outcomes read won and lost opportunities, so this scope is always
    # probed, but it is required only for pipeline stage moves.
    opportunity_features = "booking outcomes from won and lost opportunities"
    if config.pipeline_id:
        opportunity_features = f"pipeline stage moves (pipeline {config.pipeline_id}) and " + (
            opportunity_features
        )
    probes.append(
        (
            "opportunities.readonly",
            lambda: connector.client.call(
                "GET",
                constants.OPPORTUNITIES_SEARCH,
                params={"location_id": location, "status": "won", "limit": 1, "page": 1},
            ),
            bool(config.pipeline_id),
            opportunity_features,
        )
    )
    if not config.calendar_ids:
        probes.append(
            (
                "calendars.readonly",
                lambda: connector.client.call(
                    "GET",
                    constants.CALENDARS,
                    params={"locationId": location},
                    group="conversations",
                ),
                False,
                "booking outcomes from appointments (listing the calendars)",
            )
        )
    for scope, probe, required, needed_for in probes:
        if not access.ok:
            results.append(
                runner.skipped(f"scope {scope}") if runner.blocked else _after_access(scope)
            )
            continue
        results.append(
            runner.run(f"scope {scope}", probe, required=required, needed_for=needed_for)
        )

    names = ("score custom fields", "field mapping")
    if not access.ok or runner.blocked:
        for name in names:
            results.append(runner.skipped(name) if runner.blocked else _after_access(name))
        return results

    try:
        report = run_setup(connector, apply=False)
    except ConnectorError as exc:
        # Reading the pipeline stages fails without opportunities.readonly, so report it here.
        detail = describe_error(exc, runner.base_url)
        fix = fix_for(exc, token_fix=TOKEN_FIX, scope_fix=SCOPE_FIX)
        results.append(CheckResult("score custom fields, mapping and pipeline", False, detail, fix))
        return results
    field_problems = [p for p in report.problems if p.startswith("custom field")]
    mapping_notes = [p for p in report.problems if p.startswith("mapping")]
    other = [p for p in report.problems if p not in field_problems and p not in mapping_notes]
    results.append(
        CheckResult(
            names[0],
            not field_problems,
            "; ".join(field_problems) or f"present: {', '.join(report.existing)}",
            "run `leadscore setup`" if field_problems else "",
        )
    )
    results.append(
        CheckResult(
            names[1],
            not mapping_notes,
            "; ".join(mapping_notes) or "every mapped name matches a field",
            "correct the [mapping] names in the model file" if mapping_notes else "",
        )
    )
    if other:
        results.append(
            CheckResult("pipeline", False, "; ".join(other), "correct the pipeline settings")
        )
    results.append(
        CheckResult(
            "write scopes",
            True,
            "contacts.write, opportunities.write and locations/customFields.write are not "
            "probed (that would change data); the first score write of each run is read back",
        )
    )
    return results


def _after_access(name: str) -> CheckResult:
    return CheckResult(
        name, False, "skipped: fix the token and location access first", skipped=True
    )


def _list(connector: GoHighLevelConnector, endpoint: str) -> Any:
    return connector.client.call(
        "GET", endpoint, params={"locationId": connector.config.location_id, "limit": 1, "page": 1}
    )

"""The HubSpot connector: pulls contacts, writes scores, moves pipelines, raises alert tasks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import structlog

from connectors.base import (
    CheckResult,
    Contact,
    ContactPage,
    HotLeadAlert,
    Outcome,
    ScoreWrite,
    SetupReport,
    SkippedRecord,
    StageAction,
    StageResult,
    WriteReport,
)
from connectors.errors import DataShapeError, SkippableRecordError
from connectors.http import HttpClient, RateLimiter, RetrySettings, Timeouts
from connectors.hubspot import api
from connectors.hubspot.auth import OAuthToken, StaticToken
from connectors.hubspot.config import HubSpotConfig, PipelineMode
from connectors.hubspot.mapping import ContactMapper, PropertyInfo, parse_datetime, to_epoch_ms
from connectors.hubspot.mapping import to_iso as _to_iso
from connectors.hubspot.pull import list_pages, search_modified_since
from connectors.hubspot.setup import check_account, setup_account
from connectors.hubspot.writes import ScoreWriter
from scoring.mapping import FieldMapping
from scoring.result import Tier

log = structlog.get_logger("connectors.hubspot")

ALERT_KEY_PREFIX = "leadscore-alert-key:"
ASSOCIATION_PAGE_LIMIT = 500
LEAD_STATUS = "hs_lead_status"


class HubSpotConnector:
    """One HubSpot account kept in sync by the worker (satisfies `CrmConnector`)."""

    crm: ClassVar[str] = "hubspot"

    def __init__(
        self,
        config: HubSpotConfig,
        mapping: FieldMapping,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        jitter: Callable[[float], float] | None = None,
        on_refresh_token: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.mapping = mapping
        self.account_id = config.portal_id
        self._now = now or (lambda: datetime.now(UTC))
        self.oauth: OAuthToken | None = None
        self._token_http: HttpClient | None = None
        self.http = self._build_http(sleep, clock, jitter, on_refresh_token)

        self._writer = ScoreWriter(self.http, config.properties)
        self._properties: list[PropertyInfo] | None = None
        self._mapper: ContactMapper | None = None

    def _build_http(
        self,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        jitter: Callable[[float], float] | None,
        on_refresh_token: Callable[[str], None] | None,
    ) -> HttpClient:
        config = self.config
        burst = RateLimiter(
            config.burst_limit,
            config.burst_interval_seconds,
            clock=clock,
            sleep=sleep,
            name="burst",
        )
        search = RateLimiter(config.search_per_second, 1.0, clock=clock, sleep=sleep, name="search")
        common: dict[str, Any] = {
            "profile": api.HubSpotProfile(account_timezone=config.account_timezone, now=self._now),
            "base_url": config.base_url,
            "retry": RetrySettings(
                max_attempts=config.max_attempts, max_elapsed_seconds=config.max_retry_seconds
            ),
            "timeouts": Timeouts(config.connect_timeout_seconds, config.read_timeout_seconds),
            "sleep": sleep,
            "clock": clock,
            "jitter": jitter,
        }

        if config.token is not None:
            auth: Callable[[], str] = StaticToken(config.token)
        else:
            # The token endpoint authenticates with the client secret, not a bearer token.
            token_http = HttpClient(auth=None, limiters={"default": burst}, **common)
            self._token_http = token_http
            assert config.oauth_client_id and config.oauth_client_secret
            assert config.oauth_refresh_token
            self.oauth = OAuthToken(
                http=token_http,
                client_id=config.oauth_client_id,
                client_secret=config.oauth_client_secret,
                refresh_token=config.oauth_refresh_token,
                path=api.OAUTH_TOKEN,
                margin_seconds=config.oauth_refresh_margin_seconds,
                clock=clock,
                on_refresh_token=on_refresh_token,
            )
            auth = self.oauth

        return HttpClient(auth=auth, limiters={"default": burst, "search": search}, **common)

    # -- properties and mapping ---------------------------------------------

    def contact_properties(self, *, refresh: bool = False) -> list[PropertyInfo]:
        """Return the account's contact properties (one call, then cached)."""
        if self._properties is None or refresh:
            _, body = self.http.request_json(
                "GET",
                api.CONTACT_PROPERTIES,
                params={"archived": "false"},
                endpoint="properties.list",
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise DataShapeError(
                    "properties response has no 'results' list",
                    crm=self.crm,
                    endpoint=f"GET {api.CONTACT_PROPERTIES}",
                )
            self._properties = [PropertyInfo.from_api(item) for item in body["results"]]
            self._mapper = None
        return self._properties

    @property
    def mapper(self) -> ContactMapper:
        if self._mapper is None:
            self._mapper = ContactMapper(
                self.mapping, self.config.properties, self.account_id, self.contact_properties()
            )
        return self._mapper

    def _page(self, records: Sequence[Any], resume_token: str | None = None) -> ContactPage:
        mapped: list[Contact | SkippedRecord] = [self.mapper.to_contact(r) for r in records]
        stamps = [c.modified_at for c in mapped if isinstance(c, Contact) and c.modified_at]
        for record in mapped:
            if isinstance(record, SkippedRecord):
                log.warning(
                    "contact_skipped",
                    crm=self.crm,
                    contact_id=record.record_id,
                    reason=record.reason,
                )
        return ContactPage(
            records=tuple(mapped),
            resume_token=resume_token,
            high_watermark=max(stamps) if stamps else None,
        )

    # -- pulls --------------------------------------------------------------

    def iter_records(self) -> Iterator[Contact | SkippedRecord]:
        for page in self.pull_all():
            yield from page.records

    def pull_changed(self, since: datetime | None) -> Iterator[ContactPage]:
        """Yield contacts modified since `since` minus the overlap window, oldest first.

        The last page's `high_watermark` is at least the time the pull started.
        Search had seen every change up to that time, apart from changes still
        inside the indexing lag, and the next pull's overlap window covers those.
        Without it a quiet account would pull every contact changed within the
        overlap of the last change again on every cycle, such as the whole
        account after a backfill wrote its scores.
        """
        started = self._now()
        since_ms = None
        if since is not None:
            since_ms = int(to_epoch_ms(since - timedelta(seconds=self.config.overlap_seconds)))
        previous: ContactPage | None = None
        for records in search_modified_since(
            self.http,
            api.CONTACTS_SEARCH,
            since_ms=since_ms,
            modified_property="lastmodifieddate",
            properties=self.mapper.requested_properties(),
            endpoint="contacts.search",
        ):
            log.info("contacts_page_fetched", crm=self.crm, mode="changed", count=len(records))
            if previous is not None:
                yield previous
            previous = self._page(records)
        if previous is None:
            yield ContactPage(records=(), high_watermark=started)
            return
        latest = previous.high_watermark
        yield replace(previous, high_watermark=max(latest, started) if latest else started)

    def pull_all(self, resume_token: str | None = None) -> Iterator[ContactPage]:
        for records, next_after in list_pages(
            self.http,
            api.CONTACTS,
            properties=self.mapper.requested_properties(),
            after=resume_token,
            endpoint="contacts.list",
        ):
            log.info("contacts_page_fetched", crm=self.crm, mode="all", count=len(records))
            yield self._page(records, resume_token=next_after)

    def count_contacts(self) -> int:
        """Return how many contacts the account has, from one search call (for progress bars).

        NOTE: the search index lags behind writes, so contacts created just
        before the call may be missing from the count.
        """
        endpoint = f"POST {api.CONTACTS_SEARCH}"
        _, body = self.http.request_json(
            "POST",
            api.CONTACTS_SEARCH,
            json={"filterGroups": [], "properties": ["hs_object_id"], "limit": 1},
            endpoint="contacts.search",
            limiter="search",
        )
        total = body.get("total") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise DataShapeError(
                f"contact search response has no valid `total` count (got {total!r})",
                crm=self.crm,
                endpoint=endpoint,
            )
        return total

    def fetch_contact(self, contact_id: str) -> Contact:
        path = api.CONTACT.format(contact_id=contact_id)
        _, body = self.http.request_json(
            "GET",
            path,
            params={"properties": ",".join(self.mapper.requested_properties())},
            endpoint="contacts.get",
            record_id=contact_id,
        )
        mapped = self.mapper.to_contact(body if isinstance(body, dict) else {})
        if isinstance(mapped, SkippedRecord):
            raise SkippableRecordError(
                mapped.reason, record_id=contact_id, crm=self.crm, endpoint=f"GET {path}"
            )
        return mapped

    # -- write-back ---------------------------------------------------------

    def write_scores(self, writes: Sequence[ScoreWrite]) -> WriteReport:
        report = self._writer.write(writes)
        log.info(
            "scores_written",
            crm=self.crm,
            written=len(report.written),
            failed=len(report.failed),
            calls=report.calls,
        )
        return report

    # -- associations ---------------------------------------------------------

    def _associated_ids(self, contact_id: str, to_object_type: str) -> list[str]:
        path = api.ASSOCIATIONS_OF.format(
            object_type="contacts", object_id=contact_id, to_object_type=to_object_type
        )
        # NOTE: only the first page of associations is read (500 records), far
        # more deals or tasks than one lead collects.
        _, body = self.http.request_json(
            "GET",
            path,
            params={"limit": str(ASSOCIATION_PAGE_LIMIT)},
            endpoint=f"associations.{to_object_type}",
            record_id=contact_id,
        )
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise DataShapeError(
                "associations response has no 'results' list", crm=self.crm, endpoint=f"GET {path}"
            )
        return [str(item.get("toObjectId")) for item in results if isinstance(item, dict)]

    def _batch_read(self, path: str, ids: Sequence[str], properties: Sequence[str], endpoint: str):
        records: list[dict] = []
        for start in range(0, len(ids), api.BATCH_LIMIT):
            chunk = ids[start : start + api.BATCH_LIMIT]
            body = {"inputs": [{"id": i} for i in chunk], "properties": list(properties)}
            _, response = self.http.request_json("POST", path, json=body, endpoint=endpoint)
            if isinstance(response, dict):
                records.extend(r for r in response.get("results") or () if isinstance(r, dict))
        return records

    # -- pipeline -------------------------------------------------------------

    def move_stage(self, contact: Contact, tier: Tier) -> StageResult:
        mode = self.config.pipeline_mode
        if mode is PipelineMode.DEAL:
            return self._move_deal(contact, tier)
        if mode is PipelineMode.LEAD_STATUS:
            return self._move_lead_status(contact, tier)
        return StageResult(contact.id, StageAction.NOT_CONFIGURED, detail="pipeline mode is none")

    def _move_lead_status(self, contact: Contact, tier: Tier) -> StageResult:
        target = self.config.lead_status_values.get(tier)
        if target is None:
            return StageResult(
                contact.id, StageAction.NOT_CONFIGURED, detail=f"no status for {tier}"
            )
        current = self._lead_status(contact)
        if current == target:
            return StageResult(contact.id, StageAction.UNCHANGED, stage=current)
        if current is not None and current not in set(self.config.lead_status_values.values()):
            return StageResult(
                contact.id,
                StageAction.KEPT_STAFF_STAGE,
                stage=current,
                detail="lead status set by staff",
            )
        path = api.CONTACT.format(contact_id=contact.id)
        self.http.request_json(
            "PATCH",
            path,
            json={"properties": {LEAD_STATUS: target}},
            endpoint="contacts.update",
            record_id=contact.id,
        )
        return StageResult(contact.id, StageAction.MOVED, stage=target)

    def _lead_status(self, contact: Contact) -> str | None:
        """Return the contact's `hs_lead_status`, reading it from HubSpot when the contact lacks it.

        A contact rebuilt from the state store (the nightly rescore) has no raw
        properties, and taking that as "no status" would overwrite a status
        staff set since the last pull.
        """
        if LEAD_STATUS in contact.raw:
            return str(contact.raw.get(LEAD_STATUS) or "") or None
        path = api.CONTACT.format(contact_id=contact.id)
        _, body = self.http.request_json(
            "GET",
            path,
            params={"properties": LEAD_STATUS},
            endpoint="contacts.get",
            record_id=contact.id,
        )
        properties = body.get("properties") if isinstance(body, dict) else None
        value = properties.get(LEAD_STATUS) if isinstance(properties, dict) else None
        return str(value or "") or None

    def _move_deal(self, contact: Contact, tier: Tier) -> StageResult:
        stages = self.config.deal_stage_ids
        target = stages.get(tier)
        if target is None:
            return StageResult(
                contact.id, StageAction.NOT_CONFIGURED, detail=f"no stage for {tier}"
            )
        deal = self._find_lead_deal(contact.id)
        if deal is None:
            if contact.stored_stage in {*stages.values(), *self.config.staff_stage_ids}:
                # The worker put this lead's deal in the pipeline before, so
                # staff moved it to another pipeline or deleted it.
                return StageResult(
                    contact.id,
                    StageAction.KEPT_STAFF_STAGE,
                    stage=contact.stored_stage,
                    detail="the lead's deal left the pipeline",
                )
            return self._create_deal(contact, target)

        deal_id = str(deal["id"])
        current = (deal.get("properties") or {}).get("dealstage")
        if current == target:
            return StageResult(contact.id, StageAction.UNCHANGED, stage=current, record_id=deal_id)
        tier_stages = set(stages.values())
        if current in self.config.staff_stage_ids or current not in tier_stages:
            return StageResult(
                contact.id,
                StageAction.KEPT_STAFF_STAGE,
                stage=current,
                record_id=deal_id,
                detail="deal stage set by staff",
            )
        self.http.request_json(
            "PATCH",
            api.DEAL.format(deal_id=deal_id),
            json={"properties": {"dealstage": target}},
            endpoint="deals.update",
            record_id=deal_id,
        )
        return StageResult(contact.id, StageAction.MOVED, stage=target, record_id=deal_id)

    def _find_lead_deal(self, contact_id: str) -> dict | None:
        deal_ids = self._associated_ids(contact_id, "deals")
        if not deal_ids:
            return None
        deals = self._batch_read(
            api.DEALS_BATCH_READ, deal_ids, ("pipeline", "dealstage"), "deals.batch_read"
        )
        in_pipeline = [
            deal
            for deal in deals
            if (deal.get("properties") or {}).get("pipeline") == self.config.deal_pipeline_id
        ]
        in_pipeline.sort(key=lambda deal: int(deal["id"]) if str(deal["id"]).isdigit() else 0)
        return in_pipeline[0] if in_pipeline else None

    def _create_deal(self, contact: Contact, stage: str) -> StageResult:
        properties = {
            "dealname": self.config.deal_name_template.format(name=contact.name or contact.id),
            "pipeline": self.config.deal_pipeline_id,
            "dealstage": stage,
        }
        if contact.owner_id:
            properties["hubspot_owner_id"] = contact.owner_id
        body = {
            "properties": properties,
            "associations": [_association(contact.id, api.DEAL_TO_CONTACT)],
        }
        _, created = self.http.request_json(
            "POST", api.DEALS, json=body, endpoint="deals.create", idempotent=False
        )
        deal_id = str(created.get("id")) if isinstance(created, dict) else None
        log.info("deal_created", crm=self.crm, contact_id=contact.id, deal_id=deal_id, stage=stage)
        return StageResult(contact.id, StageAction.CREATED, stage=stage, record_id=deal_id)

    # -- alerts ---------------------------------------------------------------

    def create_alert(self, alert: HotLeadAlert, idempotency_key: str) -> str:
        """Create a call task for the contact owner, once per `idempotency_key`.

        The key is written into the task body. Before creating, the tasks
        associated with the contact are read back by id (search is not used
        because its index lags behind writes) and a task carrying the key is
        returned instead of a new one.
        """
        marker = f"{ALERT_KEY_PREFIX}{idempotency_key}"
        task_ids = self._associated_ids(alert.contact_id, "tasks")
        if task_ids:
            tasks = self._batch_read(
                api.TASKS_BATCH_READ, task_ids, ("hs_task_body",), "tasks.batch_read"
            )
            for task in tasks:
                if marker in str((task.get("properties") or {}).get("hs_task_body") or ""):
                    log.info("alert_task_exists", crm=self.crm, contact_id=alert.contact_id)
                    return str(task["id"])

        settings = self.config.alert
        due = self._now() + timedelta(minutes=settings.due_in_minutes)
        properties = {
            "hs_timestamp": _to_iso(due),
            "hs_task_subject": f"Hot lead: {alert.name or alert.contact_id} ({alert.score})",
            "hs_task_body": _alert_body(alert, marker),
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": settings.priority,
            "hs_task_type": settings.task_type,
        }
        owner = alert.owner_id or settings.default_owner_id
        if owner:
            properties["hubspot_owner_id"] = owner
        body = {
            "properties": properties,
            "associations": [_association(alert.contact_id, api.TASK_TO_CONTACT)],
        }
        _, created = self.http.request_json(
            "POST", api.TASKS, json=body, endpoint="tasks.create", idempotent=False
        )
        if not isinstance(created, dict) or not created.get("id"):
            raise DataShapeError(
                "task create response has no id", crm=self.crm, endpoint=f"POST {api.TASKS}"
            )
        log.info("alert_task_created", crm=self.crm, contact_id=alert.contact_id)
        return str(created["id"])

    # -- outcomes -------------------------------------------------------------

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        yield from self._deal_outcomes(since)
        yield from self._lifecycle_outcomes(since)

    def _deal_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        stages = self.config.outcome_deal_stages
        if not stages:
            return
        entered = {stage: f"hs_v2_date_entered_{stage}" for stage in stages}
        properties = [
            "dealstage",
            "pipeline",
            "closedate",
            "hs_lastmodifieddate",
            *entered.values(),
        ]
        stage_filter = {"propertyName": "dealstage", "operator": "IN", "values": list(stages)}
        for deals in search_modified_since(
            self.http,
            api.DEALS_SEARCH,
            since_ms=int(to_epoch_ms(since)) if since else None,
            modified_property="hs_lastmodifieddate",
            properties=properties,
            extra_filters=[stage_filter],
            endpoint="deals.search",
        ):
            contacts = self._deal_contacts([str(deal["id"]) for deal in deals])
            for deal in deals:
                values = deal.get("properties") or {}
                stage = values.get("dealstage")
                if stage not in stages:
                    continue
                # NOTE: `hs_v2_date_entered_<stage>` is HubSpot's stage entry date;
                # accounts without it fall back to the close date, then the last change.
                occurred = (
                    parse_datetime(values.get(entered[stage]))
                    or parse_datetime(values.get("closedate"))
                    or parse_datetime(values.get("hs_lastmodifieddate"))
                )
                if occurred is None or (since is not None and occurred < since):
                    continue
                for contact_id in contacts.get(str(deal["id"]), ()):
                    yield Outcome(
                        contact_id=contact_id,
                        kind=stages[stage],
                        occurred_at=occurred,
                        source=f"deal_stage:{stage}",
                        record_id=str(deal["id"]),
                    )

    def _deal_contacts(self, deal_ids: Sequence[str]) -> dict[str, list[str]]:
        path = api.ASSOCIATIONS_BATCH_READ.format(
            from_object_type="deals", to_object_type="contacts"
        )
        found: dict[str, list[str]] = {}
        for start in range(0, len(deal_ids), api.ASSOCIATION_BATCH_READ_LIMIT):
            chunk = deal_ids[start : start + api.ASSOCIATION_BATCH_READ_LIMIT]
            _, body = self.http.request_json(
                "POST",
                path,
                json={"inputs": [{"id": i} for i in chunk]},
                endpoint="associations.batch_read",
            )
            for result in (body or {}).get("results") or ():
                deal_id = str((result.get("from") or {}).get("id"))
                found[deal_id] = [str(to.get("toObjectId")) for to in result.get("to") or ()]
        return found

    def _lifecycle_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        for stage, kind in self.config.outcome_lifecycle_stages.items():
            date_property = f"hs_lifecyclestage_{stage}_date"
            extra = []
            if since is None:
                extra.append({"propertyName": date_property, "operator": "HAS_PROPERTY"})
            for contacts in search_modified_since(
                self.http,
                api.CONTACTS_SEARCH,
                since_ms=int(to_epoch_ms(since)) if since else None,
                modified_property=date_property,
                properties=[date_property],
                extra_filters=extra,
                endpoint="contacts.search_outcomes",
            ):
                for contact in contacts:
                    occurred = parse_datetime((contact.get("properties") or {}).get(date_property))
                    if occurred is None:
                        continue
                    yield Outcome(
                        contact_id=str(contact["id"]),
                        kind=kind,
                        occurred_at=occurred,
                        source=f"lifecycle:{stage}",
                    )

    # -- setup and doctor -----------------------------------------------------

    def setup(self, *, apply: bool = True) -> SetupReport:
        return setup_account(self, apply=apply)

    def check(self) -> list[CheckResult]:
        return check_account(self)

    def http_clients(self) -> list[HttpClient]:
        """Return the API client and, with OAuth, the token endpoint's client (for doctor)."""
        return [self.http] if self._token_http is None else [self.http, self._token_http]

    def close(self) -> None:
        self.http.close()


def _association(contact_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": contact_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _alert_body(alert: HotLeadAlert, marker: str) -> str:
    score = f"{alert.score}"
    if alert.previous_score is not None:
        score += f" (was {alert.previous_score})"
    lines = [f"Score: {score}, tier {alert.tier.value}"]
    for label, value in (
        ("Name", alert.name),
        ("Email", alert.email),
        ("Phone", alert.phone),
        ("Treatment", alert.treatment),
        ("Inquired", alert.inquired_at.isoformat() if alert.inquired_at else None),
    ):
        if value:
            lines.append(f"{label}: {value}")
    if alert.reasons:
        lines.append("Why:")
        lines.extend(f"- {reason}" for reason in alert.reasons)
    if alert.record_url:
        lines.append(f"Record: {alert.record_url}")
    lines.append(marker)
    return "\n".join(lines)

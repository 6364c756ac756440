"""`GoHighLevelConnector`: one GoHighLevel location kept in sync by the worker.

One instance serves one location, with its own token, custom field ids and
rate-limit budget; a deployment with several locations builds one per location.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import requests
import structlog

from connectors.base import (
    CheckResult,
    Contact,
    ContactPage,
    HotLeadAlert,
    Outcome,
    OutcomeKind,
    ScoreWrite,
    SetupReport,
    SkippedRecord,
    StageAction,
    StageResult,
    WriteReport,
)
from connectors.errors import (
    ConfigurationError,
    DataShapeError,
    RateLimitedError,
    SkippableRecordError,
    TransientError,
)
from connectors.gohighlevel import constants
from connectors.gohighlevel.auth import (
    FileTokenStore,
    OAuthTokenProvider,
    StaticToken,
    TokenStore,
)
from connectors.gohighlevel.client import GoHighLevelClient, build_http_client
from connectors.gohighlevel.config import GoHighLevelConfig
from connectors.gohighlevel.contacts import ContactMapper
from connectors.gohighlevel.engagement import (
    group_by_contact,
    message_activities,
    parse_time,
    submission_activity,
)
from connectors.gohighlevel.fields import CustomField, FieldCatalog, number_value
from connectors.gohighlevel.paging import SearchPosition, search_contacts
from connectors.gohighlevel.setup import run_checks, run_setup
from connectors.http import HttpClient, RetrySettings
from scoring.lead import Activity
from scoring.mapping import FieldMapping
from scoring.result import Tier

log = structlog.get_logger("connectors.gohighlevel")

CRM = "gohighlevel"

# How far back before a pull's start appointments are re-read for a showed or
# no-show status, which staff set after the appointment.
STATUS_MARKING_LOOKBACK = timedelta(days=30)

# A score write batch stops after this many server errors in a row (the API is down).
MAX_CONSECUTIVE_TRANSIENT_FAILURES = 3

# Marker put in a task body so the same alert never creates two tasks.
TASK_MARKER = "[leadscore:{key}]"


class GoHighLevelConnector:
    """Pull contacts and engagement from one location, write scores, stages and alerts back."""

    crm: ClassVar[str] = CRM

    def __init__(
        self,
        config: GoHighLevelConfig,
        mapping: FieldMapping,
        *,
        session: requests.Session | None = None,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        retry: RetrySettings | None = None,
    ) -> None:
        self.config = config
        self.mapping = mapping
        self.account_id = config.location_id
        self._now = now
        http = build_http_client(
            base_url=config.base_url,
            burst_limit=config.burst_limit,
            session=session,
            sleep=sleep,
            monotonic=monotonic,
            wall_clock=now,
            retry=retry,
        )
        self.client = GoHighLevelClient(
            http=http,
            tokens=_token_source(config, http, token_store, now),
            location_id=config.location_id,
            version=config.version,
            conversations_version=config.conversations_version,
        )
        self._catalog: FieldCatalog | None = None
        # Worker field values last read per contact (field id -> value), so a
        # write that changes nothing is not sent.
        self._read_values: dict[str, dict[str, Any]] = {}
        self._write_verified = False
        self._log = log.bind(crm=CRM, location_id=config.location_id)

    # -- custom fields -------------------------------------------------------

    @property
    def catalog(self) -> FieldCatalog:
        if self._catalog is None:
            self._catalog = self._load_catalog()
        return self._catalog

    def _load_catalog(self) -> FieldCatalog:
        _, body = self.client.call(
            "GET",
            constants.CUSTOM_FIELDS,
            path_params={"location_id": self.account_id},
            params={"model": "contact"},
        )
        catalog = FieldCatalog.from_response(body)
        self._log.info("custom_fields_loaded", count=len(catalog.fields))
        return catalog

    def _mapper(self) -> ContactMapper:
        return ContactMapper(self.mapping, self.catalog, self.config)

    def _worker_field(self, name: str) -> CustomField:
        key = self.config.score_fields[name]
        field = self.catalog.by_key.get(key)
        if field is None:
            raise ConfigurationError(
                f"custom field {key} does not exist in location {self.account_id}: "
                "run `leadscore setup` to create the score fields",
                crm=CRM,
            )
        return field

    # -- pulls ------------------------------------------------------------------

    def iter_records(self) -> Iterator[Contact | SkippedRecord]:
        for page in self.pull_all():
            yield from page.records

    def pull_changed(self, since: datetime | None) -> Iterator[ContactPage]:
        """Yield contacts updated since `since` minus the overlap window, oldest first.

        The last page's `high_watermark` is at least the time the pull started,
        because the search asked for every update up to that time. Updates the
        search had not indexed yet fall inside the next pull's overlap window.
        Without this a quiet location would read every contact updated within
        the overlap of its last update again on every cycle.
        """
        started = self._now()
        previous: ContactPage | None = None
        for page in self._changed_pages(since, started):
            if previous is not None:
                yield previous
            previous = page
        if previous is None:
            yield ContactPage(records=[], high_watermark=started)
            return
        latest = previous.high_watermark
        yield replace(previous, high_watermark=max(latest, started) if latest else started)

    def _changed_pages(self, since: datetime | None, started: datetime) -> Iterator[ContactPage]:
        window_start = since - self.config.overlap if since is not None else None
        submissions = self._submissions(window_start, started)
        messages = self._email_activities(window_start)
        mapper = self._mapper()
        # Submissions older than the window are not read, so answers that only
        # they hold are missing here and the store keeps them.
        partial = window_start is not None

        filters: list[dict[str, Any]] = []
        bounds = {"lte": _iso(started)}
        if window_start is not None:
            bounds["gte"] = _iso(window_start)
        filters.append({"field": "dateUpdated", "operator": "range", "value": bounds})

        for contacts, _ in search_contacts(
            self.client,
            filters=filters,
            sort_field="dateUpdated",
            start=SearchPosition(),
            use_page_numbers=False,
        ):
            records = [
                self._build(
                    mapper,
                    raw,
                    submissions.pop(str(raw.get("id")), []),
                    messages,
                    answers_partial=partial,
                )
                for raw in contacts
            ]
            self._log.info("contacts_page_fetched", count=len(records), mode="changed")
            yield ContactPage(records=records, high_watermark=_latest(contacts))

        # Submissions and emails of contacts the search did not return (it
        # lags behind writes): a submission carries answers, so those
        # contacts are read in full; email events alone are added as events.
        leftovers: list[Contact | SkippedRecord] = []
        for contact_id, items in submissions.items():
            try:
                raw = self._get_contact_raw(contact_id)
            except SkippableRecordError as exc:
                leftovers.append(SkippedRecord(reason=exc.message, record_id=contact_id))
                continue
            leftovers.append(self._build(mapper, raw, items, messages, answers_partial=partial))
        for contact_id, activities in messages.items():
            leftovers.append(mapper.events_only(contact_id, activities))
        if leftovers:
            self._log.info("engagement_contacts_fetched", count=len(leftovers))
            yield ContactPage(records=leftovers)

    def pull_all(self, resume_token: str | None = None) -> Iterator[ContactPage]:
        start = SearchPosition.from_token(resume_token)
        submissions = self._submissions(None, self._now())
        messages = self._email_activities(None)
        mapper = self._mapper()
        for contacts, position in search_contacts(
            self.client, filters=[], sort_field="dateAdded", start=start
        ):
            records = [
                self._build(mapper, raw, submissions.pop(str(raw.get("id")), []), messages)
                for raw in contacts
            ]
            self._log.info("contacts_page_fetched", count=len(records), mode="all")
            yield ContactPage(
                records=records,
                resume_token=position.to_token() if position is not None else None,
                high_watermark=_latest(contacts),
            )

    def count_contacts(self) -> int:
        """Return how many contacts the location has, from one search call (for progress bars)."""
        _, body = self.client.call(
            "POST",
            constants.CONTACTS_SEARCH,
            json={"locationId": self.account_id, "pageLimit": 1, "page": 1},
        )
        total = body.get("total") if isinstance(body, dict) else None
        if not isinstance(total, int | float):
            raise DataShapeError("contact search response has no `total` count", crm=CRM)
        return int(total)

    def fetch_contact(self, contact_id: str) -> Contact:
        raw = self._get_contact_raw(contact_id)
        submissions = self._submissions(None, self._now(), contact_id=contact_id)
        messages = self._email_activities(None, contact_id=contact_id)
        record = self._build(self._mapper(), raw, submissions.get(contact_id, []), messages)
        if isinstance(record, SkippedRecord):
            raise SkippableRecordError(record.reason, record_id=contact_id, crm=CRM)
        return record

    def _get_contact_raw(self, contact_id: str) -> dict[str, Any]:
        _, body = self.client.call(
            "GET", constants.CONTACT, path_params={"contact_id": contact_id}, record_id=contact_id
        )
        raw = body.get("contact") if isinstance(body, dict) else None
        if not isinstance(raw, dict):
            raise DataShapeError("contact response has no `contact` object", crm=CRM)
        return raw

    def _build(
        self,
        mapper: ContactMapper,
        raw: dict[str, Any],
        submissions: Sequence[Mapping[str, Any]],
        messages: dict[str, list[Activity]],
        *,
        answers_partial: bool = False,
    ) -> Contact | SkippedRecord:
        contact_id = str(raw.get("id") or "")
        activities = list(messages.pop(contact_id, []))
        for submission in submissions:
            kind = "survey" if submission.get("surveyId") else "form"
            activity = submission_activity(submission, kind)
            if activity is not None:
                activities.append(activity)
        record = mapper.to_contact(raw, submissions=submissions, activities=activities)
        if isinstance(record, Contact):
            self._remember_written(record.id, raw)
            if answers_partial:
                record = replace(record, answers_partial=True)
        else:
            self._log.warning(
                "contact_skipped",
                contact_id=record.record_id,
                reason=record.reason,
                field=record.field,
            )
        return record

    def _remember_written(self, contact_id: str, raw: Mapping[str, Any]) -> None:
        worker_ids = {
            field.id
            for key in self.config.score_fields.values()
            if (field := self.catalog.by_key.get(key)) is not None
        }
        values = self.catalog.values_of(raw)
        self._read_values[contact_id] = {fid: values.get(fid) for fid in worker_ids}

    def _submissions(
        self, since: datetime | None, until: datetime, *, contact_id: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Read form and survey submissions created since `since`, grouped by contact."""
        found: list[dict[str, Any]] = []
        start_day = since.date() if since is not None else self.config.history_start
        # endAt is a calendar day; the day after `until` covers every time zone.
        end_day = (until + timedelta(days=1)).date()
        endpoints = []
        if self.config.pull_forms:
            endpoints.append(constants.FORM_SUBMISSIONS)
        if self.config.pull_surveys:
            endpoints.append(constants.SURVEY_SUBMISSIONS)
        for endpoint in endpoints:
            for item in self._paged_submissions(endpoint, start_day, end_day, contact_id):
                created = parse_time(item.get("createdAt"))
                if since is None or (created is not None and created >= since):
                    found.append(item)
        return group_by_contact(found)  # type: ignore[return-value]

    def _paged_submissions(
        self, endpoint: str, start_day: date, end_day: date, contact_id: str | None
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            params: dict[str, Any] = {
                "locationId": self.account_id,
                "page": page,
                "limit": constants.SUBMISSIONS_PAGE_LIMIT,
                # Always both: without them the API returns only the last month.
                "startAt": start_day.isoformat(),
                "endAt": end_day.isoformat(),
            }
            if contact_id:
                params["q"] = contact_id
            _, body = self.client.call("GET", endpoint, params=params)
            items = body.get("submissions") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise DataShapeError("submissions response has no `submissions` array", crm=CRM)
            yield from (item for item in items if isinstance(item, dict))
            meta = body.get("meta") or {}
            next_page = meta.get("nextPage")
            if not items or not next_page or int(next_page) <= page:
                return
            page = int(next_page)

    def _email_activities(
        self, since: datetime | None, *, contact_id: str | None = None
    ) -> dict[str, list[Activity]]:
        """Read email messages changed since `since` (export endpoint), grouped by contact."""
        if not self.config.pull_email_engagement:
            return {}
        grouped: dict[str, list[Activity]] = {}
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {
                "locationId": self.account_id,
                "channel": "Email",
                "limit": constants.MESSAGES_EXPORT_LIMIT,
                "sortBy": "updatedAt",
                "sortOrder": "asc",
            }
            if since is not None:
                # NOTE: the spec does not give the startDate format; ISO-8601 is assumed.
                params["startDate"] = _iso(since)
            if contact_id:
                params["contactId"] = contact_id
            if cursor:
                params["cursor"] = cursor
            _, body = self.client.call(
                "GET", constants.MESSAGES_EXPORT, params=params, group="conversations"
            )
            messages = body.get("messages") if isinstance(body, dict) else None
            if not isinstance(messages, list):
                raise DataShapeError("messages export has no `messages` array", crm=CRM)
            for message in messages:
                if isinstance(message, dict) and message.get("contactId"):
                    activities = message_activities(message)
                    if activities:
                        grouped.setdefault(str(message["contactId"]), []).extend(activities)
            cursor = body.get("nextCursor")
            if not cursor or not messages:
                break
            if cursor in seen:
                raise DataShapeError("messages export repeated a cursor; stopping", crm=CRM)
            seen.add(cursor)
        self._log.info("email_events_fetched", contacts=len(grouped))
        return grouped

    # -- write-back -----------------------------------------------------------------

    def write_scores(self, writes: Sequence[ScoreWrite]) -> WriteReport:
        """Write changed score fields, one `PUT /contacts/{id}` per contact (no batch endpoint).

        A contact whose fields already hold these values gets no request. The
        body carries only `customFields`, never `tags` (which would replace
        every tag). The first write of this instance is read back and checked.
        """
        calls_before = self.client.calls
        written: list[str] = []
        failed: dict[str, str] = {}
        modified_at: dict[str, datetime] = {}
        consecutive_transient = 0
        for write in writes:
            items, stored = self._changed_items(write)
            if not items:
                written.append(write.contact_id)
                continue
            try:
                _, body = self.client.call(
                    "PUT",
                    constants.CONTACT,
                    path_params={"contact_id": write.contact_id},
                    json={"customFields": items},
                    record_id=write.contact_id,
                )
            except SkippableRecordError as exc:
                failed[write.contact_id] = str(exc)
                self._log.warning("score_write_failed", contact_id=write.contact_id, error=str(exc))
                continue
            except TransientError as exc:
                # One contact's server error does not stop the batch, but a run
                # of them means the API is down: then the batch stops.
                if isinstance(exc, RateLimitedError):
                    raise
                consecutive_transient += 1
                failed[write.contact_id] = str(exc)
                self._log.warning("score_write_failed", contact_id=write.contact_id, error=str(exc))
                if consecutive_transient >= MAX_CONSECUTIVE_TRANSIENT_FAILURES:
                    raise
                continue
            consecutive_transient = 0
            self._read_values.setdefault(write.contact_id, {}).update(stored)
            contact = body.get("contact") if isinstance(body, dict) else None
            if isinstance(contact, dict):
                with_time = parse_time(contact.get("dateUpdated"))
                if with_time is not None:
                    modified_at[write.contact_id] = with_time
            if not self._write_verified:
                self._verify_write(write.contact_id, stored)
            written.append(write.contact_id)
        calls = self.client.calls - calls_before
        self._log.info("scores_written", written=len(written), failed=len(failed), calls=calls)
        return WriteReport(
            written=tuple(written), failed=failed, modified_at=modified_at, calls=calls
        )

    def _changed_items(self, write: ScoreWrite) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        values: dict[str, Any] = {
            "score": int(write.score),
            "fit": int(write.fit),
            "intent": int(write.intent),
            "tier": self.config.tier_labels.get(write.tier, write.tier.value),
            "reasons": _truncate(write.reasons, self.config.reasons_max_chars),
        }
        known = self._read_values.get(write.contact_id)
        items: list[dict[str, Any]] = []
        stored: dict[str, Any] = {}
        for name, value in values.items():
            field = self._worker_field(name)
            if known is not None and _same_value(known.get(field.id), value):
                continue
            items.append({"id": field.id, self.config.custom_field_value_key: value})
            stored[field.id] = value
        return items, stored

    def _verify_write(self, contact_id: str, stored: Mapping[str, Any]) -> None:
        """Read the contact back, because the API returns 200 even when it ignored the values."""
        raw = self._get_contact_raw(contact_id)
        values = self.catalog.values_of(raw)
        missing = [
            self.catalog.by_id[field_id].key
            for field_id, value in stored.items()
            if not _same_value(values.get(field_id), value)
        ]
        if missing:
            other = (
                "fieldValue"
                if self.config.custom_field_value_key == "field_value"
                else "field_value"
            )
            raise ConfigurationError(
                f"GoHighLevel accepted the update of contact {contact_id} but did not store "
                f"{', '.join(missing)}: set custom_field_value_key to {other!r} and check the "
                "fields' types with `leadscore setup`",
                crm=CRM,
                endpoint="PUT " + constants.CONTACT,
            )
        self._write_verified = True
        self._log.info("score_write_verified", contact_id=contact_id)

    # -- pipeline --------------------------------------------------------------------

    def move_stage(self, contact: Contact, tier: Tier) -> StageResult:
        stage_id = self.config.stage_ids.get(tier)
        pipeline_id = self.config.pipeline_id
        if stage_id is None or pipeline_id is None:
            return StageResult(contact.id, StageAction.NOT_CONFIGURED)
        try:
            opportunity = self._find_opportunity(contact.id, pipeline_id)
            if opportunity is None:
                if contact.stored_stage in set(self.config.stage_ids.values()):
                    # The worker put this lead's opportunity in the pipeline
                    # before, so staff moved it to another pipeline or deleted it.
                    return StageResult(
                        contact.id,
                        StageAction.KEPT_STAFF_STAGE,
                        stage=contact.stored_stage,
                        detail="the lead's opportunity left the pipeline",
                    )
                return self._create_opportunity(contact, pipeline_id, stage_id)
            return self._move_opportunity(contact.id, opportunity, stage_id)
        except SkippableRecordError as exc:
            self._log.warning("stage_move_failed", contact_id=contact.id, error=str(exc))
            raise

    def _find_opportunity(self, contact_id: str, pipeline_id: str) -> dict[str, Any] | None:
        _, body = self.client.call(
            "GET",
            constants.OPPORTUNITIES_SEARCH,
            params={
                "location_id": self.account_id,
                "contact_id": contact_id,
                "pipeline_id": pipeline_id,
                "status": "all",
                "limit": constants.OPPORTUNITIES_PAGE_LIMIT,
            },
            record_id=contact_id,
        )
        found = [
            item
            for item in (body.get("opportunities") or [] if isinstance(body, dict) else [])
            if isinstance(item, dict) and item.get("pipelineId", pipeline_id) == pipeline_id
        ]
        if not found:
            return None
        # An open one wins; among several, the most recently updated.
        found.sort(
            key=lambda o: (o.get("status") == constants.OPEN_STATUS, str(o.get("updatedAt")))
        )
        return found[-1]

    def _create_opportunity(self, contact: Contact, pipeline_id: str, stage_id: str) -> StageResult:
        _, body = self.client.call(
            "POST",
            constants.OPPORTUNITIES,
            json={
                "pipelineId": pipeline_id,
                "locationId": self.account_id,
                "name": contact.name or contact.email or f"Lead {contact.id}",
                "pipelineStageId": stage_id,
                "status": constants.OPEN_STATUS,
                "contactId": contact.id,
            },
            record_id=contact.id,
        )
        opportunity = body.get("opportunity") if isinstance(body, dict) else None
        record_id = opportunity.get("id") if isinstance(opportunity, dict) else None
        self._log.info("opportunity_created", contact_id=contact.id, stage=stage_id)
        return StageResult(contact.id, StageAction.CREATED, stage=stage_id, record_id=record_id)

    def _move_opportunity(
        self, contact_id: str, opportunity: Mapping[str, Any], stage_id: str
    ) -> StageResult:
        record_id = str(opportunity.get("id"))
        current = opportunity.get("pipelineStageId")
        status = opportunity.get("status")
        if status != constants.OPEN_STATUS:
            return StageResult(
                contact_id,
                StageAction.KEPT_STAFF_STAGE,
                stage=current,
                record_id=record_id,
                detail=f"opportunity is {status}",
            )
        if current == stage_id:
            return StageResult(
                contact_id, StageAction.UNCHANGED, stage=current, record_id=record_id
            )
        if current not in set(self.config.stage_ids.values()):
            return StageResult(
                contact_id,
                StageAction.KEPT_STAFF_STAGE,
                stage=current,
                record_id=record_id,
                detail="stage is not mapped to a tier, so staff set it",
            )
        self.client.call(
            "PUT",
            constants.OPPORTUNITY,
            path_params={"opportunity_id": record_id},
            json={"pipelineStageId": stage_id},
            record_id=contact_id,
        )
        self._log.info("opportunity_moved", contact_id=contact_id, stage=stage_id)
        return StageResult(contact_id, StageAction.MOVED, stage=stage_id, record_id=record_id)

    # -- alerts ---------------------------------------------------------------------

    def create_alert(self, alert: HotLeadAlert, idempotency_key: str) -> str:
        """Tag the contact so the spa's workflow alerts staff; optionally add a task and a workflow.

        Adding a tag twice changes nothing. The task carries the idempotency
        key in its body and is looked up first, so a retried alert never
        creates a second one. The workflow is enrolled only together with a
        new task, or on every call when no task is configured.
        """
        contact_path = {"contact_id": alert.contact_id}
        self.client.call(
            "POST",
            constants.CONTACT_TAGS,
            path_params=contact_path,
            json={"tags": [self.config.alert_tag]},
            record_id=alert.contact_id,
        )
        result = f"tag:{self.config.alert_tag}"
        new_task = True
        if self.config.alert_task:
            marker = TASK_MARKER.format(key=idempotency_key)
            existing = self._task_with_marker(alert.contact_id, marker)
            if existing is not None:
                new_task = False
                result = f"task:{existing}"
            else:
                result = f"task:{self._create_task(alert, marker)}"
        if self.config.alert_workflow_id and new_task:
            # NOTE: without a task there is no record to make enrolment
            # idempotent; a retried alert enrols the contact again.
            self.client.call(
                "POST",
                constants.CONTACT_WORKFLOW,
                path_params={**contact_path, "workflow_id": self.config.alert_workflow_id},
                json={},
                record_id=alert.contact_id,
            )
        self._log.info("alert_created", contact_id=alert.contact_id, result=result)
        return result

    def _task_with_marker(self, contact_id: str, marker: str) -> str | None:
        _, body = self.client.call(
            "GET",
            constants.CONTACT_TASKS,
            path_params={"contact_id": contact_id},
            record_id=contact_id,
        )
        for task in body.get("tasks") or [] if isinstance(body, dict) else []:
            if isinstance(task, dict) and marker in str(task.get("body") or ""):
                return str(task.get("id"))
        return None

    def _create_task(self, alert: HotLeadAlert, marker: str) -> str:
        due = self._now() + timedelta(minutes=self.config.task_due_minutes)
        lead_name = alert.name or "new lead"
        lines = [f"Score {alert.score} ({alert.tier.value}). Call within minutes."]
        lines.extend(f"- {reason}" for reason in alert.reasons)
        if alert.treatment:
            lines.append(f"Treatment: {alert.treatment}")
        lines.append(marker)
        body: dict[str, Any] = {
            "title": f"Hot lead: call {lead_name}",
            "body": "\n".join(lines),
            "dueDate": _iso(due),
            "completed": False,
        }
        assignee = self.config.task_assignee or alert.owner_id
        if assignee:
            body["assignedTo"] = assignee
        _, response = self.client.call(
            "POST",
            constants.CONTACT_TASKS,
            path_params={"contact_id": alert.contact_id},
            json=body,
            record_id=alert.contact_id,
        )
        task = response.get("task") if isinstance(response, dict) else None
        return str(task.get("id")) if isinstance(task, dict) else "created"

    # -- outcomes --------------------------------------------------------------------

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        now = self._now()
        start = since or now - timedelta(days=self.config.outcome_lookback_days)
        yield from self._appointment_outcomes(start, now)
        yield from self._opportunity_outcomes(start)

    def _calendar_ids(self) -> tuple[str, ...]:
        if self.config.calendar_ids:
            return self.config.calendar_ids
        _, body = self.client.call(
            "GET",
            constants.CALENDARS,
            params={"locationId": self.account_id},
            group="conversations",
        )
        calendars = body.get("calendars") if isinstance(body, dict) else None
        return tuple(str(c["id"]) for c in calendars or [] if isinstance(c, dict) and c.get("id"))

    def _appointment_outcomes(self, start: datetime, now: datetime) -> Iterator[Outcome]:
        # Appointments booked in the window may start months later, and staff
        # mark one showed or no-show after it started, maybe before `start`.
        first = start - STATUS_MARKING_LOOKBACK
        end = now + timedelta(days=366)
        for calendar_id in self._calendar_ids():
            _, body = self.client.call(
                "GET",
                constants.CALENDAR_EVENTS,
                params={
                    "locationId": self.account_id,
                    "calendarId": calendar_id,
                    "startTime": str(_millis(first)),
                    "endTime": str(_millis(end)),
                },
                group="conversations",
            )
            for event in body.get("events") or [] if isinstance(body, dict) else []:
                yield from self._event_outcomes(event, start, now)

    def _event_outcomes(self, event: Any, start: datetime, now: datetime) -> Iterator[Outcome]:
        if not isinstance(event, dict) or not event.get("contactId"):
            return
        contact_id = str(event["contactId"])
        record_id = str(event.get("id") or "")
        status = str(event.get("appointmentStatus") or "").lower()
        try:
            added = parse_time(event.get("dateAdded"))
            starts = parse_time(event.get("startTime"))
        except (TypeError, ValueError):
            self._log.warning("appointment_skipped", record_id=record_id, reason="bad date")
            return
        if status != "cancelled" and added is not None and added >= start:
            yield Outcome(contact_id, OutcomeKind.BOOKED, added, "appointment:booked", record_id)
        # The store keeps an outcome read twice once, so re-reading the
        # lookback window on every pull adds nothing twice.
        if starts is not None and start - STATUS_MARKING_LOOKBACK <= starts <= now:
            if status == "showed":
                yield Outcome(
                    contact_id, OutcomeKind.SHOWED, starts, "appointment:showed", record_id
                )
            elif status == "noshow":
                yield Outcome(
                    contact_id, OutcomeKind.NO_SHOW, starts, "appointment:noshow", record_id
                )

    def _opportunity_outcomes(self, start: datetime) -> Iterator[Outcome]:
        for status, kind in (("won", OutcomeKind.WON), ("lost", OutcomeKind.LOST)):
            page = 1
            while True:
                params: dict[str, Any] = {
                    "location_id": self.account_id,
                    "status": status,
                    "limit": constants.OPPORTUNITIES_PAGE_LIMIT,
                    "page": page,
                }
                if self.config.pipeline_id:
                    params["pipeline_id"] = self.config.pipeline_id
                _, body = self.client.call("GET", constants.OPPORTUNITIES_SEARCH, params=params)
                items = body.get("opportunities") if isinstance(body, dict) else None
                for item in items or []:
                    changed = parse_time(item.get("lastStatusChangeAt") or item.get("updatedAt"))
                    if item.get("contactId") and changed is not None and changed >= start:
                        yield Outcome(
                            str(item["contactId"]),
                            kind,
                            changed,
                            f"opportunity:{status}",
                            str(item.get("id") or ""),
                        )
                meta = body.get("meta") or {} if isinstance(body, dict) else {}
                if not items or not meta.get("nextPage"):
                    break
                page += 1

    # -- setup and doctor ---------------------------------------------------------------

    def setup(self, *, apply: bool = True) -> SetupReport:
        report = run_setup(self, apply=apply)
        self._catalog = None  # re-read ids after creating fields
        return report

    def check(self) -> list[CheckResult]:
        return run_checks(self)

    def close(self) -> None:
        self.client.http.close()


def _token_source(
    config: GoHighLevelConfig,
    http: HttpClient,
    token_store: TokenStore | None,
    now: Callable[[], datetime],
) -> StaticToken | OAuthTokenProvider:
    if config.token is not None:
        return StaticToken(config.token.get_secret_value())
    # The config's validator guarantees the OAuth settings when no token is set.
    secret = config.oauth_client_secret
    store = token_store or FileTokenStore(config.token_store_path)  # type: ignore[arg-type]
    return OAuthTokenProvider(
        store=store,
        client_id=config.oauth_client_id or "",
        client_secret=secret.get_secret_value() if secret else "",
        http=http,
        location_id=config.location_id,
        now=now,
    )


def _iso(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _latest(contacts: Sequence[Mapping[str, Any]]) -> datetime | None:
    times = []
    for contact in contacts:
        try:
            at = parse_time(contact.get("dateUpdated"))
        except (TypeError, ValueError):
            continue
        if at is not None:
            times.append(at)
    return max(times) if times else None


def _same_value(stored: Any, wanted: Any) -> bool:
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        return number_value(stored) == round(wanted)
    return stored is not None and str(stored) == str(wanted)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

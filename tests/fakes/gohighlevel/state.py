"""The records a fake GoHighLevel account holds, and the builders tests use to seed them.

One `FakeState` holds many locations (sub-accounts). Each location has its own
contacts, custom fields, pipelines, opportunities, submissions, messages,
calendars and rate-limit budget. Times are timezone-aware UTC datetimes taken
from an injectable clock, so tests can move time forward without sleeping.
"""

from __future__ import annotations

import copy
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# The scopes a sub-account token needs for every endpoint the worker calls.
ALL_SCOPES: frozenset[str] = frozenset(
    {
        "contacts.readonly",
        "contacts.write",
        "locations.readonly",
        "locations/customFields.readonly",
        "locations/customFields.write",
        "opportunities.readonly",
        "opportunities.write",
        "forms.readonly",
        "surveys.readonly",
        "conversations/message.readonly",
        "calendars.readonly",
        "calendars/events.readonly",
        "workflows.readonly",
    }
)

BURST_LIMIT = 100
BURST_INTERVAL = timedelta(seconds=10)
DAILY_LIMIT = 200_000
SEARCH_RESULT_WINDOW = 10_000


class FrozenClock:
    """A clock that only moves when a test calls `advance`."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


def iso(value: datetime) -> str:
    """Format a time the way GoHighLevel does: `2026-12-04T10:00:00.000Z`."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def field_key_for(name: str) -> str:
    """Return the key GoHighLevel derives from a field name: `Lead Score` → `contact.lead_score`."""
    return "contact." + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


@dataclass
class Token:
    """An access token: a private integration token, or an OAuth access token with an expiry."""

    value: str
    location_id: str
    scopes: frozenset[str]
    expires_at: datetime | None = None


@dataclass
class RateBudget:
    """Counters behind the `X-RateLimit-*` headers of one location."""

    window_start: datetime | None = None
    window_count: int = 0
    day: str = ""
    day_count: int = 0


@dataclass
class Location:
    id: str
    name: str = "Glow Med Spa"
    timezone: str = "America/Los_Angeles"
    contacts: dict[str, dict] = field(default_factory=dict)
    # Each contact's past versions as (time, snapshot), so search can lag behind writes.
    history: dict[str, list[tuple[datetime, dict]]] = field(default_factory=dict)
    custom_fields: dict[str, dict] = field(default_factory=dict)
    pipelines: dict[str, dict] = field(default_factory=dict)
    opportunities: dict[str, dict] = field(default_factory=dict)
    form_submissions: list[dict] = field(default_factory=list)
    survey_submissions: list[dict] = field(default_factory=list)
    messages: dict[str, dict] = field(default_factory=dict)
    tasks: dict[str, list[dict]] = field(default_factory=dict)
    workflows: dict[str, dict] = field(default_factory=dict)
    enrolments: list[tuple[str, str]] = field(default_factory=list)
    calendars: dict[str, dict] = field(default_factory=dict)
    events: dict[str, dict] = field(default_factory=dict)
    budget: RateBudget = field(default_factory=RateBudget)


class FakeState:
    """Every location, token and OAuth grant of a fake GoHighLevel, behind one lock."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.locations: dict[str, Location] = {}
        self.tokens: dict[str, Token] = {}
        self.oauth_clients: dict[str, str] = {}
        # refresh token -> (client id, location id, scopes); used ones move to the used set.
        self.refresh_tokens: dict[str, tuple[str, str, frozenset[str]]] = {}
        self.used_refresh_tokens: set[str] = set()
        self.access_token_lifetime = timedelta(seconds=86_399)
        self._ids = itertools.count(1)
        # Seconds a write takes to reach the search index (0 = immediately).
        self.search_lag = timedelta(0)

    def now(self) -> datetime:
        return self.clock()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    # -- locations and tokens ----------------------------------------------

    def add_location(self, location_id: str, **kwargs: object) -> Location:
        location = Location(id=location_id, **kwargs)  # type: ignore[arg-type]
        self.locations[location_id] = location
        return location

    def issue_token(
        self,
        location_id: str,
        *,
        scopes: frozenset[str] | set[str] = ALL_SCOPES,
        value: str | None = None,
        expires_in: timedelta | None = None,
    ) -> str:
        """Create an access token for a location; without `expires_in` it never expires (a PIT)."""
        value = value or f"pit-{self.new_id('tok')}-{location_id.lower()}"
        expires_at = self.now() + expires_in if expires_in is not None else None
        self.tokens[value] = Token(value, location_id, frozenset(scopes), expires_at)
        return value

    def register_oauth_client(self, client_id: str, client_secret: str) -> None:
        self.oauth_clients[client_id] = client_secret

    def issue_oauth_grant(
        self, client_id: str, location_id: str, *, scopes: frozenset[str] = ALL_SCOPES
    ) -> tuple[str, str]:
        """Create an access token and a single-use refresh token, as an install would."""
        access = self.issue_token(
            location_id,
            scopes=scopes,
            value=f"oauth-{self.new_id('at')}",
            expires_in=self.access_token_lifetime,
        )
        refresh = f"refresh-{self.new_id('rt')}"
        self.refresh_tokens[refresh] = (client_id, location_id, frozenset(scopes))
        return access, refresh

    # -- builders ----------------------------------------------------------

    def add_custom_field(
        self,
        location_id: str,
        name: str,
        data_type: str = "TEXT",
        *,
        options: list[str] | None = None,
        field_id: str | None = None,
        field_key: str | None = None,
    ) -> dict:
        location = self.locations[location_id]
        record = {
            "id": field_id or self.new_id("cf"),
            "name": name,
            "fieldKey": field_key or field_key_for(name),
            "placeholder": "",
            "dataType": data_type,
            "position": len(location.custom_fields),
            "picklistOptions": list(options or []),
            "isAllowedCustomOption": False,
            "locationId": location_id,
            "model": "contact",
        }
        location.custom_fields[record["id"]] = record
        return record

    def field_id(self, location_id: str, field_key: str) -> str:
        for record in self.locations[location_id].custom_fields.values():
            if record["fieldKey"] == field_key:
                return record["id"]
        raise KeyError(field_key)

    def add_contact(
        self,
        location_id: str,
        *,
        contact_id: str | None = None,
        custom: dict[str, object] | None = None,
        updated_at: datetime | None = None,
        added_at: datetime | None = None,
        **fields: object,
    ) -> dict:
        """Add a contact; `custom` maps field keys (`contact.timeline`) to values."""
        location = self.locations[location_id]
        now = self.now()
        contact = {
            "id": contact_id or self.new_id("ct"),
            "locationId": location_id,
            "firstName": None,
            "lastName": None,
            "email": None,
            "phone": None,
            "tags": [],
            "dnd": False,
            "source": None,
            "assignedTo": None,
            "dateAdded": iso(added_at or updated_at or now),
            "dateUpdated": iso(updated_at or now),
            "customFields": [],
        }
        contact.update(fields)
        for key, value in (custom or {}).items():
            contact["customFields"].append({"id": self.field_id(location_id, key), "value": value})
        location.contacts[contact["id"]] = contact
        location.history[contact["id"]] = [(updated_at or now, copy.deepcopy(contact))]
        return contact

    def touch_contact(self, location_id: str, contact_id: str) -> None:
        """Bump `dateUpdated` after a write and keep the version for the lagging search index."""
        location = self.locations[location_id]
        contact = location.contacts[contact_id]
        now = self.now()
        contact["dateUpdated"] = iso(now)
        location.history.setdefault(contact_id, []).append((now, copy.deepcopy(contact)))

    def custom_value(self, location_id: str, contact_id: str, field_key: str) -> object:
        field_id = self.field_id(location_id, field_key)
        for item in self.locations[location_id].contacts[contact_id]["customFields"]:
            if item["id"] == field_id:
                return item["value"]
        return None

    def add_pipeline(self, location_id: str, name: str, stages: list[str]) -> dict:
        pipeline = {
            "id": self.new_id("pl"),
            "name": name,
            "stages": [
                {"id": self.new_id("st"), "name": stage, "position": index}
                for index, stage in enumerate(stages)
            ],
            "locationId": location_id,
        }
        self.locations[location_id].pipelines[pipeline["id"]] = pipeline
        return pipeline

    def add_opportunity(
        self,
        location_id: str,
        contact_id: str,
        pipeline_id: str,
        stage_id: str,
        *,
        status: str = "open",
        changed_at: datetime | None = None,
    ) -> dict:
        at = iso(changed_at or self.now())
        opportunity = {
            "id": self.new_id("op"),
            "name": f"Lead {contact_id}",
            "monetaryValue": 0,
            "pipelineId": pipeline_id,
            "pipelineStageId": stage_id,
            "status": status,
            "source": "",
            "contactId": contact_id,
            "locationId": location_id,
            "createdAt": at,
            "updatedAt": at,
            "lastStatusChangeAt": at,
            "lastStageChangeAt": at,
        }
        self.locations[location_id].opportunities[opportunity["id"]] = opportunity
        return opportunity

    def add_submission(
        self,
        location_id: str,
        contact_id: str,
        others: dict[str, object],
        *,
        kind: str = "form",
        created_at: datetime | None = None,
        form_id: str = "form1",
    ) -> dict:
        submission = {
            "id": self.new_id("sub"),
            "contactId": contact_id,
            "createdAt": iso(created_at or self.now()),
            "name": "",
            "email": "",
            "others": others,
        }
        location = self.locations[location_id]
        if kind == "form":
            submission["formId"] = form_id
            location.form_submissions.append(submission)
        else:
            submission["surveyId"] = form_id
            location.survey_submissions.append(submission)
        return submission

    def add_message(
        self,
        location_id: str,
        contact_id: str,
        *,
        status: str = "delivered",
        direction: str = "outbound",
        message_type: str = "TYPE_EMAIL",
        added_at: datetime | None = None,
    ) -> dict:
        at = added_at or self.now()
        message = {
            "id": self.new_id("msg"),
            "type": 3,
            "messageType": message_type,
            "locationId": location_id,
            "contactId": contact_id,
            "conversationId": f"conv-{contact_id}",
            "dateAdded": iso(at),
            "dateUpdated": iso(at),
            "direction": direction,
            "status": status,
            "source": "workflow",
        }
        self.locations[location_id].messages[message["id"]] = message
        return message

    def set_message_status(self, location_id: str, message_id: str, status: str) -> None:
        message = self.locations[location_id].messages[message_id]
        message["status"] = status
        message["dateUpdated"] = iso(self.now())

    def add_calendar(self, location_id: str, name: str = "Consults") -> dict:
        calendar = {"id": self.new_id("cal"), "name": name, "locationId": location_id}
        self.locations[location_id].calendars[calendar["id"]] = calendar
        return calendar

    def add_appointment(
        self,
        location_id: str,
        calendar_id: str,
        contact_id: str,
        *,
        start: datetime,
        status: str = "confirmed",
        added_at: datetime | None = None,
    ) -> dict:
        event = {
            "id": self.new_id("ev"),
            "title": "Consultation",
            "calendarId": calendar_id,
            "locationId": location_id,
            "contactId": contact_id,
            "appointmentStatus": status,
            "startTime": iso(start),
            "endTime": iso(start + timedelta(minutes=30)),
            "dateAdded": iso(added_at or self.now()),
            "dateUpdated": iso(self.now()),
        }
        self.locations[location_id].events[event["id"]] = event
        return event

    def add_workflow(self, location_id: str, name: str = "Hot lead follow-up") -> dict:
        workflow = {"id": self.new_id("wf"), "name": name, "status": "published"}
        self.locations[location_id].workflows[workflow["id"]] = workflow
        return workflow

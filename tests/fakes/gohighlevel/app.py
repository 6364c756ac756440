"""A stateful fake of the GoHighLevel (LeadConnector v2) API.

`FakeGoHighLevel.handle` turns one request into one response in the real API's
shape. The same object serves tests in-process through `responses`
(`fake.mount(rsps)`) and over loopback HTTP (`with fake.serve() as base_url:`).

Every request goes through these checks, in order: a known route; the
official OpenAPI spec, when a validator is attached; the `Version` header; the
bearer token; location access; the burst and daily rate limits, with the real
`X-RateLimit-*` headers; the token's scopes; then injected faults. Every
request is kept in `fake.requests` for assertions.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import requests

from tests.fakes.gohighlevel.state import (
    BURST_INTERVAL,
    BURST_LIMIT,
    DAILY_LIMIT,
    SEARCH_RESULT_WINDOW,
    FakeState,
    Location,
    iso,
)
from tests.fakes.loopback import LoopbackReply, serve_on_loopback

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
CONTACTS_VERSION = "2021-07-28"
MESSAGES_VERSION = "2021-04-15"

EMAIL_MESSAGE_TYPES = frozenset({"TYPE_EMAIL", "TYPE_CAMPAIGN_EMAIL", "TYPE_CUSTOM_EMAIL"})

SCOPE_ERROR = "The token is not authorized for this scope."
LOCATION_ERROR = "The token does not have access to this location."


class FakeRejection(Exception):
    """Raised by a handler to respond with an error status and body."""

    def __init__(self, status: int, message: str | list[str], error: str | None = None) -> None:
        super().__init__(str(message))
        self.status = status
        self.body: dict[str, Any] = {"statusCode": status, "message": message}
        if error:
            self.body["error"] = error


def unprocessable(*problems: str) -> FakeRejection:
    """Return the 422 GoHighLevel sends for invalid input: `message` is a list of strings."""
    return FakeRejection(422, list(problems), "Unprocessable Entity")


@dataclass
class FakeRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.path = parts.path
        self.query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.headers = {key.lower(): value for key, value in self.headers.items()}

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise FakeRejection(400, f"Invalid JSON body: {exc}", "Bad Request") from exc

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"))
        return {key: values[-1] for key, values in parsed.items()}


@dataclass
class FakeResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


@dataclass
class RecordedRequest:
    """What the connector sent, for assertions: method, path, query, headers, JSON or form body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Fault:
    method: str | None
    path: re.Pattern[str]
    response: FakeResponse
    times: int


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    version: str | None
    scope: str | None


def _route(method: str, path: str, handler: str, scope: str | None, version: str | None) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"^{regex}$"), handler, version, scope)


ROUTES: tuple[Route, ...] = (
    _route("POST", "/oauth/token", "oauth_token", None, None),
    _route("POST", "/contacts/search", "search_contacts", "contacts.readonly", CONTACTS_VERSION),
    _route(
        "GET", "/contacts/{contactId}/tasks", "list_tasks", "contacts.readonly", CONTACTS_VERSION
    ),
    _route(
        "POST", "/contacts/{contactId}/tasks", "create_task", "contacts.write", CONTACTS_VERSION
    ),
    _route("POST", "/contacts/{contactId}/tags", "add_tags", "contacts.write", CONTACTS_VERSION),
    _route(
        "DELETE", "/contacts/{contactId}/tags", "remove_tags", "contacts.write", CONTACTS_VERSION
    ),
    _route(
        "POST",
        "/contacts/{contactId}/workflow/{workflowId}",
        "enrol_workflow",
        "contacts.write",
        CONTACTS_VERSION,
    ),
    _route(
        "GET",
        "/contacts/{contactId}/appointments",
        "contact_appointments",
        "contacts.readonly",
        CONTACTS_VERSION,
    ),
    _route("GET", "/contacts/{contactId}", "get_contact", "contacts.readonly", CONTACTS_VERSION),
    _route("PUT", "/contacts/{contactId}", "update_contact", "contacts.write", CONTACTS_VERSION),
    _route(
        "GET",
        "/locations/{locationId}/customFields",
        "list_custom_fields",
        "locations/customFields.readonly",
        CONTACTS_VERSION,
    ),
    _route(
        "POST",
        "/locations/{locationId}/customFields",
        "create_custom_field",
        "locations/customFields.write",
        CONTACTS_VERSION,
    ),
    _route(
        "GET", "/locations/{locationId}", "get_location", "locations.readonly", CONTACTS_VERSION
    ),
    _route(
        "GET",
        "/opportunities/pipelines",
        "list_pipelines",
        "opportunities.readonly",
        CONTACTS_VERSION,
    ),
    _route(
        "GET",
        "/opportunities/search",
        "search_opportunities",
        "opportunities.readonly",
        CONTACTS_VERSION,
    ),
    _route(
        "POST", "/opportunities/", "create_opportunity", "opportunities.write", CONTACTS_VERSION
    ),
    _route(
        "PUT", "/opportunities/{id}", "update_opportunity", "opportunities.write", CONTACTS_VERSION
    ),
    _route("GET", "/forms/submissions", "form_submissions", "forms.readonly", CONTACTS_VERSION),
    _route(
        "GET", "/surveys/submissions", "survey_submissions", "surveys.readonly", CONTACTS_VERSION
    ),
    _route(
        "GET",
        "/conversations/messages/export",
        "export_messages",
        "conversations/message.readonly",
        MESSAGES_VERSION,
    ),
    _route(
        "GET", "/calendars/events", "calendar_events", "calendars/events.readonly", MESSAGES_VERSION
    ),
    _route("GET", "/calendars/", "list_calendars", "calendars.readonly", MESSAGES_VERSION),
    _route("GET", "/workflows/", "list_workflows", "workflows.readonly", CONTACTS_VERSION),
)


class Validator(Protocol):
    """Checks a request against the official spec; see `tests.fakes.openapi.OpenApiValidator`."""

    def validate(self, request: requests.PreparedRequest) -> list[str]: ...


class FakeGoHighLevel:
    """A fake GoHighLevel with many locations, served through `responses` or loopback HTTP."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        base_url: str = DEFAULT_BASE_URL,
        validator: Validator | None = None,
    ) -> None:
        self.state = FakeState(clock)
        self.base_url = base_url.rstrip("/")
        self.validator = validator
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        # Keys of a `customFields` item that carry the value. The v2 spec names
        # `field_value`, the v3 spec `fieldValue`; both work today. Tests narrow
        # this to make the fake silently drop the other key, as the API does
        # with keys it does not know.
        self.accepted_value_keys: set[str] = {"field_value", "fieldValue"}
        # Seconds to put in a `Retry-After` header on 429 answers (None: omit,
        # as the API documents no such header).
        self.retry_after_seconds: int | None = None
        # Called with each request before it is handled, so a test can look at
        # the world (a token file on disk) at the moment the connector calls.
        self.on_request: list[Callable[[FakeRequest], None]] = []
        # Results that page numbers can reach; tests lower it to cross it cheaply.
        self.search_result_window = SEARCH_RESULT_WINDOW

    # -- test controls -------------------------------------------------------

    def fail_next(
        self,
        path: str,
        status: int,
        body: Any = None,
        *,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next `times` requests whose path matches the regex `path` with this response."""
        body = body if body is not None else {"statusCode": status, "message": "Injected failure"}
        self.faults.append(
            Fault(method, re.compile(path), FakeResponse(status, body, dict(headers or {})), times)
        )

    def calls(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Return recorded requests, filtered by method and by a path regex."""
        pattern = re.compile(path) if path else None
        return [
            request
            for request in self.requests
            if (method is None or request.method == method)
            and (pattern is None or pattern.search(request.path))
        ]

    # -- entry points --------------------------------------------------------

    def handle(self, request: FakeRequest) -> FakeResponse:
        for hook in self.on_request:
            hook(request)
        problems = self._validate(request)
        with self.state.lock:
            if problems:
                response = FakeResponse(
                    400, {"statusCode": 400, "message": problems, "error": "Spec validation failed"}
                )
            else:
                response = self._handle(request)
        if request.path != "/oauth/token":
            body: Any = None
            with contextlib.suppress(FakeRejection):
                body = request.json() if request.body and not _is_form(request) else None
            self.requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    request.query,
                    request.headers,
                    body,
                    response.status,
                )
            )
        else:
            self.requests.append(
                RecordedRequest(
                    request.method,
                    request.path,
                    {},
                    request.headers,
                    request.form(),
                    response.status,
                )
            )
        return response

    def mount(self, rsps: Any) -> None:
        """Register this fake on a `responses.RequestsMock` for every method under the base URL."""
        pattern = re.compile(re.escape(self.base_url) + r"/.*")
        for method in ("GET", "POST", "PUT", "DELETE"):
            rsps.add_callback(method, pattern, callback=self._responses_callback)

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve this fake on 127.0.0.1 on a free port; yield its base URL."""

        def respond(method: str, url: str, headers: dict[str, str], body: bytes) -> LoopbackReply:
            response = self.handle(FakeRequest(method, url, headers, body))
            return LoopbackReply(
                response.status, response.headers, response.encoded(), "application/json"
            )

        with serve_on_loopback(respond, ("GET", "POST", "PUT", "DELETE")) as base_url:
            yield base_url

    def _responses_callback(self, prepared: requests.PreparedRequest) -> tuple[int, dict, str]:
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        request = FakeRequest(
            prepared.method or "GET", prepared.url or "", dict(prepared.headers), body
        )
        response = self.handle(request)
        return response.status, response.headers, json.dumps(response.body)

    # -- the pipeline of checks -----------------------------------------------

    def _validate(self, request: FakeRequest) -> list[str]:
        if self.validator is None:
            return []
        prepared = requests.Request(
            request.method,
            self.base_url
            + request.path
            + (f"?{urlsplit(request.url).query}" if "?" in request.url else ""),
            headers=request.headers,
            data=request.body or None,
        ).prepare()
        return self.validator.validate(prepared)

    def _handle(self, request: FakeRequest) -> FakeResponse:
        route, params = self._match(request)
        if route is None:
            return FakeResponse(
                404, {"statusCode": 404, "message": f"Cannot {request.method} {request.path}"}
            )
        if route.handler == "oauth_token":
            return self._guarded(lambda: self.oauth_token(request))

        # NOTE: the API's answer to a missing or wrong Version header is not
        # documented; the fake answers 400 so a connector bug fails loudly.
        version = request.headers.get("version")
        if version != route.version:
            return FakeResponse(
                400,
                {
                    "statusCode": 400,
                    "message": f"Version header must be {route.version!r}, got {version!r}",
                    "error": "Bad Request",
                },
            )

        token = self._authenticate(request)
        if isinstance(token, FakeResponse):
            return token
        location = self.state.locations.get(token.location_id)
        if location is None:
            return FakeResponse(403, {"statusCode": 403, "message": LOCATION_ERROR})
        named = self._named_location(request, params, location)
        if named is not None and named != location.id:
            return FakeResponse(403, {"statusCode": 403, "message": LOCATION_ERROR})

        limited, rate_headers = self._count_rate(location)
        if limited is not None:
            limited.headers.update(rate_headers)
            return limited
        if route.scope and route.scope not in token.scopes:
            return FakeResponse(401, {"statusCode": 401, "message": SCOPE_ERROR}, rate_headers)

        fault = self._take_fault(request)
        if fault is not None:
            response = copy.deepcopy(fault)
            response.headers = {**rate_headers, **response.headers}
            return response

        handler = getattr(self, route.handler)
        response = self._guarded(lambda: handler(request, location, **params))
        response.headers = {**rate_headers, **response.headers}
        return response

    def _match(self, request: FakeRequest) -> tuple[Route | None, dict[str, str]]:
        for route in ROUTES:
            if route.method != request.method:
                continue
            match = route.pattern.match(request.path)
            if match:
                return route, match.groupdict()
        return None, {}

    def _guarded(self, call: Callable[[], FakeResponse]) -> FakeResponse:
        try:
            return call()
        except FakeRejection as rejection:
            return FakeResponse(rejection.status, rejection.body)

    def _authenticate(self, request: FakeRequest) -> Any:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = self.state.tokens.get(value) if scheme.lower() == "bearer" else None
        if token is None:
            return FakeResponse(401, {"statusCode": 401, "message": "Invalid JWT"})
        if token.expires_at is not None and token.expires_at <= self.state.now():
            return FakeResponse(401, {"statusCode": 401, "message": "Invalid JWT"})
        return token

    def _named_location(
        self, request: FakeRequest, params: dict[str, str], location: Location
    ) -> str | None:
        if "locationId" in params:
            return params["locationId"]
        for key in ("locationId", "location_id"):
            if key in request.query:
                return request.query[key]
        if request.method in ("POST", "PUT") and request.body and not _is_form(request):
            with contextlib.suppress(FakeRejection):
                body = request.json()
                if isinstance(body, dict) and "locationId" in body:
                    return str(body["locationId"])
        contact_id = params.get("contactId")
        if contact_id and contact_id not in location.contacts:
            for other in self.state.locations.values():
                if contact_id in other.contacts:
                    return other.id
        return None

    def _count_rate(self, location: Location) -> tuple[FakeResponse | None, dict[str, str]]:
        now = self.state.now()
        budget = location.budget
        if budget.window_start is None or now - budget.window_start >= BURST_INTERVAL:
            budget.window_start = now
            budget.window_count = 0
        day = now.astimezone(UTC).date().isoformat()
        if budget.day != day:
            budget.day = day
            budget.day_count = 0

        limited: FakeResponse | None = None
        if budget.day_count >= DAILY_LIMIT or budget.window_count >= BURST_LIMIT:
            limited = FakeResponse(429, {"statusCode": 429, "message": "Too Many Requests"})
            if self.retry_after_seconds is not None:
                limited.headers["Retry-After"] = str(self.retry_after_seconds)
        else:
            budget.window_count += 1
            budget.day_count += 1
        headers = {
            "X-RateLimit-Max": str(BURST_LIMIT),
            "X-RateLimit-Remaining": str(BURST_LIMIT - budget.window_count),
            "X-RateLimit-Interval-Milliseconds": str(int(BURST_INTERVAL.total_seconds() * 1000)),
            "X-RateLimit-Limit-Daily": str(DAILY_LIMIT),
            "X-RateLimit-Daily-Remaining": str(DAILY_LIMIT - budget.day_count),
        }
        return limited, headers

    def _take_fault(self, request: FakeRequest) -> FakeResponse | None:
        for fault in self.faults:
            if fault.times <= 0:
                continue
            if fault.method is not None and fault.method != request.method:
                continue
            if fault.path.search(request.path):
                fault.times -= 1
                return fault.response
        return None

    # -- OAuth -----------------------------------------------------------------

    def oauth_token(self, request: FakeRequest) -> FakeResponse:
        form = request.form()
        state = self.state
        client_id = form.get("client_id", "")
        if state.oauth_clients.get(client_id) != form.get("client_secret") or not client_id:
            raise FakeRejection(401, "Invalid client credentials", "invalid_client")
        if form.get("grant_type") != "refresh_token":
            raise unprocessable("grant_type must be one of: authorization_code, refresh_token")
        refresh = form.get("refresh_token", "")
        if refresh in state.used_refresh_tokens or refresh not in state.refresh_tokens:
            return FakeResponse(
                401,
                {
                    "statusCode": 401,
                    "error": "invalid_grant",
                    "message": "Invalid grant: refresh token is invalid, expired or already used",
                },
            )
        owner, location_id, scopes = state.refresh_tokens.pop(refresh)
        if owner != client_id:
            raise FakeRejection(401, "Refresh token was issued to another client", "invalid_grant")
        state.used_refresh_tokens.add(refresh)
        access, new_refresh = state.issue_oauth_grant(client_id, location_id, scopes=scopes)
        return FakeResponse(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(state.access_token_lifetime.total_seconds()),
                "refresh_token": new_refresh,
                "scope": " ".join(sorted(scopes)),
                "userType": "Location",
                "locationId": location_id,
                "userId": "user-1",
            },
        )

    # -- contacts ----------------------------------------------------------------

    def _contact(self, location: Location, contact_id: str) -> dict:
        contact = location.contacts.get(contact_id)
        if contact is None:
            raise FakeRejection(404, "Contact not found")
        return contact

    def get_contact(self, request: FakeRequest, location: Location, contactId: str) -> FakeResponse:
        return FakeResponse(200, {"contact": copy.deepcopy(self._contact(location, contactId))})

    def search_contacts(self, request: FakeRequest, location: Location) -> FakeResponse:
        body = request.json()
        problems = []
        if not body.get("locationId"):
            problems.append("locationId should not be empty")
        page_limit = body.get("pageLimit")
        if not isinstance(page_limit, int) or isinstance(page_limit, bool):
            problems.append("pageLimit must be an integer number")
        elif not 1 <= page_limit <= 500:
            problems.append("pageLimit must not be greater than 500")
        if "page" in body and "searchAfter" in body:
            problems.append("page should not be sent together with searchAfter")
        if problems:
            raise unprocessable(*problems)

        predicates = [_filter_predicate(item) for item in body.get("filters") or []]
        sort_field, descending = _sort_spec(body.get("sort"))
        visible = [
            record
            for record in self._indexed_contacts(location)
            if all(predicate(record) for predicate in predicates)
        ]
        visible.sort(key=lambda c: (_millis(c[sort_field]), c["id"]), reverse=descending)

        search_after = body.get("searchAfter")
        if search_after is not None:
            if not isinstance(search_after, list) or len(search_after) != 2:
                raise unprocessable(
                    "searchAfter must be the searchAfter array of a previous result"
                )
            marker = (search_after[0], search_after[1])
            if descending:
                page = [c for c in visible if (_millis(c[sort_field]), c["id"]) < marker]
            else:
                page = [c for c in visible if (_millis(c[sort_field]), c["id"]) > marker]
            page = page[:page_limit]
        else:
            number = body.get("page", 1)
            window = self.search_result_window
            if number * page_limit > window:
                raise FakeRejection(
                    400,
                    f"page and pageLimit can reach only the first {window} records; "
                    "use searchAfter beyond them",
                    "Bad Request",
                )
            page = visible[(number - 1) * page_limit : number * page_limit]

        contacts = []
        for record in page:
            item = copy.deepcopy(record)
            item["searchAfter"] = [_millis(record[sort_field]), record["id"]]
            contacts.append(item)
        return FakeResponse(
            200, {"contacts": contacts, "total": len(visible), "traceId": "trace-search"}
        )

    def _indexed_contacts(self, location: Location) -> list[dict]:
        cutoff = self.state.now() - self.state.search_lag
        visible = []
        for contact_id in location.contacts:
            versions = [snap for at, snap in location.history.get(contact_id, []) if at <= cutoff]
            if versions:
                visible.append(versions[-1])
        return visible

    def update_contact(
        self, request: FakeRequest, location: Location, contactId: str
    ) -> FakeResponse:
        contact = self._contact(location, contactId)
        body = request.json()
        if not isinstance(body, dict):
            raise unprocessable("body must be an object")
        for key in (
            "firstName",
            "lastName",
            "name",
            "email",
            "phone",
            "dnd",
            "source",
            "assignedTo",
        ):
            if key in body:
                contact[key] = body[key]
        if "tags" in body:
            # The real API replaces every tag with this list.
            contact["tags"] = list(body["tags"])
        problems = []
        for index, item in enumerate(body.get("customFields") or []):
            problem = self._apply_custom_value(location, contact, index, item)
            if problem:
                problems.append(problem)
        if problems:
            raise unprocessable(*problems)
        self.state.touch_contact(location.id, contactId)
        return FakeResponse(200, {"succeded": True, "contact": copy.deepcopy(contact)})

    def _apply_custom_value(
        self, location: Location, contact: dict, index: int, item: dict
    ) -> str | None:
        definition = location.custom_fields.get(item.get("id", ""))
        if definition is None:
            return None  # unknown ids are ignored silently, as the API does
        keys = [key for key in ("field_value", "fieldValue") if key in item]
        accepted = [key for key in keys if key in self.accepted_value_keys]
        if not accepted:
            return None
        value = item[accepted[0]]
        data_type = definition["dataType"]
        if data_type in ("NUMERICAL", "MONETORY"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                key = definition["fieldKey"]
                return f"customFields.{index}.field_value must be a number for {key}"
        elif data_type in ("SINGLE_OPTIONS", "RADIO"):
            if value not in definition["picklistOptions"]:
                return (
                    f"customFields.{index}.field_value {value!r} is not an option of "
                    f"{definition['fieldKey']}"
                )
        elif data_type in ("MULTIPLE_OPTIONS", "CHECKBOX"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return f"customFields.{index}.field_value must be an array of strings"
        elif not isinstance(value, str):
            return f"customFields.{index}.field_value must be a string"
        fields = contact["customFields"]
        for existing in fields:
            if existing["id"] == definition["id"]:
                existing["value"] = value
                return None
        fields.append({"id": definition["id"], "value": value})
        return None

    def add_tags(self, request: FakeRequest, location: Location, contactId: str) -> FakeResponse:
        contact = self._contact(location, contactId)
        for tag in request.json().get("tags") or []:
            if tag not in contact["tags"]:
                contact["tags"].append(tag)
        self.state.touch_contact(location.id, contactId)
        return FakeResponse(201, {"tags": list(contact["tags"])})

    def remove_tags(self, request: FakeRequest, location: Location, contactId: str) -> FakeResponse:
        contact = self._contact(location, contactId)
        removed = set(request.json().get("tags") or [])
        contact["tags"] = [tag for tag in contact["tags"] if tag not in removed]
        self.state.touch_contact(location.id, contactId)
        return FakeResponse(200, {"tags": list(contact["tags"])})

    def list_tasks(self, request: FakeRequest, location: Location, contactId: str) -> FakeResponse:
        self._contact(location, contactId)
        return FakeResponse(200, {"tasks": copy.deepcopy(location.tasks.get(contactId, []))})

    def create_task(self, request: FakeRequest, location: Location, contactId: str) -> FakeResponse:
        self._contact(location, contactId)
        body = request.json()
        missing = [key for key in ("title", "dueDate", "completed") if key not in body]
        if missing:
            raise unprocessable(*(f"{key} should not be empty" for key in missing))
        task = {
            "id": self.state.new_id("task"),
            "title": body["title"],
            "body": body.get("body", ""),
            "assignedTo": body.get("assignedTo"),
            "dueDate": body["dueDate"],
            "completed": body["completed"],
            "contactId": contactId,
        }
        location.tasks.setdefault(contactId, []).append(task)
        return FakeResponse(201, {"task": copy.deepcopy(task)})

    def enrol_workflow(
        self, request: FakeRequest, location: Location, contactId: str, workflowId: str
    ) -> FakeResponse:
        self._contact(location, contactId)
        if workflowId not in location.workflows:
            raise FakeRejection(400, f"Workflow {workflowId} not found", "Bad Request")
        location.enrolments.append((contactId, workflowId))
        return FakeResponse(200, {"succeded": True})

    def contact_appointments(
        self, request: FakeRequest, location: Location, contactId: str
    ) -> FakeResponse:
        self._contact(location, contactId)
        events = [e for e in location.events.values() if e["contactId"] == contactId]
        return FakeResponse(200, {"events": copy.deepcopy(events)})

    # -- locations and custom fields ---------------------------------------------

    def get_location(
        self, request: FakeRequest, location: Location, locationId: str
    ) -> FakeResponse:
        return FakeResponse(
            200,
            {"location": {"id": location.id, "name": location.name, "timezone": location.timezone}},
        )

    def list_custom_fields(
        self, request: FakeRequest, location: Location, locationId: str
    ) -> FakeResponse:
        model = request.query.get("model", "all")
        fields = [
            copy.deepcopy(f)
            for f in location.custom_fields.values()
            if model in ("all", f["model"])
        ]
        return FakeResponse(200, {"customFields": fields})

    def create_custom_field(
        self, request: FakeRequest, location: Location, locationId: str
    ) -> FakeResponse:
        body = request.json()
        missing = [key for key in ("name", "dataType") if not body.get(key)]
        if missing:
            raise unprocessable(*(f"{key} should not be empty" for key in missing))
        for existing in location.custom_fields.values():
            if existing["name"].lower() == str(body["name"]).lower():
                raise FakeRejection(
                    400, f"Custom field {body['name']!r} already exists", "Bad Request"
                )
        options = [
            option["label"] if isinstance(option, dict) else str(option)
            for option in body.get("textBoxListOptions") or body.get("options") or []
        ]
        record = self.state.add_custom_field(
            location.id, body["name"], body["dataType"], options=options
        )
        record["model"] = body.get("model", "contact")
        if body.get("placeholder"):
            record["placeholder"] = body["placeholder"]
        return FakeResponse(201, {"customField": copy.deepcopy(record)})

    # -- opportunities -------------------------------------------------------------

    def list_pipelines(self, request: FakeRequest, location: Location) -> FakeResponse:
        return FakeResponse(200, {"pipelines": copy.deepcopy(list(location.pipelines.values()))})

    def search_opportunities(self, request: FakeRequest, location: Location) -> FakeResponse:
        query = request.query
        limit = int(float(query.get("limit", 20)))
        if limit > 100:
            raise unprocessable("limit must not be greater than 100")
        page = int(float(query.get("page", 1)))
        status = query.get("status", "all")
        matches = [
            o
            for o in location.opportunities.values()
            if (not query.get("contact_id") or o["contactId"] == query["contact_id"])
            and (not query.get("pipeline_id") or o["pipelineId"] == query["pipeline_id"])
            and (status == "all" or o["status"] == status)
        ]
        matches.sort(key=lambda o: (o["updatedAt"], o["id"]))
        chunk = matches[(page - 1) * limit : page * limit]
        has_next = page * limit < len(matches)
        meta = {
            "total": len(matches),
            "currentPage": page,
            "nextPage": page + 1 if has_next else None,
            "prevPage": page - 1 if page > 1 else None,
        }
        return FakeResponse(
            200, {"opportunities": copy.deepcopy(chunk), "meta": meta, "aggregations": {}}
        )

    def create_opportunity(self, request: FakeRequest, location: Location) -> FakeResponse:
        body = request.json()
        missing = [
            k
            for k in ("pipelineId", "locationId", "name", "status", "contactId")
            if not body.get(k)
        ]
        if missing:
            raise unprocessable(*(f"{key} should not be empty" for key in missing))
        self._contact(location, body["contactId"])
        pipeline = location.pipelines.get(body["pipelineId"])
        if pipeline is None:
            raise FakeRejection(400, "Pipeline not found", "Bad Request")
        for existing in location.opportunities.values():
            if (
                existing["contactId"] == body["contactId"]
                and existing["pipelineId"] == pipeline["id"]
            ):
                raise FakeRejection(400, "Can not create duplicate opportunity for the contact.")
        stage_id = body.get("pipelineStageId") or pipeline["stages"][0]["id"]
        opportunity = self.state.add_opportunity(
            location.id, body["contactId"], pipeline["id"], stage_id, status=body["status"]
        )
        opportunity["name"] = body["name"]
        return FakeResponse(201, {"opportunity": copy.deepcopy(opportunity)})

    def update_opportunity(self, request: FakeRequest, location: Location, id: str) -> FakeResponse:
        opportunity = location.opportunities.get(id)
        if opportunity is None:
            raise FakeRejection(404, "Opportunity not found")
        body = request.json()
        now = iso(self.state.now())
        if "pipelineStageId" in body and body["pipelineStageId"] != opportunity["pipelineStageId"]:
            opportunity["pipelineStageId"] = body["pipelineStageId"]
            opportunity["lastStageChangeAt"] = now
        if "status" in body and body["status"] != opportunity["status"]:
            opportunity["status"] = body["status"]
            opportunity["lastStatusChangeAt"] = now
        opportunity["updatedAt"] = now
        return FakeResponse(200, {"opportunity": copy.deepcopy(opportunity)})

    # -- forms, surveys, messages, calendars ---------------------------------------

    def form_submissions(self, request: FakeRequest, location: Location) -> FakeResponse:
        return self._submissions(request, location.form_submissions)

    def survey_submissions(self, request: FakeRequest, location: Location) -> FakeResponse:
        return self._submissions(request, location.survey_submissions)

    def _submissions(self, request: FakeRequest, records: list[dict]) -> FakeResponse:
        query = request.query
        limit = int(float(query.get("limit", 20)))
        if limit > 100:
            raise unprocessable("limit must not be greater than 100")
        page = int(float(query.get("page", 1)))
        today = self.state.now().date()
        # Without startAt and endAt the API returns only the last month.
        start = query.get("startAt") or (today - timedelta(days=30)).isoformat()
        end = query.get("endAt") or today.isoformat()
        matches = [r for r in records if start <= r["createdAt"][:10] <= end]
        if query.get("q"):
            matches = [r for r in matches if query["q"] in (r["contactId"], r["email"], r["name"])]
        matches.sort(key=lambda r: (r["createdAt"], r["id"]))
        chunk = matches[(page - 1) * limit : page * limit]
        meta = {
            "total": len(matches),
            "currentPage": page,
            "nextPage": page + 1 if page * limit < len(matches) else None,
            "prevPage": page - 1 if page > 1 else None,
        }
        return FakeResponse(200, {"submissions": copy.deepcopy(chunk), "meta": meta})

    def export_messages(self, request: FakeRequest, location: Location) -> FakeResponse:
        query = request.query
        limit = int(float(query.get("limit", 100)))
        if not 10 <= limit <= 500:
            raise unprocessable("limit must be between 10 and 500")
        channel = query.get("channel")
        sort_key = "dateUpdated" if query.get("sortBy") == "updatedAt" else "dateAdded"
        messages = [
            m
            for m in location.messages.values()
            if (m["messageType"] in EMAIL_MESSAGE_TYPES) == (channel == "Email")
        ]
        # NOTE: the spec does not say which time startDate and endDate bound;
        # the fake applies them to the sort field.
        if query.get("startDate"):
            messages = [m for m in messages if _millis(m[sort_key]) >= _millis(query["startDate"])]
        if query.get("endDate"):
            messages = [m for m in messages if _millis(m[sort_key]) <= _millis(query["endDate"])]
        if query.get("contactId"):
            messages = [m for m in messages if m["contactId"] == query["contactId"]]
        messages.sort(
            key=lambda m: (_millis(m[sort_key]), m["id"]), reverse=query.get("sortOrder") == "desc"
        )
        offset = 0
        if query.get("cursor"):
            try:
                offset = json.loads(base64.b64decode(query["cursor"]))["offset"]
            except (ValueError, KeyError) as exc:
                raise FakeRejection(400, "Invalid cursor", "Bad Request") from exc
        chunk = messages[offset : offset + limit]
        next_offset = offset + len(chunk)
        next_cursor = (
            base64.b64encode(json.dumps({"offset": next_offset}).encode()).decode()
            if next_offset < len(messages)
            else None
        )
        return FakeResponse(
            200,
            {"messages": copy.deepcopy(chunk), "nextCursor": next_cursor, "total": len(messages)},
        )

    def list_calendars(self, request: FakeRequest, location: Location) -> FakeResponse:
        return FakeResponse(200, {"calendars": copy.deepcopy(list(location.calendars.values()))})

    def calendar_events(self, request: FakeRequest, location: Location) -> FakeResponse:
        query = request.query
        if not any(query.get(key) for key in ("calendarId", "userId", "groupId")):
            raise unprocessable("one of calendarId, userId or groupId is required")
        try:
            start = int(query["startTime"])
            end = int(query["endTime"])
        except (KeyError, ValueError) as exc:
            raise unprocessable("startTime and endTime must be epoch milliseconds") from exc
        events = [
            e
            for e in location.events.values()
            if (not query.get("calendarId") or e["calendarId"] == query["calendarId"])
            and start <= _millis(e["startTime"]) <= end
        ]
        return FakeResponse(200, {"events": copy.deepcopy(events)})

    def list_workflows(self, request: FakeRequest, location: Location) -> FakeResponse:
        return FakeResponse(200, {"workflows": copy.deepcopy(list(location.workflows.values()))})


def _is_form(request: FakeRequest) -> bool:
    return "application/x-www-form-urlencoded" in request.headers.get("content-type", "")


def _millis(value: Any) -> int:
    """Return epoch milliseconds for an ISO-8601 string or a number already in milliseconds."""
    if isinstance(value, int | float):
        return int(value)
    text = str(value)
    if text.isdigit():
        return int(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


_RANGE_TESTS: dict[str, Callable[[int, int], bool]] = {
    "gte": lambda value, bound: value >= bound,
    "gt": lambda value, bound: value > bound,
    "lte": lambda value, bound: value <= bound,
    "lt": lambda value, bound: value < bound,
}


def _filter_predicate(item: dict) -> Callable[[dict], bool]:
    field_name = item.get("field")
    operator = item.get("operator")
    value = item.get("value")
    if field_name in ("dateUpdated", "dateAdded") and operator == "range":
        if not isinstance(value, dict) or not set(value) <= set(_RANGE_TESTS) or not value:
            raise unprocessable(f"filters.{field_name}.value must be an object of gte, gt, lte, lt")
        bounds = {key: _millis(bound) for key, bound in value.items()}

        def in_range(record: dict) -> bool:
            at = _millis(record[field_name])
            return all(_RANGE_TESTS[key](at, bound) for key, bound in bounds.items())

        return in_range
    if operator == "eq" and field_name in ("id", "email", "phone"):
        return lambda record: record.get(field_name) == value
    raise unprocessable(
        f"filter on field {field_name!r} with operator {operator!r} is not supported"
    )


def _sort_spec(sort: Any) -> tuple[str, bool]:
    if not sort:
        return "dateAdded", True
    first = sort[0]
    field_name = first.get("field")
    if field_name not in ("dateUpdated", "dateAdded"):
        raise unprocessable(f"sort on field {field_name!r} is not supported")
    return field_name, first.get("direction", "desc") == "desc"

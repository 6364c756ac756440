"""A stateful fake of the HubSpot CRM API, for connector, CLI and daemon tests.

One `FakeHubSpot` serves requests two ways: in-process through a
`responses.RequestsMock` (`fake.install(rsps)`), or as a real HTTP server on
127.0.0.1 (`with fake.serve() as base_url:`) for tests that run the CLI in a
subprocess.

It keeps contacts, deals, tasks, associations, contact properties and groups,
one deal pipeline, owners and OAuth tokens, and behaves like HubSpot where
the connector depends on it:

* every write bumps the record's `lastmodifieddate`, including the worker's own;
* search returns at most 200 per page, returns 400 past 10,000 results, and
  does not see a record changed less than `index_lag_seconds` ago;
* batches take at most 100 inputs; a batch update with a value the fake rejects
  gets a 207 naming the failed ids;
* the 10-second burst limit, the search limit of 5 per second and an optional
  daily limit return 429 with HubSpot's body and `X-HubSpot-RateLimit-*` headers;
* each token has a scope set, and a call without a needed scope gets 403
  naming the scope;
* every request is checked against the official spec (see `spec.py`) when the
  specs are present, and a request that breaks it gets 400 listing the problems.

`calls` logs every request for counting.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses

from tests.fakes.hubspot.spec import hubspot_validator
from tests.fakes.loopback import LoopbackReply, serve_on_loopback
from tests.fakes.openapi import problems_response_body

FIXTURES = Path(__file__).parent / "fixtures"
DEFAULT_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
ALL_SCOPES = frozenset(
    {
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.objects.deals.read",
        "crm.objects.deals.write",
        "crm.schemas.contacts.read",
        "crm.schemas.contacts.write",
        "crm.schemas.deals.read",
        "crm.objects.owners.read",
    }
)
SEARCH_PAGE_MAX = 200
SEARCH_CAP = 10_000
LIST_PAGE_MAX = 100
BATCH_MAX = 100
MAX_FILTERS = 18

Response = tuple[int, dict[str, str], Any]


class SimulatedClock:
    """Epoch seconds that move only when `sleep` or `advance` is called."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start
        self.slept = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)
            self.slept += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, tz=UTC)


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class ScriptedFailure:
    method: str
    path: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    # Raised by the transport in place of a response (a timeout, a reset), after
    # the request was served when `after_serving` is set.
    exception: Exception | None = None
    after_serving: bool = False


@dataclass
class _Object:
    id: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False


@dataclass
class _OAuthClient:
    secret: str
    refresh_token: str
    scopes: frozenset[str]
    expires_in: int = 1800


@dataclass
class _Window:
    """A sliding window of request times for one rate limit."""

    limit: int
    seconds: float
    times: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def remaining(self) -> int:
        return max(0, self.limit - len(self.times))


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _invalid_value_message(name: str, error: str, value: str) -> str:
    detail = json.dumps({"isValid": False, "name": name, "error": error, "message": f"{value!r}"})
    return f"Property values were not valid: [{detail}]"


def _sort_key(value: str | None) -> tuple[int, float, str]:
    """Order values as HubSpot does for numbers and dates, falling back to text."""
    if value is None or value == "":
        return (1, 0.0, "")
    number = _as_number(value)
    if number is not None:
        return (0, number, "")
    return (0, 0.0, value.lower())


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


class FakeHubSpot:
    """The fake account. All state is public so tests can arrange and inspect it."""

    def __init__(
        self,
        *,
        portal_id: str = "62515",
        token: str = DEFAULT_TOKEN,
        scopes: frozenset[str] = ALL_SCOPES,
        clock: Callable[[], float] = time.time,
        index_lag_seconds: float = 0.0,
        burst_limit: int = 100,
        burst_seconds: float = 10.0,
        search_per_second: int = 5,
        daily_limit: int | None = None,
        validate: bool = True,
        request_seconds: float = 0.0,
    ) -> None:
        self.portal_id = portal_id
        self.clock = clock
        # Simulated time each request takes, applied through `clock.advance` when
        # the clock has one. Without it every call in a burst shares one millisecond.
        self.request_seconds = request_seconds
        self.index_lag_seconds = index_lag_seconds

        self.tokens: dict[str, tuple[frozenset[str], float | None]] = {token: (scopes, None)}
        self.oauth_clients: dict[str, _OAuthClient] = {}

        self.objects: dict[str, dict[str, _Object]] = {"contacts": {}, "deals": {}, "tasks": {}}
        self._sorted_ids: dict[str, list[int]] = {"contacts": [], "deals": [], "tasks": []}
        self.associations: dict[tuple[str, str, str], dict[str, int]] = {}
        self.properties: dict[str, dict[str, Any]] = {
            item["name"]: item
            for item in json.loads((FIXTURES / "contact_properties.json").read_text())["results"]
        }
        self.groups: dict[str, dict[str, Any]] = {
            name: {"name": name, "label": name, "displayOrder": -1, "archived": False}
            for name in {prop["groupName"] for prop in self.properties.values()}
        }
        self.pipelines = {
            "default": json.loads((FIXTURES / "deal_pipeline_default.json").read_text())
        }
        self.owners = json.loads((FIXTURES / "owners.json").read_text())["results"]

        # property name -> predicate on the value; a match fails that input in a batch (207).
        self.rejected_values: dict[str, Callable[[str], bool]] = {}
        # contact id -> error category returned once for that input in a batch update.
        self.transient_batch_failures: dict[str, str] = {}
        self.failures: list[ScriptedFailure] = []
        self.calls: list[Call] = []
        self.spec_problems: list[str] = []
        self.validator = hubspot_validator() if validate else None

        self._burst_window = _Window(burst_limit, burst_seconds)
        self._search_window = _Window(search_per_second, 1.0)
        self.daily_limit = daily_limit
        self._daily_used = 0

        self._next_id = 1000
        self._lock = threading.RLock()

    # -- arranging state ------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def add_object(
        self,
        object_type: str,
        properties: Mapping[str, object],
        *,
        modified_ms: int | None = None,
        object_id: str | None = None,
    ) -> str:
        """Create a record directly (no request logged) and return its id."""
        with self._lock:
            record_id = object_id or self._new_id()
            stamp = modified_ms if modified_ms is not None else self.now_ms()
            values = {k: str(v) for k, v in properties.items() if v is not None}
            values["hs_object_id"] = record_id
            values.setdefault("createdate", _iso(stamp))
            modified_key = (
                "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
            )
            values[modified_key] = _iso(stamp)
            self.objects[object_type][record_id] = _Object(record_id, values, stamp, stamp)
            bisect.insort(self._sorted_ids[object_type], int(record_id))
            return record_id

    def add_contact(self, properties: Mapping[str, object] | None = None, **kwargs: Any) -> str:
        return self.add_object("contacts", properties or {}, **kwargs)

    def contact(self, contact_id: str) -> dict[str, str]:
        return self.objects["contacts"][contact_id].properties

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int
    ) -> None:
        """Store an association in both directions."""
        with self._lock:
            self.associations.setdefault((from_type, from_id, to_type), {})[to_id] = type_id
            self.associations.setdefault((to_type, to_id, from_type), {})[from_id] = type_id

    def add_oauth_client(
        self, client_id: str, secret: str, refresh_token: str, **kwargs: Any
    ) -> None:
        self.oauth_clients[client_id] = _OAuthClient(
            secret, refresh_token, kwargs.pop("scopes", ALL_SCOPES), **kwargs
        )

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        exception: Exception | None = None,
        after_serving: bool = False,
    ) -> None:
        """Return `status` for the next `times` matching requests instead of serving them.

        With `exception`, the transport raises it instead of returning a
        response (in-process only). With `after_serving` as well, the fake
        applies the request first, like a read timeout on a completed request.
        """
        self.failures.append(
            ScriptedFailure(
                method.upper(),
                re.compile(path_pattern),
                status,
                body if body is not None else {"status": "error", "message": f"HTTP {status}"},
                dict(headers or {}),
                times,
                exception,
                after_serving,
            )
        )

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        pattern = re.compile(path_pattern)
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    # -- transport ------------------------------------------------------------

    def install(
        self, rsps: responses.RequestsMock, base_url: str = "https://api.hubapi.com"
    ) -> None:
        """Serve every request to `base_url` from this fake through `rsps`."""
        pattern = re.compile(re.escape(base_url.rstrip("/")) + r"(/.*)?$")

        def callback(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            status, headers, body = self.handle(request)
            if isinstance(body, Exception):
                raise body
            return status, headers, json.dumps(body) if body is not None else ""

        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            rsps.add_callback(method, pattern, callback=callback)

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the fake over HTTP on 127.0.0.1 and yield its base URL."""

        def respond(
            method: str, url: str, headers: dict[str, str], body: bytes
        ) -> LoopbackReply | None:
            prepared = requests.Request(method, url, headers=headers, data=body or None).prepare()
            status, reply_headers, reply_body = self.handle(prepared)
            if isinstance(reply_body, Exception):
                # Over HTTP a scripted exception becomes a dropped connection.
                return None
            payload = json.dumps(reply_body).encode() if reply_body is not None else b""
            return LoopbackReply(status, reply_headers, payload, "application/json;charset=utf-8")

        methods = ("GET", "POST", "PATCH", "PUT", "DELETE")
        with serve_on_loopback(respond, methods) as base_url:
            yield base_url

    # -- request handling -----------------------------------------------------

    def handle(self, request: requests.PreparedRequest) -> Response:
        with self._lock:
            advance = getattr(self.clock, "advance", None)
            if self.request_seconds and advance is not None:
                advance(self.request_seconds)
            response = self._handle(request)
            self.calls[-1].status = response[0]
            return response

    def _handle(self, request: requests.PreparedRequest) -> Response:
        url = urlsplit(request.url or "")
        method = (request.method or "GET").upper()
        path = url.path
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        content_type = (request.headers.get("Content-Type") or "").split(";")[0]
        body: Any = None
        if raw:
            if content_type == "application/x-www-form-urlencoded":
                body = dict(parse_qsl(raw))
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
        self.calls.append(Call(method, path, query, body))

        failing_after: Exception | None = None
        for failure in self.failures:
            if failure.remaining > 0 and failure.method == method and failure.path.search(path):
                failure.remaining -= 1
                if failure.exception is None:
                    return failure.status, dict(failure.headers), failure.body
                if not failure.after_serving:
                    return 0, {}, failure.exception
                failing_after = failure.exception
                break

        if self.validator is not None:
            problems = self.validator.validate(request)
            if problems:
                self.spec_problems.extend(problems)
                return 400, {}, problems_response_body(problems)

        route = self._route(method, path)
        if route is None:
            return self._error(404, f"no fake route for {method} {path}", "OBJECT_NOT_FOUND")
        handler, params, scopes = route

        if path != "/oauth/v1/token":
            denied = self._authorize(request, scopes)
            if denied is not None:
                return denied
            limited = self._rate_limit(path.endswith("/search"))
            if limited is not None:
                return limited

        status, headers, payload = handler(params, query, body)
        if failing_after is not None:
            return 0, {}, failing_after
        if path != "/oauth/v1/token" and not path.endswith("/search"):
            headers = {**self._rate_headers(), **headers}
        return status, headers, payload

    def _error(self, status: int, message: str, category: str, **extra: Any) -> Response:
        correlation = str(uuid.uuid4())
        body = {
            "status": "error",
            "message": message,
            "correlationId": correlation,
            "category": category,
            **extra,
        }
        return status, {"X-HubSpot-Correlation-Id": correlation}, body

    def _authorize(
        self, request: requests.PreparedRequest, scopes: tuple[str, ...]
    ) -> Response | None:
        header = request.headers.get("Authorization") or ""
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        entry = self.tokens.get(token)
        if entry is None or (entry[1] is not None and self.clock() >= entry[1]):
            return self._error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        granted = entry[0]
        if scopes and not any(scope in granted for scope in scopes):
            return self._error(
                403,
                "This app hasn't been granted all required scopes to make this call. "
                "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": list(scopes)},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )
        return None

    def _rate_limit(self, is_search: bool) -> Response | None:
        now = self.clock()
        if self.daily_limit is not None:
            if self._daily_used >= self.daily_limit:
                return self._rate_error("You have reached your daily limit.", "DAILY")
            self._daily_used += 1
        if is_search:
            if not self._search_window.admit(now):
                return self._rate_error("You have reached your secondly limit.", "SECONDLY")
            return None
        if not self._burst_window.admit(now):
            status, headers, body = self._rate_error(
                "You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING"
            )
            return status, {**self._rate_headers(), **headers}, body
        return None

    def _rate_error(self, message: str, policy: str) -> Response:
        status, headers, body = self._error(429, message, "RATE_LIMITS")
        body.pop("category")
        body.update(
            {"errorType": "RATE_LIMIT", "policyName": policy, "requestId": str(uuid.uuid4())}
        )
        return status, headers, body

    def _rate_headers(self) -> dict[str, str]:
        headers = {
            "X-HubSpot-RateLimit-Max": str(self._burst_window.limit),
            "X-HubSpot-RateLimit-Remaining": str(self._burst_window.remaining()),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(
                int(self._burst_window.seconds * 1000)
            ),
        }
        if self.daily_limit is not None:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily_limit - self._daily_used)
            )
        return headers

    # -- routing --------------------------------------------------------------

    def _route(self, method: str, path: str):
        schema_read = ("crm.objects.contacts.read", "crm.schemas.contacts.read")
        schema_write = ("crm.schemas.contacts.write",)
        pipeline_read = ("crm.objects.deals.read", "crm.schemas.deals.read")
        objects = r"(?P<type>contacts|deals|0-3|tasks)"
        table = [
            ("POST", "/oauth/v1/token", self._oauth_token, ()),
            (
                "GET",
                r"/crm/v3/properties/contacts/groups/(?P<name>[^/]+)",
                self._get_group,
                schema_read,
            ),
            ("POST", r"/crm/v3/properties/contacts/groups", self._create_group, schema_write),
            ("GET", r"/crm/v3/properties/contacts", self._list_properties, schema_read),
            ("POST", r"/crm/v3/properties/contacts", self._create_property, schema_write),
            (
                "GET",
                r"/crm/v3/properties/contacts/(?P<name>[^/]+)",
                self._get_property,
                schema_read,
            ),
            ("GET", r"/crm/v3/pipelines/deals/(?P<id>[^/]+)", self._get_pipeline, pipeline_read),
            ("GET", r"/crm/v3/owners", self._list_owners, ("crm.objects.owners.read",)),
            (
                "GET",
                r"/crm/v4/objects/(?P<type>\w+)/(?P<id>\d+)/associations/(?P<to>\w+)",
                self._get_associations,
                (),
            ),
            (
                "POST",
                r"/crm/v4/associations/(?P<type>\w+)/(?P<to>\w+)/batch/read",
                self._batch_read_associations,
                (),
            ),
            ("POST", rf"/crm/v3/objects/{objects}/search", self._search, ()),
            ("POST", rf"/crm/v3/objects/{objects}/batch/update", self._batch_update, ()),
            ("POST", rf"/crm/v3/objects/{objects}/batch/read", self._batch_read, ()),
            ("GET", rf"/crm/v3/objects/{objects}", self._list, ()),
            ("POST", rf"/crm/v3/objects/{objects}", self._create, ()),
            ("GET", rf"/crm/v3/objects/{objects}/(?P<id>[^/]+)", self._get, ()),
            ("PATCH", rf"/crm/v3/objects/{objects}/(?P<id>[^/]+)", self._update, ()),
        ]
        for route_method, pattern, handler, scopes in table:
            if route_method != method:
                continue
            match = re.fullmatch(pattern, path)
            if match is None:
                continue
            params = match.groupdict()
            if "type" in params:
                params["type"] = "deals" if params["type"] == "0-3" else params["type"]
                if not scopes:
                    scopes = self._object_scopes(params["type"], method, path)
            return handler, params, scopes
        return None

    @staticmethod
    def _object_scopes(object_type: str, method: str, path: str) -> tuple[str, ...]:
        writes = method in ("PATCH", "PUT", "DELETE") or (
            method == "POST" and not path.endswith(("/search", "/batch/read"))
        )
        if path.startswith("/crm/v4/"):
            writes = False
        # Tasks use the contact scopes, as HubSpot's tasks spec declares.
        family = "deals" if object_type == "deals" else "contacts"
        return (f"crm.objects.{family}.{'write' if writes else 'read'}",)

    # -- handlers: OAuth, properties, pipelines, owners -----------------------

    def _oauth_token(self, params, query, body) -> Response:
        form = body if isinstance(body, dict) else {}
        client = self.oauth_clients.get(form.get("client_id", ""))
        if (
            client is None
            or form.get("grant_type") != "refresh_token"
            or form.get("client_secret") != client.secret
            or form.get("refresh_token") != client.refresh_token
        ):
            return (
                400,
                {},
                {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"},
            )
        access = f"oauth-access-{uuid.uuid4().hex}"
        self.tokens[access] = (client.scopes, self.clock() + client.expires_in)
        return (
            200,
            {},
            {
                "token_type": "bearer",
                "refresh_token": client.refresh_token,
                "access_token": access,
                "expires_in": client.expires_in,
            },
        )

    def _get_group(self, params, query, body) -> Response:
        group = self.groups.get(params["name"])
        if group is None:
            return self._error(404, f"group {params['name']} does not exist", "OBJECT_NOT_FOUND")
        return 200, {}, group

    def _create_group(self, params, query, body) -> Response:
        name = body["name"]
        if name in self.groups:
            return self._error(409, f"A property group named '{name}' already exists.", "CONFLICT")
        self.groups[name] = {
            "name": name,
            "label": body.get("label", name),
            "displayOrder": body.get("displayOrder", -1),
            "archived": False,
        }
        return 201, {}, self.groups[name]

    def _list_properties(self, params, query, body) -> Response:
        return 200, {}, {"results": [copy.deepcopy(p) for p in self.properties.values()]}

    def _get_property(self, params, query, body) -> Response:
        prop = self.properties.get(params["name"])
        if prop is None:
            return self._error(404, f"Property {params['name']} does not exist", "OBJECT_NOT_FOUND")
        return 200, {}, prop

    def _create_property(self, params, query, body) -> Response:
        name = body["name"]
        if name in self.properties:
            return self._error(409, f"Property named '{name}' already exists.", "CONFLICT")
        if body["groupName"] not in self.groups:
            return self._error(400, f"group {body['groupName']} does not exist", "VALIDATION_ERROR")
        created = {
            "name": name,
            "label": body["label"],
            "type": body["type"],
            "fieldType": body["fieldType"],
            "groupName": body["groupName"],
            "description": body.get("description", ""),
            "options": [
                {"displayOrder": -1, "hidden": False, **option}
                for option in body.get("options", [])
            ],
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": False,
            "hidden": False,
            "hubspotDefined": False,
            "formField": body.get("formField", False),
            "displayOrder": -1,
            "createdAt": _iso(self.now_ms()),
            "updatedAt": _iso(self.now_ms()),
            "archived": False,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": False,
                "readOnlyValue": False,
            },
        }
        self.properties[name] = created
        return 201, {}, created

    def _get_pipeline(self, params, query, body) -> Response:
        pipeline = self.pipelines.get(params["id"])
        if pipeline is None:
            return self._error(404, f"pipeline {params['id']} not found", "OBJECT_NOT_FOUND")
        return 200, {}, pipeline

    def _list_owners(self, params, query, body) -> Response:
        return 200, {}, {"results": self.owners}

    # -- handlers: objects ----------------------------------------------------

    def _public(self, object_type: str, record: _Object, requested: list[str] | None) -> dict:
        if requested is None:
            if object_type == "contacts":
                requested = [
                    "createdate",
                    "email",
                    "firstname",
                    "hs_object_id",
                    "lastmodifieddate",
                    "lastname",
                ]
            else:
                requested = ["createdate", "hs_lastmodifieddate", "hs_object_id"]
        return {
            "id": record.id,
            "properties": {name: record.properties.get(name) for name in requested},
            "createdAt": _iso(record.created_ms),
            "updatedAt": _iso(record.updated_ms),
            "archived": record.archived,
        }

    def _requested(self, value: Any) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return [name for name in value.split(",") if name]
        return list(value)

    def _list(self, params, query, body) -> Response:
        object_type = params["type"]
        limit = min(int(query.get("limit", "10")), LIST_PAGE_MAX)
        ids = self._sorted_ids[object_type]
        start = 0
        if "after" in query:
            start = bisect.bisect_left(ids, int(query["after"]))
        page = ids[start : start + limit]
        store = self.objects[object_type]
        requested = self._requested(query.get("properties"))
        payload: dict[str, Any] = {
            "results": [self._public(object_type, store[str(i)], requested) for i in page]
        }
        if start + limit < len(ids):
            payload["paging"] = {
                "next": {
                    "after": str(ids[start + limit]),
                    "link": f"?after={ids[start + limit]}",
                }
            }
        return 200, {}, payload

    def _get(self, params, query, body) -> Response:
        record = self.objects[params["type"]].get(params["id"])
        if record is None:
            return self._error(
                404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND"
            )
        return (
            200,
            {},
            self._public(params["type"], record, self._requested(query.get("properties"))),
        )

    def _touch(self, object_type: str, record: _Object) -> None:
        stamp = max(self.now_ms(), record.updated_ms + 1)
        record.updated_ms = stamp
        key = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        record.properties[key] = _iso(stamp)

    def _invalid_values(self, object_type: str, values: Mapping[str, Any]) -> str | None:
        for name, value in values.items():
            text = "" if value is None else str(value)
            if object_type == "contacts":
                prop = self.properties.get(name)
                if prop is None:
                    return f'Property "{name}" does not exist'
                error = self._property_value_error(prop, text)
                if error is not None:
                    return _invalid_value_message(name, error, text)
            rejected = self.rejected_values.get(name)
            if rejected is not None and rejected(text):
                return _invalid_value_message(name, "INVALID_VALUE", text)
        return None

    @staticmethod
    def _property_value_error(prop: Mapping[str, Any], text: str) -> str | None:
        if not text:
            return None
        if prop["type"] == "number" and _as_number(text) is None:
            return "INVALID_INTEGER"
        if prop["type"] == "datetime" and _as_number(text) is None:
            return "INVALID_DATE"
        options = {option["value"] for option in prop.get("options", [])}
        is_single_choice = prop["type"] == "enumeration" and prop["fieldType"] != "checkbox"
        if is_single_choice and options and text not in options:
            return "INVALID_OPTION"
        return None

    def _update(self, params, query, body) -> Response:
        object_type = params["type"]
        record = self.objects[object_type].get(params["id"])
        if record is None:
            return self._error(404, "Object not found.", "OBJECT_NOT_FOUND")
        values = body.get("properties") or {}
        invalid = self._invalid_values(object_type, values)
        if invalid:
            return self._error(400, invalid, "VALIDATION_ERROR")
        record.properties.update({k: str(v) for k, v in values.items()})
        self._touch(object_type, record)
        return 200, {}, self._public(object_type, record, [*values, "hs_object_id"])

    def _create(self, params, query, body) -> Response:
        object_type = params["type"]
        values = body.get("properties") or {}
        if object_type == "tasks" and "hs_timestamp" not in values:
            return self._error(400, 'Property "hs_timestamp" is required', "VALIDATION_ERROR")
        if object_type == "deals" and not values.get("dealname"):
            return self._error(400, 'Property "dealname" is required', "VALIDATION_ERROR")
        invalid = self._invalid_values(object_type, values)
        if invalid:
            return self._error(400, invalid, "VALIDATION_ERROR")
        record_id = self.add_object(object_type, values)
        for association in body.get("associations") or ():
            to_id = str(association["to"]["id"])
            if to_id not in self.objects["contacts"]:
                return self._error(400, f"contact {to_id} does not exist", "VALIDATION_ERROR")
            type_id = association["types"][0]["associationTypeId"]
            self.associate(object_type, record_id, "contacts", to_id, type_id)
        record = self.objects[object_type][record_id]
        return 201, {}, self._public(object_type, record, list(record.properties))

    def _batch_read(self, params, query, body) -> Response:
        object_type = params["type"]
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX:
            return self._error(
                400, f"Batch size {len(inputs)} exceeds {BATCH_MAX}", "VALIDATION_ERROR"
            )
        requested = self._requested(body.get("properties"))
        store = self.objects[object_type]
        results, missing = [], []
        for item in inputs:
            record = store.get(str(item["id"]))
            if record is None:
                missing.append(str(item["id"]))
            else:
                results.append(self._public(object_type, record, requested))
        payload = self._batch_body(results)
        if missing:
            payload["numErrors"] = 1
            payload["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                    "errors": [],
                    "links": {},
                }
            ]
            return 207, {}, payload
        return 200, {}, payload

    def _batch_body(self, results: list[dict]) -> dict:
        stamp = _iso(self.now_ms())
        return {"status": "COMPLETE", "results": results, "startedAt": stamp, "completedAt": stamp}

    def _batch_update(self, params, query, body) -> Response:
        object_type = params["type"]
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX:
            return self._error(
                400, f"Batch size {len(inputs)} exceeds {BATCH_MAX}", "VALIDATION_ERROR"
            )
        ids = [str(item["id"]) for item in inputs]
        if len(set(ids)) != len(ids):
            return self._error(400, "Duplicate IDs found in batch input", "VALIDATION_ERROR")
        for item in inputs:
            message = self._invalid_values(object_type, item.get("properties") or {})
            if message and message.startswith('Property "'):
                # An unknown property fails the whole batch, as HubSpot does.
                return self._error(400, message, "VALIDATION_ERROR")

        store = self.objects[object_type]
        results, errors = [], []
        for item in inputs:
            record_id = str(item["id"])
            values = item.get("properties") or {}
            record = store.get(record_id)
            transient = self.transient_batch_failures.pop(record_id, None)
            if transient is not None:
                errors.append(self._batch_error(transient, "temporary failure, retry", record_id))
                continue
            if record is None:
                errors.append(self._batch_error("OBJECT_NOT_FOUND", "Object not found", record_id))
                continue
            message = self._invalid_values(object_type, values)
            if message:
                errors.append(self._batch_error("VALIDATION_ERROR", message, record_id))
                continue
            record.properties.update({k: str(v) for k, v in values.items()})
            self._touch(object_type, record)
            results.append(self._public(object_type, record, list(values)))
        payload = self._batch_body(results)
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = errors
            return 207, {}, payload
        return 200, {}, payload

    @staticmethod
    def _batch_error(category: str, message: str, record_id: str) -> dict:
        return {
            "status": "error",
            "category": category,
            "message": message,
            "context": {"ids": [record_id]},
            "errors": [],
            "links": {},
        }

    # -- handlers: search -----------------------------------------------------

    def _search(self, params, query, body) -> Response:
        object_type = params["type"]
        body = body or {}
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
        groups = body.get("filterGroups") or []
        if sum(len(group.get("filters") or []) for group in groups) > MAX_FILTERS:
            return self._error(400, "too many filters", "VALIDATION_ERROR")
        if limit > SEARCH_PAGE_MAX:
            return self._error(400, f"limit {limit} exceeds {SEARCH_PAGE_MAX}", "VALIDATION_ERROR")
        if after + limit > SEARCH_CAP:
            return self._error(
                400,
                f"Paging beyond {SEARCH_CAP} results is not supported; narrow the search filters.",
                "VALIDATION_ERROR",
            )

        visible_before = self.now_ms() - int(self.index_lag_seconds * 1000)
        matched = [
            record
            for record in self.objects[object_type].values()
            if record.updated_ms <= visible_before and self._matches(record, groups)
        ]
        sorts = body.get("sorts") or []
        # HubSpot documents no order for ties; the fake breaks them by id.
        if sorts:
            sort = sorts[0]
            name = sort["propertyName"]
            reverse = sort.get("direction", "ASCENDING") == "DESCENDING"
            matched.sort(
                key=lambda r: (_sort_key(r.properties.get(name)), int(r.id)), reverse=reverse
            )
        else:
            matched.sort(key=lambda r: int(r.id))

        page = matched[after : after + limit]
        requested = self._requested(body.get("properties"))
        payload: dict[str, Any] = {
            "total": len(matched),
            "results": [self._public(object_type, record, requested) for record in page],
        }
        if after + limit < len(matched):
            payload["paging"] = {"next": {"after": str(after + limit)}}
        return 200, {}, payload

    def _matches(self, record: _Object, groups: list[dict]) -> bool:
        if not groups:
            return True
        return any(
            all(self._filter_matches(record, item) for item in group.get("filters") or [])
            for group in groups
        )

    @staticmethod
    def _filter_matches(record: _Object, item: Mapping[str, Any]) -> bool:
        value = record.properties.get(item["propertyName"])
        operator = item["operator"]
        if operator == "HAS_PROPERTY":
            return value not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if value in (None, ""):
            return False
        if operator in ("IN", "NOT_IN"):
            found = value in [str(v) for v in item.get("values") or []]
            return found if operator == "IN" else not found
        target = str(item.get("value", ""))
        left, right = _as_number(value), _as_number(target)
        if left is None or right is None:
            left_text, right_text = value.lower(), target.lower()
            comparisons = {
                "EQ": left_text == right_text,
                "NEQ": left_text != right_text,
                "CONTAINS_TOKEN": right_text in left_text.split(),
            }
            return comparisons.get(operator, False)
        if operator == "BETWEEN":
            high = _as_number(str(item.get("highValue", "")))
            return high is not None and right <= left <= high
        return {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }.get(operator, False)

    # -- handlers: associations -----------------------------------------------

    def _get_associations(self, params, query, body) -> Response:
        linked = self.associations.get((params["type"], params["id"], params["to"]), {})
        results = [
            {
                "toObjectId": int(to_id) if to_id.isdigit() else to_id,
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                ],
            }
            for to_id, type_id in sorted(linked.items())
        ]
        return 200, {}, {"results": results}

    def _batch_read_associations(self, params, query, body) -> Response:
        results = []
        for item in body.get("inputs") or []:
            linked = self.associations.get((params["type"], str(item["id"]), params["to"]), {})
            if not linked:
                continue
            results.append(
                {
                    "from": {"id": str(item["id"])},
                    "to": [
                        {
                            "toObjectId": int(to_id) if to_id.isdigit() else to_id,
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                            ],
                        }
                        for to_id, type_id in sorted(linked.items())
                    ],
                }
            )
        return 200, {}, self._batch_body(results)

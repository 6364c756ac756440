"""The WSGI application that receives CRM webhooks and queues contacts to rescore.

Routes:

* `POST /webhooks/hubspot`: HubSpot v3 signature, a JSON array of up to 100 events.
* `POST /webhooks/gohighlevel`: GoHighLevel Ed25519 (or legacy RSA) signature,
  one event per request, replays rejected by `webhookId` and `timestamp`.
* `POST /webhooks/generic/{account}`: CRM workflow actions that cannot sign;
  a per-account token in `X-Leadscore-Token` and a contact id in the body.
* `GET /healthz`: the daemon's health for process supervisors.

A request does one thing after verification: a short insert transaction in the
state store. CRM calls happen later in the daemon's drain job, never on the
request thread. Rejections are logged with the route and reason, never the body.

Status codes:

* 200: accepted, including duplicates and ignored events.
* 400: malformed body or timestamp.
* 401: missing or invalid signature or token, or a stale timestamp.
* 404: unknown route or account, or a CRM whose key is not configured.
* 405: wrong method. 409: replayed GoHighLevel webhook id. 413: body too large.
* 503: the store is unavailable. GoHighLevel gets 429 instead, because it
  retries only on 429.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from sqlalchemy.exc import SQLAlchemyError

from jobs.webhooks import queue
from jobs.webhooks.payloads import (
    GHL_TAGGED_EVENTS,
    GhlDelivery,
    HubSpotEvent,
    PayloadError,
    parse_generic_contact_id,
    parse_ghl_delivery,
    parse_hubspot_batch,
)
from jobs.webhooks.settings import WebhookSettings
from jobs.webhooks.signatures import (
    GENERIC_TOKEN_HEADER,
    GHL_LEGACY_SIGNATURE_HEADER,
    GHL_SIGNATURE_HEADER,
    HUBSPOT_SIGNATURE_HEADER,
    HUBSPOT_TIMESTAMP_HEADER,
    ReplayedRequestError,
    VerificationError,
    check_freshness,
    load_public_key,
    verify_ghl,
    verify_hubspot_v3,
    verify_token,
)

log = structlog.get_logger(__name__)

HUBSPOT_PATH = "/webhooks/hubspot"
GHL_PATH = "/webhooks/gohighlevel"
GENERIC_PREFIX = "/webhooks/generic/"
HEALTH_PATH = "/healthz"

# A rejection with the same route and reason is logged at most once per
# interval, and the next line logged counts the ones left out.
_LOG_REPEAT_INTERVAL_SECONDS = 10.0

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Daemon health for /healthz: a healthy flag and details for the JSON body."""

    healthy: bool
    details: dict[str, object]


class HttpError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


_STATUS_LINES = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


class _RepeatLimiter:
    """Let one log line per key through per interval and count the rest."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[tuple[str, ...], float] = {}
        self._suppressed: dict[tuple[str, ...], int] = {}

    def allow(self, key: tuple[str, ...]) -> int | None:
        """Return the count suppressed since the last line, or None to stay quiet."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._suppressed.pop(key, 0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def error_location(exc: BaseException) -> str:
    """Return "file.py:line in function" of the frame that raised `exc`."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}"


def _header(environ: dict, name: str) -> str | None:
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


class WebhookApp:
    """WSGI callable; one instance serves every thread of the HTTP server."""

    def __init__(
        self,
        settings: WebhookSettings,
        engine: sa.Engine,
        *,
        on_enqueued: Callable[[], None] | None = None,
        health: Callable[[], HealthReport] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.on_enqueued = on_enqueued
        self.health = health
        self.clock = clock
        self.window = timedelta(seconds=settings.replay_window_seconds)
        self._own_properties = frozenset(settings.hubspot_own_properties)
        self._alert_tags = frozenset(tag.strip().lower() for tag in settings.ghl_alert_tags)
        self._ghl_key, self._ghl_legacy_key = self._load_ghl_keys(settings)
        self._log_limiter = _RepeatLimiter(_LOG_REPEAT_INTERVAL_SECONDS)

    @staticmethod
    def _load_ghl_keys(
        settings: WebhookSettings,
    ) -> tuple[Ed25519PublicKey | None, RSAPublicKey | None]:
        ed25519_key = rsa_key = None
        if settings.ghl_public_key:
            key = load_public_key(settings.ghl_public_key)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(
                    "LEADSCORE_WEBHOOK_GHL_PUBLIC_KEY must be an Ed25519 key, "
                    f"got {type(key).__name__}"
                )
            ed25519_key = key
        if settings.ghl_legacy_public_key:
            key = load_public_key(settings.ghl_legacy_public_key)
            if not isinstance(key, RSAPublicKey):
                raise ValueError(
                    "LEADSCORE_WEBHOOK_GHL_LEGACY_PUBLIC_KEY must be an RSA key, "
                    f"got {type(key).__name__}"
                )
            rsa_key = key
        return ed25519_key, rsa_key

    # ---- WSGI entry point ----

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        route = self._route_name(path)
        try:
            status, payload = self._dispatch(method, path, environ)
        except HttpError as exc:
            self._log_rejection(route, exc.status, exc.reason, environ)
            status, payload = exc.status, {"error": exc.reason, "message": exc.message}
        except Exception as exc:  # a bug must not kill the server thread
            # No traceback: a console traceback with locals would print the
            # request headers, which carry signatures and tokens.
            log.error(
                "webhook_request_failed",
                route=route,
                error_type=type(exc).__name__,
                error=str(exc),
                location=error_location(exc),
            )
            status, payload = 500, {"error": "internal_error", "message": "internal error"}

        body = json.dumps(payload).encode("utf-8")
        start_response(
            _STATUS_LINES.get(status, f"{status} Error"),
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    @staticmethod
    def _route_name(path: str) -> str:
        if path.startswith(GENERIC_PREFIX):
            return "generic"
        return {HUBSPOT_PATH: "hubspot", GHL_PATH: "gohighlevel", HEALTH_PATH: "health"}.get(
            path, "unknown"
        )

    def _dispatch(self, method: str, path: str, environ: dict) -> tuple[int, dict]:
        if path == HEALTH_PATH:
            self._require_method(method, ("GET", "HEAD"))
            return self._health()
        if path == HUBSPOT_PATH:
            self._require_method(method, ("POST",))
            return self._hubspot(environ)
        if path == GHL_PATH:
            self._require_method(method, ("POST",))
            return self._gohighlevel(environ)
        if path.startswith(GENERIC_PREFIX):
            self._require_method(method, ("POST",))
            return self._generic(unquote(path[len(GENERIC_PREFIX) :]), environ)
        raise HttpError(404, "not_found", "no such route")

    @staticmethod
    def _require_method(method: str, allowed: Sequence[str]) -> None:
        if method not in allowed:
            raise HttpError(405, "method_not_allowed", f"use {' or '.join(allowed)}")

    def _log_rejection(self, route: str, status: int, reason: str, environ: dict) -> None:
        suppressed = self._log_limiter.allow((route, reason))
        if suppressed is None:
            return
        log.warning(
            "webhook_rejected",
            route=route,
            status=status,
            reason=reason,
            remote_addr=environ.get("REMOTE_ADDR"),
            suppressed_since_last=suppressed,
        )

    # ---- request body ----

    def _read_body(self, environ: dict) -> bytes:
        limit = self.settings.max_body_bytes
        length_text = environ.get("CONTENT_LENGTH") or ""
        if length_text:
            try:
                length = int(length_text)
            except ValueError as exc:
                raise HttpError(400, "malformed_request", "invalid Content-Length") from exc
            if length > limit:
                raise HttpError(413, "body_too_large", f"body is over {limit} bytes")
            body = environ["wsgi.input"].read(length) if length > 0 else b""
        else:
            # Chunked or unknown length: read one byte past the limit to detect overflow.
            try:
                body = environ["wsgi.input"].read(limit + 1)
            except OSError as exc:
                # cheroot raises OSError("Request Entity Too Large") for a chunk
                # past its own limit, and other OSErrors for a broken upload.
                if "too large" in str(exc).lower():
                    raise HttpError(413, "body_too_large", f"body is over {limit} bytes") from exc
                raise HttpError(400, "malformed_request", "the body could not be read") from exc
            if len(body) > limit:
                raise HttpError(413, "body_too_large", f"body is over {limit} bytes")
        if not body:
            raise HttpError(400, "malformed_request", "empty body")
        return body

    # ---- HubSpot ----

    def _hubspot(self, environ: dict) -> tuple[int, dict]:
        secret = self.settings.hubspot_client_secret
        if secret is None or self.settings.public_base_url is None:
            raise HttpError(404, "not_configured", "HubSpot webhooks are not configured")
        body = self._read_body(environ)

        # NOTE: HubSpot's docs ask receivers to decode some percent-encoded
        # characters of the URI before signing. The route's path has none, and a
        # query string is used exactly as received.
        query = environ.get("QUERY_STRING") or ""
        uri = self.settings.public_base_url + HUBSPOT_PATH + (f"?{query}" if query else "")
        try:
            verify_hubspot_v3(
                secret=secret.get_secret_value(),
                method=environ.get("REQUEST_METHOD", "POST"),
                uri=uri,
                body=body,
                timestamp_header=_header(environ, HUBSPOT_TIMESTAMP_HEADER),
                signature_header=_header(environ, HUBSPOT_SIGNATURE_HEADER),
                now=self.clock(),
                window=self.window,
            )
        except VerificationError as exc:
            raise HttpError(exc.status, exc.reason, str(exc)) from exc

        try:
            batch = parse_hubspot_batch(body)
        except PayloadError as exc:
            raise HttpError(400, "malformed_payload", str(exc)) from exc
        if batch.invalid:
            log.warning(
                "webhook_events_invalid",
                route="hubspot",
                count=len(batch.invalid),
                first=batch.invalid[0],
            )
        if not batch.events:
            raise HttpError(400, "malformed_payload", batch.invalid[0])

        counts = self._store(
            lambda conn, now: self._queue_hubspot(conn, batch.events, now), busy_status=503
        )
        counts["invalid"] = len(batch.invalid)
        return 200, {"status": "accepted", **counts}

    def _is_own_hubspot_write(self, event: HubSpotEvent) -> bool:
        if event.subscription_type.endswith(".propertyChange") and (
            event.property_name in self._own_properties
        ):
            return True
        # NOTE: this assumes HubSpot puts the bare app id in sourceId for
        # changes made by an app; no delivery from a real account was checked.
        app_id = self.settings.hubspot_app_id
        return bool(app_id and event.change_source == "INTEGRATION" and event.source_id == app_id)

    def _queue_hubspot(
        self, conn: sa.Connection, events: Sequence[HubSpotEvent], now: datetime
    ) -> dict[str, int]:
        to_queue: list[queue.WebhookEvent] = []
        ignored = own_writes = duplicates = 0
        for event in events:
            if event.event is None:
                ignored += 1
                continue
            if self._is_own_hubspot_write(event):
                own_writes += 1
                continue
            if not queue.record_delivery(conn, event.delivery_key, event.event.account, now=now):
                duplicates += 1
                continue
            to_queue.append(event.event)
        contacts = queue.enqueue(conn, to_queue, now=now)
        return {
            "queued": contacts,
            "duplicates": duplicates,
            "ignored": ignored,
            "own_writes": own_writes,
        }

    # ---- GoHighLevel ----

    def _gohighlevel(self, environ: dict) -> tuple[int, dict]:
        if not self.settings.ghl_configured:
            raise HttpError(404, "not_configured", "GoHighLevel webhooks are not configured")
        body = self._read_body(environ)
        try:
            scheme = verify_ghl(
                body=body,
                signature_header=_header(environ, GHL_SIGNATURE_HEADER),
                legacy_signature_header=_header(environ, GHL_LEGACY_SIGNATURE_HEADER),
                public_key=self._ghl_key,
                legacy_key=self._ghl_legacy_key,
            )
        except VerificationError as exc:
            raise HttpError(exc.status, exc.reason, str(exc)) from exc

        try:
            delivery = parse_ghl_delivery(body)
        except PayloadError as exc:
            raise HttpError(400, "malformed_payload", str(exc)) from exc
        try:
            check_freshness(delivery.sent_at, self.clock(), self.window, what="timestamp")
        except VerificationError as exc:
            raise HttpError(exc.status, exc.reason, str(exc)) from exc

        counts = self._store(
            lambda conn, now: self._queue_ghl(conn, delivery, now), busy_status=429
        )
        return 200, {"status": "accepted", "signature": scheme, **counts}

    def _queue_ghl(self, conn: sa.Connection, delivery: GhlDelivery, now: datetime) -> dict:
        key = f"gohighlevel:{delivery.webhook_id}"
        if not queue.record_delivery(conn, key, delivery.account, now=now):
            raise ReplayedRequestError(f"webhookId {delivery.webhook_id[:80]} was already received")

        event = delivery.event
        if event is None:
            return {"queued": 0, "ignored": 1, "own_writes": 0}

        if delivery.tags is not None and delivery.event_type in GHL_TAGGED_EVENTS:
            previous = queue.read_tags(conn, delivery.account, event.contact_id)
            queue.write_tags(conn, delivery.account, event.contact_id, delivery.tags, now=now)
            if delivery.event_type == "ContactTagUpdate" and self._only_alert_tags_changed(
                previous, delivery.tags
            ):
                return {"queued": 0, "ignored": 0, "own_writes": 1}

        contacts = queue.enqueue(conn, [event], now=now)
        return {"queued": contacts, "ignored": 0, "own_writes": 0}

    def _only_alert_tags_changed(
        self, previous: frozenset[str] | None, current: frozenset[str]
    ) -> bool:
        # Without an earlier tag list the change is unknown, so the contact is queued.
        if previous is None or not self._alert_tags:
            return False
        changed = previous ^ current
        return bool(changed) and changed <= self._alert_tags

    # ---- generic workflow webhooks ----

    def _generic(self, account: str, environ: dict) -> tuple[int, dict]:
        token = self.settings.generic_tokens.get(account)
        if token is None:
            raise HttpError(404, "unknown_account", "no webhook token is configured for account")
        try:
            verify_token(token.get_secret_value(), _header(environ, GENERIC_TOKEN_HEADER))
        except VerificationError as exc:
            raise HttpError(exc.status, exc.reason, str(exc)) from exc

        body = self._read_body(environ)
        try:
            contact_id = parse_generic_contact_id(body, environ.get("CONTENT_TYPE") or "")
        except PayloadError as exc:
            raise HttpError(400, "malformed_payload", str(exc)) from exc

        event = queue.WebhookEvent(account, contact_id, "workflow", None)
        counts = self._store(
            lambda conn, now: {"queued": queue.enqueue(conn, [event], now=now)}, busy_status=503
        )
        return 200, {"status": "accepted", **counts}

    # ---- store and health ----

    def _store(self, work: Callable[[sa.Connection, datetime], dict], *, busy_status: int) -> dict:
        """Run `work` in one transaction, then wake the drain job if anything was queued."""
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                counts = work(conn, now)
        except VerificationError as exc:
            raise HttpError(exc.status, exc.reason, str(exc)) from exc
        except SQLAlchemyError as exc:
            log.error("webhook_store_failed", error_type=type(exc).__name__)
            raise HttpError(
                busy_status, "store_unavailable", "the event could not be stored; retry later"
            ) from exc

        if counts.get("queued") and self.on_enqueued is not None:
            try:
                self.on_enqueued()
            except Exception as exc:  # stored anyway: the drain job still runs on its interval
                log.error(
                    "webhook_wakeup_failed",
                    error_type=type(exc).__name__,
                    error=str(exc),
                    location=error_location(exc),
                )
        return counts

    def _health(self) -> tuple[int, dict]:
        details: dict[str, object] = {}
        healthy = True
        if self.health is not None:
            try:
                report = self.health()
            except Exception as exc:  # a broken health source means "not healthy", not a 500
                log.error(
                    "webhook_health_check_failed",
                    error_type=type(exc).__name__,
                    error=str(exc),
                    location=error_location(exc),
                )
                report = HealthReport(False, {"health_error": type(exc).__name__})
            healthy = report.healthy
            details.update(report.details)
        try:
            with self.engine.connect() as conn:
                stats = queue.queue_stats(conn)
        except SQLAlchemyError as exc:
            log.error("webhook_health_store_failed", error_type=type(exc).__name__)
            return 503, {"status": "unhealthy", "store": "unavailable", **details}
        details["webhook_queue"] = {
            "pending": stats.pending,
            "processing": stats.processing,
            "failed": stats.failed,
            "oldest_pending_at": (
                stats.oldest_pending_at.isoformat() if stats.oldest_pending_at else None
            ),
        }
        return (200 if healthy else 503), {"status": "ok" if healthy else "stale", **details}

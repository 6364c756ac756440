"""A chat webhook: a Slack-compatible JSON body, optionally signed with HMAC-SHA256.

Signature scheme (for receivers that verify it)::

    X-Leadscore-Timestamp: <unix seconds>
    X-Leadscore-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

where `body` is the exact request body bytes. A receiver should also reject
timestamps far from its own clock, to refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from jobs.alerts.channels.base import ChannelError
from jobs.alerts.message import AlertNotice, render_chat_payload

SIGNATURE_HEADER = "X-Leadscore-Signature"
TIMESTAMP_HEADER = "X-Leadscore-Timestamp"
IDEMPOTENCY_HEADER = "X-Leadscore-Idempotency-Key"
URL_SETTING = "LEADSCORE_ALERT_WEBHOOK_URL"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the `sha256=<hex>` signature of a webhook request."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Return True when `signature` is the valid signature of `timestamp` and `body`."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def check_webhook_url(url: str) -> None:
    """Raise ChannelError unless `url` is an absolute http or https URL with a host."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        parts, hostname = None, None
    if parts is None or parts.scheme not in ("http", "https") or not hostname:
        # Only the scheme and host are shown: a chat webhook's path is its secret.
        shown = f"{parts.scheme}://{hostname or ''}" if parts and parts.scheme else "(not a URL)"
        raise ChannelError(
            "webhook",
            f"invalid webhook URL {shown}: it must start with https:// and name a host",
            setting=URL_SETTING,
            retryable=False,
        )


def _host_of(url: str) -> str:
    """Return `scheme://host` only: chat webhook paths are secrets."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        port = ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class WebhookChannel:
    """Posts each alert to an incoming-webhook URL."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        *,
        zone: ZoneInfo,
        secret: str | None = None,
        timeout_seconds: float = 10.0,
        session: requests.Session | None = None,
        clock=None,
    ) -> None:
        self._url = url
        self._zone = zone
        self._secret = secret
        self._timeout = timeout_seconds
        self._session = session or requests.Session()
        self._clock = clock or datetime.now

    def send(self, notice: AlertNotice, idempotency_key: str) -> str:
        check_webhook_url(self._url)
        body = json.dumps(render_chat_payload(notice, self._zone), ensure_ascii=False).encode(
            "utf-8"
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: idempotency_key,
        }
        if self._secret:
            timestamp = str(int(self._clock().timestamp()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        target = _host_of(self._url)
        try:
            response = self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeout
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise ChannelError(
                self.name, f"invalid webhook URL for {target}", setting=URL_SETTING, retryable=False
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise ChannelError(
                self.name, f"POST to {target} timed out after {self._timeout:g} s"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise ChannelError(self.name, f"POST to {target} failed: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            retryable = response.status_code == 429 or response.status_code >= 500
            hint = None if retryable else URL_SETTING
            raise ChannelError(
                self.name,
                f"POST to {target} returned HTTP {response.status_code}",
                setting=hint,
                retryable=retryable,
            )
        return f"HTTP {response.status_code}"

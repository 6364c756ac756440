"""Structured logging for the worker: structlog, JSON lines or console, with redaction.

Call `configure_logging(level=..., fmt=...)` once when a command starts, and
`bind_job(job=..., crm=..., account=...)` at the start of each job so every
line of that job carries the same context (`job`, `run_id`, `crm`, `account`).

Redaction runs on every event before rendering. `SecretStr` values and fields
named like a secret (token, password, authorization …) are masked, and so are
`email` and `phone` fields. Free text is scrubbed of emails, phone numbers,
bearer tokens and CRM tokens.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO

import structlog
from pydantic import SecretStr

from connectors.redact import MASK, mask_email, mask_phone, redact_text, redact_url

LogFormat = Literal["auto", "json", "console"]

_SECRET_KEY_PARTS = ("token", "secret", "password", "authorization", "api_key", "apikey")
_EMAIL_KEYS = frozenset({"email", "to", "recipient", "from_address"})
_PHONE_KEYS = frozenset({"phone", "mobile", "mobilephone"})
_URL_KEYS = frozenset({"url", "base_url", "endpoint_url", "webhook_url"})
# Fields structlog itself adds; they never hold personal data.
_UNTOUCHED_KEYS = frozenset({"event", "level", "timestamp", "logger", "run_id"})


def _redact_value(key: str, value: Any) -> Any:
    lowered = key.lower()
    if isinstance(value, SecretStr):
        return MASK
    if any(part in lowered for part in _SECRET_KEY_PARTS) and not lowered.endswith(
        ("_env", "_count", "_expires_at")
    ):
        return MASK if value not in (None, "") else value
    if isinstance(value, str):
        if lowered in _EMAIL_KEYS:
            return mask_email(value)
        if lowered in _PHONE_KEYS:
            return mask_phone(value)
        if lowered in _URL_KEYS:
            return redact_text(redact_url(value))
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, item) for item in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Mask secrets and personal data in every field of a log event (a structlog processor)."""
    for key, value in list(event_dict.items()):
        if key in _UNTOUCHED_KEYS and isinstance(value, str):
            if key == "event":
                event_dict[key] = redact_text(value)
            continue
        event_dict[key] = _redact_value(key, value)
    return event_dict


def _redact_rendered_exception(
    _logger: Any, _method: str, event_dict: dict[str, Any]
) -> dict[str, Any]:
    # Tracebacks quote exception messages, which may carry a URL or a token.
    for key in ("exception", "stack"):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = redact_text(event_dict[key])
    return event_dict


def configure_logging(
    *, level: str = "INFO", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Send structlog and standard-library logging to `stream` (stderr) through redaction."""
    stream = stream if stream is not None else sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    if use_json:
        renderer: Any = structlog.processors.JSONRenderer()
        exception_steps: list[Any] = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
        exception_steps = []

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_steps,
            _redact_rendered_exception,
            redact_event,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_leadscore", False):
            root.removeHandler(existing)
    handler._leadscore = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Library chatter (connection pools, the scheduler's per-run lines) stays at WARNING.
    for noisy in ("urllib3", "apscheduler.executors", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@contextmanager
def bind_job(
    *, job: str, crm: str | None = None, account: str | None = None, run_id: str | None = None
) -> Iterator[str]:
    """Bind the job's context to every log line inside the block; yield the run id."""
    run_id = run_id or new_run_id()
    values = {"job": job, "run_id": run_id}
    if crm is not None:
        values["crm"] = crm
    if account is not None:
        values["account"] = account
    with structlog.contextvars.bound_contextvars(**values):
        yield run_id

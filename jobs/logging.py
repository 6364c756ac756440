"""Structured logging for the worker: structlog, JSON lines or console, with redaction.

The `leadscore` application calls `configure_cli_logging()` before each command,
and other programs call `configure_logging(level=..., fmt=...)` once. Each job
calls `bind_job(job=..., crm=..., account=...)` at its start, so every line of
that job carries the same context (`job`, `run_id`, `crm`, `account`).

Redaction runs on every event before rendering. `SecretStr` values and fields
named like a secret (token, password, authorization …) are masked, and so are
`email` and `phone` fields. Free text is scrubbed of emails, phone numbers,
bearer tokens and CRM tokens.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TextIO

import structlog
from dotenv import dotenv_values
from pydantic import SecretStr

from connectors.redact import MASK, mask_email, mask_phone, redact_text, redact_url

LogFormat = Literal["auto", "json", "console"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("auto", "json", "console")

# Commands that run for minutes or longer log their progress at INFO. The other
# commands print their own summary, so by default they log only warnings and errors.
PROGRESS_COMMANDS = frozenset({"run", "backfill"})

# The level the user chose for this command (--verbose or LEADSCORE_LOG_LEVEL);
# configure_logging() uses it in place of a command's own default.
_chosen_level: str | None = None

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
    """Send structlog and standard-library logging to `stream` (stderr) through redaction.

    While a CLI command runs with a level the user chose (see
    `configure_cli_logging`), that level replaces `level`.
    """
    level = _chosen_level or level
    stream = stream if stream is not None else sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    # Tracebacks are rendered as plain text before redaction in both formats.
    # structlog's console default (a Rich traceback) prints every frame's local
    # variables, which can hold tokens and contact details, and bypasses redaction.
    exception_steps: list[Any] = [structlog.processors.format_exc_info]
    if use_json:
        renderer: Any = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )

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


def configure_cli_logging(
    command: str | None,
    *,
    verbose: bool = False,
    environ: Mapping[str, str] | None = None,
    dotenv_path: Path = Path(".env"),
) -> str:
    """Configure logging once for a CLI command and return the level used.

    The level is LEADSCORE_LOG_LEVEL when it is set (in the environment, else
    in `.env`), INFO with `--verbose`, and otherwise INFO for the commands in
    PROGRESS_COMMANDS and WARNING for the rest. LEADSCORE_LOG_FORMAT is read
    the same way. An invalid value is ignored here, because the command's
    settings validation reports it.
    """
    global _chosen_level
    environ = os.environ if environ is None else environ
    level = _read_variable("LEADSCORE_LOG_LEVEL", environ, dotenv_path).upper()
    fmt = _read_variable("LEADSCORE_LOG_FORMAT", environ, dotenv_path).lower()

    chosen: str | None = None
    if level in LOG_LEVELS:
        chosen = level
    elif verbose:
        chosen = "INFO"
    default = "INFO" if command in PROGRESS_COMMANDS else "WARNING"
    _chosen_level = None
    log_format: LogFormat = fmt if fmt in LOG_FORMATS else "auto"  # type: ignore[assignment]
    configure_logging(level=chosen or default, fmt=log_format)
    _chosen_level = chosen
    return chosen or default


def release_cli_level() -> None:
    """Forget the level chosen for the last CLI command (when the command ends)."""
    global _chosen_level
    _chosen_level = None


def _read_variable(name: str, environ: Mapping[str, str], dotenv_path: Path) -> str:
    # pydantic-settings matches names case-insensitively, ignores empty values,
    # and lets the environment win over `.env`; this reads the same way.
    for key, value in environ.items():
        if key.upper() == name and value:
            return value
    if not dotenv_path.is_file():
        return ""
    from jobs.settings import quiet_dotenv

    with quiet_dotenv():
        try:
            values = dotenv_values(dotenv_path, encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""  # the settings loader reports an unreadable `.env`
    for key, value in values.items():
        if key.upper() == name and value:
            return value
    return ""


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

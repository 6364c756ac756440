"""Log lines are JSON when redirected, carry the job context, and never show secrets."""

from __future__ import annotations

import io
import json
import logging

import structlog
from pydantic import SecretStr

from jobs.logging import bind_job, configure_logging


def log_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def emit(**fields) -> dict:
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    structlog.get_logger("test").info("contact_failed", **fields)
    return log_lines(stream)[-1]


def test_token_never_reaches_logs():
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    log = structlog.get_logger("test")

    log.info("connector_built", token=SecretStr("pat-na1-0123456789"), options={"api_key": "k1"})
    log.warning("request_failed", error="401 for Bearer pat-na1-0123456789 at /crm?hapikey=k2")
    logging.getLogger("urllib3.connectionpool").error("sent Authorization: Bearer abcdef123")

    text = stream.getvalue()
    assert "0123456789" not in text
    assert "k1" not in text
    assert "k2" not in text
    assert "abcdef123" not in text


def test_email_and_phone_masked():
    line = emit(email="jane.doe@example.com", phone="+1 415 555 0134", note="call 415-555-0134")

    assert line["email"] == "j***@example.com"
    assert line["phone"] == "***0134"
    assert line["note"] == "call ***0134"


def test_job_context_bound_to_every_line():
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)

    with bind_job(job="sync", crm="hubspot", account="hubspot:1", run_id="r1"):
        structlog.get_logger("test").info("contacts_page_fetched", count=100)
    structlog.get_logger("test").info("outside")

    inside, outside = log_lines(stream)
    assert inside["job"] == "sync"
    assert inside["run_id"] == "r1"
    assert inside["account"] == "hubspot:1"
    assert inside["count"] == 100
    assert "job" not in outside


def test_exception_text_redacted():
    stream = io.StringIO()
    configure_logging(fmt="json", stream=stream)
    try:
        raise RuntimeError("failed with token=s3cr3t-value")
    except RuntimeError:
        structlog.get_logger("test").exception("sync_cycle_failed")

    line = log_lines(stream)[-1]
    assert "s3cr3t-value" not in line["exception"]
    assert "RuntimeError" in line["exception"]


def test_console_format_when_requested():
    stream = io.StringIO()
    configure_logging(fmt="console", stream=stream)

    structlog.get_logger("test").info("sync_cycle_finished", written=3)

    assert "sync_cycle_finished" in stream.getvalue()
    assert "written=3" in stream.getvalue()
    assert not stream.getvalue().startswith("{")

"""Log lines are JSON when redirected, carry the job context, and never show secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest
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


def fail_with_contact_in_locals() -> None:
    contact_email = "jane.doe@example.com"  # noqa: F841 - a local a traceback could show
    raise RuntimeError("failed with token=s3cr3t-value")


def test_console_traceback_hides_locals_and_secrets():
    stream = io.StringIO()
    configure_logging(fmt="console", stream=stream)
    try:
        fail_with_contact_in_locals()
    except RuntimeError:
        structlog.get_logger("test").exception("rescore_failed")

    text = stream.getvalue()
    assert "RuntimeError" in text
    assert "fail_with_contact_in_locals" in text
    assert "jane.doe@example.com" not in text
    assert "s3cr3t-value" not in text


# -- configure_cli_logging: level per command ----------------------------------


@pytest.fixture
def cli_logging(tmp_path):
    """Call configure_cli_logging with no `.env`, and forget its choice afterwards."""
    from jobs.logging import configure_cli_logging, release_cli_level

    def configure(command, environ=None, verbose=False, dotenv_path=tmp_path / ".env"):
        return configure_cli_logging(
            command, verbose=verbose, environ=environ or {}, dotenv_path=dotenv_path
        )

    yield configure
    release_cli_level()
    configure_logging(level="INFO")


@pytest.mark.parametrize(
    ("command", "environ", "verbose", "level"),
    [
        ("doctor", {}, False, "WARNING"),
        ("score", {}, False, "WARNING"),
        ("alerts", {}, False, "WARNING"),
        ("run", {}, False, "INFO"),
        ("backfill", {}, False, "INFO"),
        ("doctor", {}, True, "INFO"),
        ("doctor", {"LEADSCORE_LOG_LEVEL": "debug"}, False, "DEBUG"),
        ("run", {"LEADSCORE_LOG_LEVEL": "ERROR"}, False, "ERROR"),
        ("doctor", {"LEADSCORE_LOG_LEVEL": ""}, False, "WARNING"),
        ("doctor", {"LEADSCORE_LOG_LEVEL": "LOUD"}, False, "WARNING"),
    ],
    ids=[
        "doctor_quiet",
        "score_quiet",
        "alerts_quiet",
        "run_info",
        "backfill_info",
        "verbose",
        "variable_lowercase",
        "variable_for_daemon",
        "variable_empty",
        "variable_invalid",
    ],
)
def test_cli_level_per_command(cli_logging, command, environ, verbose, level):
    used = cli_logging(command, environ=environ, verbose=verbose)

    assert used == level
    assert logging.getLogger().level == logging.getLevelName(level)


def test_cli_level_read_from_dotenv(cli_logging, tmp_path):
    dotenv_path = tmp_path / ".env"
    dotenv_path.write_text("LEADSCORE_LOG_LEVEL=DEBUG\nLEADSCORE_LOG_FORMAT=json\n")

    used = cli_logging("doctor", dotenv_path=dotenv_path)

    assert used == "DEBUG"


def test_chosen_level_beats_command_default(cli_logging):
    cli_logging("score", environ={"LEADSCORE_LOG_LEVEL": "INFO"})

    # A command module configures its own quiet default, as `score` does.
    configure_logging(level="WARNING")

    assert logging.getLogger().level == logging.INFO


def test_released_level_stops_applying(cli_logging):
    from jobs.logging import release_cli_level

    cli_logging("score", verbose=True)
    release_cli_level()

    configure_logging(level="WARNING")

    assert logging.getLogger().level == logging.WARNING

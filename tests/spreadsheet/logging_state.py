"""A fixture that undoes the logging setup a CLI command or benchmark makes.

`leadscore score` configures logging for the whole process (root level
WARNING, a stderr handler); without this, tests that run later would inherit it.
"""

from __future__ import annotations

import logging

import pytest
import structlog


@pytest.fixture
def keep_logging_state():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    config = structlog.get_config()
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    structlog.configure(**config)

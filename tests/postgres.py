"""Throwaway PostgreSQL databases for store tests, on the server named by DATABASE_URL_TEST."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from jobs.store.store import normalize_database_url


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """Create a database named `prefix` plus a random suffix, yield its URL, then drop it.

    Skips the calling test when DATABASE_URL_TEST is not set; `.ci/run` starts a
    server and sets it.
    """
    base = os.environ.get("DATABASE_URL_TEST")
    if not base:
        pytest.skip("DATABASE_URL_TEST is not set (.ci/run starts a PostgreSQL server)")
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_database_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = normalize_database_url(base).set(database=database)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()

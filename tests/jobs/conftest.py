"""Fixtures for the sync, store and daemon tests: a store on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from jobs.store import Store
from jobs.store.store import normalize_database_url


def _postgres_url() -> str | None:
    return os.environ.get("DATABASE_URL_TEST") or None


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'leadscore.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema per test, dropped afterwards; skips without DATABASE_URL_TEST."""
    base = _postgres_url()
    if base is None:
        pytest.skip("DATABASE_URL_TEST is not set (.ci/run starts a PostgreSQL server)")
    database = f"leadscore_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_database_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = normalize_database_url(base).set(database=database)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()

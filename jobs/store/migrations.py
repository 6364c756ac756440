"""Versioned schema changes of the state store.

Each component of the store (`core` for the tables in `jobs.store.schema`, or
a package that adds its own tables, such as the alert outbox) keeps its own
version in the `schema_version` table. A new database gets every table in its
latest shape from `metadata.create_all` and is stamped with the latest version
of each component. An existing database runs, in order, every step newer than
its stored version, and then `create_all` adds tables that are new.

To change an existing table, add a `Migration` with the next version to the
component's list and change the table definition to match. A package with its
own tables lists its steps in a module-level `MIGRATIONS` sequence next to
them (an empty or missing list means version 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog

from jobs.store.schema import metadata, schema_version

log = structlog.get_logger(__name__)

CORE_COMPONENT = "core"


@dataclass(frozen=True, slots=True)
class Migration:
    """One ordered schema change: the version it brings the component to, and the step."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _baseline(conn: sa.Connection) -> None:
    """Version 1 is the first released shape; `create_all` builds it."""


CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "create the sync cursor, lead, history, outcome, failure and backfill tables", _baseline
    ),
)


def latest_version(steps: Sequence[Migration]) -> int:
    return max((step.version for step in steps), default=0)


def check_ordered(component: str, steps: Sequence[Migration]) -> None:
    """Raise ValueError unless the versions run 1, 2, 3 … without gaps."""
    versions = [step.version for step in steps]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(
            f"migration steps of store component {component!r} must be numbered 1, 2, 3 … "
            f"in order, got {versions}"
        )


def migrate(engine: sa.Engine, components: dict[str, Sequence[Migration]]) -> dict[str, int]:
    """Bring every component to its latest version; return the version of each.

    Raises RuntimeError when the database was written by a newer release (its
    stored version is above the latest this release supports), because running old
    code on a newer schema could lose data.
    """
    for component, steps in components.items():
        check_ordered(component, steps)

    with engine.begin() as conn:
        schema_version.create(conn, checkfirst=True)
        stored = {
            row.component: row.version
            for row in conn.execute(sa.select(schema_version.c.component, schema_version.c.version))
        }
        is_new_database = not stored and not _has_core_tables(conn)

        for component, steps in components.items():
            latest = latest_version(steps)
            current = stored.get(component)
            if current is not None and current > latest:
                raise RuntimeError(
                    f"the state store has schema version {current} for {component!r}, newer "
                    f"than this release knows ({latest}); upgrade leadscore or point "
                    "LEADSCORE_DATABASE_URL at another database"
                )
            if current is None and is_new_database:
                continue
            for step in steps:
                if step.version > (current or 0):
                    log.info(
                        "store_migration_applied",
                        component=component,
                        version=step.version,
                        description=step.description,
                    )
                    step.apply(conn)

        metadata.create_all(conn, checkfirst=True)

        now = datetime.now(UTC)
        versions: dict[str, int] = {}
        for component, steps in components.items():
            latest = latest_version(steps)
            versions[component] = latest
            if component in stored:
                if stored[component] != latest:
                    conn.execute(
                        sa.update(schema_version)
                        .where(schema_version.c.component == component)
                        .values(version=latest, applied_at=now)
                    )
            else:
                conn.execute(
                    sa.insert(schema_version).values(
                        component=component, version=latest, applied_at=now
                    )
                )
    return versions


def _has_core_tables(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table("leads")

"""`leadscore explain CONTACT_ID` without `--input`: the stored explanation and history.

The store keeps every score change with its explanation (the audit trail),
so this needs neither a CRM call nor the account's token: only
`LEADSCORE_DATABASE_URL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobs.store import HistoryEntry, Store, StoredLead, schema
from jobs.store.store import normalize_database_url
from jobs.sync import contact_from_store

# Every lookup problem (unknown contact, several accounts, no store) is an input
# error, exit 2, as in `explain --input` and `score`.
EXIT_NOT_FOUND = 2
EXIT_AMBIGUOUS = 2
HISTORY_ROWS = 20


class LookupProblem(Exception):
    """The contact is not in the store, or is in several accounts; the message names the fix."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class StoredExplanation:
    """A stored lead with its score history, newest first."""

    stored: StoredLead
    history: list[HistoryEntry]


def find_stored_lead(
    store: Store, contact_id: str, *, account: str | None = None, limit: int = HISTORY_ROWS
) -> StoredExplanation:
    """Find the contact in the store; `account` is a key (`hubspot:123`) or an account id.

    Raises `LookupProblem` when the contact is unknown or belongs to several
    accounts and `account` does not choose one.
    """
    table = schema.leads
    with store.begin() as conn:
        query = sa.select(table.c.account).where(table.c.contact_id == contact_id)
        accounts = [row.account for row in conn.execute(query)]
        if account is not None:
            accounts = [key for key in accounts if account in (key, key.partition(":")[2])]
        if not accounts:
            where = f" in account {account}" if account else ""
            raise LookupProblem(
                f"contact {contact_id!r} not found in the state store{where}: run `leadscore "
                "backfill` or wait for the next sync cycle, or pass --input FILE to explain a "
                "spreadsheet row",
                EXIT_NOT_FOUND,
            )
        if len(accounts) > 1:
            raise LookupProblem(
                f"contact {contact_id!r} exists in {len(accounts)} accounts "
                f"({', '.join(sorted(accounts))}); choose one with --account",
                EXIT_AMBIGUOUS,
            )
        stored = store.get_lead(conn, accounts[0], contact_id)
        history = store.history(conn, accounts[0], contact_id, limit=limit)
    assert stored is not None  # the account list came from the same table
    return StoredExplanation(stored=stored, history=history)


def _missing_sqlite_file(url: str) -> Path | None:
    """Return the SQLite file of `url` when it does not exist (explain must not create one)."""
    parsed = normalize_database_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def print_history(console: Console, explanation: StoredExplanation) -> None:
    stored = explanation.stored
    written = "never written"
    if stored.written_at is not None:
        written = (
            f"CRM holds score {stored.score}, tier {stored.tier.value if stored.tier else '-'} "
            f"(written {stored.written_at:%Y-%m-%d %H:%M} UTC)"
        )
    console.print(f"Account {stored.account}; {written}; pipeline stage {stored.stage or '-'}")

    table = Table(title="Score history (newest first)", title_justify="left")
    for column in ("scored at (UTC)", "score", "fit", "intent", "tier", "model", "trigger"):
        table.add_column(column)
    for entry in explanation.history:
        result = entry.result
        table.add_row(
            f"{entry.scored_at:%Y-%m-%d %H:%M}",
            str(result.score),
            str(result.fit),
            str(result.intent),
            result.tier.value,
            result.model_version,
            entry.trigger,
        )
    console.print(table)


def explain_stored_lead(
    contact_id: str,
    model: Any,
    *,
    out: Console,
    err: Console,
    account: str | None = None,
    database_url: str | None = None,
) -> None:
    """Print the stored explanation and history of one lead; exit 1 when it is not found."""
    from jobs.cli.score import print_explanation
    from jobs.settings import Settings

    url = database_url or Settings().database_url
    missing = _missing_sqlite_file(url)
    if missing is not None:
        err.print(
            Text(
                f"Error: no state store found at {missing}: set LEADSCORE_DATABASE_URL to the "
                "worker's store, or pass --input FILE (--input is required to explain a lead "
                "from a spreadsheet)",
                style="red",
            )
        )
        raise typer.Exit(EXIT_AMBIGUOUS)
    store = Store.open(url)
    try:
        explanation = find_stored_lead(store, contact_id, account=account)
    except LookupProblem as problem:
        err.print(Text(f"Error: {problem}", style="red"))
        raise typer.Exit(problem.exit_code) from None
    finally:
        store.close()

    if not explanation.history:
        err.print(Text(f"Error: contact {contact_id!r} has no score yet", style="red"))
        raise typer.Exit(EXIT_NOT_FOUND)
    current = explanation.history[0]
    contact = contact_from_store(explanation.stored)
    note = f"stored score of {current.scored_at:%Y-%m-%d %H:%M} UTC"
    print_explanation(out, contact, current.result, model, note=note)
    print_history(out, explanation)

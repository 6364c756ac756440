"""`leadscore webhooks` shows the webhook queue; `leadscore webhooks retry` requeues failures.

Exit codes: 0 on success, 2 when a setting or option is invalid (the message
names the fix).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jobs.webhooks import queue
from jobs.webhooks.tables import STATUS_DONE, STATUS_FAILED, STATUS_PENDING, STATUS_PROCESSING

EXIT_INVALID = 2
DEFAULT_LIMIT = 50
QUEUE_STATUSES = (STATUS_PENDING, STATUS_PROCESSING, STATUS_DONE, STATUS_FAILED)

webhooks_app = typer.Typer(
    name="webhooks",
    help="Show contacts queued by CRM webhooks, or requeue the ones that failed.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(app: typer.Typer) -> None:
    """Add the `webhooks` command group to the `leadscore` application."""
    app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.callback()
def show_queue(
    context: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Show only rows with this status: pending, processing, done, failed."
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option("--account", help="Show only this account's rows (e.g. hubspot:1234)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many rows, newest first.")
    ] = DEFAULT_LIMIT,
) -> None:
    """Print the queue's counts and its most recently changed rows with their last error."""
    if context.invoked_subcommand is not None:
        return
    console = Console()
    if status is not None and status not in QUEUE_STATUSES:
        _fail(console, f"invalid --status {status!r}: use one of {', '.join(QUEUE_STATUSES)}")
    engine = _open_engine(console)
    with engine.connect() as conn:
        stats = queue.queue_stats(conn)
        rows = queue.list_rows(conn, status=status, account=account, limit=limit)

    oldest = "none"
    if stats.oldest_pending_at is not None:
        waited = (datetime.now(UTC) - stats.oldest_pending_at).total_seconds()
        oldest = f"{waited:.0f} s ago"
    console.print(
        f"pending {stats.pending}, processing {stats.processing}, failed {stats.failed}; "
        f"oldest pending arrived {oldest}"
    )
    if not rows:
        console.print("No queued contacts match." if status or account else "The queue is empty.")
        return
    console.print(render_rows(rows))


@webhooks_app.command("retry")
def retry_failed(
    account: Annotated[
        str | None,
        typer.Option("--account", help="Requeue only this account's rows (e.g. hubspot:1234)."),
    ] = None,
) -> None:
    """Requeue contacts that failed, after the cause (a token, a scope) has been fixed."""
    console = Console()
    engine = _open_engine(console)
    with engine.begin() as conn:
        count = queue.requeue_failed(conn, account=account)
    console.print(
        f"Requeued {count} contact(s); the running worker scores them within its drain "
        "interval (LEADSCORE_WEBHOOK_DRAIN_INTERVAL_SECONDS)."
    )


def render_rows(rows: list[sa.Row]) -> Table:
    table = Table("account", "contact", "status", "events", "attempts", "updated", "last error")
    for row in rows:
        table.add_row(
            row.account,
            row.contact_id,
            row.status,
            row.event_kinds or row.last_kind,
            str(row.attempts),
            row.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            row.last_error or "",
        )
    return table


def _open_engine(console: Console) -> sa.Engine:
    from jobs.settings import SettingsError, load_settings
    from jobs.store import Store

    try:
        settings = load_settings(
            warn=lambda message: console.print(f"warning: {message}", markup=False)
        )
    except SettingsError as exc:
        _fail(console, f"invalid settings: {exc}")
    try:
        return Store.open(settings.database_url).engine
    except (sa.exc.SQLAlchemyError, RuntimeError) as exc:
        _fail(console, f"cannot open the state store (LEADSCORE_DATABASE_URL): {exc}")


def _fail(console: Console, message: str):
    console.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_INVALID)

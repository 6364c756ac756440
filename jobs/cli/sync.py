"""`leadscore setup`, `backfill`, `run`, `doctor` and `health`: the worker beside a CRM.

Exit codes: 0 on success; 1 when a check fails (`doctor`, `health`, `setup`
with problems to fix) or a backfill stopped early; 2 when the settings are
invalid (the message names the variable or file and what to set).
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from connectors.errors import ConnectorError
from jobs.settings import Settings, SettingsError, load_settings

EXIT_FAILED = 1
EXIT_INVALID_SETTINGS = 2

TOKEN_FIX = "set the account's token variable to a valid token"

AccountOption = Annotated[
    str | None,
    typer.Option(
        "--account",
        "-a",
        help="Account key (hubspot:123), id or name from the accounts file. "
        "Default: every configured account.",
    ),
]

out = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the worker's commands to the `leadscore` application."""
    app.command("setup")(setup_command)
    app.command("backfill")(backfill_command)
    app.command("run")(run_command)
    app.command("doctor")(doctor_command)
    app.command("health")(health_command)


def _load_settings() -> Settings:
    """Load the settings, or print one line per invalid value and exit 2."""
    try:
        return load_settings(
            warn=lambda message: err.print(Text(f"Warning: {message}", style="yellow"))
        )
    except SettingsError as exc:
        err.print(Text(f"Error: {exc}", style="red"))
        raise typer.Exit(EXIT_INVALID_SETTINGS) from None


def _settings() -> Settings:
    # Logging is already configured for the command by the application's callback.
    return _load_settings()


@contextmanager
def _settings_errors() -> Iterator[None]:
    try:
        yield
    except SettingsError as exc:
        err.print(Text(f"Error: {exc}", style="red"))
        raise typer.Exit(EXIT_INVALID_SETTINGS) from None


def _runtime(settings: Settings, account: str | None, store: Any = None) -> Any:
    from jobs.accounts import build_runtime
    from scoring.model import ModelError

    with _settings_errors():
        try:
            return build_runtime(settings, account_name=account, store=store)
        except ModelError as exc:
            err.print(Text(f"Error: invalid model: {exc}", style="red"))
            raise typer.Exit(EXIT_INVALID_SETTINGS) from None


# -- setup ----------------------------------------------------------------------


def setup_command(
    account: AccountOption = None,
    check_only: Annotated[
        bool,
        typer.Option("--check-only", help="Report what is missing without creating anything."),
    ] = False,
) -> None:
    """Create the CRM custom fields the worker writes and check the field mapping."""
    settings = _settings()
    runtime = _runtime(settings, account)
    problems = 0
    try:
        for ctx in runtime.contexts:
            out.print(Text(f"Account {ctx.label or ctx.account}", style="bold"))
            try:
                report = ctx.connector.setup(apply=not check_only)
            except ConnectorError as exc:
                err.print(Text(f"  ✗ setup failed: {exc}", style="red"))
                problems += 1
                continue
            for name in report.created:
                out.print(f"  + created {name}")
            for name in report.existing:
                out.print(f"  ✓ exists  {name}")
            for problem in report.problems:
                out.print(Text(f"  ✗ {problem}", style="red"))
            problems += len(report.problems)
    finally:
        runtime.close()
    if problems:
        err.print(f"{problems} problem(s) to fix; run `leadscore setup` again afterwards.")
        raise typer.Exit(EXIT_FAILED)


# -- backfill ---------------------------------------------------------------------


class RateColumn(ProgressColumn):
    """Contacts per second of a progress task."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f}/s" if speed else "-/s", style="cyan")


@contextmanager
def _stop_on_first_interrupt(stop: Any) -> Iterator[None]:
    """First Ctrl-C or SIGTERM: finish the current page and stop. Second Ctrl-C: abort now."""

    def request_stop(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        err.print("Stopping after the current page (Ctrl-C again to abort now)…")

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def backfill_command(
    account: AccountOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Score and report tier counts and a sample of changes; write nothing to the "
            "CRM or the store.",
        ),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Stop after this many contacts per account."),
    ] = None,
    restart: Annotated[
        bool,
        typer.Option("--restart", help="Start from the first contact, ignoring saved progress."),
    ] = False,
    alerts: Annotated[
        bool,
        typer.Option(
            "--alerts/--no-alerts",
            help="Record hot-lead alerts for leads the backfill finds hot. Off by default, so "
            "staff are not alerted about every old lead.",
        ),
    ] = False,
) -> None:
    """Score every contact of the account(s); resumes where an interrupted run stopped."""
    from jobs.backfill import resumable_progress, run_backfill
    from jobs.logging import bind_job

    settings = _settings()
    runtime = _runtime(settings, account, _dry_run_store(settings) if dry_run else None)
    # A failed account always fails the command. A run stopped early by --limit
    # or Ctrl-C fails it only when it writes, because only then is work left to resume.
    failed = 0
    incomplete = 0
    try:
        with _stop_on_first_interrupt(runtime.stop):
            for ctx in runtime.contexts:
                total = _contact_total(ctx.connector)
                columns = [
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    RateColumn(),
                    TimeElapsedColumn(),
                    TimeRemainingColumn(),
                ]
                with (
                    bind_job(job="backfill", crm=ctx.crm, account=ctx.account),
                    Progress(*columns, console=err, transient=False) as progress,
                ):
                    task = progress.add_task(
                        ctx.label or ctx.account,
                        total=min(total, limit) if total and limit else total,
                    )
                    saved_before = resumable_progress(ctx)
                    try:
                        result = run_backfill(
                            ctx,
                            dry_run=dry_run,
                            limit=limit,
                            restart=restart,
                            record_alerts=alerts,
                            on_page=lambda count, task=task: progress.advance(task, count),
                        )
                    except ConnectorError as exc:
                        err.print(Text(f"Error: {ctx.account}: {exc}", style="red"))
                        err.print(_resume_hint(ctx, dry_run, restart, saved_before))
                        failed += 1
                        continue
                _print_backfill(ctx.label or ctx.account, result)
                if not result.finished:
                    incomplete += 1
                if runtime.stop.is_set():
                    break
    finally:
        runtime.close()
    if failed or (incomplete and not dry_run):
        raise typer.Exit(EXIT_FAILED)


def _dry_run_store(settings: Settings) -> Any:
    """Return an empty in-memory store when the SQLite store file does not exist yet.

    A dry run writes nothing to the store, so it must not create the file
    either. An existing store (or a server database) is opened as usual and
    only read.
    """
    from jobs.store import Store

    try:
        path = _sqlite_file(settings.database_url)
    except Exception:  # an unparsable URL fails later with the store's own message
        return None
    if path is None or path.exists():
        return None
    return Store.open("sqlite://")


def _resume_hint(ctx: Any, dry_run: bool, restart: bool, saved_before: Any) -> str:
    """Build the line that says whether a failed backfill can resume from saved progress."""
    from jobs.backfill import resumable_progress

    if dry_run:
        return "Nothing was saved (a dry run saves nothing); fix the error and run it again."
    saved = resumable_progress(ctx)
    if saved is None or (restart and saved == saved_before):
        return "Nothing was saved; fix the error and run the same command again."
    pages = "page" if saved.pages == 1 else "pages"
    rerun = "run `leadscore backfill` without --restart" if restart else "run the same command"
    return (
        f"Progress is saved ({saved.pages} {pages}, {saved.seen} contacts); "
        f"{rerun} again to resume."
    )


def _contact_total(connector: Any) -> int | None:
    # Optional: connectors that can count contacts cheaply offer `count_contacts()`.
    counter = getattr(connector, "count_contacts", None)
    if counter is None:
        return None
    try:
        return int(counter())
    except ConnectorError:
        return None


def _print_backfill(label: str, result: Any) -> None:
    stats = result.stats
    verb = "would write" if result.dry_run else "wrote"
    written = result.would_write if result.dry_run else stats.written
    status = "finished" if result.finished else "stopped (run again to resume)"
    if result.dry_run:
        status = "dry run, nothing written"

    out.print(
        Text(
            f"{label}: {stats.scored} scored, {verb} {written}, {stats.unchanged} unchanged, "
            f"{stats.skipped} skipped, {stats.errors} failed — {status}",
            style="bold",
        )
    )

    tiers = Counter(stats.tiers)
    table = Table(title="Tiers", title_justify="left")
    table.add_column("tier")
    table.add_column("leads", justify="right")
    for tier in ("hot", "warm", "cold", "disqualified"):
        table.add_row(tier, str(tiers.get(tier, 0)))
    out.print(table)

    if result.dry_run and result.sample:
        sample = Table(title="Sample of changes", title_justify="left")
        for column in ("contact", "score", "tier", "top reasons"):
            sample.add_column(column)
        for change in result.sample:
            old_score = "-" if change.old_score is None else str(change.old_score)
            sample.add_row(
                change.contact_id,
                f"{old_score} → {change.new_score}",
                f"{change.old_tier or '-'} → {change.new_tier}",
                change.reasons,
            )
        out.print(sample)


# -- run ----------------------------------------------------------------------------


def run_command() -> None:
    """Run the worker: sync every interval, rescore nightly, deliver alerts, until stopped."""
    from jobs.daemon import Daemon

    settings = _settings()
    runtime = _runtime(settings, None)
    code = Daemon(runtime).run()
    raise typer.Exit(code)


# -- doctor ---------------------------------------------------------------------


def _line(ok: bool, name: str, detail: str = "", fix: str = "") -> None:
    mark = Text("✓ ", style="green") if ok else Text("✗ ", style="red")
    text = Text.assemble(mark, Text(name, style="bold"), f"  {detail}" if detail else "")
    out.print(text)
    if not ok and fix:
        out.print(Text(f"    fix: {fix}", style="yellow"))


def _check_line(check: Any) -> None:
    """Print one connector check: passed, failed, warning (not required) or skipped."""
    if check.skipped:
        out.print(
            Text.assemble(
                Text("- ", style="dim"), Text(check.name, style="bold"), f"  {check.detail}"
            )
        )
        return
    if check.ok or check.required:
        _line(check.ok, check.name, check.detail, check.fix)
        return
    out.print(
        Text.assemble(
            Text("! ", style="yellow"),
            Text(check.name, style="bold"),
            f"  warning: {check.detail}",
        )
    )
    if check.fix:
        out.print(Text(f"    fix: {check.fix}", style="yellow"))


def _sqlite_file(database_url: str) -> Path | None:
    """Return the file of a SQLite URL, or None for another database or an in-memory one."""
    from jobs.store.store import normalize_database_url

    url = normalize_database_url(database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


def _check_store(database_url: str) -> bool:
    """Print the state store line of doctor; return False when the store is unusable.

    A SQLite file that does not exist yet is not created: doctor only checks
    that the worker could create it.
    """
    from jobs.store import Store

    fix = (
        "check LEADSCORE_DATABASE_URL, that the server is up, and that the directory of a "
        "SQLite file is writable"
    )
    try:
        path = _sqlite_file(database_url)
    except Exception as exc:  # an unparsable URL is reported, not raised
        _line(False, "state store", f"{type(exc).__name__}: {exc}", fix)
        return False
    if path is not None and not path.exists():
        return _check_future_sqlite_file(path)
    try:
        store = Store.open(database_url)
        store.check()
        where = f"SQLite file {path}" if path is not None else store.dialect
        _line(True, "state store", where)
        store.close()
    except Exception as exc:  # any driver or file error is reported, not raised
        _line(False, "state store", f"{type(exc).__name__}: {exc}", fix)
        return False
    return True


def _check_future_sqlite_file(path: Path) -> bool:
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    fix = "set LEADSCORE_DATABASE_URL to sqlite:///<path in a writable directory>"
    if not existing.is_dir():
        _line(
            False,
            "state store",
            f"cannot create SQLite file {path}: {existing} is not a directory",
            fix,
        )
        return False
    if not os.access(existing, os.W_OK | os.X_OK):
        _line(
            False,
            "state store",
            f"cannot create SQLite file {path}: {existing} is not writable",
            fix,
        )
        return False
    _line(
        True,
        "state store",
        f"SQLite file {path} does not exist yet; setup, backfill or run creates it",
    )
    return True


def doctor_command(account: AccountOption = None) -> None:
    """Check settings, the store, the model, credentials, scopes, mapping and connectivity."""
    from connectors.checks import fix_for
    from jobs.accounts import build_connector, load_account_model

    settings = _settings()
    failures = 0
    warnings = 0

    try:
        accounts = [settings.account(account)] if account else settings.accounts()
        _line(True, "settings", f"{len(accounts)} account(s) configured")
    except SettingsError as exc:
        fix = getattr(exc, "fix", None) or "set the variable or fix the file named above"
        _line(False, "settings", str(exc), fix)
        accounts = []
        failures += 1

    failures += 0 if _check_store(settings.database_url) else 1

    for entry in accounts:
        out.print(Text(f"Account {entry.label}", style="bold underline"))
        try:
            model = load_account_model(entry)
            _line(True, "model", f"{getattr(model, 'version', '')}")
        except Exception as exc:
            _line(False, "model", str(exc), "fix the model file named above")
            failures += 1
            continue
        try:
            connector = build_connector(entry, model)
        except (SettingsError, ConnectorError, ValueError) as exc:
            _line(
                False,
                "connector",
                str(exc),
                getattr(exc, "fix", None) or "fix the account's settings",
            )
            failures += 1
            continue
        try:
            checks = connector.check()
        except ConnectorError as exc:
            checks = []
            _line(False, "connectivity", str(exc), fix_for(exc, token_fix=TOKEN_FIX))
            failures += 1
        for check in checks:
            _check_line(check)
            failures += 1 if check.failed else 0
            warnings += 1 if not (check.ok or check.required or check.skipped) else 0
        connector.close()

    if warnings:
        err.print(f"{warnings} warning(s): optional features that will not work until fixed.")
    if failures:
        err.print(f"{failures} check(s) failed.")
        raise typer.Exit(EXIT_FAILED)


# -- health ---------------------------------------------------------------------


def health_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Exit 0 when the last successful sync cycle is recent, 1 when the heartbeat is stale."""
    from jobs.health import read_health

    settings = _load_settings()
    status = read_health(settings)
    if as_json:
        out.print_json(json.dumps(status.to_dict()))
    else:
        _line(status.ok, "health", status.detail)
    if not status.ok:
        raise typer.Exit(EXIT_FAILED)

"""`leadscore alerts` lists alerts with their deliveries; `leadscore alerts test` sends a sample.

Exit codes: 0 on success, 1 when `alerts test` had a channel fail, 2 when a
setting or option is invalid (the message names the fix).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connectors.base import CrmConnector, HotLeadAlert
from jobs.alerts.channels import ChannelError, build_channels
from jobs.alerts.message import AlertNotice, format_local_time, sample_notice
from jobs.alerts.settings import AlertSettings
from jobs.alerts.tables import ALERT_STATUSES, AlertKind, alert_deliveries, alerts

EXIT_CHANNEL_FAILED = 1
EXIT_INVALID = 2
DEFAULT_LIMIT = 50
TEST_KEY_PREFIX = "leadscore-alert-test"

alerts_app = typer.Typer(
    name="alerts",
    help="List hot-lead alerts and their deliveries, or send a test alert.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(app: typer.Typer) -> None:
    """Add the `alerts` command group to the `leadscore` application."""
    app.add_typer(alerts_app, name="alerts")


@alerts_app.callback()
def list_alerts(
    context: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Show only alerts with this status: pending, held, sent or failed.",
        ),
    ] = None,
    account: Annotated[
        str | None,
        typer.Option("--account", help="Show only this account's alerts (e.g. hubspot:1234)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many alerts, newest first.")
    ] = DEFAULT_LIMIT,
) -> None:
    """List alerts, newest first, with each channel's delivery status and last error."""
    if context.invoked_subcommand is not None:
        return
    console = Console()
    if status is not None and status not in ALERT_STATUSES:
        _fail(console, f"invalid --status {status!r}: use one of {', '.join(ALERT_STATUSES)}")
    settings = _load_settings(console)
    store = _open_store(console, settings)
    rows = fetch_alerts(store.engine, status=status, account=account, limit=limit)
    if not rows:
        console.print("No alerts match." if status or account else "No alerts recorded yet.")
        return
    console.print(render_alert_table(rows, settings.alerts or AlertSettings()))


@alerts_app.command("test")
def test_alerts(
    contact: Annotated[
        str | None,
        typer.Option(
            "--contact",
            help="CRM contact id to attach the test task or tag to; without it the CRM "
            "channel is skipped, because the CRM needs a real contact.",
        ),
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Account for the CRM test (e.g. hubspot:1234).")
    ] = None,
) -> None:
    """Send a sample alert through every configured channel and print each result."""
    console = Console()
    settings = _load_settings(console)
    alert_settings: AlertSettings = settings.alerts or AlertSettings()
    names = alert_settings.channel_names
    if not names:
        _fail(console, "no alert channels are configured: set LEADSCORE_ALERT_CHANNELS")

    connectors: dict[str, CrmConnector] = {}
    account_key = account or "sample"
    if "crm" in names and contact is not None:
        account_key, connectors = _crm_connectors(console, settings, account)
    results = run_channel_test(
        alert_settings, connectors, account_key=account_key, contact_id=contact
    )

    table = Table(title="Test alert", show_lines=False)
    table.add_column("Channel")
    table.add_column("Result")
    table.add_column("Detail", overflow="fold")
    for result in results:
        style = {"sent": "green", "failed": "red", "skipped": "yellow"}[result.outcome]
        table.add_row(result.channel, f"[{style}]{result.outcome}[/]", result.detail)
    console.print(table)
    if any(result.outcome == "failed" for result in results):
        raise typer.Exit(EXIT_CHANNEL_FAILED)


@dataclass(frozen=True, slots=True)
class ChannelTestResult:
    channel: str
    outcome: str  # sent, failed or skipped
    detail: str


def run_channel_test(
    settings: AlertSettings,
    connectors_by_account: Mapping[str, CrmConnector],
    *,
    account_key: str = "sample",
    contact_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[ChannelTestResult]:
    """Send one sample alert through each configured channel; never touches the outbox."""
    notice = sample_notice(account_key)
    if contact_id is not None:
        notice = _with_contact(notice, contact_id)
    key = f"{TEST_KEY_PREFIX}-{int(clock().timestamp())}"
    results: list[ChannelTestResult] = []
    for channel in build_channels(settings, connectors_by_account):
        if channel.name == "crm" and contact_id is None:
            results.append(
                ChannelTestResult(
                    "crm", "skipped", "pass --contact ID to create a test task on a real contact"
                )
            )
            continue
        try:
            receipt = channel.send(notice, f"{key}-{channel.name}")
        except ChannelError as exc:
            results.append(ChannelTestResult(channel.name, "failed", str(exc)))
        else:
            results.append(ChannelTestResult(channel.name, "sent", receipt))
    return results


def _with_contact(notice: AlertNotice, contact_id: str) -> AlertNotice:
    lead = notice.leads[0]
    changed = HotLeadAlert(
        **{
            **{name: getattr(lead, name) for name in lead.__slots__},
            "contact_id": contact_id,
        }
    )
    return AlertNotice(notice.alert_id, notice.account, (changed,), notice.alert_ids)


def fetch_alerts(
    engine: sa.Engine, *, status: str | None, account: str | None, limit: int
) -> list[dict[str, Any]]:
    """Return alerts newest first, each with its `deliveries` list."""
    query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(alerts.c.status == status)
    if account is not None:
        query = query.where(alerts.c.account == account)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
        ids = [row["id"] for row in rows]
        by_alert: dict[int, list[dict[str, Any]]] = {alert_id: [] for alert_id in ids}
        if ids:
            deliveries = conn.execute(
                sa.select(alert_deliveries)
                .where(alert_deliveries.c.alert_id.in_(ids))
                .order_by(alert_deliveries.c.id)
            )
            for delivery in deliveries:
                by_alert[delivery.alert_id].append(dict(delivery._mapping))
    for row in rows:
        row["deliveries"] = by_alert[row["id"]]
    return rows


def render_alert_table(rows: list[dict[str, Any]], settings: AlertSettings) -> Table:
    zone = settings.zone
    table = Table(title=f"Alerts (times in {settings.timezone})")
    table.add_column("ID", justify="right")
    table.add_column("Account")
    table.add_column("Lead")
    table.add_column("Score", justify="right")
    table.add_column("Recorded")
    table.add_column("Status")
    table.add_column("Deliveries", overflow="fold")
    for row in rows:
        lead = row["contact_id"] or "digest"
        if row["kind"] == AlertKind.LEAD and row.get("payload"):
            name = row["payload"].get("name")
            lead = f"{name} ({row['contact_id']})" if name else row["contact_id"]
        status = row["status"]
        if status == "held" and row.get("hold_reason") == "daily_cap" and row.get("release_at"):
            status = f"held: digest at {format_local_time(row['release_at'], zone)}"
        elif status == "held":
            status = "held: outside business hours"
        elif row.get("digest_id"):
            status = f"{status} (in digest {row['digest_id']})"
        table.add_row(
            str(row["id"]),
            row["account"],
            lead,
            str(row["score"]),
            format_local_time(row["created_at"], zone),
            status,
            "\n".join(_delivery_line(delivery, zone) for delivery in row["deliveries"]) or "-",
        )
    return table


def _delivery_line(delivery: Mapping[str, Any], zone) -> str:
    attempts = delivery["attempts"]
    line = f"{delivery['channel']}: {delivery['status']}, {attempts} attempt(s)"
    if delivery["status"] == "sent" and delivery.get("sent_at"):
        line += f", sent {format_local_time(delivery['sent_at'], zone)}"
    elif delivery["status"] in ("pending", "held") and delivery.get("next_attempt_at"):
        line += f", next {format_local_time(delivery['next_attempt_at'], zone)}"
    if delivery.get("last_error") and delivery["status"] != "sent":
        line += f"\n  last error: {delivery['last_error']}"
    return line


def _load_settings(console: Console):
    from jobs.settings import SettingsError, load_settings

    try:
        return load_settings(
            warn=lambda message: console.print(f"warning: {message}", markup=False)
        )
    except SettingsError as exc:
        _fail(console, f"invalid settings: {exc}")


def _open_store(console: Console, settings):
    from jobs.store import Store

    try:
        return Store.open(settings.database_url)
    except (sa.exc.SQLAlchemyError, RuntimeError) as exc:
        _fail(console, f"cannot open the state store (LEADSCORE_DATABASE_URL): {exc}")


def _crm_connectors(console: Console, settings, account: str | None):
    """Return the account key and its connector, for a CRM test alert."""
    from jobs.accounts import build_connector, load_account_model
    from jobs.settings import SettingsError

    try:
        chosen = settings.account(account)
        connector = build_connector(chosen, load_account_model(chosen))
    except SettingsError as exc:
        _fail(console, str(exc))
    return chosen.key, {chosen.key: connector}


def _fail(console: Console, message: str):
    console.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(EXIT_INVALID)

"""The `leadscore run` daemon: scheduled sync, nightly rescore, alert delivery, outcomes.

APScheduler 3.x runs thin jobs in UTC on a thread pool. Every job has a
stable id, `replace_existing=True`, `max_instances=1`, `coalesce=True` and an
explicit `misfire_grace_time`, and logs its own failure once. Jobs that touch
an account take that account's lock, so the sync, the rescore and webhook
processing never score the same contact at the same time.

The alert outbox and the webhook drain also run on demand: any job that
records an alert wakes the outbox, and the webhook receiver wakes the drain
after queueing a contact. So a hot lead's alert leaves as soon as its score is
stored. The outbox's timer paces retries, alerts held until opening hours and
digests, and is the safety net for a missed wake-up.

One daemon runs per heartbeat file: `start()` takes an exclusive lock on a
file next to it, so a second `leadscore run` with the same settings exits 1.

SIGTERM or SIGINT sets the stop event: a running cycle ends after its
current page (keeping its cursor), the scheduler waits for running jobs, the
webhook receiver stops, and `run()` returns 0.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from jobs.accounts import Runtime
from jobs.health import read_health, write_heartbeat
from jobs.logging import bind_job
from jobs.sync import SyncContext, process_contacts, pull_outcomes, rescore_stored, run_cycle
from jobs.wake import WakeableJob

log = structlog.get_logger(__name__)

SYNC_JOB_ID = "sync"
RESCORE_JOB_ID = "nightly_rescore"
OUTBOX_JOB_ID = "alert_outbox"
OUTCOMES_JOB_ID = "outcomes"
WEBHOOK_JOB_ID = "webhook_queue"

# Jobs run on their own threads; five covers one of each kind at once.
EXECUTOR_THREADS = 5


class DaemonAlreadyRunning(RuntimeError):
    """Another `leadscore run` holds the instance lock of the same heartbeat file."""


def instance_lock_path(settings: Any) -> Path:
    """Return the lock file of a daemon: next to its heartbeat file."""
    heartbeat = Path(settings.heartbeat_file)
    return heartbeat.with_name(heartbeat.name + ".lock")


def acquire_instance_lock(path: Path) -> IO[str]:
    """Lock `path` exclusively for this process; the lock ends when the file is closed.

    NOTE: the lock is a local file lock, so it keeps a second daemon off the
    same machine (or container volume) only. Two hosts sharing one PostgreSQL
    store are not detected.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DaemonAlreadyRunning(
            f"another leadscore run holds {path}: stop it first, or give this one its own "
            "LEADSCORE_HEARTBEAT_FILE and state store"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class Daemon:
    """The scheduler, its jobs and the services that run beside it, for every account."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stop_event = runtime.stop
        self.scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(EXECUTOR_THREADS)}
        )
        self.webhook_service: Any = None
        self._webhook_drain: Any = None
        self._locks: dict[str, threading.Lock] = {
            ctx.account: threading.Lock() for ctx in runtime.contexts
        }
        self._channels: list[Any] | None = None
        self._lock_file: IO[str] | None = None
        self.cycles = 0
        self.outbox_job = WakeableJob(
            self.scheduler, OUTBOX_JOB_ID, self.deliver_outbox, stop=self.stop_event
        )
        self.webhook_job = WakeableJob(
            self.scheduler, WEBHOOK_JOB_ID, self.drain_webhooks, stop=self.stop_event
        )
        for ctx in runtime.contexts:
            ctx.on_alerts_recorded = self._wake_outbox

    # -- jobs -----------------------------------------------------------------

    @contextmanager
    def _account_job(self, job: str, ctx: SyncContext) -> Iterator[None]:
        with self._locks[ctx.account], bind_job(job=job, crm=ctx.crm, account=ctx.account):
            yield

    def sync_all(self) -> None:
        """Run one cycle for each account; rewrite the heartbeat when any account finished."""
        summary: dict[str, Any] = {}
        for ctx in self.runtime.contexts:
            if self.stop_event.is_set():
                return
            with self._account_job("sync", ctx):
                try:
                    report = run_cycle(ctx, clock=self.clock)
                except Exception:  # a store or programming error: log it, go on
                    log.exception("sync_cycle_crashed")
                    summary[ctx.account] = {"ok": False}
                    continue
            summary[ctx.account] = {
                "ok": report.ok,
                "written": report.stats.written,
                "errors": report.stats.errors,
                "paused_until": report.paused_until.isoformat() if report.paused_until else None,
            }
        self.cycles += 1
        if any(entry["ok"] for entry in summary.values()):
            write_heartbeat(self.settings.heartbeat_file, now=self.clock(), accounts=summary)

    def rescore_all(self) -> None:
        for ctx in self.runtime.contexts:
            if self.stop_event.is_set():
                return
            with self._account_job("rescore", ctx):
                try:
                    rescore_stored(ctx, clock=self.clock)
                except Exception:
                    log.exception("rescore_failed")

    def pull_outcomes_all(self) -> None:
        for ctx in self.runtime.contexts:
            if self.stop_event.is_set():
                return
            with self._account_job("outcomes", ctx):
                try:
                    pull_outcomes(ctx, clock=self.clock)
                except Exception:
                    log.exception("outcomes_pull_failed")

    def deliver_outbox(self) -> None:
        alerts = self.settings.alerts
        if alerts is None or not alerts.enabled:
            return
        from jobs.alerts import build_channels, deliver_pending

        with bind_job(job="alerts"):
            try:
                if self._channels is None:
                    self._channels = build_channels(alerts, self.runtime.connectors)
                # `deliver_pending` logs `alert_outbox_delivered` with the counts itself.
                deliver_pending(self.runtime.store, self._channels, self.clock(), alerts)
            except Exception:
                log.exception("alert_outbox_job_failed")

    def drain_webhooks(self) -> None:
        """Score the contacts the webhook receiver queued (the drain fetches them by id)."""
        if self._webhook_drain is None:
            return
        with bind_job(job="webhooks"):
            try:
                self._webhook_drain()
            except Exception:
                log.exception("webhook_queue_failed")

    def _process_locked(self, ctx: SyncContext, contacts: Any, now: datetime) -> Any:
        with self._locks[ctx.account], bind_job(job="webhooks", crm=ctx.crm, account=ctx.account):
            return process_contacts(ctx, contacts, now, trigger="webhook")

    def _wake_webhook_job(self) -> None:
        """Run the drain job now (the receiver calls this after queueing a contact)."""
        self.webhook_job.wake()

    def _wake_outbox(self, alerts: int) -> None:
        """Run the alert outbox now (a job calls this after it stored `alerts` new alerts)."""
        alert_settings = self.settings.alerts
        if alert_settings is None or not alert_settings.enabled:
            return
        log.debug("alert_outbox_woken", alerts=alerts)
        self.outbox_job.wake()

    def health_report(self) -> Any:
        """Return the heartbeat's health in the shape the webhook receiver's /healthz takes."""
        from jobs.webhooks.app import HealthReport

        status = read_health(self.settings, now=self.clock())
        return HealthReport(healthy=status.ok, details={"heartbeat": status.to_dict()})

    def _build_webhook_service(self) -> None:
        webhooks = self.settings.webhooks
        if webhooks is None or not webhooks.enabled:
            return
        from jobs.webhooks.drain import WebhookDrain
        from jobs.webhooks.service import WebhookService

        contexts = {ctx.account: ctx for ctx in self.runtime.contexts}
        self._webhook_drain = WebhookDrain(
            self.runtime.store,
            contexts,
            self._process_locked,
            clock=self.clock,
            stop=self.stop_event,
        )
        self.webhook_service = WebhookService(
            webhooks,
            self.runtime.store,
            on_enqueued=self._wake_webhook_job,
            health=self.health_report,
        )

    # -- lifecycle -----------------------------------------------------------

    def schedule(self) -> None:
        """Add every job to the scheduler (replacing jobs of the same id)."""
        settings = self.settings
        grace = settings.misfire_grace_seconds
        common = {"replace_existing": True, "max_instances": 1, "coalesce": True}
        self.scheduler.add_job(
            self.sync_all,
            "interval",
            seconds=settings.sync_interval_seconds,
            id=SYNC_JOB_ID,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=grace,
            **common,
        )
        self.scheduler.add_job(
            self.rescore_all,
            "cron",
            hour=settings.rescore_time.hour,
            minute=settings.rescore_time.minute,
            id=RESCORE_JOB_ID,
            # A rescore delayed by a restart is still worth running within the hour.
            misfire_grace_time=3600,
            **common,
        )
        self.scheduler.add_job(
            self.outbox_job.run,
            "interval",
            seconds=settings.outbox_interval_seconds,
            id=OUTBOX_JOB_ID,
            misfire_grace_time=grace,
            **common,
        )
        self.scheduler.add_job(
            self.pull_outcomes_all,
            "interval",
            seconds=settings.outcomes_interval_seconds,
            id=OUTCOMES_JOB_ID,
            misfire_grace_time=grace,
            **common,
        )
        if self._webhook_drain is not None:
            self.scheduler.add_job(
                self.webhook_job.run,
                "interval",
                seconds=settings.webhook_drain_interval_seconds,
                id=WEBHOOK_JOB_ID,
                misfire_grace_time=grace,
                **common,
            )

    def start(self) -> None:
        """Take the instance lock, start the webhook receiver and the scheduler.

        Raises `DaemonAlreadyRunning` when another daemon holds the lock.
        """
        self._lock_file = acquire_instance_lock(instance_lock_path(self.settings))
        self._build_webhook_service()
        self.schedule()
        if self.webhook_service is not None:
            self.webhook_service.start()
        self.scheduler.start()
        log.info(
            "daemon_started",
            accounts=[ctx.account for ctx in self.runtime.contexts],
            sync_interval_seconds=self.settings.sync_interval_seconds,
            webhooks=self.webhook_service is not None,
        )

    def stop(self) -> None:
        """Stop taking new runs, let running jobs reach a checkpoint, then shut down."""
        self.stop_event.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.webhook_service is not None:
            self.webhook_service.stop()
        self.runtime.close()
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the lock
            self._lock_file = None
        log.info("daemon_stopped", cycles=self.cycles)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the process exit code."""

        def request_stop(signum: int, _frame: Any) -> None:
            log.info("daemon_stopping", signal=signal.Signals(signum).name)
            self.stop_event.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            try:
                self.start()
            except DaemonAlreadyRunning as exc:
                log.error("daemon_already_running", error=str(exc))
                return 1
            while not self.stop_event.wait(timeout=1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

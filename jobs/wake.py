"""Run an interval job of the daemon at once on request, without overlapping runs.

A wake-up moves the job's next run time to now, as `modify_job` does. APScheduler
3.x skips a run whose job is still running (`max_instances=1`) and logs "skipped:
maximum number of running instances reached" at WARNING. A wake-up that comes
while the job runs is expected, so it is not passed to the scheduler: the running
job runs its function once more before it returns. The interval trigger stays in
place as the safety net for a wake-up that never comes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.base import BaseScheduler

log = structlog.get_logger(__name__)

_FINISHED_EVENTS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


class WakeableJob:
    """A scheduler job that `wake()` runs at once, or runs again when it is already running.

    Add `run` to the scheduler under `job_id` with `max_instances=1`. The
    function runs again while wake-ups arrived during its last pass, so work
    recorded after the pass began is not left for the next interval.
    """

    def __init__(
        self,
        scheduler: BaseScheduler,
        job_id: str,
        func: Callable[[], object],
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.job_id = job_id
        self.func = func
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        # A wake-up arrived after the current pass of `func` began.
        self._requested = False
        # A run is scheduled by a wake-up or is running, and the executor has not
        # reported it finished yet.
        self._active = False
        self.wakeups = 0
        self.passes = 0
        scheduler.add_listener(self._on_finished, _FINISHED_EVENTS)

    def run(self) -> None:
        """Call `func`, then call it again for as long as wake-ups arrived during the last call."""
        with self._lock:
            self._active = True
        while True:
            with self._lock:
                self._requested = False
            self.passes += 1
            self.func()
            with self._lock:
                if not self._requested or self.stop.is_set():
                    return

    def wake(self) -> None:
        """Run the job now, or once more after its current pass when it is running."""
        if self.stop.is_set() or not self.scheduler.running:
            return
        with self._lock:
            self.wakeups += 1
            self._requested = True
            if self._active:
                return
            self._active = True
        # NOTE: a wake-up between the scheduler submitting a timer run and that
        # run entering `run` still reaches the scheduler, which skips it with its
        # WARNING. Nothing is lost, because the starting run serves the work.
        self._schedule_now()

    def _schedule_now(self) -> None:
        try:
            self.scheduler.modify_job(self.job_id, next_run_time=datetime.now(UTC))
        except LookupError:
            # The job is not scheduled (for example while the daemon stops).
            with self._lock:
                self._active = False
            log.debug("job_wake_skipped", job_id=self.job_id, reason="job not scheduled")

    def _on_finished(self, event: JobEvent) -> None:
        """Release the job after the executor counted its run as finished.

        The executor calls listeners after it lowers the job's instance count,
        so a run scheduled from here is never skipped as overlapping. A wake-up
        that came between the last pass and the return of `run` is served here.
        A missed run (past the misfire grace time) is scheduled again here too.
        """
        if event.job_id != self.job_id:
            return
        with self._lock:
            self._active = False
            again = self._requested and not self.stop.is_set()
            if again:
                self._active = True
        if again and self.scheduler.running:
            self._schedule_now()

"""Waking a scheduled job: at once when idle, once more when running, never overlapping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC

import pytest
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from jobs.wake import WakeableJob

JOB_ID = "woken"
# Long enough that only a wake-up can start the job during a test.
INTERVAL_SECONDS = 3600


class BlockingWork:
    """Job work that counts its calls and, while `hold` is set, waits for `release`."""

    def __init__(self) -> None:
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.started = threading.Event()
        self.hold = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        self.started.set()
        if self.hold.is_set():
            self.release.wait(timeout=10)
        with self._lock:
            self.running -= 1


def wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(4)})
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=True)


def start_job(scheduler: BackgroundScheduler, work: BlockingWork) -> WakeableJob:
    job = WakeableJob(scheduler, JOB_ID, work)
    scheduler.add_job(
        job.run,
        "interval",
        seconds=INTERVAL_SECONDS,
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=30,
    )
    scheduler.start()
    return job


def test_wake_runs_idle_job_at_once(scheduler):
    work = BlockingWork()
    job = start_job(scheduler, work)

    job.wake()

    assert wait_until(lambda: work.calls == 1)
    assert job.passes == 1


def test_wake_during_run_adds_one_pass_without_warning(scheduler, caplog):
    work = BlockingWork()
    work.hold.set()
    job = start_job(scheduler, work)
    caplog.set_level(logging.WARNING, logger="apscheduler")

    job.wake()
    assert work.started.wait(timeout=5)
    # Three wake-ups while the first pass runs ask for one more pass, not three.
    job.wake()
    job.wake()
    job.wake()
    work.hold.clear()
    work.release.set()

    assert wait_until(lambda: work.calls == 2)
    time.sleep(0.3)
    skipped = [record for record in caplog.records if "maximum number" in record.getMessage()]
    assert work.calls == 2
    assert work.max_running == 1
    assert skipped == []


def test_wake_after_run_finishes_runs_again(scheduler):
    work = BlockingWork()
    job = start_job(scheduler, work)

    for expected in (1, 2, 3):
        job.wake()
        assert wait_until(lambda expected=expected: work.calls == expected)
        # The executor reports the run finished on its own thread just after it returns.
        assert wait_until(lambda: not job._active)

    assert job.passes == 3


def test_wake_ignored_once_stop_is_set(scheduler):
    work = BlockingWork()
    job = start_job(scheduler, work)
    job.stop.set()

    job.wake()
    time.sleep(0.3)

    assert work.calls == 0


def test_wake_before_scheduler_starts_does_nothing():
    scheduler = BackgroundScheduler(timezone=UTC)
    work = BlockingWork()
    job = WakeableJob(scheduler, JOB_ID, work)

    job.wake()

    assert work.calls == 0
    assert job.wakeups == 0

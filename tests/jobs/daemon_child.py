"""Run the real daemon against the in-memory CRM in a child process, for signal tests.

Usage: python -m tests.jobs.daemon_child STORE_URL HEARTBEAT_FILE PAGE_DELAY_SECONDS

The fake CRM contains 40 contacts on pages of 2 and sleeps PAGE_DELAY_SECONDS
before each page, so a signal can arrive in the middle of a sync cycle.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from jobs.accounts import Runtime
from jobs.daemon import Daemon
from jobs.logging import configure_logging
from jobs.settings import Settings
from jobs.store import Store
from jobs.sync import SyncContext
from scoring.lead import Lead
from tests.jobs.fake_crm import FakeCrm, simple_score


class SlowCrm(FakeCrm):
    page_delay: float = 0.0

    def pull_changed(self, since):
        for page in super().pull_changed(since):
            time.sleep(self.page_delay)
            yield page


def main() -> int:
    store_url, heartbeat, delay = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    settings = Settings(
        _env_file=None,
        database_url=store_url,
        heartbeat_file=heartbeat,
        sync_interval_seconds=5,
        log_format="json",
    )
    configure_logging(fmt="json")
    crm = SlowCrm(page_size=2)
    crm.page_delay = delay
    for number in range(40):
        crm.upsert(Lead(id=f"c{number:02d}", answers={"timeline": "This week"}))
    store = Store.open(store_url)
    runtime = Runtime(settings=settings, store=store, contexts=[])
    runtime.contexts.append(
        SyncContext(
            account="hubspot:1234",
            crm="hubspot",
            connector=crm,
            store=store,
            score=simple_score,
            stop=runtime.stop,
        )
    )
    return Daemon(runtime).run()


if __name__ == "__main__":
    sys.exit(main())

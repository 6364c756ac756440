"""Throughput of the sync's own work: merging, scoring, the state store and the outbox.

    .venv/bin/python benchmarks/bench_sync_store.py [--contacts 20000] [--database-url URL]

The CRM is the in-memory fake connector of the sync tests, so no HTTP is
involved: the figures are the worker's cost per contact on top of the CRM's
API time (see the connector benchmarks for calls per contact). The leads are
the generated example leads (`examples/make_leads.py`) read through the
spreadsheet connector and scored with the built-in model; alerts go to the
real outbox. The store is a new SQLite file unless `--database-url` names
another database, which must be empty.

Scenarios on one account:

1. first cycle: every contact is new (facts saved, history and alerts
   recorded, every score written);
2. second cycle: the echo of the first cycle's writes, nothing changed;
3. nightly rescore of every stored lead, one day later.
"""

from __future__ import annotations

import argparse
import functools
import logging
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._leads import write_leads_csv
from connectors.base import Contact
from connectors.spreadsheet import SpreadsheetSource
from jobs.accounts import model_scorer
from jobs.alerts import AlertSettings, record_score_change
from jobs.modelfile import load_model
from jobs.store import Store
from jobs.sync import SyncContext, rescore_stored, run_cycle
from tests.jobs.fake_crm import FakeCrm

ACCOUNT = "hubspot:bench"


def load_leads(count: int, workdir: Path) -> list[Contact]:
    model = load_model(None)
    path = write_leads_csv(workdir / "leads.csv", count)
    return [
        r for r in SpreadsheetSource(path, model.mapping).iter_records() if isinstance(r, Contact)
    ]


def timed(label: str, call) -> tuple[str, float, object]:
    started = time.perf_counter()
    result = call()
    return label, time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    # Log lines would measure the terminal, not the worker.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        contacts = load_leads(args.contacts, workdir)
        crm = FakeCrm(account_id="bench", page_size=100)
        for contact in contacts:
            crm.upsert(contact.lead, email=contact.email)

        url = args.database_url or f"sqlite:///{workdir / 'store.db'}"
        store = Store.open(url)
        model = load_model(None)
        ctx = SyncContext(
            account=ACCOUNT,
            crm="hubspot",
            connector=crm,
            store=store,
            score=model_scorer(model),
            model=model,
            record_alert=functools.partial(
                record_score_change, settings=AlertSettings(_env_file=None)
            ),
        )

        rows = []
        label, seconds, report = timed(
            "first cycle (all new)", lambda: run_cycle(ctx, clock=lambda: crm.clock)
        )
        rows.append(
            (label, report.stats.scored, report.stats.written, report.stats.alerted, seconds)
        )
        crm.tick(60)
        label, seconds, report = timed(
            "second cycle (echo, no change)", lambda: run_cycle(ctx, clock=lambda: crm.clock)
        )
        rows.append(
            (label, report.stats.scored, report.stats.written, report.stats.alerted, seconds)
        )
        later = crm.clock + timedelta(days=1)
        label, seconds, stats = timed(
            "nightly rescore, one day later", lambda: rescore_stored(ctx, clock=lambda: later)
        )
        rows.append((label, stats.scored, stats.written, stats.alerted, seconds))

        size = ""
        if url.startswith("sqlite"):
            database = workdir / "store.db"
            wal = Path(f"{database}-wal")
            size = (
                f"{database.stat().st_size / 1e6:.1f} MB (+ WAL {wal.stat().st_size / 1e6:.1f} MB)"
            )
        store.close()

    backend = url.split(":", 1)[0]
    machine = f"python {platform.python_version()}, {platform.machine()}"
    print(f"{machine}, store {backend}, {len(contacts):,} contacts")
    print("| scenario | scored | written | alerts recorded | wall time | contacts per second |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, scored, written, alerted, seconds in rows:
        rate = scored / seconds if seconds else 0
        print(
            f"| {label} | {scored:,} | {written:,} | {alerted:,} | {seconds:.1f} s | {rate:,.0f} |"
        )
    if size:
        print(f"store file after the run: {size}")


if __name__ == "__main__":
    main()

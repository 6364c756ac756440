"""Engine throughput: leads scored per second on one core with the default model.

    .venv/bin/python benchmarks/bench_engine.py [--count 100000] [--repeat 3]

The leads come from the example generator (examples/make_leads.py) at a larger
count and are read through the spreadsheet reader before timing starts, so
only `scoring.engine.score` is timed. The loop runs on one core; timings are
CPU time of this process, which other programs on the machine disturb less
than wall-clock time. Prefix the command with `taskset -c 0` to pin it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._leads import write_leads_csv
from connectors.base import Contact
from connectors.spreadsheet import SpreadsheetSource
from jobs.logging import configure_logging
from jobs.modelfile import load_model
from scoring.engine import score

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure scoring throughput on one core.")
    parser.add_argument("--count", type=int, default=100_000, help="Number of leads.")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs; the median is shown.")
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")

    model = load_model(None)
    with tempfile.TemporaryDirectory() as folder:
        path = write_leads_csv(Path(folder) / "leads.csv", args.count)
        source = SpreadsheetSource(path, model.mapping)
        leads = [r.lead for r in source.iter_records() if isinstance(r, Contact)]

    timings = []
    for _ in range(args.repeat):
        started = time.process_time()
        for lead in leads:
            score(lead, model, NOW)
        timings.append(time.process_time() - started)

    median = statistics.median(timings)
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(f"model {model.version}, {len(leads)} leads, {args.repeat} runs")
    print("CPU time per run (s): " + ", ".join(f"{t:.2f}" for t in timings))
    print(
        f"median {median:.2f} s: {len(leads) / median:,.0f} leads/s, "
        f"{1e6 * median / len(leads):.1f} µs per lead"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

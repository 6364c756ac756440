"""End-to-end spreadsheet scoring: rows per second from reading the file to writing the copy.

    .venv/bin/python benchmarks/bench_spreadsheet.py [--count 100000]
    .venv/bin/python benchmarks/bench_spreadsheet.py --input Leads.csv \
        --model examples/x-education/model.toml

Without `--input`, a CSV of `--count` generated leads (the shape of
examples/leads.csv) is written to a temporary folder first, and converted to
XLSX with `--xlsx`; neither is timed. Timed phases: reading and mapping the
file, scoring every row, and writing the scored copy (the work of
`leadscore score` without the summary). Figures are CPU time of this process,
which other programs on the machine disturb less than wall-clock time; wall
time is shown too.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._leads import write_leads_csv
from connectors.spreadsheet import SpreadsheetSource, read_table
from jobs.logging import configure_logging
from jobs.modelfile import load_model
from jobs.spreadsheet_job import score_sheet, write_report

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def measure(path: Path, model_path: Path | None, output: Path) -> None:
    model = load_model(model_path)
    size_mb = path.stat().st_size / 1e6

    wall_started, started = time.perf_counter(), time.process_time()
    source = SpreadsheetSource(path, model.mapping)
    read_done = time.process_time()
    report = score_sheet(source, model, NOW)
    score_done = time.process_time()
    write_report(report, output)
    write_done = time.process_time()
    wall = time.perf_counter() - wall_started

    rows = len(report.rows)
    cpu = write_done - started
    print(f"python {platform.python_version()} on {platform.machine()} {platform.system()}")
    print(f"file {path.name}: {rows} rows, {size_mb:.1f} MB; model {model.version}")
    print(
        f"CPU time: read+map {read_done - started:.2f} s, score {score_done - read_done:.2f} s, "
        f"write {write_done - score_done:.2f} s"
    )
    print(
        f"total CPU {cpu:.2f} s: {rows / cpu:,.0f} rows/s; wall {wall:.2f} s "
        f"({len(report.results)} scored, {len(report.skipped)} skipped)"
    )


def _to_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    table = read_table(path)
    sheet.append(list(table.header))
    for row in table.rows:
        sheet.append(list(row))
    target = path.with_suffix(".xlsx")
    workbook.save(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure end-to-end spreadsheet scoring.")
    parser.add_argument("--count", type=int, default=100_000, help="Generated rows.")
    parser.add_argument("--input", type=Path, help="Score this file instead of generated rows.")
    parser.add_argument("--model", type=Path, help="Model file. Default: the built-in model.")
    parser.add_argument(
        "--xlsx", action="store_true", help="Convert the generated rows to XLSX and score that."
    )
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / ("scored.xlsx" if args.xlsx else "scored.csv")
        if args.input is not None:
            measure(args.input, args.model, output)
        else:
            path = write_leads_csv(Path(folder) / "leads.csv", args.count)
            if args.xlsx:
                path = _to_xlsx(path)
            measure(path, args.model, output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

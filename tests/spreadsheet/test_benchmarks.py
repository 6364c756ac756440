"""The benchmark scripts still run (on a few rows; timings are not checked)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.spreadsheet.logging_state import keep_logging_state  # noqa: F401

pytestmark = pytest.mark.usefixtures("keep_logging_state")

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engine_benchmark_runs(capsys):
    assert load("bench_engine").main(["--count", "40", "--repeat", "1"]) == 0
    assert "40 leads" in capsys.readouterr().out


def test_spreadsheet_benchmark_runs(capsys):
    assert load("bench_spreadsheet").main(["--count", "40"]) == 0
    out = capsys.readouterr().out
    assert "40 rows" in out
    assert "(40 scored, 0 skipped)" in out


def test_spreadsheet_benchmark_runs_on_xlsx(capsys):
    assert load("bench_spreadsheet").main(["--count", "20", "--xlsx"]) == 0
    out = capsys.readouterr().out
    assert "leads.xlsx: 20 rows" in out

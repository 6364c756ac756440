"""The README's quick start: its command, run as written, prints the figures it shows."""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.spreadsheet import read_table
from jobs.cli import app
from tests.spreadsheet.logging_state import keep_logging_state  # noqa: F401

pytestmark = pytest.mark.usefixtures("keep_logging_state")

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def fenced_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def score_arguments(section: str) -> list[str]:
    (command,) = fenced_blocks(section, "sh")
    invocation = command.strip().split("&& .venv/bin/leadscore ", 1)[1]
    return shlex.split(invocation)


@pytest.fixture
def quick_start_run(tmp_path, monkeypatch):
    (tmp_path / "examples").mkdir()
    shutil.copyfile(ROOT / "examples" / "leads.csv", tmp_path / "examples" / "leads.csv")
    monkeypatch.chdir(tmp_path)
    section = quick_start()
    result = CliRunner().invoke(app, score_arguments(section))
    return section, result, tmp_path


def test_quick_start_command_fixes_now():
    assert "--now" in score_arguments(quick_start())


def test_quick_start_summary_matches_run(quick_start_run):
    section, result, _ = quick_start_run
    assert result.exit_code == 0, result.output
    (summary,) = fenced_blocks(section, "text")
    output_lines = result.stdout.splitlines()
    for line in summary.splitlines():
        if "…" in line:
            # An abbreviated row: its cells up to the reasons must match a printed row.
            cells = [cell.strip() for cell in line.strip("│").split("│")][:5]
            assert any(
                [cell.strip() for cell in printed.strip("│").split("│")][:5] == cells
                for printed in output_lines
            ), line
        else:
            assert line in output_lines, line


def test_quick_start_table_matches_scored_file(quick_start_run):
    section, result, directory = quick_start_run
    assert result.exit_code == 0, result.output
    table = read_table(directory / "out" / "leads-scored.csv")
    rows = {row[0]: dict(zip(table.header, row, strict=True)) for row in table.rows}
    documented = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if re.match(r"\| [A-Za-z0-9]{20} \|", line)
    ]
    assert len(documented) == 2
    for contact_id, first_name, _, score, fit, intent, tier, reasons in documented:
        row = rows[contact_id]
        assert row["first name"] == first_name
        assert (row["score"], row["fit"], row["intent"], row["tier"]) == (score, fit, intent, tier)
        assert row["reasons"].startswith(reasons.removesuffix(" …").removesuffix(";").strip())


def readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize(
    "requirement",
    ["DATABASE_URL_TEST", ".ci/run", "chromium", "LEADSCORE_SPECS_DIR", "LEADSCORE_DATA_DIR"],
)
def test_run_the_tests_names_skip_conditions(requirement):
    assert requirement in readme_section("Run the tests")


def test_pytest_reports_failures_not_skips():
    with (ROOT / "pyproject.toml").open("rb") as stream:
        options = tomllib.load(stream)["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert "-rfE" in options
    assert "-ra" not in options

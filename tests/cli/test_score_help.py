"""Help text of every `leadscore` command shows bracketed words as written.

Typer renders help through Rich, and Rich reads an unescaped `[mapping]` as a
markup tag and drops it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from jobs.cli import app

runner = CliRunner()
# A bracketed word as a reader should see it, such as [mapping] or [mapping.answers].
BRACKETED = re.compile(r"(?<!\\)\[([A-Za-z_][A-Za-z0-9_.]*)\]")


def walk_commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    # Typer 0.29 bundles its own copy of Click, so groups are found by their `commands`.
    found = [(path, command)]
    children = getattr(command, "commands", None) or {}
    for name, child in children.items():
        found += walk_commands(child, (*path, name))
    return found


COMMANDS = walk_commands(typer.main.get_command(app))


def declared_help(command: Any) -> str:
    texts = [command.help or ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(path) or "leadscore" for path, _ in COMMANDS]
)
def test_help_keeps_bracketed_words(path, command):
    words = BRACKETED.findall(declared_help(command).replace("\\[", "["))
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for word in words:
        assert f"[{word}]" in result.output, f"[{word}] is missing from {' '.join(path)} --help"


def test_score_help_names_mapping_for_strict():
    result = runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"})
    assert "[mapping]" in result.output


@pytest.mark.parametrize(
    "flag", ["--in-place", "--force", "--strict", "--allow-missing-answers", "--verbose"], ids=str
)
def test_score_help_shows_flags_without_value(flag):
    result = runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"})
    (line,) = [line for line in result.output.splitlines() if f" {flag} " in line]
    assert "<bool>" not in line

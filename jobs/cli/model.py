"""`leadscore model check [FILE]`: validate a scoring model file.

Exit codes: 0 when the model is valid, 1 when it is missing or invalid (each
problem is printed with the file, line or key, and the reason). Warnings, such
as a rule reading a field the mapping never fills, do not change the exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from jobs.modelfile import default_model_path, load_model
from scoring.model import ModelError
from scoring.result import Part

EXIT_INVALID = 1

model_app = typer.Typer(
    name="model",
    help="Work with scoring model files.",
    no_args_is_help=True,
)


@model_app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Model TOML file to validate. Default: the built-in med spa model.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate a model file and print its name, version and rule counts."""
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        model = load_model(file)
    except ModelError as exc:
        source = str(file) if file is not None else str(default_model_path())
        for problem in exc.problems:
            err.print(f"ERROR: {escape(problem.describe(exc.source or source))}")
        raise typer.Exit(EXIT_INVALID) from exc

    path = file or default_model_path()
    # The file was just read and parsed, so reading it again for line numbers succeeds.
    text = path.read_text(encoding="utf-8")
    for warning in model.check_warnings(text):
        err.print(f"WARNING: {escape(warning.describe(str(path)))}")
    rules = model.rules()
    fit = sum(1 for rule in rules if rule.part is Part.FIT)
    intent = len(rules) - fit
    out.print(
        f"OK: {escape(model.name)} {escape(model.version)}, {len(rules)} rules "
        f"(fit {fit}, intent {intent})"
    )


def register(app: typer.Typer) -> None:
    """Add the `model` command group to the `leadscore` application."""
    app.add_typer(model_app, name="model")

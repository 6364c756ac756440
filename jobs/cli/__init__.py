"""The `leadscore` command line.

Each module listed in `_COMMAND_MODULES` defines `register(app)` and adds its
commands to the one Typer application.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

app = typer.Typer(
    name="leadscore",
    help="Score med spa leads 1-100 for their likelihood to book.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES: tuple[str, ...] = (
    "jobs.cli.score",
    "jobs.cli.model",
    "jobs.cli.alerts",
    "jobs.cli.calibrate",
    "jobs.cli.sync",
    "jobs.webhooks.cli",
)


@app.callback()
def _configure_logging(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Log INFO events too (default: only `run` and `backfill` log them). "
            "LEADSCORE_LOG_LEVEL sets the level for every command.",
        ),
    ] = False,
) -> None:
    from jobs.logging import configure_cli_logging, release_cli_level

    configure_cli_logging(ctx.invoked_subcommand, verbose=verbose)
    ctx.call_on_close(release_cli_level)


def _register_commands() -> None:
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(app)


_register_commands()


def main() -> None:
    """Entry point of the `leadscore` console script."""
    app()

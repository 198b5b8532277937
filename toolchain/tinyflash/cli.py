"""The `tinyflash` command line: thin Typer commands over the library modules.

Each command parses its arguments, calls one library function that returns data, and prints it
(rich table, or JSON with --json). A TinyflashError becomes its one sentence on stderr and its exit
code; a traceback appears only with --debug.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from tinyflash import __version__
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError

app = typer.Typer(
    name="tinyflash",
    help="Keras/TensorFlow model → full-int8 TFLite → microcontroller firmware, verified bit for bit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"tinyflash {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = {"debug": debug}


def out_console() -> Console:
    return Console(highlight=False)


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine-readable output of --json: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


# ---- commands are added below by each stage ------------------------------------------------


def main() -> None:
    """Console-script entry point: maps TinyflashError to its sentence and exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        app(standalone_mode=False)
    except TinyflashError as error:
        if debug:
            raise
        err_console().print(f"[bold red]error:[/] {error.message}", soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console().print("[bold red]aborted[/]")
        sys.exit(130)
    except Exception as error:  # click usage errors and the like
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            sys.exit(EXIT_BAD_INPUT if error.exit_code == 2 else error.exit_code)
        if debug:
            raise
        err_console().print(
            f"[bold red]internal error:[/] {type(error).__name__}: {error} "
            "(run again with --debug for the traceback, and please report it)", soft_wrap=True)
        sys.exit(3)


if __name__ == "__main__":
    main()

"""The CLI's help and its reference (docs/cli.md) stay in step with the Typer app.

The list of commands comes from the app itself, so a command added without help, an example or
documentation fails here. For every registered command: `--help` exits 0 and shows an example;
every option appears in the command's section of docs/cli.md with its default, and the section
documents no option the command does not have; help paragraphs have no hard line breaks (Typer
prints those verbatim, which breaks sentences mid-line at 80 columns); every command that reports
has --json, and --json prints one JSON document (checked for real on the cheap commands).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperOption
from typer.testing import CliRunner

from tinyflash.cli import app

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "cli.md"
TINYFLASH = Path(sys.executable).parent / "tinyflash"
DIGITS_INT8 = REPO / "examples" / "digits" / "digits_int8.tflite"

# Commands that print nothing a script would parse, with the reason. Empty today: every command
# reports something (a table, a verdict, sizes or a verification report).
NO_JSON: dict[str, str] = {
    "farm exporter": "a service (labgrid's exporter) that runs until stopped; it reports nothing",
}


def _commands() -> dict[str, Any]:
    """Every command by its name on the command line; a group's commands as `GROUP NAME`."""
    group = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found.update({f"{name} {sub}": c for sub, c in subcommands.items()})
        else:
            found[name] = command
    return found


COMMANDS = _commands()


def _sections() -> dict[str, str]:
    """docs/cli.md split at its `## \\`tinyflash NAME\\`` headings: NAME -> section text."""
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## `tinyflash ([a-z-]+(?: [a-z-]+)?)`[^\n]*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _option_rows(section: str) -> dict[str, list[str]]:
    """Rows of the section's option table (`| \\`--name\\`, \\`-n\\` | default | meaning |`),
    keyed by every option string in the first cell."""
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `-"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for name in re.findall(r"`(-[-\w]+)", cells[0]):
            rows[name] = cells
    return rows


def _options(command: Any) -> list[TyperOption]:
    return [p for p in command.params if isinstance(p, TyperOption) and p.name != "help"]


def _default_text(option: TyperOption) -> str | None:
    """What the default cell must contain: the default value, `off` for flags, `required` for
    required options; None when the default is computed (the cell then says how)."""
    if option.required:
        return "required"
    if option.is_flag:
        return "off"
    default: Any = option.default
    if default is None:
        return None
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def test_commands_are_the_documented_ones() -> None:
    documented = set(_sections())
    assert set(COMMANDS) <= documented, (
        f"commands without a section in docs/cli.md: {sorted(set(COMMANDS) - documented)}"
    )
    assert documented <= set(COMMANDS), (
        f"docs/cli.md documents commands the CLI does not have: "
        f"{sorted(documented - set(COMMANDS))}"
    )
    assert len(COMMANDS) >= 11  # convert ... probe: guards against an empty app


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_exits_zero_with_an_example(name: str) -> None:
    result = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output, f"`tinyflash {name} --help` shows no example"
    assert "Traceback" not in result.output


def test_root_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    for name in {name.split()[0] for name in COMMANDS}:
        assert re.search(rf"│ {re.escape(name)}\s", result.output), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_documented_with_its_default(name: str) -> None:
    section = _sections().get(name)
    assert section is not None, f"docs/cli.md has no section for `tinyflash {name}`"
    rows = _option_rows(section)
    command = COMMANDS[name]
    known: set[str] = {"--help", "-h"}
    for option in _options(command):
        names = option.opts + option.secondary_opts
        known.update(names)
        for opt in names:
            assert opt in rows, f"docs/cli.md, `tinyflash {name}`: option {opt} is not in the table"
        cells = rows[names[0]]
        assert len(cells) >= 3 and cells[2], f"{name} {names[0]}: the row has no description"
        expected = _default_text(option)
        if expected is not None:
            token = rf"(?<![\w.-]){re.escape(expected)}(?![\w-]|\.\d)"  # `2` is not in `20`
            assert re.search(token, cells[1]), (
                f"docs/cli.md, `tinyflash {name}` {names[0]}: default cell {cells[1]!r} does not "
                f"say {expected!r}"
            )
        elif option.multiple:
            assert cells[1] not in ("", "-"), f"{name} {names[0]}: say what the default is"
    stale = set(rows) - known
    assert not stale, f"docs/cli.md, `tinyflash {name}` documents options it lacks: {stale}"
    for param in command.params:
        if isinstance(param, TyperArgument):
            assert (param.name or "").upper() in section, (
                f"docs/cli.md, `tinyflash {name}`: argument {param.name} is not described"
            )
    assert "Example" in section and "tinyflash " + name in section
    assert re.search(r"[Ee]xit", section), f"`tinyflash {name}`: exit codes are not documented"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_texts_have_no_hard_line_breaks(name: str) -> None:
    command = COMMANDS[name]
    text = inspect.cleandoc(command.help or "")
    for paragraph in text.split("\n\n"):
        assert "\n" not in paragraph or paragraph.startswith("\b"), (
            f"`tinyflash {name}` help: a paragraph has a hard line break, which Typer prints "
            f"verbatim: {paragraph!r}"
        )
    for param in command.params:
        helptext = getattr(param, "help", None) or ""
        assert "\n" not in helptext, f"{name} {param.name}: help has a line break"
    first = text.split("\n\n")[0]
    assert len(first) <= 120, (
        f"`tinyflash {name}`: the first paragraph is the one-line summary in `tinyflash --help`; "
        f"keep it short ({len(first)} characters)"
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_reporting_commands_have_json(name: str) -> None:
    if name in NO_JSON:
        pytest.skip(NO_JSON[name])
    opts = {o for option in _options(COMMANDS[name]) for o in option.opts}
    assert "--json" in opts, f"`tinyflash {name}` reports but has no --json"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="80")
    return subprocess.run(
        [str(TINYFLASH), *map(str, args)], capture_output=True, text=True, timeout=120, env=env
    )


def test_json_is_one_document_on_stdout() -> None:
    """The real console script: --json prints exactly one JSON document and nothing else on
    stdout, for the commands that need no build or emulator."""
    boards = _run("boards", "--json")
    assert boards.returncode == 0, boards.stderr
    ids = {b["id"] for b in json.loads(boards.stdout)}
    assert {"host", "mps2-an386", "microbit"} <= ids
    check = _run("check", DIGITS_INT8, "--json")
    assert check.returncode == 0, check.stderr
    data = json.loads(check.stdout)
    assert data["deployable"] is True
    assert data["arena_bytes"] >= data["peak_activation_bytes"] > 0


def test_tables_fit_80_columns() -> None:
    """The human-readable tables of the cheap commands fit an 80-column terminal with no cell
    cut short by an ellipsis (except --plan's tensor names: TensorFlow's fused names run to
    hundreds of characters and are shortened on purpose)."""
    for args, elided in (
        (("boards",), False),
        (("check", DIGITS_INT8), False),
        (("check", DIGITS_INT8, "--plan"), True),
    ):
        run = _run(*args)
        assert run.returncode == 0, run.stderr
        for line in run.stdout.splitlines():
            assert len(line.rstrip()) <= 80, (args, line)
            assert elided or "…" not in line, (args, line)

"""The one way tests run the real `tinyflash` command: the console script of the interpreter that
runs pytest (so the installed entry point is exercised), in a subprocess, output captured.

    from support.cli import tinyflash, expect_error
    done = tinyflash("check", model, "--json")          # CompletedProcess[str], never raises
    expect_error(tinyflash("check", tmp / "x.txt"), EXIT_BAD_INPUT, "not a .tflite")
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINYFLASH = Path(sys.executable).parent / "tinyflash"


def tinyflash(
    *args: str | Path,
    cwd: Path | None = REPO,
    env: Mapping[str, str] | None = None,
    columns: int | None = 400,
    timeout: float = 600,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Runs `tinyflash ARGS` and returns the finished process (stdout and stderr as text).

    `env` replaces the environment (default: this process's); `columns` sets COLUMNS (400 keeps
    each sentence on one line; None leaves it as it is); `check` raises on a non-zero exit."""
    full_env = dict(os.environ if env is None else env)
    if columns is not None:
        full_env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(TINYFLASH), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        check=check,
    )


def expect_error(run: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    """The command failed with exit `code` and printed exactly one non-empty stderr line, starting
    with `error: ` and containing every fragment; no traceback and no TensorFlow noise anywhere.
    Returns that line."""
    text = run.stdout + run.stderr
    assert run.returncode == code, text
    assert "Traceback" not in text, text
    # TensorFlow's own log lines are noise; naming the converter or TFLM in the sentence is not
    sentence = run.stderr.lower()
    for named in ("the tensorflow converter", "tensorflow lite micro"):
        sentence = sentence.replace(named, "")
    assert "tensorflow" not in sentence, text
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]

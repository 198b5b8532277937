"""Wall time to the error of each row of the bad-input matrix (tests/test_bad_input.py), for
docs/errors.md: runs the row's command line once through the real CLI and prints a Markdown table
(row id, exit code, seconds).

    .venv/bin/python scripts/time_errors.py [--python-path DIR] [--rows ID,ID] [--fast]

--python-path runs another checkout's `tinyflash` package (e.g. an unpacked `git archive` of an
older commit) with this venv's interpreter, to measure "before". --fast skips the rows marked
slow in the test (builds, emulators). A row's inputs are made before its clock starts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-path", type=Path, default=None)
    parser.add_argument("--rows", default="")
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args()
    import test_bad_input as matrix  # noqa: PLC0415 - the rows live in the test

    wanted = {r for r in args.rows.split(",") if r}
    rows = [r for r in matrix.ROWS if (not wanted or r.id in wanted) and not (args.fast and r.slow)]
    env = dict(os.environ, COLUMNS="400")
    env.setdefault("PLATFORMIO_CORE_DIR", str(REPO / "build" / "pio-core"))
    if args.python_path is not None:
        env["PYTHONPATH"] = str(args.python_path)
        command = [sys.executable, "-c", "from tinyflash.cli import main; main()"]
    else:
        command = [str(REPO / ".venv" / "bin" / "tinyflash")]
    print("| row | exit | seconds to error |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="time-errors-") as tmp:
        inputs = matrix.Inputs(Path(tmp))
        try:
            for row in rows:
                argv = [str(a) for a in row.argv(inputs)]
                row_env = row.env(inputs) if row.env else env
                if args.python_path is not None:
                    row_env = {**row_env, "PYTHONPATH": str(args.python_path)}
                started = time.monotonic()
                done = subprocess.run(
                    command + argv, capture_output=True, text=True, env=row_env, cwd=REPO
                )
                seconds = time.monotonic() - started
                print(f"| {row.id} | {done.returncode} | {seconds:.1f} |", flush=True)
        finally:
            for proc in getattr(inputs, "processes", []):
                proc.kill()
                proc.wait()
            for server in getattr(inputs, "sockets", []):
                server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`tinyflash verify` with tolerance 0 on a generated project, for the tests that check a kernel
path bit for bit against tflite-micro on QEMU or the host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TINYFLASH = [sys.executable, "-m", "tinyflash.cli"]


def verify_exactly(project: Path, samples: int = 3) -> None:
    """Runs `tinyflash verify PROJECT --samples N --tolerance 0 --json` and asserts that it
    passed with every tflite-micro comparison exact."""
    ver = subprocess.run(
        [
            *TINYFLASH,
            "verify",
            str(project),
            "--samples",
            str(samples),
            "--tolerance",
            "0",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert ver.returncode == 0, ver.stdout[-2000:] + ver.stderr[-2000:]
    result = json.loads(ver.stdout)
    assert result["passed"] is True
    tflm = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert tflm and all(m["max_abs_diff_lsb"] == 0 and m["exact_fraction"] == 1.0 for m in tflm)

"""The 16x8 end-to-end tests' shared pieces (test_int16x8.py, test_int16x8_kws.py): which
firmwares run them, `tinyflash verify --json`, and what bit-exact means for a 16x8 result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.cli import tinyflash

TOOLS = (
    shutil.which("arm-none-eabi-gcc") is not None and shutil.which("qemu-system-arm") is not None
)

needs_tools = pytest.mark.skipif(
    not TOOLS, reason="arm-none-eabi-gcc and qemu-system-arm are needed"
)


# the host build, and the Cortex-M4 with each kernel set (the DSP one runs the SMLAD 16x8 paths)
FIRMWARES = [
    ("host", "portable"),
    pytest.param("mps2-an386", "dsp", marks=pytest.mark.qemu),
    pytest.param("mps2-an386", "portable", marks=pytest.mark.qemu),
]


def verify_json(*args: str | Path) -> dict:
    done = tinyflash("verify", *args, "--json")
    assert "Traceback" not in done.stderr, done.stderr
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}") from None
    assert done.returncode == 0, result
    return result


def assert_bit_exact_16x8(result: dict, samples: int) -> None:
    assert result["passed"] is True and result["samples"] == samples
    exact = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert exact and all(m["exact_fraction"] == 1.0 and m["max_abs_diff_lsb"] == 0 for m in exact)
    assert result["arena_used"] == result["arena_planned"] > 0

"""Host builds of firmware against the test doubles: the Arduino API (tests/fixtures/
arduino_double) and TensorFlow Lite Micro's API (tests/fixtures/tflm_double, tinyflash's runtime
behind tflite::MicroInterpreter), compiled with gcc/g++ -Wall -Wextra -Werror and the sanitizers,
two compilers at a time (the machine has two cores, shared)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARDUINO_DOUBLE = REPO / "tests" / "fixtures" / "arduino_double"
TFLM_DOUBLE = REPO / "tests" / "fixtures" / "tflm_double"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1"]
WARN = ["-Wall", "-Wextra", "-Werror"]
#: C++ as the TFLM projects compile it (templates/tflm/platformio.ini.j2).
TFLM_CXX = ["-std=gnu++17", "-fno-exceptions", "-fno-rtti"]


def need(tool: str) -> str:
    """Path of `tool`; skips the test when it is not installed."""
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} is not installed")
    return path


def run(cmd: list[str], cwd: Path | None = None) -> None:
    """Runs a build command; a failure fails the test with the command and its output."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"


def compile_objects(jobs: Sequence[tuple[list[str], Path]], out: Path) -> list[Path]:
    """Compiles each (compiler command without -c/-o, source) into `out`, two at a time;
    returns the objects in order."""
    objects: list[Path] = []
    running: list[tuple[list[str], subprocess.Popen[str]]] = []

    def wait_one() -> None:
        cmd, proc = running.pop(0)
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{output}"

    for index, (compiler, source) in enumerate(jobs):
        obj = out / f"{index:03d}_{source.stem}.o"
        cmd = [*compiler, "-c", str(source), "-o", str(obj)]
        running.append(
            (
                cmd,
                subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            )
        )
        objects.append(obj)
        if len(running) >= 2:
            wait_one()
    while running:
        wait_one()
    return objects

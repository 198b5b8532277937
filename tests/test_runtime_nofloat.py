"""Cross-compiles the runtime and every listed kernel with Debian's arm-none-eabi-gcc and checks
two promises of the runtime issue:
  * it builds warning-free (-Wall -Wextra -Werror) for cortex-m0plus/m3/m4/m7/m33/m55;
  * invoke uses no floating point for int8 models: following calls from each kernel's eval
    function (relocations of its -ffunction-sections section, recursively through the runtime's
    own functions) never reaches a soft-float helper (__aeabi_f*/__aeabi_d*, int<->float
    conversions) or libm on cortex-m0plus. QUANTIZE and DEQUANTIZE are exempt: they convert
    float model I/O.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from support.runtime_build import RUNTIME, kernel_names, runtime_sources

CC = "arm-none-eabi-gcc"
FLOAT_HELPER = re.compile(
    r"^(__aeabi_(fadd|fsub|frsub|fmul|fdiv|fcmp\w*|f2\w+|d\w+|i2f|i2d|ui2f|ui2d|l2f|l2d|ul2f|ul2d)"
    r"|__(add|sub|mul|div)[sd]f3|(exp|log|pow|round|floor|ceil|sqrt|tanh|frexp|ldexp)f?)$"
)
FLOAT_IO_KERNELS = {"quantize", "dequantize"}
CPUS = {
    "cortex-m0plus": [],
    "cortex-m3": [],
    "cortex-m4": ["-mfloat-abi=hard", "-mfpu=auto"],
    "cortex-m7": ["-mfloat-abi=hard", "-mfpu=auto"],
    "cortex-m33": ["-mfloat-abi=hard", "-mfpu=auto"],
    "cortex-m55": ["-mfloat-abi=hard"],
}

pytestmark = pytest.mark.skipif(shutil.which(CC) is None, reason=f"{CC} is not installed")


def compile_all(out: Path, cpu: str, extra: list[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [
        CC,
        "-std=c99",
        "-Os",
        f"-mcpu={cpu}",
        "-mthumb",
        *CPUS[cpu],
        "-Wall",
        "-Wextra",
        "-Werror",
        "-ffunction-sections",
        "-fdata-sections",
        "-I",
        str(RUNTIME / "include"),
        *(extra or []),
        "-c",
        *map(str, runtime_sources()),
    ]
    proc = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    assert proc.returncode == 0, f"{cpu}: {proc.stderr[-3000:]}"
    return sorted(out.glob("*.o"))


def test_eval_paths_use_no_float(tmp_path: Path) -> None:
    objs = compile_all(tmp_path, "cortex-m0plus")
    calls: dict[str, set[str]] = defaultdict(set)
    kernel_eval: dict[str, str] = {}
    for obj in objs:
        text = subprocess.run(
            ["arm-none-eabi-objdump", "-r", str(obj)], capture_output=True, text=True, check=True
        ).stdout
        section = ""
        for line in text.splitlines():
            m = re.match(r"RELOCATION RECORDS FOR \[(.+)\]:", line)
            if m:
                section = m.group(1)
                continue
            parts = line.split()
            if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[0]):
                continue
            offset, target = int(parts[0], 16), parts[2]
            target = target.removeprefix(".text.")
            if section.startswith(".text."):
                calls[section.removeprefix(".text.")].add(target)
            km = re.match(r"\.(?:rodata|data\.rel\.ro)\.tfl_kernel_(\w+)$", section)
            if km and offset == 12:  # {builtin_code, name, prepare, eval}: eval at byte 12
                kernel_eval[km.group(1)] = target
    assert set(kernel_eval) == set(kernel_names())
    offenders = {}
    for kernel, ev in kernel_eval.items():
        if kernel in FLOAT_IO_KERNELS:
            continue
        seen, stack = set(), [ev]
        while stack:
            fn = stack.pop()
            if fn in seen:
                continue
            seen.add(fn)
            for callee in calls.get(fn, ()):
                if FLOAT_HELPER.match(callee):
                    offenders.setdefault(kernel, set()).add(f"{fn} -> {callee}")
                else:
                    stack.append(callee)
    assert not offenders, f"float on the invoke path: {offenders}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "cpu, messages", [(cpu, 1) for cpu in sorted(CPUS)] + [("cortex-m0plus", 0)]
)
def test_builds_warning_free(tmp_path: Path, cpu: str, messages: int) -> None:
    compile_all(tmp_path, cpu, [f"-DTFL_WITH_MESSAGES={messages}"])

"""tinyflash bench and the fast/DSP kernel paths.

Fast: the kernels' division-free requantization equals tfl_quant.c's on edge and random values
(host build with sanitizers); the DSP kernels cross-compile with -Werror for every DSP core and
really contain SMLAD there (and fall back to plain C on M0+/M3); the map parser.
Slow/QEMU: `tinyflash bench --json` twice gives identical counts; DSP kernels verified exactly
against tflite-micro with `verify` (tolerance 0) on mps2-an386 for the example and shared models.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import shared_model_path
from support.exact import verify_exactly
from support.runtime_build import RUNTIME

if TYPE_CHECKING:
    from tinyflash.bench import BenchRun

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits" / "digits_int8.tflite"
KERNELS = RUNTIME / "src" / "kernels"
# The MAC kernels and tfl_kernel_mac.c, which holds the dot products they call (with the 16x8
# convolutions and their dot products, tfl_kernel_mac16.c).
HOT = ["op_conv_2d.c", "op_depthwise_conv_2d.c", "op_fully_connected.c", "tfl_kernel_mac.c"]
HOT += ["tfl_kernel_conv16.c", "tfl_kernel_mac16.c"]
TINYFLASH = [sys.executable, "-m", "tinyflash.cli"]

REQUANT_MAIN = r"""
#include <stdio.h>
#include "tfl_mac.h"

static uint32_t state = 0x12345678u;
static uint32_t next(void) { state ^= state << 13; state ^= state >> 17; state ^= state << 5; return state; }

static int check(int32_t x, int32_t q, int32_t s) {
  const int32_t want = tfl_multiply_by_quantized_multiplier(x, q, s);
  const int32_t got = tfl_mac_requantize(x, q, s);
  if (want != got) { printf("x=%ld q=%ld s=%ld want %ld got %ld\n", (long)x, (long)q, (long)s,
                              (long)want, (long)got); return 1; }
  return 0;
}

int main(void) {
  static const int32_t xs[] = {0, 1, -1, 2, -2, 127, -128, 1 << 30, -(1 << 30), INT32_MAX,
                               INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 12345, -12345};
  static const int32_t qs[] = {0, 1, 1 << 30, (1 << 30) + 1, INT32_MAX, INT32_MIN, -1,
                               1518500250, 2147483000};
  int bad = 0;
  for (unsigned i = 0; i < sizeof xs / sizeof xs[0]; ++i)
    for (unsigned j = 0; j < sizeof qs / sizeof qs[0]; ++j)
      for (int32_t s = -40; s <= 31; ++s) bad += check(xs[i], qs[j], s);
  for (long n = 0; n < 2000000; ++n) {
    const int32_t x = (int32_t)next() >> (next() % 32);
    const int32_t q = (int32_t)(next() | 0x40000000u) & 0x7FFFFFFF;
    const int32_t s = (int32_t)(next() % 48) - 40;
    bad += check(x, q, s);
    if (bad > 10) break;
  }
  printf("%s\n", bad ? "MISMATCH" : "OK");
  return bad != 0;
}
"""


def test_requantize_matches_tfl_quant(tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler")
    main = tmp_path / "requant_main.c"
    main.write_text(REQUANT_MAIN)
    exe = tmp_path / "requant"
    cmd = [
        cc,
        "-std=c99",
        "-O1",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        "-I",
        str(RUNTIME / "include"),
        "-I",
        str(KERNELS),
        str(main),
        str(RUNTIME / "src" / "tfl_quant.c"),
        "-o",
        str(exe),
    ]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("OK"), run.stdout + run.stderr


ARM = shutil.which("arm-none-eabi-gcc")
CPUS = {
    "cortex-m0plus": False,
    "cortex-m3": False,
    "cortex-m4": True,
    "cortex-m7": True,
    "cortex-m33": True,
    "cortex-m55": True,
}


@pytest.mark.skipif(ARM is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_dsp_kernels_cross_compile(tmp_path: Path, cpu: str) -> None:
    """-DTFL_USE_DSP=1 builds warning-free everywhere; SMLAD only where the core has it."""
    cmd = [
        "arm-none-eabi-gcc",
        "-std=c99",
        "-Os",
        f"-mcpu={cpu}",
        "-mthumb",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-DTFL_USE_DSP=1",
        "-I",
        str(RUNTIME / "include"),
        "-c",
        *(str(KERNELS / name) for name in HOT),
    ]
    build = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    for name in HOT:
        obj = tmp_path / name.replace(".c", ".o")
        dump = subprocess.run(
            ["arm-none-eabi-objdump", "-d", str(obj)], capture_output=True, text=True, check=True
        ).stdout
        # SXTAB16/SXTB16 (the kernels' own activation expansion) or SMLAD/SMLABB (the MACs)
        has = any(op in dump for op in ("smlad", "smlabb", "sxtab16", "sxtb16"))
        state = "missing" if CPUS[cpu] else "present"
        assert has == CPUS[cpu], f"{name} on {cpu}: DSP instructions {state}"


MAP_SAMPLE = """Archive member included to satisfy reference by file (symbol)

Discarded input sections

 .text          0x00000000        0x0 .pio/build/b/lib1/libruntime.a(op_add.o)

Memory Configuration

Linker script and memory map

.text           0x00000000     0x2000
 .text.conv_eval
                0x00000100      0x120 .pio/build/b/lib1/libruntime.a(op_conv_2d.o)
 .text.tfl_invoke
                0x00000220       0x80 .pio/build/b/lib1/libruntime.a(tfl_interpreter.o)
 .rodata.tfl_kernel_conv_2d
                0x000002a0       0x10 .pio/build/b/lib1/libruntime.a(op_conv_2d.o)
 .text.main     0x000002b0       0x40 .pio/build/b/src/main.o
 .text          0x000002f0       0x30 /usr/lib/gcc/arm-none-eabi/12.2.1/thumb/libgcc.a(_arm_muldf3.o)
 .text.tfl_harness_main
                0x00000320       0x60 .pio/build/b/lib2/harness/tfl_harness.o
 .bss.big       0x20000000      0x100 .pio/build/b/src/main.o

.stack          0x20001000     0x4000 load address 0x00002000
"""


def test_parse_map_sizes(tmp_path: Path) -> None:
    from tinyflash.bench import code_size, parse_map

    path = tmp_path / "firmware.map"
    path.write_text(MAP_SAMPLE)
    sizes = parse_map(path)
    assert sizes.sections[".stack"] == (0x20001000, 0x4000)
    code = code_size(sizes, image_bytes=9000, model_bytes=1234)
    assert code.runtime == 0x120 + 0x80 + 0x10
    assert code.kernels == 0x120 + 0x10
    assert code.support == 0x30
    assert code.harness == 0x60
    assert (code.model, code.image) == (1234, 9000)


def _bench_json(tmp_path: Path, name: str, *args: str) -> dict:
    proc = subprocess.run(
        [*TINYFLASH, "bench", *args, "--workdir", str(tmp_path / name), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.slow
@pytest.mark.qemu
def test_bench_json_is_deterministic(tmp_path: Path) -> None:
    from tinyflash.model import load_model

    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    first = _bench_json(tmp_path, "a", str(DIGITS), "--kernels", "portable")
    second = _bench_json(tmp_path, "b", str(DIGITS), "--kernels", "portable")
    (one,), (two,) = first["runs"], second["runs"]
    for key in ("instructions", "ticks", "macs", "code", "ram", "ops", "repeat_instructions"):
        assert one[key] == two[key], key
    assert one["exact"] is True
    assert len(set(one["repeat_instructions"])) == 1  # two invokes, same count
    assert one["instructions"] == one["ticks"] * 40 > 0
    assert one["macs"] == load_model(DIGITS).total_macs
    assert sum(op["macs"] for op in one["ops"]) == one["macs"]
    code, ram = one["code"], one["ram"]
    assert 0 < code["kernels"] < code["runtime"] < code["image"]
    assert code["model"] == DIGITS.stat().st_size
    assert 0 < ram["stack_peak"] < ram["stack_reserved"]
    assert ram["arena_used"] <= ram["arena_planned"]


DSP_MODELS = ["digits", "ad01_int8", "kws_ref_model", "pretrainedResnet_quant"]


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("name", DSP_MODELS)
def test_dsp_kernels_verify_exactly_on_qemu(tmp_path: Path, name: str) -> None:
    """generate --kernels dsp, then `tinyflash verify` with tolerance 0 (3 random inputs)."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    model = DIGITS if name == "digits" else shared_model_path(name)
    project = tmp_path / "fw"
    gen = subprocess.run(
        [
            *TINYFLASH,
            "generate",
            str(model),
            "--board",
            "mps2-an386",
            "-o",
            str(project),
            "--kernels",
            "dsp",
            "--selftest",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert "-DTFL_USE_DSP=1" in (project / "platformio.ini").read_text()
    verify_exactly(project)


def _fake_run(model: str, kernels: str, instructions: int) -> BenchRun:
    from tinyflash.bench import BenchRun, CodeSize, RamUse

    return BenchRun(
        model=model,
        model_sha256="0" * 64,
        board="mps2-an386",
        kernels=kernels,
        instructions=instructions,
        ticks=instructions // 40,
        tick_unit="40ns",
        macs=12_501_632,
        macs_per_instruction=12_501_632 / instructions,
        exact=True,
        code=CodeSize(
            runtime=18_542,
            kernels=12_276,
            support=4_380,
            harness=3_900,
            model=98_496,
            image=125_000,
        ),
        ram=RamUse(
            arena_planned=52_224,
            arena_used=52_224,
            lower_bound=52_224,
            runtime_state=7_024,
            data_bss=60_000,
            stack_reserved=16_384,
            stack_peak=2_808,
        ),
        ops=(),
        build_seconds=1.0,
        instructions_per_tick=40.0,
        repeat_instructions=(instructions,),
    )


@pytest.mark.parametrize("wide", [False, True])
def test_bench_table_fits_80_columns(monkeypatch: pytest.MonkeyPatch, wide: bool) -> None:
    """The default terminal table fits 80 columns without truncating a cell; --wide adds the
    remaining columns (it needs a wider terminal)."""
    from typer.testing import CliRunner

    import tinyflash.bench as bench_module
    from tinyflash.bench import BenchResult
    from tinyflash.cli import app

    runs = [
        _fake_run("pretrainedResnet_quant", k, n)
        for k, n in (("portable", 145_416_840), ("dsp", 28_269_680))
    ]
    monkeypatch.setattr(bench_module, "bench", lambda *a, **k: BenchResult(runs=runs))
    monkeypatch.setenv("COLUMNS", "80" if not wide else "160")
    args = ["bench", "x.tflite", *(["--wide"] if wide else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= (80 if not wide else 160), result.output
    assert "…" not in result.output, result.output
    for cell in (
        "pretrainedResnet_quant",
        "145,416,840",
        "28,269,680",
        "18,542",
        "52,224",
        "2,808",
    ):
        assert cell in result.output, cell
    assert ("98,496" in result.output) == wide  # model bytes only in the wide table

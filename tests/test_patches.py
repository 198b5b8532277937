"""Patch-based execution (`generate --patches`, toolchain/tinyflash/patches.py and
firmware/runtime/src/tfl_patches.c).

Fast: the planner's windows against a brute-force receptive field, its refusals, and that
`--patches off` renders exactly today's project. Slow: real firmware with patches is bit-exact
with TFLM on the host and on mps2-an386 (the MobileNet-v1 look-alike at 96x96, width 0.25, whose
peak RAM must drop to half its lower bound) and on the micro:bit (a 48x48 look-alike that fits its
16 KB only with patches), the generated patch table in the runtime built with ASan and UBSan
gives the outputs of the same runtime without patches (a wrong padding makes 15 of 50 differ),
and the runtime refuses a window table that reaches outside a tensor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support.cli import expect_error, tinyflash
from support.models import fc_model, small_model
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError
from tinyflash.model import ModelInfo, parse_model
from tinyflash.patches import (
    build_patch_plan,
    chain_prefix,
    choose_patches,
    parse_mode,
    plan_with_patches,
    tile_windows,
)
from tinyflash.plan import plan_memory, verify_plan


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _needed_rows(info: ModelInfo, k: int, rows: range) -> range:
    """The input rows operator k reads for output `rows`, tap by tap (no formula shared with
    the planner): every row oy * stride - pad + ky * dilation inside the input."""
    op = info.ops[k]
    x, y = info.tensors[op.inputs[0]].shape, info.tensors[op.outputs[0]].shape
    stride = int(op.options.get("stride_h", 1))
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        taps, dilation = (
            info.tensors[op.inputs[1]].shape[1],
            int(op.options.get("dilation_h_factor", 1)),
        )
    else:
        taps, dilation = int(op.options["filter_height"]), 1
    if op.options.get("padding") == "SAME":
        total = max((y[1] - 1) * stride + (taps - 1) * dilation + 1 - x[1], 0)
    else:
        total = 0
    read = {oy * stride - total // 2 + ky * dilation for oy in rows for ky in range(taps)} & set(
        range(x[1])
    )
    return range(min(read), max(read) + 1)


def _check_windows(info: ModelInfo, ops: tuple[int, ...], tiles: int) -> None:
    windows = tile_windows(info, ops, tiles)
    assert len(windows) == tiles
    height = info.tensors[info.ops[ops[-1]].outputs[0]].shape[1]
    covered = 0
    for band in windows:
        last = band[-1]
        assert last.out_row == covered  # bands in order, no gap, no overlap in the output
        covered += last.out_rows
        rows = range(last.out_row, last.out_row + last.out_rows)
        for i in reversed(range(len(ops))):
            w = band[i]
            assert w.out_rows == len(rows)
            need = _needed_rows(info, ops[i], rows)
            assert w.in_rows == len(need), (i, w, need)
            # whole tensors (the prefix's input) are addressed from the top, band ones from 0
            assert w.in_row == (need.start if i == 0 else 0)
            if i > 0:
                assert band[i - 1].out_rows == w.in_rows
            rows = need
    assert covered == height


def test_small_model_windows_match_the_receptive_field() -> None:
    info = parse_model(small_model(), "small")
    chain, reason = chain_prefix(info)
    assert chain == (0, 1, 2) and "RESHAPE" in reason
    for end in (1, 2, 3):
        h = info.tensors[info.ops[chain[end - 1]].outputs[0]].shape[1]
        for tiles in range(1, h + 1):
            _check_windows(info, chain[:end], tiles)


def test_patched_plan_keeps_one_band_of_the_inner_tensors() -> None:
    info = parse_model(small_model(), "small")
    plan = build_patch_plan(info, (0, 1), 2)
    h1 = info.ops[0].outputs[0]  # 6x6x3, one band: rows 0-3 (its 4 rows feed output rows 0-1)
    assert plan.tile_tensors == ((h1, 4 * 6 * 3),)
    memory, choice = plan_with_patches(info, "portable", 2, max_overhead=10.0)
    assert choice.plan is not None and memory.patches is choice.plan
    verify_plan(info, memory)
    assert memory.lower_bound == plan_memory(info).lower_bound
    # band-sized tensors are placed with their band size, the prefix's output from op 0 on
    last = choice.plan.ops[-1]
    assert memory.lifetimes[info.ops[last].outputs[0]][0] == 0
    assert memory.arena_bytes == choice.plan.peak  # a chain: the placement meets the sweep


def test_overhead_bound_is_kept_and_reported() -> None:
    info = parse_model(small_model(), "small")
    choice = choose_patches(info, None, max_overhead=1.0)
    assert choice.plan is None and "within 1x the work" in choice.reason
    for limit in (1.25, 2.0, 10.0):
        found = choose_patches(info, None, max_overhead=limit)
        if found.plan is not None:
            assert found.plan.overhead <= limit
            assert found.plan.peak < found.unpatched_peak


def test_refusals_are_one_sentence() -> None:
    fc = parse_model(fc_model(16, 4), "fc")
    choice = choose_patches(fc, None)
    assert choice.plan is None
    assert choice.reason == "fc cannot run in patches: FULLY_CONNECTED has no windowed form."
    with pytest.raises(TinyflashError, match="FULLY_CONNECTED has no windowed form"):
        choose_patches(fc, 2)
    small = parse_model(small_model(), "small")
    with pytest.raises(TinyflashError, match="more than the rows"):
        choose_patches(small, 7, max_overhead=100.0)
    with pytest.raises(TinyflashError, match="run the prefix once"):
        choose_patches(small, 1)
    for bad in ("", "0", "-2", "many", "1.5"):
        with pytest.raises(TinyflashError):
            parse_mode(bad)
    assert (parse_mode("auto"), parse_mode("OFF"), parse_mode("4")) == (None, 0, 4)


def test_patches_off_renders_todays_project(tmp_path: Path) -> None:
    model = _write(tmp_path, "small.tflite", small_model())
    runs = {}
    for name, extra in (("default", ()), ("off", ("--patches", "off"))):
        out = tmp_path / name
        done = tinyflash("generate", model, "--board", "mps2-an386", "-o", out, *extra)
        assert done.returncode == 0, done.stderr
        runs[name] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert runs["default"] == runs["off"]
    assert b"patch" not in runs["off"][Path("src/model_plan.c")]


def test_generate_refuses_patches_it_cannot_prove(tmp_path: Path) -> None:
    model = _write(tmp_path, "fc.tflite", fc_model(16, 4))
    run = tinyflash("generate", model, "-o", tmp_path / "p", "--patches", "3")
    expect_error(run, EXIT_BAD_INPUT, "FULLY_CONNECTED has no windowed form", "--patches off")


def _generate(model: Path, board: str, out: Path, patches: str, *extra: str) -> dict[str, object]:
    args = ("--board", board, "-o", out, "--patches", patches, "--json", *extra)
    done = tinyflash("generate", model, *args)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _verify(project: Path, samples: int) -> str:
    done = tinyflash("verify", project, "--samples", str(samples))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS: bit-exact" in done.stdout, done.stdout
    return done.stdout


@pytest.mark.slow
def test_small_model_in_patches_is_bit_exact_on_host(tmp_path: Path) -> None:
    model = _write(tmp_path, "small.tflite", small_model())
    result = _generate(model, "host", tmp_path / "host", "2")
    assert "in 2 patches" in str(result["patches"])
    _verify(tmp_path / "host", 20)


@pytest.mark.slow
def test_mobilenet_96_halves_its_lower_bound_bit_exact_on_mps2(tmp_path: Path) -> None:
    from support.patch_models import patch_model

    model = patch_model("mobilenet_96")
    info = parse_model(model.read_bytes(), "mobilenet_96")
    bound = plan_memory(info).lower_bound
    result = _generate(model, "mps2-an386", tmp_path / "mps2", "auto")
    arena = int(str(result["arena_bytes"]))
    assert arena <= bound // 2, (arena, bound, result["patches"])
    overhead = re.search(r"([0-9.]+)x the work", str(result["patches"]))
    assert overhead is not None and float(overhead.group(1)) <= 1.25
    out = _verify(tmp_path / "mps2", 3)
    assert f"{arena:,} B used on the device, {arena:,} B planned" in out


@pytest.mark.slow
def test_pools_and_dilation_in_patches_are_bit_exact_on_host(tmp_path: Path) -> None:
    from support.patch_models import patch_model

    model = patch_model("pools")
    info = parse_model(model.read_bytes(), "pools")
    chain, _ = chain_prefix(info)
    assert [info.ops[k].name for k in chain] == [
        "CONV_2D",
        "MAX_POOL_2D",
        "DEPTHWISE_CONV_2D",
        "AVERAGE_POOL_2D",
        "CONV_2D",
    ]
    for tiles in (2, 4):
        _check_windows(info, chain[:4], tiles)
    out = tmp_path / "host"
    # every windowed op kind, SAME and VALID, stride 2 and dilation 2 in the prefix
    done = tinyflash(
        "generate",
        model,
        "--board",
        "host",
        "-o",
        out,
        "--patches",
        "4",
        "--patch-overhead",
        "10",
    )
    assert done.returncode == 0, done.stderr
    assert "operators 0-3 in 4 patches" in done.stdout, done.stdout
    _verify(out, 20)


@pytest.mark.slow
def test_runtime_refuses_a_window_outside_its_tensor(tmp_path: Path) -> None:
    model = _write(tmp_path, "small.tflite", small_model())
    out = tmp_path / "host"
    _generate(model, "host", out, "2")
    plan_c = out / "src" / "model_plan.c"
    text = plan_c.read_text()
    table = re.search(r"_patch_windows\[\d+\] = \{\n  (\d+),", text)
    assert table is not None
    # the first window's first input row pushed past the model input's 6 rows
    plan_c.write_text(text[: table.start(1)] + "5" + text[table.end(1) :])
    done = tinyflash("verify", out, "--samples", "1")
    assert done.returncode != 0
    assert "TFL_ERR_PLAN_MISMATCH" in done.stdout + done.stderr


@pytest.mark.slow
def test_patches_fit_a_vision_model_on_the_microbit(tmp_path: Path) -> None:
    from support.patch_models import patch_model

    model = patch_model("mobilenet_48")
    run = tinyflash("generate", model, "--board", "microbit", "-o", tmp_path / "off")
    expect_error(run, EXIT_CHECK_FAILED, "does not fit board microbit")
    result = _generate(model, "microbit", tmp_path / "auto", "auto")
    assert "patches" in str(result["patches"])
    _verify(tmp_path / "auto", 3)


DRIVER_C = """
#include <stdio.h>
#include <string.h>

#include "model_data.h"

/* The generated project's plan with its patches (a), and the same model laid out one tensor
 * after another without patches (b): their outputs must be equal for every input on stdin. */
static tfl_tensor tensors_b[IDENT_TENSOR_COUNT];
static tfl_node nodes_b[IDENT_NODE_COUNT];
static int32_t pool_b[IDENT_POOL_WORDS + 1];
static uint8_t arena_b[1 << 20] __attribute__((aligned(16)));

int main(void) {
  tfl_interpreter a, b;
  const tfl_memory ma = {ident_tensors, IDENT_TENSOR_COUNT, ident_nodes, IDENT_NODE_COUNT,
                         ident_pool, IDENT_POOL_WORDS, ident_arena, IDENT_ARENA_BYTES,
                         ident_offsets, (int32_t)(sizeof ident_offsets / sizeof ident_offsets[0]),
                         &ident_patches};
  const tfl_memory mb = {tensors_b, IDENT_TENSOR_COUNT, nodes_b, IDENT_NODE_COUNT, pool_b,
                         IDENT_POOL_WORDS + 1, arena_b, (int32_t)sizeof arena_b, NULL, 0, NULL};
  if (tfl_init(&a, ident_model_data, IDENT_MODEL_SIZE, &ident_op_table, &ma) != TFL_OK ||
      tfl_init(&b, ident_model_data, IDENT_MODEL_SIZE, &ident_op_table, &mb) != TFL_OK) {
    puts("init failed");
    return 1;
  }
  tfl_tensor *xa = tfl_input(&a, 0), *xb = tfl_input(&b, 0);
  int runs = 0, differ = 0;
  while (fread(xa->data, 1, (size_t)xa->bytes, stdin) == (size_t)xa->bytes) {
    memcpy(xb->data, xa->data, (size_t)xa->bytes);
    if (tfl_invoke(&a) != TFL_OK || tfl_invoke(&b) != TFL_OK) {
      puts("invoke failed");
      return 1;
    }
    const tfl_tensor *ya = tfl_output(&a, 0), *yb = tfl_output(&b, 0);
    differ += memcmp(ya->data, yb->data, (size_t)ya->bytes) != 0;
    ++runs;
  }
  printf("runs %d differ %d used %d\\n", runs, differ, (int)a.arena_used);
  return 0;
}
"""


@pytest.mark.slow
@pytest.mark.parametrize(("name", "patches"), [("small", "2"), ("small", "4"), ("pools", "4")])
def test_patched_equals_unpatched_under_sanitizers(tmp_path: Path, name: str, patches: str) -> None:
    """The generated plan and patch table run in the C runtime built with ASan and UBSan,
    against the same runtime without patches on 50 random inputs: equal outputs."""
    import subprocess

    import numpy as np

    from support.patch_models import patch_model
    from support.runtime_build import RUNTIME, SANITIZE_CFLAGS, runtime_sources

    if name == "small":
        model = _write(tmp_path, "small.tflite", small_model())
    else:
        model = patch_model(name)
    info = parse_model(model.read_bytes(), name)
    out = tmp_path / "host"
    result = _generate(model, "host", out, patches, "--patch-overhead", "100")
    assert f"in {patches} patches" in str(result["patches"])
    ident = str(result["identifier"])
    driver = tmp_path / "driver.c"
    driver.write_text(
        DRIVER_C.replace("IDENT_", ident.upper() + "_").replace("ident_", ident + "_")
    )
    srcs = runtime_sources(sorted({op.name.lower() for op in info.ops}))
    srcs += [out / "src" / "model_data.c", out / "src" / "model_plan.c", driver]
    exe = tmp_path / "driver"
    includes = ["-I", str(RUNTIME / "include"), "-I", str(RUNTIME / "src"), "-I", str(out / "src")]
    build = subprocess.run(
        ["gcc", *SANITIZE_CFLAGS, *includes, *map(str, srcs), "-o", str(exe)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    x = info.tensors[info.inputs[0]]
    data = np.random.default_rng(18).integers(-128, 128, size=50 * x.nbytes, dtype=np.int8)
    run = subprocess.run([str(exe)], input=data.tobytes(), capture_output=True, timeout=120)
    text = run.stdout.decode() + run.stderr.decode()
    assert run.returncode == 0, text
    assert f"runs 50 differ 0 used {result['arena_bytes']}" in text, text

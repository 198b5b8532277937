"""Mutation test (issue 7): 10,000 random byte flips / byte writes / truncations / extreme
offset words of each test model go through tfl_model_counts, tfl_init (twice: the second time in
heap blocks of exactly the arena_used/pool_used the first reported) and two tfl_invoke calls under
ASan + UBSan (tests/fuzz/mutate_main.c, one process per 5,000 cases, two processes at once).
Every case must return an error status or run; a sanitizer report, a trap, a signal or a hang
fails the test and names the case (re-run it alone with `mutate_main MODEL SEED K 1`).
The count of each outcome is printed (pytest -s shows it; the slow shared-model variant runs the
MLPerf Tiny models: ad01 10,000 cases, kws and resnet 2,000, because one kws/resnet invoke under
ASan costs 25-60 ms)."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import shared_model_path
from support.models import small_model, small_model_16x8
from support.runtime_build import ASAN_EXIT, SAN_ENV

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
import fuzzlib  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEED = 20261125
CASES = 10_000
CHUNK = 5_000
STAGES = ("counts", "init", "invoke", "ran")


def mutate(model: bytes, name: str, cases: int, tmp_path: Path) -> collections.Counter:
    """Runs `cases` mutants of `model`; returns a Counter of (stage, status) and prints it."""
    exe = fuzzlib.build_mutator()
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    env = dict(os.environ, **SAN_ENV)
    chunks = [(first, min(CHUNK, cases - first)) for first in range(0, cases, CHUNK)]

    def run(chunk: tuple[int, int]) -> tuple[tuple[int, int], subprocess.CompletedProcess]:
        first, count = chunk
        return chunk, subprocess.run(
            [str(exe), str(path), str(SEED), str(first), str(count)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    counts: collections.Counter = collections.Counter()
    kinds: collections.Counter = collections.Counter()
    seen = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (first, count), proc in pool.map(run, chunks):
            lines = proc.stdout.splitlines()
            if proc.returncode != 0 or len(lines) != count:
                failed = first + len(lines)
                kind = (
                    "sanitizer report"
                    if proc.returncode == ASAN_EXIT
                    else f"exit {proc.returncode}"
                )
                pytest.fail(
                    f"{name}: mutant {failed} (seed {SEED}, kind {failed % 5}) ended with "
                    f"{kind}; re-run: {exe} {path} {SEED} {failed} 1\n{proc.stderr[-5000:]}"
                )
            for line in lines:
                k, kind, stage, status = line.split()
                assert stage in STAGES, line
                assert (stage == "ran") == (status == "TFL_OK") or stage == "counts", line
                counts[(stage, status)] += 1
                kinds[(int(kind), stage == "ran")] += 1
                seen += 1
    assert seen == cases
    print(f"\n{name} ({len(model)} bytes): {cases} mutants (seed {SEED})")
    for (stage, status), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {stage:7s} {status}")
    return counts


def builder_models() -> dict[str, bytes]:
    seeds = fuzzlib.kernel_seed_models()
    return {
        "small_model": small_model(),
        "small_model_16x8": small_model_16x8(),
        "harness_model": fuzzlib.harness_model(),
        "digits_int8": (REPO / "examples" / "digits" / "digits_int8.tflite").read_bytes(),
        "kernel_lstm": seeds["kernel_lstm.tflite"],
        "kernel_svdf": seeds["kernel_svdf.tflite"],
        # two subgraphs, CALL_ONCE, VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE (issue 12)
        "kernel_stream": seeds["kernel_stream.tflite"],
        # 16x8 (issue 14): the int16 elementwise and data-movement kernels
        "kernel_int16_elementwise": seeds["kernel_int16_elementwise.tflite"],
        "kernel_int16_data": seeds["kernel_int16_data.tflite"],
        "kernel_lstm16": seeds["kernel_lstm16.tflite"],  # the fused 16x8 LSTM
    }


@pytest.mark.parametrize(
    "name",
    [
        "small_model",
        "small_model_16x8",
        "harness_model",
        "digits_int8",
        "kernel_lstm",
        "kernel_svdf",
        "kernel_stream",
        "kernel_int16_elementwise",
        "kernel_int16_data",
        "kernel_lstm16",
    ],
)
def test_mutants_return_an_error_or_run(name: str, tmp_path: Path) -> None:
    counts = mutate(builder_models()[name], name, CASES, tmp_path)
    # the test can see both sides: some mutants still run, some are refused
    assert sum(n for (stage, _), n in counts.items() if stage == "ran") > 0
    assert sum(n for (stage, _), n in counts.items() if stage != "ran") > 0


# the kernels of issue 15, each from its fuzz seed (tests/fuzz/fuzzlib.py kernel_seed_models)
NEW_KERNELS = (
    "arg_max",
    "arg_min",
    "abs",
    "reduce_max",
    "reduce_min",
    "sum",
    "slice",
    "gather",
    "space_to_depth",
    "depth_to_space",
    "mirror_pad",
    "reverse_v2",
    "space_to_batch_nd",
    "batch_to_space_nd",
    "equal",
    "not_equal",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "select_v2",
    "zeros_like",
    "fill",
    "broadcast_to",
    "squared_difference",
    "prelu",
    "resize_bilinear",
    "batch_matmul",
    "logical_and",
    "logical_or",
    "logical_not",
    "shape",
    "cast",
    "add_n",
    "cumsum",
    "embedding_lookup",
    "gather_nd",
    "broadcast_args",
    "dynamic_update_slice",
    "rsqrt",
    "l2_normalization",
    "div",
    # int32 forms of ADD/SUB/MUL/CONCATENATION/PACK/SLICE/STRIDED_SLICE, and 16x8 MAXIMUM/
    # MINIMUM/SELECT_V2/RESIZE_NEAREST_NEIGHBOR/SQUARED_DIFFERENCE/ABS/RSQRT/GREATER
    "int32_shapes",
    "int16_select",
    "int16_math",
    "int16_greater",
    "elu",
    "log_softmax",
    "if",  # three subgraphs each; a mutated WHILE that never ends stops at the fuzz builds' limit
    "while",
)


@pytest.mark.parametrize("kernel", NEW_KERNELS)
def test_new_kernel_mutants(kernel: str, tmp_path: Path) -> None:
    model = fuzzlib.kernel_seed_models()[f"kernel_{kernel}.tflite"]
    counts = mutate(model, f"kernel_{kernel}", CASES, tmp_path)
    assert sum(n for (stage, _), n in counts.items() if stage == "ran") > 0
    assert sum(n for (stage, _), n in counts.items() if stage != "ran") > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,cases",
    [("ad01_int8", 10_000), ("kws_ref_model", 2_000), ("pretrainedResnet_quant", 2_000)],
)
def test_shared_model_mutants(name: str, cases: int, tmp_path: Path) -> None:
    model = shared_model_path(name).read_bytes()
    counts = mutate(model, name, cases, tmp_path)
    assert sum(counts.values()) == cases

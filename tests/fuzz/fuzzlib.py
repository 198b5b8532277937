"""Builds and runs tinyflash's fuzz targets (docs/security.md).

Targets:
  model    tests/fuzz/fuzz_model.c     arbitrary bytes -> tfl_model_counts, tfl_init (twice: once
                                       generous, once in exactly arena_used bytes), tfl_invoke x2
  harness  tests/fuzz/fuzz_harness.c   arbitrary serial byte stream -> COBS decoder and the whole
                                       device harness with a small model; replies checked
  parse    tests/fuzz/fuzz_parse.py    arbitrary / mutated .tflite bytes -> tinyflash.model.parse_model
                                       (atheris); must raise TinyflashError or return a ModelInfo

The C targets are built with clang -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
-Wall -Wextra -Werror into build/fuzz/<hash>/ (rebuilt when any source changes). Corpora live in
tests/fuzz/corpus/<target>/ (committed, minimised with -merge=1); seeds (test models, the example
model, ../shared/models when present) are written to build/fuzz/seeds/<target>/. Crashes found
are kept in tests/fuzz/regressions/<target>/ and replayed by tests/test_fuzz.py.

    python tests/fuzz/fuzzlib.py run --seconds 600 [--target model] [--merge]
    python tests/fuzz/fuzzlib.py replay
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FUZZ_DIR = REPO / "tests" / "fuzz"
RUNTIME = REPO / "firmware" / "runtime"
HARNESS = REPO / "firmware" / "harness"
BUILD = REPO / "build" / "fuzz"
CORPUS = FUZZ_DIR / "corpus"
REGRESSIONS = FUZZ_DIR / "regressions"
SHARED_MODELS = REPO.parent / "shared" / "models"

if (
    str(REPO / "tests") not in sys.path
):  # tests/support: the test helpers (also when run as a script)
    sys.path.insert(0, str(REPO / "tests"))
from support.runtime_build import SANITIZE_CFLAGS, runtime_sources  # noqa: E402

C_TARGETS = ("model", "harness")
PY_TARGETS = ("parse",)
TARGETS = C_TARGETS + PY_TARGETS

# A mutated WHILE condition may never turn false: the fuzz builds end such a loop (tfl_config.h).
WHILE_LIMIT = ["-DTFL_MAX_WHILE_ITERATIONS=1000"]
# -Wno-unknown-attributes: gcc-only function attributes in the kernels (optimize("O2")) are not
# errors under clang, which only builds these fuzz targets.
CFLAGS = [
    "-std=c99",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unknown-attributes",
    "-fsanitize=fuzzer,address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    *WHILE_LIMIT,
]
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
# An input that takes longer than this is reported by libFuzzer as a hang ("timeout-..." file).
INPUT_TIMEOUT_S = 10
MAX_KEPT = 32 * 1024


class FuzzUnavailable(Exception):
    """clang with libFuzzer (or atheris for the Python target) is not installed."""


@dataclass
class FuzzRun:
    target: str
    seconds: float
    returncode: int
    executions: int = 0
    exec_per_s: int = 0
    coverage: int = 0  # libFuzzer "cov:" (edges) at the end; 0 for the Python target
    features: int = 0  # libFuzzer "ft:"
    corpus_files: int = 0
    corpus_bytes: int = 0
    crashes: list[Path] = field(default_factory=list)
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.crashes


def clang() -> str:
    for name in ("clang", "clang-16", "clang-15", "clang-14"):
        path = shutil.which(name)
        if path:
            return path
    raise FuzzUnavailable(
        "clang is not installed (Debian: apt-get install clang libclang-rt-14-dev, "
        "or run scripts/bootstrap-system.sh)"
    )


def harness_model() -> bytes:
    """FULLY_CONNECTED 16 -> 8 (RELU) -> SOFTMAX: small enough that INVOKE frames are cheap."""
    import numpy as np

    from support.tflbuilder import ModelBuilder

    rng = np.random.default_rng(7)
    b = ModelBuilder()
    x = b.tensor("x", [1, 16], "int8", scale=0.05, zero_point=-3)
    w = b.tensor("w", None, "int8", data=rng.integers(-127, 127, (8, 16)), scale=0.02, zero_point=0)
    bias = b.tensor("b", None, "int32", data=rng.integers(-300, 300, 8), scale=0.001, zero_point=0)
    h = b.tensor("h", [1, 8], "int8", scale=0.1, zero_point=-128)
    b.op("FULLY_CONNECTED", [x, w, bias], [h], fused_activation_function="RELU")
    y = b.tensor("y", [1, 8], "int8", scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [h], [y], beta=1.0)
    return b.build([x], [y])


def kernel_seed_models() -> dict[str, bytes]:
    """One small model per kernel family the example and shared models do not use, so the model
    target starts inside every kernel's prepare/eval (support/tflbuilder.py; a model the
    builder cannot write is skipped)."""
    import numpy as np

    from support.tflbuilder import ModelBuilder

    shape = [1, 4, 4, 3]
    q = {"scale": 0.05, "zero_point": -2}

    def unary(op: str, out_type: str = "int8", out_q: dict | None = None, **options) -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", shape, "int8", **q)
        y = b.tensor("y", shape, out_type, **((out_q or q) if out_type == "int8" else {}))
        b.op(op, [x], [y], **options)
        return b.build([x], [y])

    def binary(op: str, **options) -> bytes:
        b = ModelBuilder()
        x1 = b.tensor("x1", shape, "int8", **q)
        x2 = b.tensor("x2", [1, 1, 1, 3], "int8", scale=0.03, zero_point=1)
        y = b.tensor("y", shape, "int8", scale=0.08, zero_point=0)
        b.op(op, [x1, x2], [y], **options)
        return b.build([x1, x2], [y])

    def with_const(op: str, const: np.ndarray, out_shape: list[int], **options) -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", shape, "int8", **q)
        c = b.tensor("c", None, "int32", data=const)
        y = b.tensor("y", out_shape, "int8", **q)
        b.op(op, [x, c], [y], **options)
        return b.build([x], [y])

    def lstm(act: str = "int8") -> bytes:  # the fused LSTM as the converter writes it (24 inputs)
        rng = np.random.default_rng(1)
        wide = act == "int16"  # 16x8: int16 x, h and y (zero point 0), int64 gate biases
        zp = 0 if wide else 2
        h_scale = 0.008 / 256 if wide else 0.008
        b = ModelBuilder()
        x = b.tensor("x", [1, 3, 4], act, scale=0.01 / 256 if wide else 0.01, zero_point=zp)
        ins: list = [x]
        for fan_in in (4, 5):
            ins += [
                b.tensor(
                    f"w{fan_in}{g}",
                    [5, fan_in],
                    "int8",
                    data=rng.integers(-127, 128, (5, fan_in)),
                    scale=0.004,
                    zero_point=0,
                )
                for g in range(4)
            ]
        ins += [-1, -1, -1]
        ins += [
            b.tensor(
                f"b{g}",
                [5],
                "int64" if wide else "int32",
                data=rng.integers(-999, 999, 5),
                scale=4e-5,
                zero_point=0,
            )
            for g in range(4)
        ]
        ins += [
            -1,
            -1,
            b.tensor("h", [1, 5], act, scale=h_scale, zero_point=-zp // 2, is_variable=True),
            b.tensor("c", [1, 5], "int16", scale=2.0**-11, zero_point=0, is_variable=True),
            -1,
            -1,
            -1,
            -1,
        ]
        y = b.tensor("y", [1, 3, 5], act, scale=h_scale, zero_point=-zp // 2)
        b.op(
            "UNIDIRECTIONAL_SEQUENCE_LSTM",
            ins,
            [y],
            fused_activation_function="TANH",
            cell_clip=3.0,
            time_major=False,
        )
        return b.build([x], [y])

    def svdf() -> bytes:
        rng = np.random.default_rng(2)
        b = ModelBuilder()
        x = b.tensor("x", [1, 6], "int8", scale=0.02, zero_point=1)
        wf = b.tensor(
            "wf", [4, 6], "int8", data=rng.integers(-127, 128, (4, 6)), scale=0.01, zero_point=0
        )
        wt = b.tensor(
            "wt", [4, 5], "int16", data=rng.integers(-3000, 3000, (4, 5)), scale=1e-4, zero_point=0
        )
        bias = b.tensor(
            "bias",
            [2],
            "int32",
            data=[100, -100],
            scale=float(np.float32(0.005) * np.float32(1e-4)),
            zero_point=0,
        )
        state = b.tensor("s", [1, 20], "int16", scale=0.005, zero_point=0, is_variable=True)
        y = b.tensor("y", [1, 2], "int8", scale=0.02, zero_point=0)
        b.op("SVDF", [x, wf, wt, bias, state], [y], rank=2, fused_activation_function="RELU")
        return b.build([x], [y])

    def stream() -> bytes:  # resource-variable state, initialised by a CALL_ONCE subgraph
        sq = {"scale": 0.1, "zero_point": -3}
        b = ModelBuilder()
        x = b.tensor("x", [1, 8], "int8", scale=0.05, zero_point=1)
        h = b.tensor("h", [], "resource")
        s = b.tensor("s", [1, 8], "int8", **sq)
        s2 = b.tensor("s2", [1, 8], "int8", **sq)
        b.op("CALL_ONCE", [], [], init_subgraph_index=1)
        b.op("VAR_HANDLE", [], [h], container="", shared_name="acc")
        b.op("READ_VARIABLE", [h], [s])
        b.op("ADD", [s, x], [s2])
        b.op("ASSIGN_VARIABLE", [h, s2], [])
        init = ModelBuilder()
        h1 = init.tensor("h1", [], "resource")
        v = init.tensor("v", [1, 8], "int8", data=np.arange(-40, 40, 10), **sq)
        init.op("VAR_HANDLE", [], [h1], container="", shared_name="acc")
        init.op("ASSIGN_VARIABLE", [h1, v], [])
        return b.build([x], [s2], subgraphs=[(init, [], [])])

    def if_() -> bytes:  # IF on GREATER(c, 0): x + 1.0 (subgraph 1) or x - 1.0 (subgraph 2)
        return control_flow_models()["if"]

    def while_() -> bytes:  # WHILE i < 10: i += 1, acc += x (x passes through the body)
        return control_flow_models()["while"]

    def unary2(op: str, out_shape: list[int], **options) -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", shape, "int8", **q)
        y = b.tensor("y", out_shape, "int8", **q)
        b.op(op, [x], [y], **options)
        return b.build([x], [y])

    def depth_to_space() -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", [1, 2, 2, 8], "int8", **q)
        y = b.tensor("y", [1, 4, 4, 2], "int8", **q)
        b.op("DEPTH_TO_SPACE", [x], [y], block_size=2)
        return b.build([x], [y])

    def slice_() -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", shape, "int8", **q)
        begin = b.tensor("begin", None, "int32", data=np.array([0, 1, 0, 1]))
        size = b.tensor("size", None, "int32", data=np.array([1, 2, -1, 2]))
        y = b.tensor("y", [1, 2, 4, 2], "int8", **q)
        b.op("SLICE", [x, begin, size], [y])
        return b.build([x], [y])

    def batch_space(op: str, in_shape: list[int], out_shape: list[int]) -> bytes:
        b = ModelBuilder()  # block 2x2, 4x4 space padded/cropped by 1 before and after to 6x6
        x = b.tensor("x", in_shape, "int8", **q)
        block = b.tensor("block", None, "int32", data=np.array([2, 2]))
        pads = b.tensor("pads", None, "int32", data=np.array([[1, 1], [1, 1]]))
        y = b.tensor("y", out_shape, "int8", **q)
        b.op(op, [x, block, pads], [y])
        return b.build([x], [y])

    def batch_matmul() -> bytes:  # activation x activation (attention-style), rhs transposed
        b = ModelBuilder()
        x1 = b.tensor("x1", [1, 4, 4, 3], "int8", **q)
        x2 = b.tensor("x2", [4, 5, 3], "int8", scale=0.03, zero_point=1)
        y = b.tensor("y", [1, 4, 4, 5], "int8", scale=0.3, zero_point=-3)
        b.op("BATCH_MATMUL", [x1, x2], [y], adj_y=True)
        return b.build([x1, x2], [y])

    def prelu() -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", shape, "int8", **q)
        a = b.tensor(
            "alpha", None, "int8", data=np.array([[[3, -40, 100]]]), scale=0.01, zero_point=-1
        )
        y = b.tensor("y", shape, "int8", scale=0.04, zero_point=7)
        b.op("PRELU", [x, a], [y], options_type=None)
        return b.build([x], [y])

    def select_v2() -> bytes:
        b = ModelBuilder()
        c = b.tensor("c", [1, 4, 1, 3], "bool")
        x = b.tensor("x", shape, "int8", **q)
        y = b.tensor("y", [3], "int8", **q)
        out = b.tensor("out", shape, "int8", **q)
        b.op("SELECT_V2", [c, x, y], [out], options_type=None)
        return b.build([c, x, y], [out])

    def fill() -> bytes:
        b = ModelBuilder()
        dims = b.tensor("dims", None, "int32", data=np.array(shape))
        v = b.tensor("v", [], "int8", data=np.array(-7, np.int8), **q)
        x = b.tensor("x", shape, "int8", **q)
        y = b.tensor("y", shape, "int8", **q)
        out = b.tensor("out", shape, "int8", **q)
        b.op("FILL", [dims, v], [y], options_type=None)
        b.op("MAXIMUM", [x, y], [out])
        return b.build([x], [out])

    def compare(op: str) -> bytes:  # int8 inputs (broadcast), bool output
        b = ModelBuilder()
        x1 = b.tensor("x1", shape, "int8", **q)
        x2 = b.tensor("x2", [1, 1, 1, 3], "int8", scale=0.03, zero_point=1)
        y = b.tensor("y", shape, "bool")
        b.op(op, [x1, x2], [y], options_type=None)
        return b.build([x1, x2], [y])

    def arg(op: str) -> bytes:  # int8 in, constant int32 axis, int32 positions out
        b = ModelBuilder()
        x = b.tensor("x", shape, "int8", **q)
        a = b.tensor("axis", None, "int32", data=np.array([-1]))
        y = b.tensor("y", shape[:-1], "int32")
        b.op(op, [x, a], [y], output_type=2)
        return b.build([x], [y])

    def single(op: str, ins: list, outs: list, **options) -> bytes:
        """One op over (name, shape, dtype, constant data or None) tensors; int8/int16 ones
        quantized with q."""
        b = ModelBuilder()

        def make(name, shp, dtype, data=None):
            quant = q if dtype in ("int8", "int16") else {}
            return b.tensor(name, shp, dtype, data=data, **quant)

        tin = [make(*spec) for spec in ins]
        tout = [make(*spec) for spec in outs]
        b.op(op, tin, tout, **options)
        return b.build([t for t, spec in zip(tin, ins) if len(spec) < 4], tout)

    def int16_elementwise() -> bytes:  # 16x8: the int16 elementwise kernels in one chain
        b = ModelBuilder()
        sq = {"scale": 2.0**-10, "zero_point": 0}
        x1 = b.tensor("x1", shape, "int16", **sq)
        x2 = b.tensor("x2", [1, 1, 1, 3], "int16", scale=2.0**-11, zero_point=0)
        a = b.tensor("a", shape, "int16", scale=2.0**-9, zero_point=0)
        m = b.tensor("m", shape, "int16", scale=2.0**-12, zero_point=0)
        d = b.tensor("d", shape, "int16", scale=3e-4, zero_point=0)
        lo = b.tensor("lo", shape, "int16", scale=2.0**-15, zero_point=0)
        th = b.tensor("th", shape, "int16", scale=2.0**-15, zero_point=0)
        r = b.tensor("r", shape, "int16", scale=2.0**-15, zero_point=0)
        r6 = b.tensor("r6", shape, "int16", scale=2.0**-15, zero_point=0)
        lr = b.tensor("lr", shape, "int16", scale=2.0**-14, zero_point=0)
        b.op("ADD", [x1, x2], [a], fused_activation_function="RELU")
        b.op("MUL", [a, x2], [m])
        b.op("SUB", [m, x1], [d])
        b.op("LOGISTIC", [d], [lo])
        b.op("TANH", [a], [th])
        b.op("RELU", [th], [r])
        b.op("RELU6", [lo], [r6])
        b.op("LEAKY_RELU", [r], [lr], alpha=0.2)
        return b.build([x1, x2], [r6, lr])

    def int16_data() -> bytes:  # 16x8: the int16 data-movement kernels in one chain
        b = ModelBuilder()
        sq = {"scale": 2.0**-10, "zero_point": 0}
        x = b.tensor("x", shape, "int16", **sq)
        pads = b.tensor("pads", None, "int32", data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]]))
        p = b.tensor("p", [1, 6, 6, 3], "int16", **sq)
        begin = b.tensor("begin", None, "int32", data=np.array([0, 1, 1, 0]))
        end = b.tensor("end", None, "int32", data=np.array([1, 5, 5, 3]))
        strides = b.tensor("strides", None, "int32", data=np.array([1, 1, 1, 1]))
        ss = b.tensor("ss", shape, "int16", **sq)
        c = b.tensor("c", [1, 4, 4, 6], "int16", **sq)
        perm = b.tensor("perm", None, "int32", data=np.array([0, 2, 1, 3]))
        t = b.tensor("t", [1, 4, 4, 6], "int16", **sq)
        pads2 = b.tensor("pads2", None, "int32", data=np.array([[0, 0], [0, 0], [0, 0], [0, 2]]))
        fill = b.tensor("fill", [], "int16", data=np.array(7, np.int16), **sq)
        pv = b.tensor("pv", [1, 4, 4, 8], "int16", **sq)
        new_shape = b.tensor("new_shape", None, "int32", data=np.array([1, 128]))
        y = b.tensor("y", [1, 128], "int16", **sq)
        b.op("PAD", [x, pads], [p])
        b.op("STRIDED_SLICE", [p, begin, end, strides], [ss])
        b.op("CONCATENATION", [ss, x], [c], axis=3)
        b.op("TRANSPOSE", [c, perm], [t])
        b.op("PADV2", [t, pads2, fill], [pv])
        b.op("RESHAPE", [pv, new_shape], [y], new_shape=[1, 128])
        return b.build([x], [y])

    def int32_shapes() -> bytes:  # the int32 shape arithmetic of a dynamic batch
        b = ModelBuilder()
        x = b.tensor("x", [3, 4, 5], "int8", **q)
        dims = b.tensor("dims", [3], "int32")
        b.op("SHAPE", [x], [dims])

        def c(name: str, values) -> object:
            arr = np.asarray(values, np.int32)
            return b.tensor(name, list(arr.shape), "int32", data=arr)

        batch = b.tensor("batch", [], "int32")
        b.op(
            "STRIDED_SLICE",
            [dims, c("b", [0]), c("e", [1]), c("s", [1])],
            [batch],
            shrink_axis_mask=1,
        )
        doubled = b.tensor("doubled", [], "int32")
        b.op("MUL", [batch, c("two", 2)], [doubled], fused_activation_function="RELU")
        packed = b.tensor("packed", [2], "int32")
        b.op("PACK", [doubled, c("minus1", -1)], [packed], values_count=2, axis=0)
        tail = b.tensor("tail", [2], "int32")
        b.op("SLICE", [dims, c("sb", [1]), c("ss", [2])], [tail])
        summed = b.tensor("summed", [2], "int32")
        b.op("ADD", [tail, packed], [summed])
        less = b.tensor("less", [2], "int32")
        b.op("SUB", [summed, c("one", [1])], [less])
        joined = b.tensor("joined", [4], "int32")
        b.op("CONCATENATION", [packed, less], [joined], axis=0)
        return b.build([x], [joined])

    def int16_select() -> bytes:  # 16x8: MAXIMUM, MINIMUM, SELECT_V2, RESIZE_NEAREST_NEIGHBOR
        b = ModelBuilder()
        sq = {"scale": 2.0**-10, "zero_point": 0}
        x1 = b.tensor("x1", shape, "int16", **sq)
        x2 = b.tensor("x2", [1, 1, 1, 3], "int16", **sq)
        hi = b.tensor("hi", shape, "int16", **sq)
        lo = b.tensor("lo", shape, "int16", **sq)
        cond = b.tensor("cond", [4, 1, 3], "bool", data=np.arange(12).reshape(4, 1, 3) % 3 == 0)
        sel = b.tensor("sel", shape, "int16", **sq)
        size = b.tensor("size", None, "int32", data=np.array([7, 5]))
        y = b.tensor("y", [1, 7, 5, 3], "int16", **sq)
        b.op("MAXIMUM", [x1, x2], [hi])
        b.op("MINIMUM", [x1, x2], [lo])
        b.op("SELECT_V2", [cond, hi, lo], [sel])
        b.op("RESIZE_NEAREST_NEIGHBOR", [sel, size], [y], half_pixel_centers=True)
        return b.build([x1, x2], [y])

    def int16_math() -> bytes:  # 16x8: SQUARED_DIFFERENCE, ABS, RSQRT (of values >= 0)
        b = ModelBuilder()
        x1 = b.tensor("x1", shape, "int16", scale=2.0**-10, zero_point=0)
        x2 = b.tensor("x2", [1, 1, 1, 3], "int16", scale=2.0**-11, zero_point=0)
        d = b.tensor("d", shape, "int16", scale=2.0**-4, zero_point=0)
        a = b.tensor("a", shape, "int16", scale=2.0**-9, zero_point=0)
        y = b.tensor("y", shape, "int16", scale=2.0**-12, zero_point=0)
        b.op("SQUARED_DIFFERENCE", [x1, x2], [d], options_type=None)
        b.op("ABS", [d], [a])
        b.op("RSQRT", [a], [y])
        return b.build([x1, x2], [y])

    def int16_greater() -> bytes:  # 16x8: GREATER (broadcast), its bool into SELECT_V2
        b = ModelBuilder()
        sq = {"scale": 2.0**-10, "zero_point": 0}
        x1 = b.tensor("x1", shape, "int16", **sq)
        x2 = b.tensor("x2", [1, 1, 1, 3], "int16", **sq)
        cond = b.tensor("cond", shape, "bool")
        y = b.tensor("y", shape, "int16", **sq)
        b.op("GREATER", [x1, x2], [cond], options_type=None)
        b.op("SELECT_V2", [cond, x1, x2], [y])
        return b.build([x1, x2], [cond, y])

    makers = {
        "int16_math": int16_math,
        "int16_greater": int16_greater,
        "int32_shapes": int32_shapes,
        "int16_select": int16_select,
        "logical_and": lambda: single(
            "LOGICAL_AND", [("a", shape, "bool"), ("b", [3], "bool")], [("y", shape, "bool")]
        ),
        "logical_or": lambda: single(
            "LOGICAL_OR",
            [("a", [1, 4, 1, 3], "bool"), ("b", shape, "bool")],
            [("y", shape, "bool")],
        ),
        "logical_not": lambda: single(
            "LOGICAL_NOT", [("a", shape, "bool")], [("y", shape, "bool")]
        ),
        "shape": lambda: single("SHAPE", [("x", shape, "int8")], [("y", [4], "int32")]),
        "cast": lambda: single("CAST", [("x", shape, "int8")], [("y", shape, "int32")]),
        "add_n": lambda: single(
            "ADD_N",
            [("a", shape, "int8"), ("b", shape, "int8"), ("c", shape, "int8")],
            [("y", shape, "int8")],
        ),
        "cumsum": lambda: single(
            "CUMSUM",
            [("x", shape, "int8"), ("axis", [], "int32", np.array(2))],
            [("y", shape, "int8")],
            exclusive=True,
            reverse=True,
        ),
        "embedding_lookup": lambda: single(
            "EMBEDDING_LOOKUP",
            [("ids", [3], "int32"), ("v", [5, 2, 3], "int8", np.arange(30).reshape(5, 2, 3))],
            [("y", [3, 2, 3], "int8")],
        ),
        "gather_nd": lambda: single(
            "GATHER_ND",
            [("x", shape, "int8"), ("i", [2, 2], "int32", np.array([[0, 3], [0, 1]]))],
            [("y", [2, 4, 3], "int8")],
            options_type=None,
        ),
        "broadcast_args": lambda: single(
            "BROADCAST_ARGS", [("a", [4], "int32"), ("b", [2], "int32")], [("y", [4], "int32")]
        ),
        "dynamic_update_slice": lambda: single(
            "DYNAMIC_UPDATE_SLICE",
            [("x", shape, "int8"), ("u", [1, 2, 2, 3], "int8"), ("s", [4], "int32")],
            [("y", shape, "int8")],
        ),
        "rsqrt": lambda: single("RSQRT", [("x", shape, "int8")], [("y", shape, "int8")]),
        "elu": lambda: unary("ELU", out_q={"scale": 0.04, "zero_point": 25}),
        "log_softmax": lambda: unary("LOG_SOFTMAX", out_q={"scale": 16 / 256, "zero_point": 127}),
        "l2_normalization": lambda: single(
            "L2_NORMALIZATION", [("x", shape, "int8")], [("y", shape, "int8")]
        ),
        "div": lambda: binary("DIV", fused_activation_function="RELU"),
        "lstm": lstm,
        "lstm16": lambda: lstm("int16"),
        "int16_elementwise": int16_elementwise,
        "int16_data": int16_data,
        "svdf": svdf,
        "stream": stream,
        "if": if_,
        "while": while_,
        "arg_max": lambda: arg("ARG_MAX"),
        "arg_min": lambda: arg("ARG_MIN"),
        "abs": lambda: unary("ABS", out_q={"scale": 0.07, "zero_point": 3}),
        "reduce_max": lambda: with_const(
            "REDUCE_MAX", np.array([1, -2]), [1, 1, 1, 3], keep_dims=True
        ),
        "reduce_min": lambda: with_const("REDUCE_MIN", np.array([3]), [1, 4, 4]),
        "sum": lambda: with_const("SUM", np.array([2, 1, 2]), [1, 1, 1, 3], keep_dims=True),
        "gather": lambda: with_const("GATHER", np.array([3, 0, 1]), [1, 4, 3, 3], axis=2),
        "space_to_depth": lambda: unary2("SPACE_TO_DEPTH", [1, 2, 2, 12], block_size=2),
        "depth_to_space": lambda: depth_to_space(),
        "slice": lambda: slice_(),
        "select_v2": lambda: select_v2(),
        "zeros_like": lambda: unary("ZEROS_LIKE", options_type=None),
        "fill": lambda: fill(),
        "broadcast_to": lambda: with_const(
            "BROADCAST_TO", np.array([2, 4, 4, 3]), [2, 4, 4, 3], options_type=None
        ),
        "squared_difference": lambda: binary("SQUARED_DIFFERENCE", options_type=None),
        "prelu": lambda: prelu(),
        "batch_matmul": lambda: batch_matmul(),
        "resize_bilinear": lambda: with_const(
            "RESIZE_BILINEAR", np.array([7, 5]), [1, 7, 5, 3], half_pixel_centers=True
        ),
        "equal": lambda: compare("EQUAL"),
        "not_equal": lambda: compare("NOT_EQUAL"),
        "greater": lambda: compare("GREATER"),
        "greater_equal": lambda: compare("GREATER_EQUAL"),
        "less": lambda: compare("LESS"),
        "less_equal": lambda: compare("LESS_EQUAL"),
        "mirror_pad": lambda: with_const(
            "MIRROR_PAD", np.array([[0, 0], [1, 2], [3, 0], [0, 1]]), [1, 7, 7, 4], mode=1
        ),
        "reverse_v2": lambda: with_const("REVERSE_V2", np.array([2, 1]), shape),
        "space_to_batch_nd": lambda: batch_space("SPACE_TO_BATCH_ND", shape, [4, 3, 3, 3]),
        "batch_to_space_nd": lambda: batch_space("BATCH_TO_SPACE_ND", [4, 3, 3, 3], shape),
        "add": lambda: binary("ADD", fused_activation_function="RELU"),
        "sub": lambda: binary("SUB"),
        "mul": lambda: binary("MUL"),
        "maximum": lambda: binary("MAXIMUM"),
        "minimum": lambda: binary("MINIMUM"),
        "logistic": lambda: unary("LOGISTIC", out_q={"scale": 1 / 256, "zero_point": -128}),
        "tanh": lambda: unary("TANH"),
        "hard_swish": lambda: unary("HARD_SWISH"),
        "relu": lambda: unary("RELU"),
        "relu6": lambda: unary("RELU6"),
        "leaky_relu": lambda: unary("LEAKY_RELU", alpha=0.2),
        "quantize": lambda: unary("QUANTIZE"),
        "dequantize": lambda: unary("DEQUANTIZE", out_type="float32"),
        "average_pool": lambda: unary(
            "AVERAGE_POOL_2D",
            padding="SAME",
            stride_w=1,
            stride_h=1,
            filter_width=2,
            filter_height=2,
        ),
        "pad": lambda: with_const("PAD", np.array([[0, 0], [1, 1], [1, 1], [0, 0]]), [1, 6, 6, 3]),
        "mean": lambda: with_const("MEAN", np.array([1, 2]), [1, 1, 1, 3], keep_dims=True),
        "transpose": lambda: with_const("TRANSPOSE", np.array([0, 2, 1, 3]), shape),
        "resize": lambda: with_const("RESIZE_NEAREST_NEIGHBOR", np.array([8, 8]), [1, 8, 8, 3]),
    }
    out = {}
    for name, make in makers.items():
        try:
            out[f"kernel_{name}.tflite"] = make()
        except Exception:  # noqa: BLE001 - a seed the builder cannot write is only a missing seed
            continue
    return out


def control_flow_models() -> dict[str, bytes]:
    """IF and WHILE over int8 tensors (three subgraphs each), written with the builder."""
    import numpy as np

    from support.tflbuilder import ModelBuilder

    q = {"scale": 0.05, "zero_point": 1}
    one = {"scale": 0.5, "zero_point": 0}  # comparisons need scales below 1 (as TFLM)

    def branch(op: str) -> tuple[ModelBuilder, list, list]:
        g = ModelBuilder()
        x = g.tensor("x", [1, 8], "int8", **q)
        k = g.tensor("k", [1], "int8", data=np.array([21]), **q)  # 1.0
        y = g.tensor("y", [1, 8], "int8", **q)
        g.op(op, [x, k], [y], fused_activation_function="NONE")
        return g, [x], [y]

    b = ModelBuilder()
    x = b.tensor("x", [1, 8], "int8", **q)
    c = b.tensor("c", [1], "int8", **one)
    zero = b.tensor("zero", [1], "int8", data=np.array([0]), **one)
    flag = b.tensor("flag", [1], "bool")
    y = b.tensor("y", [1, 8], "int8", **q)
    b.op("GREATER", [c, zero], [flag])
    b.op("IF", [flag, x], [y], then_subgraph_index=1, else_subgraph_index=2)
    if_model = b.build([x, c], [y], subgraphs=[branch("ADD"), branch("SUB")])

    def carried(g: ModelBuilder) -> tuple:
        return (
            g.tensor("i", [1], "int8", **one),
            g.tensor("acc", [1, 8], "int8", **q),
            g.tensor("x", [1, 8], "int8", **q),
        )

    b = ModelBuilder()
    ins, outs = carried(b), carried(b)
    b.op("WHILE", list(ins), list(outs), cond_subgraph_index=1, body_subgraph_index=2)
    cond = ModelBuilder()
    ci = carried(cond)
    limit = cond.tensor("limit", [1], "int8", data=np.array([10]), **one)
    more = cond.tensor("more", [1], "bool")
    cond.op("LESS", [ci[0], limit], [more])
    body = ModelBuilder()
    bi = carried(body)
    inc = body.tensor("one", [1], "int8", data=np.array([1]), **one)
    i2 = body.tensor("i2", [1], "int8", **one)
    acc2 = body.tensor("acc2", [1, 8], "int8", **q)
    body.op("ADD", [bi[0], inc], [i2], fused_activation_function="NONE")
    body.op("ADD", [bi[1], bi[2]], [acc2], fused_activation_function="NONE")
    while_model = b.build(
        list(ins),
        [outs[0], outs[1]],
        subgraphs=[(cond, list(ci), [more]), (body, list(bi), [i2, acc2, bi[2]])],
    )
    return {"if": if_model, "while": while_model}


def compressed_seed_models() -> dict[str, bytes]:
    """Models with compressed weights (tinyflash.compress blobs): palette (per channel and per
    tensor) and sparse, as generate embeds them."""
    from support.compressed_models import synthetic
    from tinyflash.compress import compress_model
    from tinyflash.model import parse_model

    return {
        f"compressed_{name}.tflite": compress_model(parse_model(synthetic(*form), name)).data
        for name, form in (("palette", (16, 0.0)), ("sparse", (100, 0.85)))
    }


def _c_array(name: str, data: bytes) -> str:
    rows = [", ".join(str(v) for v in data[i : i + 24]) for i in range(0, len(data), 24)]
    body = ",\n  ".join(rows) if rows else "0"
    return f"const uint8_t {name}[] __attribute__((aligned(16))) = {{\n  {body}\n}};\n"


def _harness_model_c() -> str:
    model = harness_model()
    return (
        "/* generated by tests/fuzz/fuzzlib.py */\n#include <stdint.h>\n"
        + _c_array("fuzz_harness_model", model)
        + f"const uint32_t fuzz_harness_model_size = {len(model)}u;\n"
        + _c_array("fuzz_harness_model_sha256", hashlib.sha256(model).digest())
    )


def build(target: str) -> Path:
    """Compiles (or reuses) a C fuzz target; returns the executable."""
    if target not in C_TARGETS:
        raise ValueError(f"no C fuzz target {target!r}")
    cc = clang()
    srcs = [FUZZ_DIR / f"fuzz_{target}.c"] + runtime_sources()
    includes = ["-I", str(RUNTIME / "include"), "-I", str(RUNTIME / "src"), "-I", str(FUZZ_DIR)]
    extra_text = ""
    if target == "model":
        srcs.append(FUZZ_DIR / "model_case.c")
        srcs.append(FUZZ_DIR / "model_case.h")  # hashed, not compiled (filtered below)
    if target == "harness":
        srcs += sorted((HARNESS / "src").glob("*.c"))
        includes += [
            "-I",
            str(HARNESS / "include"),
            "-I",
            str(HARNESS / "src"),
            "-I",
            str(REPO / "firmware" / "ports" / "include"),
        ]
        extra_text = _harness_model_c()
    h = hashlib.sha256()
    h.update((cc + " ".join(CFLAGS) + extra_text).encode())
    headers = (
        sorted(RUNTIME.rglob("*.h"))
        + sorted(HARNESS.rglob("*.h"))
        + sorted((REPO / "firmware" / "ports" / "include").glob("*.h"))
    )
    for p in srcs + headers:
        h.update(str(p.relative_to(REPO)).encode())
        h.update(p.read_bytes())
    out_dir = BUILD / h.hexdigest()[:16]
    exe = out_dir / f"fuzz_{target}"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    if extra_text:
        gen = out_dir / "harness_model.c"
        gen.write_text(extra_text)
        srcs.append(gen)
    tmp = out_dir / f"fuzz_{target}.{os.getpid()}.tmp"
    c_files = [str(p) for p in srcs if p.suffix == ".c"]
    proc = subprocess.run(
        [cc, *CFLAGS, *includes, *c_files, "-o", str(tmp)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building fuzz target {target} failed:\n{proc.stderr[-6000:]}")
    os.replace(tmp, exe)
    return exe


def build_mutator() -> Path:
    """The batch mutation runner (mutate_main.c + model_case.c + the runtime), built with gcc and
    exactly the sanitizer flags of the host runner (support/runtime_build.py: ASan + UBSan, no
    recovery); cached
    under build/fuzz/mutate/<hash>/."""
    srcs = [FUZZ_DIR / "mutate_main.c", FUZZ_DIR / "model_case.c"] + runtime_sources()
    h = hashlib.sha256(" ".join(SANITIZE_CFLAGS + WHILE_LIMIT).encode())
    for p in srcs + sorted(RUNTIME.rglob("*.h")) + [FUZZ_DIR / "model_case.h"]:
        h.update(str(p.relative_to(REPO)).encode())
        h.update(p.read_bytes())
    out_dir = BUILD / "mutate" / h.hexdigest()[:16]
    exe = out_dir / "mutate_main"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f"mutate_main.{os.getpid()}.tmp"
    includes = ["-I", str(RUNTIME / "include"), "-I", str(RUNTIME / "src"), "-I", str(FUZZ_DIR)]
    proc = subprocess.run(
        ["gcc", *SANITIZE_CFLAGS, *WHILE_LIMIT, *includes, *map(str, srcs), "-o", str(tmp)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building the mutation runner failed:\n{proc.stderr[-6000:]}")
    os.replace(tmp, exe)
    return exe


def seed_dir(target: str) -> Path:
    """Writes the seed inputs of a target (not committed: they are derived from the repo and
    ../shared/models) and returns their directory."""
    d = BUILD / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    if target in ("model", "parse"):
        from support.models import small_model, small_model_16x8

        seeds = {
            "small_model.tflite": small_model(),
            "small_model_16x8.tflite": small_model_16x8(),
            "harness_model.tflite": harness_model(),
            **kernel_seed_models(),
        }
        digits = REPO / "examples" / "digits" / "digits_int8.tflite"
        if digits.is_file():
            seeds["digits_int8.tflite"] = digits.read_bytes()
        seeds.update(compressed_seed_models())
        if SHARED_MODELS.is_dir():
            for p in sorted(SHARED_MODELS.glob("*.tflite")):
                seeds[p.name] = p.read_bytes()
        for name, data in seeds.items():
            path = d / name
            if not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)
    elif target == "harness":
        for name, data in _harness_seed_streams().items():
            (d / name).write_bytes(data)
    return d


def _frame(type_: int, seq: int, payload: bytes) -> bytes:
    """One request frame on the wire (COBS + delimiter), written independently of tinyflash.link."""
    body = bytes([type_, seq]) + len(payload).to_bytes(4, "little") + payload
    crc = 0xFFFF
    for byte in body:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    raw = body + crc.to_bytes(2, "little")
    out = bytearray()
    block = bytearray()
    for byte in raw:
        if byte == 0:
            out += bytes([len(block) + 1]) + block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out += bytes([255]) + block
                block.clear()
    out += bytes([len(block) + 1]) + block
    return bytes(out) + b"\x00"


def _harness_seed_streams() -> dict[str, bytes]:
    x = bytes(range(16))
    info, inv = _frame(1, 1, b""), _frame(2, 2, x)
    return {
        "info.bin": b"\x00" + info,
        "invoke.bin": b"\x00" + info + inv + inv,
        "chunks.bin": b"\x00"
        + _frame(5, 3, (0).to_bytes(4, "little") + x[:9])
        + _frame(5, 4, (9).to_bytes(4, "little") + x[9:])
        + _frame(2, 5, b"")
        + _frame(3, 6, b""),
        "layers_reset.bin": b"\x00" + _frame(3, 7, x) + _frame(4, 8, b"") + _frame(2, 9, x),
        "not_ready.bin": b"\x01" + info + inv + _frame(4, 3, b""),
        "garbage.bin": b"\x00\x05\x01\x02\x00\xff" + bytes(300) + info,
    }


def _env() -> dict[str, str]:
    """Sanitizer options, and this interpreter first on PATH: libFuzzer's -merge re-runs
    fuzz_parse.py by its own path (#!/usr/bin/env python3), which must find atheris."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return dict(os.environ, PATH=path, **SAN_ENV)


def _corpus_stats(d: Path) -> tuple[int, int]:
    files = [p for p in d.iterdir() if p.is_file()] if d.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


_STAT = re.compile(r"#(\d+)\s+\w+.*?cov: (\d+) ft: (\d+).*?exec/s: (\d+)")
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def run(target: str, seconds: int, merge: bool = True) -> FuzzRun:
    """Fuzzes one target for `seconds` in one process (libFuzzer's -jobs=1) on a scratch copy of
    tests/fuzz/corpus/<target>/ plus the seeds; with merge=True the result is merged back,
    minimised. Crashes, hangs and leaks land in build/fuzz/crashes/<target>/."""
    corpus = CORPUS / target
    corpus.mkdir(parents=True, exist_ok=True)
    crash_dir = BUILD / "crashes" / target
    crash_dir.mkdir(parents=True, exist_ok=True)
    seeds = seed_dir(target)
    env = _env()
    # one executable for the whole run (sources may change meanwhile)
    exe = (
        [sys.executable, str(FUZZ_DIR / "fuzz_parse.py")]
        if target == "parse"
        else [str(build(target))]
    )
    work = Path(tempfile.mkdtemp(prefix=f"fuzz_{target}_", dir=BUILD))
    try:
        live = work / "corpus"
        live.mkdir()
        for p in corpus.iterdir():
            shutil.copy(p, live / p.name)
        args = [
            f"-max_total_time={seconds}",
            f"-timeout={INPUT_TIMEOUT_S}",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={crash_dir}/",
            "-print_final_stats=1",
        ]
        if target in ("parse", "model"):
            args.append("-max_len=300000")  # the largest seed model is 277 KB
        cmd = [*exe, *args, str(live), str(seeds)]
        before = {p.name for p in crash_dir.iterdir()}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 600)
        log = proc.stderr
        (BUILD / f"last-{target}.log").write_text(log)
        result = FuzzRun(target=target, seconds=seconds, returncode=proc.returncode, log=log)
        for m in _STAT.finditer(log):
            result.executions, result.coverage = int(m.group(1)), int(m.group(2))
            result.features, result.exec_per_s = int(m.group(3)), int(m.group(4))
        m = re.search(r"stat::number_of_executed_units: (\d+)", log)
        if m:
            result.executions = int(m.group(1))
        result.crashes = sorted(p for p in crash_dir.iterdir() if p.name not in before)
        # keep the committed corpus minimal: merge the live corpus into a fresh directory
        # (-merge=1 keeps only inputs that add coverage) and drop inputs over MAX_KEPT bytes
        # (mutated copies of the large seed models: the seeds give that coverage anyway)
        if merge:
            fresh = work / "merged"
            fresh.mkdir()
            subprocess.run(
                [
                    *exe,
                    "-merge=1",
                    f"-timeout={INPUT_TIMEOUT_S}",
                    "-rss_limit_mb=2048",
                    str(fresh),
                    str(live),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=seconds + 600,
            )
            if any(fresh.iterdir()):
                for p in corpus.iterdir():
                    p.unlink()
                for p in fresh.iterdir():
                    if p.stat().st_size <= MAX_KEPT:
                        shutil.copy(p, corpus / p.name)
        result.corpus_files, result.corpus_bytes = _corpus_stats(corpus)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def replay(target: str, inputs: list[Path], timeout: float = 300.0) -> subprocess.CompletedProcess:
    """Runs the target once on each given file (libFuzzer's file mode): regression inputs."""
    env = _env()
    if target == "parse":
        cmd = [sys.executable, str(FUZZ_DIR / "fuzz_parse.py")]
    else:
        cmd = [str(build(target))]
    return subprocess.run(
        [*cmd, f"-timeout={INPUT_TIMEOUT_S}", "-rss_limit_mb=2048", *map(str, inputs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="fuzz each target for a set time")
    r.add_argument("--seconds", type=int, default=600)
    r.add_argument("--target", action="append", choices=TARGETS)
    r.add_argument("--no-merge", action="store_true", help="leave tests/fuzz/corpus unchanged")
    sub.add_parser("replay", help="run every saved corpus and regression input once")
    args = ap.parse_args(argv)
    failed = False
    if args.cmd == "run":
        for target in args.target or TARGETS:
            res = run(target, args.seconds, merge=not args.no_merge)
            print(
                f"{target}: {res.executions} executions in {res.seconds} s "
                f"({res.exec_per_s}/s), coverage {res.coverage} edges / {res.features} features, "
                f"corpus {res.corpus_files} files {res.corpus_bytes} bytes, "
                f"crashes {[str(p) for p in res.crashes]}",
                flush=True,
            )
            if not res.ok:
                failed = True
                print(res.log[-4000:], file=sys.stderr)
    else:
        for target in TARGETS:
            files = sorted(
                p
                for d in (CORPUS / target, REGRESSIONS / target)
                if d.is_dir()
                for p in d.iterdir()
                if p.is_file()
            )
            if not files:
                continue
            proc = replay(target, files)
            print(f"{target}: {len(files)} inputs replayed, exit {proc.returncode}", flush=True)
            failed |= proc.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

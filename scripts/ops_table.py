#!/usr/bin/env python3
"""Writes the operator coverage table (toolchain/tinyflash/ops_table.json and docs/ops.md) from
the reference itself: a single-op model for every TFLite builtin operator and integer type
combination, written with tests/tflbuilder.py (no TensorFlow), run by

- the tflite-micro Python runtime (TFLM's reference kernels): load, zero inputs, invoke — in a
  child process, since TFLM can crash on a model it does not expect;
- the tinyflash runtime's host runner (tests/support/runtime_host.py): does its prepare accept it.

    .venv/bin/python scripts/ops_table.py            # probe everything, write both files
    .venv/bin/python scripts/ops_table.py --check    # exit 1 when the files are not current

Operators without a probe model here get one generic int8 probe, which tells only whether
TFLM registers the operator ("not registered") or not ("not probed" when it refuses the
generic model).
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "toolchain"))

from support.tflbuilder import BUILTIN_OPS, ModelBuilder  # noqa: E402
from tinyflash import ops as opstable  # noqa: E402

DOC = REPO / "docs" / "ops.md"
# Files searched for the test that proves a kernel (a test function mentioning "OP_NAME").
TEST_FILES = (
    "test_kernels_ops.py",
    "test_kernels_arith.py",
    "test_kernels_data.py",
    "test_kernels_more.py",
    "test_runtime_kernels.py",
    "test_runtime_quant.py",
    "test_runtime_graphs.py",
    "test_lstm.py",
    "test_stream.py",
    "test_control_flow.py",
)
# Searched first for the rows of int16 activations (16x8); test_greater_int16.py compares with
# TensorFlow Lite's interpreter (tinyflash.ops.ROW_NOTES says why).
TEST_FILES_INT16 = ("test_kernels_int16.py", "test_kernels_int16_mac.py", "test_greater_int16.py")
# Searched first for the int32 and bool rows (and int32 outputs) of ops that also run int8.
TEST_FILES_INT32 = ("test_kernels_int32.py",)

# Quantization of probe tensors per type: (scale, zero point); None = not quantized.
QUANT: dict[str, tuple[float, int] | None] = {
    "int8": (0.1, 0),
    "int16": (0.1, 0),
    "int32": None,
    "int64": None,
    "bool": None,
    "float32": None,
}
# Output quantization the TFLM kernels require for some ops (fixed-range outputs).
FIXED_OUT: dict[tuple[str, str], tuple[float, int]] = {
    ("LOGISTIC", "int8"): (1 / 256, -128),
    ("LOGISTIC", "int16"): (1 / 32768, 0),
    ("TANH", "int8"): (1 / 128, 0),
    ("TANH", "int16"): (1 / 32768, 0),
    ("SOFTMAX", "int8"): (1 / 256, -128),
    ("SOFTMAX", "int16"): (1 / 32768, 0),
    ("LOG_SOFTMAX", "int8"): (16 / 256, 127),
    ("L2_NORMALIZATION", "int8"): (1 / 128, 0),
    ("L2_NORMALIZATION", "int16"): (1 / 32768, 0),
}


@dataclass(frozen=True)
class Probe:
    op: str
    types: str
    model: bytes
    generic: bool = False  # the generic registration probe of an op without a real one


Build = Callable[[ModelBuilder], tuple[list, list]]


def _t(
    b: ModelBuilder,
    name: str,
    shape: list[int],
    dtype: str,
    op: str = "",
    data: np.ndarray | None = None,
    out: bool = False,
    fixed: tuple[float, int] | None = None,
):
    q = fixed or (FIXED_OUT.get((op, dtype)) if out else None)
    q = q or QUANT.get(dtype)
    if q is None:
        return b.tensor(name, shape, dtype, data=data)
    return b.tensor(name, shape, dtype, data=data, scale=q[0], zero_point=q[1])


def _c(b: ModelBuilder, name: str, values, dtype: str = "int32"):
    arr = np.asarray(values, dtype=dtype)
    return b.tensor(name, list(arr.shape), dtype, data=arr)


def _model(op: str, build: Build, **options) -> bytes:
    b = ModelBuilder()
    ins, outs = build(b)
    const_free = [t for t in ins if t.data is None]
    b.op(op, ins, outs, **options)
    return b.build(const_free, outs)


def unary(
    op: str, dtype: str, out_dtype: str | None = None, shape=(1, 2, 3, 4), **options
) -> bytes:
    od = out_dtype or dtype
    return _model(
        op,
        lambda b: ([_t(b, "x", list(shape), dtype)], [_t(b, "y", list(shape), od, op, out=True)]),
        **options,
    )


def binary(op: str, dtype: str, out_dtype: str | None = None, **options) -> bytes:
    od = out_dtype or dtype
    s = [1, 2, 3, 4]
    return _model(
        op,
        lambda b: (
            [_t(b, "x1", s, dtype), _t(b, "x2", s, dtype)],
            [_t(b, "y", s, od, op, out=True)],
        ),
        **options,
    )


def with_consts(
    op: str,
    dtype: str,
    in_shape,
    consts: list,
    out_shapes: list,
    out_dtype: str | None = None,
    consts_first: bool = False,
    **options,
) -> bytes:
    od = out_dtype or dtype

    def build(b):
        x = _t(b, "x", list(in_shape), dtype)
        cs = [
            _c(b, f"c{i}", v, d)
            if not isinstance(v, str)
            else _t(
                b, f"c{i}", [], dtype, data=np.zeros((), dtype=dtype if dtype != "bool" else "bool")
            )
            for i, (v, d) in enumerate(consts)
        ]
        ins = cs + [x] if consts_first else [x] + cs
        return ins, [_t(b, f"y{i}", list(s), od, op, out=True) for i, s in enumerate(out_shapes)]

    return _model(op, build, **options)


def weights_op(op: str, act: str) -> bytes:
    """CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV with int8 weights and an
    int32 (int8 activations) or int64 (int16 activations) bias."""
    bias_t = "int32" if act == "int8" else "int64"
    b = ModelBuilder()
    x_shape, w_shape, y_shape, opts = {
        "CONV_2D": (
            [1, 4, 4, 2],
            [3, 3, 3, 2],
            [1, 4, 4, 3],
            dict(padding="SAME", stride_w=1, stride_h=1),
        ),
        "DEPTHWISE_CONV_2D": (
            [1, 4, 4, 2],
            [1, 3, 3, 2],
            [1, 4, 4, 2],
            dict(padding="SAME", stride_w=1, stride_h=1, depth_multiplier=1),
        ),
        "FULLY_CONNECTED": ([1, 8], [3, 8], [1, 3], {}),
        "TRANSPOSE_CONV": (
            [1, 2, 2, 2],
            [3, 3, 3, 2],
            [1, 4, 4, 3],
            dict(padding="SAME", stride_w=2, stride_h=2),
        ),
    }[op]
    n_out = w_shape[0] if op != "DEPTHWISE_CONV_2D" else w_shape[3]
    x = _t(b, "x", x_shape, act)
    w = b.tensor("w", w_shape, "int8", data=np.ones(w_shape, np.int8), scale=0.02, zero_point=0)
    bias = b.tensor(
        "bias", [n_out], bias_t, data=np.zeros(n_out, bias_t), scale=0.002, zero_point=0
    )
    y = _t(b, "y", y_shape, act)
    if op == "TRANSPOSE_CONV":
        shape = _c(b, "shape", y_shape)
        b.op(op, [shape, w, x, bias], [y], **opts)
    else:
        b.op(op, [x, w, bias], [y], **opts)
    return b.build([x], [y])


def probes() -> list[Probe]:
    out: list[Probe] = []

    def add(op: str, types: str, make: Callable[[], bytes]) -> None:
        out.append(Probe(op, types, make()))

    ints = ("int8", "int16")
    # elementwise unary, same type in and out
    for op in (
        "ABS",
        "NEG",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "RELU_0_TO_1",
        "LOGISTIC",
        "TANH",
        "HARD_SWISH",
        "ELU",
        "EXP",
        "LOG",
        "RSQRT",
        "SQRT",
        "SQUARE",
        "ZEROS_LIKE",
        "LOG_SOFTMAX",
        "FLOOR",
        "CEIL",
        "ROUND",
        "SIN",
        "COS",
        "SIGN",
        "GELU",
        "L2_NORMALIZATION",
        "LOCAL_RESPONSE_NORMALIZATION",
    ):
        for dt in ints + (
            ("int32",) if op in ("ABS", "NEG", "ZEROS_LIKE", "SIGN", "SQUARE") else ()
        ):
            add(op, dt, lambda op=op, dt=dt: unary(op, dt))
    add("LEAKY_RELU", "int8", lambda: unary("LEAKY_RELU", "int8", alpha=0.2))
    add("LEAKY_RELU", "int16", lambda: unary("LEAKY_RELU", "int16", alpha=0.2))
    for dt in ints:
        add("SOFTMAX", dt, lambda dt=dt: unary("SOFTMAX", dt, beta=1.0))
    # int8 in, int16 out: the output range [0, 1) over the whole int16 range
    add(
        "SOFTMAX",
        "int8 -> int16",
        lambda: _model(
            "SOFTMAX",
            lambda b: (
                [_t(b, "x", [1, 8], "int8")],
                [_t(b, "y", [1, 8], "int16", fixed=(1 / 65536, -32768))],
            ),
            beta=1.0,
        ),
    )
    # elementwise binary, same type
    for op in (
        "ADD",
        "SUB",
        "MUL",
        "DIV",
        "MAXIMUM",
        "MINIMUM",
        "SQUARED_DIFFERENCE",
        "FLOOR_DIV",
        "FLOOR_MOD",
        "POW",
        "PRELU",
        "ATAN2",
        "ADD_N",
    ):
        for dt in ints + ("int32",):
            add(op, dt, lambda op=op, dt=dt: binary(op, dt))
    for op in ("EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"):
        for dt in ints + ("int32",):
            add(op, f"{dt} -> bool", lambda op=op, dt=dt: binary(op, dt, "bool"))
    for op in ("LOGICAL_AND", "LOGICAL_OR"):
        add(op, "bool", lambda op=op: binary(op, "bool"))
    add("LOGICAL_NOT", "bool", lambda: unary("LOGICAL_NOT", "bool"))
    # reductions over axes [1, 2], keep_dims
    for op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        for dt in ints:
            add(
                op,
                f"{dt} (int32 axes)",
                lambda op=op, dt=dt: with_consts(
                    op, dt, [1, 4, 4, 3], [([1, 2], "int32")], [[1, 1, 1, 3]], keep_dims=True
                ),
            )
    add(
        "REDUCE_ANY",
        "bool (int32 axes)",
        lambda: with_consts(
            "REDUCE_ANY",
            "bool",
            [1, 4, 4, 3],
            [([1, 2], "int32")],
            [[1, 1, 1, 3]],
            options_type=None,
        ),
    )
    for op in ("ARG_MAX", "ARG_MIN"):
        for dt, axis_t, od in (
            ("int8", "int32", "int32"),
            ("int8", "int32", "int64"),
            ("int8", "int64", "int32"),
            ("int16", "int32", "int32"),
        ):
            add(
                op,
                f"{dt} -> {od} ({axis_t} axis)",
                lambda op=op, dt=dt, axis_t=axis_t, od=od: with_consts(
                    op,
                    dt,
                    [2, 5],
                    [([1], axis_t)],
                    [[2]],
                    out_dtype=od,
                    output_type={"int32": 2, "int64": 4}[od],
                ),
            )
    # data movement: the element type only matters
    moves: list[tuple[str, Callable[[str], bytes]]] = [
        (
            "RESHAPE",
            lambda dt: with_consts(
                "RESHAPE", dt, [1, 2, 3, 4], [([1, 24], "int32")], [[1, 24]], new_shape=[1, 24]
            ),
        ),
        (
            "SQUEEZE",
            lambda dt: with_consts("SQUEEZE", dt, [1, 2, 1, 4], [], [[2, 4]], squeeze_dims=[0, 2]),
        ),
        (
            "EXPAND_DIMS",
            lambda dt: with_consts("EXPAND_DIMS", dt, [2, 4], [([1], "int32")], [[2, 1, 4]]),
        ),
        (
            "TRANSPOSE",
            lambda dt: with_consts(
                "TRANSPOSE", dt, [1, 2, 3, 4], [([0, 3, 1, 2], "int32")], [[1, 4, 2, 3]]
            ),
        ),
        (
            "PAD",
            lambda dt: with_consts(
                "PAD",
                dt,
                [1, 2, 3, 4],
                [([[0, 0], [1, 1], [1, 1], [0, 0]], "int32")],
                [[1, 4, 5, 4]],
            ),
        ),
        (
            "PADV2",
            lambda dt: with_consts(
                "PADV2",
                dt,
                [1, 2, 3, 4],
                [([[0, 0], [1, 1], [1, 1], [0, 0]], "int32"), ("v", dt)],
                [[1, 4, 5, 4]],
            ),
        ),
        (
            "MIRROR_PAD",
            lambda dt: with_consts(
                "MIRROR_PAD",
                dt,
                [1, 3, 3, 2],
                [([[0, 0], [1, 1], [1, 1], [0, 0]], "int32")],
                [[1, 5, 5, 2]],
                mode=0,
            ),
        ),
        (
            "SLICE",
            lambda dt: with_consts(
                "SLICE",
                dt,
                [1, 4, 4, 3],
                [([0, 1, 1, 0], "int32"), ([1, 2, 2, 3], "int32")],
                [[1, 2, 2, 3]],
                options_type=None,
            ),
        ),
        (
            "STRIDED_SLICE",
            lambda dt: with_consts(
                "STRIDED_SLICE",
                dt,
                [1, 4, 4, 3],
                [([0, 1, 1, 0], "int32"), ([1, 3, 3, 3], "int32"), ([1, 1, 1, 1], "int32")],
                [[1, 2, 2, 3]],
            ),
        ),
        (
            "REVERSE_V2",
            lambda dt: with_consts(
                "REVERSE_V2", dt, [2, 3, 4], [([1], "int32")], [[2, 3, 4]], options_type=None
            ),
        ),
        (
            "SPACE_TO_DEPTH",
            lambda dt: with_consts(
                "SPACE_TO_DEPTH", dt, [1, 4, 4, 2], [], [[1, 2, 2, 8]], block_size=2
            ),
        ),
        (
            "DEPTH_TO_SPACE",
            lambda dt: with_consts(
                "DEPTH_TO_SPACE", dt, [1, 2, 2, 8], [], [[1, 4, 4, 2]], block_size=2
            ),
        ),
        (
            "BATCH_TO_SPACE_ND",
            lambda dt: with_consts(
                "BATCH_TO_SPACE_ND",
                dt,
                [4, 2, 2, 1],
                [([2, 2], "int32"), ([[0, 0], [0, 0]], "int32")],
                [[1, 4, 4, 1]],
                options_type=None,
            ),
        ),
        (
            "SPACE_TO_BATCH_ND",
            lambda dt: with_consts(
                "SPACE_TO_BATCH_ND",
                dt,
                [1, 4, 4, 1],
                [([2, 2], "int32"), ([[0, 0], [0, 0]], "int32")],
                [[4, 2, 2, 1]],
                options_type=None,
            ),
        ),
        (
            "TILE",
            lambda dt: with_consts(
                "TILE", dt, [2, 3], [([2, 1], "int32")], [[4, 3]], options_type=None
            ),
        ),
        (
            "BROADCAST_TO",
            lambda dt: with_consts(
                "BROADCAST_TO", dt, [1, 3], [([2, 3], "int32")], [[2, 3]], options_type=None
            ),
        ),
        (
            "SPLIT",
            lambda dt: with_consts(
                "SPLIT",
                dt,
                [2, 6],
                [(1, "int32")],
                [[2, 3], [2, 3]],
                consts_first=True,
                num_splits=2,
            ),
        ),
        (
            "SPLIT_V",
            lambda dt: with_consts(
                "SPLIT_V",
                dt,
                [2, 6],
                [([2, 4], "int32"), (1, "int32")],
                [[2, 2], [2, 4]],
                num_splits=2,
            ),
        ),
        ("UNPACK", lambda dt: with_consts("UNPACK", dt, [2, 3], [], [[3], [3]], num=2, axis=0)),
        (
            "GATHER",
            lambda dt: with_consts("GATHER", dt, [4, 3], [([2, 0], "int32")], [[2, 3]], axis=0),
        ),
        (
            "GATHER_ND",
            lambda dt: with_consts(
                "GATHER_ND", dt, [3, 4], [([[2], [0]], "int32")], [[2, 4]], options_type=None
            ),
        ),
        ("CUMSUM", lambda dt: with_consts("CUMSUM", dt, [2, 3], [(1, "int32")], [[2, 3]])),
        (
            "RESIZE_BILINEAR",
            lambda dt: with_consts(
                "RESIZE_BILINEAR", dt, [1, 2, 2, 3], [([4, 4], "int32")], [[1, 4, 4, 3]]
            ),
        ),
        (
            "RESIZE_NEAREST_NEIGHBOR",
            lambda dt: with_consts(
                "RESIZE_NEAREST_NEIGHBOR", dt, [1, 2, 2, 3], [([4, 4], "int32")], [[1, 4, 4, 3]]
            ),
        ),
        ("SHAPE", lambda dt: with_consts("SHAPE", dt, [1, 2, 3], [], [[3]], out_dtype="int32")),
    ]
    for op, make in moves:
        for dt in ints + (
            ("int32",)
            if op in ("RESHAPE", "GATHER", "CUMSUM", "TRANSPOSE", "SLICE", "STRIDED_SLICE")
            else ()
        ):
            label = f"{dt} -> int32" if op == "SHAPE" else dt
            add(op, label, lambda make=make, dt=dt: make(dt))
    for dt in ints + ("int32", "bool"):
        add(
            "CONCATENATION",
            dt,
            lambda dt=dt: _model(
                "CONCATENATION",
                lambda b: (
                    [_t(b, "a", [1, 2, 3], dt), _t(b, "b", [1, 2, 3], dt)],
                    [_t(b, "y", [1, 2, 6], dt)],
                ),
                axis=2,
            ),
        )
        add(
            "PACK",
            dt,
            lambda dt=dt: _model(
                "PACK",
                lambda b: (
                    [_t(b, "a", [2, 3], dt), _t(b, "b", [2, 3], dt)],
                    [_t(b, "y", [2, 2, 3], dt)],
                ),
                values_count=2,
                axis=0,
            ),
        )
    for dt in ints + ("int32",):
        add(
            "SELECT_V2",
            dt,
            lambda dt=dt: _model(
                "SELECT_V2",
                lambda b: (
                    [_t(b, "c", [2, 3], "bool"), _t(b, "a", [2, 3], dt), _t(b, "b", [2, 3], dt)],
                    [_t(b, "y", [2, 3], dt)],
                ),
            ),
        )
        add(
            "FILL",
            dt,
            lambda dt=dt: _model(
                "FILL",
                lambda b: ([_c(b, "dims", [2, 3]), _t(b, "v", [], dt)], [_t(b, "y", [2, 3], dt)]),
            ),
        )
        add(
            "EMBEDDING_LOOKUP",
            f"int32 ids, {dt} values",
            lambda dt=dt: _model(
                "EMBEDDING_LOOKUP",
                lambda b: (
                    [
                        b.tensor("ids", [2], "int32"),
                        _t(b, "v", [4, 3], dt, data=np.ones((4, 3), dt)),
                    ],
                    [_t(b, "y", [2, 3], dt)],
                ),
            ),
        )
        add(
            "DYNAMIC_UPDATE_SLICE",
            dt,
            lambda dt=dt: _model(
                "DYNAMIC_UPDATE_SLICE",
                lambda b: (
                    [_t(b, "x", [4, 4], dt), _t(b, "u", [2, 2], dt), _c(b, "start", [1, 1])],
                    [_t(b, "y", [4, 4], dt)],
                ),
            ),
        )
    add(
        "BROADCAST_ARGS",
        "int32",
        lambda: _model(
            "BROADCAST_ARGS",
            lambda b: (
                [b.tensor("a", [2], "int32"), b.tensor("b", [2], "int32")],
                [b.tensor("y", [2], "int32")],
            ),
        ),
    )
    for src, dst in (
        ("int8", "int32"),
        ("int32", "int8"),
        ("int8", "int16"),
        ("int16", "int8"),
        ("int16", "int32"),
        ("int32", "int16"),
        ("bool", "int32"),
        ("int32", "bool"),
    ):
        add(
            "CAST",
            f"{src} -> {dst}",
            lambda src=src, dst=dst: unary("CAST", src, dst, options_type=None),
        )
    for src, dst in (
        ("float32", "int8"),
        ("float32", "int16"),
        ("int8", "int8"),
        ("int16", "int8"),
        ("int8", "int16"),
        ("int16", "int16"),
        ("int8", "int32"),
        ("int16", "int32"),
    ):
        add(
            "QUANTIZE",
            f"{src} -> {dst}",
            lambda src=src, dst=dst: _model(
                "QUANTIZE",
                lambda b: (
                    [_t(b, "x", [1, 8], src)],
                    [b.tensor("y", [1, 8], dst, scale=0.05, zero_point=0)],
                ),
            ),
        )
    for src in ("int8", "int16"):
        add("DEQUANTIZE", f"{src} -> float32", lambda src=src: unary("DEQUANTIZE", src, "float32"))
    # pooling
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        for dt in ints:
            add(
                op,
                dt,
                lambda op=op, dt=dt: _model(
                    op,
                    lambda b: ([_t(b, "x", [1, 4, 4, 2], dt)], [_t(b, "y", [1, 2, 2, 2], dt)]),
                    padding="VALID",
                    stride_w=2,
                    stride_h=2,
                    filter_width=2,
                    filter_height=2,
                ),
            )
    # ops with weights: int8 and 16x8 (int16 activations, int8 weights, int64 bias)
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"):
        for act in ints:
            label = (
                "int8 (int8 weights, int32 bias)"
                if act == "int8"
                else "int16 (int8 weights, int64 bias)"
            )
            add(op, label, lambda op=op, act=act: weights_op(op, act))
    for dt in ints:
        add(
            "BATCH_MATMUL",
            dt,
            lambda dt=dt: _model(
                "BATCH_MATMUL",
                lambda b: (
                    [_t(b, "a", [1, 2, 3], dt), _t(b, "b", [1, 3, 4], dt)],
                    [_t(b, "y", [1, 2, 4], dt)],
                ),
            ),
        )
    # the fused integer LSTM and SVDF with their variable int16 state: the fuzz seeds' models
    sys.path.insert(0, str(REPO / "tests" / "fuzz"))
    import fuzzlib  # noqa: PLC0415

    seeds = fuzzlib.kernel_seed_models()
    add(
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "int8 (int8 weights, int16 cell state)",
        lambda: seeds["kernel_lstm.tflite"],
    )
    add(
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "int16 (int8 weights, int64 bias, int16 cell state)",
        lambda: seeds["kernel_lstm16.tflite"],
    )
    add("SVDF", "int8 (int16 time weights and state)", lambda: seeds["kernel_svdf.tflite"])
    # resource variables set by a CALL_ONCE init subgraph (two subgraphs): one model for the four
    for op in ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"):
        add(op, "int8 (resource variable)", lambda: seeds["kernel_stream.tflite"])
    # control flow over int8 tensors (three subgraphs each)
    add("IF", "bool condition, int8", lambda: seeds["kernel_if.tflite"])
    add("WHILE", "int8 (bool condition subgraph)", lambda: seeds["kernel_while.tflite"])
    # every other builtin: one generic int8 probe, for the registration verdict only
    covered = {p.op for p in out}
    for name in sorted(BUILTIN_OPS, key=BUILTIN_OPS.get):
        if name in covered or name in ("CUSTOM", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
            continue
        out.append(
            Probe(
                name,
                "int8 (generic probe)",
                _model(
                    name,
                    lambda b: ([_t(b, "x", [1, 4], "int8")], [_t(b, "y", [1, 4], "int8")]),
                    options_type=None,
                ),
                generic=True,
            )
        )
    return out


# ---- TFLM side ------------------------------------------------------------------------------

_CHILD = r"""
import os, sys, tempfile
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
paths = sys.argv[1:]
for i, path in enumerate(paths):
    err = tempfile.TemporaryFile()
    saved = os.dup(2); saved1 = os.dup(1)
    os.dup2(err.fileno(), 2); os.dup2(err.fileno(), 1)
    verdict = "yes"
    try:
        b = open(path, "rb").read()
        it = runtime.Interpreter.from_bytes(b, arena_size=1 << 20)
        n_in = schema.Model.GetRootAs(bytearray(b), 0).Subgraphs(0).InputsLength()
        for k in range(n_in):
            d = it.get_input_details(k)
            it.set_input(np.zeros(d["shape"], dtype=d["dtype"]), k)
        it.invoke()
    except Exception as e:
        verdict = "no"
    sys.stdout.flush(); sys.stderr.flush()
    os.dup2(saved, 2); os.dup2(saved1, 1)
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    if verdict == "no" and "Didn't find op for builtin opcode" in text:
        verdict = "not registered"
    sys.stdout.write(f"RESULT {i} {verdict}\n"); sys.stdout.flush()
"""


def tflm_verdicts(models: list[bytes]) -> list[str]:
    """TFLM's verdict per model; child processes, restarted after a crash."""
    verdicts: list[str | None] = [None] * len(models)
    with tempfile.TemporaryDirectory(prefix="ops_probe_") as tmp:
        paths = []
        for i, m in enumerate(models):
            p = Path(tmp) / f"{i}.tflite"
            p.write_bytes(m)
            paths.append(str(p))
        start = 0
        while start < len(models):
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, *paths[start:]],
                capture_output=True,
                text=True,
                timeout=600,
            )
            done = start
            for line in proc.stdout.splitlines():
                parts = line.split(" ", 2)
                if len(parts) == 3 and parts[0] == "RESULT":
                    verdicts[start + int(parts[1])] = parts[2]
                    done = start + int(parts[1]) + 1
            if done < len(models) and verdicts[done] is None:
                verdicts[done] = opstable.TFLM_CRASH
                done += 1
            start = done
    return [v or opstable.TFLM_CRASH for v in verdicts]


def tinyflash_accepts(model: bytes, kernels: dict[str, int], op: str) -> bool:
    from support.runtime_host import init_status

    return op in kernels and init_status(model) == "TFL_OK"


def find_tests(files: tuple[str, ...] = TEST_FILES) -> dict[str, str]:
    """Op name -> the first test (file::function) in `files` that mentions "OP_NAME",
    preferring hypothesis properties (@given)."""
    found: dict[str, tuple[int, str]] = {}
    names = set(BUILTIN_OPS)
    for fname in files:
        path = REPO / "tests" / fname
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text())
        # module-level lists of names (COMPARISONS = ["EQUAL", ...]) used in parametrize
        lists: dict[str, set[str]] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
                values = {
                    c.value
                    for c in node.value.elts
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        lists[target.id] = values
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            given = any("given" in ast.unparse(d) for d in node.decorator_list)
            consts = {
                c.value
                for c in ast.walk(node)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
            for d in node.decorator_list:
                consts |= {
                    c.value
                    for c in ast.walk(d)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
                for name in (n.id for n in ast.walk(d) if isinstance(n, ast.Name)):
                    consts |= lists.get(name, set())
            for op in consts & names:
                rank = 0 if given else 1
                if op not in found or rank < found[op][0]:
                    found[op] = (rank, f"tests/{fname}::{node.name}")
            lower = node.name.lower()
            for op in names - consts:  # named after the op: test_mean, test_relu_relu6
                if f"_{op.lower()}" in lower and (op not in found or found[op][0] > 2):
                    found[op] = (2, f"tests/{fname}::{node.name}")
    return {op: v[1] for op, v in found.items()}


def conversion_test(op: str, types: str) -> str:
    """The test named after a row that converts types ("int8 -> int16": a test_<op>_int8_to_int16
    in a kernel test file), or ""."""
    parts = types.split(" -> ")
    if len(parts) != 2:
        return ""
    name = f"test_{op.lower()}_{parts[0]}_to_{parts[1]}"
    for fname in TEST_FILES_INT16 + TEST_FILES_INT32 + TEST_FILES:
        path = REPO / "tests" / fname
        if path.is_file() and f"def {name}(" in path.read_text():
            return f"tests/{fname}::{name}"
    return ""


def build_rows(tflm: list[str] | None = None) -> tuple[dict, list[opstable.OpRow]]:
    ps = probes()
    verdicts = tflm if tflm is not None else tflm_verdicts([p.model for p in ps])
    kernels = opstable.runtime_kernels()
    tests = find_tests()
    tests16 = find_tests(TEST_FILES_INT16)
    tests32 = find_tests(TEST_FILES_INT32)
    rows = []
    for p, v in zip(ps, verdicts):
        if p.generic and v == opstable.TFLM_NO:
            v = opstable.TFLM_UNPROBED
        ours = not p.generic and tinyflash_accepts(p.model, kernels, p.op)
        rows.append(
            opstable.OpRow(
                op=p.op,
                code=BUILTIN_OPS[p.op],
                types=p.types,
                tflm=v,
                tinyflash=ours,
                test=(
                    conversion_test(p.op, p.types)
                    or (
                        (p.types in ("int32", "bool") or p.types.endswith("-> int32"))
                        and tests32.get(p.op)
                    )
                    or (p.types.startswith("int16") and tests16.get(p.op))
                    or tests.get(p.op, "")
                    if ours
                    else ""
                ),
            )
        )
    rows.sort(key=lambda r: (r.op, r.code))
    meta = {"tflite_micro": metadata.version("tflite-micro")}
    return meta, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when ops_table.json or docs/ops.md is not current",
    )
    parser.add_argument(
        "--reuse-tflm",
        action="store_true",
        help="take the TFLM verdicts from the committed table (no TFLM probing)",
    )
    args = parser.parse_args()
    tflm = None
    if args.reuse_tflm:
        _, old = opstable.load_table()
        by_key = {(r.op, r.types): r.tflm for r in old}
        tflm = [by_key.get((p.op, p.types), opstable.TFLM_UNPROBED) for p in probes()]
    meta, rows = build_rows(tflm)
    text = opstable.render_markdown(rows, meta)
    if args.check:
        _, old = opstable.load_table()
        ok = old == rows and DOC.read_text() == text
        print("up to date" if ok else "out of date: run scripts/ops_table.py")
        return 0 if ok else 1
    opstable.save_table(rows, meta)
    DOC.write_text(text)
    s = opstable.summary(rows)
    print(f"{len(rows)} rows; TFLM runs {s['tflm_yes']}, tinyflash {s['both_yes']} of them")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

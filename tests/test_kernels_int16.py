"""Differential tests of the 16x8 kernels' int16 paths (issue 14): int16 activations, compared
exactly with tflite-micro's Python runtime (its reference kernels), as test_kernels_arith.py does
for int8. Each case is a single-op model written with support/tflbuilder.py and run through the
C runtime on the host under ASan+UBSan (support/runtime_host.py). Hypothesis draws shapes,
scales, activations and options plus an integer `seed` for the input data; every input set
holds the int16 extremes (-32768, 32767, 0) besides random values.

int16 activations are symmetric (zero point 0: TFLite's quantization spec, what the 16x8
converter writes); TFLM requires it for MUL, LOGISTIC, TANH, RELU, CONCATENATION, and tinyflash
refuses a non-zero int16 zero point in every 16x8 kernel that computes or fills values (the pure
copies STRIDED_SLICE, TRANSPOSE, RESHAPE, SQUEEZE, EXPAND_DIMS move any int16 bytes unchanged).
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import fuzzlib
from support.compare import assert_batch_same_as_tflm
from support.kernel_models import binary_model, concatenation_model, slice_plan, unary_model
from support.runtime_host import RunnerError, init_status, run_model_batch
from support.strategies import (
    activations,
    broadcast_shapes,
    kernel_settings,
    seeds,
    shapes,
)
from support.tflbuilder import ModelBuilder

COMMON = kernel_settings(20)

# int16 activation scales: range / 32768 for ranges of about 2^-1 .. 2^9, log-uniform, plus
# dyadic ones (k/64 * 2^e) where exact ties reach every rounding step.
scales16 = st.one_of(
    st.floats(min_value=-16.0, max_value=-6.0).map(lambda e: float(np.float32(2.0**e))),
    st.tuples(st.integers(1, 64), st.integers(-16, -8)).map(lambda ke: ke[0] / 64 * 2.0 ** ke[1]),
)


def int16_batch(
    shapes: Sequence[Sequence[int]], seed: int, sets: int = 3
) -> list[list[np.ndarray]]:
    """`sets` input sets of random int16 arrays (uniform over the whole range, or small values
    near zero), one per shape; the first elements of each array are -32768, 32767, 0, -1, 1."""
    rng = np.random.default_rng(seed)
    batch = []
    for k in range(sets):
        arrays = []
        for s in shapes:
            bound = 32767 if k % 2 == 0 else int(rng.integers(1, 2048))
            a = rng.integers(-bound - 1, bound, size=tuple(s), endpoint=True, dtype=np.int16)
            flat = a.reshape(-1)
            edges = np.array([-32768, 32767, 0, -1, 1], dtype=np.int16)[: flat.size]
            flat[: edges.size] = edges
            arrays.append(a)
        batch.append(arrays)
    return batch


def assert_int16_same_as_tflm(
    model: bytes, shapes: Sequence[Sequence[int]], seed: int, what: str, sets: int = 3
) -> None:
    assert_batch_same_as_tflm(model, int16_batch(shapes, seed, sets), f"{what} seed={seed}")


def _unary_model(
    op: str, shape: list[int], in_scale: float, out_scale: float, **options: Any
) -> bytes:
    return unary_model(op, shape, (in_scale, 0), (out_scale, 0), "int16", **options)


def _binary_model(
    op: str,
    s1: list[int],
    s2: list[int],
    out: list[int],
    scales: tuple[float, float, float],
    const2: np.ndarray | None = None,
    zero_points: tuple[int, int, int] = (0, 0, 0),
    **options: Any,
) -> bytes:
    q1, q2, qo = zip(scales, zero_points)
    return binary_model(op, s1, s2, out, q1, q2, qo, const2, "int16", **options)


# ---- binary elementwise ops ----------------------------------------------------------------


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@COMMON
@given(
    sh=broadcast_shapes(max_rank=6),
    scales=st.tuples(scales16, scales16, scales16),
    act=activations,
    const=st.booleans(),
    seed=seeds,
)
def test_add_sub_mul_int16(
    op: str,
    sh: tuple[list[int], list[int], list[int]],
    scales: tuple[float, float, float],
    act: str,
    const: bool,
    seed: int,
) -> None:
    (sh1, sh2, out), (s1, s2, so) = sh, scales
    if op == "MUL" and s1 * s2 / so >= 1.0:
        # TFLM's int16 MUL would overflow int32 with a left shift: outputs scales are at least
        # s1 * s2 (the product of two full-range int16 values needs 2^30)
        so = float(np.float32(s1 * s2 * 2.0 ** (1 + seed % 8)))
    const2 = None
    if const:
        const2 = int16_batch([sh2], seed ^ 0x5A5A, sets=1)[0][0]
    model = _binary_model(op, sh1, sh2, out, (s1, s2, so), const2, fused_activation_function=act)
    what = f"{op} int16 {sh1} {sh2} -> {out} scales={(s1, s2, so)} act={act} const={const}"
    assert_int16_same_as_tflm(model, [sh1] if const else [sh1, sh2], seed, what)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_binary_int16_dense_grid(op: str) -> None:
    """A 256 x 256 grid of int16 pairs spread over the whole range (every high byte, random low
    bytes) through ADD, SUB and MUL with unequal scales."""
    rng = np.random.default_rng(16)
    hi = np.arange(-128, 128, dtype=np.int32) * 256
    a = (np.repeat(hi, 256) + rng.integers(0, 256, 65536)).astype(np.int16).reshape(1, 256, 256)
    b = (np.tile(hi, 256) + rng.integers(0, 256, 65536)).astype(np.int16).reshape(1, 256, 256)
    scales = (3.0517578125e-05 * 1.37, 3.0517578125e-05 * 0.61, 3.0517578125e-05 * 2.3)
    if op == "MUL":
        scales = (1.1e-3, 7.3e-4, 2.9e-2)
    model = _binary_model(op, [1, 256, 256], [1, 256, 256], [1, 256, 256], scales)
    assert_batch_same_as_tflm(model, [[a, b]], f"{op} int16 grid")


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_binary_int16_refuses_zero_points(op: str) -> None:
    """int16 activations are symmetric: a non-zero zero point is refused at init."""
    s = 2.0**-10
    model = _binary_model(op, [1, 4], [1, 4], [1, 4], (s, s, s), zero_points=(0, 3, 0))
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


def test_mul_int16_refuses_a_left_shift() -> None:
    """scale1 * scale2 / output scale >= 1 would shift 2^30 left out of int32 (TFLM
    overflows there): refused at init."""
    model = _binary_model("MUL", [1, 4], [1, 4], [1, 4], (0.5, 0.5, 0.125))
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


# ---- unary ops -----------------------------------------------------------------------------

# LOGISTIC / TANH input scales: the power-of-two ones TFLM takes as Q3.12 (2^-12; TANH 2^-11),
# one within its 1e-3 tolerance on log2, other powers of two and general scales.
lut_scales = st.one_of(
    st.sampled_from([2.0**-12, 2.0**-11, 2.0**-12 * 1.0004, 2.0**-11 * 0.9996, 2.0**-10, 2.0**-15]),
    scales16,
)


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@COMMON
@given(shape=shapes(max_elems=700), si=lut_scales, seed=seeds)
def test_logistic_tanh_int16(op: str, shape: list[int], si: float, seed: int) -> None:
    model = _unary_model(op, shape, si, 2.0**-15)
    assert_int16_same_as_tflm(model, [shape], seed, f"{op} int16 {shape} si={si}")


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("si", [2.0**-12, 2.0**-11, 3.0517578125e-05 * 5.3, 2.0**-9 * 1.7])
def test_logistic_tanh_int16_every_value(op: str, si: float) -> None:
    """All 65,536 int16 inputs, for the power-of-two and the general input rescaling."""
    x = np.arange(-32768, 32768, dtype=np.int16).reshape(1, 65536)
    model = _unary_model(op, [1, 65536], si, 2.0**-15)
    assert_batch_same_as_tflm(model, [[x]], f"{op} int16 every value si={si}")


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_logistic_tanh_int16_refuse_other_output_scales(op: str) -> None:
    """The int16 output is Q0.15 (scale 2^-15), as TFLM requires."""
    assert init_status(_unary_model(op, [1, 8], 2.0**-12, 2.0**-14)) == "TFL_ERR_BAD_QUANTIZATION"


@pytest.mark.parametrize("op", ["RELU", "RELU6", "LEAKY_RELU"])
@COMMON
@given(
    shape=shapes(max_elems=700),
    si=scales16,
    so=scales16,
    same=st.booleans(),
    alpha=st.one_of(
        st.floats(0.0, 1.0), st.floats(-2.0, 3.0), st.integers(-40, 40).map(lambda k: k / 16)
    ).map(lambda a: float(np.float32(a))),
    seed=seeds,
)
def test_relu_family_int16(
    op: str, shape: list[int], si: float, so: float, same: bool, alpha: float, seed: int
) -> None:
    out_scale = si if same else so
    options = {"alpha": alpha} if op == "LEAKY_RELU" else {}
    model = _unary_model(op, shape, si, out_scale, **options)
    what = f"{op} int16 {shape} si={si} so={out_scale} {options}"
    assert_int16_same_as_tflm(model, [shape], seed, what)


@pytest.mark.parametrize("op", ["RELU", "RELU6", "LEAKY_RELU"])
def test_relu_family_int16_every_value(op: str) -> None:
    """All 65,536 int16 inputs with unequal input and output scales (RELU6: 6 inside the int16
    range, 2^-12, and saturated, 2^-14)."""
    x = np.arange(-32768, 32768, dtype=np.int16).reshape(1, 65536)
    options = {"alpha": 0.3} if op == "LEAKY_RELU" else {}
    for si, so in ((2.0**-12, 3.0517578125e-05 * 7.7), (2.0**-14, 2.0**-13 * 1.3)):
        model = _unary_model(op, [1, 65536], si, so, **options)
        assert_batch_same_as_tflm(model, [[x]], f"{op} int16 every value si={si} so={so}")


# ---- data movement -------------------------------------------------------------------------


@COMMON
@given(
    base=shapes(max_rank=6, max_dim=4, max_elems=500),
    n=st.integers(1, 4),
    data=st.data(),
    scale=scales16,
    seed=seeds,
)
def test_concatenation_int16(
    base: list[int], n: int, data: st.DataObject, scale: float, seed: int
) -> None:
    op = "CONCATENATION"
    model, in_shapes = concatenation_model(base, n, data, "int16", scale, 0)
    assert_int16_same_as_tflm(model, in_shapes, seed, f"{op} int16 {in_shapes}")


@COMMON
@given(
    shape=shapes(max_rank=5, max_dim=4, max_elems=700),
    data=st.data(),
    si=scales16,
    v2=st.booleans(),
    seed=seeds,
)
def test_pad_padv2_int16(
    shape: list[int], data: st.DataObject, si: float, v2: bool, seed: int
) -> None:
    pads = [
        [data.draw(st.integers(0, 3), label=f"before{i}"), data.draw(st.integers(0, 3))]
        for i in range(len(shape))
    ]
    out_shape = [d + p[0] + p[1] for d, p in zip(shape, pads)]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=si, zero_point=0)
    p = b.tensor("paddings", [len(shape), 2], "int32", data=np.array(pads, np.int32))
    y = b.tensor("y", out_shape, "int16", scale=si, zero_point=0)
    if v2:
        value = data.draw(st.integers(-32768, 32767), label="value")
        c = b.tensor("c", [], "int16", data=np.array(value, np.int16), scale=si, zero_point=0)
        b.op("PADV2", [x, p, c], [y])
    else:
        b.op("PAD", [x, p], [y])
    model = b.build([x], [y])
    what = f"{'PADV2' if v2 else 'PAD'} int16 shape={shape} pads={pads}"
    assert_int16_same_as_tflm(model, [shape], seed, what)


@COMMON
@given(shape=shapes(max_rank=4, max_dim=6, max_elems=700), data=st.data(), seed=seeds)
def test_strided_slice_int16(shape: list[int], data: st.DataObject, seed: int) -> None:
    rank = len(shape)
    mask = st.integers(0, (1 << rank) - 1)
    begin_mask, end_mask = data.draw(mask, label="begin_mask"), data.draw(mask, label="end_mask")
    begin, end, strides = [], [], []
    for a, size in enumerate(shape):
        s0 = data.draw(st.sampled_from([-2, -1, 1, 1, 2, 3]), label=f"stride{a}")
        b0 = data.draw(st.integers(0, size - 1), label=f"begin{a}")
        e0 = data.draw(st.integers(b0 + 1, size), label=f"end{a}")
        if s0 < 0:
            b0, e0 = e0 - 1, b0 - 1 if b0 > 0 else -size - 1
        begin.append(b0)
        end.append(e0)
        strides.append(s0)
    out_shape, consistent = slice_plan(shape, begin, end, strides, begin_mask, end_mask, 0)
    if not consistent or math.prod(out_shape) == 0:
        return
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=2.0**-10, zero_point=0)
    tb = b.tensor("begin", [rank], "int32", data=np.array(begin, np.int32))
    te = b.tensor("end", [rank], "int32", data=np.array(end, np.int32))
    ts = b.tensor("strides", [rank], "int32", data=np.array(strides, np.int32))
    y = b.tensor("y", out_shape, "int16", scale=2.0**-10, zero_point=0)
    b.op("STRIDED_SLICE", [x, tb, te, ts], [y], begin_mask=begin_mask, end_mask=end_mask)
    model = b.build([x], [y])
    what = f"STRIDED_SLICE int16 {shape} {begin} {end} {strides} ({begin_mask},{end_mask})"
    assert_int16_same_as_tflm(model, [shape], seed, what)


@COMMON
@given(shape=shapes(max_rank=5, max_dim=4, max_elems=800), data=st.data(), seed=seeds)
def test_transpose_int16(shape: list[int], data: st.DataObject, seed: int) -> None:
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=2.0**-11, zero_point=0)
    p = b.tensor("perm", [len(shape)], "int32", data=np.array(perm, np.int32))
    y = b.tensor("y", [shape[i] for i in perm], "int16", scale=2.0**-11, zero_point=0)
    b.op("TRANSPOSE", [x, p], [y])
    model = b.build([x], [y])
    assert_int16_same_as_tflm(model, [shape], seed, f"TRANSPOSE int16 {shape} perm={perm}")


@COMMON
@given(dims=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=seeds)
def test_reshape_squeeze_expand_dims_int16(dims: list[int], seed: int) -> None:
    n = math.prod(dims)
    squeezed_in = [1, *dims, 1]
    cases: list[tuple[str, list[int], list[int], dict[str, Any], list[int] | None]] = [
        ("RESHAPE", dims, [n], {"new_shape": [n]}, [n]),
        (
            "SQUEEZE",
            squeezed_in,
            [d for d in squeezed_in if d != 1] or [1],
            {"squeeze_dims": [i for i, d in enumerate(squeezed_in) if d == 1]},
            None,
        ),
        ("EXPAND_DIMS", dims, [*dims, 1], {}, [len(dims)]),
    ]
    for op, in_shape, out_shape, options, extra in cases:
        if op == "SQUEEZE" and out_shape == [1]:
            continue  # every dim squeezed: a scalar, not [1]
        b = ModelBuilder()
        x = b.tensor("x", in_shape, "int16", scale=2.0**-9, zero_point=0)
        inputs = [x]
        if extra is not None:
            inputs.append(b.tensor("arg", None, "int32", data=np.array(extra)))
        y = b.tensor("y", out_shape, "int16", scale=2.0**-9, zero_point=0)
        b.op(op, inputs, [y], **options)
        model = b.build([x], [y])
        assert_int16_same_as_tflm(model, [in_shape], seed, f"{op} int16 {in_shape}->{out_shape}")


@pytest.mark.parametrize("op", ["CONCATENATION", "PAD"])
def test_data_ops_int16_refuse_zero_points(op: str) -> None:
    """A non-zero int16 zero point is refused where the kernel relies on it (TFLM requires 0
    for CONCATENATION and pads int16 with 0)."""
    b = ModelBuilder()
    x = b.tensor("x", [2, 3], "int16", scale=2.0**-10, zero_point=5)
    if op == "PAD":
        p = b.tensor("paddings", [2, 2], "int32", data=np.array([[1, 0], [0, 1]], np.int32))
        y = b.tensor("y", [3, 4], "int16", scale=2.0**-10, zero_point=5)
        b.op("PAD", [x, p], [y])
    else:
        y = b.tensor("y", [2, 3], "int16", scale=2.0**-10, zero_point=5)
        b.op("CONCATENATION", [x], [y], axis=0)
    assert init_status(b.build([x], [y])) == "TFL_ERR_BAD_QUANTIZATION"


@pytest.mark.parametrize("seed_model", ["kernel_int16_elementwise", "kernel_int16_data"])
def test_int16_fuzz_seeds_match_tflm(seed_model: str) -> None:
    """The 16x8 fuzz seeds (tests/fuzz/fuzzlib.py): chains of the int16 kernels, planned as one
    model, equal TFLM."""
    model = fuzzlib.kernel_seed_models()[f"{seed_model}.tflite"]
    shapes = [[1, 4, 4, 3], [1, 1, 1, 3]] if "elementwise" in seed_model else [[1, 4, 4, 3]]
    assert_int16_same_as_tflm(model, shapes, 16, seed_model, sets=4)


CONVERT_16X8 = """
import sys
import numpy as np
import tensorflow as tf

@tf.function(input_signature=[tf.TensorSpec([1, 4, 4, 3], tf.float32)] * 2)
def f(x, y):
    a = x + y
    m = a * y
    s = m - x
    r = tf.nn.relu(tf.tanh(a) - tf.sigmoid(s))
    r6 = tf.nn.relu6(m * 3.0)
    c = tf.concat([r, r6, tf.nn.leaky_relu(s, alpha=0.2)], axis=3)
    p = tf.pad(c, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.reshape(tf.transpose(p[:, 1:5, 0:6:2, :], [0, 2, 1, 3]), [1, -1])

rng = np.random.default_rng(0)

def data():
    for _ in range(50):
        yield [rng.normal(size=(1, 4, 4, 3)).astype(np.float32) for _ in range(2)]

conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = data
conv.target_spec.supported_ops = [
    tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
]
conv.inference_input_type = tf.int16
conv.inference_output_type = tf.int16
open(sys.argv[1], "wb").write(conv.convert())
"""


@pytest.mark.slow
def test_converted_16x8_model_matches_tflm(tmp_path: Path) -> None:
    """A model the 16x8 converter writes (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS
    _INT8, int16 I/O) from the elementwise and data-movement ops: every op has int16 tensors,
    and the runtime equals TFLM. (The converter runs in a child process: it can crash.)"""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    path = tmp_path / "model_16x8.tflite"
    proc = subprocess.run(
        [sys.executable, "-c", CONVERT_16X8, str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = path.read_bytes()
    m = schema.Model.GetRootAs(bytearray(model), 0)
    sg = m.Subgraphs(0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = set()
    for o in range(sg.OperatorsLength()):
        op = sg.Operators(o)
        code = m.OperatorCodes(op.OpcodeIndex())
        ops.add(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
        assert sg.Tensors(op.Outputs(0)).Type() == 7  # int16
    mine = {"ADD", "MUL", "SUB", "LOGISTIC", "TANH", "LEAKY_RELU", "CONCATENATION", "PAD"}
    assert mine | {"STRIDED_SLICE", "TRANSPOSE", "RESHAPE"} <= ops, ops
    assert_int16_same_as_tflm(model, [[1, 4, 4, 3], [1, 4, 4, 3]], 5, "converted 16x8", sets=6)


def _split_pack_model(
    op: str, shape: list[int], axis: int, n: int
) -> tuple[bytes, list[list[int]]]:
    """SPLIT / SPLIT_V (input dim `axis` cut into n parts of shape[axis]), PACK (n inputs of
    `shape` stacked at `axis`) or UNPACK (`shape` unstacked at `axis`), all int16."""
    b = ModelBuilder()
    q = {"scale": 2.0**-10, "zero_point": 0}
    if op == "PACK":
        ins = [b.tensor(f"x{i}", shape, "int16", **q) for i in range(n)]
        stacked = shape[:axis] + [n] + shape[axis:]
        outs = [b.tensor("y", stacked, "int16", **q)]
        b.op(op, ins, outs, values_count=n, axis=axis)
        return b.build(ins, outs), [shape] * n
    if op == "UNPACK":
        x = b.tensor("x", shape, "int16", **q)
        part = shape[:axis] + shape[axis + 1 :]
        outs = [b.tensor(f"y{i}", part, "int16", **q) for i in range(shape[axis])]
        b.op(op, [x], outs, num=shape[axis], axis=axis)
        return b.build([x], outs), [shape]
    whole = shape[:axis] + [shape[axis] * n] + shape[axis + 1 :]
    x = b.tensor("x", whole, "int16", **q)
    a = b.tensor("axis", [], "int32", data=np.array(axis))
    outs = [b.tensor(f"y{i}", shape, "int16", **q) for i in range(n)]
    if op == "SPLIT":
        b.op(op, [a, x], outs, num_splits=n)
    else:
        sizes = b.tensor("sizes", [n], "int32", data=np.array([shape[axis]] * n))
        b.op(op, [x, sizes, a], outs, num_splits=n)
    return b.build([x], outs), [whole]


@pytest.mark.parametrize("op", ["SPLIT", "SPLIT_V", "PACK", "UNPACK"])
@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=4),
    pick=st.tuples(st.integers(0, 3), st.integers(1, 3)),
    seed=seeds,
)
def test_split_pack_unpack_int16(
    op: str, shape: list[int], pick: tuple[int, int], seed: int
) -> None:
    axis = pick[0] % (len(shape) + (op == "PACK"))
    model, in_shapes = _split_pack_model(op, shape, axis, pick[1])
    assert_int16_same_as_tflm(model, in_shapes, seed, f"{op} int16 {shape} axis={axis} n={pick[1]}")


@pytest.mark.parametrize("op", ["SLICE", "REVERSE_V2", "BROADCAST_TO"])
@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=4), picks=st.lists(st.integers(0, 3), min_size=8), seed=seeds
)
def test_slice_reverse_broadcast_to_int16(
    op: str, shape: list[int], picks: list[int], seed: int
) -> None:
    """SLICE of a box (begin and size from `picks`), REVERSE_V2 of one axis, BROADCAST_TO of a
    shape whose size-1 dims (chosen by `picks`) repeat, all int16."""
    rank = len(shape)
    b = ModelBuilder()
    q = {"scale": 2.0**-12, "zero_point": 0}
    in_shape = list(shape)
    if op == "SLICE":
        begin = [p % d for p, d in zip(picks, shape)]
        size = [1 + p % (d - s) for p, d, s in zip(picks[rank:], shape, begin)]
        args = [np.array(begin, np.int32), np.array(size, np.int32)]
        out_shape = size
    elif op == "REVERSE_V2":
        args, out_shape = [np.array([picks[0] % rank], np.int32)], shape
    else:
        in_shape = [1 if p % 2 else d for p, d in zip(picks, shape)]
        args, out_shape = [np.array(shape, np.int32)], shape
    x = b.tensor("x", in_shape, "int16", **q)
    consts = [b.tensor(f"c{i}", None, "int32", data=a) for i, a in enumerate(args)]
    y = b.tensor("y", out_shape, "int16", **q)
    b.op(op, [x, *consts], [y], **({} if op == "SLICE" else {"options_type": None}))
    model = b.build([x], [y])
    assert_int16_same_as_tflm(model, [in_shape], seed, f"{op} int16 {in_shape} {args}")


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@COMMON
@given(sh=broadcast_shapes(max_rank=6), s=scales16, seed=seeds)
def test_maximum_minimum_int16(
    op: str, sh: tuple[list[int], list[int], list[int]], s: float, seed: int
) -> None:
    """The stored int16 values compared (one scale for the three tensors, as the converter
    writes), inputs broadcast."""
    s1, s2, out = sh
    model = _binary_model(op, s1, s2, out, (s, s, s))
    assert_int16_same_as_tflm(model, [s1, s2], seed, f"{op} int16 {s1} {s2} -> {out}")


@COMMON
@given(
    shape=shapes(min_rank=4, max_rank=4, max_dim=4, max_elems=120),
    size=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    corners=st.sampled_from([(False, False), (True, False), (False, True)]),
    seed=seeds,
)
def test_resize_nearest_neighbor_int16(
    shape: list[int], size: tuple[int, int], corners: tuple[bool, bool], seed: int
) -> None:
    b = ModelBuilder()
    q = {"scale": 2.0**-11, "zero_point": 0}
    x = b.tensor("x", shape, "int16", **q)
    sz = b.tensor("size", [2], "int32", data=np.array(size, np.int32))
    out = [shape[0], size[0], size[1], shape[3]]
    y = b.tensor("y", out, "int16", **q)
    b.op(
        "RESIZE_NEAREST_NEIGHBOR",
        [x, sz],
        [y],
        align_corners=corners[0],
        half_pixel_centers=corners[1],
    )
    what = f"RESIZE_NEAREST_NEIGHBOR int16 {shape} -> {out} corners={corners}"
    assert_int16_same_as_tflm(b.build([x], [y]), [shape], seed, what)


@COMMON
@given(sh=broadcast_shapes(max_rank=5), cond_first=st.booleans(), seed=seeds, cseed=seeds)
def test_select_v2_int16(
    sh: tuple[list[int], list[int], list[int]], cond_first: bool, seed: int, cseed: int
) -> None:
    """A bool condition of one input's shape picks int16 values of the two (broadcast)."""
    s1, s2, out = sh
    cond_shape = s1 if cond_first else s2
    cond = np.random.default_rng(cseed).integers(0, 2, size=tuple(cond_shape)).astype(np.bool_)
    b = ModelBuilder()
    q = {"scale": 2.0**-9, "zero_point": 0}
    c = b.tensor("c", cond_shape, "bool", data=cond)
    x1 = b.tensor("x1", s1, "int16", **q)
    x2 = b.tensor("x2", s2, "int16", **q)
    y = b.tensor("y", out, "int16", **q)
    b.op("SELECT_V2", [c, x1, x2], [y])
    what = f"SELECT_V2 int16 cond={cond_shape} {s1} {s2} -> {out}"
    assert_int16_same_as_tflm(b.build([x1, x2], [y]), [s1, s2], seed, what)


def test_int16_select_fuzz_seed_matches_tflm() -> None:
    """The fuzz seed kernel_int16_select (tests/fuzz/fuzzlib.py): MAXIMUM, MINIMUM, SELECT_V2 and
    RESIZE_NEAREST_NEIGHBOR on int16 in one planned model."""
    model = fuzzlib.kernel_seed_models()["kernel_int16_select.tflite"]
    assert_int16_same_as_tflm(model, [[1, 4, 4, 3], [1, 1, 1, 3]], 16, "int16_select", sets=4)


@pytest.mark.parametrize("op", ["ABS", "RSQRT"])
@COMMON
@given(shape=shapes(max_elems=700), si=scales16, so=scales16, same=st.booleans(), seed=seeds)
def test_abs_rsqrt_int16(op: str, shape: list[int], si: float, so: float, same: bool, seed: int):
    """ABS (equal scales: no multiply) and RSQRT on int16; RSQRT's inputs are >= 0 (below, TFLM's
    eval fails: an error here too)."""
    model = _unary_model(op, shape, si, si if same else so)
    batch = int16_batch([shape], seed)
    if op == "RSQRT":
        batch = [
            [np.abs(a.astype(np.int32)).clip(0, 32767).astype(np.int16) for a in s] for s in batch
        ]
    what = f"{op} int16 {shape} si={si} so={so} same={same} seed={seed}"
    assert_batch_same_as_tflm(model, batch, what)


def test_rsqrt_int16_of_a_negative_value_is_an_error() -> None:
    model = _unary_model("RSQRT", [3], 2.0**-8, 2.0**-10)
    with pytest.raises(RunnerError) as err:
        run_model_batch(model, [[np.array([4, -1, 9], np.int16)]])
    assert err.value.status == "TFL_ERR_BAD_ARGUMENT"


def test_int16_math_fuzz_seed_matches_tflm() -> None:
    """The fuzz seed kernel_int16_math: SQUARED_DIFFERENCE, ABS, RSQRT on int16, planned as one
    model."""
    model = fuzzlib.kernel_seed_models()["kernel_int16_math.tflite"]
    assert_int16_same_as_tflm(model, [[1, 4, 4, 3], [1, 1, 1, 3]], 16, "int16_math", sets=4)


@COMMON
@given(sh=broadcast_shapes(max_rank=5), scales=st.tuples(scales16, scales16, scales16), seed=seeds)
def test_squared_difference_int16(
    sh: tuple[list[int], list[int], list[int]], scales: tuple[float, float, float], seed: int
) -> None:
    s1, s2, out = sh
    model = _binary_model("SQUARED_DIFFERENCE", s1, s2, out, scales, options_type=None)
    what = f"SQUARED_DIFFERENCE int16 {s1} {s2} -> {out} scales={scales}"
    assert_int16_same_as_tflm(model, [s1, s2], seed, what)


def _softmax_int8_to_int16(
    shape: list[int], si: float, zp: int, beta: float, qo=(1 / 65536, -32768)
):
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=si, zero_point=zp)
    y = b.tensor("y", shape, "int16", scale=qo[0], zero_point=qo[1])
    b.op("SOFTMAX", [x], [y], beta=beta)
    return b.build([x], [y])


@COMMON
@given(
    shape=shapes(max_rank=3, max_dim=40, max_elems=600),
    si=st.floats(min_value=-9.0, max_value=2.0).map(lambda e: float(np.float32(2.0**e))),
    zp=st.integers(-128, 127),
    beta=st.sampled_from([1.0, 0.5, 2.0]),
    seed=seeds,
)
def test_softmax_int8_to_int16(shape: list[int], si: float, zp: int, beta: float, seed: int):
    """int8 logits, int16 probabilities (scale 1/65536, zero point -32768, as TFLM requires)."""
    rng = np.random.default_rng(seed)
    batch = [
        [rng.integers(-128, 127, size=tuple(shape), endpoint=True, dtype=np.int8)] for _ in range(3)
    ]
    what = f"SOFTMAX int8->int16 {shape} si={si} zp={zp} beta={beta} seed={seed}"
    assert_batch_same_as_tflm(_softmax_int8_to_int16(shape, si, zp, beta), batch, what)


def test_softmax_int16_output_refuses_other_quantization() -> None:
    for qo in ((1 / 65536, 0), (1 / 32768, -32768)):
        model = _softmax_int8_to_int16([1, 8], 0.1, 0, 1.0, qo)
        assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION", qo


@COMMON
@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    mkn=st.tuples(st.integers(1, 6), st.integers(1, 24), st.integers(1, 6)),
    adj=st.tuples(st.booleans(), st.booleans()),
    const=st.booleans(),
    scales=st.tuples(scales16, scales16, st.floats(min_value=-4.0, max_value=12.0)),
    seed=seeds,
)
def test_batch_matmul_int16(
    batch: list[int],
    mkn: tuple[int, int, int],
    adj: tuple[bool, bool],
    const: bool,
    scales: tuple[float, float, float],
    seed: int,
) -> None:
    """int16 x int16 (attention-style; the rhs a constant or an activation), int64 sums."""
    (m, k, n), (adj_x, adj_y), (sl, sr, e) = mkn, adj, scales
    so = float(np.float32(sl * sr * 2.0**e))  # the output scale: the products' times 2^e
    lhs_shape = batch + ([k, m] if adj_x else [m, k])
    rhs_shape = batch + ([n, k] if adj_y else [k, n])
    b = ModelBuilder()
    x = b.tensor("lhs", lhs_shape, "int16", scale=sl, zero_point=0)
    rhs_data = int16_batch([rhs_shape], seed ^ 0x33, sets=1)[0][0] if const else None
    w = b.tensor("rhs", rhs_shape, "int16", scale=sr, zero_point=0, data=rhs_data)
    y = b.tensor("y", batch + [m, n], "int16", scale=so, zero_point=0)
    b.op("BATCH_MATMUL", [x, w], [y], adj_x=adj_x, adj_y=adj_y)
    model = b.build([x] if const else [x, w], [y])
    shapes_in = [lhs_shape] if const else [lhs_shape, rhs_shape]
    what = f"BATCH_MATMUL int16 {lhs_shape} x {rhs_shape} adj={adj} e={e}"
    assert_int16_same_as_tflm(model, shapes_in, seed, what)

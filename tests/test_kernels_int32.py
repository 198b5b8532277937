"""Differential tests of the kernels' int32 (and bool) forms that TFLM runs besides int8: ADD,
SUB, MUL on int32 values (shape arithmetic in models with a dynamic batch), and the copies
CONCATENATION, PACK, SLICE, STRIDED_SLICE of int32 tensors (CONCATENATION of bool too).
Each case is a single-op model written with support/tflbuilder.py, run through the C runtime on
the host under ASan+UBSan (support/runtime_host.py) and compared exactly with tflite-micro's
Python runtime. Hypothesis draws shapes, activations and options plus an integer `seed` for the
input data; every input set holds the int32 extremes besides random values, so the wrapping
of TFLM's int32 arithmetic is compared too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import fuzzlib
from support.compare import assert_batch_same_as_tflm
from support.kernel_models import slice_plan
from support.runtime_host import init_status
from support.strategies import activations, broadcast_shapes, kernel_settings, seeds, shapes
from support.tflbuilder import ModelBuilder
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model

COMMON = kernel_settings(20)
EDGES32 = (-(2**31), 2**31 - 1, 0, -1, 1, 6, 7)


def int32_batch(
    shapes: Sequence[Sequence[int]], seed: int, sets: int = 3, dtype: str = "int32"
) -> list[list[np.ndarray]]:
    """`sets` input sets of random int32 arrays (the whole range, or small values as shape
    vectors hold), one per shape, the first elements of each array the int32 edges; bool
    arrays for dtype "bool"."""
    rng = np.random.default_rng(seed)
    batch = []
    for k in range(sets):
        arrays = []
        for s in shapes:
            if dtype == "bool":
                arrays.append(rng.integers(0, 2, size=tuple(s)).astype(np.bool_))
                continue
            bound = 2**31 - 1 if k % 2 == 0 else int(rng.integers(1, 64))
            a = rng.integers(-bound - 1, bound, size=tuple(s), endpoint=True, dtype=np.int32)
            flat = a.reshape(-1)
            edges = np.array(EDGES32, dtype=np.int32)[: flat.size]
            flat[: edges.size] = edges
            arrays.append(a)
        batch.append(arrays)
    return batch


def _binary32(op: str, s1: list[int], s2: list[int], out: list[int], const2, **options) -> bytes:
    b = ModelBuilder()
    x1 = b.tensor("x1", s1, "int32")
    x2 = b.tensor("x2", s2, "int32", data=const2)
    y = b.tensor("y", out, "int32")
    b.op(op, [x1, x2], [y], **options)
    return b.build([x1] if const2 is not None else [x1, x2], [y])


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@COMMON
@given(sh=broadcast_shapes(max_rank=6), act=activations, const=st.booleans(), seed=seeds)
def test_add_sub_mul_int32(
    op: str, sh: tuple[list[int], list[int], list[int]], act: str, const: bool, seed: int
) -> None:
    s1, s2, out = sh
    const2 = int32_batch([s2], seed ^ 0x5A5A, sets=1)[0][0] if const else None
    model = _binary32(op, s1, s2, out, const2, fused_activation_function=act)
    what = f"{op} int32 {s1} {s2} -> {out} act={act} const={const} seed={seed}"
    batch = int32_batch([s1] if const else [s1, s2], seed)
    assert_batch_same_as_tflm(model, batch, what)


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
def test_int32_arithmetic_refuses_mixed_types(op: str) -> None:
    """An int32 output needs int32 inputs (no quantized int8 operand)."""
    b = ModelBuilder()
    x1 = b.tensor("x1", [1, 4], "int32")
    x2 = b.tensor("x2", [1, 4], "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", [1, 4], "int32")
    b.op(op, [x1, x2], [y])
    assert init_status(b.build([x1, x2], [y])) == "TFL_ERR_UNSUPPORTED_TYPE"


def _dynamic_batch_model() -> bytes:
    """The chain a dynamic batch converts to (the fuzz seed kernel_int32_shapes): SHAPE ->
    STRIDED_SLICE (the batch) -> MUL by a constant -> PACK with a constant -> CONCATENATION, all
    int32, with a SLICE, an ADD and a SUB."""
    return fuzzlib.kernel_seed_models()["kernel_int32_shapes.tflite"]


def test_dynamic_batch_chain_matches_tflm() -> None:
    xs = np.zeros((3, 4, 5), np.int8)
    assert_batch_same_as_tflm(_dynamic_batch_model(), [[xs]], "int32 shape chain")


def test_dynamic_batch_chain_is_deployable() -> None:
    """check accepts the int32 tensors of these ops (opcheck.INTEGER_TENSOR_OPS), the int32
    model output included."""
    report = check_model(parse_model(_dynamic_batch_model(), "shape_chain.tflite"))
    assert report.deployable, report.offenders


# ---- copies --------------------------------------------------------------------------------


@COMMON
@given(data=st.data(), n=st.integers(1, 4), bool_=st.booleans(), seed=seeds)
def test_concatenation_int32_bool(data: st.DataObject, n: int, bool_: bool, seed: int) -> None:
    base = data.draw(shapes(max_rank=5, max_dim=4, max_elems=200), label="base")
    dtype = "bool" if bool_ else "int32"
    rank = len(base)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    pos = axis % rank
    b = ModelBuilder()
    ins = []
    for i in range(n):
        s = list(base)
        s[pos] = data.draw(st.integers(1, 4), label=f"dim{i}")
        ins.append(b.tensor(f"x{i}", s, dtype))
    out = list(base)
    out[pos] = sum(t.shape[pos] for t in ins)
    y = b.tensor("y", out, dtype)
    b.op("CONCATENATION", ins, [y], axis=axis, fused_activation_function="NONE")
    model = b.build(ins, [y])
    batch = int32_batch([t.shape for t in ins], seed, dtype=dtype)
    what = f"CONCATENATION {dtype} {[t.shape for t in ins]} axis={axis} seed={seed}"
    assert_batch_same_as_tflm(model, batch, what)


@COMMON
@given(data=st.data(), n=st.integers(1, 4), seed=seeds)
def test_pack_int32(data: st.DataObject, n: int, seed: int) -> None:
    base = data.draw(shapes(min_rank=0, max_rank=4, max_dim=4, max_elems=100), label="base")
    axis = data.draw(st.integers(-len(base) - 1, len(base)), label="axis")
    out = list(base)
    out.insert(axis % (len(base) + 1), n)
    b = ModelBuilder()
    ins = [b.tensor(f"x{i}", base, "int32") for i in range(n)]
    y = b.tensor("y", out, "int32")
    b.op("PACK", ins, [y], values_count=n, axis=axis)
    model = b.build(ins, [y])
    what = f"PACK int32 {n} x {base} axis={axis} seed={seed}"
    assert_batch_same_as_tflm(model, int32_batch([base] * n, seed), what)


@COMMON
@given(data=st.data(), int64=st.booleans(), seed=seeds)
def test_slice_int32(data: st.DataObject, int64: bool, seed: int) -> None:
    shape = data.draw(shapes(max_rank=5, max_dim=5, max_elems=300), label="shape")
    begin = [data.draw(st.integers(0, d - 1), label="begin") for d in shape]
    size = [
        data.draw(st.sampled_from([-1, *range(1, d - s + 1)]), label="size")
        for d, s in zip(shape, begin)
    ]
    out = [d - s if n == -1 else n for d, s, n in zip(shape, begin, size)]
    index_type = "int64" if int64 else "int32"
    b = ModelBuilder()
    x = b.tensor("x", shape, "int32")
    bt = b.tensor("begin", [len(shape)], index_type, data=np.array(begin))
    st_ = b.tensor("size", [len(shape)], index_type, data=np.array(size))
    y = b.tensor("y", out, "int32")
    b.op("SLICE", [x, bt, st_], [y])
    model = b.build([x], [y])
    what = f"SLICE int32 {shape} begin={begin} size={size} {index_type} seed={seed}"
    assert_batch_same_as_tflm(model, int32_batch([shape], seed), what)


@COMMON
@given(data=st.data(), seed=seeds)
def test_strided_slice_int32(data: st.DataObject, seed: int) -> None:
    # TFLM's STRIDED_SLICE stops at 4-D ("input dim should not exceed 4"); tinyflash's 5-D and
    # 6-D slices are checked against numpy (test_kernels_data.py)
    shape = data.draw(shapes(max_rank=4, max_dim=6, max_elems=300), label="shape")
    rank = len(shape)
    begin = [data.draw(st.integers(-d, d - 1), label="begin") for d in shape]
    end = [data.draw(st.integers(-d - 1, d + 1), label="end") for d in shape]
    strides = [data.draw(st.sampled_from([-3, -2, -1, 1, 2, 3]), label="stride") for _ in shape]
    begin_mask = data.draw(st.integers(0, 2**rank - 1), label="begin_mask")
    end_mask = data.draw(st.integers(0, 2**rank - 1), label="end_mask")
    shrink = data.draw(st.integers(0, 2**rank - 1), label="shrink")
    out, consistent = slice_plan(shape, begin, end, strides, begin_mask, end_mask, shrink)
    b = ModelBuilder()
    x = b.tensor("x", shape, "int32")
    vecs = [
        b.tensor(n, [rank], "int32", data=np.array(v, np.int32))
        for n, v in (("begin", begin), ("end", end), ("strides", strides))
    ]
    y = b.tensor("y", out, "int32")
    b.op(
        "STRIDED_SLICE",
        [x, *vecs],
        [y],
        begin_mask=begin_mask,
        end_mask=end_mask,
        shrink_axis_mask=shrink,
    )
    model = b.build([x], [y])
    if not consistent:  # TFLM would leave output bytes unwritten; tinyflash refuses
        assert init_status(model) in ("TFL_ERR_BAD_ARGUMENT", "TFL_ERR_BAD_SHAPE")
        return
    if math.prod(out) == 0:  # an empty result: nothing to compare, but it must init
        assert init_status(model) == "TFL_OK"
        return
    what = (
        f"STRIDED_SLICE int32 {shape} b={begin} e={end} s={strides} masks="
        f"{begin_mask},{end_mask},{shrink} seed={seed}"
    )
    assert_batch_same_as_tflm(model, int32_batch([shape], seed), what)


@COMMON
@given(
    src=st.sampled_from(["int8", "int16"]),
    shape=shapes(max_rank=4, max_dim=8, max_elems=300),
    ratio=st.floats(min_value=-12.0, max_value=12.0).map(lambda e: 2.0**e),
    zps=st.tuples(st.integers(-128, 127), st.integers(-(2**31), 2**31 - 1)),
    seed=seeds,
)
def test_quantize_to_int32(src: str, shape: list[int], ratio: float, zps, seed: int) -> None:
    """int8/int16 requantized to int32 (zp_out + (x - zp_in) * scale ratio, TFLM's Q31
    multiplier, wrapping where the product or the zero point leave int32)."""
    zin = zps[0] if src == "int8" else 0
    si = float(np.float32(2.0**-8))
    so = float(np.float32(si / ratio))
    b = ModelBuilder()
    x = b.tensor("x", shape, src, scale=si, zero_point=zin)
    y = b.tensor("y", shape, "int32", scale=so, zero_point=zps[1])
    b.op("QUANTIZE", [x], [y])
    model = b.build([x], [y])
    rng = np.random.default_rng(seed)
    info = np.iinfo(src)
    batch = [[rng.integers(info.min, info.max, size=tuple(shape), endpoint=True, dtype=src)]]
    what = f"QUANTIZE {src} -> int32 {shape} ratio={ratio} zps={zin, zps[1]} seed={seed}"
    assert_batch_same_as_tflm(model, batch, what)

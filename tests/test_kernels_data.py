"""Differential tests of the data-movement kernels (issue 3): CONCATENATION, PAD, PADV2,
STRIDED_SLICE, TRANSPOSE, SPLIT, SPLIT_V, PACK, UNPACK, RESIZE_NEAREST_NEIGHBOR, TRANSPOSE_CONV.

Each case is a single-op int8 model written with support/tflbuilder.py, run through the C runtime
on the host (ASan+UBSan runner, support/runtime_host.py) and through tflite-micro's Python
runtime, and the outputs are compared exactly (no tolerance: every path is integer).
Hypothesis draws the op parameters and an integer `seed` for the input data; a failure message
names the seed and the parameters.

Cases where TFLM and TFLite's BUILTIN_REF kernels differ and tinyflash follows TFLM:
- PACK with inputs whose quantization differs from the output's: TFLM copies the bytes, REF
  refuses the model in prepare (test_pack_mixed_quantization_copies_bytes_like_tflm).
TFLM behaviours tinyflash does not reproduce (the model is refused in prepare instead):
- PAD/PADV2 with negative paddings (TensorFlow forbids them; TFLM copies from the start).
- STRIDED_SLICE ellipsis_mask / new_axis_mask / offset (TFLM silently ignores them), and slices
  where TFLM's eval would write fewer bytes than the output holds (see _slice_plan).
- TRANSPOSE with an int64 perm: TFLM reads it as int32 words (wrong permutation for rank > 2);
  tinyflash reads int64 correctly (checked against numpy).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from support.compare import assert_same_as_tflm, int8_batch
from support.kernel_models import concatenation_model, slice_plan
from support.runtime_host import (
    RunnerError,
    host_run,
    init_status,
    model_info,
    run_model_batch,
    tflm_reference_batch,
)
from support.strategies import kernel_settings, scales, seeds, shapes, zero_points
from support.tflbuilder import ModelBuilder

REPO = Path(__file__).resolve().parents[1]

COMMON = kernel_settings(25, from_env=False)


def tflm_accepts(model: bytes) -> bool:
    try:
        tflm_reference_batch(model, [])
    except RuntimeError:
        return False
    return True


# ---- CONCATENATION ----------------------------------------------------------------------


@COMMON
@given(
    base=shapes(max_rank=6, max_dim=4),
    n=st.integers(1, 4),
    data=st.data(),
    scale=scales,
    zp=zero_points,
    seed=seeds,
)
def test_concatenation_matches_tflm(base, n, data, scale, zp, seed):
    op = "CONCATENATION"
    model, in_shapes = concatenation_model(base, n, data, "int8", scale, zp)
    assert_same_as_tflm(model, in_shapes, seed, f"{op} {in_shapes}")


def test_concatenation_mixed_quantization_refused_like_tflm():
    """TFLM's int8 CONCATENATION requires every input's scale and zero point to equal the
    output's; tinyflash refuses the same models in prepare."""
    for qa, qb in (((0.1, 3), (0.5, 3)), ((0.1, 3), (0.1, 4))):
        b = ModelBuilder()
        x0 = b.tensor("x0", [1, 3], "int8", scale=qa[0], zero_point=qa[1])
        x1 = b.tensor("x1", [1, 2], "int8", scale=qb[0], zero_point=qb[1])
        y = b.tensor("y", [1, 5], "int8", scale=0.1, zero_point=3)
        b.op("CONCATENATION", [x0, x1], [y], axis=1)
        model = b.build([x0, x1], [y])
        assert not tflm_accepts(model)
        assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


# ---- PAD / PADV2 ------------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(max_rank=5, max_dim=4),
    data=st.data(),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    v2=st.booleans(),
    seed=seeds,
)
def test_pad_and_padv2_match_tflm(shape, data, qi, qo, v2, seed):
    pads = []
    for i, _ in enumerate(shape):
        pads.append(
            [
                data.draw(st.integers(0, 3), label=f"before{i}"),
                data.draw(st.integers(0, 3), label=f"after{i}"),
            ]
        )
    out_shape = [d + p[0] + p[1] for d, p in zip(shape, pads)]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=qi[0], zero_point=qi[1])
    p = b.tensor("paddings", [len(shape), 2], "int32", data=np.array(pads, np.int32))
    y = b.tensor("y", out_shape, "int8", scale=qo[0], zero_point=qo[1])
    if v2:
        value = data.draw(st.integers(-128, 127), label="value")
        c = b.tensor("c", [], "int8", data=np.array(value, np.int8), scale=qo[0], zero_point=qo[1])
        b.op("PADV2", [x, p, c], [y])
    else:
        b.op("PAD", [x, p], [y])
    model = b.build([x], [y])
    assert_same_as_tflm(
        model, [shape], seed, f"{'PADV2' if v2 else 'PAD'} shape={shape} pads={pads}"
    )


@pytest.mark.parametrize("pads", [[[0, 0], [-1, 0]], [[0, -1], [1, 1]]])
def test_pad_negative_amounts_refused(pads):
    """TensorFlow forbids negative paddings; TFLM accepts them but copies input elements from
    the start (not a crop). tinyflash refuses the model."""
    shape = [3, 4]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=0.1, zero_point=0)
    p = b.tensor("paddings", [2, 2], "int32", data=np.array(pads, np.int32))
    y = b.tensor(
        "y", [d + a + c for d, (a, c) in zip(shape, pads)], "int8", scale=0.1, zero_point=0
    )
    b.op("PAD", [x, p], [y])
    assert init_status(b.build([x], [y])) == "TFL_ERR_BAD_ARGUMENT"


def test_padv2_constant_with_other_quantization_refused_like_tflm():
    b = ModelBuilder()
    x = b.tensor("x", [2, 3], "int8", scale=0.1, zero_point=3)
    p = b.tensor("paddings", [2, 2], "int32", data=np.array([[1, 0], [0, 2]], np.int32))
    c = b.tensor("c", [], "int8", data=np.array(-9, np.int8), scale=0.5, zero_point=1)
    y = b.tensor("y", [3, 5], "int8", scale=0.1, zero_point=3)
    b.op("PADV2", [x, p, c], [y])
    model = b.build([x], [y])
    assert not tflm_accepts(model)
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


# ---- STRIDED_SLICE ----------------------------------------------------------------------


@settings(COMMON, max_examples=80)
@given(
    shape=shapes(max_rank=4, max_dim=6),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_strided_slice_matches_tflm(shape, data, q, seed):
    rank = len(shape)
    mask = st.integers(0, (1 << rank) - 1)
    begin_mask, end_mask = data.draw(mask, label="begin_mask"), data.draw(mask, label="end_mask")
    shrink_mask = data.draw(st.one_of(st.just(0), mask), label="shrink_mask")
    begin, end, strides = [], [], []
    for a, size in enumerate(shape):
        if (shrink_mask >> a) & 1:  # mostly valid single indices, sometimes an invalid one
            b0 = data.draw(st.integers(-size - 1, size), label=f"begin{a}")
            e0 = data.draw(st.integers(-8, 8), label=f"end{a}")
            s0 = data.draw(st.sampled_from([1, 1, 1, 2, -1]), label=f"stride{a}")
        else:  # begin/end in slicing order for the stride's direction, often out of range
            s0 = data.draw(st.sampled_from([-3, -2, -1, 1, 1, 2, 3]), label=f"stride{a}")
            b0, e0 = (
                data.draw(st.integers(-size - 2, size + 2), label=f"{n}{a}")
                for n in ("begin", "end")
            )
            if (b0 % size if -size <= b0 < size else b0) > (
                e0 % size if -size <= e0 < size else e0
            ):
                b0, e0 = e0, b0
            if s0 < 0:
                b0, e0 = e0, b0
        begin.append(b0)
        end.append(e0)
        strides.append(s0)
    out_shape, consistent = slice_plan(
        shape, begin, end, strides, begin_mask, end_mask, shrink_mask
    )
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    tb = b.tensor("begin", [rank], "int32", data=np.array(begin, np.int32))
    te = b.tensor("end", [rank], "int32", data=np.array(end, np.int32))
    ts = b.tensor("strides", [rank], "int32", data=np.array(strides, np.int32))
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op(
        "STRIDED_SLICE",
        [x, tb, te, ts],
        [y],
        begin_mask=begin_mask,
        end_mask=end_mask,
        shrink_axis_mask=shrink_mask,
    )
    model = b.build([x], [y])
    what = (
        f"STRIDED_SLICE shape={shape} begin={begin} end={end} strides={strides} "
        f"masks=({begin_mask},{end_mask},{shrink_mask})"
    )
    event(
        "refused (TFLM would leave bytes unwritten)"
        if not consistent
        else "empty output"
        if math.prod(out_shape) == 0
        else "compared with TFLM"
    )
    if not consistent:
        assert init_status(model) in ("TFL_ERR_BAD_ARGUMENT", "TFL_ERR_BAD_SHAPE"), what
        return
    if math.prod(out_shape) == 0:  # an empty result: nothing to compare, but it must init
        assert init_status(model) == "TFL_OK", what
        return
    assert_same_as_tflm(model, [shape], seed, what)
    # and the slice is numpy's (same semantics for in-range indices)


@pytest.mark.parametrize(
    "shape,begin,end,strides,shrink",
    [
        ([2, 3, 4, 5, 6], [1, 0, -1, 4, 0], [2, 3, 0, 0, 6], [1, 2, -1, -2, 3], 0b00001),
        (
            [2, 2, 3, 2, 3, 4],
            [0, 1, 2, 0, -1, 1],
            [2, 2, 0, 2, 0, 4],
            [1, 1, -1, 1, 1, 2],
            0b010010,
        ),
    ],
)
def test_strided_slice_beyond_tflm_rank_equals_numpy(shape, begin, end, strides, shrink):
    """5-D and 6-D slices (TFLM stops at 4-D): the oracle is numpy's basic slicing."""
    out_shape, consistent = slice_plan(shape, begin, end, strides, 0, 0, shrink)
    assert consistent
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=0.1, zero_point=0)
    idx = [
        b.tensor(n, [len(shape)], "int32", data=np.array(v, np.int32))
        for n, v in (("begin", begin), ("end", end), ("strides", strides))
    ]
    y = b.tensor("y", out_shape, "int8", scale=0.1, zero_point=0)
    b.op("STRIDED_SLICE", [x, *idx], [y], shrink_axis_mask=shrink)
    key = tuple(
        bg if (shrink >> a) & 1 else slice(bg, en, sd)
        for a, (bg, en, sd) in enumerate(zip(begin, end, strides))
    )
    batch = int8_batch([shape], 3)
    for (xi,), (g,) in zip(batch, run_model_batch(b.build([x], [y]), batch)):
        np.testing.assert_array_equal(g, xi[key])


@pytest.mark.parametrize("option", ["ellipsis_mask", "new_axis_mask", "offset"])
def test_strided_slice_options_tflm_ignores_are_refused(option):
    b = ModelBuilder()
    x = b.tensor("x", [4, 5], "int8", scale=0.1, zero_point=0)
    tb = b.tensor("begin", [2], "int32", data=np.array([0, 0], np.int32))
    te = b.tensor("end", [2], "int32", data=np.array([4, 5], np.int32))
    ts = b.tensor("strides", [2], "int32", data=np.array([1, 1], np.int32))
    y = b.tensor("y", [4, 5], "int8", scale=0.1, zero_point=0)
    b.op("STRIDED_SLICE", [x, tb, te, ts], [y], **{option: 1})
    assert init_status(b.build([x], [y])) == "TFL_ERR_UNSUPPORTED_OPTION"


# ---- TRANSPOSE --------------------------------------------------------------------------


@settings(COMMON, max_examples=30)
@given(
    shape=shapes(max_rank=5, max_dim=4, max_elems=800),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_transpose_matches_tflm(shape, data, q, seed):
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    p = b.tensor("perm", [len(shape)], "int32", data=np.array(perm, np.int32))
    y = b.tensor("y", [shape[i] for i in perm], "int8", scale=q[0], zero_point=q[1])
    b.op("TRANSPOSE", [x, p], [y])
    model = b.build([x], [y])
    assert_same_as_tflm(model, [shape], seed, f"TRANSPOSE shape={shape} perm={perm}")


@pytest.mark.parametrize("perm", [[5, 4, 3, 2, 1, 0], [1, 3, 5, 0, 2, 4]])
def test_transpose_6d_equals_numpy(perm):
    """6-D: TFLM stops at 5-D (prepare fails), so the oracle is numpy."""
    shape = [2, 3, 1, 4, 2, 3]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=0.1, zero_point=0)
    p = b.tensor("perm", [6], "int32", data=np.array(perm, np.int32))
    y = b.tensor("y", [shape[i] for i in perm], "int8", scale=0.1, zero_point=0)
    b.op("TRANSPOSE", [x, p], [y])
    batch = int8_batch([shape], 5)
    for (xi,), (g,) in zip(batch, run_model_batch(b.build([x], [y]), batch)):
        np.testing.assert_array_equal(g, xi.transpose(perm))


def test_transpose_int64_perm_is_read_as_int64():
    """TFLM misreads an int64 perm (int32 words); tinyflash permutes correctly (numpy)."""
    shape, perm = [2, 3, 4, 5], [3, 1, 0, 2]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=0.1, zero_point=0)
    p = b.tensor("perm", [4], "int64", data=np.array(perm, np.int64))
    y = b.tensor("y", [shape[i] for i in perm], "int8", scale=0.1, zero_point=0)
    b.op("TRANSPOSE", [x, p], [y])
    batch = int8_batch([shape], 7)
    got = run_model_batch(b.build([x], [y]), batch)
    for (xi,), (g,) in zip(batch, got):
        np.testing.assert_array_equal(g, xi.transpose(perm))


# ---- SPLIT / SPLIT_V --------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=4),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    axis_type=st.sampled_from(["int32", "int64"]),
    seed=seeds,
)
def test_split_matches_tflm(shape, data, q, axis_type, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    num = data.draw(
        st.sampled_from([k for k in range(1, 5) if shape[axis % rank] * k <= 12]), label="num"
    )
    shape = list(shape)
    shape[axis % rank] *= num
    b = ModelBuilder()
    a = b.tensor(
        "axis",
        data.draw(st.sampled_from([[], [1]]), label="axis_shape"),
        axis_type,
        data=np.array(axis),
    )
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    part = list(shape)
    part[axis % rank] //= num
    ys = [b.tensor(f"y{i}", part, "int8", scale=q[0], zero_point=q[1]) for i in range(num)]
    b.op("SPLIT", [a, x], ys, num_splits=num)
    model = b.build([x], ys)
    assert_same_as_tflm(model, [shape], seed, f"SPLIT shape={shape} axis={axis} num={num}")


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=4),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    index_type=st.sampled_from(["int32", "int64"]),
    seed=seeds,
)
def test_split_v_matches_tflm(shape, data, q, index_type, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=4), label="sizes")
    if sum(sizes) == 0:
        sizes[0] = 1
    shape = list(shape)
    shape[axis % rank] = sum(sizes)
    given_sizes = list(sizes)
    if data.draw(st.booleans(), label="use_minus_one"):
        given_sizes[data.draw(st.integers(0, len(sizes) - 1), label="minus_one_at")] = -1
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    s = b.tensor("size_splits", [len(sizes)], index_type, data=np.array(given_sizes))
    a = b.tensor("axis", [], index_type, data=np.array(axis))
    ys = []
    for i, n in enumerate(sizes):
        part = list(shape)
        part[axis % rank] = n
        ys.append(b.tensor(f"y{i}", part, "int8", scale=q[0], zero_point=q[1]))
    b.op("SPLIT_V", [x, s, a], ys, num_splits=len(sizes))
    model = b.build([x], ys)
    what = f"SPLIT_V shape={shape} axis={axis} size_splits={given_sizes}"
    if 0 in sizes:  # TFLM's Python wrapper cannot return an empty output; check ours alone
        batch = int8_batch([shape], seed)
        for (xi,), outs in zip(batch, run_model_batch(model, batch)):
            for g, r in zip(outs, np.split(xi, np.cumsum(sizes)[:-1], axis=axis % rank)):
                np.testing.assert_array_equal(g, r, err_msg=what)
        return
    assert_same_as_tflm(model, [shape], seed, what)


@pytest.mark.parametrize("axis,expect", [(2, "TFL_ERR_BAD_ARGUMENT"), (-3, "TFL_ERR_BAD_ARGUMENT")])
def test_split_axis_out_of_range_refused(axis, expect):
    b = ModelBuilder()
    a = b.tensor("axis", [], "int32", data=np.array(axis, np.int32))
    x = b.tensor("x", [2, 4], "int8", scale=0.1, zero_point=0)
    ys = [b.tensor(f"y{i}", [2, 2], "int8", scale=0.1, zero_point=0) for i in range(2)]
    b.op("SPLIT", [a, x], ys, num_splits=2)
    assert init_status(b.build([x], ys)) == expect


def test_split_axis_must_be_constant_integer():
    b = ModelBuilder()
    a = b.tensor("axis", [], "int32")  # a graph input, not a constant
    x = b.tensor("x", [2, 4], "int8", scale=0.1, zero_point=0)
    ys = [b.tensor(f"y{i}", [1, 4], "int8", scale=0.1, zero_point=0) for i in range(2)]
    b.op("SPLIT", [a, x], ys, num_splits=2)
    assert init_status(b.build([a, x], ys)) == "TFL_ERR_BAD_BUFFER"
    b = ModelBuilder()
    a = b.tensor("axis", [], "int8", data=np.array(0, np.int8), scale=1.0, zero_point=0)
    x = b.tensor("x", [2, 4], "int8", scale=0.1, zero_point=0)
    ys = [b.tensor(f"y{i}", [1, 4], "int8", scale=0.1, zero_point=0) for i in range(2)]
    b.op("SPLIT", [a, x], ys, num_splits=2)
    assert init_status(b.build([x], ys)) == "TFL_ERR_UNSUPPORTED_TYPE"


# ---- PACK / UNPACK ----------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(min_rank=1, max_rank=4, max_dim=4),
    n=st.integers(1, 4),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_pack_matches_tflm(shape, n, data, q, seed):
    rank = len(shape) + 1
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    b = ModelBuilder()
    xs = [b.tensor(f"x{i}", shape, "int8", scale=q[0], zero_point=q[1]) for i in range(n)]
    out_shape = list(shape)
    out_shape.insert(axis % rank, n)
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op("PACK", xs, [y], values_count=n, axis=axis)
    model = b.build(xs, [y])
    assert_same_as_tflm(model, [shape] * n, seed, f"PACK shape={shape} n={n} axis={axis}")


def test_pack_mixed_quantization_copies_bytes_like_tflm():
    """TFLM copies int8 bytes unchanged even when quantization differs (BUILTIN_REF refuses
    the model); tinyflash matches TFLM."""
    b = ModelBuilder()
    x0 = b.tensor("x0", [3], "int8", scale=0.1, zero_point=3)
    x1 = b.tensor("x1", [3], "int8", scale=0.5, zero_point=-7)
    y = b.tensor("y", [2, 3], "int8", scale=0.2, zero_point=1)
    b.op("PACK", [x0, x1], [y], values_count=2, axis=0)
    model = b.build([x0, x1], [y])
    assert_same_as_tflm(model, [[3], [3]], 11, "PACK mixed quantization")
    batch = int8_batch([[3], [3]], 11)
    got = run_model_batch(model, batch)
    np.testing.assert_array_equal(got[0][0], np.stack(batch[0]))


def test_pack_scalars_equals_numpy():
    """Scalars stacked into a vector. (runtime_host.tflm_reference_batch passes inputs through
    np.ascontiguousarray, which turns a 0-d array into shape (1,), so TFLM cannot be fed here.)"""
    b = ModelBuilder()
    xs = [b.tensor(f"x{i}", [], "int8", scale=0.1, zero_point=0) for i in range(3)]
    y = b.tensor("y", [3], "int8", scale=0.1, zero_point=0)
    b.op("PACK", xs, [y], values_count=3, axis=0)
    batch = [
        [np.array(v, np.int8) for v in (5, -7, 127)],
        [np.array(v, np.int8) for v in (-128, 0, 1)],
    ]
    for ins, (g,) in zip(batch, run_model_batch(b.build(xs, [y]), batch)):
        np.testing.assert_array_equal(g, np.stack(ins))


@COMMON
@given(
    shape=shapes(max_rank=5, max_dim=4),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_unpack_matches_tflm(shape, data, q, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    num = shape[axis % rank]
    part = [d for i, d in enumerate(shape) if i != axis % rank]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    ys = [b.tensor(f"y{i}", part, "int8", scale=q[0], zero_point=q[1]) for i in range(num)]
    b.op("UNPACK", [x], ys, num=num, axis=axis)
    model = b.build([x], ys)
    assert_same_as_tflm(model, [shape], seed, f"UNPACK shape={shape} axis={axis}")


# ---- RESIZE_NEAREST_NEIGHBOR ------------------------------------------------------------


@settings(COMMON, max_examples=40)
@given(
    n=st.integers(1, 2),
    ih=st.integers(1, 7),
    iw=st.integers(1, 7),
    c=st.integers(1, 3),
    oh=st.integers(1, 15),
    ow=st.integers(1, 15),
    align=st.booleans(),
    half=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_resize_nearest_neighbor_matches_tflm(n, ih, iw, c, oh, ow, align, half, q, seed):
    b = ModelBuilder()
    x = b.tensor("x", [n, ih, iw, c], "int8", scale=q[0], zero_point=q[1])
    size = b.tensor("size", [2], "int32", data=np.array([oh, ow], np.int32))
    y = b.tensor("y", [n, oh, ow, c], "int8", scale=q[0], zero_point=q[1])
    b.op("RESIZE_NEAREST_NEIGHBOR", [x, size], [y], align_corners=align, half_pixel_centers=half)
    model = b.build([x], [y])
    assert_same_as_tflm(
        model,
        [[n, ih, iw, c]],
        seed,
        f"RESIZE_NEAREST_NEIGHBOR in={ih}x{iw} out={oh}x{ow} align={align} half={half}",
    )


NN_CHECK = r"""
#include <math.h>
#include <stdio.h>
#include "op_resize_nearest_neighbor.c"
/* link stubs: only the index arithmetic is exercised */
tfl_tensor *tfl_node_input(tfl_context *c, const tfl_node *n, int32_t i) { (void)c; (void)n; (void)i; return 0; }
tfl_tensor *tfl_node_output(tfl_context *c, const tfl_node *n, int32_t i) { (void)c; (void)n; (void)i; return 0; }
tfl_status tfl_option_bool(const tfl_context *c, const tfl_node *n, int f, int d, int *o) {
  (void)c; (void)n; (void)f; *o = d; return TFL_OK;
}
static int32_t with_float(int32_t x, int32_t in, int32_t out, int align, int half) {
  const float scale = (align && out > 1) ? (in - 1) / (float)(out - 1) : in / (float)out;
  const float off = half ? 0.5f : 0.0f;
  int32_t v = align ? (int32_t)roundf((x + off) * scale) : (int32_t)floorf((x + off) * scale);
  if (v > in - 1) v = in - 1;
  if (half && v < 0) v = 0;
  return v;
}
int main(void) {
  long bad = 0, n = 0;
  for (int32_t in = 1; in <= LIMIT; ++in)
    for (int32_t out = 1; out <= LIMIT; ++out)
      for (int m = 0; m < 4; ++m) {
        tfl_resize_nn_data d;
        const int align = m & 1, half = m >> 1;
        const float s = (align && out > 1) ? (in - 1) / (float)(out - 1) : in / (float)out;
        d.align_corners = align;
        d.half_pixel = half;
        nn_split_float(s, &d.mant[0], &d.expo[0]);
        for (int32_t x = 0; x < out; ++x, ++n)
          if (nn_source(&d, 0, x, in) != with_float(x, in, out, align, half)) {
            if (bad++ < 5) printf("in=%d out=%d align=%d half=%d x=%d\n", in, out, align, half, x);
          }
      }
  printf("%ld %ld\n", n, bad);
  return bad != 0;
}
"""


def test_resize_nearest_neighbor_integer_index_equals_float_formula(tmp_path):
    """The kernel's integer re-computation of TFLite's single-precision index formula equals the
    float formula for every input/output size up to 160 and all four flag combinations."""
    src = tmp_path / "nn_check.c"
    src.write_text(NN_CHECK)
    exe = tmp_path / "nn_check"
    subprocess.run(
        [
            "gcc",
            "-std=c99",
            "-O1",
            "-Wall",
            "-Wextra",
            "-Wno-unused-function",
            "-DLIMIT=160",
            "-I",
            str(REPO / "firmware/runtime/include"),
            "-I",
            str(REPO / "firmware/runtime/src/kernels"),
            str(src),
            "-o",
            str(exe),
            "-lm",
        ],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    checked, bad = map(int, proc.stdout.split()[-2:])
    assert bad == 0 and checked > 4_000_000


# ---- TRANSPOSE_CONV ---------------------------------------------------------------------


@st.composite
def transpose_conv_cases(draw: st.DrawFn) -> dict:
    case = dict(
        n=draw(st.integers(1, 2)),
        ih=draw(st.integers(1, 5)),
        iw=draw(st.integers(1, 5)),
        ic=draw(st.integers(1, 4)),
        oc=draw(st.integers(1, 4)),
        kh=draw(st.integers(1, 4)),
        kw=draw(st.integers(1, 4)),
        sh=draw(st.integers(1, 3)),
        sw=draw(st.integers(1, 3)),
        padding=draw(st.sampled_from(["SAME", "VALID"])),
        act=draw(st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])),
        bias=draw(st.booleans()),
        per_channel=draw(st.booleans()),
        in_q=(draw(scales), draw(zero_points)),
        out_q=(draw(st.floats(0.01, 4.0)), draw(zero_points)),
    )
    # any output size whose forward conv maps back to the input size (TFLite's contract)
    for d, k, s in (("h", case["kh"], case["sh"]), ("w", case["kw"], case["sw"])):
        i = case["i" + d]
        lo, hi = (
            ((i - 1) * s + 1, i * s)
            if case["padding"] == "SAME"
            else ((i - 1) * s + k, (i - 1) * s + k + s - 1)
        )
        case["o" + d] = draw(st.integers(lo, hi))
    case["w_scales"] = [
        draw(st.floats(1e-3, 0.05)) for _ in range(case["oc"] if case["per_channel"] else 1)
    ]
    return case


@settings(COMMON, max_examples=40)
@given(case=transpose_conv_cases(), seed=seeds)
def test_transpose_conv_matches_tflm(case, seed):
    rng = np.random.default_rng(seed ^ 0x5A5A)
    c = case
    b = ModelBuilder()
    x = b.tensor(
        "x",
        [c["n"], c["ih"], c["iw"], c["ic"]],
        "int8",
        scale=c["in_q"][0],
        zero_point=c["in_q"][1],
    )
    shape = b.tensor(
        "output_shape", [4], "int32", data=np.array([c["n"], c["oh"], c["ow"], c["oc"]], np.int32)
    )
    w = b.tensor(
        "w",
        [c["oc"], c["kh"], c["kw"], c["ic"]],
        "int8",
        data=rng.integers(-127, 127, (c["oc"], c["kh"], c["kw"], c["ic"]), endpoint=True),
        scale=c["w_scales"],
        zero_point=0,
        quantized_dimension=0,
    )
    ins = [shape, w, x]
    if c["bias"]:
        ins.append(
            b.tensor(
                "bias",
                [c["oc"]],
                "int32",
                data=rng.integers(-20000, 20000, c["oc"]),
                scale=[c["in_q"][0] * s for s in c["w_scales"]],
                zero_point=0,
            )
        )
    y = b.tensor(
        "y",
        [c["n"], c["oh"], c["ow"], c["oc"]],
        "int8",
        scale=c["out_q"][0],
        zero_point=c["out_q"][1],
    )
    b.op(
        "TRANSPOSE_CONV",
        ins,
        [y],
        padding=c["padding"],
        stride_w=c["sw"],
        stride_h=c["sh"],
        fused_activation_function=c["act"],
    )
    model = b.build([x], [y])
    what = "TRANSPOSE_CONV " + " ".join(f"{k}={v}" for k, v in c.items() if k != "w_scales")
    assert_same_as_tflm(model, [[c["n"], c["ih"], c["iw"], c["ic"]]], seed, what)
    assert model_info(model).pool_used == 2 * len(c["w_scales"]), (
        "pool contract: 2 words per weight scale"
    )


def test_transpose_conv_needs_no_scratch_arena():
    """The gather formulation needs no int32 image of the output (TFLM asks for 4 bytes per
    output value): the arena holds exactly the input and the output, each 16-byte aligned."""
    b = ModelBuilder()
    x = b.tensor("x", [1, 5, 5, 3], "int8", scale=0.05, zero_point=-3)
    shape = b.tensor("output_shape", [4], "int32", data=np.array([1, 10, 10, 4], np.int32))
    w = b.tensor(
        "w",
        [4, 3, 3, 3],
        "int8",
        data=np.ones((4, 3, 3, 3)),
        scale=[0.01, 0.02, 0.03, 0.04],
        zero_point=0,
    )
    y = b.tensor("y", [1, 10, 10, 4], "int8", scale=0.02, zero_point=5)
    b.op("TRANSPOSE_CONV", [shape, w, x], [y], padding="SAME", stride_w=2, stride_h=2)
    info = model_info(b.build([x], [y]))
    assert info.arena_used == 80 + 400  # 75 input bytes rounded up to 16, then 400 output bytes
    assert info.pool_used == 2 * 4


def test_transpose_conv_weights_zero_point_must_be_zero():
    b = ModelBuilder()
    x = b.tensor("x", [1, 2, 2, 1], "int8", scale=0.1, zero_point=0)
    shape = b.tensor("output_shape", [4], "int32", data=np.array([1, 4, 4, 1], np.int32))
    w = b.tensor("w", [1, 2, 2, 1], "int8", data=np.ones((1, 2, 2, 1)), scale=0.01, zero_point=3)
    y = b.tensor("y", [1, 4, 4, 1], "int8", scale=0.1, zero_point=0)
    b.op("TRANSPOSE_CONV", [shape, w, x], [y], padding="SAME", stride_w=2, stride_h=2)
    assert init_status(b.build([x], [y])) == "TFL_ERR_BAD_QUANTIZATION"


def test_runner_errors_are_reported_not_crashes():
    """A shape that contradicts the op (CONCATENATION output too short) is an init error."""
    b = ModelBuilder()
    x0 = b.tensor("x0", [1, 3], "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", [1, 2], "int8", scale=0.1, zero_point=0)
    b.op("CONCATENATION", [x0], [y], axis=1)
    with pytest.raises(RunnerError) as err:
        run_model_batch(b.build([x0], [y]), int8_batch([[1, 3]], 0))
    assert err.value.stage == "init" and err.value.status == "TFL_ERR_BAD_SHAPE"


# ---- cross builds: warning-free on every Cortex-M, no floating point outside prepare ----

KERNEL_FILES = [
    "op_concatenation",
    "op_pad",
    "op_padv2",
    "op_strided_slice",
    "op_transpose",
    "op_split",
    "op_split_v",
    "op_pack",
    "op_unpack",
    "op_resize_nearest_neighbor",
    "op_transpose_conv",
    "tfl_kernel_split",
    "tfl_kernel_index",
]  # + shared helpers
CPUS = {  # cpu -> float ABI flags (hard float where the core has an FPU, to see VFP opcodes)
    "cortex-m0plus": [],
    "cortex-m3": [],
    "cortex-m4": ["-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m7": ["-mfloat-abi=hard", "-mfpu=fpv5-d16"],
    "cortex-m33": ["-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"],
    "cortex-m55": ["-mfloat-abi=hard", "-mfpu=auto"],
}
FLOAT_CODE = re.compile(r"\tv(?!push|pop)[a-z]|__aeabi_([fd][a-z]|[iul]+2[fd]|[fd]2)")


@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"
)
@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_kernels_cross_compile_and_eval_has_no_float(cpu, tmp_path):
    """-Wall -Wextra -Werror with Debian's arm-none-eabi-gcc 12 for each core; in the object
    code, VFP instructions or soft-float helper calls appear only inside *_prepare."""
    srcs = [str(REPO / "firmware/runtime/src/kernels" / f"{k}.c") for k in KERNEL_FILES]
    subprocess.run(
        [
            "arm-none-eabi-gcc",
            "-std=c99",
            "-Os",
            "-mthumb",
            f"-mcpu={cpu}",
            *CPUS[cpu],
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            str(REPO / "firmware/runtime/include"),
            "-c",
            *srcs,
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    for k in KERNEL_FILES:
        dump = subprocess.run(
            ["arm-none-eabi-objdump", "-d", str(tmp_path / f"{k}.o")],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        function = ""
        for line in dump.splitlines():
            head = re.match(r"^[0-9a-f]+ <(\w+)>:$", line)
            if head:
                function = head.group(1)
            elif FLOAT_CODE.search(line):
                assert function.endswith("_prepare"), f"{cpu} {k}: float code in {function}: {line}"


# ---- a real TensorFlow conversion covering all eleven kernels ---------------------------

DATA_OPS_MODULE = """
import numpy as np
import tensorflow as tf

_rng = np.random.default_rng(3)
_W = tf.constant(_rng.normal(0.0, 0.3, (3, 3, 6, 4)).astype(np.float32))  # [kh, kw, out, in]
_B = tf.constant(_rng.normal(0.0, 0.1, (6,)).astype(np.float32))


@tf.function(input_signature=[tf.TensorSpec([1, 6, 6, 4], tf.float32, name="image")])
def data_ops(x):
    t = tf.nn.relu(tf.nn.conv2d_transpose(x, _W, output_shape=[1, 12, 12, 6], strides=2,
                                          padding="SAME") + _B)
    u = tf.image.resize(x, [12, 12], method="nearest")
    c = tf.concat([t, u], axis=-1)
    p = tf.pad(c, [[0, 0], [1, 1], [2, 0], [0, 0]])
    q = tf.pad(c, [[0, 0], [0, 1], [0, 0], [0, 0]], constant_values=0.25)
    s = p[:, 1:13:2, ::3, :]
    tr = tf.transpose(s, [0, 2, 1, 3])
    a, b = tf.split(tr, 2, axis=3)
    v1, v2, v3 = tf.split(a, [1, 3, 1], axis=3)
    packed = tf.stack([v1, v3], axis=1)
    parts = tf.unstack(b, axis=1)
    return packed, parts[0], parts[1], parts[2], parts[3], parts[4], v2, q[:, 5:, :, :]
"""

MY_OPS = {
    "CONCATENATION",
    "PAD",
    "PADV2",
    "STRIDED_SLICE",
    "TRANSPOSE",
    "SPLIT",
    "SPLIT_V",
    "PACK",
    "UNPACK",
    "RESIZE_NEAREST_NEIGHBOR",
    "TRANSPOSE_CONV",
}


@pytest.mark.slow
def test_tensorflow_converted_model_with_every_data_kernel_matches_tflm(tmp_path):
    """tf.function -> `tinyflash convert` (TF 2.21, full int8) -> the C runtime and TFLM agree
    exactly on random inputs; the converter emits all eleven kernels (plus a QUANTIZE that
    requantizes one CONCATENATION input, TFLM-style, since int8 concat needs equal scales)."""
    from tinyflash.convert import convert_model
    from tinyflash.model import load_model

    module = tmp_path / "data_ops.py"
    module.write_text(DATA_OPS_MODULE)
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).uniform(-1, 1, (16, 6, 6, 4)).astype(np.float32))
    result = convert_model(f"{module}:data_ops", tmp_path / "data_ops.tflite", calib, samples=16)
    ops = {op.name for op in load_model(result.output).ops}
    assert MY_OPS <= ops, f"converter did not emit {sorted(MY_OPS - ops)}"
    model = result.output.read_bytes()
    assert_same_as_tflm(model, [[1, 6, 6, 4]], 1234, "converted data_ops model")


# ---- hostile constant index tensors -----------------------------------------------------

wild = st.one_of(
    st.integers(-8, 8), st.sampled_from([-(2**31), 2**31 - 1, -(2**30), 2**30, 65536, -65536])
)
small_shape = st.lists(st.integers(1, 4), min_size=1, max_size=4)


@st.composite
def hostile_models(draw: st.DrawFn) -> tuple[bytes, list[int], str]:
    """One data op whose constant index/axis tensors, options and output shape are arbitrary."""
    op = draw(st.sampled_from(sorted(MY_OPS)))
    shape = draw(small_shape)
    rank = len(shape)
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=0.1, zero_point=1)

    def out(name: str = "y") -> object:
        return b.tensor(
            name,
            draw(st.lists(st.integers(0, 5), min_size=0, max_size=5)),
            "int8",
            scale=0.1,
            zero_point=1,
        )

    def vec(name: str, n: int, type_: str = "int32") -> object:
        return b.tensor(name, [n], type_, data=np.array([draw(wild) for _ in range(n)]))

    ins, outs, opts = [x], [], {}
    if op == "CONCATENATION":
        ins = [x, b.tensor("x2", draw(small_shape), "int8", scale=0.1, zero_point=1)]
        outs, opts = [out()], dict(axis=draw(wild))
    elif op in ("PAD", "PADV2"):
        pads = b.tensor(
            "p",
            draw(st.sampled_from([[rank, 2], [rank], [rank + 1, 2]])),
            "int32",
            data=np.array([draw(wild) for _ in range(2 * rank + 2)]),
        )
        ins = [x, pads]
        if op == "PADV2":
            ins.append(
                b.tensor("c", [], "int8", data=np.array(3, np.int8), scale=0.1, zero_point=1)
            )
        outs = [out()]
    elif op == "STRIDED_SLICE":
        n = draw(st.sampled_from([rank, rank - 1, rank + 1]))
        ins = [x, vec("b", n), vec("e", n), vec("s", n)]
        outs = [out()]
        opts = {k: draw(wild) for k in ("begin_mask", "end_mask", "shrink_axis_mask")}
    elif op == "TRANSPOSE":
        ins, outs = (
            [
                x,
                vec(
                    "perm",
                    draw(st.sampled_from([rank, rank + 1])),
                    draw(st.sampled_from(["int32", "int64"])),
                ),
            ],
            [out()],
        )
    elif op in ("SPLIT", "SPLIT_V"):
        n = draw(st.integers(1, 3))
        axis = b.tensor(
            "axis", [], draw(st.sampled_from(["int32", "int64"])), data=np.array(draw(wild))
        )
        outs = [out(f"y{i}") for i in range(n)]
        ins = [axis, x] if op == "SPLIT" else [x, vec("sizes", n), axis]
        opts = dict(num_splits=draw(st.sampled_from([n, n + 1, draw(wild)])))
    elif op == "PACK":
        ins, outs = [x, x], [out()]
        opts = dict(values_count=draw(st.sampled_from([2, draw(wild)])), axis=draw(wild))
    elif op == "UNPACK":
        n = draw(st.integers(1, 3))
        outs, opts = (
            [out(f"y{i}") for i in range(n)],
            dict(num=draw(st.sampled_from([n, draw(wild)])), axis=draw(wild)),
        )
    elif op == "RESIZE_NEAREST_NEIGHBOR":
        x = b.tensor(
            "x4",
            [1, *draw(st.lists(st.integers(1, 4), min_size=3, max_size=3))],
            "int8",
            scale=0.1,
            zero_point=1,
        )
        ins, outs = [x, vec("size", 2)], [out()]
        opts = dict(align_corners=draw(st.booleans()), half_pixel_centers=draw(st.booleans()))
    elif op == "TRANSPOSE_CONV":
        x = b.tensor(
            "x4",
            [1, *draw(st.lists(st.integers(1, 4), min_size=3, max_size=3))],
            "int8",
            scale=0.1,
            zero_point=1,
        )
        w_shape = draw(st.lists(st.integers(1, 3), min_size=4, max_size=4))
        w = b.tensor("w", w_shape, "int8", data=np.ones(w_shape), scale=0.01, zero_point=0)
        ins, outs = [vec("shape", 4), w, x], [out()]
        opts = dict(
            padding=draw(st.sampled_from([0, 1, 7])), stride_w=draw(wild), stride_h=draw(wild)
        )
    b.op(op, ins, outs, **opts)
    graph_inputs = [t for t in ins if getattr(t, "data", None) is None]
    graph_inputs = list({t.index: t for t in graph_inputs}.values())
    return b.build(graph_inputs, outs), [t.shape for t in graph_inputs], op


@settings(COMMON, max_examples=50)
@given(case=hostile_models())
def test_hostile_index_tensors_are_refused_or_run_cleanly(case):
    """Arbitrary (often absurd) axes, permutations, paddings, slice bounds, sizes, strides and
    output shapes: the runtime either refuses the model with a status or runs it without any
    ASan/UBSan report. It never crashes or reads outside a tensor."""
    model, shapes_, op = case
    run = host_run(model, int8_batch(shapes_, 0))
    assert not run.crashed, f"{op}: runner crashed\n{run.stderr[-3000:]}"
    if run.status == "TFL_OK" and run.invoke_status == "TFL_OK" and tflm_accepts(model):
        event(f"{op}: ran")
    else:
        event(f"{op}: refused" if run.status != "TFL_OK" else f"{op}: ran, TFLM refuses")

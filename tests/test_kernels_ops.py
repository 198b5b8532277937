"""Differential tests of the kernels added for issue 15 (operator coverage): ARG_MAX, ARG_MIN,
ABS, REDUCE_MAX, REDUCE_MIN, SUM, SLICE, GATHER, SPACE_TO_DEPTH, DEPTH_TO_SPACE, MIRROR_PAD, REVERSE_V2, SPACE_TO_BATCH_ND,
BATCH_TO_SPACE_ND, EQUAL, NOT_EQUAL, GREATER, GREATER_EQUAL, LESS, LESS_EQUAL, SELECT_V2, ZEROS_LIKE, FILL,
BROADCAST_TO, SQUARED_DIFFERENCE, PRELU, RESIZE_BILINEAR, BATCH_MATMUL.

Each case is a single-op model written with tests/tflbuilder.py, run through the C runtime on
the host (ASan+UBSan runner, tests/runtime_host.py) and through tflite-micro's Python runtime;
outputs are compared exactly (integer paths, no tolerance). Hypothesis draws the op parameters
and an integer `seed` for the input data; a failure message names the seed and the parameters.

Only the type combinations TFLM accepts are tested as matches; the combinations TFLM refuses
are checked to be refused by tinyflash's prepare as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.runtime_host import init_status, run_model_batch, tflm_reference_batch
from support.strategies import (
    broadcast_pair,
    kernel_settings,
    scales,
    seeds,
    shapes,
    zero_points,
)
from support.tflbuilder import ModelBuilder

SETS = 3  # random input sets per model
COMMON = kernel_settings(25)


def _batch(shapes: Sequence[Sequence[int]], seed: int, narrow: bool) -> list[list[np.ndarray]]:
    """SETS input sets; `narrow` draws from [-3, 3] so that ties (first position wins) occur."""
    rng = np.random.default_rng(seed)
    lo, hi = (-3, 3) if narrow else (-128, 127)
    return [
        [rng.integers(lo, hi, size=tuple(s), endpoint=True, dtype=np.int8) for s in shapes]
        for _ in range(SETS)
    ]


def assert_same_as_tflm(
    model: bytes, shapes: Sequence[Sequence[int]], seed: int, what: str, narrow: bool = False
) -> None:
    assert_batch_same_as_tflm(model, _batch(shapes, seed, narrow), seed, what)


def assert_batch_same_as_tflm(
    model: bytes, batch: list[list[np.ndarray]], seed: int, what: str
) -> None:
    ref = tflm_reference_batch(model, batch)
    got = run_model_batch(model, batch)
    for s, (g_outs, r_outs) in enumerate(zip(got, ref)):
        assert len(g_outs) == len(r_outs), f"{what} seed={seed}: output count"
        for k, (g, r) in enumerate(zip(g_outs, r_outs)):
            r = np.asarray(r)
            assert g.dtype == r.dtype, f"{what} seed={seed}: dtype {g.dtype} vs {r.dtype}"
            assert g.shape == r.shape, f"{what} seed={seed} set={s}: shape {g.shape} vs {r.shape}"
            if not np.array_equal(g, r):
                bad = int(np.count_nonzero(g != r))
                raise AssertionError(
                    f"{what} seed={seed} set={s} output={k}: {bad}/{g.size} "
                    f"values differ from TFLM\nours={g.ravel()[:32]}\n"
                    f"tflm={r.ravel()[:32]}"
                )


def tflm_accepts(model: bytes, shapes: Sequence[Sequence[int]]) -> bool:
    """TFLM loads the model and invokes it on zeros (some kernels check types in eval only)."""
    try:
        tflm_reference_batch(model, [[np.zeros(s, np.int8) for s in shapes]])
    except RuntimeError:
        return False
    return True


# ---- ARG_MAX / ARG_MIN ------------------------------------------------------------------


def _argminmax_model(
    op: str,
    shape: list[int],
    axis: int,
    q: tuple[float, int],
    in_type: str = "int8",
    axis_type: str = "int32",
    out_type: str = "int32",
) -> bytes:
    rank = len(shape)
    out_shape = [d for i, d in enumerate(shape) if i != axis % rank]
    b = ModelBuilder()
    x = b.tensor("x", shape, in_type, scale=q[0], zero_point=q[1])
    a = b.tensor("axis", [1], axis_type, data=np.array([axis], dtype=axis_type))
    y = b.tensor("y", out_shape, out_type)
    b.op(op, [x, a], [y], output_type={"int32": 2, "int64": 4}[out_type])
    return b.build([x], [y])


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@COMMON
@given(
    shape=shapes(max_rank=5),
    data=st.data(),
    q=st.tuples(scales, zero_points),
    narrow=st.booleans(),
    seed=seeds,
)
def test_arg_max_min_match_tflm(op, shape, data, q, narrow, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    model = _argminmax_model(op, shape, axis, q)
    assert_same_as_tflm(model, [shape], seed, f"{op} shape={shape} axis={axis}", narrow)


@pytest.mark.parametrize("op", ["ARG_MAX", "ARG_MIN"])
@pytest.mark.parametrize("axis_type,out_type", [("int64", "int32"), ("int32", "int64")])
def test_arg_max_min_other_index_types_refused_like_tflm(op, axis_type, out_type):
    """TFLM's ARG_MAX/ARG_MIN run int8 inputs only with an int32 axis and an int32 output."""
    model = _argminmax_model(op, [2, 5], 1, (0.1, 0), axis_type=axis_type, out_type=out_type)
    assert not tflm_accepts(model, [[2, 5]])
    assert init_status(model) == "TFL_ERR_UNSUPPORTED_TYPE"


def test_arg_max_first_position_wins_on_ties():
    model = _argminmax_model("ARG_MAX", [2, 4], 1, (0.5, 0))
    x = np.array([[3, 7, 7, -1], [-5, -5, -5, -5]], np.int8)
    got = run_model_batch(model, [[x]])[0][0]
    assert got.tolist() == [1, 0]
    assert got.tolist() == np.asarray(tflm_reference_batch(model, [[x]])[0][0]).tolist()


# ---- ABS ----------------------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    same=st.booleans(),
    seed=seeds,
)
def test_abs_matches_tflm(shape, qi, qo, same, seed):
    if same:  # equal scales: TFLM adds the zero point without a multiply
        qo = (qi[0], qo[1])
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=qi[0], zero_point=qi[1])
    y = b.tensor("y", shape, "int8", scale=qo[0], zero_point=qo[1])
    b.op("ABS", [x], [y])
    assert_same_as_tflm(b.build([x], [y]), [shape], seed, f"ABS shape={shape} in={qi} out={qo}")


# ---- REDUCE_MAX / REDUCE_MIN / SUM --------------------------------------------------------


def _reduce_model(
    op: str,
    shape: list[int],
    axes: list[int],
    keep: bool,
    qi: tuple[float, int],
    qo: tuple[float, int],
) -> bytes:
    rank = len(shape)
    reduced = {a % rank for a in axes}
    out_shape = (
        [1 if i in reduced else d for i, d in enumerate(shape)]
        if keep
        else [d for i, d in enumerate(shape) if i not in reduced]
    )
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=qi[0], zero_point=qi[1])
    a = b.tensor("axes", [len(axes)], "int32", data=np.array(axes, np.int32))
    y = b.tensor("y", out_shape, "int8", scale=qo[0], zero_point=qo[1])
    b.op(op, [x, a], [y], keep_dims=keep)
    return b.build([x], [y])


@st.composite
def reduce_axes(draw: st.DrawFn, rank: int) -> list[int]:
    """1 to rank+1 axes, negative ones and repeats included."""
    n = draw(st.integers(1, rank + 1))
    return [draw(st.integers(-rank, rank - 1)) for _ in range(n)]


@pytest.mark.parametrize("op", ["REDUCE_MAX", "REDUCE_MIN"])
@COMMON
@given(
    shape=shapes(max_rank=5),
    data=st.data(),
    keep=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_reduce_max_min_match_tflm(op, shape, data, keep, q, seed):
    axes = data.draw(reduce_axes(len(shape)), label="axes")
    model = _reduce_model(op, shape, axes, keep, q, q)
    assert_same_as_tflm(model, [shape], seed, f"{op} shape={shape} axes={axes} keep={keep}")


@pytest.mark.parametrize("op", ["REDUCE_MAX", "REDUCE_MIN"])
def test_reduce_max_min_other_quantization_refused_like_tflm(op):
    """TFLM's int8 REDUCE_MAX/MIN compare raw values and require the output's quantization to
    equal the input's."""
    for qo in ((0.2, 0), (0.1, 1)):
        model = _reduce_model(op, [2, 3, 4], [1], False, (0.1, 0), qo)
        assert not tflm_accepts(model, [[2, 3, 4]])
        assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


@COMMON
@given(
    shape=shapes(max_rank=5),
    data=st.data(),
    keep=st.booleans(),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_sum_matches_tflm(shape, data, keep, qi, qo, seed):
    axes = data.draw(reduce_axes(len(shape)), label="axes")
    model = _reduce_model("SUM", shape, axes, keep, qi, qo)
    assert_same_as_tflm(
        model, [shape], seed, f"SUM shape={shape} axes={axes} keep={keep} in={qi} out={qo}"
    )


def test_sum_of_many_elements_saturates_like_tflm():
    """A long sum with a small output scale: the requantized value saturates at int8's ends."""
    model = _reduce_model("SUM", [1, 64, 64], [1, 2], False, (0.5, -3), (0.01, 5))
    assert_same_as_tflm(model, [[1, 64, 64]], 7, "SUM 4096 elements")


# ---- SLICE --------------------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(max_rank=5),
    data=st.data(),
    int64=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_slice_matches_tflm(shape, data, int64, q, seed):
    begin, size = [], []
    for i, d in enumerate(shape):
        b0 = data.draw(st.integers(0, d - 1), label=f"begin{i}")
        s0 = data.draw(st.one_of(st.just(-1), st.integers(1, d - b0)), label=f"size{i}")
        begin.append(b0)
        size.append(s0)
    out_shape = [d - b0 if s0 == -1 else s0 for d, b0, s0 in zip(shape, begin, size)]
    index_type = "int64" if int64 else "int32"
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    bt = b.tensor("begin", [len(shape)], index_type, data=np.array(begin))
    st_ = b.tensor("size", [len(shape)], index_type, data=np.array(size))
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op("SLICE", [x, bt, st_], [y])
    assert_same_as_tflm(
        b.build([x], [y]),
        [shape],
        seed,
        f"SLICE shape={shape} begin={begin} size={size} {index_type}",
    )


def test_slice_out_of_range_refused():
    b = ModelBuilder()
    x = b.tensor("x", [2, 3], "int8", scale=0.1, zero_point=0)
    bt = b.tensor("begin", [2], "int32", data=np.array([1, 2]))
    st_ = b.tensor("size", [2], "int32", data=np.array([1, 2]))
    y = b.tensor("y", [1, 2], "int8", scale=0.1, zero_point=0)
    b.op("SLICE", [x, bt, st_], [y])
    assert init_status(b.build([x], [y])) == "TFL_ERR_BAD_SHAPE"


# ---- GATHER -------------------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=5),
    data=st.data(),
    const=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_gather_matches_tflm(shape, data, const, q, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    pos_axis = axis % rank
    batch_dims = data.draw(st.integers(0, pos_axis), label="batch_dims") if rank > 1 else 0
    batch_dims = min(batch_dims, rank - 1)
    extra = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2), label="pos_dims")
    pos_shape = list(shape[:batch_dims]) + extra
    out_shape = list(shape[:pos_axis]) + extra + list(shape[pos_axis + 1 :])
    rng = np.random.default_rng(seed)

    def positions() -> np.ndarray:
        return rng.integers(0, shape[pos_axis], size=tuple(pos_shape)).astype(np.int32)

    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    p = b.tensor("positions", pos_shape, "int32", data=positions() if const else None)
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op("GATHER", [x, p], [y], axis=axis, batch_dims=batch_dims)
    model = b.build([x] if const else [x, p], [y])
    batch = []
    for _ in range(SETS):
        xs = rng.integers(-128, 127, size=tuple(shape), endpoint=True, dtype=np.int8)
        batch.append([xs] if const else [xs, positions()])
    assert_batch_same_as_tflm(
        model,
        batch,
        seed,
        f"GATHER shape={shape} axis={axis} "
        f"batch_dims={batch_dims} positions={pos_shape} const={const}",
    )


def test_gather_position_out_of_range_is_an_error_not_a_read():
    """TFLM does not check the positions; tinyflash's eval returns an error."""
    from support.runtime_host import RunnerError

    b = ModelBuilder()
    x = b.tensor("x", [4, 3], "int8", scale=0.1, zero_point=0)
    p = b.tensor("positions", [2], "int32")
    y = b.tensor("y", [2, 3], "int8", scale=0.1, zero_point=0)
    b.op("GATHER", [x, p], [y], axis=0)
    model = b.build([x, p], [y])
    xs = np.zeros((4, 3), np.int8)
    assert run_model_batch(model, [[xs, np.array([3, 0], np.int32)]])[0][0].shape == (2, 3)
    for bad in ([4, 0], [0, -1]):
        with pytest.raises(RunnerError) as err:
            run_model_batch(model, [[xs, np.array(bad, np.int32)]])
        assert err.value.stage == "invoke" and err.value.status == "TFL_ERR_BAD_ARGUMENT"


# ---- SPACE_TO_DEPTH / DEPTH_TO_SPACE ------------------------------------------------------


@pytest.mark.parametrize("op", ["SPACE_TO_DEPTH", "DEPTH_TO_SPACE"])
@COMMON
@given(
    n=st.integers(1, 2),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    c=st.integers(1, 4),
    bs=st.integers(1, 3),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_space_depth_match_tflm(op, n, h, w, c, bs, q, seed):
    space = [n, h * bs, w * bs, c]
    depth = [n, h, w, c * bs * bs]
    shape, out_shape = (space, depth) if op == "SPACE_TO_DEPTH" else (depth, space)
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op(op, [x], [y], block_size=bs)
    assert_same_as_tflm(b.build([x], [y]), [shape], seed, f"{op} {shape} -> {out_shape} bs={bs}")


# ---- MIRROR_PAD ---------------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=4),
    data=st.data(),
    mode=st.sampled_from([0, 1]),
    int64=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_mirror_pad_matches_tflm(shape, data, mode, int64, q, seed):
    pads = []
    for i, d in enumerate(shape):
        limit = d - 1 + mode  # REFLECT (0): at most d - 1, SYMMETRIC (1): at most d
        pads.append(
            [
                data.draw(st.integers(0, limit), label=f"before{i}"),
                data.draw(st.integers(0, limit), label=f"after{i}"),
            ]
        )
    out_shape = [d + a + c for d, (a, c) in zip(shape, pads)]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    p = b.tensor("paddings", [len(shape), 2], "int64" if int64 else "int32", data=np.array(pads))
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op("MIRROR_PAD", [x, p], [y], mode=mode)
    assert_same_as_tflm(
        b.build([x], [y]), [shape], seed, f"MIRROR_PAD shape={shape} pads={pads} mode={mode}"
    )


def test_mirror_pad_beyond_the_mirror_refused():
    """REFLECT of a dim of 2 can pad at most 1 (TensorFlow's rule); TFLM would read outside
    the input for more."""
    b = ModelBuilder()
    x = b.tensor("x", [2, 2], "int8", scale=0.1, zero_point=0)
    p = b.tensor("paddings", [2, 2], "int32", data=np.array([[0, 0], [2, 0]]))
    y = b.tensor("y", [2, 4], "int8", scale=0.1, zero_point=0)
    b.op("MIRROR_PAD", [x, p], [y], mode=0)
    assert init_status(b.build([x], [y])) == "TFL_ERR_BAD_ARGUMENT"


# ---- REVERSE_V2 ---------------------------------------------------------------------------


@COMMON
@given(shape=shapes(max_rank=5), data=st.data(), q=st.tuples(scales, zero_points), seed=seeds)
def test_reverse_v2_matches_tflm(shape, data, q, seed):
    rank = len(shape)
    lo = data.draw(st.integers(0, rank - 1), label="first axis")
    hi = data.draw(st.integers(lo, rank - 1), label="last axis")
    axes = [
        a - rank if data.draw(st.booleans(), label=f"negative{a}") else a for a in range(lo, hi + 1)
    ]
    axes = data.draw(st.permutations(axes), label="axes")
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    a = b.tensor("axes", [len(axes)], "int32", data=np.array(axes))
    y = b.tensor("y", shape, "int8", scale=q[0], zero_point=q[1])
    b.op("REVERSE_V2", [x, a], [y])
    assert_same_as_tflm(b.build([x], [y]), [shape], seed, f"REVERSE_V2 shape={shape} axes={axes}")


@pytest.mark.parametrize("axes", [[0, 2], [1, 1]])
def test_reverse_v2_non_contiguous_axes_refused_like_tflm(axes):
    b = ModelBuilder()
    x = b.tensor("x", [2, 3, 4], "int8", scale=0.1, zero_point=0)
    a = b.tensor("axes", [len(axes)], "int32", data=np.array(axes))
    y = b.tensor("y", [2, 3, 4], "int8", scale=0.1, zero_point=0)
    b.op("REVERSE_V2", [x, a], [y])
    model = b.build([x], [y])
    assert not tflm_accepts(model, [[2, 3, 4]])
    assert init_status(model) == "TFL_ERR_BAD_ARGUMENT"


# ---- SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND -------------------------------------------------


@st.composite
def batch_space_case(draw: st.DrawFn) -> tuple[list[int], list[int], list[int], list[list[int]]]:
    """(space-side shape, batch-side shape, block shape, paddings/crops), rank 3 or 4."""
    rank = draw(st.sampled_from([3, 4]), label="rank")
    n = draw(st.integers(1, 2), label="n")
    c = draw(st.integers(1, 3), label="c")
    block, pads, space, batch_sp = [], [], [], []
    for i in range(rank - 2):
        bk = draw(st.integers(1, 3), label=f"block{i}")
        out = draw(st.integers(1, 3), label=f"blocks{i}")  # batch-side spatial size
        total = out * bk
        before = draw(st.integers(0, min(2, total - 1)), label=f"before{i}")
        after = draw(st.integers(0, min(2, total - 1 - before)), label=f"after{i}")
        block.append(bk)
        pads.append([before, after])
        space.append(total - before - after)
        batch_sp.append(out)
    prod = int(np.prod(block))
    return [n, *space, c], [n * prod, *batch_sp, c], block, pads


def _batch_space_model(op: str, in_shape, out_shape, block, pads, q) -> bytes:
    b = ModelBuilder()
    x = b.tensor("x", in_shape, "int8", scale=q[0], zero_point=q[1])
    bt = b.tensor("block", [len(block)], "int32", data=np.array(block))
    pt = b.tensor("pads", [len(pads), 2], "int32", data=np.array(pads))
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op(op, [x, bt, pt], [y])
    return b.build([x], [y])


@COMMON
@given(case=batch_space_case(), zp=zero_points, scale=scales, seed=seeds)
def test_batch_to_space_nd_matches_tflm(case, zp, scale, seed):
    space, batch, block, crops = case
    model = _batch_space_model("BATCH_TO_SPACE_ND", batch, space, block, crops, (scale, zp))
    assert_same_as_tflm(
        model, [batch], seed, f"BATCH_TO_SPACE_ND {batch} -> {space} block={block} crops={crops}"
    )


def _space_to_batch_numpy(
    x: np.ndarray, block: list[int], pads: list[list[int]], fill: int
) -> np.ndarray:
    """TensorFlow's definition: pad with `fill`, then move block phases to the batch."""
    squeeze = x.ndim == 3
    if squeeze:
        x, block, pads = x[:, :, None, :], [block[0], 1], [pads[0], [0, 0]]
    n, _, _, c = x.shape
    p = np.pad(x, [(0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)], constant_values=fill)
    bh, bw = block
    hh, ww = p.shape[1] // bh, p.shape[2] // bw
    y = p.reshape(n, hh, bh, ww, bw, c).transpose(2, 4, 0, 1, 3, 5).reshape(bh * bw * n, hh, ww, c)
    return y[:, :, 0, :] if squeeze else y


@COMMON
@given(case=batch_space_case(), zp=zero_points, scale=scales, seed=seeds)
def test_space_to_batch_nd_matches_tflm(case, zp, scale, seed):
    """Every value taken from the input equals TFLM's. The padding positions do not: TFLM
    writes SpaceToBatchParams.output_offset there, a field its kernel never sets (whatever the
    arena held; seen: 24 where the zero point was 1), so tinyflash writes the output zero point
    (TFLite's value for a quantized 0, the only meaningful one) and the test checks it against
    TensorFlow's definition (numpy) instead."""
    space, batch, block, pads = case
    model = _batch_space_model("SPACE_TO_BATCH_ND", space, batch, block, pads, (scale, zp))
    what = f"SPACE_TO_BATCH_ND {space} -> {batch} block={block} pads={pads} zp={zp} seed={seed}"
    inputs = _batch([space], seed, False)
    ref = tflm_reference_batch(model, inputs)
    got = run_model_batch(model, inputs)
    for (x,), (g,), (r,) in zip(inputs, got, ref):
        from_input = _space_to_batch_numpy(np.ones_like(x), block, pads, 0).astype(bool)
        expected = _space_to_batch_numpy(x, block, pads, zp)
        assert np.array_equal(g, expected), f"{what}: differs from TensorFlow's definition"
        assert np.array_equal(g[from_input], np.asarray(r)[from_input]), (
            f"{what}: differs from TFLM"
        )


# ---- comparisons (bool output) --------------------------------------------------------------

COMPARISONS = ["EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"]
# TFLM takes a scale below 1 only (QuantizeMultiplierSmallerThanOneExp aborts otherwise)
small_scales = st.floats(min_value=1e-3, max_value=0.99, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("op", COMPARISONS)
@COMMON
@given(
    shapes3=broadcast_pair(),
    q1=st.tuples(small_scales, zero_points),
    q2=st.tuples(small_scales, zero_points),
    same=st.booleans(),
    seed=seeds,
)
def test_comparisons_match_tflm(op, shapes3, q1, q2, same, seed):
    s1, s2, so = shapes3
    if same:  # one quantization: equal raw values compare equal, ties are frequent
        q2 = q1
    b = ModelBuilder()
    x1 = b.tensor("x1", s1, "int8", scale=q1[0], zero_point=q1[1])
    x2 = b.tensor("x2", s2, "int8", scale=q2[0], zero_point=q2[1])
    y = b.tensor("y", so, "bool")
    b.op(op, [x1, x2], [y], options_type=None)
    assert_same_as_tflm(
        b.build([x1, x2], [y]),
        [s1, s2],
        seed,
        f"{op} {s1} vs {s2} -> {so} q1={q1} q2={q2}",
        narrow=same,
    )


# ---- SELECT_V2 ----------------------------------------------------------------------------


@st.composite
def expand_shapes(
    draw: st.DrawFn, count: int, max_rank: int = 5
) -> tuple[list[list[int]], list[int]]:
    """`count` input shapes that broadcast to the returned output shape."""
    out = draw(shapes(max_rank=max_rank, max_dim=4, max_elems=400))
    ins = []
    for k in range(count):
        rank = draw(st.integers(0, len(out)), label=f"rank{k}")
        tail = out[len(out) - rank :] if rank else []
        ins.append([d if draw(st.booleans(), label=f"keep{k}") else 1 for d in tail])
    if count > 1:  # the output is the broadcast of the inputs (one of them has its rank)
        ins[0] = [1] * (len(out) - len(ins[0])) + ins[0]
        padded = [[1] * (len(out) - len(d)) + d for d in ins]
        out = [max(col) for col in zip(*padded)]
    return ins, out


@COMMON
@given(
    case=expand_shapes(3),
    qx=st.tuples(scales, zero_points),
    qy=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_select_v2_matches_tflm(case, qx, qy, seed):
    (sc, sx, sy), so = case
    b = ModelBuilder()
    c = b.tensor("c", sc, "bool")
    x = b.tensor("x", sx, "int8", scale=qx[0], zero_point=qx[1])
    y = b.tensor("y", sy, "int8", scale=qy[0], zero_point=qy[1])
    out = b.tensor("out", so, "int8", scale=qx[0], zero_point=qx[1])
    b.op("SELECT_V2", [c, x, y], [out], options_type=None)
    model = b.build([c, x, y], [out])
    rng = np.random.default_rng(seed)
    batch = [
        [
            rng.integers(0, 2, size=tuple(sc)).astype(bool),
            rng.integers(-128, 127, size=tuple(sx), endpoint=True, dtype=np.int8),
            rng.integers(-128, 127, size=tuple(sy), endpoint=True, dtype=np.int8),
        ]
        for _ in range(SETS)
    ]
    assert_batch_same_as_tflm(model, batch, seed, f"SELECT_V2 c={sc} x={sx} y={sy} -> {so}")


# ---- ZEROS_LIKE / FILL / BROADCAST_TO -----------------------------------------------------


@COMMON
@given(shape=shapes(), q=st.tuples(scales, zero_points), seed=seeds)
def test_zeros_like_matches_tflm(shape, q, seed):
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    y = b.tensor("y", shape, "int8", scale=q[0], zero_point=q[1])
    b.op("ZEROS_LIKE", [x], [y], options_type=None)
    assert_same_as_tflm(b.build([x], [y]), [shape], seed, f"ZEROS_LIKE {shape} q={q}")


@COMMON
@given(
    shape=shapes(),
    value=st.integers(-128, 127),
    const=st.booleans(),
    int64=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_fill_matches_tflm(shape, value, const, int64, q, seed):
    b = ModelBuilder()
    dims = b.tensor("dims", [len(shape)], "int64" if int64 else "int32", data=np.array(shape))
    v = b.tensor(
        "value",
        [],
        "int8",
        scale=q[0],
        zero_point=q[1],
        data=np.array(value, np.int8) if const else None,
    )
    y = b.tensor("y", shape, "int8", scale=q[0], zero_point=q[1])
    b.op("FILL", [dims, v], [y], options_type=None)
    model = b.build([] if const else [v], [y])
    batch = [[] if const else [np.array(value, np.int8)]]
    assert_batch_same_as_tflm(model, batch, seed, f"FILL {shape} value={value} const={const}")


@COMMON
@given(
    case=expand_shapes(1, max_rank=5),
    int64=st.booleans(),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_broadcast_to_matches_tflm(case, int64, q, seed):
    (shape,), out_shape = case
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=q[0], zero_point=q[1])
    s_ = b.tensor(
        "shape", [len(out_shape)], "int64" if int64 else "int32", data=np.array(out_shape)
    )
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op("BROADCAST_TO", [x, s_], [y], options_type=None)
    assert_same_as_tflm(b.build([x], [y]), [shape], seed, f"BROADCAST_TO {shape} -> {out_shape}")


# ---- SQUARED_DIFFERENCE / PRELU -----------------------------------------------------------


@COMMON
@given(
    shapes3=broadcast_pair(),
    q1=st.tuples(scales, zero_points),
    q2=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_squared_difference_matches_tflm(shapes3, q1, q2, qo, seed):
    s1, s2, so = shapes3
    b = ModelBuilder()
    x1 = b.tensor("x1", s1, "int8", scale=q1[0], zero_point=q1[1])
    x2 = b.tensor("x2", s2, "int8", scale=q2[0], zero_point=q2[1])
    y = b.tensor("y", so, "int8", scale=qo[0], zero_point=qo[1])
    b.op("SQUARED_DIFFERENCE", [x1, x2], [y], options_type=None)
    assert_same_as_tflm(
        b.build([x1, x2], [y]),
        [s1, s2],
        seed,
        f"SQUARED_DIFFERENCE {s1} vs {s2} q1={q1} q2={q2} qo={qo}",
    )


@COMMON
@given(
    shape=shapes(min_rank=2, max_rank=4, max_dim=5),
    data=st.data(),
    qi=st.tuples(scales, zero_points),
    qa=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    const=st.booleans(),
    seed=seeds,
)
def test_prelu_matches_tflm(shape, data, qi, qa, qo, const, seed):
    # alpha as Keras' PReLU gives it: the trailing dims, some shared (1)
    alpha_shape = [
        d if data.draw(st.booleans(), label=f"alpha{i}") else 1 for i, d in enumerate(shape[1:])
    ]
    rng = np.random.default_rng(seed)
    alpha = rng.integers(-128, 127, size=tuple(alpha_shape), endpoint=True, dtype=np.int8)
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=qi[0], zero_point=qi[1])
    a = b.tensor(
        "alpha", alpha_shape, "int8", scale=qa[0], zero_point=qa[1], data=alpha if const else None
    )
    y = b.tensor("y", shape, "int8", scale=qo[0], zero_point=qo[1])
    b.op("PRELU", [x, a], [y], options_type=None)
    model = b.build([x] if const else [x, a], [y])
    assert_same_as_tflm(
        model,
        [shape] if const else [shape, alpha_shape],
        seed,
        f"PRELU {shape} alpha={alpha_shape} qi={qi} qa={qa} qo={qo}",
    )


# ---- RESIZE_BILINEAR ----------------------------------------------------------------------


@COMMON
@given(
    n=st.integers(1, 2),
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    c=st.integers(1, 3),
    oh=st.integers(1, 12),
    ow=st.integers(1, 12),
    mode=st.sampled_from(["none", "align_corners", "half_pixel_centers"]),
    q=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_resize_bilinear_matches_tflm(n, h, w, c, oh, ow, mode, q, seed):
    b = ModelBuilder()
    x = b.tensor("x", [n, h, w, c], "int8", scale=q[0], zero_point=q[1])
    size = b.tensor("size", [2], "int32", data=np.array([oh, ow]))
    y = b.tensor("y", [n, oh, ow, c], "int8", scale=q[0], zero_point=q[1])
    b.op(
        "RESIZE_BILINEAR",
        [x, size],
        [y],
        align_corners=mode == "align_corners",
        half_pixel_centers=mode == "half_pixel_centers",
    )
    assert_same_as_tflm(
        b.build([x], [y]),
        [[n, h, w, c]],
        seed,
        f"RESIZE_BILINEAR {[n, h, w, c]} -> {oh}x{ow} {mode}",
    )


# ---- BATCH_MATMUL -------------------------------------------------------------------------


@COMMON
@given(
    data=st.data(),
    m=st.integers(1, 6),
    k=st.integers(1, 12),
    n=st.integers(1, 6),
    adj_x=st.booleans(),
    adj_y=st.booleans(),
    const=st.booleans(),
    ql=st.tuples(scales, zero_points),
    qr=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_batch_matmul_matches_tflm(data, m, k, n, adj_x, adj_y, const, ql, qr, qo, seed):
    rank = data.draw(st.integers(2, 5), label="rank")
    batch = [data.draw(st.integers(1, 3), label=f"batch{i}") for i in range(rank - 2)]
    lhs_batch = [d if data.draw(st.booleans(), label=f"lb{i}") else 1 for i, d in enumerate(batch)]
    rhs_batch = [d if data.draw(st.booleans(), label=f"rb{i}") else 1 for i, d in enumerate(batch)]
    lrank = data.draw(st.integers(0, len(lhs_batch)), label="lhs batch dims")
    rrank = (
        len(rhs_batch)
        if lrank < len(lhs_batch)
        else data.draw(st.integers(0, len(rhs_batch)), label="rhs batch dims")
    )
    ext_l = [1] * (len(batch) - lrank) + lhs_batch[len(batch) - lrank :]
    ext_r = [1] * (len(batch) - rrank) + rhs_batch[len(batch) - rrank :]
    out_batch = [max(a, b) for a, b in zip(ext_l, ext_r)]
    lhs_shape = lhs_batch[len(lhs_batch) - lrank :] + ([k, m] if adj_x else [m, k])
    rhs_shape = rhs_batch[len(rhs_batch) - rrank :] + ([n, k] if adj_y else [k, n])
    out_shape = out_batch + [m, n]
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor("lhs", lhs_shape, "int8", scale=ql[0], zero_point=ql[1])
    w = b.tensor(
        "rhs",
        rhs_shape,
        "int8",
        scale=qr[0],
        zero_point=qr[1],
        data=rng.integers(-128, 127, size=tuple(rhs_shape), endpoint=True) if const else None,
    )
    y = b.tensor("y", out_shape, "int8", scale=qo[0], zero_point=qo[1])
    b.op("BATCH_MATMUL", [x, w], [y], adj_x=adj_x, adj_y=adj_y)
    model = b.build([x] if const else [x, w], [y])
    assert_same_as_tflm(
        model,
        [lhs_shape] if const else [lhs_shape, rhs_shape],
        seed,
        f"BATCH_MATMUL {lhs_shape} x {rhs_shape} -> {out_shape} adj_x={adj_x} "
        f"adj_y={adj_y} const={const}",
    )

"""Differential tests of the second batch of issue-15 kernels (operator coverage): LOGICAL_AND,
LOGICAL_OR, LOGICAL_NOT, SHAPE, CAST, ...

Each case is a single-op model written with tests/support/tflbuilder.py, run through the C
runtime on the host (ASan+UBSan runner) and through tflite-micro's Python runtime; outputs are
compared exactly (integer paths, no tolerance). Hypothesis draws the op parameters and an integer
`seed` for the input data; a failure names the seed and the parameters. The strategies are the
ones of tests/test_kernels_ops.py, from tests/support/strategies.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.compare import assert_batch_same_as_tflm
from support.runtime_host import RunnerError, init_status, run_model_batch
from support.strategies import broadcast_pair, kernel_settings, quants, seeds, shapes
from support.tflbuilder import ModelBuilder
from tinyflash.ops import TFLM_YES, load_table

COMMON = kernel_settings(25)
SETS = 3


def random_batch(
    specs: Sequence[tuple[Sequence[int], str]],
    seed: int,
    lo: int | None = None,
    hi: int | None = None,
) -> list[list[np.ndarray]]:
    """SETS input sets, one array per (shape, dtype): uniform over the type's range (bool: 0/1),
    or over [lo, hi] when given."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(SETS):
        arrays = []
        for shape, dtype in specs:
            if dtype == "bool":
                arrays.append(rng.integers(0, 1, size=tuple(shape), endpoint=True).astype(bool))
                continue
            info = np.iinfo(dtype)
            a = info.min if lo is None else lo
            b = info.max if hi is None else hi
            arrays.append(rng.integers(a, b, size=tuple(shape), endpoint=True, dtype=dtype))
        sets.append(arrays)
    return sets


def _q(q: tuple[float, int] | None) -> dict:
    return {} if q is None else {"scale": q[0], "zero_point": q[1]}


def unary_model(
    op: str,
    shape: list[int],
    dtype: str,
    out_dtype: str | None = None,
    qi: tuple[float, int] | None = None,
    qo: tuple[float, int] | None = None,
    **options,
) -> bytes:
    """One op, one input of `shape` (quantized with qi when given), one output of that shape."""
    b = ModelBuilder()
    x = b.tensor("x", shape, dtype, **_q(qi))
    y = b.tensor("y", shape, out_dtype or dtype, **_q(qo))
    b.op(op, [x], [y], **options)
    return b.build([x], [y])


def binary_model(
    op: str,
    shapes3: tuple[list[int], list[int], list[int]],
    dtype: str,
    out_dtype: str | None = None,
    qs: tuple = (None, None, None),
    **options,
) -> bytes:
    """One op over two inputs that broadcast to the output (shapes3: input 1, input 2, output)."""
    b = ModelBuilder()
    x1 = b.tensor("x1", shapes3[0], dtype, **_q(qs[0]))
    x2 = b.tensor("x2", shapes3[1], dtype, **_q(qs[1]))
    y = b.tensor("y", shapes3[2], out_dtype or dtype, **_q(qs[2]))
    b.op(op, [x1, x2], [y], **options)
    return b.build([x1, x2], [y])


# ---- LOGICAL_AND / LOGICAL_OR / LOGICAL_NOT ------------------------------------------------


@pytest.mark.parametrize("op", ["LOGICAL_AND", "LOGICAL_OR"])
@COMMON
@given(shapes3=broadcast_pair(), seed=seeds)
def test_logical_and_or_match_tflm(op, shapes3, seed):
    s1, s2, _ = shapes3
    batch = random_batch([(s1, "bool"), (s2, "bool")], seed)
    model = binary_model(op, shapes3, "bool")
    assert_batch_same_as_tflm(model, batch, f"{op} {s1} {s2} seed={seed}")


@COMMON
@given(shape=shapes(), seed=seeds)
def test_logical_not_matches_tflm(shape, seed):
    batch = random_batch([(shape, "bool")], seed)
    model = unary_model("LOGICAL_NOT", shape, "bool")
    assert_batch_same_as_tflm(model, batch, f"LOGICAL_NOT {shape} seed={seed}")


def test_logical_and_of_int8_refused():
    q = (0.1, 0)
    model = binary_model("LOGICAL_AND", ([2, 3], [2, 3], [2, 3]), "int8", "bool", (q, q, None))
    assert init_status(model) == "TFL_ERR_UNSUPPORTED_TYPE"


# ---- SHAPE / CAST -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@COMMON
@given(shape=shapes(max_rank=5), seed=seeds)
def test_shape_matches_tflm(dtype, shape, seed):
    b = ModelBuilder()
    x = b.tensor("x", shape, dtype, scale=0.1, zero_point=0)
    y = b.tensor("y", [len(shape)], "int32")
    b.op("SHAPE", [x], [y])
    batch = random_batch([(shape, dtype)], seed)
    assert_batch_same_as_tflm(b.build([x], [y]), batch, f"SHAPE {dtype}{shape}")


# the CAST type pairs TFLM runs, as docs/ops.md lists them ("int8 -> int32")
CASTS = [
    tuple(r.types.split(" -> ")) for r in load_table()[1] if r.op == "CAST" and r.tflm == TFLM_YES
]


def _quant(dtype: str, q: tuple[float, int]) -> tuple[float, int] | None:
    """CAST keeps the quantization of int8/int16 tensors as the converter writes it."""
    if dtype not in ("int8", "int16"):
        return None
    return (q[0], q[1] if dtype == "int8" else 0)


@pytest.mark.parametrize("src,dst", CASTS)
@COMMON
@given(shape=shapes(), q=quants, small=st.booleans(), seed=seeds)
def test_cast_matches_tflm(src, dst, shape, q, small, seed):
    model = unary_model("CAST", shape, src, dst, _quant(src, q), _quant(dst, q), options_type=None)
    lo, hi = (-3, 3) if small and src != "bool" else (None, None)
    batch = random_batch([(shape, src)], seed, lo, hi)
    assert_batch_same_as_tflm(model, batch, f"CAST {src}->{dst} {shape} seed={seed}")


# ---- ADD_N / CUMSUM -------------------------------------------------------------------------


@COMMON
@given(
    shape=shapes(),
    count=st.integers(2, 5),
    qi=quants,
    qo=quants,
    seed=seeds,
)
def test_add_n_matches_tflm(shape, count, qi, qo, seed):
    b = ModelBuilder()
    xs = [b.tensor(f"x{i}", shape, "int8", scale=qi[0], zero_point=qi[1]) for i in range(count)]
    y = b.tensor("y", shape, "int8", scale=qo[0], zero_point=qo[1])
    b.op("ADD_N", xs, [y])
    batch = random_batch([(shape, "int8")] * count, seed)
    assert_batch_same_as_tflm(b.build(xs, [y]), batch, f"ADD_N {count}x{shape} {qi}->{qo}")


def test_add_n_of_different_quantizations_refused():
    b = ModelBuilder()
    x1 = b.tensor("x1", [4], "int8", scale=0.1, zero_point=0)
    x2 = b.tensor("x2", [4], "int8", scale=0.2, zero_point=0)
    y = b.tensor("y", [4], "int8", scale=0.3, zero_point=0)
    b.op("ADD_N", [x1, x2], [y])
    assert init_status(b.build([x1, x2], [y])) == "TFL_ERR_BAD_QUANTIZATION"


@COMMON
@given(
    shape=shapes(),
    data=st.data(),
    exclusive=st.booleans(),
    reverse=st.booleans(),
    qi=quants,
    qo=quants,
    seed=seeds,
)
def test_cumsum_matches_tflm(shape, data, exclusive, reverse, qi, qo, seed):
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=qi[0], zero_point=qi[1])
    a = b.tensor("axis", [], "int32", data=np.array(axis, np.int32))
    y = b.tensor("y", shape, "int8", scale=qo[0], zero_point=qo[1])
    b.op("CUMSUM", [x, a], [y], exclusive=exclusive, reverse=reverse)
    batch = random_batch([(shape, "int8")], seed)
    what = f"CUMSUM {shape} axis={axis} excl={exclusive} rev={reverse} {qi}->{qo} seed={seed}"
    assert_batch_same_as_tflm(b.build([x], [y]), batch, what)


# ---- EMBEDDING_LOOKUP / GATHER_ND -----------------------------------------------------------


@COMMON
@given(
    table=shapes(min_rank=2, max_rank=4),
    count=st.integers(1, 6),
    q=quants,
    seed=seeds,
)
def test_embedding_lookup_matches_tflm(table, count, q, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(-128, 127, size=table, endpoint=True, dtype=np.int8)
    b = ModelBuilder()
    ids = b.tensor("ids", [count], "int32")
    v = b.tensor("v", table, "int8", data=values, scale=q[0], zero_point=q[1])
    y = b.tensor("y", [count] + table[1:], "int8", scale=q[0], zero_point=q[1])
    b.op("EMBEDDING_LOOKUP", [ids, v], [y])
    batch = random_batch([([count], "int32")], seed, 0, table[0] - 1)
    assert_batch_same_as_tflm(b.build([ids], [y]), batch, f"EMBEDDING_LOOKUP {table} x{count}")


def test_embedding_lookup_id_out_of_range_is_an_error_not_a_read():
    b = ModelBuilder()
    ids = b.tensor("ids", [2], "int32")
    v = b.tensor("v", [3, 2], "int8", data=np.ones((3, 2), np.int8), scale=0.1, zero_point=0)
    y = b.tensor("y", [2, 2], "int8", scale=0.1, zero_point=0)
    b.op("EMBEDDING_LOOKUP", [ids, v], [y])
    with pytest.raises(RunnerError) as err:
        run_model_batch(b.build([ids], [y]), [[np.array([0, 3], np.int32)]])
    assert err.value.status == "TFL_ERR_BAD_ARGUMENT"


@st.composite
def gather_nd_case(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    params = draw(shapes(min_rank=1, max_rank=4))
    nd = draw(st.integers(1, len(params)))
    lead = draw(shapes(min_rank=0, max_rank=2, max_dim=4)) if draw(st.booleans()) else []
    return params, lead + [nd]


@COMMON
@given(case=gather_nd_case(), const=st.booleans(), q=quants, seed=seeds)
def test_gather_nd_matches_tflm(case, const, q, seed):
    params, ishape = case
    nd = ishape[-1]
    rng = np.random.default_rng(seed)
    # coordinates inside each dim (TFLM checks only the flat position; see the next test)
    coords = np.stack(
        [rng.integers(0, params[j], size=ishape[:-1]) for j in range(nd)], axis=-1
    ).astype(np.int32)
    out_shape = ishape[:-1] + params[nd:]
    b = ModelBuilder()
    x = b.tensor("x", params, "int8", scale=q[0], zero_point=q[1])
    i = b.tensor("i", ishape, "int32", data=coords if const else None)
    y = b.tensor("y", out_shape, "int8", scale=q[0], zero_point=q[1])
    b.op("GATHER_ND", [x, i], [y], options_type=None)
    ins = [x] if const else [x, i]
    batch = [
        [a, coords][: len(ins)] for a in (s[0] for s in random_batch([(params, "int8")], seed))
    ]
    assert_batch_same_as_tflm(b.build(ins, [y]), batch, f"GATHER_ND {params} {ishape} seed={seed}")


def test_gather_nd_checks_the_flat_position_like_tflm():
    """[0, 5] in a [3, 4] tensor is the flat position 5 (row 1, column 1) for TFLM; [2, 4] would
    read past the end and fails."""
    b = ModelBuilder()
    x = b.tensor("x", [3, 4], "int8", scale=0.1, zero_point=0)
    i = b.tensor("i", [1, 2], "int32")
    y = b.tensor("y", [1], "int8", scale=0.1, zero_point=0)
    b.op("GATHER_ND", [x, i], [y], options_type=None)
    model = b.build([x, i], [y])
    values = np.arange(12, dtype=np.int8).reshape(3, 4)
    assert_batch_same_as_tflm(model, [[values, np.array([[0, 5]], np.int32)]], "GATHER_ND [0,5]")
    with pytest.raises(RunnerError) as err:
        run_model_batch(model, [[values, np.array([[2, 4]], np.int32)]])
    assert err.value.status == "TFL_ERR_BAD_ARGUMENT"


# ---- BROADCAST_ARGS / DYNAMIC_UPDATE_SLICE --------------------------------------------------


@COMMON
@given(shapes3=broadcast_pair(), seed=seeds)
def test_broadcast_args_matches_tflm(shapes3, seed):
    s1, s2, so = shapes3
    b = ModelBuilder()
    a1 = b.tensor("a1", [len(s1)], "int32")
    a2 = b.tensor("a2", [len(s2)], "int32")
    y = b.tensor("y", [len(so)], "int32")
    b.op("BROADCAST_ARGS", [a1, a2], [y])
    batch = [[np.array(s1, np.int32), np.array(s2, np.int32)]]
    assert_batch_same_as_tflm(b.build([a1, a2], [y]), batch, f"BROADCAST_ARGS {s1} {s2}")


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32"])
@COMMON
@given(shape=shapes(), data=st.data(), seed=seeds)
def test_dynamic_update_slice_matches_tflm(dtype, shape, data, seed):
    update = [data.draw(st.integers(0, d), label="update dim") for d in shape]
    rng = np.random.default_rng(seed)
    # start indices beyond the room are clamped: draw some of them
    start = np.array([rng.integers(-2, d - u + 3) for d, u in zip(shape, update)], np.int32)
    q = {"scale": 0.1, "zero_point": 0} if dtype != "int32" else {}
    b = ModelBuilder()
    x = b.tensor("x", shape, dtype, **q)
    u = b.tensor("u", update, dtype, **q)
    s = b.tensor("s", [len(shape)], "int32")
    y = b.tensor("y", shape, dtype, **q)
    b.op("DYNAMIC_UPDATE_SLICE", [x, u, s], [y])
    batch = [sets + [start] for sets in random_batch([(shape, dtype), (update, dtype)], seed)]
    what = f"DYNAMIC_UPDATE_SLICE {dtype}{shape} update={update} start={start.tolist()}"
    assert_batch_same_as_tflm(b.build([x, u, s], [y]), batch, what)


# ---- RSQRT / L2_NORMALIZATION ---------------------------------------------------------------


@COMMON
@given(shape=shapes(), qi=quants, qo=quants, seed=seeds)
def test_rsqrt_matches_tflm(shape, qi, qo, seed):
    model = unary_model("RSQRT", shape, "int8", qi=qi, qo=qo)
    # inputs at or above the zero point (below it TFLM's eval fails: see the next test)
    batch = random_batch([(shape, "int8")], seed, qi[1], 127)
    assert_batch_same_as_tflm(model, batch, f"RSQRT {shape} {qi}->{qo} seed={seed}")


def test_rsqrt_of_a_negative_value_is_an_error():
    model = unary_model("RSQRT", [3], "int8", qi=(0.1, 0), qo=(0.1, 0))
    with pytest.raises(RunnerError) as err:
        run_model_batch(model, [[np.array([4, -1, 9], np.int8)]])
    assert err.value.status == "TFL_ERR_BAD_ARGUMENT"


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=12),
    q=quants,
    narrow=st.booleans(),
    seed=seeds,
)
def test_l2_normalization_matches_tflm(shape, q, narrow, seed):
    model = unary_model("L2_NORMALIZATION", shape, "int8", qi=q, qo=(1 / 128, 0))
    lo, hi = (max(-128, q[1] - 2), min(127, q[1] + 2)) if narrow else (None, None)
    batch = random_batch([(shape, "int8")], seed, lo, hi)
    assert_batch_same_as_tflm(model, batch, f"L2_NORMALIZATION {shape} {q} seed={seed}")


# ---- DIV ------------------------------------------------------------------------------------


@COMMON
@given(
    shapes3=broadcast_pair(),
    qs=st.tuples(quants, quants, quants),
    act=st.sampled_from(["NONE", "RELU", "RELU6"]),
    seed=seeds,
)
def test_div_matches_tflm(shapes3, qs, act, seed):
    s1, s2, _ = shapes3
    q2 = qs[1]
    model = binary_model("DIV", shapes3, "int8", qs=qs, fused_activation_function=act)
    batch = random_batch([(s1, "int8"), (s2, "int8")], seed)
    for inputs in batch:  # no zero divisor (undefined in TFLM)
        d = inputs[1].astype(np.int32)
        inputs[1] = np.where(d == q2[1], q2[1] + (1 if q2[1] < 127 else -1), d).astype(np.int8)
    what = f"DIV {s1}/{s2} {qs} {act} seed={seed}"
    assert_batch_same_as_tflm(model, batch, what)


# ---- int32 variants: ZEROS_LIKE, FILL --------------------------------------------------------


@COMMON
@given(shape=shapes(), seed=seeds)
def test_zeros_like_int32_matches_tflm(shape, seed):
    batch = random_batch([(shape, "int32")], seed)
    model = unary_model("ZEROS_LIKE", shape, "int32", options_type=None)
    assert_batch_same_as_tflm(model, batch, f"ZEROS_LIKE int32 {shape}")


@COMMON
@given(shape=shapes(), value=st.integers(-(2**31), 2**31 - 1), const=st.booleans())
def test_fill_int32_matches_tflm(shape, value, const):
    b = ModelBuilder()
    dims = b.tensor("dims", [len(shape)], "int32", data=np.array(shape, np.int32))
    v = b.tensor("value", [], "int32", data=np.array(value, np.int32) if const else None)
    y = b.tensor("y", shape, "int32")
    b.op("FILL", [dims, v], [y], options_type=None)
    batch = [[] if const else [np.array(value, np.int32)]]
    what = f"FILL int32 {shape} value={value}"
    assert_batch_same_as_tflm(b.build([] if const else [v], [y]), batch, what)


# ---- int32 variants: comparisons, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE -------------------------------------------

COMPARISONS = ["EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"]


@pytest.mark.parametrize("op", COMPARISONS + ["MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"])
@COMMON
@given(shapes3=broadcast_pair(), narrow=st.booleans(), seed=seeds)
def test_int32_binary_ops_match_tflm(op, shapes3, narrow, seed):
    s1, s2, _ = shapes3
    out = "bool" if op in COMPARISONS else "int32"
    model = binary_model(op, shapes3, "int32", out, options_type=None)
    lo, hi = (-3, 3) if narrow else (None, None)  # narrow: ties are frequent
    batch = random_batch([(s1, "int32"), (s2, "int32")], seed, lo, hi)
    assert_batch_same_as_tflm(model, batch, f"{op} int32 {s1} {s2} seed={seed}")


# ---- ELU ------------------------------------------------------------------------------------

# ELU's scales: the converter's (range / 255 for ranges of about 2^-3 .. 2^6), log-uniform, and
# dyadic ones where round's ties are met exactly on the positive side.
elu_scales = st.one_of(
    st.floats(min_value=-11.0, max_value=-2.0).map(lambda e: float(np.float32(2.0**e))),
    st.tuples(st.integers(1, 64), st.integers(-10, -2)).map(lambda ke: ke[0] / 64 * 2.0 ** ke[1]),
)


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=12),
    si=elu_scales,
    so=elu_scales,
    zps=st.tuples(st.integers(-128, 127), st.integers(-128, 127)),
    seed=seeds,
)
def test_elu_matches_tflm(shape, si, so, zps, seed):
    model = unary_model("ELU", shape, "int8", qi=(si, zps[0]), qo=(so, zps[1]))
    batch = random_batch([(shape, "int8")], seed)
    # one set holds every int8 value: the whole table TFLM builds in prepare
    batch.append([np.resize(np.arange(-128, 128, dtype=np.int8), tuple(shape))])
    assert_batch_same_as_tflm(model, batch, f"ELU {shape} {si, zps[0]}->{so, zps[1]} seed={seed}")


def test_elu_table_every_value_on_many_scales():
    """All 256 int8 inputs through ELU for 200 random quantizations (the float table TFLM builds
    in prepare, e^x included, compared value by value)."""
    rng = np.random.default_rng(111)
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for _ in range(200):
        si, so = (float(np.float32(2.0 ** rng.uniform(-11, -1))) for _ in range(2))
        zi, zo = (int(z) for z in rng.integers(-128, 128, size=2))
        model = unary_model("ELU", [1, 256], "int8", qi=(si, zi), qo=(so, zo))
        assert_batch_same_as_tflm(model, [[x]], f"ELU every value {si, zi}->{so, zo}")


def test_elu_refuses_a_rescale_beyond_tflm_range():
    """input_scale / output_scale >= 2^20 would overflow TFLM's float-to-int conversion."""
    model = unary_model("ELU", [4], "int8", qi=(1.0, 0), qo=(2.0**-21, 0))
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


def test_elu_table_is_the_planned_pool():
    """ELU's table takes 64 pool words; plan.py plans exactly what the runtime allocates."""
    from support.runtime_host import model_info
    from tinyflash.model import parse_model
    from tinyflash.plan import plan_memory

    model = unary_model("ELU", [2, 8], "int8", qi=(0.05, 3), qo=(0.04, -20))
    assert model_info(model).pool_used == 64
    assert plan_memory(parse_model(model, "elu")).pool_words == 64


# ---- LOG_SOFTMAX ----------------------------------------------------------------------------

LOG_SOFTMAX_OUT = (16 / 256, 127)  # the output quantization TFLM requires


@COMMON
@given(
    shape=shapes(max_rank=4, max_dim=40, max_elems=600),
    si=st.floats(min_value=-9.0, max_value=2.0).map(lambda e: float(np.float32(2.0**e))),
    zp=st.integers(-128, 127),
    narrow=st.booleans(),
    seed=seeds,
)
def test_log_softmax_matches_tflm(shape, si, zp, narrow, seed):
    model = unary_model("LOG_SOFTMAX", shape, "int8", qi=(si, zp), qo=LOG_SOFTMAX_OUT)
    lo, hi = (-8, 8) if narrow else (None, None)  # rows of near-equal values too
    batch = random_batch([(shape, "int8")], seed, lo, hi)
    assert_batch_same_as_tflm(model, batch, f"LOG_SOFTMAX {shape} si={si} zp={zp} seed={seed}")


def test_log_softmax_long_rows_and_dyadic_scales():
    """Rows up to 4,000 values (the Q12.19 sum near its limit) and scales of exact powers of two,
    where the multipliers' rounding meets ties."""
    rng = np.random.default_rng(50)
    for depth, si in ((4000, 2.0**-7), (1000, 2.0**-4), (257, 0.1), (3, 2.0**2), (64, 2.0**-9)):
        model = unary_model("LOG_SOFTMAX", [2, depth], "int8", qi=(si, 3), qo=LOG_SOFTMAX_OUT)
        x = rng.integers(-128, 128, size=(2, depth), dtype=np.int8)
        x[1] = 127  # every value the row's maximum
        assert_batch_same_as_tflm(model, [[x]], f"LOG_SOFTMAX depth={depth} si={si}")


@pytest.mark.parametrize("qo", [(1 / 16, 126), (1 / 8, 127)])
def test_log_softmax_refuses_other_output_quantization(qo):
    model = unary_model("LOG_SOFTMAX", [1, 8], "int8", qi=(0.1, 0), qo=qo)
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"

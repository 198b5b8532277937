"""Differential tests of the 16x8 MAC-heavy kernels and their neighbours (CONV_2D,
DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV, the pools, SOFTMAX, QUANTIZE, DEQUANTIZE, the
fused LSTM: int16 activations, int8 weights, int64 or int32 bias; issue 14) against tflite-micro, exactly.

Each hypothesis example builds one single-op model with support/tflbuilder.py, runs random int16
input sets through the ASan/UBSan host runner and through tflite-micro's Python runtime, and
requires identical bytes (support/compare.py). The example's `seed` drives every random array; a
failure prints it with the drawn parameters. Which ops run 16x8 is the runtime's list
firmware/runtime/include/tfl_kernels_int16.h (tests/test_int16x8.py checks it).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.compare import assert_batch_same_as_tflm
from support.runtime_host import init_status
from support.strategies import seeds
from support.tflbuilder import ModelBuilder, quantized_bias_scale
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
SETS = 4
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def int16_inputs(
    rng: np.random.Generator, shape: list[int], n: int = SETS, span: int = 32768
) -> list[list[np.ndarray]]:
    """n sets of int16 arrays uniform in [-span, span - 1]."""
    return [[rng.integers(-span, span, size=shape, dtype=np.int16)] for _ in range(n)]


def log_uniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size=size))


def f32(x: float) -> float:
    return float(np.float32(x))


def weight_scales(rng: np.random.Generator, channels: int, per_channel: bool) -> list[float]:
    n = channels if per_channel else 1
    return [f32(s) for s in log_uniform(rng, 1e-3, 5e-2, n)]


def out_scale(rng: np.random.Generator, in_scale: float, w_scale: float, fan_in: int) -> float:
    """Keeps most results inside int16, sometimes far inside or outside."""
    return f32(in_scale * w_scale * 64.0 * 256.0 * np.sqrt(fan_in) * log_uniform(rng, 0.02, 4.0))


def weight_tensor(b: ModelBuilder, rng, shape: tuple, w_scales: list[float], dim: int = 0):
    """Symmetric int8 weights of `shape`, quantized per tensor or along `dim`."""
    data = rng.integers(-127, 127, size=shape, endpoint=True)
    zero = [0] * len(w_scales)
    return b.tensor(
        "w", None, "int8", data=data, scale=w_scales, zero_point=zero, quantized_dimension=dim
    )


def bias_tensor(b: ModelBuilder, rng, n: int, in_scale: float, w_scales: list[float], kind: str):
    """An int64 (16x8 converter's), int32 or int16 bias of n values, or -1 for none."""
    if kind == "none":
        return -1
    hi = {"int64": 2**33, "int32": 2**24, "int16": 2**14}[kind]
    return b.tensor(
        "bias",
        None,
        kind,
        data=rng.integers(-hi, hi, size=n),
        scale=quantized_bias_scale(in_scale, w_scales),
        zero_point=[0] * len(w_scales),
    )


# ---- FULLY_CONNECTED ------------------------------------------------------------------------


@SETTINGS
@given(
    seed=seeds,
    size=st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 20)),
    per_channel=st.booleans(),
    bias=st.sampled_from(["int64", "int32", "none"]),
    act=st.sampled_from(ACTIVATIONS),
)
def test_fully_connected_int16(seed, size, per_channel, bias, act):
    batches, depth, units = size
    rng = np.random.default_rng(seed)
    in_scale = f32(log_uniform(rng, 1e-4, 1e-2))
    w_scales = weight_scales(rng, units, per_channel)
    y_scale = out_scale(rng, in_scale, w_scales[0], depth)
    b = ModelBuilder()
    x = b.tensor("x", [batches, depth], "int16", scale=in_scale, zero_point=0)
    w = weight_tensor(b, rng, (units, depth), w_scales)
    bt = bias_tensor(b, rng, units, in_scale, w_scales, bias)
    y = b.tensor("y", [batches, units], "int16", scale=y_scale, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, bt], [y], fused_activation_function=act)
    model = b.build([x], [y])
    what = f"FULLY_CONNECTED int16 seed={seed} bias={bias} per_channel={per_channel}"
    assert_batch_same_as_tflm(model, int16_inputs(rng, [batches, depth]), what)


def test_fully_connected_int16_refuses_zero_point():
    """int16 activations are symmetric in TFLite's 16x8 spec; prepare refuses another zero point."""
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int16", scale=0.01, zero_point=3)
    w = b.tensor("w", None, "int8", data=np.ones((2, 4)), scale=0.01, zero_point=0)
    y = b.tensor("y", [1, 2], "int16", scale=0.01, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    assert init_status(b.build([x], [y])) == "TFL_ERR_BAD_QUANTIZATION"


# ---- SOFTMAX ----------------------------------------------------------------------------------


@SETTINGS
@given(
    seed=seeds,
    rows=st.integers(1, 4),
    depth=st.integers(1, 40),
    beta=st.sampled_from([1.0, 0.5, 2.0]),
    span=st.sampled_from([32768, 3000, 40]),
)
def test_softmax_int16(seed, rows, depth, beta, span):
    rng = np.random.default_rng(seed)
    in_scale = f32(log_uniform(rng, 1e-5, 2e-3))
    b = ModelBuilder()
    x = b.tensor("x", [rows, depth], "int16", scale=in_scale, zero_point=0)
    y = b.tensor("y", [rows, depth], "int16", scale=1.0 / 32768.0, zero_point=0)
    b.op("SOFTMAX", [x], [y], beta=beta)
    model = b.build([x], [y])
    batch = int16_inputs(rng, [rows, depth], span=span)
    assert_batch_same_as_tflm(model, batch, f"SOFTMAX int16 seed={seed} in_scale={in_scale}")


def test_softmax_int16_every_difference():
    """Every difference to the row maximum in [-65535, 0] once (two rows of 32768), at scales
    that map it onto exp's whole table and beyond: each table entry and interpolation is hit."""
    row = np.arange(-32768, 32768, dtype=np.int16).reshape(2, 32768)
    for in_scale in (10.0 / 65535.0, 10.0 / 65535.0 / 3.0, 1e-3):
        b = ModelBuilder()
        x = b.tensor("x", [2, 32768], "int16", scale=in_scale, zero_point=0)
        y = b.tensor("y", [2, 32768], "int16", scale=1.0 / 32768.0, zero_point=0)
        b.op("SOFTMAX", [x], [y], beta=1.0)
        model = b.build([x], [y])
        assert_batch_same_as_tflm(model, [[row]], f"SOFTMAX int16 ramp scale={in_scale}")


# ---- QUANTIZE / DEQUANTIZE --------------------------------------------------------------------


@SETTINGS
@given(
    seed=seeds,
    pair=st.sampled_from(
        [("float32", "int16"), ("int16", "int8"), ("int8", "int16"), ("int16", "int16")]
    ),
)
def test_quantize_int16(seed, pair):
    rng = np.random.default_rng(seed)
    src, dst = pair
    n = int(rng.integers(1, 64))
    s_in, s_out = f32(log_uniform(rng, 1e-4, 0.1)), f32(log_uniform(rng, 1e-4, 0.1))
    zp_in = 0 if src != "int8" else int(rng.integers(-128, 128))
    zp_out = 0 if dst != "int8" else int(rng.integers(-128, 128))
    b = ModelBuilder()
    quant = {} if src == "float32" else {"scale": s_in, "zero_point": zp_in}
    x = b.tensor("x", [1, n], src, **quant)
    y = b.tensor("y", [1, n], dst, scale=s_out, zero_point=zp_out)
    b.op("QUANTIZE", [x], [y])
    model = b.build([x], [y])
    if src == "float32":
        batch = [
            [(rng.standard_normal((1, n)) * s_out * 20000).astype(np.float32)] for _ in range(SETS)
        ]
    elif src == "int16":
        batch = int16_inputs(rng, [1, n])
    else:
        batch = [[rng.integers(-128, 128, size=(1, n), dtype=np.int8)] for _ in range(SETS)]
    assert_batch_same_as_tflm(model, batch, f"QUANTIZE {src}->{dst} seed={seed}")


@SETTINGS
@given(seed=seeds)
def test_dequantize_int16(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 64))
    b = ModelBuilder()
    x = b.tensor("x", [1, n], "int16", scale=f32(log_uniform(rng, 1e-5, 0.1)), zero_point=0)
    y = b.tensor("y", [1, n], "float32")
    b.op("DEQUANTIZE", [x], [y])
    model = b.build([x], [y])
    assert_batch_same_as_tflm(model, int16_inputs(rng, [1, n]), f"DEQUANTIZE int16 seed={seed}")


# ---- CONV_2D / DEPTHWISE_CONV_2D ------------------------------------------------------------


def _out_size(padding: str, size: int, k: int, stride: int, dilation: int) -> int:
    eff = (k - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size - eff + stride) // stride


windows = st.fixed_dictionaries(
    {
        "h": st.integers(1, 7),
        "w": st.integers(1, 7),
        "kh": st.integers(1, 3),
        "kw": st.integers(1, 3),
        "stride": st.integers(1, 2),
        "dilation": st.integers(1, 2),
        "padding": st.sampled_from(["SAME", "VALID"]),
    }
)


def _conv16(op: str, seed: int, win: dict, ic: int, oc: int, extra: dict, case: str, **q) -> None:
    """One CONV_2D / DEPTHWISE_CONV_2D model (weights [oc, kh, kw, ic / groups] or [1, kh, kw,
    oc]) with int16 activations, compared with TFLM on random inputs; `q`: per_channel, bias,
    act, groups (CONV_2D)."""
    oh = _out_size(win["padding"], win["h"], win["kh"], win["stride"], win["dilation"])
    ow = _out_size(win["padding"], win["w"], win["kw"], win["stride"], win["dilation"])
    if oh <= 0 or ow <= 0:
        return
    depthwise = op == "DEPTHWISE_CONV_2D"
    fic = 1 if depthwise else ic // q.get("groups", 1)
    w_shape = (1, win["kh"], win["kw"], oc) if depthwise else (oc, win["kh"], win["kw"], fic)
    rng = np.random.default_rng(seed)
    in_scale = f32(log_uniform(rng, 1e-4, 1e-2))
    w_scales = weight_scales(rng, oc, q["per_channel"])
    y_scale = out_scale(rng, in_scale, w_scales[0], win["kh"] * win["kw"] * fic)
    b = ModelBuilder()
    x = b.tensor("x", [1, win["h"], win["w"], ic], "int16", scale=in_scale, zero_point=0)
    w = weight_tensor(b, rng, w_shape, w_scales, 3 if depthwise else 0)
    bt = bias_tensor(b, rng, oc, in_scale, w_scales, q["bias"])
    y = b.tensor("y", [1, oh, ow, oc], "int16", scale=y_scale, zero_point=0)
    s, d = win["stride"], win["dilation"]
    window = {"stride_w": s, "stride_h": s, "dilation_w_factor": d, "dilation_h_factor": d}
    act = q["act"]
    b.op(
        op,
        [x, w, bt],
        [y],
        padding=win["padding"],
        fused_activation_function=act,
        **window,
        **extra,
    )
    batch = int16_inputs(rng, [1, win["h"], win["w"], ic])
    assert_batch_same_as_tflm(b.build([x], [y]), batch, f"{op} int16 seed={seed} {win} {case}")


def quant(biases: list[str], **more: st.SearchStrategy) -> st.SearchStrategy:
    """per_channel, bias (one of `biases`), act and `more`, as one dict."""
    return st.fixed_dictionaries(
        {
            "per_channel": st.booleans(),
            "bias": st.sampled_from(biases),
            "act": st.sampled_from(ACTIVATIONS),
            **more,
        }
    )


@SETTINGS
@given(
    seed=seeds,
    win=windows,
    channels=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    q=quant(["int64", "int64", "int32", "none"], groups=st.sampled_from([1, 1, 2])),
)
def test_conv_2d_int16(seed, win, channels, q):
    ic, oc = (n * q["groups"] for n in channels)
    _conv16("CONV_2D", seed, win, ic, oc, {}, f"ic={ic} oc={oc} {q}", **q)


@SETTINGS
@given(
    seed=seeds, win=windows, ic=st.integers(1, 6), multiplier=st.integers(1, 2), q=quant(["int64"])
)
def test_depthwise_conv_2d_int16(seed, win, ic, multiplier, q):
    """Always with an int64 bias (what the converter writes): the tflite-micro runtime crashes
    (segmentation fault) on a 16x8 DEPTHWISE_CONV_2D without bias, so there is no reference."""
    extra = {"depth_multiplier": multiplier}
    _conv16("DEPTHWISE_CONV_2D", seed, win, ic, ic * multiplier, extra, f"m={multiplier}", **q)


def test_depthwise_conv_2d_int16_refuses_int32_bias():
    """TFLM's 16x8 depthwise reads its bias as int64; an int32 bias is refused in prepare."""
    b = ModelBuilder()
    x = b.tensor("x", [1, 3, 3, 2], "int16", scale=0.01, zero_point=0)
    w = b.tensor("w", None, "int8", data=np.ones((1, 2, 2, 2)), scale=0.01, zero_point=0)
    bias = b.tensor("bias", None, "int32", data=np.ones(2), scale=1e-4, zero_point=0)
    y = b.tensor("y", [1, 2, 2, 2], "int16", scale=0.01, zero_point=0)
    b.op("DEPTHWISE_CONV_2D", [x, w, bias], [y], padding="VALID", depth_multiplier=1)
    assert init_status(b.build([x], [y])) == "TFL_ERR_UNSUPPORTED_TYPE"


# ---- AVERAGE_POOL_2D / MAX_POOL_2D ----------------------------------------------------------


@SETTINGS
@given(
    seed=seeds,
    op=st.sampled_from(["AVERAGE_POOL_2D", "MAX_POOL_2D"]),
    size=st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 4)),
    window=st.tuples(st.integers(1, 3), st.integers(1, 3), st.sampled_from(["SAME", "VALID"])),
    act=st.sampled_from(ACTIVATIONS),
)
def test_pool_2d_int16(seed, op, size, window, act):
    (h, w, c), (k, stride, padding) = size, window
    oh, ow = _out_size(padding, h, k, stride, 1), _out_size(padding, w, k, stride, 1)
    if oh <= 0 or ow <= 0:
        return
    rng = np.random.default_rng(seed)
    scale = f32(log_uniform(rng, 1e-5, 1e-3))
    b = ModelBuilder()
    x = b.tensor("x", [1, h, w, c], "int16", scale=scale, zero_point=0)
    y = b.tensor("y", [1, oh, ow, c], "int16", scale=scale, zero_point=0)
    opts = {"stride_w": stride, "stride_h": stride, "filter_width": k, "filter_height": k}
    b.op(op, [x], [y], padding=padding, fused_activation_function=act, **opts)
    model = b.build([x], [y])
    assert_batch_same_as_tflm(model, int16_inputs(rng, [1, h, w, c]), f"{op} int16 seed={seed}")


# ---- TRANSPOSE_CONV ---------------------------------------------------------------------------


@SETTINGS
@given(
    seed=seeds,
    size=st.tuples(*[st.integers(1, 4)] * 4),
    window=st.tuples(st.integers(1, 3), st.integers(1, 2), st.sampled_from(["SAME", "VALID"])),
    q=quant(["int64", "int16", "none"]),
)
def test_transpose_conv_int16(seed, size, window, q):
    (ih, iw, ic, oc), (k, stride, padding) = size, window
    per_channel, bias, act = q["per_channel"], q["bias"], q["act"]
    oh, ow = (
        (ih * stride, iw * stride)
        if padding == "SAME"
        else ((ih - 1) * stride + k, (iw - 1) * stride + k)
    )
    rng = np.random.default_rng(seed)
    in_scale = f32(log_uniform(rng, 1e-4, 1e-2))
    w_scales = weight_scales(rng, oc, per_channel)
    y_scale = out_scale(rng, in_scale, w_scales[0], k * k * ic)
    b = ModelBuilder()
    x = b.tensor("x", [1, ih, iw, ic], "int16", scale=in_scale, zero_point=0)
    shape = b.tensor("shape", [4], "int32", data=np.array([1, oh, ow, oc], np.int32))
    w = weight_tensor(b, rng, (oc, k, k, ic), w_scales)
    bt = bias_tensor(b, rng, oc, in_scale, w_scales, bias)
    ins = [shape, w, x] + ([] if bt == -1 else [bt])
    y = b.tensor("y", [1, oh, ow, oc], "int16", scale=y_scale, zero_point=0)
    window = {"padding": padding, "stride_w": stride, "stride_h": stride}
    b.op("TRANSPOSE_CONV", ins, [y], fused_activation_function=act, **window)
    model = b.build([x], [y])
    what = f"TRANSPOSE_CONV int16 seed={seed} k={k} s={stride} {padding} bias={bias}"
    assert_batch_same_as_tflm(model, int16_inputs(rng, [1, ih, iw, ic]), what)


# ---- MEAN -------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["MEAN", "SUM"])
@SETTINGS
@given(
    seed=seeds,
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    data=st.data(),
    keep_dims=st.booleans(),
    same_scale=st.booleans(),
)
def test_mean_int16(op, seed, shape, data, keep_dims, same_scale):
    """Any axes (negative, repeated), keep_dims or not, same or another output scale (SUM: also
    one that holds the whole sum)."""
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank))
    reduced = {a % rank for a in axes}
    out_shape = [
        1 if d in reduced else n for d, n in enumerate(shape) if keep_dims or d not in reduced
    ]
    rng = np.random.default_rng(seed)
    in_scale = f32(log_uniform(rng, 1e-5, 1e-3))
    y_scale = in_scale if same_scale else f32(in_scale * log_uniform(rng, 0.3, 3.0))
    if op == "SUM" and not same_scale:
        y_scale = f32(y_scale * np.prod([shape[a] for a in reduced]))
    b = ModelBuilder()
    x = b.tensor("x", shape, "int16", scale=in_scale, zero_point=0)
    ax = b.tensor("axes", None, "int32", data=np.array(axes, np.int32))
    y = b.tensor("y", out_shape, "int16", scale=y_scale, zero_point=0)
    b.op(op, [x, ax], [y], keep_dims=keep_dims)
    what = f"{op} int16 seed={seed} shape={shape} axes={axes} keep_dims={keep_dims}"
    assert_batch_same_as_tflm(b.build([x], [y]), int16_inputs(rng, shape), what)


def test_reduce_max_refuses_int16():
    """Only MEAN and SUM of the reductions run 16x8 (tfl_kernels_int16.h; TFLM's REDUCE_MAX does
    not take int16)."""
    for op in ("REDUCE_MAX",):
        b = ModelBuilder()
        x = b.tensor("x", [2, 3], "int16", scale=0.01, zero_point=0)
        ax = b.tensor("axes", None, "int32", data=np.array([1], np.int32))
        y = b.tensor("y", [2], "int16", scale=0.01, zero_point=0)
        b.op(op, [x, ax], [y], keep_dims=False)
        assert init_status(b.build([x], [y])) == "TFL_ERR_UNSUPPORTED_TYPE", op


@pytest.mark.parametrize("time_major, n_cell, clip", [(False, 7, 0.0), (True, 8, 2.0)])
def test_lstm_int16(time_major, n_cell, clip):
    """The 16x8 UNIDIRECTIONAL_SEQUENCE_LSTM (int16 x, h and y, int8 weights, int64 gate biases,
    int16 cell state), which TF's converter does not write yet (docs/convert.md): one fixed
    model per layout, built like tests/test_lstm.py's int8 ones, a sequence of full-range int16
    inputs run in one interpreter each, so the state carried between invokes is checked too."""
    from test_lstm import lstm_model  # noqa: PLC0415

    rng = np.random.default_rng(16)
    batch, steps, n_in = 2, 6, 5
    model = lstm_model(rng, batch, steps, n_in, n_cell, time_major, -11, clip, act="int16")
    info = parse_model(model, "lstm16.tflite")
    assert [op.name for op in info.ops] == ["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert check_model(info).deployable
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    sets = [[rng.integers(-32768, 32768, size=shape, dtype=np.int16)] for _ in range(SETS)]
    assert_batch_same_as_tflm(model, sets, f"LSTM 16x8 time_major={time_major} n_cell={n_cell}")

"""Small hand-made models that several test modules (and tests/fuzz) share."""

from __future__ import annotations

from typing import Any

import numpy as np

from support.tflbuilder import ModelBuilder, Tensor, quantized_bias_scale

SMALL_MODEL_SEED = 20261125


def small_model() -> bytes:
    """CONV_2D -> DEPTHWISE_CONV_2D -> MAX_POOL_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX."""
    rng = np.random.default_rng(SMALL_MODEL_SEED)
    b = ModelBuilder()
    x = b.tensor("x", [1, 6, 6, 2], "int8", scale=0.05, zero_point=-1)
    w1 = b.tensor(
        "w1",
        None,
        "int8",
        data=rng.integers(-127, 127, (3, 3, 3, 2)),
        scale=[0.01, 0.02, 0.03],
        zero_point=[0, 0, 0],
        quantized_dimension=0,
    )
    b1 = b.tensor(
        "b1",
        None,
        "int32",
        data=rng.integers(-500, 500, 3),
        scale=quantized_bias_scale(0.05, [0.01, 0.02, 0.03]),
        zero_point=[0, 0, 0],
    )
    h1 = b.tensor("h1", [1, 6, 6, 3], "int8", scale=0.1, zero_point=2)
    b.op(
        "CONV_2D",
        [x, w1, b1],
        [h1],
        padding="SAME",
        stride_w=1,
        stride_h=1,
        fused_activation_function="RELU",
    )
    w2 = b.tensor(
        "w2", None, "int8", data=rng.integers(-127, 127, (1, 3, 3, 3)), scale=0.02, zero_point=0
    )
    b2 = b.tensor("b2", None, "int32", data=rng.integers(-500, 500, 3), scale=0.002, zero_point=0)
    h2 = b.tensor("h2", [1, 4, 4, 3], "int8", scale=0.1, zero_point=0)
    b.op(
        "DEPTHWISE_CONV_2D",
        [h1, w2, b2],
        [h2],
        padding="VALID",
        stride_w=1,
        stride_h=1,
        depth_multiplier=1,
    )
    h3 = b.tensor("h3", [1, 2, 2, 3], "int8", scale=0.1, zero_point=0)
    b.op(
        "MAX_POOL_2D",
        [h2],
        [h3],
        padding="VALID",
        stride_w=2,
        stride_h=2,
        filter_width=2,
        filter_height=2,
    )
    h4 = b.tensor("h4", [1, 12], "int8", scale=0.1, zero_point=0)
    shape = b.tensor("shape", None, "int32", data=np.array([1, 12]))
    b.op("RESHAPE", [h3, shape], [h4], new_shape=[1, 12])
    w3 = b.tensor(
        "w3", None, "int8", data=rng.integers(-127, 127, (5, 12)), scale=0.01, zero_point=0
    )
    h5 = b.tensor("h5", [1, 5], "int8", scale=0.2, zero_point=0)
    b.op("FULLY_CONNECTED", [h4, w3, -1], [h5])
    y = b.tensor("y", [1, 5], "int8", scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [h5], [y], beta=1.0)
    return b.build([x], [y])


def fc_model(inputs: int, units: int) -> bytes:
    """One FULLY_CONNECTED [1, inputs] -> [1, units]: as much flash and RAM as asked (fit tests)."""
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.tensor("x", [1, inputs], "int8", scale=0.05, zero_point=0)
    w = b.tensor(
        "w",
        None,
        "int8",
        data=rng.integers(-127, 128, size=(units, inputs)),
        scale=[0.01],
        zero_point=[0],
    )
    bias = b.tensor(
        "bias",
        None,
        "int32",
        data=np.zeros(units, np.int32),
        scale=quantized_bias_scale(0.05, [0.01]),
        zero_point=[0],
    )
    y = b.tensor("y", [1, units], "int8", scale=0.5, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, bias], [y])
    return b.build([x], [y])


def _int64_bias(
    b: ModelBuilder, rng: np.random.Generator, name: str, in_scale: float, w_scales: list[float]
) -> Tensor:
    """A 16x8 bias: one int64 in [-20000, 20000) per weight scale, at the product scales."""
    n = len(w_scales)
    return b.tensor(
        name,
        None,
        "int64",
        data=rng.integers(-20000, 20000, n),
        scale=quantized_bias_scale(in_scale, w_scales),
        zero_point=[0] * n,
    )


def small_model_16x8() -> bytes:
    """16x8 (int16 activations, int8 per-channel weights, int64 bias): CONV_2D -> DEPTHWISE_CONV_2D
    -> MAX_POOL_2D -> AVERAGE_POOL_2D -> FULLY_CONNECTED (flattening its 4-D input) -> SOFTMAX."""
    rng = np.random.default_rng(SMALL_MODEL_SEED + 16)
    b = ModelBuilder()

    def bias(name: str, n: int, in_scale: float, w_scales: list[float]) -> Tensor:
        return _int64_bias(b, rng, name, in_scale, w_scales)

    x = b.tensor("x", [1, 6, 6, 2], "int16", scale=1 / 8192, zero_point=0)
    s1 = [0.01, 0.02, 0.015, 0.03]
    w1 = b.tensor(
        "w1", None, "int8", data=rng.integers(-127, 128, (4, 3, 3, 2)), scale=s1, zero_point=[0] * 4
    )
    h1 = b.tensor("h1", [1, 6, 6, 4], "int16", scale=1 / 4096, zero_point=0)
    unit: dict[str, Any] = {"stride_w": 1, "stride_h": 1}
    b.op(
        "CONV_2D",
        [x, w1, bias("b1", 4, 1 / 8192, s1)],
        [h1],
        padding="SAME",
        **unit,
        fused_activation_function="RELU",
    )
    s2 = [0.02, 0.01, 0.03, 0.02]
    w2 = b.tensor(
        "w2",
        None,
        "int8",
        data=rng.integers(-127, 128, (1, 3, 3, 4)),
        scale=s2,
        zero_point=[0] * 4,
        quantized_dimension=3,
    )
    h2 = b.tensor("h2", [1, 4, 4, 4], "int16", scale=1 / 2048, zero_point=0)
    dw_inputs = [h1, w2, bias("b2", 4, 1 / 4096, s2)]
    b.op("DEPTHWISE_CONV_2D", dw_inputs, [h2], padding="VALID", **unit, depth_multiplier=1)
    h3 = b.tensor("h3", [1, 2, 2, 4], "int16", scale=1 / 2048, zero_point=0)
    pool: dict[str, Any] = {
        "padding": "VALID",
        "stride_w": 2,
        "stride_h": 2,
        "filter_width": 2,
        "filter_height": 2,
    }
    b.op("MAX_POOL_2D", [h2], [h3], **pool)
    h4 = b.tensor("h4", [1, 2, 2, 4], "int16", scale=1 / 2048, zero_point=0)
    pool = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "filter_width": 2, "filter_height": 2}
    b.op("AVERAGE_POOL_2D", [h3], [h4], **pool)
    s5 = [0.02] * 5
    w5 = b.tensor(
        "w5", None, "int8", data=rng.integers(-127, 128, (5, 16)), scale=s5, zero_point=[0] * 5
    )
    h5 = b.tensor("h5", [1, 5], "int16", scale=1 / 1024, zero_point=0)
    b.op("FULLY_CONNECTED", [h4, w5, bias("b5", 5, 1 / 2048, s5)], [h5])
    y = b.tensor("y", [1, 5], "int16", scale=1 / 32768, zero_point=0)
    b.op("SOFTMAX", [h5], [y], beta=1.0)
    return b.build([x], [y])


def long_sums_model_16x8() -> bytes:
    """16x8 sums longer than one 32-bit SMLAD span (TFL_MAC16_SPAN, 508 products of up to 2^22,
    tfl_kernel_mac16.h): CONV_2D 3x3 over 520 input channels (each tap deeper than a span),
    CONV_2D 3x3 over 64 (576 products a window: the accumulator is widened mid-window),
    DEPTHWISE_CONV_2D 3x3 over 64 channels, FULLY_CONNECTED over 576, 7 units (a partial block
    of four). Channels 0..59 of the first conv have every weight -128 and channels 0..3 of the
    second weight 127 on them: an input at -32768 saturates those 60 to 32767, so the second
    conv's central sums pass 2^31 (540 * 32767 * 127) and only exact 64-bit sums keep the sign."""
    rng = np.random.default_rng(SMALL_MODEL_SEED + 508)
    b = ModelBuilder()

    def weights(name: str, data: np.ndarray, n: int, dim: int = 0) -> Tensor:
        return b.tensor(
            name,
            None,
            "int8",
            data=data,
            scale=[0.01] * n,
            zero_point=[0] * n,
            quantized_dimension=dim,
        )

    def bias(name: str, n: int, in_scale: float) -> Tensor:
        return _int64_bias(b, rng, name, in_scale, [0.01] * n)

    same: dict[str, Any] = {"padding": "SAME", "stride_w": 1, "stride_h": 1}
    scales = [1 / 8192, 0.0407, 0.68, 1.36, 22.7]  # multipliers 3e-5, 6e-4, 5e-3, 6e-4
    x = b.tensor("x", [1, 3, 3, 520], "int16", scale=scales[0], zero_point=0)
    w1 = rng.integers(-128, 128, (64, 3, 3, 520))
    w1[:60] = -128
    h1 = b.tensor("h1", [1, 3, 3, 64], "int16", scale=scales[1], zero_point=0)
    b.op("CONV_2D", [x, weights("w1", w1, 64), bias("b1", 64, scales[0])], [h1], **same)
    w2 = rng.integers(-127, 128, (64, 3, 3, 64))
    w2[:4, :, :, :60] = 127
    h2 = b.tensor("h2", [1, 3, 3, 64], "int16", scale=scales[2], zero_point=0)
    b.op("CONV_2D", [h1, weights("w2", w2, 64), bias("b2", 64, scales[1])], [h2], **same)
    w3 = weights("w3", rng.integers(-127, 128, (1, 3, 3, 64)), 64, 3)
    h3 = b.tensor("h3", [1, 3, 3, 64], "int16", scale=scales[3], zero_point=0)
    b.op("DEPTHWISE_CONV_2D", [h2, w3, bias("b3", 64, scales[2])], [h3], **same, depth_multiplier=1)
    w4 = weights("w4", rng.integers(-127, 128, (7, 576)), 7)
    y = b.tensor("y", [1, 7], "int16", scale=scales[4], zero_point=0)
    b.op("FULLY_CONNECTED", [h3, w4, bias("b4", 7, scales[3])], [y])
    return b.build([x], [y])

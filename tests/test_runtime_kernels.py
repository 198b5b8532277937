"""Differential tests of the runtime's own kernels against tflite-micro, exactly.

Each hypothesis example builds one single-op model with tests/tflbuilder.py (random shapes,
strides, padding, dilation, depth multiplier, activation, per-tensor/per-channel scales), runs a
batch of random inputs through the ASan/UBSan host runner in one process and through
tflite-micro's Python runtime, and requires identical bytes. The example's `seed` drives every
random array; a failure prints it together with the drawn parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime_host import run_model_batch, tflm_reference_batch
from tflbuilder import ModelBuilder, quantized_bias_scale

SETTINGS = settings(max_examples=200, deadline=None, derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow])
INPUT_SETS = 6
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def assert_same(model: bytes, batch: list[list[np.ndarray]], what: str) -> None:
    got = run_model_batch(model, batch)
    want = tflm_reference_batch(model, batch)
    for k, (g_outs, w_outs) in enumerate(zip(got, want)):
        assert len(g_outs) == len(w_outs)
        for i, (g, w) in enumerate(zip(g_outs, w_outs)):
            assert g.dtype == w.dtype and g.shape == w.shape, f"{what}: output {i} {g.shape} vs {w.shape}"
            if not np.array_equal(g, w):
                diff = np.argwhere(g != w)
                raise AssertionError(
                    f"{what}: input set {k} output {i}: {len(diff)} of {g.size} values differ, "
                    f"first at {tuple(diff[0])}: runtime {g[tuple(diff[0])]} tflm {w[tuple(diff[0])]}")


def int8_inputs(rng: np.random.Generator, shape: list[int], n: int = INPUT_SETS) -> list[list[np.ndarray]]:
    return [[rng.integers(-128, 127, size=shape, endpoint=True, dtype=np.int8)] for _ in range(n)]


def log_uniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size=size))


def weight_quant(rng: np.random.Generator, channels: int, per_channel: bool) -> list[float]:
    if per_channel:
        return [float(np.float32(s)) for s in log_uniform(rng, 1e-3, 5e-2, channels)]
    return [float(np.float32(log_uniform(rng, 1e-3, 5e-2)))]


def output_scale(rng: np.random.Generator, in_scale: float, w_scale: float, fan_in: int) -> float:
    """An output scale that keeps most results inside int8, sometimes far inside or outside."""
    typical = in_scale * w_scale * 64.0 * np.sqrt(fan_in)
    return float(np.float32(typical * log_uniform(rng, 0.05, 4.0)))


# ---- FULLY_CONNECTED ------------------------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), batches=st.integers(1, 3), depth=st.integers(1, 48),
       units=st.integers(1, 24), per_channel=st.booleans(), has_bias=st.booleans(),
       keep_num_dims=st.booleans(), act=st.sampled_from(ACTIVATIONS))
def test_fully_connected(seed, batches, depth, units, per_channel, has_bias, keep_num_dims, act):
    rng = np.random.default_rng(seed)
    in_scale = float(np.float32(log_uniform(rng, 0.005, 0.5)))
    in_zp = int(rng.integers(-128, 127))
    w_scales = weight_quant(rng, units, per_channel)
    out_scale = output_scale(rng, in_scale, w_scales[0], depth)
    out_zp = int(rng.integers(-128, 127))
    b = ModelBuilder()
    in_shape = [batches, depth] if not keep_num_dims else [1, batches, depth]
    out_shape = [batches, units] if not keep_num_dims else [1, batches, units]
    x = b.tensor("x", in_shape, "int8", scale=in_scale, zero_point=in_zp)
    w = b.tensor("w", None, "int8", data=rng.integers(-127, 127, size=(units, depth), endpoint=True),
                 scale=w_scales, zero_point=[0] * len(w_scales), quantized_dimension=0)
    inputs = [x, w]
    if has_bias:
        bias = b.tensor("bias", None, "int32", data=rng.integers(-20000, 20000, size=units),
                        scale=quantized_bias_scale(in_scale, w_scales), zero_point=[0] * len(w_scales))
        inputs.append(bias)
    else:
        inputs.append(-1)
    y = b.tensor("y", out_shape, "int8", scale=out_scale, zero_point=out_zp)
    b.op("FULLY_CONNECTED", inputs, [y], fused_activation_function=act, keep_num_dims=keep_num_dims)
    model = b.build([x], [y])
    assert_same(model, int8_inputs(rng, in_shape), f"FULLY_CONNECTED seed={seed}")

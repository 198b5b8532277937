"""The per-channel parameter pool contract (docs/memory-plan.md): CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED and TRANSPOSE_CONV each take 2 int32 words (multiplier, shift) per scale of their
weights from the pool: 2 for per-tensor weights, 2 * output channels for per-channel weights.

Every case runs the sanitized host runner (support/runtime_host.py), which re-initialises with a
heap pool of exactly the words the runtime reported, so a kernel that read per-channel entries of
a per-tensor pool would read past the block (ASan) or another op's entries (outputs would differ
from tflite-micro's, compared exactly). Output channel counts of 7 exercise both the four-channel
loops and the single-channel tails.
"""

from __future__ import annotations

import numpy as np
import pytest

from support.runtime_host import init_status, model_info, run_model_batch, tflm_reference_batch
from support.tflbuilder import ModelBuilder, quantized_bias_scale
from tinyflash.model import parse_model
from tinyflash.plan import plan_memory

OC = 7
IN_SCALE = 0.05
OPS = ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"]


WEIGHT_SHAPES = {
    "FULLY_CONNECTED": (OC, 12),
    "CONV_2D": (OC, 3, 3, 4),
    "DEPTHWISE_CONV_2D": (1, 3, 3, OC),
    "TRANSPOSE_CONV": (OC, 3, 3, 4),
}
# Quantized axis that is not the output channels', and its size (neither 1 nor OC).
OTHER_AXIS = {"FULLY_CONNECTED": 1, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 1, "TRANSPOSE_CONV": 3}


def _weights(
    b: ModelBuilder,
    rng: np.random.Generator,
    op: str,
    scales: list[float],
    name: str,
    axis: int | None = None,
):
    """Weights and bias for `op` with OC output channels, quantized along the output-channel axis
    of the op's weight layout unless `axis` is given (the bias then stays per-tensor)."""
    shape = WEIGHT_SHAPES[op]
    bias_scales = quantized_bias_scale(IN_SCALE, scales)
    if axis is None:
        axis = 3 if op == "DEPTHWISE_CONV_2D" else 0
    else:
        bias_scales = bias_scales[:1]
    w = b.tensor(
        f"{name}/w",
        None,
        "int8",
        data=rng.integers(-127, 127, size=shape, endpoint=True),
        scale=scales,
        zero_point=[0] * len(scales),
        quantized_dimension=axis,
    )
    bias = b.tensor(
        f"{name}/b",
        None,
        "int32",
        data=rng.integers(-3000, 3000, size=OC),
        scale=bias_scales,
        zero_point=[0] * len(bias_scales),
    )
    return w, bias


def single_op_model(
    op: str, scales: list[float], seed: int = 0, axis: int | None = None
) -> tuple[bytes, list[int]]:
    """One `op` with OC output channels and the given weight scales; returns (model, input shape)."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    if op == "FULLY_CONNECTED":
        in_shape, out_shape = [2, 12], [2, OC]
    elif op == "DEPTHWISE_CONV_2D":
        in_shape, out_shape = [1, 5, 5, OC], [1, 5, 5, OC]
    elif op == "TRANSPOSE_CONV":
        in_shape, out_shape = [1, 3, 3, 4], [1, 6, 6, OC]
    else:
        in_shape, out_shape = [1, 5, 5, 4], [1, 5, 5, OC]
    x = b.tensor("x", in_shape, "int8", scale=IN_SCALE, zero_point=-3)
    w, bias = _weights(b, rng, op, scales, "op", axis)
    y = b.tensor("y", out_shape, "int8", scale=0.4, zero_point=2)
    if op == "FULLY_CONNECTED":
        b.op(op, [x, w, bias], [y])
    elif op == "CONV_2D":
        b.op(op, [x, w, bias], [y], padding="SAME", stride_w=1, stride_h=1)
    elif op == "DEPTHWISE_CONV_2D":
        b.op(op, [x, w, bias], [y], padding="SAME", stride_w=1, stride_h=1, depth_multiplier=1)
    else:
        shape = b.tensor("out_shape", [4], "int32", data=np.array(out_shape, np.int32))
        b.op(op, [shape, w, x, bias], [y], padding="SAME", stride_w=2, stride_h=2)
    return b.build([x], [y]), in_shape


def _assert_exact(model: bytes, in_shape: list[int], what: str) -> None:
    rng = np.random.default_rng(1)
    batch = [
        [rng.integers(-128, 127, size=in_shape, endpoint=True, dtype=np.int8)] for _ in range(3)
    ]
    for k, (got, want) in enumerate(
        zip(run_model_batch(model, batch), tflm_reference_batch(model, batch))
    ):
        assert np.array_equal(got[0], want[0]), f"{what}: input set {k} differs from tflite-micro"


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("op", OPS)
def test_pool_words_per_weight_scale(op: str, per_channel: bool) -> None:
    scales = [0.004 * (k + 1) for k in range(OC)] if per_channel else [0.01]
    model, in_shape = single_op_model(op, scales)
    words = 2 * OC if per_channel else 2
    assert model_info(model).pool_used == words
    assert plan_memory(parse_model(model, op)).pool_words == words
    _assert_exact(model, in_shape, f"{op} {'per-channel' if per_channel else 'per-tensor'}")


def test_ops_find_their_own_entries_in_a_mixed_pool() -> None:
    """CONV_2D per-tensor -> DEPTHWISE per-channel -> FULLY_CONNECTED per-tensor: 2 + 14 + 2 words,
    each op's multipliers and shifts at its own offset in the pool."""
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.tensor("x", [1, 4, 4, 4], "int8", scale=IN_SCALE, zero_point=-3)
    w1, b1 = _weights(b, rng, "CONV_2D", [0.02], "conv")
    a1 = b.tensor("a1", [1, 4, 4, OC], "int8", scale=IN_SCALE, zero_point=1)
    b.op("CONV_2D", [x, w1, b1], [a1], padding="SAME", stride_w=1, stride_h=1)
    w2, b2 = _weights(b, rng, "DEPTHWISE_CONV_2D", [0.01 * (k + 1) for k in range(OC)], "dw")
    a2 = b.tensor("a2", [1, 4, 4, OC], "int8", scale=IN_SCALE, zero_point=-1)
    b.op(
        "DEPTHWISE_CONV_2D",
        [a1, w2, b2],
        [a2],
        padding="SAME",
        stride_w=1,
        stride_h=1,
        depth_multiplier=1,
    )
    flat = b.tensor("flat", [1, 16 * OC], "int8", scale=IN_SCALE, zero_point=-1)
    b.op(
        "RESHAPE",
        [a2, b.tensor("shape", [2], "int32", data=np.array([1, 16 * OC], np.int32))],
        [flat],
    )
    w3 = b.tensor(
        "fc/w",
        None,
        "int8",
        data=rng.integers(-127, 127, size=(5, 16 * OC), endpoint=True),
        scale=[0.003],
        zero_point=[0],
    )
    y = b.tensor("y", [1, 5], "int8", scale=0.5, zero_point=0)
    b.op("FULLY_CONNECTED", [flat, w3, -1], [y])
    model = b.build([x], [y])
    assert model_info(model).pool_used == 2 + 2 * OC + 2
    assert plan_memory(parse_model(model, "mixed")).pool_words == 2 + 2 * OC + 2
    _assert_exact(model, [1, 4, 4, 4], "conv/depthwise/fc mixed pool")


@pytest.mark.parametrize("op", OPS)
def test_scale_count_neither_one_nor_channels_refused(op: str) -> None:
    """Weights quantized along another axis (a valid tensor, 12, 3 or 4 scales for 7 output
    channels): the kernel's prepare refuses them, so it never allocates or reads a wrong count."""
    axis = OTHER_AXIS[op]
    count = WEIGHT_SHAPES[op][axis]
    assert count not in (1, OC)
    model, _ = single_op_model(op, [0.01 + 0.001 * k for k in range(count)], axis=axis)
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"
    ok, _ = single_op_model(op, [0.01])  # the same model per-tensor is accepted
    assert init_status(ok) == "TFL_OK"

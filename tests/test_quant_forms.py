"""Quantization forms of conv biases that converters write and TFLM accepts, built with the
flatbuffer builder: per-tensor, per-channel along axis 0 (current converters), and per-channel
carrying the filter's quantized_dimension (3) on a 1-D bias (older converters; TFLM's
person-detection example). The C reader and model.py accept all three, and the model runs
bit-exact against tflite-micro; quantization that is really inconsistent (a scale count that is
no dimension of the bias, a zero or negative scale) stays refused."""

from __future__ import annotations

import numpy as np
import pytest

from support.runtime_host import init_status, run_model_batch, tflm_reference_batch
from support.tflbuilder import ModelBuilder
from tinyflash.errors import TinyflashError
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model

OUT_CHANNELS = 3
W_SCALES = [0.011, 0.017, 0.023]
IN_SCALE = 0.02


def conv_model(bias_scales: list[float], bias_axis: int) -> bytes:
    rng = np.random.default_rng(12)
    b = ModelBuilder()
    x = b.tensor("x", [1, 5, 5, 2], "int8", scale=IN_SCALE, zero_point=-4)
    w = b.tensor(
        "w",
        [OUT_CHANNELS, 3, 3, 2],
        "int8",
        data=rng.integers(-127, 128, size=(OUT_CHANNELS, 3, 3, 2)),
        scale=W_SCALES,
        zero_point=0,
        quantized_dimension=0,
    )
    bias = b.tensor(
        "bias",
        [OUT_CHANNELS],
        "int32",
        data=rng.integers(-900, 900, OUT_CHANNELS),
        scale=bias_scales,
        zero_point=0,
        quantized_dimension=bias_axis,
    )
    y = b.tensor("y", [1, 5, 5, OUT_CHANNELS], "int8", scale=0.05, zero_point=3)
    b.op(
        "CONV_2D",
        [x, w, bias],
        [y],
        padding="SAME",
        stride_w=1,
        stride_h=1,
        fused_activation_function="NONE",
    )
    return b.build(inputs=[x], outputs=[y])


PER_CHANNEL = [IN_SCALE * s for s in W_SCALES]


@pytest.mark.parametrize(
    "scales, axis",
    [
        ([IN_SCALE * 0.011], 0),  # per-tensor
        (PER_CHANNEL, 0),  # per-channel, current converters
        (PER_CHANNEL, 3),  # per-channel with the filter's axis: older converters
    ],
    ids=["per-tensor", "per-channel-axis0", "per-channel-axis3"],
)
def test_bias_forms_tflm_accepts(scales: list[float], axis: int) -> None:
    model = conv_model(scales, axis)
    assert init_status(model) == "TFL_OK"
    report = check_model(parse_model(model, "conv"))
    assert report.deployable, report.offenders
    rng = np.random.default_rng(5)
    batch = [[rng.integers(-128, 128, size=(1, 5, 5, 2), dtype=np.int8)] for _ in range(4)]
    for got, want in zip(run_model_batch(model, batch), tflm_reference_batch(model, batch)):
        assert np.array_equal(got[0], want[0])


def test_bias_scale_count_that_is_no_dimension_is_refused() -> None:
    model = conv_model(PER_CHANNEL[:2], 3)  # 2 scales on a bias of 3: inconsistent
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"
    with pytest.raises(TinyflashError, match="per-channel scales"):
        parse_model(model, "conv")
    model = conv_model(PER_CHANNEL[:2], 0)
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


@pytest.mark.parametrize("bad", [0.0, -0.001])
def test_bias_zero_or_negative_scale_is_refused_by_check(bad: float) -> None:
    model = conv_model([PER_CHANNEL[0], bad, PER_CHANNEL[2]], 3)
    report = check_model(parse_model(model, "conv"))
    assert not report.deployable
    assert any("positive" in m for m in report.offenders), report.offenders

"""GREATER with int16 inputs: what TFLM outputs, and why tinyflash refuses it (issue 15).

TFLM's comparison prepare computes the rescale parameters for int8 inputs only; its int16 eval
then rescales with an unset parameter block (zero in the Python runtime's fresh arena), so every
output is false. This test pins that down: when TFLM starts comparing int16 values, it fails and
the kernel should be added (docs/ops.md lists the gap with this reason, tinyflash.ops.KNOWN_GAPS)."""

from __future__ import annotations

import numpy as np
import pytest

from support.runtime_host import init_status, tflm_reference_batch
from support.tflbuilder import ModelBuilder
from tinyflash.ops import KNOWN_GAPS


def greater16(scale: float, zero_point: int) -> bytes:
    b = ModelBuilder()
    x = b.tensor("x", [1, 16], "int16", scale=scale, zero_point=zero_point)
    y = b.tensor("y", [1, 16], "int16", scale=scale, zero_point=zero_point)
    o = b.tensor("o", [1, 16], "bool")
    b.op("GREATER", [x, y], [o])
    return b.build([x, y], [o])


@pytest.mark.parametrize("scale", [0.001, 0.5])
def test_tflm_int16_greater_outputs_false_whatever_the_inputs(scale: float) -> None:
    model = greater16(scale, 0)
    rng = np.random.default_rng(16)
    batch = [
        [rng.integers(-32768, 32768, (1, 16), dtype=np.int16) for _ in range(2)] for _ in range(8)
    ]
    ref = tflm_reference_batch(model, batch)
    assert any(bool((x > y).any()) for x, y in batch)  # a real comparison would say true
    assert all(not r[0].any() for r in ref)
    # tinyflash's GREATER refuses int16 rather than copy that
    assert init_status(model) == "TFL_ERR_UNSUPPORTED_TYPE"
    assert ("GREATER", "int16 -> bool") in KNOWN_GAPS

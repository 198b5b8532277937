"""Hostile models: truncations, bit flips and extreme 32-bit words written into a small
multi-op model go through tfl_init and two tfl_invoke calls under ASan/UBSan. Every one must end
with TFL_OK or an error status — never a sanitizer report, a signal or a hang."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from runtime_host import host_run, model_info
from tflbuilder import ModelBuilder, quantized_bias_scale

SEED = 20261125


def small_model() -> bytes:
    """CONV_2D -> DEPTHWISE_CONV_2D -> MAX_POOL_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX."""
    rng = np.random.default_rng(SEED)
    b = ModelBuilder()
    x = b.tensor("x", [1, 6, 6, 2], "int8", scale=0.05, zero_point=-1)
    w1 = b.tensor("w1", None, "int8", data=rng.integers(-127, 127, (3, 3, 3, 2)), scale=[0.01, 0.02, 0.03],
                  zero_point=[0, 0, 0], quantized_dimension=0)
    b1 = b.tensor("b1", None, "int32", data=rng.integers(-500, 500, 3),
                  scale=quantized_bias_scale(0.05, [0.01, 0.02, 0.03]), zero_point=[0, 0, 0])
    h1 = b.tensor("h1", [1, 6, 6, 3], "int8", scale=0.1, zero_point=2)
    b.op("CONV_2D", [x, w1, b1], [h1], padding="SAME", stride_w=1, stride_h=1,
         fused_activation_function="RELU")
    w2 = b.tensor("w2", None, "int8", data=rng.integers(-127, 127, (1, 3, 3, 3)), scale=0.02, zero_point=0)
    b2 = b.tensor("b2", None, "int32", data=rng.integers(-500, 500, 3), scale=0.002, zero_point=0)
    h2 = b.tensor("h2", [1, 4, 4, 3], "int8", scale=0.1, zero_point=0)
    b.op("DEPTHWISE_CONV_2D", [h1, w2, b2], [h2], padding="VALID", stride_w=1, stride_h=1,
         depth_multiplier=1)
    h3 = b.tensor("h3", [1, 2, 2, 3], "int8", scale=0.1, zero_point=0)
    b.op("MAX_POOL_2D", [h2], [h3], padding="VALID", stride_w=2, stride_h=2, filter_width=2,
         filter_height=2)
    h4 = b.tensor("h4", [1, 12], "int8", scale=0.1, zero_point=0)
    shape = b.tensor("shape", None, "int32", data=np.array([1, 12]))
    b.op("RESHAPE", [h3, shape], [h4], new_shape=[1, 12])
    w3 = b.tensor("w3", None, "int8", data=rng.integers(-127, 127, (5, 12)), scale=0.01, zero_point=0)
    h5 = b.tensor("h5", [1, 5], "int8", scale=0.2, zero_point=0)
    b.op("FULLY_CONNECTED", [h4, w3, -1], [h5])
    y = b.tensor("y", [1, 5], "int8", scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [h5], [y], beta=1.0)
    return b.build([x], [y])


def mutations(model: bytes, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    out = []
    for n in range(0, len(model), max(1, len(model) // 60)):
        out.append((f"truncated to {n}", model[:n]))
    for _ in range(120):
        pos, bit = int(rng.integers(len(model))), int(rng.integers(8))
        m = bytearray(model)
        m[pos] ^= 1 << bit
        out.append((f"bit {bit} of byte {pos} flipped", bytes(m)))
    for _ in range(60):
        pos = int(rng.integers(len(model) - 4)) & ~3
        word = int(rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x00010000, 0xFFFF, len(model)]))
        m = bytearray(model)
        m[pos:pos + 4] = word.to_bytes(4, "little")
        out.append((f"word {word:#x} at {pos}", bytes(m)))
    return out


def test_small_model_is_valid() -> None:
    info = model_info(small_model())
    assert info.op_count == 6


def test_malformed_models_never_crash() -> None:
    model = small_model()
    rng = np.random.default_rng(SEED)
    cases = mutations(model, rng)

    def run(case: tuple[str, bytes]) -> tuple[str, int, str, str]:
        what, data = case
        r = host_run(data, 2, timeout=60)
        return what, r.returncode, r.status or r.invoke_status, r.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    crashes = [(what, rc, err[-1500:]) for what, rc, _, err in results if rc not in (0, 3, 4)]
    assert not crashes, f"seed={SEED}: {len(crashes)} crashes, first: {crashes[0]}"
    statuses = {status for _, rc, status, _ in results}
    # the mutations must actually reach the checks, not just pass through
    assert "TFL_ERR_MODEL_TRUNCATED" in statuses and len(statuses) >= 3, statuses

"""Random multi-op int8 networks written with support/tflbuilder.py: a chain of CONV_2D,
DEPTHWISE_CONV_2D, MAX_POOL_2D and AVERAGE_POOL_2D layers (random geometry and quantization),
then RESHAPE -> FULLY_CONNECTED -> SOFTMAX; the softmax and the chain's last activation are the
outputs. Each is run three ways — the runtime's sequential
layout, a lifetime-based memory plan, and that plan with RESHAPE aliasing its input — and all
must equal tflite-micro exactly. Catches interactions a single-op test cannot: tensors sharing
arena bytes, in-place reshape, quantization handed from layer to layer."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.runtime_host import greedy_plan, host_run, run_model_batch, tflm_reference_batch
from support.tflbuilder import ModelBuilder, quantized_bias_scale

LAYERS = ["CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D"]


def build_chain(seed: int, layers: list[str], h: int, w: int, c: int) -> bytes:
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    scale = float(np.float32(rng.uniform(0.01, 0.1)))
    zp = int(rng.integers(-20, 20))
    x = b.tensor("x", [1, h, w, c], "int8", scale=scale, zero_point=zp)
    cur = x
    for i, kind in enumerate(layers):
        padding = str(rng.choice(["SAME", "VALID"]))
        k = int(rng.integers(1, 4))
        if padding == "VALID":
            k = min(k, h, w)
        stride = int(rng.choice([1, 1, 2]))
        oh = (h + stride - 1) // stride if padding == "SAME" else (h - k + stride) // stride
        ow = (w + stride - 1) // stride if padding == "SAME" else (w - k + stride) // stride
        act = str(rng.choice(["NONE", "RELU", "RELU6"]))
        if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            out = b.tensor(f"t{i}", [1, oh, ow, c], "int8", scale=scale, zero_point=zp)
            b.op(
                kind,
                [cur],
                [out],
                padding=padding,
                stride_w=stride,
                stride_h=stride,
                filter_width=k,
                filter_height=k,
                fused_activation_function=act,
            )
        else:
            oc = int(rng.integers(1, 6)) if kind == "CONV_2D" else c * int(rng.integers(1, 3))
            shape = (oc, k, k, c) if kind == "CONV_2D" else (1, k, k, oc)
            w_scales = [float(np.float32(s)) for s in rng.uniform(0.005, 0.03, oc)]
            wt = b.tensor(
                f"w{i}",
                None,
                "int8",
                data=rng.integers(-127, 127, shape, endpoint=True),
                scale=w_scales,
                zero_point=[0] * oc,
                quantized_dimension=0 if kind == "CONV_2D" else 3,
            )
            bias = b.tensor(
                f"b{i}",
                None,
                "int32",
                data=rng.integers(-2000, 2000, oc),
                scale=quantized_bias_scale(scale, w_scales),
                zero_point=[0] * oc,
            )
            # std of the accumulator ~ sqrt(fan_in) * 74 * 73 * scale * w_scale: cover ~3 std
            fan_in = k * k * (c if kind == "CONV_2D" else 1)
            new_scale = float(
                np.float32(
                    127 * np.sqrt(fan_in) * scale * np.mean(w_scales) * rng.uniform(0.5, 2.0)
                )
            )
            new_zp = int(rng.integers(-30, 30))
            out = b.tensor(f"t{i}", [1, oh, ow, oc], "int8", scale=new_scale, zero_point=new_zp)
            options = dict(
                padding=padding, stride_w=stride, stride_h=stride, fused_activation_function=act
            )
            if kind == "DEPTHWISE_CONV_2D":
                options["depth_multiplier"] = oc // c
            b.op(kind, [cur, wt, bias], [out], **options)
            scale, zp, c = new_scale, new_zp, oc
        cur, h, w = out, oh, ow
    flat = b.tensor("flat", [1, h * w * c], "int8", scale=scale, zero_point=zp)
    b.op(
        "RESHAPE",
        [cur, b.tensor("shape", None, "int32", data=np.array([1, h * w * c]))],
        [flat],
        new_shape=[1, h * w * c],
    )
    units = int(rng.integers(2, 10))
    fw = b.tensor(
        "fw",
        None,
        "int8",
        data=rng.integers(-127, 127, (units, h * w * c)),
        scale=0.01,
        zero_point=0,
    )
    logits = b.tensor(
        "logits",
        [1, units],
        "int8",
        scale=float(np.float32(127 * np.sqrt(h * w * c) * scale * 0.01)),
        zero_point=0,
    )
    b.op("FULLY_CONNECTED", [flat, fw, -1], [logits])
    y = b.tensor("y", [1, units], "int8", scale=1 / 256, zero_point=-128)
    b.op("SOFTMAX", [logits], [y], beta=1.0)
    return b.build([x], [y, cur])  # the chain's last activation is an output too


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    layers=st.lists(st.sampled_from(LAYERS), min_size=1, max_size=4),
    h=st.integers(3, 12),
    w=st.integers(3, 12),
    c=st.integers(1, 4),
)
def test_random_chain_all_layouts_match_tflm(seed, layers, h, w, c):
    model = build_chain(seed, layers, h, w, c)
    rng = np.random.default_rng(seed)
    batch = [
        [rng.integers(-128, 127, (1, h, w, c), endpoint=True, dtype=np.int8)] for _ in range(4)
    ]
    want = tflm_reference_batch(model, batch)
    seq = host_run(model)
    for alias in (None, False, True):
        offsets = None
        if alias is not None:
            offsets, planned = greedy_plan(model, alias)
            assert host_run(model, offsets=offsets).arena_used == planned <= seq.arena_used
        got = run_model_batch(model, batch, offsets=offsets)
        for k, (g, wnt) in enumerate(zip(got, want)):
            for i in range(2):
                assert np.array_equal(g[i], wnt[i]), (
                    f"seed={seed} layers={layers} alias={alias} input {k} output {i}"
                )

"""Clustered and pruned int8 models for the compressed-weight tests and measurements.

`digits_wide` trains (a few epochs, fixed seeds) a wider CNN on scikit-learn's digits — conv 16,
conv 32, max-pool, dense 96, dense 10: 54,864 weights, most of the flash in weights, like the
issue's 64 KB digits CNN — and converts it with `tinyflash convert` (real TensorFlow conversion).
`cluster` and `prune` then rewrite the int8 weights of its CONV_2D / DEPTHWISE_CONV_2D /
FULLY_CONNECTED ops in place (same file size, still a valid model TFLM runs): clustering snaps
each tensor to 16 levels (1-D k-means on the int8 values), pruning zeroes the 80 % of each tensor
with the smallest magnitude. tfmot's clustering and pruning leave the same kind of int8 weights
after conversion; this gets them without a tfmot training loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash import compress
from tinyflash.model import load_model, parse_model

SEED = 20261208
EPOCHS = 8


def _build():  # noqa: ANN202 - a Keras model
    import keras

    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, activation="relu")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="digits_wide")


def digits_wide(out_dir: Path) -> Path:
    """The wider digits CNN as a full-int8 .tflite in out_dir (trained and converted once)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import importlib.util
    import sys

    tflite = out_dir / "digits_wide.tflite"
    if tflite.is_file():
        return tflite
    repo = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("digits_train", repo / "examples/digits/train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    sys.modules["digits_train"] = train
    spec.loader.exec_module(train)
    train.fit_and_save(SEED, train.load_data, _build, EPOCHS, out_dir / "digits_wide.keras")
    from tinyflash.convert import convert_model

    convert_model(out_dir / "digits_wide.keras", tflite, out_dir / "calibration.npz", force=True)
    return tflite


def _weights(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) in the file of every weight tensor the runtime could store compressed."""
    info = parse_model(data, "model.tflite")
    spans = compress._buffer_spans(data)
    return [spans[info.tensors[r.tensor].buffer] for r in compress.analyze(info, data)]


def _rewrite(src: Path, dst: Path, fn: Callable[[np.ndarray], np.ndarray]) -> Path:
    data = bytearray(src.read_bytes())
    for offset, length in _weights(bytes(data)):
        w = np.frombuffer(bytes(data[offset : offset + length]), np.int8)
        data[offset : offset + length] = fn(w).astype(np.int8).tobytes()
    dst.write_bytes(bytes(data))
    load_model(dst)  # still a valid model
    return dst


def _kmeans16(w: np.ndarray) -> np.ndarray:
    values = w.astype(np.float64)
    centers = np.quantile(values, np.linspace(0, 1, 16))
    for _ in range(20):
        label = np.abs(values[:, None] - centers[None]).argmin(1)
        for k in range(16):
            if np.any(label == k):
                centers[k] = values[label == k].mean()
    levels = np.clip(np.round(centers), -127, 127)
    return levels[np.abs(values[:, None] - levels[None]).argmin(1)]


def cluster(src: Path, dst: Path) -> Path:
    """src with each weight tensor snapped to (at most) 16 int8 values."""
    return _rewrite(src, dst, _kmeans16)


def prune(src: Path, dst: Path, fraction: float = 0.8) -> Path:
    """src with the `fraction` smallest-magnitude weights of each tensor set to 0."""

    def zero(w: np.ndarray) -> np.ndarray:
        out = w.copy()
        out[np.argsort(np.abs(w.astype(np.int32)), kind="stable")[: int(len(w) * fraction)]] = 0
        return out

    return _rewrite(src, dst, zero)


#: SAME padding, stride 1
_SAME1: dict[str, Any] = {"padding": "SAME", "stride_w": 1, "stride_h": 1}


def _drawn(
    rng: np.random.Generator, shape: tuple[int, ...], axis: int, levels: int, zeros: float
) -> np.ndarray:
    """int8 weights: each slice along `axis` drawn from its own `levels` values, then a
    fraction `zeros` set to 0."""
    moved = np.moveaxis(np.zeros(shape, np.int64), axis, 0)
    for c in range(moved.shape[0]):
        palette = rng.choice(np.arange(-127, 128), levels, replace=False)
        moved[c] = rng.choice(palette, moved[c].shape)
    w = np.moveaxis(moved, 0, axis)
    w[rng.random(shape) < zeros] = 0
    return w


def _builder(seed: int, levels: int, zeros: float) -> tuple[Any, Callable[..., tuple[Any, Any]]]:
    """A ModelBuilder and filt(name, shape, scale, step, in_scale, axis=0) adding a weight
    tensor drawn by _drawn (per-channel scales scale + step * c along axis; step None: one
    palette and one scale for the whole tensor) and its int32 bias."""
    from support.tflbuilder import ModelBuilder, quantized_bias_scale

    rng = np.random.default_rng(seed)
    b = ModelBuilder()

    def filt(
        name: str,
        shape: tuple[int, ...],
        scale: float,
        step: float | None,
        in_scale: float,
        axis: int = 0,
    ) -> tuple[Any, Any]:
        channels = shape[axis]
        if step is None:
            w = _drawn(rng, (1, int(np.prod(shape))), 0, levels, zeros).reshape(shape)
            scales: Any = scale
            bias_scale: Any = in_scale * scale
        else:
            w = _drawn(rng, shape, axis, levels, zeros)
            scales = [scale + step * c for c in range(channels)]
            bias_scale = quantized_bias_scale(in_scale, scales)
        weights = b.tensor(
            f"w{name}", None, "int8", data=w, scale=scales, zero_point=0, quantized_dimension=axis
        )
        bias = b.tensor(
            f"b{name}",
            None,
            "int32",
            data=rng.integers(-1000, 1000, channels),
            scale=bias_scale,
            zero_point=0,
        )
        return weights, bias

    return b, filt


def synthetic(levels: int, zeros: float, seed: int = 7) -> bytes:
    """A small int8 model with larger weights than the digits CNNs' (CONV_2D 40x3x3x32, whose
    channels the runtime decodes a few at a time; DEPTHWISE_CONV_2D 3x3x40; FULLY_CONNECTED
    12x1440 per-tensor): each weight tensor drawn from `levels` int8 values per output channel
    (per tensor for the FC) with a fraction `zeros` set to 0."""
    b, filt = _builder(seed, levels, zeros)
    x = b.tensor("x", [1, 6, 6, 32], "int8", scale=0.05, zero_point=-3)
    w1, b1 = filt("1", (40, 3, 3, 32), 0.002, 0.0001, 0.05)
    h1 = b.tensor("h1", [1, 6, 6, 40], "int8", scale=0.08, zero_point=1)
    b.op("CONV_2D", [x, w1, b1], [h1], fused_activation_function="RELU", **_SAME1)
    w2, b2 = filt("2", (1, 3, 3, 40), 0.01, 0.0002, 0.08, axis=3)
    h2 = b.tensor("h2", [1, 6, 6, 40], "int8", scale=0.06, zero_point=-2)
    b.op("DEPTHWISE_CONV_2D", [h1, w2, b2], [h2], depth_multiplier=1, **_SAME1)
    w3, b3 = filt("3", (12, 1440), 0.004, None, 0.06)
    y = b.tensor("y", [1, 12], "int8", scale=0.2, zero_point=0)
    b.op("FULLY_CONNECTED", [h2, w3, b3], [y])
    return b.build(inputs=[x], outputs=[y])


def synthetic_tconv(levels: int, zeros: float, seed: int = 9) -> bytes:
    """TRANSPOSE_CONV (stride 2, SAME) with weights 16x3x3x8 drawn like synthetic()'s."""
    b, filt = _builder(seed, levels, zeros)
    shape = b.tensor("shape", None, "int32", data=np.array([1, 8, 8, 16]))
    w, bias = filt("", (16, 3, 3, 8), 0.003, 0.0001, 0.05)
    x = b.tensor("x", [1, 4, 4, 8], "int8", scale=0.05, zero_point=4)
    y = b.tensor("y", [1, 8, 8, 16], "int8", scale=0.1, zero_point=-5)
    b.op("TRANSPOSE_CONV", [shape, w, x, bias], [y], padding="SAME", stride_w=2, stride_h=2)
    return b.build(inputs=[x], outputs=[y])

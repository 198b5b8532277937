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
from pathlib import Path

import numpy as np

from tinyflash import compress
from tinyflash.model import load_model, parse_model

SEED = 20261208
EPOCHS = 8


def _build():  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(160, activation="relu")(x)
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


def _rewrite(src: Path, dst: Path, fn) -> Path:  # type: ignore[no-untyped-def]
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

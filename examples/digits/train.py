"""Train the demo model: a small CNN on scikit-learn's digits (8x8 grayscale, 10 classes, 1,797
images shipped inside scikit-learn — no download).

Deterministic: fixed seeds, TensorFlow op determinism, a fixed train/test split. Writes, next to
this file:

  digits.keras        the float Keras 3 model
  calibration.npz     x: 200 training images (float32, [0, 1], shape (200, 8, 8, 1))
  test.npz            x: the held-out images, y: their labels (int64)
  digits_int8.tflite  the full-int8 conversion (`tinyflash convert`), unless --no-convert

Run from the repository: .venv/bin/python examples/digits/train.py
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261125
CALIBRATION_SAMPLES = 200
TEST_FRACTION = 0.25
EPOCHS = 40


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1] as (N, 8, 8, 1) float32, split 75/25 with a fixed permutation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0)[..., None]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(labels))
    cut = int(round(len(labels) * (1 - TEST_FRACTION)))
    train, test = order[:cut], order[cut:]
    return images[train], labels[train], images[test], labels[test]


def build_model():  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw2")(x)
    x = keras.layers.Conv2D(24, 1, activation="relu", name="pw2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def fit_and_save(
    seed: int,
    load: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    build: Callable[[], Any],
    epochs: int,
    model_path: Path,
) -> tuple[float, int, int]:
    """Seed, load the split, build, train (Adam 3e-3, batch 64) and save the model at model_path,
    with calibration.npz and test.npz beside it; returns (test accuracy, train and test sizes).
    Shared with examples/kws_dscnn/train.py."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, x_test, y_test = load()
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, shuffle=True, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    # Save a clean copy: same weights, no optimizer state (a third of the file size).
    clean = keras.models.clone_model(model)
    clean.set_weights(model.get_weights())
    clean.save(model_path)
    np.savez_compressed(model_path.parent / "calibration.npz", x=x_train[:CALIBRATION_SAMPLES])
    np.savez_compressed(model_path.parent / "test.npz", x=x_test, y=y_test)
    return float(accuracy), len(y_train), len(y_test)


def train(out_dir: Path) -> dict[str, float]:
    accuracy, train_samples, test_samples = fit_and_save(
        SEED, load_data, build_model, EPOCHS, out_dir / "digits.keras"
    )
    return {
        "test_accuracy": accuracy,
        "train_samples": float(train_samples),
        "test_samples": float(test_samples),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: here)")
    parser.add_argument("--no-convert", action="store_true", help="skip the int8 conversion")
    args = parser.parse_args(argv)
    stats = train(args.out)
    print(
        f"float test accuracy {stats['test_accuracy']:.4f} on {int(stats['test_samples'])} "
        f"images ({int(stats['train_samples'])} for training)"
    )
    if not args.no_convert:
        from tinyflash.convert import convert_model

        result = convert_model(
            args.out / "digits.keras",
            args.out / "digits_int8.tflite",
            args.out / "calibration.npz",
            force=True,
        )
        print(
            f"digits_int8.tflite: {result.tflite_bytes} B in {result.total_seconds:.1f} s "
            f"(converter {result.convert_seconds:.2f} s), ops {result.op_histogram}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

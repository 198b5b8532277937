"""Train the MNIST-row LSTM example: scikit-learn's digits (8x8, shipped inside scikit-learn, no
download) upsampled to 28x28 (nearest neighbour), read as 28 time steps of 28 features, into a
tf-keras LSTM(32) + Dense(10). Deterministic: fixed seeds and split.

Writes into --out (default: next to this file):

  digits_lstm.h5           the float tf-keras model, LSTM not unrolled (converts to the fused
                           UNIDIRECTIONAL_SEQUENCE_LSTM)
  digits_lstm_unrolled.h5  the same weights with unroll=True (converts to one set of
                           FULLY_CONNECTED ops per time step)
  calibration.npz          x: 200 training images (float32, [0, 1], shape (200, 28, 28))
  test.npz                 x: the held-out images, y: their labels

Run from the repository: .venv/bin/python examples/digits_lstm/train.py [--epochs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261207
UNITS = 32
SIDE = 28
CALIBRATION_SAMPLES = 200
TEST_FRACTION = 0.25


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], upsampled to (N, 28, 28) float32, split 75/25."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rows = np.arange(SIDE) * 8 // SIDE  # nearest neighbour: pixel i of 28 reads pixel i*8/28
    images = (digits.images.astype(np.float32) / 16.0)[:, rows][:, :, rows]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(labels))
    cut = int(round(len(labels) * (1 - TEST_FRACTION)))
    train, test = order[:cut], order[cut:]
    return images[train], labels[train], images[test], labels[test]


def build_model(unroll: bool):  # type: ignore[no-untyped-def]
    import tf_keras as keras

    return keras.Sequential(
        [
            keras.Input((SIDE, SIDE), name="rows"),
            keras.layers.LSTM(UNITS, unroll=unroll, name="lstm"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="digits_lstm",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, x_test, y_test = load_data()
    model = build_model(unroll=False)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "digits_lstm.h5")
    unrolled = build_model(unroll=True)
    unrolled.set_weights(model.get_weights())
    unrolled.save(args.out / "digits_lstm_unrolled.h5")
    np.savez(args.out / "calibration.npz", x=x_train[:CALIBRATION_SAMPLES])
    np.savez(args.out / "test.npz", x=x_test, y=y_test)
    print(f"test accuracy {accuracy:.3f} ({len(y_test)} images), models in {args.out}")


if __name__ == "__main__":
    main()

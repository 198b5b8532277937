"""A quantization-aware trained (QAT) digits CNN, saved in the four forms tinyflash converts.

The CNN of examples/digits (same layers, same data split) built with tf-keras, trained in float,
then wrapped with tensorflow-model-optimization's `quantize_model` and fine-tuned with fake-quant
ranges. Deterministic (fixed seeds, op determinism). Writes into --out:

  qat.h5, qat.keras, qat_savedmodel/   the QAT model (tf-keras model.save in each format)
  qat_model.py                         `qat_model.py:model`, loading qat.h5 (the file.py form)
  calibration.npz, test.npz            as examples/digits writes them

Then: `tinyflash convert OUT/qat.keras -o qat.tflite` (no --data: the fake-quant ranges are the
quantization). Run from the repository: .venv/bin/python examples/digits_qat/train.py --out DIR
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261208
FORMS = ("qat.h5", "qat.keras", "qat_savedmodel", "qat_model.py:model")
LOADER = '''"""The QAT digits CNN for `tinyflash convert qat_model.py:model`."""

from pathlib import Path

import tf_keras

model = tf_keras.models.load_model(str(Path(__file__).with_name("qat.h5")), compile=False)
'''


def _digits() -> dict[str, Any]:
    """examples/digits/train.py's namespace (its data split), without running its main."""
    return runpy.run_path(str(HERE.parent / "digits" / "train.py"), run_name="digits_train")


def build_float(tf_keras: Any) -> Any:
    """examples/digits' CNN in tf-keras (tfmot wraps tf-keras models only)."""
    layers = tf_keras.layers
    inputs = tf_keras.Input(shape=(8, 8, 1), name="image")
    x = layers.Conv2D(12, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw2")(x)
    x = layers.Conv2D(24, 1, activation="relu", name="pw2")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, activation="relu", name="fc1")(x)
    outputs = layers.Dense(10, activation="softmax", name="probs")(x)
    return tf_keras.Model(inputs, outputs, name="digits_cnn")


def train_qat(
    out_dir: Path, float_epochs: int = 40, qat_epochs: int = 10, train_samples: int | None = None
) -> dict[str, float]:
    """Train (float, then QAT fine-tuning), save the four forms and the data; return accuracies.
    `train_samples` limits the training set (the tests train a few steps on a few samples)."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras

    tf_keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, x_test, y_test = _digits()["load_data"]()
    if train_samples is not None:
        x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    model = build_float(tf_keras)
    model.compile(tf_keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x_train, y_train, epochs=float_epochs, batch_size=64, verbose=0)
    float_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    qat = tfmot.quantization.keras.quantize_model(model)
    qat.compile(tf_keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", ["accuracy"])
    qat.fit(x_train, y_train, epochs=qat_epochs, batch_size=64, verbose=0)
    qat_accuracy = qat.evaluate(x_test, y_test, verbose=0)[1]
    out_dir.mkdir(parents=True, exist_ok=True)
    qat.save(out_dir / "qat.h5")
    qat.save(out_dir / "qat.keras")
    qat.save(out_dir / "qat_savedmodel")
    (out_dir / "qat_model.py").write_text(LOADER)
    np.savez_compressed(out_dir / "calibration.npz", x=x_train[:200])
    np.savez_compressed(out_dir / "test.npz", x=x_test, y=y_test)
    return {"float_accuracy": float(float_accuracy), "qat_accuracy": float(qat_accuracy)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--float-epochs", type=int, default=40)
    parser.add_argument("--qat-epochs", type=int, default=10)
    args = parser.parse_args(argv)
    stats = train_qat(args.out, args.float_epochs, args.qat_epochs)
    forms = ", ".join(FORMS)
    line = "test accuracy: float {float_accuracy:.4f}, QAT (fake-quant) {qat_accuracy:.4f}"
    sys.stdout.write(line.format(**stats) + f"; forms in {args.out}: {forms}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Writes tests/golden/tiny_cnn.tflite (conv, max-pool, dense, softmax: the model the golden-file
tests render) and tests/golden/tiny_mlp.tflite (two dense layers: the smallest op set, for
end-to-end builds), both full int8.

Run once by hand when the golden model must change (the .tflite is committed, so tests need no
TensorFlow conversion):  .venv/bin/python tests/golden/make_tiny_model.py
Fixed seeds: Keras initialisers and the representative data are seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def build(kind: str = "cnn") -> bytes:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(7)
    if kind == "cnn":
        inputs = tf.keras.Input(shape=(8, 8, 1), batch_size=1, name="image")
        x = tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        x = tf.keras.layers.MaxPooling2D(2)(x)
        x = tf.keras.layers.Flatten()(x)
        x = tf.keras.layers.Dense(3)(x)
        outputs = tf.keras.layers.Softmax()(x)
    else:
        inputs = tf.keras.Input(shape=(16,), batch_size=1, name="features")
        x = tf.keras.layers.Dense(8, activation="relu")(inputs)
        outputs = tf.keras.layers.Dense(4)(x)
    model = tf.keras.Model(inputs, outputs)

    rng = np.random.default_rng(7)
    shape = (32, 1, 8, 8, 1) if kind == "cnn" else (32, 1, 16)
    samples = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)

    def representative():
        for sample in samples:
            yield [sample]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


if __name__ == "__main__":
    for kind in ("cnn", "mlp"):
        out = Path(__file__).with_name(f"tiny_{kind}.tflite")
        out.write_bytes(build(kind))
        print(f"wrote {out} ({out.stat().st_size} bytes)")

"""Writes tests/golden/tiny_cnn.tflite, the small full-int8 model the golden-file tests render.

Run once by hand when the golden model must change (the .tflite is committed, so tests need no
TensorFlow conversion):  .venv/bin/python tests/golden/make_tiny_model.py
Fixed seeds: Keras initialisers and the representative data are seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def build() -> bytes:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(7)
    inputs = tf.keras.Input(shape=(8, 8, 1), batch_size=1, name="image")
    x = tf.keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(3)(x)
    outputs = tf.keras.layers.Softmax()(x)
    model = tf.keras.Model(inputs, outputs)

    rng = np.random.default_rng(7)
    samples = rng.uniform(-1.0, 1.0, size=(32, 1, 8, 8, 1)).astype(np.float32)

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
    out = Path(__file__).with_name("tiny_cnn.tflite")
    out.write_bytes(build())
    print(f"wrote {out} ({out.stat().st_size} bytes)")

"""A streaming keyword-style model whose state is a tf.Variable: each invoke takes one feature
frame (10 values, e.g. MFCCs of 20 ms of audio), slides it into a window of the last 8 frames
kept in the variable, and classifies the window (Conv1D over time, Dense, softmax over 4
classes). The window starts at a constant (not zero), so the converter writes an init subgraph
that CALL_ONCE runs on the first invoke.

Converted with resource variables (experimental_enable_resource_variables) and variable
quantization to a full-int8 .tflite with VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE /
CALL_ONCE and two subgraphs:

    python examples/streaming_kws/build.py --out build/streaming_kws
    tinyflash verify build/streaming_kws/streaming_kws.tflite --board mps2-an386 --stream 50

The weights are fixed pseudo-random numbers (seeded): the model shows the streaming route, it is
not trained to spot words.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

FEATURES, WINDOW, FILTERS, CLASSES = 10, 8, 8, 4


def build(out: Path, seed: int = 0) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    class StreamingKws(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.window = tf.Variable(
                tf.fill([1, WINDOW, FEATURES], 0.25), trainable=False, name="window"
            )
            self.kernel = tf.constant(rng.normal(0, 0.3, (3, FEATURES, FILTERS)), tf.float32)
            self.bias = tf.constant(rng.normal(0, 0.1, (FILTERS,)), tf.float32)
            self.dense = tf.constant(
                rng.normal(0, 0.2, ((WINDOW - 2) * FILTERS, CLASSES)), tf.float32
            )
            self.dense_bias = tf.constant(rng.normal(0, 0.1, (CLASSES,)), tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([1, FEATURES], tf.float32)])
        def __call__(self, frame: tf.Tensor) -> tf.Tensor:
            window = tf.concat([self.window[:, 1:, :], tf.reshape(frame, [1, 1, FEATURES])], 1)
            self.window.assign(window)
            h = tf.nn.relu(tf.nn.conv1d(window, self.kernel, 1, "VALID") + self.bias)
            logits = tf.matmul(tf.reshape(h, [1, -1]), self.dense) + self.dense_bias
            return tf.nn.softmax(logits)

    model = StreamingKws()
    calibration = rng.uniform(-1, 1, (200, 1, FEATURES)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.__call__.get_concrete_function()], model
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter.experimental_enable_resource_variables = True
    converter._experimental_variable_quantization = True  # int8 state, not a float island
    out.mkdir(parents=True, exist_ok=True)
    path = out / "streaming_kws.tflite"
    path.write_bytes(converter.convert())
    np.save(out / "frames.npy", calibration[:, 0, :])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/streaming_kws"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(build(args.out, args.seed))


if __name__ == "__main__":
    main()

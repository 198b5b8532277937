"""A streaming keyword-style model whose state is a tf.Variable: each invoke takes one feature
frame (10 values, e.g. MFCCs of 20 ms of audio), slides it into a window of the last 8 frames
kept in the variable, and classifies the window (Conv1D over time, Dense, softmax over 4
classes). The window starts at a constant (not zero), so the converter writes an init subgraph
that CALL_ONCE runs on the first invoke.

`tinyflash convert` sees that the call assigns a variable and converts with resource variables
(VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE / CALL_ONCE, two subgraphs), the state quantized
to int8 like the activations (build.py writes the calibration frames and runs it):

    tinyflash convert examples/streaming_kws/model.py:model -o build/streaming_kws/streaming_kws.tflite \\
        --data build/streaming_kws/frames.npy

The weights are fixed pseudo-random numbers (seeded): the model shows the streaming route, it is
not trained to spot words.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

FEATURES, WINDOW, FILTERS, CLASSES = 10, 8, 8, 4


class StreamingKws(tf.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.window = tf.Variable(
            tf.fill([1, WINDOW, FEATURES], 0.25), trainable=False, name="window"
        )
        self.kernel = tf.constant(rng.normal(0, 0.3, (3, FEATURES, FILTERS)), tf.float32)
        self.bias = tf.constant(rng.normal(0, 0.1, (FILTERS,)), tf.float32)
        self.dense = tf.constant(rng.normal(0, 0.2, ((WINDOW - 2) * FILTERS, CLASSES)), tf.float32)
        self.dense_bias = tf.constant(rng.normal(0, 0.1, (CLASSES,)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, FEATURES], tf.float32)])
    def __call__(self, frame: tf.Tensor) -> tf.Tensor:
        window = tf.concat([self.window[:, 1:, :], tf.reshape(frame, [1, 1, FEATURES])], 1)
        self.window.assign(window)
        h = tf.nn.relu(tf.nn.conv1d(window, self.kernel, 1, "VALID") + self.bias)
        logits = tf.matmul(tf.reshape(h, [1, -1]), self.dense) + self.dense_bias
        return tf.nn.softmax(logits)


model = StreamingKws()

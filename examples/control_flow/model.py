"""Two small models with data-dependent control flow that the converter keeps as IF and WHILE
(three subgraphs each; converted from a tf.Module's concrete function, control flow is not
lowered to SELECT):

- `cond_model`: a dense layer, then `tf.cond` on the sign of the input's sum: ReLU, or a scale
  and shift of the same activations (IF with a then and an else subgraph).
- `while_model`: `tf.while_loop` runs a dense layer with ReLU three times over the input
  (WHILE with a cond and a body subgraph; the loop counter is int32).

The converter quantizes the layers inside the subgraphs to int8 and leaves the tensors the IF
and the WHILE carry in float32, with a DEQUANTIZE before and a QUANTIZE after: the IF/WHILE
kernels move those bytes unchanged, the arithmetic stays int8.

    tinyflash convert examples/control_flow/model.py:cond_model -o build/cond.tflite --data cal.npy

The weights are fixed pseudo-random numbers (seeded), not trained.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

FEATURES = 8


class CondModel(tf.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = tf.constant(rng.uniform(-1, 1, (FEATURES, FEATURES)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, FEATURES], tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        h = tf.matmul(x, self.w)
        return tf.cond(tf.reduce_sum(x) > 0.0, lambda: tf.nn.relu(h), lambda: h * 0.5 - 0.25)


class WhileModel(tf.Module):
    def __init__(self, seed: int = 1, steps: int = 3) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = tf.constant(rng.uniform(-0.5, 0.5, (FEATURES, FEATURES)), tf.float32)
        self.steps = steps

    @tf.function(input_signature=[tf.TensorSpec([1, FEATURES], tf.float32)])
    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        def body(i: tf.Tensor, h: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return i + 1, tf.nn.relu(tf.matmul(h, self.w) + 0.1)

        _, h = tf.while_loop(lambda i, h: i < self.steps, body, (tf.constant(0), x))
        return h


cond_model = CondModel()
while_model = WhileModel()

"""Models for the patch-based execution tests (tests/test_patches.py): a MobileNet-v1 look-alike
at 96x96 grayscale input and width 0.25 (TFLM's person-detection shape), its first stages at
48x48 (too big for the micro:bit's 16 KB of RAM without patches), and a small CNN whose
first stages are CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D and AVERAGE_POOL_2D with SAME and VALID
padding, converted to full int8 by `tinyflash convert` (real TensorFlow) and cached under
build/patch_models/ keyed by the source below."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import numpy as np

from support.runtime_build import REPO, build_lock

MODELS_PY = textwrap.dedent("""
    import os
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(7)

    # He initialisation keeps untrained activations alive through 27 ReLU6 layers (with
    # Glorot they fade to zero and the int8 scales collapse); Keras counts a depthwise kernel's
    # fan-in over all channels, so its He deviation is given for one channel's 3x3 taps
    HE = "he_normal"
    DW = keras.initializers.RandomNormal(stddev=(2.0 / 9.0) ** 0.5, seed=3)

    def _block(x, filters, stride):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", depthwise_initializer=DW)(x)
        x = L.ReLU(6.0)(x)
        x = L.Conv2D(filters, 1, kernel_initializer=HE)(x)
        return L.ReLU(6.0)(x)

    def _mobilenet_96():
        inp = keras.Input((96, 96, 1))
        x = L.Conv2D(8, 3, strides=2, padding="same", kernel_initializer=HE)(inp)
        x = L.ReLU(6.0)(x)
        for filters, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2),
                                (128, 1), (128, 1), (128, 1), (128, 1), (128, 1), (256, 2),
                                (256, 1)):
            x = _block(x, filters, stride)
        x = L.GlobalAveragePooling2D()(x)
        return keras.Model(inp, L.Dense(2, activation="softmax")(x))

    def _mobilenet_48():
        # the same network's first stages at 48x48 and half the width: a micro:bit-sized model
        inp = keras.Input((48, 48, 1))
        x = L.Conv2D(4, 3, strides=2, padding="same", kernel_initializer=HE)(inp)
        x = L.ReLU(6.0)(x)
        for filters, stride in ((8, 1), (16, 2), (16, 1), (32, 2)):
            x = _block(x, filters, stride)
        x = L.GlobalAveragePooling2D()(x)
        return keras.Model(inp, L.Dense(2, activation="softmax")(x))

    def _pools():
        inp = keras.Input((23, 17, 3))
        x = L.Conv2D(6, (5, 3), strides=(2, 1), padding="same", activation="relu")(inp)
        x = L.MaxPooling2D(3, strides=1, padding="same")(x)
        x = L.DepthwiseConv2D(3, padding="valid", dilation_rate=2)(x)
        x = L.AveragePooling2D(2, strides=2, padding="same")(x)
        x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        x = L.Flatten()(x)
        return keras.Model(inp, L.Dense(4)(x))

    mobilenet_96 = _mobilenet_96()
    mobilenet_48 = _mobilenet_48()
    pools = _pools()
""")

SHAPES = {"mobilenet_96": (96, 96, 1), "mobilenet_48": (48, 48, 1), "pools": (23, 17, 3)}


def patch_model(name: str) -> Path:
    """The converted .tflite of model `name` (converted once, then cached)."""
    key = hashlib.sha256(MODELS_PY.encode()).hexdigest()[:12]
    cache = REPO / "build" / "patch_models" / key
    out = cache / f"{name}.tflite"
    if out.is_file():
        return out
    with build_lock(out):
        if not out.is_file():
            from tinyflash.convert import convert_model

            cache.mkdir(parents=True, exist_ok=True)
            source = cache / "patch_models.py"
            source.write_text(MODELS_PY)
            calib = cache / f"{name}_calib.npy"
            rng = np.random.default_rng(5)
            data = rng.uniform(-1.0, 1.0, size=(32, *SHAPES[name])).astype(np.float32)
            np.save(calib, data)
            tmp = cache / f"{name}.partial.tflite"
            result = convert_model(f"{source}:{name}", tmp, calib, samples=32, force=True)
            assert result.deployable, f"{name}: {result.problems}"
            tmp.replace(out)
    return out

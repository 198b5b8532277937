"""Look-alikes of the MLPerf Tiny / common Keras architectures (DS-CNN, MobileNet-v1, ResNet-8,
FC autoencoder, unrolled LSTM), converted to full int8 by `tinyflash convert` (real TensorFlow),
then run through the host runtime and compared exactly with tflite-micro on 20 random inputs each.

Conversions take seconds each, so the .tflite files are cached under build/lookalikes/ keyed by
the model source below; the runtime comparison itself is fast.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import numpy as np
import pytest

from support.runtime_build import REPO, build_lock
from support.runtime_host import model_info, random_inputs, run_model_batch, tflm_reference_batch

pytestmark = pytest.mark.slow

MODELS_PY = textwrap.dedent("""
    import os
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(11)

    def _ds_cnn():
        inp = keras.Input((49, 10, 1))
        x = L.Conv2D(16, (10, 4), strides=2, padding="same", activation="relu")(inp)
        for _ in range(2):
            x = L.DepthwiseConv2D(3, padding="same")(x)
            x = L.BatchNormalization()(x)
            x = L.ReLU()(x)
            x = L.Conv2D(16, 1, activation="relu")(x)
        x = L.AveragePooling2D((25, 5))(x)
        x = L.Flatten()(x)
        return keras.Model(inp, L.Dense(12, activation="softmax")(x))

    def _mobilenet():
        inp = keras.Input((32, 32, 3))
        x = L.Conv2D(8, 3, strides=2, padding="same")(inp)
        x = L.ReLU(6.0)(x)
        for filters, stride in ((16, 1), (32, 2), (32, 1)):
            x = L.DepthwiseConv2D(3, strides=stride, padding="same")(x)
            x = L.ReLU(6.0)(x)
            x = L.Conv2D(filters, 1)(x)
            x = L.ReLU(6.0)(x)
        x = L.GlobalAveragePooling2D()(x)
        return keras.Model(inp, L.Dense(10, activation="softmax")(x))

    def _resnet8():
        inp = keras.Input((32, 32, 3))
        x = L.Conv2D(16, 3, padding="same", activation="relu")(inp)
        for filters, stride in ((16, 1), (32, 2)):
            y = L.Conv2D(filters, 3, strides=stride, padding="same", activation="relu")(x)
            y = L.Conv2D(filters, 3, padding="same")(y)
            if stride != 1:
                x = L.Conv2D(filters, 1, strides=stride)(x)
            x = L.ReLU()(L.Add()([x, y]))
        x = L.AveragePooling2D(8)(x)
        x = L.Flatten()(x)
        return keras.Model(inp, L.Dense(10, activation="softmax")(x))

    def _autoencoder():
        inp = keras.Input((128,))
        x = inp
        for units in (64, 32, 8, 32, 64):
            x = L.Dense(units, activation="relu")(x)
        return keras.Model(inp, L.Dense(128)(x))

    def _lstm():
        inp = keras.Input((6, 4))
        x = L.LSTM(8, unroll=True)(inp)
        return keras.Model(inp, L.Dense(3)(x))

    ds_cnn = _ds_cnn()
    mobilenet = _mobilenet()
    resnet8 = _resnet8()
    autoencoder = _autoencoder()
    lstm = _lstm()
""")

SHAPES = {
    "ds_cnn": (49, 10, 1),
    "mobilenet": (32, 32, 3),
    "resnet8": (32, 32, 3),
    "autoencoder": (128,),
    "lstm": (6, 4),
}
N_INPUTS = 20


def converted(name: str) -> bytes:
    key = hashlib.sha256(MODELS_PY.encode()).hexdigest()[:12]
    cache = REPO / "build" / "lookalikes" / key
    out = cache / f"{name}.tflite"
    if out.is_file():
        return out.read_bytes()
    with build_lock(out):  # parallel test processes convert each model once
        if not out.is_file():
            _convert(name, cache, out)
    return out.read_bytes()


def _convert(name: str, cache: Path, out: Path) -> None:
    from tinyflash.convert import convert_model

    cache.mkdir(parents=True, exist_ok=True)
    source = cache / "lookalike_models.py"
    source.write_text(MODELS_PY)
    calib = cache / f"{name}_calib.npy"
    rng = np.random.default_rng(3)
    np.save(calib, rng.uniform(-1.0, 1.0, size=(32, *SHAPES[name])).astype(np.float32))
    tmp = cache / f"{name}.partial.tflite"
    # TF 2.21's full-int8 converter sometimes leaves one op (seen: SPLIT in the unrolled LSTM,
    # UNPACK elsewhere) in float32, varying from process to process for the same model and data
    # (docs/convert.md). These tests are about the runtime on full-int8 models, so a conversion
    # that `check` would refuse is done again (each try is a fresh converter process).
    for _ in range(5):
        result = convert_model(f"{source}:{name}", tmp, calib, samples=32, force=True)
        if result.deployable:
            break
    assert result.deployable, f"{name}: five conversions all left a float op: {result.problems}"
    tmp.replace(out)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_lookalike_matches_tflm(name: str) -> None:
    model = converted(name)
    info = model_info(model)
    rng = np.random.default_rng(sum(map(ord, name)))
    batch = [random_inputs(info.inputs, rng) for _ in range(N_INPUTS)]
    got = run_model_batch(model, batch)
    want = tflm_reference_batch(model, batch)
    for k, (g_outs, w_outs) in enumerate(zip(got, want)):
        for i, (g, w) in enumerate(zip(g_outs, w_outs)):
            diff = int(np.count_nonzero(g != w))
            assert diff == 0, f"{name}: input {k} output {i}: {diff} of {g.size} values differ"

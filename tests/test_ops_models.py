"""Converted Keras models that use the kernels of issue 15, verified bit for bit on QEMU
(mps2-an386, Cortex-M4) against tflite-micro: one model per kernel family.

- ARG_MAX: the digits example classifier (examples/digits/digits.keras) with
  tf.math.argmax(..., output_type=tf.int32) as its last layer; the device returns int32 class
  positions.
- RESIZE_BILINEAR: a segmentation-style head, Conv2D -> UpSampling2D(bilinear) -> Conv2D.
- BATCH_MATMUL: a tiny self-attention block over the digit's rows (Q K^T, softmax, times V; both
  operands of each BATCH_MATMUL are activations).
- DIV, L2_NORMALIZATION, RSQRT: Dense branches through tf.math.l2_normalize, a division and
  tf.math.rsqrt (the converter writes all three as int8 ops).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
        reason="arm-none-eabi-gcc and qemu-system-arm are needed",
    ),
]

ARGMAX_MODULE = '''"""The digits classifier with an int32 argmax as its last layer."""
import os

import keras
import tensorflow as tf


def build():
    base = keras.models.load_model(os.environ["DIGITS_KERAS"])
    x = keras.Input((8, 8, 1), batch_size=1)
    out = keras.layers.Lambda(
        lambda v: tf.math.argmax(v, axis=-1, output_type=tf.int32))(base(x))
    return keras.Model(x, out)
'''


FAMILIES_MODULE = '''"""Small Keras models of the kernel families of issue 15."""
import keras
import tensorflow as tf


def upsample():
    keras.utils.set_random_seed(3)
    x = keras.Input((8, 8, 1), batch_size=1)
    y = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = keras.layers.UpSampling2D(2, interpolation="bilinear")(y)
    return keras.Model(x, keras.layers.Conv2D(2, 1)(y))


def attention():
    keras.utils.set_random_seed(4)
    x = keras.Input((8, 8, 1), batch_size=1)
    t = keras.layers.Reshape((8, 8))(x)
    q, k, v = (keras.layers.Dense(8)(t) for _ in range(3))
    s = keras.layers.Lambda(lambda a: tf.matmul(a[0], a[1], transpose_b=True) / 2.0)([q, k])
    s = keras.layers.Softmax()(s)
    o = keras.layers.Lambda(lambda a: tf.matmul(a[0], a[1]))([s, v])
    return keras.Model(x, keras.layers.Dense(10)(keras.layers.Flatten()(o)))


def mathops():
    keras.utils.set_random_seed(5)
    x = keras.Input((8, 8, 1), batch_size=1)
    t = keras.layers.Flatten()(x)
    a = keras.layers.Dense(16)(t)
    b = keras.layers.Dense(16)(t)
    c = keras.layers.Dense(16, activation="relu")(t)
    n = keras.layers.Lambda(lambda v: tf.math.l2_normalize(v, axis=-1))(a)
    s = keras.layers.Add()([n, b])
    r = keras.layers.Lambda(lambda v: tf.math.rsqrt(v + 1.0))(c)
    d = keras.layers.Lambda(lambda v: v[0] / (tf.abs(v[1]) + 1.0))([s, b])
    return keras.Model(x, keras.layers.Dense(10)(keras.layers.Concatenate()([d, r])))
'''


def tinyflash(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DIGITS_KERAS=str(DIGITS / "digits.keras"))
    return subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


@pytest.mark.qemu
def test_digits_argmax_classifier_bit_exact_on_m4(tmp_path: Path) -> None:
    module = tmp_path / "argmax_digits.py"
    module.write_text(ARGMAX_MODULE)
    model = tmp_path / "digits_argmax.tflite"
    done = tinyflash(
        "convert", f"{module}:build", "--data", str(DIGITS / "calibration.npz"), "-o", str(model)
    )
    assert done.returncode == 0, done.stderr[-3000:]

    done = tinyflash("check", str(model), "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    check = json.loads(done.stdout)
    assert check["ops"][-1]["op"] == "ARG_MAX"
    assert check["outputs"][0]["dtype"] == "int32" and check["outputs"][0]["shape"] == [1]

    done = tinyflash(
        "verify",
        str(model),
        "--board",
        "mps2-an386",
        "-o",
        str(tmp_path / "p"),
        "--samples",
        "8",
        "--data",
        str(DIGITS / "test.npz"),
        "--json",
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["passed"] is True and result["samples"] == 8
    exact = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert exact and all(m["exact_fraction"] == 1.0 and m["max_abs_diff_lsb"] == 0 for m in exact)
    assert result["arena_used"] == result["arena_planned"] > 0
    assert [o["name"] for o in result["op_ticks"]][-1] == "ARG_MAX"


def _verify_bit_exact(model: Path, project: Path) -> dict:
    done = tinyflash(
        "verify",
        str(model),
        "--board",
        "mps2-an386",
        "-o",
        str(project),
        "--samples",
        "8",
        "--data",
        str(DIGITS / "test.npz"),
        "--json",
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["passed"] is True and result["samples"] == 8
    exact = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert exact and all(m["exact_fraction"] == 1.0 and m["max_abs_diff_lsb"] == 0 for m in exact)
    return result


@pytest.mark.qemu
@pytest.mark.parametrize(
    "name,op",
    [
        ("upsample", "RESIZE_BILINEAR"),
        ("attention", "BATCH_MATMUL"),
        ("mathops", "DIV"),  # with L2_NORMALIZATION and RSQRT (asserted below)
    ],
)
def test_family_model_bit_exact_on_m4(tmp_path: Path, name: str, op: str) -> None:
    module = tmp_path / "families.py"
    module.write_text(FAMILIES_MODULE)
    model = tmp_path / f"{name}.tflite"
    done = tinyflash(
        "convert", f"{module}:{name}", "--data", str(DIGITS / "calibration.npz"), "-o", str(model)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = _verify_bit_exact(model, tmp_path / "p")
    ran = [o["name"] for o in result["op_ticks"]]
    assert op in ran
    if name == "mathops":
        assert {"L2_NORMALIZATION", "RSQRT"} <= set(ran)

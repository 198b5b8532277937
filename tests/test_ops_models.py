"""Converted Keras models that use the kernels of issue 15, verified bit for bit on QEMU
(mps2-an386, Cortex-M4) against tflite-micro: one model per kernel family.

- ARG_MAX: the digits example classifier (examples/digits/digits.keras) with
  tf.math.argmax(..., output_type=tf.int32) as its last layer; the device returns int32 class
  positions.
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
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or
                       shutil.which("qemu-system-arm") is None,
                       reason="arm-none-eabi-gcc and qemu-system-arm are needed"),
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


def tinyflash(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DIGITS_KERAS=str(DIGITS / "digits.keras"))
    return subprocess.run([sys.executable, "-m", "tinyflash.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=env)


@pytest.mark.qemu
def test_digits_argmax_classifier_bit_exact_on_m4(tmp_path: Path) -> None:
    module = tmp_path / "argmax_digits.py"
    module.write_text(ARGMAX_MODULE)
    model = tmp_path / "digits_argmax.tflite"
    done = tinyflash("convert", f"{module}:build", "--data", str(DIGITS / "calibration.npz"),
                     "-o", str(model))
    assert done.returncode == 0, done.stderr[-3000:]

    done = tinyflash("check", str(model), "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    check = json.loads(done.stdout)
    assert check["ops"][-1]["op"] == "ARG_MAX"
    assert check["outputs"][0]["dtype"] == "int32" and check["outputs"][0]["shape"] == [1]

    done = tinyflash("verify", str(model), "--board", "mps2-an386", "-o", str(tmp_path / "p"),
                     "--samples", "8", "--data", str(DIGITS / "test.npz"), "--json")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["passed"] is True and result["samples"] == 8
    exact = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert exact and all(m["exact_fraction"] == 1.0 and m["max_abs_diff_lsb"] == 0 for m in exact)
    assert result["arena_used"] == result["arena_planned"] > 0
    assert [o["name"] for o in result["op_ticks"]][-1] == "ARG_MAX"

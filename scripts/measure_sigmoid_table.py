"""Measures the 256-entry sigmoid table of TFLite's int16 LOGISTIC/TANH (and so of the integer
LSTM) from TFLM's own int16 TANH, run by the tflite-micro Python runtime, and prints it as C.

TFLM's int16 TANH with input scale 1/6144 (zero point 0) reads x as 2x in its table units:
output = table[i] - 32768 exactly at x = 128 * i (no interpolation), i = 0..254 (x <= 32767).
Entry 255 only enters by interpolation between 254 and 255: it is the one value for which every
x in (128 * 254, 128 * 255) gives TFLM's output. Used to write firmware/runtime/src/kernels/
tfl_kernel_lut16.c; run: .venv/bin/python scripts/measure_sigmoid_table.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tflite_micro.python.tflite_micro import runtime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.tflbuilder import ModelBuilder  # noqa: E402


def tanh_outputs(xs: np.ndarray) -> np.ndarray:
    b = ModelBuilder()
    x = b.tensor("x", [len(xs)], "int16", scale=1.0 / 6144.0, zero_point=0)
    y = b.tensor("y", [len(xs)], "int16", scale=1.0 / 32768.0, zero_point=0)
    b.op("TANH", [x], [y])
    interpreter = runtime.Interpreter.from_bytes(
        b.build(inputs=[x], outputs=[y]), arena_size=1 << 20
    )
    interpreter.set_input(xs.astype(np.int16), 0)
    interpreter.invoke()
    return np.asarray(interpreter.get_output(0)).astype(np.int64)


def measure() -> list[int]:
    table = [int(v) + 32768 for v in tanh_outputs(np.arange(255) * 128)]
    xs = np.arange(128 * 254 + 1, 128 * 255)  # beyond: the saturated branch
    got = tanh_outputs(xs)
    lo = table[254]
    for last in range(lo, 65536):
        a = 2 * xs
        r = (lo << 8) + (a & 255) * (last - lo)
        if np.array_equal((r - (1 << 23) + 128) >> 8, got):
            return table + [last]
    raise SystemExit("no entry 255 reproduces TFLM's int16 TANH")


if __name__ == "__main__":
    values = measure()
    for row in range(0, 256, 12):
        print("    " + ", ".join(str(v) for v in values[row : row + 12]) + ",")

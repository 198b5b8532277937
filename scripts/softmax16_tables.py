"""Writes firmware/runtime/src/kernels/tfl_kernel_softmax16.c: the two 513-entry tables of
TFLite's int16 SOFTMAX, exp(x) on [-10, 0] and 1 / (1 + x) on [0, 1], both with output scale
2/65535. They depend on no model parameter, so the firmware keeps them as constants instead of
computing them with float math in prepare.

Each entry follows TFLite's documented int16 lookup-table construction, in float32 arithmetic:
512 steps over the input range; entry i is round(f(x_i) * s) minus half the rounded error of the
linear interpolation at the step's midpoint (so interpolation is exact there on average), entry
512 is round(f(x_max) * s), all clamped to int16. exp and the reciprocal are evaluated in double
and rounded once to float32 (a correctly rounded expf). tests/test_kernels_int16.py checks the
result against the tflite-micro runtime. Run: .venv/bin/python scripts/softmax16_tables.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

F = np.float32
OUT = Path(__file__).resolve().parents[1] / "firmware/runtime/src/kernels/tfl_kernel_softmax16.c"


def _round(x: np.float32) -> np.float32:
    """Half away from zero, in float32."""
    return F(np.sign(x) * np.floor(np.abs(x) + F(0.5))) if x == x else x


def table(fn: Callable[[float], float], in_scale: float, in_zp: int) -> list[int]:
    f = lambda v: F(fn(float(v)))  # noqa: E731 - evaluated in double, rounded to float32
    rng = F(65535)
    in_scale_f, out_scale = F(F(in_scale) / rng), F(F(2.0) / rng)
    in_min = F(in_scale_f * F(-32768 - in_zp))
    in_max = F(in_scale_f * F(32767 - in_zp))
    out_min, out_max = F(out_scale * F(-32768)), F(out_scale * F(32767))
    steps = 512
    step = F((in_max - in_min) / F(steps))
    half = F(step / F(2))
    inv = F(F(65536) / F(out_max - out_min))
    lut = []
    for i in range(steps):
        val = f(F(in_min + F(F(i) * step)))
        mid = f(F(F(in_min + F(F(i) * step)) + half))
        nxt = f(F(in_min + F(F(i + 1) * step)))
        sample = _round(F(val * inv))
        interp = _round(F(F(F(nxt * inv) + _round(F(val * inv))) / F(2)))
        mid_val = _round(F(mid * inv))
        bias = _round(F(F(interp - mid_val) / F(2)))
        lut.append(int(min(max(F(sample - bias), F(-32768)), F(32767))))
    lut.append(int(min(max(_round(F(f(in_max) * inv)), F(-32768)), F(32767))))
    return lut


def c_array(name: str, values: list[int]) -> str:
    """Three rows of 171 entries: 513 = 3 * 171, and short enough tables read as data, not as
    a run of same-shape code lines."""
    row = 171
    rows = [", ".join(f"{v:6d}" for v in values[k : k + row]) for k in range(0, len(values), row)]
    body = ",\n  ".join(rows)
    return f"const int16_t {name}[513] = {{\n  {body}}};\n"


def main() -> None:
    exp_lut = table(lambda x: float(np.exp(x)), 10.0, 32767)
    recip_lut = table(lambda x: 1.0 / (1.0 + x), 1.0, -32768)
    text = (
        "/* The int16 SOFTMAX tables (written by scripts/softmax16_tables.py; do not edit):\n"
        " * exp(x) for x in [-10, 0] and 1 / (1 + x) for x in [0, 1], 513 entries each, int16\n"
        " * input mapped onto the range, output scale 2/65535 (tfl_kernel_softmax16.h). */\n"
        '#include "tfl_kernel_softmax16.h"\n\n'
        "// clang-format off: the long rows are the generated layout (three rows a table).\n"
        + c_array("tfl_softmax16_exp", exp_lut)
        + "\n"
        + c_array("tfl_softmax16_recip", recip_lut)
    )
    OUT.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

"""The runtime's integer arithmetic (tfl_quant.c) against a Python transcription of TFLite's
quantization spec: QuantizeMultiplier (frexp, round half away from zero, the q == 2^31, shift <
-31 and shift > 30 cases), SaturatingRoundingDoublingHighMul, RoundingDivideByPOT and
MultiplyByQuantizedMultiplier, on edge values and seeded random ones. tfl_quant.c is compiled
into a small shared library (no sanitizers: ctypes loads it into this process)."""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import subprocess

import numpy as np
import pytest

from support.runtime_build import RUNTIME
from support.runtime_host import BUILD_ROOT

SEED = 4242


@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    src = RUNTIME / "src" / "tfl_quant.c"
    headers = sorted((RUNTIME / "include").glob("*.h"))
    key = hashlib.sha256(b"".join(p.read_bytes() for p in [src, *headers])).hexdigest()[:16]
    out = BUILD_ROOT / f"quant-{key}" / "libtflquant.so"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(
            [
                "gcc",
                "-std=c99",
                "-O1",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-shared",
                "-fPIC",
                "-I",
                str(RUNTIME / "include"),
                str(src),
                "-o",
                str(tmp),
            ],
            check=True,
        )
        os.replace(tmp, out)
    so = ctypes.CDLL(str(out))
    so.tfl_quantize_multiplier.argtypes = [
        ctypes.c_double,
        ctypes.POINTER(ctypes.c_int32),
        ctypes.POINTER(ctypes.c_int32),
    ]
    for name in ("tfl_multiply_by_quantized_multiplier",):
        getattr(so, name).argtypes = [ctypes.c_int32] * 3
        getattr(so, name).restype = ctypes.c_int32
    for name in ("tfl_saturating_rounding_doubling_high_mul", "tfl_rounding_divide_by_pot"):
        getattr(so, name).argtypes = [ctypes.c_int32] * 2
        getattr(so, name).restype = ctypes.c_int32
    so.tfl_conv_output_size.argtypes = [ctypes.c_int32] * 5
    so.tfl_conv_padding.argtypes = [ctypes.c_int32] * 5
    return so


def py_quantize_multiplier(real: float) -> tuple[int, int]:
    if not real > 0 or math.isinf(real):
        return 0, 0
    q, e = math.frexp(real)
    fixed = math.floor(q * 2**31 + 0.5)
    if fixed == 2**31:
        fixed //= 2
        e += 1
    if e < -31:
        return 0, 0
    if e > 30:
        return 2**31 - 1, 30
    return fixed, e


def py_srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    v = a * b + ((1 << 30) if a * b >= 0 else 1 - (1 << 30))
    return v // 2**31 if v >= 0 else -((-v) // 2**31)


def py_rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + (1 if (x & mask) > (mask >> 1) + (1 if x < 0 else 0) else 0)


def wrap32(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def py_mbqm(x: int, m: int, shift: int) -> int:
    return py_rdbpot(py_srdhm(wrap32(x << max(shift, 0)), m), max(-shift, 0))


def c_qm(lib, real: float) -> tuple[int, int]:
    q, s = ctypes.c_int32(), ctypes.c_int32()
    lib.tfl_quantize_multiplier(real, ctypes.byref(q), ctypes.byref(s))
    return q.value, s.value


def test_quantize_multiplier_edges(lib) -> None:
    edges = [
        1.0,
        0.5,
        0.75,
        2.0,
        1e-12,
        2.0**-31,
        2.0**-32,
        2.0**-33,
        2.0**30,
        2.0**31,
        1e20,
        1 - 2.0**-33,
        1 - 2.0**-40,
        0.5 - 2.0**-60,
        0.0,
        -1.0,
        float("inf"),
        float("nan"),
        5e-324,
        1.7976931348623157e308,
    ]
    for real in edges:
        assert c_qm(lib, real) == py_quantize_multiplier(real), real
    assert c_qm(lib, 1 - 2.0**-40) == (1 << 30, 1)  # q rounds to 2^31: halved, shift + 1


def test_quantize_multiplier_random(lib) -> None:
    rng = np.random.default_rng(SEED)
    for real in np.exp(rng.uniform(-40, 40, 3000)):
        assert c_qm(lib, float(real)) == py_quantize_multiplier(float(real)), (
            f"seed={SEED} {real!r}"
        )


def test_fixed_point_primitives(lib) -> None:
    rng = np.random.default_rng(SEED)
    specials = [0, 1, -1, 2**31 - 1, -(2**31), 2**30, -(2**30), 12345, -12345]
    xs = specials + [int(v) for v in rng.integers(-(2**31), 2**31, 400)]
    for a in xs:
        for b in specials + [int(v) for v in rng.integers(-(2**31), 2**31, 5)]:
            assert lib.tfl_saturating_rounding_doubling_high_mul(a, b) == py_srdhm(a, b), (a, b)
        for e in range(0, 32):
            assert lib.tfl_rounding_divide_by_pot(a, e) == py_rdbpot(a, e), (a, e)


def test_multiply_by_quantized_multiplier(lib) -> None:
    rng = np.random.default_rng(SEED)
    for _ in range(3000):
        m, shift = py_quantize_multiplier(float(np.exp(rng.uniform(-25, 5))))
        x = (
            int(rng.integers(-(2**20), 2**20))
            if rng.random() < 0.8
            else int(rng.integers(-(2**31), 2**31))
        )
        assert lib.tfl_multiply_by_quantized_multiplier(x, m, shift) == py_mbqm(x, m, shift), (
            f"seed={SEED} x={x} m={m} shift={shift}"
        )


@pytest.mark.parametrize(
    "padding, size, k, stride, dil, out, pad",
    [
        (0, 10, 3, 1, 1, 10, 1),
        (0, 10, 3, 2, 1, 5, 0),
        (1, 10, 3, 2, 1, 4, 0),
        (0, 7, 3, 1, 2, 7, 2),
        (1, 7, 3, 1, 2, 3, 0),
        (0, 1, 5, 1, 1, 1, 2),
        (1, 5, 5, 3, 1, 1, 0),
    ],
)
def test_conv_geometry(lib, padding, size, k, stride, dil, out, pad) -> None:
    assert lib.tfl_conv_output_size(padding, size, k, stride, dil) == out
    assert lib.tfl_conv_padding(stride, dil, size, k, out) == pad

"""Single-op models the kernel tests share (test_kernels_arith.py, test_kernels_data.py and their
int16 counterparts in test_kernels_int16.py), written with support/tflbuilder.py, and the
STRIDED_SLICE shape plan TFLM follows.

    from support.kernel_models import binary_model, concatenation_model, slice_plan, unary_model
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

from support.tflbuilder import ModelBuilder

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def unary_model(
    op: str,
    shape: list[int],
    in_q: tuple[float, int],
    out_q: tuple[float, int],
    dtype: str = "int8",
    **options: Any,
) -> bytes:
    """A single-op model of one input and one output of the same shape and type."""
    b = ModelBuilder()
    x = b.tensor("x", shape, dtype, scale=in_q[0], zero_point=in_q[1])
    y = b.tensor("y", shape, dtype, scale=out_q[0], zero_point=out_q[1])
    b.op(op, [x], [y], **options)
    return b.build(inputs=[x], outputs=[y])


def binary_model(
    op: str,
    s1: list[int],
    s2: list[int],
    out: list[int],
    q1: tuple[float, int],
    q2: tuple[float, int],
    qo: tuple[float, int],
    const2: np.ndarray | None = None,
    dtype: str = "int8",
    **options: Any,
) -> bytes:
    """A single-op model of two inputs (the second a constant when `const2` is given)."""
    b = ModelBuilder()
    x1 = b.tensor("x1", s1, dtype, scale=q1[0], zero_point=q1[1])
    x2 = b.tensor("x2", s2, dtype, scale=q2[0], zero_point=q2[1], data=const2)
    y = b.tensor("y", out, dtype, scale=qo[0], zero_point=qo[1])
    b.op(op, [x1, x2], [y], **options)
    inputs = [x1] if const2 is not None else [x1, x2]
    return b.build(inputs=inputs, outputs=[y])


def concatenation_model(
    base: list[int], n: int, data: st.DataObject, type: str, scale: float, zp: int
) -> tuple[bytes, list[list[int]]]:
    """A CONCATENATION of n inputs shaped like `base` but along a drawn axis (int8 or int16);
    returns the model and its input shapes."""
    rank = len(base)
    axis = data.draw(st.integers(-rank, rank - 1), label="axis")
    pos = axis % rank
    parts = [data.draw(st.integers(1, 4), label=f"dim{i}") for i in range(n)]
    b = ModelBuilder()
    ins = []
    for i, d in enumerate(parts):
        s = list(base)
        s[pos] = d
        ins.append(b.tensor(f"x{i}", s, type, scale=scale, zero_point=zp))
    out_shape = list(base)
    out_shape[pos] = sum(parts)
    y = b.tensor("y", out_shape, type, scale=scale, zero_point=zp)
    b.op("CONCATENATION", ins, [y], axis=axis, fused_activation_function="NONE")
    return b.build(ins, [y]), [t.shape for t in ins]


def _clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def slice_plan(
    shape: Sequence[int],
    begin: Sequence[int],
    end: Sequence[int],
    strides: Sequence[int],
    begin_mask: int,
    end_mask: int,
    shrink_mask: int,
) -> tuple[list[int], bool]:
    """(output shape TFLM's prepare checks, True when TFLM's eval writes exactly that shape).

    TFLM checks the output shape with one formula (begin_mask applied before negative-index
    handling and clamping) and iterates with another (mask applied after); for the rare
    slices where they disagree, or a shrunk axis selects nothing, TFLM leaves output bytes
    unwritten and tinyflash refuses the model instead."""
    out: list[int] = []
    consistent = True
    for a, size in enumerate(shape):
        s_ = strides[a]
        shrink = (shrink_mask >> a) & 1
        # prepare's formula
        start = begin[a]
        if (begin_mask >> a) & 1:
            start = INT_MIN if s_ > 0 else INT_MAX
        if start < 0:
            start += size
        start = _clamp(start, 0, size) if s_ > 0 else _clamp(start, -1, size - 1)
        if shrink:
            stop = start + 1
        else:
            stop = (
                INT_MAX
                if ((end_mask >> a) & 1 and s_ > 0)
                else INT_MIN
                if (end_mask >> a) & 1
                else end[a]
            )
            if stop < 0:
                stop += size
            stop = _clamp(stop, 0, size) if s_ > 0 else _clamp(stop, -1, size - 1)
        dim = max(0, math.ceil((stop - start) / s_))
        # eval's formula
        e_start = begin[a] + size if begin[a] < 0 else begin[a]
        e_start = _clamp(e_start, 0, size) if s_ > 0 else _clamp(e_start, -1, size - 1)
        if (begin_mask >> a) & 1:
            e_start = 0 if s_ > 0 else size - 1
        if shrink:
            e_stop = e_start if e_start >= size else e_start + 1
        else:
            e_stop = end[a] + size if end[a] < 0 else end[a]
            e_stop = _clamp(e_stop, 0, size) if s_ > 0 else _clamp(e_stop, -1, size - 1)
            if (end_mask >> a) & 1:
                e_stop = size if s_ > 0 else -1
        n = len(range(e_start, e_stop, s_))
        if shrink:
            consistent &= n == 1
        else:
            out.append(dim)
            consistent &= n == dim
    return out, consistent

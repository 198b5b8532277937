"""The kernel tests' Hypothesis pieces (test_kernels_*.py): settings, quantization parameters,
input-data seeds, activations and shapes.

    from support.strategies import kernel_settings, scales, seeds, shapes, zero_points
"""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def kernel_settings(examples: int, from_env: bool = True) -> settings:
    """`examples` per property, or TINYFLASH_KERNEL_EXAMPLES when set and `from_env` (raise it for
    a deeper search, e.g. TINYFLASH_KERNEL_EXAMPLES=500); no deadline (the host runner and TFLM
    take what they take), the failing example's blob printed, no health check for slow or large
    draws."""
    if from_env:
        examples = int(os.environ.get("TINYFLASH_KERNEL_EXAMPLES", str(examples)))
    return settings(
        max_examples=examples,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# uniform scales over the range the converters write (the arithmetic tests use their own)
scales = st.floats(min_value=1e-3, max_value=2.0, allow_nan=False, allow_infinity=False)
zero_points = st.integers(min_value=-128, max_value=127)
seeds = st.integers(min_value=0, max_value=2**32 - 1)  # the input data's random generator
quants = st.tuples(scales, zero_points)  # (scale, zero point) of an int8 tensor
activations = st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])


@st.composite
def shapes(
    draw: st.DrawFn, min_rank: int = 1, max_rank: int = 4, max_dim: int = 6, max_elems: int = 600
) -> list[int]:
    """A shape of min_rank..max_rank dims of 1..max_dim, the largest dim shrunk (first one on a
    tie) until it holds at most max_elems elements."""
    rank = draw(st.integers(min_rank, max_rank))
    dims = [draw(st.integers(1, max_dim)) for _ in range(rank)]
    while math.prod(dims) > max_elems:
        dims[dims.index(max(dims))] -= 1
    return dims


@st.composite
def broadcast_shapes(
    draw: st.DrawFn, max_rank: int = 5, scalar_second: bool = False
) -> tuple[list[int], list[int], list[int]]:
    """(input 1, input 2, output) shapes: each input dim is the output's or 1, one input has the
    output's rank and the other may have fewer (leading) dims; input 2 may be a scalar (rank 0)
    when `scalar_second`."""
    out = draw(shapes(min_rank=1, max_rank=max_rank, max_dim=5, max_elems=600))
    full = draw(st.integers(0, 1))
    ins = []
    for k in range(2):
        low = 0 if (k == 1 and scalar_second) else 1
        rank = len(out) if k == full else draw(st.integers(low, len(out)))
        tail = out[len(out) - rank :]
        mode = draw(st.sampled_from(["same", "random", "ones"]))
        if mode == "same":
            dims = list(tail)
        elif mode == "ones":
            dims = [1] * len(tail)
        else:
            dims = [d if draw(st.booleans()) else 1 for d in tail]
        ins.append(dims)
    return _broadcast(ins, out)


@st.composite
def broadcast_pair(draw: st.DrawFn) -> tuple[list[int], list[int], list[int]]:
    """(input 1, input 2, output) shapes up to rank 4 (TFLM's broadcast comparisons are 4-D);
    either input may be a scalar."""
    out = draw(shapes(max_rank=4, max_dim=4))
    full = draw(st.integers(0, 1))  # this input has the output's rank
    ins = []
    for k in range(2):
        rank = len(out) if k == full else draw(st.integers(0, len(out)))
        tail = out[len(out) - rank :] if rank else []
        ins.append([d if draw(st.booleans()) else 1 for d in tail])
    return _broadcast(ins, out)


def _broadcast(ins: list[list[int]], out: list[int]) -> tuple[list[int], list[int], list[int]]:
    """The inputs and their broadcast: where both inputs have 1, so does the output."""
    padded = [[1] * (len(out) - len(d)) + d for d in ins]
    return ins[0], ins[1], [max(a, b) for a, b in zip(*padded)]

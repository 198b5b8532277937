"""The one compare-with-TFLM check: input sets through the C runtime (sanitized host runner) and
through tflite-micro's Python interpreter (its reference kernels); every output must be
identical — same dtype, same shape, same bytes. Integer paths are compared exactly: no tolerance.

    from support.compare import assert_batch_same_as_tflm, assert_same_as_tflm, int8_batch
    assert_same_as_tflm(model, [[1, 8, 8, 3]], 7, "conv 3x3 SAME")     # 3 random int8 sets
    assert_batch_same_as_tflm(model, int8_batch([[1, 4]], 7, sets=6), "fc")  # any input sets
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from support.runtime_host import run_model_batch, tflm_reference_batch


def int8_batch(
    shapes: Sequence[Sequence[int]], seed: int, sets: int = 3, all_values: bool = False
) -> list[list[np.ndarray]]:
    """`sets` input sets of uniformly random int8 arrays, one per shape. With `all_values`, a
    first extra set cycles the first input through every int8 value from a random start."""
    rng = np.random.default_rng(seed)
    batch = [
        [rng.integers(-128, 127, size=tuple(s), endpoint=True, dtype=np.int8) for s in shapes]
        for _ in range(sets)
    ]
    if all_values:
        n = int(np.prod(shapes[0]))
        start = int(rng.integers(0, 256))
        values = ((np.arange(n) + start) % 256 - 128).astype(np.int8).reshape(tuple(shapes[0]))
        batch.insert(0, [values] + batch[0][1:])
    return batch


def assert_same_as_tflm(
    model: bytes,
    shapes: Sequence[Sequence[int]],
    seed: int,
    what: str,
    all_values: bool = False,
    sets: int = 3,
) -> None:
    """assert_batch_same_as_tflm on int8_batch(shapes, seed, sets, all_values)."""
    batch = int8_batch(shapes, seed, sets, all_values)
    assert_batch_same_as_tflm(model, batch, f"{what} seed={seed}")


def assert_batch_same_as_tflm(
    model: bytes, batch: Sequence[Sequence[np.ndarray]], what: str
) -> None:
    """Runs every input set of `batch` through the runtime and TFLM; raises AssertionError naming
    `what`, the set, the output and the first differing values (with the inputs there) otherwise."""
    want = tflm_reference_batch(model, batch)
    got = run_model_batch(model, batch)
    assert len(got) == len(want), f"{what}: {len(got)} result sets, TFLM {len(want)}"
    for s, (g_outs, w_outs) in enumerate(zip(got, want)):
        assert len(g_outs) == len(w_outs), (
            f"{what} set {s}: {len(g_outs)} outputs, TFLM {len(w_outs)}"
        )
        for k, (g, w) in enumerate(zip(g_outs, w_outs)):
            w = np.asarray(w)
            where = f"{what} set {s} output {k}"
            assert g.dtype == w.dtype and g.shape == w.shape, (
                f"{where}: {g.dtype}{list(g.shape)} vs TFLM {w.dtype}{list(w.shape)}"
            )
            if not np.array_equal(g, w):
                bad = np.flatnonzero(g.ravel() != w.ravel())
                first = bad[:8]
                same_shape = [a for a in batch[s] if np.size(a) == g.size]
                ins = (
                    f" inputs there={[np.ravel(a)[first] for a in same_shape]}"
                    if same_shape
                    else ""
                )
                raise AssertionError(
                    f"{where}: {bad.size} of {g.size} values differ from TFLM; at flat {first}:"
                    f" ours={g.ravel()[first]} tflm={w.ravel()[first]}{ins}"
                )

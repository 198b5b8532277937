"""GREATER with int16 inputs (16x8, issue 15): TensorFlow Lite's interpreter is the reference,
not TFLM.

TFLM's comparison prepare computes the rescale parameters for int8 inputs only; its int16 eval
then rescales with a parameter block nobody set. In a fresh process (a zeroed arena) every output
is false; in a process that ran other models first the same model gave other outputs (the block
holds what the memory held). The first test pins the fresh-process behaviour down: it is why
this row of docs/ops.md is checked against TensorFlow Lite (tinyflash.ops.ROW_NOTES).

TensorFlow Lite's interpreter (its reference and its default kernels alike) compares the stored
int16 values as they are, whatever the two inputs' quantization. With one scale and zero point on
both inputs (or no quantization) that is the comparison of the real values, and the tinyflash
runtime computes it bit for bit the same, broadcasting included (TensorFlow Lite broadcasts up to
4-D; with more dims it aborts). With different scales or zero points the stored values' order is
not the real values' order: the runtime refuses those at prepare (TFL_ERR_BAD_QUANTIZATION) and
`tinyflash check` says why. (TensorFlow's converter does not quantize GREATER to 16x8 at all —
"Quantization to 16x8-bit not yet supported for op: 'GREATER'" — so such models are written by
hand or by other tools.)

Inputs are drawn from a seed printed in every failure message (and by the seeded test)."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import fuzzlib
from support.runtime_host import init_status, run_model_batch
from support.strategies import broadcast_pair, kernel_settings, seeds
from support.tflbuilder import ModelBuilder
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model
from tinyflash.ops import ROW_NOTES
from tinyflash.reference import TFLiteReference

COMMON = kernel_settings(25)

# A fresh interpreter in a fresh process: its arena is zeroed memory.
_CHILD = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
model = open(sys.argv[1], "rb").read()
x, y = np.load(sys.argv[2]), np.load(sys.argv[3])
interp = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
out = []
for a, b in zip(x, y):
    interp.set_input(np.ascontiguousarray(a[None]), 0)
    interp.set_input(np.ascontiguousarray(b[None]), 1)
    interp.invoke()
    out.append(np.array(interp.get_output(0)).copy())
np.save(sys.argv[4], np.concatenate(out))
"""

Quant = tuple[float, int] | None  # (scale, zero point); None: not quantized


def compare16(
    op: str, s1: Sequence[int], s2: Sequence[int], so: Sequence[int], q1: Quant, q2: Quant
) -> bytes:
    """A single-op model: `op` (a comparison) of two int16 inputs, bool output."""
    b = ModelBuilder()

    def kw(q: Quant) -> dict:
        return {} if q is None else {"scale": q[0], "zero_point": q[1]}

    x = b.tensor("x", list(s1), "int16", **kw(q1))
    y = b.tensor("y", list(s2), "int16", **kw(q2))
    o = b.tensor("o", list(so), "bool")
    b.op(op, [x, y], [o], options_type=None)
    return b.build([x, y], [o])


def int16_pairs(
    s1: Sequence[int], s2: Sequence[int], seed: int, sets: int = 4
) -> list[list[np.ndarray]]:
    """`sets` input pairs: uniform over the whole int16 range (with the extremes first), small
    values near zero (frequent ties), and the second input copied from the first where the shapes
    allow it (ties everywhere, neighbours one apart)."""
    rng = np.random.default_rng(seed)
    batch = []
    for k in range(sets):
        bound = 32767 if k % 2 == 0 else int(rng.integers(1, 8))
        x = np.array(rng.integers(-bound - 1, bound, size=tuple(s1), endpoint=True), np.int16)
        y = np.array(rng.integers(-bound - 1, bound, size=tuple(s2), endpoint=True), np.int16)
        edges = np.array([-32768, 32767, 0, -1, 1], np.int16)
        x.reshape(-1)[: min(x.size, 5)] = edges[: min(x.size, 5)]
        y.reshape(-1)[: min(y.size, 5)] = edges[::-1][: min(y.size, 5)]
        if k == 3 and x.shape == y.shape:
            y = (x.astype(np.int32) + rng.integers(-1, 2, size=x.shape)).clip(-32768, 32767)
            y = y.astype(np.int16)
        batch.append([x, y])
    return batch


@cache
def _tflite(model: bytes, kernels: str) -> TFLiteReference:
    return TFLiteReference(model, kernels)


def assert_same_as_tflite(model: bytes, batch: list[list[np.ndarray]], what: str) -> None:
    """The host runtime's outputs equal TensorFlow Lite's, with its reference (BUILTIN_REF) and
    its default kernels, for every input set: same dtype, shape and values."""
    got = run_model_batch(model, batch)
    for kernels in ("ref", "default"):
        ref = _tflite(model, kernels)
        for s, (inputs, outs) in enumerate(zip(batch, got, strict=True)):
            (want,) = ref.run(inputs)
            (ours,) = outs
            where = f"{what} set {s} (tflite-{kernels})"
            assert ours.dtype == want.dtype == np.bool_ and ours.shape == want.shape, (
                f"{where}: {ours.dtype}{list(ours.shape)} vs {want.dtype}{list(want.shape)}"
            )
            bad = np.flatnonzero(ours.ravel() != want.ravel())
            assert bad.size == 0, (
                f"{where}: {bad.size} of {ours.size} values differ; at flat {bad[:8]}: "
                f"ours={ours.ravel()[bad[:8]]} tflite={want.ravel()[bad[:8]]}"
            )


# ---- TFLM: not a reference for this row ------------------------------------------------------


@pytest.mark.parametrize("scale", [0.001, 0.5])
def test_tflm_int16_greater_outputs_false_whatever_the_inputs(scale: float, tmp_path: Path) -> None:
    model = tmp_path / "g.tflite"
    model.write_bytes(compare16("GREATER", [1, 16], [1, 16], [1, 16], (scale, 0), (scale, 0)))
    rng = np.random.default_rng(16)
    print("seed=16")
    x = rng.integers(-32768, 32768, (8, 16), dtype=np.int16)
    y = rng.integers(-32768, 32768, (8, 16), dtype=np.int16)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "o.npy"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(model),
            str(tmp_path / "x.npy"),
            str(tmp_path / "y.npy"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    got = np.load(out)
    assert (x > y).any()  # a real comparison says true somewhere
    assert got.shape == (8, 16) and not got.any()
    # tinyflash computes the comparison, as TensorFlow Lite does; docs/ops.md says so for the row
    batch = [[x[k : k + 1], y[k : k + 1]] for k in range(8)]
    assert_same_as_tflite(model.read_bytes(), batch, f"GREATER int16 scale={scale} seed=16")
    assert np.concatenate([o[0] for o in run_model_batch(model.read_bytes(), batch)]).any()
    assert "TensorFlow Lite's interpreter" in ROW_NOTES[("GREATER", "int16 -> bool")]


# ---- TensorFlow Lite: the reference --------------------------------------------------------

# int16 activation scales, log-uniform over the converters' range, plus dyadic ones
scales16 = st.one_of(
    st.floats(min_value=-16.0, max_value=0.0).map(lambda e: float(np.float32(2.0**e))),
    st.tuples(st.integers(1, 64), st.integers(-16, -4)).map(lambda ke: ke[0] / 64 * 2.0 ** ke[1]),
)
# one quantization for both inputs: symmetric (16x8), a zero point, or none
shared_quant = st.one_of(
    st.tuples(scales16, st.just(0)),
    st.tuples(scales16, st.integers(-32768, 32767)),
    st.none(),
)


@COMMON
@given(shapes3=broadcast_pair(), q=shared_quant, seed=seeds)
def test_greater_int16_matches_tflite(shapes3: tuple, q: Quant, seed: int) -> None:
    """Broadcast int16 GREATER (up to 4-D, scalars too) with one quantization on both inputs:
    the host runtime equals TensorFlow Lite's interpreter exactly."""
    s1, s2, so = shapes3
    model = compare16("GREATER", s1, s2, so, q, q)
    what = f"GREATER int16 {s1} vs {s2} -> {so} q={q} seed={seed}"
    assert init_status(model) == "TFL_OK", what
    assert_same_as_tflite(model, int16_pairs(s1, s2, seed), what)


def test_greater_int16_seeded_cases_match_tflite() -> None:
    """Random cases from one printed seed: same-shape inputs of rank 1 to 6 (TensorFlow Lite
    compares any rank elementwise) and 4-D broadcasts."""
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    for case in range(12):
        rank = int(rng.integers(1, 7))
        out = [int(d) for d in rng.integers(1, 5, size=rank)]
        if case % 2 and rank <= 4:
            s1 = [d if rng.integers(0, 2) else 1 for d in out]
            s2 = [d if rng.integers(0, 2) else 1 for d in out]
            so = [max(a, b) for a, b in zip(s1, s2)]
        else:
            s1 = s2 = so = out
        q = (float(np.float32(2.0 ** rng.uniform(-16, 0))), 0)
        model = compare16("GREATER", s1, s2, so, q, q)
        what = f"GREATER int16 {s1} vs {s2} -> {so} q={q} seed={seed} case={case}"
        assert_same_as_tflite(model, int16_pairs(s1, s2, seed + case), what)


def test_int16_greater_fuzz_seed_matches_tflite() -> None:
    """The fuzz seed kernel_int16_greater (tests/fuzz/fuzzlib.py): a broadcast GREATER whose bool
    output also drives a SELECT_V2, in one planned model; both outputs equal TensorFlow Lite."""
    model = fuzzlib.kernel_seed_models()["kernel_int16_greater.tflite"]
    batch = int16_pairs([1, 4, 4, 3], [1, 1, 1, 3], 16)
    got = run_model_batch(model, batch)
    ref = _tflite(model, "ref")
    for s, (inputs, outs) in enumerate(zip(batch, got, strict=True)):
        want = ref.run(inputs)
        assert len(outs) == len(want) == 2
        for k, (o, w) in enumerate(zip(outs, want, strict=True)):
            assert o.dtype == w.dtype and np.array_equal(o, w), f"seed=16 set {s} output {k}"


# ---- different quantizations: refused --------------------------------------------------------


@pytest.mark.parametrize(
    "q1,q2",
    [
        ((0.1, 0), (0.2, 0)),  # different scales
        ((2.0**-10, 0), (2.0**-10, 3)),  # different zero points
        ((0.5, 100), (0.5, -100)),
        ((0.1, 0), None),  # one quantized, one not
        ((0.0, 0), (0.0, 0)),  # no positive scale
    ],
)
def test_different_quantizations_are_refused(q1: Quant, q2: Quant) -> None:
    """TensorFlow Lite compares the stored values there too, which is not the comparison of the
    real values: the runtime refuses the model at prepare instead of copying that."""
    model = compare16("GREATER", [1, 64], [1, 64], [1, 64], q1, q2)
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"
    if q1 is None or q2 is None or q1[0] <= 0 or q2[0] <= 0:
        return
    rng = np.random.default_rng(7)
    print("seed=7")
    x = rng.integers(-300, 300, (1, 64), dtype=np.int16)
    near = rng.integers(-4, 5, (1, 64))  # neighbours (zero points 3 apart) and far values
    y = x + np.where(np.arange(64) % 2 == 0, near, rng.integers(-250, 250, (1, 64)))
    y = y.astype(np.int16)
    (got,) = _tflite(model, "ref").run([x, y])
    real = (x.astype(np.float64) - q1[1]) * q1[0] > (y.astype(np.float64) - q2[1]) * q2[0]
    assert np.array_equal(got, x > y) and not np.array_equal(got, real)


def test_per_channel_quantization_is_refused() -> None:
    b = ModelBuilder()
    x = b.tensor("x", [2, 3], "int16", scale=[0.1, 0.1, 0.1], zero_point=0, quantized_dimension=1)
    y = b.tensor("y", [2, 3], "int16", scale=[0.1, 0.1, 0.1], zero_point=0, quantized_dimension=1)
    o = b.tensor("o", [2, 3], "bool")
    b.op("GREATER", [x, y], [o])
    assert init_status(b.build([x, y], [o])) == "TFL_ERR_BAD_QUANTIZATION"


def test_other_int16_comparisons_stay_refused() -> None:
    """TFLM runs none of the other comparisons on int16 (docs/ops.md): no tinyflash kernel
    either."""
    for op in ("EQUAL", "NOT_EQUAL", "GREATER_EQUAL", "LESS", "LESS_EQUAL"):
        model = compare16(op, [4], [4], [4], (0.1, 0), (0.1, 0))
        assert init_status(model) == "TFL_ERR_UNSUPPORTED_TYPE", op


# ---- tinyflash check ---------------------------------------------------------------------------


def test_check_accepts_one_scale_and_names_different_scales() -> None:
    same = compare16("GREATER", [1, 4], [1, 4], [1, 4], (2.0**-10, 0), (2.0**-10, 0))
    report = check_model(parse_model(same, "g16.tflite"))
    assert report.deployable, report.offenders
    other = compare16("GREATER", [1, 4], [1, 4], [1, 4], (2.0**-10, 0), (2.0**-9, 0))
    report = check_model(parse_model(other, "g16.tflite"))
    assert not report.deployable
    (message,) = report.offenders
    assert message.startswith("op 0 GREATER compares the int16 inputs tensor 0 'x' (scale ")
    assert "with different scales or zero points that is not the comparison of the real" in message
    assert "give both inputs one scale and zero point" in message

"""Differential tests of the arithmetic kernels (issue 3): ADD, SUB, MUL, MAXIMUM, MINIMUM (with
broadcasting), LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH and MEAN, all int8.

Each case is a single-op model written with support/tflbuilder.py, run through the C runtime on
the host (ASan+UBSan runner, support/runtime_host.py) and through tflite-micro's Python runtime;
outputs are compared exactly (every path is integer, so there is no tolerance). Hypothesis draws
shapes, scales, zero points, activations and options plus an integer `seed` for the input data;
a failure message names the seed and the parameters. Unary ops always also get one input set
holding every int8 value.

TFLM semantics that tinyflash follows (and where TFLite's BUILTIN_REF kernels differ):
- RELU6 clamps to [quantized 0, quantized 6] in the INPUT's quantization and copies the value,
  without requantizing to the output's scale (REF requantizes). Identical when input and output
  quantization agree, as the converter writes them (test_relu6_keeps_input_quantization).
- MEAN takes one integer path for every int8 case: 1/n is folded into the requantization
  multiplier (multiplier << k / n, shift - k, k = floor(log2 n) clamped), no float.
- TANH ignores the output tensor's quantization (always writes scale 1/128, zero point 0);
  LOGISTIC refuses any output but scale 1/256, zero point -128, as TFLM does.
- MAXIMUM / MINIMUM compare the stored int8 values with no requantization.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.compare import assert_same_as_tflm
from support.kernel_models import binary_model, unary_model
from support.runtime_host import init_status, run_model_batch, tflm_reference_batch
from support.strategies import (
    activations,
    broadcast_shapes,
    kernel_settings,
    seeds,
    shapes,
    zero_points,
)
from support.tflbuilder import ModelBuilder

REPO = Path(__file__).resolve().parents[1]

COMMON = kernel_settings(20)

# Scales log-uniform over the range converters produce for activations, plus dyadic ones
# (k/64 * 2^e): with those, exact ties reach every rounding step, where rounding bugs show.
scales = st.one_of(
    st.floats(min_value=-9.0, max_value=1.0).map(lambda e: float(np.float32(2.0**e))),
    st.tuples(st.integers(1, 64), st.integers(-8, 0)).map(lambda ke: ke[0] / 64 * 2.0 ** ke[1]),
)


# ---- binary elementwise ops ----------------------------------------------------------------


@pytest.mark.parametrize("op", ["ADD", "SUB", "MUL"])
@COMMON
@given(
    data=st.data(),
    q1=st.tuples(scales, zero_points),
    q2=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    act=activations,
    const=st.booleans(),
    seed=seeds,
)
def test_add_sub_mul_broadcast(
    op: str,
    data: st.DataObject,
    q1: tuple[float, int],
    q2: tuple[float, int],
    qo: tuple[float, int],
    act: str,
    const: bool,
    seed: int,
) -> None:
    s1, s2, out = data.draw(broadcast_shapes(max_rank=6, scalar_second=const))
    const2 = None
    if const:
        const2 = np.random.default_rng(seed ^ 0x5A5A).integers(
            -128, 127, size=s2, endpoint=True, dtype=np.int8
        )
    model = binary_model(op, s1, s2, out, q1, q2, qo, const2, fused_activation_function=act)
    what = f"{op} {s1} {s2} -> {out} q1={q1} q2={q2} qo={qo} act={act} const={const}"
    assert_same_as_tflm(model, [s1] if const else [s1, s2], seed, what)


@pytest.mark.parametrize("op", ["MAXIMUM", "MINIMUM"])
@COMMON
@given(data=st.data(), q=st.tuples(scales, zero_points), seed=seeds)
def test_maximum_minimum_broadcast(
    op: str, data: st.DataObject, q: tuple[float, int], seed: int
) -> None:
    s1, s2, out = data.draw(broadcast_shapes(max_rank=6))
    model = binary_model(op, s1, s2, out, q, q, q)
    assert_same_as_tflm(model, [s1, s2], seed, f"{op} {s1} {s2} -> {out} q={q}")


def test_add_requantizes_exactly_on_a_dense_grid() -> None:
    """Every pair of int8 values through ADD, SUB and MUL with unequal scales (65,536 each).
    The `searched` quantizations were searched for: with multipliers from float32 quotients
    instead of TFLM's double ones, some outputs of the grid would differ."""
    a = np.repeat(np.arange(-128, 128, dtype=np.int8), 256).reshape(1, 256, 256)
    b = np.tile(np.arange(-128, 128, dtype=np.int8), 256).reshape(1, 256, 256)
    searched = ((0.3492167890071869, 33), (0.025994636118412018, 95), (0.07962439209222794, -78))
    plain = ((0.0371, 5), (0.0123, -17), (0.0457, -3))
    # MUL: searched the same way (float32 vs double real multiplier)
    mul_searched = (
        (0.021300069987773895, 71),
        (0.012722712941467762, 17),
        (0.008299784734845161, 81),
    )
    cases = [
        ("ADD", searched),
        ("SUB", searched),
        ("ADD", plain),
        ("SUB", plain),
        ("MUL", mul_searched),
        ("MUL", plain),
    ]
    for op, (q1, q2, qo) in cases:
        model = binary_model(
            op,
            [1, 256, 256],
            [1, 256, 256],
            [1, 256, 256],
            q1,
            q2,
            qo,
            fused_activation_function="NONE",
        )
        ref = tflm_reference_batch(model, [[a, b]])[0][0]
        got = run_model_batch(model, [[a, b]])[0][0]
        assert np.array_equal(got, np.asarray(ref)), f"{op}: {np.count_nonzero(got != ref)} differ"


# ---- unary ops -----------------------------------------------------------------------------


@COMMON
@given(shape=shapes(max_elems=700), qi=st.tuples(scales, zero_points), seed=seeds)
def test_logistic(shape: list[int], qi: tuple[float, int], seed: int) -> None:
    model = unary_model("LOGISTIC", shape, qi, (1.0 / 256, -128))
    assert_same_as_tflm(model, [shape], seed, f"LOGISTIC {shape} qi={qi}", all_values=True)


@COMMON
@given(
    shape=shapes(max_elems=700),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    seed=seeds,
)
def test_tanh(shape: list[int], qi: tuple[float, int], qo: tuple[float, int], seed: int) -> None:
    for out_q in ((1.0 / 128, 0), qo):  # TFLM ignores the output quantization: so do we
        model = unary_model("TANH", shape, qi, out_q)
        assert_same_as_tflm(
            model, [shape], seed, f"TANH {shape} qi={qi} qo={out_q}", all_values=True
        )


@pytest.mark.parametrize("op", ["RELU", "RELU6"])
@COMMON
@given(
    shape=shapes(max_elems=700),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    same=st.booleans(),
    seed=seeds,
)
def test_relu_relu6(
    op: str, shape: list[int], qi: tuple[float, int], qo: tuple[float, int], same: bool, seed: int
) -> None:
    out_q = qi if same else qo
    model = unary_model(op, shape, qi, out_q)
    assert_same_as_tflm(model, [shape], seed, f"{op} {shape} qi={qi} qo={out_q}", all_values=True)


@COMMON
@given(
    shape=shapes(max_elems=700),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    alpha=st.one_of(
        st.floats(0.0, 1.0), st.floats(-2.0, 3.0), st.integers(-40, 40).map(lambda k: k / 16)
    ).map(lambda a: float(np.float32(a))),
    seed=seeds,
)
def test_leaky_relu(
    shape: list[int], qi: tuple[float, int], qo: tuple[float, int], alpha: float, seed: int
) -> None:
    model = unary_model("LEAKY_RELU", shape, qi, qo, alpha=alpha)
    assert_same_as_tflm(
        model, [shape], seed, f"LEAKY_RELU {shape} qi={qi} qo={qo} alpha={alpha}", all_values=True
    )


@COMMON
@given(
    shape=shapes(max_elems=700),
    qi=st.tuples(scales, zero_points),
    out_ratio=st.floats(-2.0, 2.0).map(lambda e: 2.0**e),
    zo=zero_points,
    seed=seeds,
)
def test_hard_swish(
    shape: list[int], qi: tuple[float, int], out_ratio: float, zo: int, seed: int
) -> None:
    # hard_swish(x) lies in [-0.375, max(x)]: output scales near the input's are what
    # converters write (TFLM refuses output multipliers above 1, i.e. scales < input / 128).
    qo = (float(np.float32(qi[0] * out_ratio)), zo)
    model = unary_model("HARD_SWISH", shape, qi, qo)
    assert_same_as_tflm(
        model, [shape], seed, f"HARD_SWISH {shape} qi={qi} qo={qo}", all_values=True
    )


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU", "RELU"])
def test_unary_large_tensors_use_the_table_path(op: str) -> None:
    """1,200 elements: these kernels compute the 256 possible outputs once (a table) above
    256 (LOGISTIC, TANH), 512 (HARD_SWISH) or 1,024 (LEAKY_RELU, RELU) elements; both paths
    must equal TFLM (smaller tensors take the per-element path in the hypothesis tests)."""
    rng = np.random.default_rng(77)
    for _ in range(4):
        qi = (float(np.float32(2.0 ** rng.uniform(-8, 0))), int(rng.integers(-128, 128)))
        near = (float(np.float32(qi[0] * 2.0 ** rng.uniform(-1, 1))), int(rng.integers(-128, 128)))
        qo = {"LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}.get(op, near)
        options = {"alpha": float(np.float32(rng.uniform(-1, 1)))} if op == "LEAKY_RELU" else {}
        model = unary_model(op, [4, 300], qi, qo, **options)
        assert_same_as_tflm(
            model, [[4, 300]], int(rng.integers(2**32)), f"{op} qi={qi} qo={qo}", all_values=True
        )


def test_relu_multiplier_is_the_double_quotient() -> None:
    """Searched: a float32 input/output scale quotient would change outputs of this RELU."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    model = unary_model("RELU", [1, 256], (0.6384674310684204, -39), (0.1975368857383728, -5))
    got = run_model_batch(model, [[x]])[0][0]
    assert np.array_equal(got, np.asarray(tflm_reference_batch(model, [[x]])[0][0]))


def test_relu6_keeps_input_quantization() -> None:
    """TFLM's RELU6 clamps in the input's quantization; with a different output quantization
    the bytes are still the clamped input bytes (TFLite's REF kernel would requantize)."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    model = unary_model("RELU6", [1, 256], (0.05, -10), (0.03, -100))
    got = run_model_batch(model, [[x]])[0][0]
    ref = np.asarray(tflm_reference_batch(model, [[x]])[0][0])
    six = -10 + round(6 / 0.05)
    assert np.array_equal(got, ref)
    assert np.array_equal(got, np.clip(x, -10, six))


def _q31(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: Q31 mantissa (round half away from zero) and exponent."""
    if real == 0.0:
        return 0, 0
    q, e = math.frexp(real)
    fixed = int(math.floor(abs(q) * 2**31 + 0.5))
    if fixed == 2**31:
        fixed, e = fixed // 2, e + 1
    return fixed, e


def _q15(q31: int) -> int:
    return 32767 if q31 >= 2**31 - 1 - 2**15 else (q31 + 2**15) >> 16


def test_hard_swish_multipliers_are_double_quotients() -> None:
    """Scale pairs where a float32 and a double quotient give different Q15 multipliers: the
    outputs must still equal TFLM's (its multipliers are the double quotients)."""
    f = np.float32
    rng = np.random.default_rng(11)
    pairs: list[tuple[float, float]] = []
    while len(pairs) < 8:
        si = f(2.0 ** rng.uniform(-8, 1))
        so = f(si * f(2.0 ** rng.uniform(-2, 2)))
        hires = f(f(1.0 / 128) * si)
        for num, den in ((hires, so), (hires, f(3.0 / 32768))):
            a, ea = _q31(float(f(num / den)))
            b, eb = _q31(float(np.float64(num) / np.float64(den)))
            if (_q15(a), ea) != (_q15(b), eb):
                pairs.append((float(si), float(so)))
                break
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for si, so in pairs:
        for zi in (-20, 37):
            model = unary_model("HARD_SWISH", [1, 256], (si, zi), (so, 5))
            got = run_model_batch(model, [[x]])[0][0]
            ref = np.asarray(tflm_reference_batch(model, [[x]])[0][0])
            assert np.array_equal(got, ref), f"HARD_SWISH qi={(si, zi)} qo={(so, 5)}"


def test_relu6_six_is_the_float32_quotient() -> None:
    """Scales where round(6 / scale) differs between float32 and double division: TFLM's
    quantized 6 is the float32 one, for RELU6 and for a fused RELU6 (ADD)."""
    f = np.float32
    rng = np.random.default_rng(5)
    found: list[float] = []
    while len(found) < 6:
        s = f(6.0 / (int(rng.integers(12, 250)) + 0.5))
        s = f(np.nextafter(s, f(1)) if rng.integers(2) else np.nextafter(s, f(0)))
        if math.floor(float(f(f(6) / s)) + 0.5) != math.floor(6.0 / float(s) + 0.5):
            found.append(float(s))
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for s in found:
        for model, ins in (
            (unary_model("RELU6", [1, 256], (s, -128), (s, -128)), [x]),
            (
                binary_model(
                    "ADD",
                    [1, 256],
                    [1, 256],
                    [1, 256],
                    (s, 0),
                    (s, 0),
                    (s, -128),
                    fused_activation_function="RELU6",
                ),
                [x, x],
            ),
        ):
            got = run_model_batch(model, [ins])[0][0]
            ref = np.asarray(tflm_reference_batch(model, [ins])[0][0])
            assert np.array_equal(got, ref), f"scale {s!r}"


def test_logistic_refuses_other_output_quantization() -> None:
    model = unary_model("LOGISTIC", [1, 8], (0.05, 0), (0.01, 3))
    assert init_status(model) == "TFL_ERR_BAD_QUANTIZATION"


# ---- MEAN ----------------------------------------------------------------------------------


def _mean_model(
    shape: list[int], axes: list[int], keep: bool, qi: tuple[float, int], qo: tuple[float, int]
) -> tuple[bytes, list[int]]:
    rank = len(shape)
    reduced = {a % rank for a in axes}
    if keep:
        out = [1 if i in reduced else d for i, d in enumerate(shape)]
    else:
        out = [d for i, d in enumerate(shape) if i not in reduced]
    b = ModelBuilder()
    x = b.tensor("x", shape, "int8", scale=qi[0], zero_point=qi[1])
    ax = b.tensor("axes", [len(axes)], "int32", data=np.array(axes, np.int32))
    y = b.tensor("y", out, "int8", scale=qo[0], zero_point=qo[1])
    b.op("MEAN", [x, ax], [y], keep_dims=keep)
    return b.build(inputs=[x], outputs=[y]), out


@COMMON
@given(
    data=st.data(),
    keep=st.booleans(),
    qi=st.tuples(scales, zero_points),
    qo=st.tuples(scales, zero_points),
    same=st.booleans(),
    seed=seeds,
)
def test_mean(
    data: st.DataObject,
    keep: bool,
    qi: tuple[float, int],
    qo: tuple[float, int],
    same: bool,
    seed: int,
) -> None:
    spatial = data.draw(st.booleans())
    if spatial:  # the common global average pool: [N, H, W, C] over axes 1 and 2
        shape = [
            data.draw(st.integers(1, 2)),
            data.draw(st.integers(1, 12)),
            data.draw(st.integers(1, 12)),
            data.draw(st.integers(1, 8)),
        ]
        axes = data.draw(st.sampled_from([[1, 2], [2, 1], [-3, -2]]))
    else:
        shape = data.draw(shapes(min_rank=1, max_rank=5, max_dim=7, max_elems=800))
        rank = len(shape)
        axes = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank))
    out_q = qi if same else qo
    model, out = _mean_model(shape, axes, keep, qi, out_q)
    assert_same_as_tflm(
        model, [shape], seed, f"MEAN {shape} axes={axes} keep={keep} -> {out} qi={qi} qo={out_q}"
    )


def test_mean_large_spatial() -> None:
    """A 32x32x16 global average (1024 elements per output): folding 1/n into the multiplier."""
    model, _ = _mean_model([1, 32, 32, 16], [1, 2], False, (0.0213, -7), (0.0109, 11))
    assert_same_as_tflm(model, [[1, 32, 32, 16]], 12345, "MEAN 32x32x16")


# ---- refused models ------------------------------------------------------------------------


def test_bad_shapes_are_refused() -> None:
    model = binary_model("ADD", [2, 3], [4, 3], [2, 3], (0.1, 0), (0.1, 0), (0.1, 0))
    assert init_status(model) == "TFL_ERR_BAD_SHAPE"
    model, _ = _mean_model([2, 3], [5], False, (0.1, 0), (0.1, 0))
    assert init_status(model) == "TFL_ERR_BAD_SHAPE"


# ---- a converted Keras model using every kernel here ---------------------------------------

ARITH_OPS = (
    "ADD",
    "SUB",
    "MUL",
    "MAXIMUM",
    "MINIMUM",
    "LOGISTIC",
    "TANH",
    "RELU",
    "RELU6",
    "LEAKY_RELU",
    "HARD_SWISH",
    "MEAN",
)


def _op_names(flatbuffer: bytes) -> set[str]:
    from support.tflbuilder import BUILTIN_OPS, _schema

    names = {v: k for k, v in BUILTIN_OPS.items()}
    model = _schema.Model.GetRootAs(bytearray(flatbuffer), 0)
    graph = model.Subgraphs(0)
    found = set()
    for i in range(graph.OperatorsLength()):
        code = model.OperatorCodes(graph.Operators(i).OpcodeIndex())
        found.add(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    return found


@pytest.fixture(scope="module")
def converted_arith_model() -> bytes:
    """A Keras model converted by TensorFlow's own converter (full int8) whose layers become
    HARD_SWISH, LOGISTIC, TANH, LEAKY_RELU, ADD, MUL, SUB, RELU, RELU6, MAXIMUM, MINIMUM and
    MEAN; every layer is a model output."""
    tf = pytest.importorskip("tensorflow")
    layers = tf.keras.layers
    inp = tf.keras.Input((6, 6, 4), batch_size=1)
    x = layers.Conv2D(8, 3, padding="same")(inp)
    a = layers.LeakyReLU(negative_slope=0.2)(x)
    b = layers.Activation("hard_swish")(x)
    c = layers.Add()([a, b])
    d = layers.Multiply()([c, layers.Activation("sigmoid")(x)])
    e = layers.Subtract()([d, layers.Activation("tanh")(x)])
    f = layers.Maximum()([e, layers.ReLU(max_value=6.0)(x)])
    g = layers.Minimum()([f, layers.ReLU()(c)])
    h = layers.GlobalAveragePooling2D()(g)
    model = tf.keras.Model(inp, [a, b, c, d, e, f, g, h])

    def representative():
        rng = np.random.default_rng(0)
        for _ in range(20):
            yield [rng.standard_normal((1, 6, 6, 4)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    flatbuffer = conv.convert()
    assert set(ARITH_OPS) <= _op_names(flatbuffer)
    return flatbuffer


@pytest.mark.slow
def test_converted_keras_model_every_layer_matches_tflm(converted_arith_model: bytes) -> None:
    """Each op's tensor of the converted model, on 40 random inputs, on the host runner."""
    rng = np.random.default_rng(2024)
    batch = [
        [rng.integers(-128, 127, size=(1, 6, 6, 4), endpoint=True, dtype=np.int8)]
        for _ in range(40)
    ]
    got = run_model_batch(converted_arith_model, batch)
    ref = tflm_reference_batch(converted_arith_model, batch)
    for s, (g_outs, r_outs) in enumerate(zip(got, ref)):
        assert len(g_outs) == 8
        for k, (gv, rv) in enumerate(zip(g_outs, r_outs)):
            assert np.array_equal(gv, np.asarray(rv)), f"input set {s}, model output {k} differs"


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc and qemu-system-arm are needed",
)
@pytest.mark.parametrize("board", ["mps2-an386", "microbit"])  # Cortex-M4, Cortex-M0
def test_converted_keras_model_bit_exact_on_qemu(
    converted_arith_model: bytes, tmp_path: Path, board: str
) -> None:
    """The same model built for a Cortex-M board by `tinyflash verify` and run in QEMU: every
    output bit-exact with TFLM (the M0 has no 64-bit multiply instruction: other code paths)."""
    model = tmp_path / "arith.tflite"
    model.write_bytes(converted_arith_model)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyflash.cli",
            "verify",
            str(model),
            "--board",
            board,
            "-o",
            str(tmp_path / "project"),
            "--samples",
            "6",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    result = json.loads(done.stdout)
    assert result["passed"] is True and result["samples"] == 6
    exact = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert len(exact) == 8
    assert all(m["exact_fraction"] == 1.0 and m["max_abs_diff_lsb"] == 0 for m in exact)

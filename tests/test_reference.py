"""Host references and the quantize helpers, on real TensorFlow, TFLite and tflite-micro."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_model_path
from tinyflash.reference import (
    FloatReference,
    Reference,
    TFLiteReference,
    TFLMReference,
    _ArenaProbe,
    dequantize,
    quantize,
    round_half_away,
    run_float,
    tflm_min_arena,
    to_tensor,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits"
TINYFLASH = Path(sys.executable).parent / "tinyflash"


def test_round_half_away_from_zero() -> None:
    values = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -0.49999997, 3.2, -3.7])
    assert list(round_half_away(values)) == [-3, -2, -1, 1, 2, 3, 0, 0, 3, -4]
    assert list(quantize(np.array([-1.0, 0.05, 0.15, 10.0]), 0.1, 3)) == [-7, 4, 5, 103]
    assert list(quantize(np.array([-1000.0, 1000.0]), 0.1, 0)) == [-128, 127]
    assert list(quantize(np.array([0.0, 1.0]), 1 / 255, -128, "uint8")) == [0, 127]
    assert list(dequantize(np.array([-128, 0, 127], np.int8), 0.5, -1)) == [-63.5, 0.5, 64.0]


@pytest.fixture(scope="module")
def float_io_model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Dense layer converted with float input/output kept: QUANTIZE in, DEQUANTIZE out."""
    from tinyflash.convert import import_tensorflow

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(5)
    inp = keras.Input((512,))
    model = keras.Model(inp, keras.layers.Dense(64)(inp))
    rng = np.random.default_rng(2)

    @tf.function(input_signature=[tf.TensorSpec([1, 512], tf.float32)])
    def serve(x):  # type: ignore[no-untyped-def]
        return model(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.representative_dataset = lambda: (
        [rng.uniform(-3, 3, (1, 512)).astype(np.float32)] for _ in range(8)
    )
    return converter.convert()


def _near_ties(scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Random values, float32 values at (k + 0.5) * scale, and their float32 neighbours."""
    ties = ((np.arange(-140, 140) + 0.5) * np.float32(scale)).astype(np.float32)
    return [
        rng.uniform(-4, 4, 512).astype(np.float32),
        np.resize(ties, 512),
        np.resize(np.nextafter(ties, np.float32(np.inf)), 512),
        np.resize(np.nextafter(ties, np.float32(-np.inf)), 512),
    ]


@pytest.mark.slow
def test_quantize_helper_matches_tflm_quantize(tmp_path: Path) -> None:
    """float input -> QUANTIZE -> RESHAPE -> int8 output: TFLM's output is its QUANTIZE result."""
    from tinyflash.convert import import_tensorflow

    tf = import_tensorflow()

    @tf.function(input_signature=[tf.TensorSpec([1, 512], tf.float32)])
    def serve(x):  # type: ignore[no-untyped-def]
        return tf.reshape(x, [1, 16, 32])

    rng = np.random.default_rng(4)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_output_type = tf.int8
    converter.representative_dataset = lambda: (
        [rng.uniform(-3, 3, (1, 512)).astype(np.float32)] for _ in range(8)
    )
    tflm = TFLMReference(converter.convert())
    assert tflm.inputs[0].dtype == "float32" and tflm.outputs[0].dtype == "int8"
    scale, zero = tflm.outputs[0].scale, tflm.outputs[0].zero_point
    for values in _near_ties(scale, rng):
        got = tflm.run([values.reshape(1, 512)])[0].reshape(-1)
        assert np.array_equal(quantize(values, scale, zero, "int8"), got)


def test_quantize_helpers_match_tflite_quantize_and_dequantize_ops(float_io_model: bytes) -> None:
    """Our helpers equal the interpreter's QUANTIZE (float->int8) and DEQUANTIZE (int8->float)
    exactly, on random values and on values next to rounding ties."""
    from tinyflash.convert import import_tensorflow, quiet_fds

    tf = import_tensorflow()
    with quiet_fds():
        interpreter = tf.lite.Interpreter(
            model_content=float_io_model,
            experimental_preserve_all_tensors=True,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        )
        interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    quant_op = next(op for op in ops if op["op_name"] == "QUANTIZE")
    dequant_op = next(op for op in ops if op["op_name"] == "DEQUANTIZE")
    q_out = interpreter.get_tensor_details()[quant_op["outputs"][0]]
    scale, zero = q_out["quantization"]
    d_in = interpreter.get_tensor_details()[dequant_op["inputs"][0]]
    d_scale, d_zero = d_in["quantization"]
    checked = 0
    for values in _near_ties(scale, np.random.default_rng(11)):
        x = values.astype(np.float32).reshape(1, 512)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        assert np.array_equal(
            quantize(x, scale, zero, "int8"), interpreter.get_tensor(quant_op["outputs"][0])
        )
        assert np.array_equal(
            dequantize(interpreter.get_tensor(dequant_op["inputs"][0]), d_scale, d_zero),
            interpreter.get_tensor(dequant_op["outputs"][0]),
        )
        checked += x.size
    assert checked == 2048


@pytest.fixture(scope="module")
def digits_tflite() -> Path:
    path = DIGITS / "digits_int8.tflite"
    assert path.is_file(), "examples/digits artefacts are committed; run examples/digits/train.py"
    return path


@pytest.fixture(scope="module")
def digits_test() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DIGITS / "test.npz") as data:
        return data["x"][:40], data["y"][:40]


def test_tflm_equals_builtin_ref_on_the_example(digits_tflite: Path, digits_test) -> None:  # type: ignore[no-untyped-def]
    x, _ = digits_test
    tflm = TFLMReference(digits_tflite)
    ref = TFLiteReference(digits_tflite, "ref")
    default = TFLiteReference(digits_tflite, "default")
    for reference in (tflm, ref, default):
        assert isinstance(reference, Reference)
        assert reference.inputs[0].dtype == "int8" and reference.inputs[0].shape == (1, 8, 8, 1)
    most = 0
    for sample in x:
        q = to_tensor(sample, tflm.inputs[0])
        a, b, c = tflm.run([q])[0], ref.run([q])[0], default.run([q])[0]
        assert a.dtype == np.int8 and a.shape == (1, 10)
        assert np.array_equal(a, b)  # both are TFLite's reference integer arithmetic
        # XNNPACK rounds differently (DESIGN.md §4): at most one LSB apart.
        most = max(most, int(np.max(np.abs(a.astype(int) - c.astype(int)))))
    assert most <= 1


def test_float_reference_matches_keras(digits_test) -> None:  # type: ignore[no-untyped-def]
    x, _ = digits_test
    reference = FloatReference(DIGITS / "digits.keras")
    assert reference.inputs[0].shape == (1, 8, 8, 1) and reference.inputs[0].dtype == "float32"
    import keras

    model = keras.models.load_model(DIGITS / "digits.keras", compile=False)
    expected = model.predict(x[:8], verbose=0)
    got = np.concatenate([reference.run([s])[0] for s in x[:8]])
    # Same float graph, batch 1 vs batch 8: only float summation order may differ.
    assert np.allclose(got, expected, rtol=0, atol=1e-5)


def test_float_reference_from_python_file_returning_a_keras_model(tmp_path: Path) -> None:
    source = tmp_path / "build.py"
    source.write_text(
        "import keras\n\n"
        "def make():\n"
        "    inp = keras.Input((None, 3), name='seq')\n"
        "    return keras.Model(inp, keras.layers.Dense(2, use_bias=False, kernel_initializer='ones')(inp))\n"
        "\n"
        "def fixed():\n"
        "    inp = keras.Input((4, 3), name='seq')\n"
        "    return keras.Model(inp, keras.layers.Dense(2, use_bias=False, kernel_initializer='ones')(inp))\n"
    )
    from tinyflash.errors import TinyflashError

    with pytest.raises(TinyflashError, match="unknown dimension besides the batch"):
        FloatReference(f"{source}:make")
    reference = FloatReference(f"{source}:fixed")
    assert reference.inputs[0].name == "seq" and reference.inputs[0].shape == (1, 4, 3)
    out = reference.run([np.arange(12, dtype=np.float32).reshape(4, 3)])[0]
    assert np.array_equal(
        out, np.repeat(np.array([[3.0], [12.0], [21.0], [30.0]], np.float32), 2, axis=1)[None]
    )


def test_run_float_quantizes_in_and_dequantizes_out(digits_tflite: Path, digits_test) -> None:  # type: ignore[no-untyped-def]
    x, y = digits_test
    ref = TFLiteReference(digits_tflite, "ref")
    detail_in, detail_out = ref.inputs[0], ref.outputs[0]
    probs = run_float(ref, [x[0]])[0]
    raw = ref.run([quantize(x[0][None], detail_in.scale, detail_in.zero_point)])[0]
    assert np.array_equal(probs, dequantize(raw, detail_out.scale, detail_out.zero_point))
    assert probs.dtype == np.float32 and abs(float(probs.sum()) - 1.0) < 0.05
    assert int(np.argmax(probs)) == int(y[0])


def test_tflm_min_arena_is_the_smallest(digits_tflite: Path) -> None:
    data = digits_tflite.read_bytes()
    minimum = tflm_min_arena(data)
    probe = _ArenaProbe(digits_tflite, 1, quiet=True)
    try:
        assert probe.works(minimum)
        assert not probe.works(minimum - 1)
    finally:
        probe.close()
    # the runner uses the measured minimum when given it, and otherwise a generous bound
    assert TFLMReference(data, minimum_arena=minimum).arena_size == minimum
    assert TFLMReference(data).arena_size >= max(minimum, 1024 * 1024)


def test_tflm_min_arena_on_shared_model() -> None:
    """DESIGN.md §5 records 4,632 B for ad01 with the tflite-micro Python runtime."""
    assert tflm_min_arena(shared_model_path("ad01_int8")) == 4632


@pytest.mark.slow
def test_evaluate_cli_on_the_example(digits_tflite: Path) -> None:
    run = subprocess.run(
        [
            str(TINYFLASH),
            "evaluate",
            str(DIGITS / "digits.keras"),
            str(digits_tflite),
            "--data",
            str(DIGITS / "test.npz"),
            "--samples",
            "120",
            "--reference",
            "tflm",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == ""  # no TensorFlow log noise
    result = json.loads(run.stdout)
    assert result["samples"] == 120 and result["reference"] == "tflm"
    assert result["accuracy_float"] >= 0.95 and result["accuracy_quant"] >= 0.95
    assert abs(result["accuracy_quant"] - result["accuracy_float"]) <= 0.02
    assert result["top1_agreement"] >= 0.97
    out = result["outputs"][0]
    assert out["cosine"] > 0.999 and 0 < out["rmse"] < 0.02 and out["max_abs"] < 0.2

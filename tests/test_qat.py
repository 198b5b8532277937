"""Quantization-aware trained models (tensorflow-model-optimization): the four forms load and
convert to full int8 without --data; with --data the conversion is the same and says so.

The model is examples/digits_qat's CNN trained for real with tfmot, but for one float and one QAT
epoch on 256 images (a few optimizer steps): its fake-quant ranges are real, its accuracy is not
the point. The preflight tests need no TensorFlow."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from support.cli import expect_error, tinyflash
from tinyflash.convert import DATA_NOT_NEEDED, convert_model
from tinyflash.errors import EXIT_BAD_INPUT
from tinyflash.floatmodel import parse_model_spec
from tinyflash.model import load_model
from tinyflash.preflight import quantization_aware

REPO = Path(__file__).resolve().parents[1]
FORMS = ("qat.h5", "qat.keras", "qat_savedmodel", "qat_model.py:model")


@pytest.fixture(scope="module")
def qat_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = REPO / "examples" / "digits_qat" / "train.py"
    spec = importlib.util.spec_from_file_location("digits_qat_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("qat")
    # Importing tfmot sets TF_USE_LEGACY_KERAS and then reads tf.keras, which would bind tf.keras
    # to tf-keras for this whole worker process (later test files build Keras 3 layers).
    # Resolved here first, tf.keras stays Keras 3; train.py uses tf_keras by name.
    import tensorflow as tf

    getattr(tf.keras, "version", None)
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        module.train_qat(out, float_epochs=1, qat_epochs=1, train_samples=256)
    finally:
        if before is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = before
    return out


@pytest.fixture(scope="module")
def converted(qat_dir: Path) -> dict[str, Path]:
    """Each form converted without --data."""
    result = {}
    for form in FORMS:
        out = qat_dir / f"{form.split('.')[0]}-{form.split('.')[-1].split(':')[0]}.tflite"
        done = convert_model(qat_dir / form if ":" not in form else f"{qat_dir}/{form}", out)
        assert done.trained_ranges and done.samples == 0 and not done.notes, form
        assert done.deployable, (form, done.problems)
        result[form] = out
    return result


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_every_form_converts_to_full_int8_without_data(
    form: str, converted: dict[str, Path]
) -> None:
    info = load_model(converted[form])
    dtypes = {t.dtype for t in info.tensors}
    assert dtypes <= {"int8", "int32"}, dtypes
    assert info.tensor(info.inputs[0]).dtype == "int8"
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(info.op_histogram)


@pytest.mark.slow
def test_keras_and_h5_give_the_same_model(converted: dict[str, Path]) -> None:
    """The .keras archive's arrays land in the right variables (tfmot 0.8.1's own loader
    refuses it): the same bytes as the .h5 of the same trained model."""
    assert converted["qat.keras"].read_bytes() == converted["qat.h5"].read_bytes()


@pytest.mark.slow
def test_data_given_is_not_needed_and_changes_nothing(
    qat_dir: Path, converted: dict[str, Path]
) -> None:
    out = qat_dir / "with-data.tflite"
    done = tinyflash(
        "convert", qat_dir / "qat.keras", "-o", out, "--data", qat_dir / "calibration.npz"
    )
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stdout.splitlines() if line.startswith("note:")]
    assert notes == [f"note: {DATA_NOT_NEEDED}"]
    assert out.read_bytes() == converted["qat.keras"].read_bytes()


@pytest.mark.slow
def test_evaluate_and_check_work_as_for_any_model(
    qat_dir: Path, converted: dict[str, Path]
) -> None:
    done = tinyflash(
        "evaluate", qat_dir / "qat.h5", converted["qat.h5"], "--data", qat_dir / "test.npz",
        "--samples", "40", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["samples"] == 40 and report["accuracy_float"] is not None
    # the fake-quant model and its int8 conversion compute the same grid: close outputs
    assert report["outputs"][0]["cosine"] > 0.99
    assert tinyflash("check", converted["qat.h5"], "--json").returncode == 0


@pytest.mark.slow
@pytest.mark.qemu
def test_deploy_without_data_is_bit_exact_on_mps2_an386(qat_dir: Path, tmp_path: Path) -> None:
    """The float QAT model straight to the emulated Cortex-M4: converted with its own ranges,
    built, run and compared with TFLM bit for bit."""
    done = tinyflash(
        "deploy", qat_dir / "qat.keras", "--board", "mps2-an386", "-o", tmp_path / "d", "-n", "3"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS: bit-exact with the TFLM reference on 3 inputs" in done.stdout


@pytest.mark.slow
def test_a_plain_float_model_still_needs_data(tmp_path: Path) -> None:
    expect_error(
        tinyflash(
            "convert", REPO / "examples" / "digits" / "digits.keras", "-o", tmp_path / "x.tflite"
        ),
        EXIT_BAD_INPUT,
        "needs calibration data",
    )


# ---- preflight (no TensorFlow) -------------------------------------------------------------


def _keras_archive(path: Path, layers: list[dict]) -> Path:
    config = {"class_name": "Functional", "config": {"layers": layers}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return path


def test_preflight_tells_qat_models_without_tensorflow(tmp_path: Path) -> None:
    tfmot = "tensorflow_model_optimization.python.core.quantization.keras.quantize_layer"
    qat = _keras_archive(
        tmp_path / "qat.keras",
        [{"class_name": "QuantizeLayer", "module": tfmot, "config": {"name": "q"}}],
    )
    plain = _keras_archive(
        tmp_path / "plain.keras",
        [{"class_name": "Dense", "module": "keras.layers", "config": {"name": "d"}}],
    )
    saved = tmp_path / "sm"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"\x0a\x00FakeQuantWithMinMaxVars\x00")
    mentions = tmp_path / "m.py"
    mentions.write_text("import tensorflow_model_optimization as tfmot\nmodel = None\n")
    silent = tmp_path / "s.py"
    silent.write_text("model = None\n")
    code = (
        "import sys\n"
        "from tinyflash.floatmodel import parse_model_spec\n"
        "from tinyflash.preflight import quantization_aware\n"
        f"print([quantization_aware(parse_model_spec(m)) for m in {[str(qat), str(plain), str(saved), f'{mentions}:model', f'{silent}:model']!r}])\n"
        "print('tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[True, False, True, None, False]", "False"]
    assert quantization_aware(parse_model_spec(qat)) is True


def test_digits_example_is_not_qat() -> None:
    spec = parse_model_spec(REPO / "examples" / "digits" / "digits.keras")
    assert quantization_aware(spec) is False
    assert np.load(REPO / "examples" / "digits" / "test.npz")["x"].shape[1:] == (8, 8, 1)

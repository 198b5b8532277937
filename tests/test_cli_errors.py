"""Every bad input through the real CLI (`.venv/bin/tinyflash` in a subprocess): its one sentence on
stderr, its exit code, and no traceback. docs/errors.md lists the same cases."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from support.cli import expect_error, tinyflash

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits"


# ---- convert: bad inputs found before TensorFlow starts (fast) ------------------------------


def test_convert_missing_model(tmp_path: Path) -> None:
    run = tinyflash(
        "convert",
        tmp_path / "nope.keras",
        "-o",
        tmp_path / "o.tflite",
        "--data",
        DIGITS / "calibration.npz",
    )
    expect_error(run, 2, f"{tmp_path / 'nope.keras'}: model not found")


def test_convert_missing_and_unreadable_calibration(tmp_path: Path) -> None:
    model = DIGITS / "digits.keras"
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite", "--data", tmp_path / "none.npz"),
        2,
        "calibration data not found",
    )
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite", "--data", tmp_path / "junk.npz"),
        2,
        "not a readable NumPy .npz archive",
    )
    good = np.load(DIGITS / "calibration.npz")["x"]
    np.save(tmp_path / "cut.npy", good)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:300])
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite", "--data", tmp_path / "cut.npy"),
        2,
        "cannot read the calibration data",
    )


def test_convert_empty_and_nan_calibration(tmp_path: Path) -> None:
    model = DIGITS / "digits.keras"
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 8, 8, 1), np.float32))
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite", "--data", tmp_path / "empty.npz"),
        2,
        "the calibration set for input 'image' is empty",
    )
    bad = np.full((5, 8, 8, 1), 0.5, np.float32)
    bad[3, 0, 0, 0] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite", "--data", tmp_path / "inf.npy"),
        2,
        "contains NaN or Inf",
    )


def test_convert_usage_errors(tmp_path: Path) -> None:
    model = DIGITS / "digits.keras"
    calib = DIGITS / "calibration.npz"
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite", "--data", calib, "--mode", "int4"),
        2,
        "unknown --mode 'int4'",
    )
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.tflite"),
        2,
        "mode int8 needs calibration data",
    )
    expect_error(
        tinyflash(
            "convert", DIGITS / "digits_int8.tflite", "-o", tmp_path / "o.tflite", "--data", calib
        ),
        2,
        "already a .tflite",
    )
    expect_error(
        tinyflash("convert", model, "-o", tmp_path / "o.bin", "--data", calib),
        2,
        "must end in .tflite",
    )
    expect_error(
        tinyflash(
            "convert", f"{tmp_path / 'm.py'}:fn", "-o", tmp_path / "o.tflite", "--data", calib
        ),
        2,
        "model not found",
    )


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    run = tinyflash(
        "--debug",
        "convert",
        tmp_path / "nope.keras",
        "-o",
        tmp_path / "o.tflite",
        "--data",
        DIGITS / "calibration.npz",
    )
    assert run.returncode != 0 and "Traceback" in run.stderr and "TinyflashError" in run.stderr


# ---- convert: bad inputs found with the model loaded (TensorFlow child) ---------------------


@pytest.mark.slow
def test_convert_wrong_calibration_shape(tmp_path: Path) -> None:
    np.save(tmp_path / "mnist.npy", np.zeros((10, 28, 28), np.float32))
    line = expect_error(
        tinyflash(
            "convert",
            DIGITS / "digits.keras",
            "-o",
            tmp_path / "o.tflite",
            "--data",
            tmp_path / "mnist.npy",
        ),
        2,
        "input 'image'",
        "(10, 28, 28)",
        "(samples, 8, 8, 1)",
    )
    assert str(tmp_path / "mnist.npy") in line
    assert not (tmp_path / "o.tflite").exists()


@pytest.mark.slow
def test_convert_op_outside_the_int8_set(tmp_path: Path) -> None:
    """SIN has no int8 kernel: TF 2.21 keeps it in float32 between DEQUANTIZE and QUANTIZE even
    with TFLITE_BUILTINS_INT8 only, so convert writes the file and fails the check (exit 1)."""
    source = tmp_path / "wave.py"
    source.write_text(
        textwrap.dedent("""
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def wave(x):
            return tf.sin(x) * 2.0
        """)
    )
    np.save(tmp_path / "w.npy", np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    expect_error(
        tinyflash(
            "convert", f"{source}:wave", "-o", tmp_path / "w.tflite", "--data", tmp_path / "w.npy"
        ),
        1,
        f"{tmp_path / 'w.tflite'} was written but is not deployable in mode int8",
        "SIN",
        "tinyflash check",
    )


@pytest.mark.slow
def test_convert_python_file_errors(tmp_path: Path) -> None:
    source = tmp_path / "plain.py"
    source.write_text("import tensorflow as tf\n\n@tf.function\ndef f(x):\n    return x\n")
    np.save(tmp_path / "x.npy", np.zeros((2, 4), np.float32))
    expect_error(
        tinyflash(
            "convert", f"{source}:f", "-o", tmp_path / "o.tflite", "--data", tmp_path / "x.npy"
        ),
        2,
        "has no input_signature",
    )


# ---- check: models that are not full int8, and broken files --------------------------------


@pytest.fixture(scope="module")
def host_only_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The example converted by the real CLI in the modes that are not deployable as is."""
    out = tmp_path_factory.mktemp("modes")
    models = {}
    for mode in ("float16", "dynamic", "int8-float-io"):
        path = out / f"digits_{mode}.tflite"
        run = tinyflash(
            "convert",
            DIGITS / "digits.keras",
            "-o",
            path,
            "--mode",
            mode,
            "--data",
            DIGITS / "calibration.npz",
            "--samples",
            "20",
        )
        assert run.returncode == 0, run.stderr
        assert run.stderr.strip() == "", run.stderr  # no TensorFlow noise on the terminal
        if mode in ("float16", "dynamic"):
            assert f"mode {mode} runs on the host" in run.stdout
        models[mode] = path
    return models


@pytest.mark.slow
def test_check_float16_model(host_only_models: dict[str, Path]) -> None:
    run = tinyflash("check", host_only_models["float16"])
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert "float16" in run.stdout and "not deployable" in run.stdout
    assert run.stdout.count("--mode int8") == 1 and "representative data" not in run.stdout


@pytest.mark.slow
def test_check_hybrid_model(host_only_models: dict[str, Path]) -> None:
    run = tinyflash("check", host_only_models["dynamic"])
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert "FULLY_CONNECTED is hybrid: int8 weights, float32 activations" in run.stdout


@pytest.mark.slow
def test_check_float_io_model(host_only_models: dict[str, Path]) -> None:
    """int8 inside, float32 at the edges: the check names the float input/output."""
    from tinyflash.model import load_model

    info = load_model(host_only_models["int8-float-io"])
    assert info.tensor(info.inputs[0]).dtype == "float32"
    assert [op.name for op in info.ops][0] == "QUANTIZE" and info.ops[-1].name == "DEQUANTIZE"
    run = tinyflash("check", host_only_models["int8-float-io"])
    assert "Traceback" not in run.stdout + run.stderr
    assert "float32 model input" in run.stdout and "int8-float-io" in run.stdout
    assert run.returncode == 0  # deployable with a warning (opcheck's rule; docs/errors.md)


@pytest.mark.slow
def test_check_op_outside_int8_set(tmp_path: Path) -> None:
    """A model whose SIN stays float32 between int8 ops (converted with float fallback)."""
    from tinyflash.convert import import_tensorflow

    tf = import_tensorflow()

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def wave(x):  # type: ignore[no-untyped-def]
        return tf.sin(x * 2.0) + 1.0

    converter = tf.lite.TFLiteConverter.from_concrete_functions([wave.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS,
    ]
    rng = np.random.default_rng(1)
    converter.representative_dataset = lambda: (
        [rng.normal(size=(1, 4)).astype(np.float32)] for _ in range(8)
    )
    path = tmp_path / "sin.tflite"
    path.write_bytes(converter.convert())
    run = tinyflash("check", path)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert "SIN" in run.stdout and "not deployable" in run.stdout


def test_check_corrupt_and_truncated(tmp_path: Path) -> None:
    good = (DIGITS / "digits_int8.tflite").read_bytes()
    (tmp_path / "random.tflite").write_bytes(np.random.default_rng(3).bytes(4096))
    expect_error(tinyflash("check", tmp_path / "random.tflite"), 2, "is not a TFLite model")
    (tmp_path / "cut.tflite").write_bytes(good[: len(good) // 3])
    expect_error(tinyflash("check", tmp_path / "cut.tflite"), 2, "corrupt TFLite model")
    (tmp_path / "tiny.tflite").write_bytes(good[:5])
    expect_error(tinyflash("check", tmp_path / "tiny.tflite"), 2, "truncated or empty")


# ---- evaluate ----------------------------------------------------------------------------


def test_evaluate_missing_files(tmp_path: Path) -> None:
    expect_error(
        tinyflash(
            "evaluate",
            DIGITS / "digits.keras",
            tmp_path / "q.tflite",
            "--data",
            DIGITS / "test.npz",
        ),
        2,
        "quantized model not found",
    )
    expect_error(
        tinyflash(
            "evaluate",
            DIGITS / "digits.keras",
            DIGITS / "digits_int8.tflite",
            "--data",
            tmp_path / "x.npz",
        ),
        2,
        "evaluation data not found",
    )


@pytest.mark.slow
def test_evaluate_bad_labels(tmp_path: Path) -> None:
    np.save(tmp_path / "labels.npy", np.arange(3))
    expect_error(
        tinyflash(
            "evaluate",
            DIGITS / "digits.keras",
            DIGITS / "digits_int8.tflite",
            "--data",
            DIGITS / "test.npz",
            "--labels",
            tmp_path / "labels.npy",
        ),
        2,
        "3 labels for 449 samples",
    )


# ---- flag names live in cli.py ----------------------------------------------------------------


def _library_error_sentences() -> list[tuple[str, int, str]]:
    """(file, line, text) of every string piece of a TinyflashError(...) sentence outside cli.py."""
    import ast

    found = []
    for path in sorted((REPO / "toolchain" / "tinyflash").glob("*.py")):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "TinyflashError"
                and node.args
            ):
                for piece in ast.walk(node.args[0]):
                    if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
                        found.append((path.name, node.lineno, piece.value))
    return found


def test_library_sentences_name_options_not_flags() -> None:
    """Library errors mark their caller's settings with errors.option(); only cli.py turns them
    into flag names, so no sentence outside cli.py spells a flag (`--force`, `-o`)."""
    import re

    sentences = _library_error_sentences()
    assert len(sentences) > 100  # the scan sees the library's errors
    flag = re.compile(r"(^|[\s(])(--[a-z][a-z-]+|-o)\b(?![-\w])")
    spelled = [
        (f, line, text)
        for f, line, text in sentences
        # a whole command line to run (`pio device list ...`, `tinyflash generate ...`)
        # is an example, not a flag named in the sentence
        if flag.search(text) and not re.search(r"`(pio|tinyflash) |\(tinyflash ", text)
    ]
    assert not spelled, spelled


def test_every_marked_option_has_a_flag() -> None:
    import re

    from tinyflash.cli import OPTION_FLAGS, error_sentence
    from tinyflash.errors import TinyflashError, option

    used = set()
    for path in (REPO / "toolchain" / "tinyflash").glob("*.py"):
        used |= set(re.findall(r"option\('([a-z_]+)'\)", path.read_text(encoding="utf-8")))
    assert used and used <= set(OPTION_FLAGS), used - set(OPTION_FLAGS)
    error = TinyflashError(f"out is not empty; pass {option('force')} to replace it")
    assert error.message == "out is not empty; pass `force` to replace it"
    assert error_sentence(error) == "out is not empty; pass --force to replace it"
    assert error.options == ("force",)

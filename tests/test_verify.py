"""`tinyflash verify` and `deploy` end to end: real generated projects, real PlatformIO builds,
real QEMU boards (and host firmware) over a real serial link, compared with tflite-micro."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_model_path
from support.cli import tinyflash
from support.faults import plant_fault
from tinyflash.errors import EXIT_CHECK_FAILED, TinyflashError

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits" / "digits_int8.tflite"
DIGITS_FLOAT = REPO / "examples" / "digits" / "digits.keras"
DIGITS_DATA = REPO / "examples" / "digits" / "test.npz"
EMULATED = ["mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547", "microbit"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
        reason="arm-none-eabi-gcc and qemu-system-arm are needed",
    ),
]


def _verify_json(*args: str) -> tuple[int, dict]:
    done = tinyflash("verify", *args, "--json")
    assert "Traceback" not in done.stderr, done.stderr
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}") from None


def _assert_bit_exact(result: dict, samples: int) -> None:
    assert result["passed"] is True
    assert result["samples"] == samples
    exact = [m for m in result["metrics"] if m["reference"] == "tflm"]
    assert exact and all(m["exact_fraction"] == 1.0 and m["max_abs_diff_lsb"] == 0 for m in exact)
    assert result["arena_used"] == result["arena_planned"] > 0
    assert result["ticks"]["min"] > 0
    assert result["op_ticks"] and all(o["ticks"] >= 0 for o in result["op_ticks"])


@pytest.mark.qemu
@pytest.mark.parametrize("board", EMULATED + ["host"])
def test_example_is_bit_exact_on_every_board(tmp_path: Path, board: str) -> None:
    code, result = _verify_json(
        str(DIGITS),
        "--board",
        board,
        "-o",
        str(tmp_path / "p"),
        "--samples",
        "8",
        "--data",
        str(DIGITS_DATA),
    )
    assert code == 0, result
    _assert_bit_exact(result, 8)
    assert result["board"] == board
    if board != "host":  # SysTick under qemu -icount: a fixed number of instructions per tick
        assert "instructions" in result["tick_unit"]


@pytest.mark.qemu
def test_ticks_are_deterministic_under_icount(tmp_path: Path) -> None:
    """The same firmware run twice in QEMU (-icount shift=0) reports identical tick counts,
    per inference and per op."""
    from tinyflash.boards import load_board
    from tinyflash.codegen import generate
    from tinyflash.emulator import start_device
    from tinyflash.platformio import build_project
    from tinyflash.verify import verify_device

    project = generate(DIGITS, "mps2-an386", tmp_path / "p", selftest=0).project_dir
    elf = build_project(project).elf
    runs = []
    for _ in range(2):
        with start_device(load_board("mps2-an386"), elf) as device:
            result = verify_device(
                device.url, project / "model.tflite", board="mps2-an386", samples=3
            )
        assert result.passed
        runs.append(
            (
                [result.ticks.minimum, result.ticks.median, result.ticks.maximum],
                [o.ticks for o in result.op_ticks],
            )
        )
    assert runs[0] == runs[1]


@pytest.mark.qemu
@pytest.mark.parametrize("name", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant"])
def test_shared_models_bit_exact_on_m4(tmp_path: Path, name: str) -> None:
    model = shared_model_path(name)
    code, result = _verify_json(
        str(model), "--board", "mps2-an386", "-o", str(tmp_path / "p"), "--samples", "5"
    )
    assert code == 0, result
    _assert_bit_exact(result, 5)


def test_wrong_kernel_is_caught_and_located(tmp_path: Path) -> None:
    """A deliberately wrong MAX_POOL_2D (built into a vendored host project) fails verification,
    and --per-layer names that op as the first divergence."""
    project = tmp_path / "p"
    done = tinyflash(
        "generate",
        str(DIGITS),
        "--board",
        "host",
        "-o",
        str(project),
        "--vendor",
        "--selftest",
        "0",
    )
    assert done.returncode == 0, done.stderr
    # MAX_POOL_2D's eval is the max branch of the shared pooling walk (tfl_kernel_pool2d.c)
    # Plant the fault: every pooled maximum comes out one larger (then clamped as usual);
    # AVERAGE_POOL_2D's branch is untouched.
    exact = "if (kind == POOL2D_MAX) return v;"
    plant_fault(project, "tfl_kernel_pool2d.c", exact, "if (kind == POOL2D_MAX) return v + 1;")
    code, result = _verify_json(str(project), "--samples", "3", "--per-layer")
    assert code == EXIT_CHECK_FAILED
    assert result["passed"] is False and result["first_mismatch_sample"] == 0
    divergence = result["divergence"]
    assert divergence is not None
    assert divergence["op_name"] == "MAX_POOL_2D"
    assert divergence["max_abs_diff_lsb"] == 1


def test_device_with_another_model_is_refused(tmp_path: Path) -> None:
    from tinyflash.boards import load_board
    from tinyflash.codegen import generate
    from tinyflash.emulator import start_device
    from tinyflash.platformio import build_project
    from tinyflash.verify import verify_device

    project = generate(DIGITS, "host", tmp_path / "p", selftest=0).project_dir
    build = build_project(project)
    other = shared_model_path("ad01_int8")
    with start_device(load_board("host"), build.elf) as device:
        with pytest.raises(TinyflashError) as error:
            verify_device(device.url, other, board="host", samples=1)
    assert "different model" in error.value.message
    assert error.value.exit_code == EXIT_CHECK_FAILED


def test_wrong_input_shape_is_refused_before_sending(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 5, 5), dtype=np.float32))
    done = tinyflash(
        "verify", str(DIGITS), "--board", "host", "-o", str(tmp_path / "p"), "--data", str(bad)
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "bad.npy" in done.stderr and "shape" in done.stderr


def test_verify_html_report(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    done = tinyflash(
        "verify",
        str(DIGITS),
        "--board",
        "host",
        "-o",
        str(tmp_path / "p"),
        "--samples",
        "4",
        "--float-model",
        str(DIGITS_FLOAT),
        "--html",
        str(report),
    )
    assert done.returncode == 0, done.stderr
    assert "PASS: bit-exact" in done.stdout
    text = report.read_text()
    # bit-exact: no one-bar histogram but the sentence; scatter, per-op ticks, arena layout
    assert "all 40 values equal the TFLM reference" in text
    assert text.count("<svg") >= 3
    assert "<h2>Arena tensors</h2>" in text and "MACs per tick" in text
    assert "<h2>Flash and RAM (bytes)</h2>" in text and "arena 2,368" in text
    # Self-contained: nothing is loaded from elsewhere (XML namespace names are not loads).
    assert re.search(r"""(src|href)\s*=\s*["']?https?:""", text) is None
    assert "<link" not in text and "<script" not in text
    assert "float" in text


def test_deploy_tflite_skips_conversion(tmp_path: Path) -> None:
    done = tinyflash(
        "deploy",
        str(DIGITS),
        "--board",
        "host",
        "-o",
        str(tmp_path / "out"),
        "--samples",
        "3",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["converted"] is False
    _assert_bit_exact(result["verify"], 3)

"""CLI polish: build-failure summaries without traceback frames, errors on stderr that are exactly
their sentence, option suggestions that the option accepts, and human output that reads well in
an 80-column terminal."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from conftest import REPO, shared_model_path
from support.cli import tinyflash

DIGITS_INT8 = REPO / "examples" / "digits" / "digits_int8.tflite"
run_cli = functools.partial(tinyflash, columns=80, timeout=300)  # the width of a small terminal

# A pre: extra script that asks PlatformIO for a platform that is not installed: SCons reports
# PlatformIO's UnknownPlatform with a Python traceback, as in a real build whose symlinked platform
# record was re-pointed by another checkout's build (PlatformIO's shared core directory).
UNKNOWN_PLATFORM_SCRIPT = """\
from platformio.platform.factory import PlatformFactory
PlatformFactory.new("symlink:///nonexistent/tinyflash-platform")
"""


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated mps2-an386 project whose PlatformIO build fails with UnknownPlatform before
    compiling anything."""
    project = tmp_path_factory.mktemp("broken") / "fw"
    gen = run_cli(
        "generate", DIGITS_INT8, "--board", "mps2-an386", "-o", project, "--selftest", "0"
    )
    assert gen.returncode == 0, gen.stderr
    (project / "unknown_platform.py").write_text(UNKNOWN_PLATFORM_SCRIPT)
    with (project / "platformio.ini").open("a") as ini:
        ini.write("extra_scripts = pre:unknown_platform.py\n")
    return project


def test_build_failure_names_unknown_platform_not_traceback_frames(broken_project: Path) -> None:
    """A real `pio run` that fails with UnknownPlatform: the error names the failure, not the
    Python frames SCons prints under it."""
    from tinyflash.errors import TinyflashError
    from tinyflash.platformio import build_project

    with pytest.raises(TinyflashError) as caught:
        build_project(broken_project)
    message = caught.value.message
    assert "UnknownPlatform: Unknown development platform" in message, message
    assert "symlink:///nonexistent/tinyflash-platform" in message, message
    assert 'File "' not in message and "line 70" not in message, message
    assert "[FAILED]" not in message and "=====" not in message, message
    # the full log still has the frames
    log = broken_project / ".pio" / "tinyflash-build-mps2-an386.log"
    assert 'File "' in log.read_text()


def test_summarize_failure_keeps_compiler_errors_and_drops_frames() -> None:
    """gcc and make lines are kept in order; frames and their source lines are dropped; a log
    without any error line falls back to its last lines, still without frames."""
    from tinyflash.platformio import summarize_failure

    log = (
        "Compiling .pio/build/x/src/main.o\n"
        "src/main.c:3:5: error: unknown type name 'foo'\n"
        "    3 |     foo x;\n"
        "*** [.pio/build/x/src/main.o] Error 1\n"
        "========================== [FAILED] Took 0.5 seconds ==========================\n"
    )
    assert summarize_failure(log) == (
        "src/main.c:3:5: error: unknown type name 'foo' | *** [.pio/build/x/src/main.o] Error 1"
    )
    frames = (
        "Processing x\n"
        "KeyError: 'BOARD_MCU':\n"
        '  File "/venv/platformio/builder/main.py", line 100:\n'
        "    env.SConscript(x)\n"
        "========================== [FAILED] Took 0.1 seconds ==========================\n"
    )
    assert summarize_failure(frames) == "KeyError: 'BOARD_MCU'"
    headers = (
        "CONFIGURATION: https://docs.platformio.org/page/boards/tinyflash/host.html\n"
        "PLATFORM: tinyflash emulated boards and host (0.1.0)\n"
        "src/main.c:66:1: error: unknown type name 'this'\n"
    )
    # PlatformIO's upper-case headers are not exceptions: the compiler error comes first.
    assert summarize_failure(headers) == "src/main.c:66:1: error: unknown type name 'this'"
    quiet = '  File "/a.py", line 1:\n    x()\nsomething went wrong\n'
    assert summarize_failure(quiet) == "something went wrong"


def test_verify_error_on_stderr_is_exactly_the_sentence(broken_project: Path) -> None:
    """No blank line from the (transient) progress display before the error sentence."""
    run = run_cli("verify", broken_project, "--samples", "1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.startswith("error: build of "), repr(run.stderr[:200])
    assert "\n\n" not in run.stderr and run.stderr.count("\n") == 1, repr(run.stderr)
    assert run.stdout == ""


def test_deploy_error_on_stderr_has_no_blank_line(tmp_path: Path) -> None:
    """deploy's stage lines, then the error sentence, with no blank line between them."""
    run = run_cli("deploy", tmp_path / "missing.tflite", "-o", tmp_path / "out")
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.splitlines()
    assert lines and lines[-1].startswith("error: ") and "missing.tflite" in lines[-1], lines
    assert all(line.strip() for line in lines), repr(run.stderr)
    assert run.stdout == ""


def test_evaluate_unknown_reference_suggests_only_what_evaluate_accepts() -> None:
    """--reference runs the quantized model: the suggestion must not offer 'float'."""
    run = run_cli(
        "evaluate",
        REPO / "examples" / "digits" / "digits.keras",
        DIGITS_INT8,
        "--data",
        REPO / "examples" / "digits" / "test.npz",
        "--reference",
        "nope",
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert "'nope'" in run.stderr and "float" not in run.stderr, run.stderr
    for name in ("tflite-ref", "tflm", "tflite-default"):
        assert name in run.stderr, run.stderr


def assert_fits(text: str, width: int = 80) -> None:
    """Every line fits `width`, except one that is long only because of a path (a path is never
    broken: it stays copyable), with at most a short label beside it."""
    for line in text.splitlines():
        line = line.rstrip()
        if len(line) <= width:
            continue
        path = max(line.split(), key=len)
        assert "/" in path and len(line) - len(path) <= 30, (len(line), line)


def assert_markers_stay_with_their_tensor(text: str) -> None:
    """In check's per-op table the 'per-ch' and 'c' markers follow their tensor's dtype[shape] on
    the same line (a marker wrapped onto a line of its own reads as a tensor)."""
    for line in text.splitlines():
        tokens = line.split()
        for i, token in enumerate(tokens):
            if token == "per-ch":
                assert i > 0 and tokens[i - 1].endswith("]"), line
            if token == "c":
                assert i > 0 and (tokens[i - 1].endswith("]") or tokens[i - 1] == "per-ch"), line


@pytest.mark.parametrize("name", ["digits", "kws_ref_model", "ad01_int8", "pretrainedResnet_quant"])
def test_check_fits_80_columns(name: str) -> None:
    model = DIGITS_INT8 if name == "digits" else shared_model_path(name)
    run = run_cli("check", model)
    assert run.returncode == 0, run.stderr
    assert_fits(run.stdout)
    assert_markers_stay_with_their_tensor(run.stdout)
    assert "deployable: full int8" in run.stdout
    # the memory summary is broken between its parts, never inside one
    assert "peak activations " in run.stdout and "planned arena " in run.stdout
    assert re.search(r"pool [\d,]+ words", run.stdout), run.stdout
    for line in run.stdout.splitlines():
        assert line.strip() not in ("words", "B", "B,"), line


def test_generate_boards_doctor_fit_80_columns(tmp_path: Path) -> None:
    """generate's estimate table breaks its parts between parts (never between a part's name and
    its bytes); boards keeps one line per board; doctor fits."""
    run = run_cli("generate", DIGITS_INT8, "--board", "host", "-o", tmp_path / "fw")
    assert run.returncode == 0, run.stderr
    assert_fits(run.stdout)
    for line in run.stdout.splitlines():
        assert not line.strip()[:1].isdigit(), line  # a number wrapped away from its name
    assert re.search(r"kernels: conv_2d, depthwise_conv_2d", run.stdout)
    assert "arena 2,368 B, pool 180 words, 3 self-test vectors" in run.stdout
    boards = run_cli("boards", "--json")
    ids = {b["id"] for b in __import__("json").loads(boards.stdout)}
    run = run_cli("boards")
    assert run.returncode == 0, run.stderr
    assert_fits(run.stdout)
    rows = [line for line in run.stdout.splitlines()[3:] if line.strip()]
    assert {row.split()[0] for row in rows[: len(ids)]} == ids, run.stdout
    assert "arduino framework" in rows[-1]
    run = run_cli("doctor")
    assert_fits(run.stdout)


@pytest.mark.slow
@pytest.mark.qemu
def test_convert_evaluate_deploy_build_fit_80_columns(tmp_path: Path) -> None:
    """The happy paths of convert, evaluate, deploy (host board) and build at COLUMNS=80: every
    line fits, and a path or a number with its unit is never split."""
    digits = REPO / "examples" / "digits"
    tflite = tmp_path / "d.tflite"
    outputs = []
    for args in (
        ("convert", digits / "digits.keras", "-o", tflite, "--data", digits / "calibration.npz"),
        ("evaluate", digits / "digits.keras", tflite, "--data", digits / "test.npz"),
        ("deploy", tflite, "--board", "host", "-o", tmp_path / "dep", "--samples", "2"),
        ("build", tmp_path / "dep" / "project"),
    ):
        run = run_cli(*args, timeout=900)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
        assert "\n\n" not in run.stderr, (args, run.stderr)
        assert_fits(run.stdout)
        outputs.append(run.stdout)
    convert, evaluate, deploy, build = outputs
    assert f"-> {tflite}" in convert and f"(next: tinyflash check {tflite})" in convert
    assert re.search(r"output Identity: max abs [\d.e-]+, mean abs", evaluate), evaluate
    assert f"artefacts: {tmp_path / 'dep'}" in deploy and "PASS: bit-exact" in deploy
    assert re.search(r"arena 2,368 B planned,\s+lower bound 2,368 B", deploy), deploy
    assert f"log {tmp_path / 'dep' / 'project' / '.pio'}" in build, build

"""Real boards (boards/<PlatformIO board id>.json, Arduino framework on PlatformIO's standard
platforms): manifests, `tinyflash boards`, fit checks before any build, and the generated
projects as golden files. These boards cannot be built here (PlatformIO downloads their
toolchains on the first build); tests/test_arduino_port.py runs their sources on the host.

Goldens: tests/golden/<board>/ (rendered from tests/golden/tiny_cnn.tflite). After an intended
template change, regenerate and review the diff:

    TINYFLASH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_real_boards.py -k golden
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from support.models import fc_model
from tinyflash import codegen
from tinyflash.boards import list_boards, load_board
from tinyflash.errors import EXIT_CHECK_FAILED, TinyflashError
from tinyflash.pipeline import check_model_file

GOLDEN = REPO / "tests" / "golden"
TINY = GOLDEN / "tiny_cnn.tflite"
UPDATE = os.environ.get("TINYFLASH_UPDATE_GOLDEN") == "1"
FIRMWARE = REPO / "firmware"

# id -> (PlatformIO platform, cpu, kernel set, tick source, flash bytes, RAM bytes). Limits are
# PlatformIO's board manifests' upload.maximum_size / maximum_ram_size, except the ESP32s, whose
# flash limit is the default partition table's app slot (0x140000), which is what a sketch gets.
REAL = {
    "nano33ble": ("nordicnrf52", "cortex-m4", "dsp", "dwt", 983040, 262144),
    "esp32dev": ("espressif32", "xtensa-lx6", "portable", "micros", 1310720, 327680),
    "esp32-s3-devkitc-1": ("espressif32", "xtensa-lx7", "portable", "micros", 1310720, 524288),
    "pico": ("raspberrypi", "cortex-m0plus", "portable", "micros", 2097152, 270336),
    "nucleo_f446re": ("ststm32", "cortex-m4", "dsp", "dwt", 524288, 131072),
    "nucleo_l4r5zi": ("ststm32", "cortex-m4", "dsp", "dwt", 2097152, 655360),
    "disco_f746ng": ("ststm32", "cortex-m7", "dsp", "dwt", 1048576, 327680),
}
GOLDEN_FILES = ("README.md", "platformio.ini", "src/main.c", "src/sketch.cpp", "tinyflash.json")
#: Board-independent files: the emulated golden (tests/golden/tiny_cnn/) but for the board name.
SHARED_FILES = ("src/model_data.c", "src/model_data.h", "src/model_plan.c")


def render(board_id: str, model_path: Path = TINY) -> codegen.RenderedProject:
    checked = check_model_file(model_path)
    info = checked.info
    vectors = codegen.selftest_vectors(info.data, len(info.inputs), len(info.outputs), 3)
    return codegen.render_project(
        checked,
        board=codegen.board_spec(load_board(board_id)),
        vectors=vectors,
        paths=codegen.vendored_paths(),
        vendor=False,
    )


@pytest.fixture(scope="module")
def projects() -> dict[str, codegen.RenderedProject]:
    return {board_id: render(board_id) for board_id in REAL}


def _golden_text(project: codegen.RenderedProject, name: str) -> str:
    text = project.files[name].decode()
    if name == "tinyflash.json":
        # The vendored lib/ files change whenever the runtime gains a file; they are checked
        # against firmware/ byte for byte in test_vendored_sources_are_the_firmware's instead.
        manifest = json.loads(text)
        manifest["files"] = [f for f in manifest["files"] if not f.startswith("lib/")]
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return text


# ---- manifests and `tinyflash boards` --------------------------------------------------------


@pytest.mark.parametrize("board_id", sorted(REAL))
def test_manifest(board_id: str) -> None:
    platform, cpu, kernels, counter, flash, ram = REAL[board_id]
    board = load_board(board_id)
    assert (board.platform, board.cpu, board.kernels, board.flash_bytes, board.ram_bytes) == (
        platform,
        cpu,
        kernels,
        flash,
        ram,
    )
    assert board.port == "arduino" and board.flash_method == "platformio"
    assert board.frameworks == ("arduino",) and not board.emulated and board.qemu_machine is None
    spec = codegen.board_spec(board)
    assert spec.arduino and spec.cycle_counter == counter and spec.monitor_speed == 115200
    assert spec.framework_flash_bytes > 0 and spec.framework_ram_bytes > 0
    assert board.ram_bytes > board.stack_bytes + spec.framework_ram_bytes


def test_dsp_exactly_on_the_cortex_m4_m7_boards() -> None:
    dsp = {b.id for b in list_boards() if b.port == "arduino" and b.uses_dsp}
    assert dsp == {"nano33ble", "nucleo_f446re", "nucleo_l4r5zi", "disco_f746ng"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`tinyflash ARGS` (main(): errors become sentences and exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_boards_command_lists_the_real_boards_with_limits() -> None:
    done = _cli("boards", "--json")
    assert done.returncode == 0, done.stderr
    listed = {b["id"]: b for b in json.loads(done.stdout)}
    for board_id, (platform, _cpu, _, _, flash, ram) in REAL.items():
        assert listed[board_id]["flash_bytes"] == flash and listed[board_id]["ram_bytes"] == ram
        assert listed[board_id]["platform"] == platform
        assert listed[board_id]["flash_method"] == "platformio"


def test_boards_table_names_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from tinyflash.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["boards"])
    assert result.exit_code == 0, result.output
    lines = {
        line.split()[1]: line
        for line in result.output.splitlines()
        if line.startswith("│") and len(line.split()) > 2
    }
    for board_id, (platform, cpu, *_rest) in REAL.items():
        assert platform in lines[board_id] and cpu in lines[board_id], lines[board_id]
    assert "960.0 KiB" in lines["nano33ble"] and "128.0 KiB" in lines["nucleo_f446re"]


# ---- fit checks before any build ------------------------------------------------------------


def test_too_much_flash_for_nucleo_f446re(tmp_path: Path) -> None:
    """600 KB of weights: fits the L4R5 (2 MB) but not the F446 (512 KB), refused before the
    self-test runs and before anything is written."""
    model = tmp_path / "wide.tflite"
    model.write_bytes(fc_model(1000, 600))
    with pytest.raises(TinyflashError) as error:
        codegen.generate(model, "nucleo_f446re", tmp_path / "fw")
    assert error.value.exit_code == EXIT_CHECK_FAILED
    message = error.value.message
    assert "does not fit board nucleo_f446re: flash needs" in message
    assert "but the board has 524,288" in message and "RAM needs" not in message
    assert "largest part: model" in message
    assert not (tmp_path / "fw").exists()
    result = codegen.generate(model, "nucleo_l4r5zi", tmp_path / "l4", selftest=0)
    assert result.flash.fits and result.flash.limit == 2097152


def test_too_much_ram_for_nucleo_f446re(tmp_path: Path) -> None:
    """A 130,000-byte input activation: more than the F446's 128 KB of RAM, refused."""
    model = tmp_path / "long.tflite"
    model.write_bytes(fc_model(130_000, 1))
    with pytest.raises(TinyflashError) as error:
        codegen.generate(model, "nucleo_f446re", tmp_path / "fw")
    message = error.value.message
    assert "does not fit board nucleo_f446re: RAM needs" in message
    assert "but the board has 131,072" in message and "largest part: arena" in message


def test_framework_use_counts_against_the_board() -> None:
    """The same model needs more of a real board than of an emulated one: the Arduino core's
    estimated flash and RAM are lines of the budget."""
    project = render("nano33ble")
    emulated = codegen.board_spec(load_board("mps2-an386"))
    real = codegen.board_spec(load_board("nano33ble"))
    manifest = json.loads(project.files["tinyflash.json"])
    assert manifest["ram_estimate"]["lines"]["framework"] == real.framework_ram_bytes
    assert manifest["flash_estimate"]["lines"]["framework"] == real.framework_flash_bytes
    assert emulated.framework_ram_bytes == 0 and emulated.framework_flash_bytes == 0


def test_cli_does_not_fit_on_a_real_board(tmp_path: Path) -> None:
    model = tmp_path / "wide.tflite"
    model.write_bytes(fc_model(1000, 600))
    done = _cli("generate", str(model), "--board", "nucleo_f446re", "-o", str(tmp_path / "fw"))
    assert done.returncode == EXIT_CHECK_FAILED
    assert "does not fit board nucleo_f446re: flash" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


# ---- generated projects ---------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_FILES)
@pytest.mark.parametrize("board_id", sorted(REAL))
def test_golden(projects: dict[str, codegen.RenderedProject], board_id: str, name: str) -> None:
    golden = GOLDEN / board_id / name
    actual = _golden_text(projects[board_id], name)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with TINYFLASH_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{name} for {board_id} differs from {golden}; if the change is intended, regenerate "
        "with TINYFLASH_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("name", SHARED_FILES)
def test_model_files_are_the_emulated_boards_but_for_the_board_name(
    projects: dict[str, codegen.RenderedProject], name: str
) -> None:
    """The model array, its header and the memory plan (not kept as goldens per board) are the
    emulated golden's with only the board id in the first line changed."""
    emulated = (GOLDEN / "tiny_cnn" / name).read_text(encoding="utf-8")
    for board_id, project in projects.items():
        text = project.files[name].decode()
        assert text == emulated.replace("for board mps2-an386.", f"for board {board_id}.", 1)


@pytest.mark.parametrize("board_id", sorted(REAL))
def test_platformio_ini_uses_the_standard_platform(
    projects: dict[str, codegen.RenderedProject], board_id: str
) -> None:
    platform, _, kernels, counter, *_ = REAL[board_id]
    ini = projects[board_id].files["platformio.ini"].decode()
    body = [ln for ln in ini.splitlines() if ln and not ln.startswith(";")]
    assert body[:4] == [
        "[platformio]",
        f"default_envs = {board_id}",
        f"[env:{board_id}]",
        f"platform = {platform}",
    ]
    assert f"board = {board_id}" in body and "framework = arduino" in body
    assert "monitor_speed = 115200" in body
    assert f"    -DTFL_USE_DSP={int(kernels == 'dsp')}" in body
    assert f"    -DTFL_PORT_USE_DWT={int(counter == 'dwt')}" in body
    assert "symlink" not in ini and "boards_dir" not in ini  # PlatformIO's own board manifest
    board = load_board(board_id)
    speed = board.raw["tinyflash"].get("upload_speed")
    assert (f"upload_speed = {speed}" in body) == (speed is not None)


def test_vendored_sources_are_the_firmware(projects: dict[str, codegen.RenderedProject]) -> None:
    project = projects["nucleo_f446re"]
    lib = {name: data for name, data in project.files.items() if name.startswith("lib/")}
    expected: dict[str, bytes] = {}
    for source, target in codegen.ARDUINO_VENDORED_DIRS:
        for path in sorted((FIRMWARE / source).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                expected[f"{target}/{path.relative_to(FIRMWARE / source).as_posix()}"] = (
                    path.read_bytes()
                )
    expected["lib/port/include/tfl_port.h"] = (FIRMWARE / "ports/include/tfl_port.h").read_bytes()
    assert lib == expected
    assert not any(name.startswith(("vendor/", "boards/")) for name in project.files)
    manifest = json.loads(project.files["tinyflash.json"])
    assert manifest["vendored"] is True and manifest["files"] == sorted(project.files)


def test_generate_writes_a_standalone_real_board_project(tmp_path: Path) -> None:
    result = codegen.generate(TINY, "esp32dev", tmp_path / "esp", selftest=1)
    assert result.vendored and result.kernel_set == "portable"
    files = {
        p.relative_to(tmp_path / "esp").as_posix()
        for p in (tmp_path / "esp").rglob("*")
        if p.is_file()
    }
    assert files == set(result.files)
    assert "lib/port/src/tfl_port_arduino.cpp" in files and "src/sketch.cpp" in files
    assert not any(
        os.path.isabs(line.split("=", 1)[-1].strip())
        for line in (tmp_path / "esp" / "platformio.ini").read_text().splitlines()
        if "=" in line and not line.startswith(";")
    )


def test_dsp_override_refused_on_a_portable_real_board(tmp_path: Path) -> None:
    with pytest.raises(TinyflashError, match="board pico has no DSP extension"):
        codegen.generate(TINY, "pico", tmp_path / "fw", kernels="dsp")

"""Board manifests (boards/*.json) and their loader: fast, no builds."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinyflash.boards import Board, list_boards, load_board, parse_board
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError

REPO = Path(__file__).resolve().parents[1]
BOARDS_DIR = REPO / "boards"

# board id -> (cpu, kernel set, QEMU machine or None)
EXPECTED = {
    "mps2-an385": ("cortex-m3", "portable", "mps2-an385"),
    "mps2-an386": ("cortex-m4", "dsp", "mps2-an386"),
    "mps2-an500": ("cortex-m7", "dsp", "mps2-an500"),
    "mps2-an505": ("cortex-m33", "dsp", "mps2-an505"),
    "mps3-an547": ("cortex-m55", "mve", "mps3-an547"),
    "microbit": ("cortex-m0", "portable", "microbit"),
    "host": ("native", "portable", None),
}


@pytest.mark.parametrize("board_id", sorted(EXPECTED))
def test_every_board_loads_with_its_cpu_kernels_and_machine(board_id: str) -> None:
    board = load_board(board_id)
    cpu, kernels, machine = EXPECTED[board_id]
    assert isinstance(board, Board)
    assert (board.id, board.cpu, board.kernels, board.qemu_machine) == (
        board_id,
        cpu,
        kernels,
        machine,
    )
    assert board.flash_bytes > 0 and board.ram_bytes > board.stack_bytes
    assert board.emulated == (machine is not None)
    assert board.uses_dsp == (kernels in ("dsp", "mve"))
    assert board.tick_unit and board.serial


def test_microbit_is_the_small_board() -> None:
    microbit = load_board("microbit")
    assert microbit.ram_bytes == 16 * 1024
    assert microbit.flash_bytes == 256 * 1024
    assert microbit.port == "microbit"


def test_list_boards_is_sorted_and_includes_every_required_board() -> None:
    ids = [b.id for b in list_boards()]
    assert ids == sorted(ids)
    assert set(EXPECTED) <= set(ids)


def test_platformio_reads_the_manifests() -> None:
    """PlatformIO's own board-config class accepts every manifest and sees the same limits."""
    from platformio.platform.board import PlatformBoardConfig

    for board in list_boards():
        config = PlatformBoardConfig(str(board.manifest_path))
        assert config.get("build.cpu") == board.cpu
        assert config.get("upload.maximum_size") == board.flash_bytes
        assert config.get("upload.maximum_ram_size") == board.ram_bytes
        assert config.get("name") == board.name


def _write_variant(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads((BOARDS_DIR / "mps2-an386.json").read_text())
    data = copy.deepcopy(data)
    mutate(data)
    path = tmp_path / "custom-board.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "dotted",
    [
        "name",
        "vendor",
        "url",
        "frameworks",
        "build.cpu",
        "build.mcu",
        "build.f_cpu",
        "upload.maximum_size",
        "upload.maximum_ram_size",
        "tinyflash.port",
        "tinyflash.kernels",
        "tinyflash.flash",
        "tinyflash.qemu_machine",
        "tinyflash.serial",
        "tinyflash.tick_unit",
        "tinyflash.stack_bytes",
    ],
)
def test_missing_field_names_the_manifest_and_the_field(tmp_path: Path, dotted: str) -> None:
    def drop(data: dict) -> None:  # type: ignore[type-arg]
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[leaf]

    path = _write_variant(tmp_path, drop)
    with pytest.raises(TinyflashError) as caught:
        parse_board(path)
    message = caught.value.message
    assert str(path) in message
    assert f"'{dotted}' is missing" in message
    assert caught.value.exit_code == EXIT_BAD_INPUT


@pytest.mark.parametrize(
    "dotted,value,expect",
    [
        ("upload.maximum_ram_size", "16K", "must be an integer"),
        ("upload.maximum_size", 0, "positive"),
        ("tinyflash.kernels", "neon", "portable, dsp"),
        ("tinyflash.flash", "jtag", "qemu, exec, platformio"),
        ("build.f_cpu", "fast", "frequency"),
        ("name", "   ", "is empty"),
    ],
)
def test_invalid_field_value_is_explained(
    tmp_path: Path, dotted: str, value: object, expect: str
) -> None:
    def set_value(data: dict) -> None:  # type: ignore[type-arg]
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value

    path = _write_variant(tmp_path, set_value)
    with pytest.raises(TinyflashError) as caught:
        parse_board(path)
    assert str(path) in caught.value.message
    assert dotted in caught.value.message
    assert expect in caught.value.message


def test_qemu_machine_is_optional_for_non_emulated_boards(tmp_path: Path) -> None:
    def real_board(data: dict) -> None:  # type: ignore[type-arg]
        data["tinyflash"]["flash"] = "platformio"
        data["tinyflash"]["platform"] = "nordicnrf52"
        del data["tinyflash"]["qemu_machine"]

    board = parse_board(_write_variant(tmp_path, real_board))
    assert board.qemu_machine is None and not board.emulated
    assert board.platform == "nordicnrf52"


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(TinyflashError) as caught:
        load_board("arduino-uno-r99")
    assert "unknown board 'arduino-uno-r99'" in caught.value.message
    assert "mps2-an386" in caught.value.message


def test_broken_json_is_reported_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"name": "x",')
    with pytest.raises(TinyflashError) as caught:
        parse_board(path)
    assert str(path) in caught.value.message and "not valid JSON" in caught.value.message


def test_boards_command_json_lists_every_board() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "boards", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(done.stdout)
    by_id = {entry["id"]: entry for entry in data}
    assert set(EXPECTED) <= set(by_id)
    assert by_id["microbit"]["ram_bytes"] == 16384
    assert by_id["mps2-an386"]["qemu_machine"] == "mps2-an386"


def test_boards_command_table_shows_limits() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "boards"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert "microbit" in done.stdout and "16.0 KiB" in done.stdout
    assert "mps3-an547" in done.stdout and "cortex-m55" in done.stdout

"""The PlatformIO platform, the board ports and QEMU: real `pio run` builds (offline, with a
freshly provisioned tool-scons), real QEMU runs, real host executables.

One hello project (tests/fixtures/hello_port) is built once per board for the whole session; it
prints a line, times a 10,000- and a 100,000-iteration loop with tfl_port_ticks(), echoes one
serial input line and exits with the code that line asks for ("exit N")."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tinyflash.boards import load_board
from tinyflash.emulator import (
    fill_upload_command,
    qemu_command,
    run_to_exit,
    start_device,
    upload_command,
)
from tinyflash.errors import EXIT_CHECK_FAILED, TinyflashError
from tinyflash.platformio import (
    BuildResult,
    build_project,
    ensure_platformio,
    tool_scons_dir,
    tool_scons_status,
    upload_project,
)

REPO = Path(__file__).resolve().parents[1]
HELLO_SRC = REPO / "tests" / "fixtures" / "hello_port" / "src"
EMULATED = ["mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547", "microbit"]
ALL_BOARDS = EMULATED + ["host"]
TICKS = re.compile(rb"ticks 10000=(\d+) 100000=(\d+) unit=(.*)\n")

needs_arm = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc is not installed"
)
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None, reason="qemu-system-arm is not installed"
)


@contextmanager
def _core_dir(path: Path) -> Iterator[None]:
    old = os.environ.get("PLATFORMIO_CORE_DIR")
    os.environ["PLATFORMIO_CORE_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PLATFORMIO_CORE_DIR", None)
        else:
            os.environ["PLATFORMIO_CORE_DIR"] = old


def _project(
    root: Path,
    boards: list[str],
    src: Path | None = None,
    main_c: str | None = None,
    extra: str = "",
) -> Path:
    """A PlatformIO project in the shape `tinyflash generate` emits."""
    root.mkdir(parents=True, exist_ok=True)
    if src is not None:
        shutil.copytree(src, root / "src")
    else:
        (root / "src").mkdir()
        (root / "src" / "main.c").write_text(main_c or "")
    sections = [
        f"[env:{b}]\nplatform = symlink://{REPO / 'firmware' / 'platform'}\nboard = {b}\n"
        f"build_flags = -Werror{extra}\n"
        for b in boards
    ]
    (root / "platformio.ini").write_text("\n".join(sections))
    # The QEMU command of `pio run -t upload`, as `tinyflash generate` writes it.
    (root / "tinyflash.json").write_text(json.dumps({"emulator": {"command": upload_command()}}))
    return root


@pytest.fixture(scope="session")
def pio_core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty PlatformIO core directory: every build here starts by provisioning tool-scons."""
    return tmp_path_factory.mktemp("pio-core")


@pytest.fixture(scope="session")
def hello_builds(
    tmp_path_factory: pytest.TempPathFactory, pio_core: Path
) -> dict[str, BuildResult]:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    project = _project(tmp_path_factory.mktemp("hello") / "hello", ALL_BOARDS, src=HELLO_SRC)
    with _core_dir(pio_core):
        return {board: build_project(project, board) for board in ALL_BOARDS}


def _parse(output: bytes) -> tuple[int, int, str]:
    found = TICKS.search(output)
    assert found, output
    return int(found.group(1)), int(found.group(2)), found.group(3).decode()


# ---- offline PlatformIO ---------------------------------------------------------------------


@pytest.mark.slow
def test_tool_scons_is_provisioned_the_way_platformio_matches_it(
    hello_builds: dict[str, BuildResult], pio_core: Path
) -> None:
    with _core_dir(pio_core):
        folder = tool_scons_dir()
        assert folder == pio_core / "packages" / "tool-scons"
        assert tool_scons_status() == "4.41101.0"
        meta = json.loads((folder / ".piopm").read_text())
        assert meta["spec"]["owner"] == "platformio" and meta["name"] == "tool-scons"
        stamp = (folder / "package.json").stat().st_mtime_ns
        assert ensure_platformio() == folder  # idempotent: a second call changes nothing
        assert (folder / "package.json").stat().st_mtime_ns == stamp
        # PlatformIO itself lists it as an installed core package.
        listing = subprocess.run(
            [sys.executable, "-m", "platformio", "pkg", "list", "-g", "--only-tools"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "tool-scons" in listing.stdout and "4.41101.0" in listing.stdout


def test_ensure_platformio_replaces_a_package_platformio_would_not_match(tmp_path: Path) -> None:
    """A folder without the platformio owner in .piopm is what `pio pkg install -t file://…`
    leaves behind; PlatformIO ignores it, so it is provisioned again."""
    with _core_dir(tmp_path):
        folder = tmp_path / "packages" / "tool-scons"
        folder.mkdir(parents=True)
        (folder / "package.json").write_text('{"name": "tool-scons", "version": "4.41101.0"}')
        (folder / ".piopm").write_text(
            json.dumps(
                {
                    "type": "tool",
                    "name": "tool-scons",
                    "version": "4.41101.0",
                    "spec": {"owner": None, "name": "tool-scons"},
                }
            )
        )
        assert tool_scons_status() is None
        assert ensure_platformio() == folder
        assert tool_scons_status() == "4.41101.0"
        assert (folder / "SCons" / "Script" / "__init__.py").is_file()


# ---- builds ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("board_id", ALL_BOARDS)
def test_build_produces_firmware_map_and_sizes(
    hello_builds: dict[str, BuildResult], board_id: str
) -> None:
    result = hello_builds[board_id]
    board = load_board(board_id)
    assert result.elf.is_file() and result.map.is_file() and result.log.is_file()
    assert result.text > 0
    assert result.size.flash_used == result.text + result.data <= board.flash_bytes
    assert result.size.ram_used == result.data + result.bss <= board.ram_bytes
    if board.is_host:
        assert result.bin is None
    else:
        assert result.bin is not None and result.bin.stat().st_size > 0
        assert result.bss >= board.stack_bytes  # the linker script reserves the stack
        assert "tfl_reset_handler" in result.map.read_text()


@pytest.mark.slow
def test_failed_build_gives_the_first_error_and_the_log(
    tmp_path: Path, pio_core: Path, hello_builds: dict[str, BuildResult]
) -> None:
    project = _project(
        tmp_path / "broken", ["host"], main_c="int main(void) { return undefined_thing; }\n"
    )
    with _core_dir(pio_core), pytest.raises(TinyflashError) as caught:
        build_project(project)
    message = caught.value.message
    assert caught.value.exit_code == EXIT_CHECK_FAILED
    assert "undefined_thing" in message and "error" in message
    assert "tinyflash-build-host.log" in message


@pytest.mark.slow
@needs_arm
def test_microbit_ram_overflow_fails_at_link_time(
    tmp_path: Path, pio_core: Path, hello_builds: dict[str, BuildResult]
) -> None:
    main_c = (
        '#include <stdint.h>\n#include "tfl_port.h"\nstatic uint8_t arena[20000];\n'
        "int main(void) { tfl_port_init(); arena[1] = 1; tfl_port_write(arena, sizeof arena);"
        " return 0; }\n"
    )
    project = _project(tmp_path / "toobig", ["microbit"], main_c=main_c)
    with _core_dir(pio_core), pytest.raises(TinyflashError) as caught:
        build_project(project)
    assert "RAM" in caught.value.message and "overflow" in caught.value.message


# ---- running ---------------------------------------------------------------------------------


def test_qemu_command_is_deterministic_and_uses_semihosting() -> None:
    board = load_board("mps2-an505")
    command = qemu_command(board, Path("fw.elf"), 4567)
    assert command[:3] == ["qemu-system-arm", "-M", "mps2-an505"]
    joined = " ".join(command)
    assert "-icount shift=0" in joined
    assert "-serial tcp:127.0.0.1:4567,server=on,wait=on" in joined
    assert "-semihosting-config enable=on,target=native" in joined
    assert command[-2:] == ["-kernel", "fw.elf"]
    assert "-serial stdio" in " ".join(qemu_command(board, Path("fw.elf"), None))
    assert "-monitor none" in joined
    monitor = qemu_command(board, Path("fw.elf"), 4567, Path("/tmp/x/m.sock"))
    assert "-monitor unix:/tmp/x/m.sock,server=on,wait=off" in " ".join(monitor)


def test_upload_command_is_the_emulator_command_with_placeholders() -> None:
    """The platform's upload target runs the command generate writes into tinyflash.json from
    emulator.upload_command(); filled in, it is exactly emulator.qemu_command."""
    board = load_board("mps2-an386")
    filled = fill_upload_command(
        upload_command(), "mps2-an386", "tcp:127.0.0.1:4567,server=on,wait=on", "fw.elf"
    )
    assert filled == qemu_command(board, Path("fw.elf"), 4567)
    assert fill_upload_command(upload_command(), "mps2-an386", "stdio", "fw.elf") == qemu_command(
        board, Path("fw.elf")
    )
    # One definition: the builder keeps no copy of QEMU's options.
    builder = (REPO / "firmware" / "platform" / "builder" / "main.py").read_text()
    for option in ("qemu-system-arm", "-icount", "-semihosting-config", "-monitor"):
        assert option not in builder


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("board_id", ALL_BOARDS)
def test_hello_runs_prints_and_ticks_advance(
    hello_builds: dict[str, BuildResult], board_id: str
) -> None:
    board = load_board(board_id)
    if board.emulated and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    code, output = run_to_exit(board, hello_builds[board_id].elf, timeout=60, stdin=b"exit 7\n")
    assert code == 7, output
    assert f"hello from tinyflash on {board_id}\n".encode() in output
    assert b"echo: exit 7\n" in output
    assert f"kernels {board.kernels}\n".encode() in output  # TFL_USE_DSP/MVE from the manifest
    small, large, unit = _parse(output)
    assert unit == board.tick_unit
    assert 0 < small < large
    if board.emulated:
        # Under -icount the loop costs a fixed number of instructions per iteration, so ten times
        # the iterations is ten times the ticks, up to quantisation: +-1 tick on the small count
        # (x10) and on the large one, plus a fraction of a tick of call overhead.
        assert abs(large - 10 * small) <= 12, (small, large)


@pytest.mark.slow
@pytest.mark.qemu
@needs_qemu
@pytest.mark.parametrize("board_id", EMULATED)
def test_ticks_are_identical_across_runs(
    hello_builds: dict[str, BuildResult], board_id: str
) -> None:
    board = load_board(board_id)
    first = run_to_exit(board, hello_builds[board_id].elf, timeout=60, stdin=b"\n")
    second = run_to_exit(board, hello_builds[board_id].elf, timeout=60, stdin=b"\n")
    assert first[0] == second[0] == 0
    assert _parse(first[1])[:2] == _parse(second[1])[:2]
    assert first[1] == second[1]


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("board_id", ["mps2-an386", "mps2-an505", "mps3-an547", "microbit", "host"])
def test_serial_link_over_tcp_with_pyserial(
    hello_builds: dict[str, BuildResult], board_id: str
) -> None:
    board = load_board(board_id)
    if board.emulated and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    with start_device(board, hello_builds[board_id].elf) as device:
        assert device.url.startswith("socket://127.0.0.1:")
        link = device.open_serial(timeout=20)
        try:
            assert link.readline() == f"hello from tinyflash on {board_id}\n".encode()
            assert link.readline() == f"kernels {board.kernels}\n".encode()
            assert link.readline().startswith(b"ticks 10000=")
            link.write(b"exit 3\n")
            assert link.readline() == b"echo: exit 3\n"
        finally:
            link.close()
        assert device.wait(20) == 3
    assert device.exit_code == 3


@pytest.mark.slow
@pytest.mark.qemu
def test_device_stop_ends_a_waiting_emulator(hello_builds: dict[str, BuildResult]) -> None:
    board = load_board("mps2-an386")
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    with start_device(board, hello_builds["mps2-an386"].elf) as device:
        assert device.exit_code is None  # waits for a client before running
    assert device.exit_code is not None


@pytest.mark.slow
def test_pio_upload_runs_the_host_executable(
    hello_builds: dict[str, BuildResult], pio_core: Path
) -> None:
    project = hello_builds["host"].project_dir
    with _core_dir(pio_core):
        result = upload_project(project, "host", timeout=120)
    # stdin is closed, so the firmware reads end-of-link and exits 0.
    assert result.exit_code == 0, result.output
    assert "hello from tinyflash on host" in result.output
    assert "echo(eof): " in result.output


@pytest.mark.slow
@pytest.mark.qemu
@needs_qemu
def test_pio_upload_runs_qemu_with_the_uart_on_tcp(
    hello_builds: dict[str, BuildResult], pio_core: Path
) -> None:
    import serial

    from tinyflash.emulator import free_tcp_port

    project = hello_builds["mps2-an385"].project_dir
    port = free_tcp_port()
    outcome: dict[str, object] = {}

    def _upload() -> None:
        with _core_dir(pio_core):
            outcome["result"] = upload_project(
                project, "mps2-an385", timeout=120, upload_port=f"tcp:127.0.0.1:{port}"
            )

    worker = threading.Thread(target=_upload)
    worker.start()
    link = None
    deadline = time.monotonic() + 60
    while link is None:
        try:
            link = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=20, do_not_open=True)
            link.reset_input_buffer = lambda: None  # keep what QEMU sends right after connect
            link.open()
        except serial.SerialException:
            link = None
            if time.monotonic() > deadline or not worker.is_alive():
                break
            time.sleep(0.1)
    assert link is not None, outcome
    try:
        assert link.readline() == b"hello from tinyflash on mps2-an385\n"
        assert link.readline() == b"kernels portable\n"
        link.readline()
        link.write(b"exit 0\n")
        assert link.readline() == b"echo: exit 0\n"
    finally:
        link.close()
    worker.join(120)
    result = outcome["result"]
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]


@pytest.mark.slow
def test_build_and_doctor_commands(hello_builds: dict[str, BuildResult], pio_core: Path) -> None:
    env = dict(os.environ, PLATFORMIO_CORE_DIR=str(pio_core))
    project = hello_builds["host"].project_dir
    built = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "build", str(project), "-e", "host", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert built.returncode == 0, built.stderr
    data = json.loads(built.stdout)
    assert data["board"] == "host" and data["flash_used"] == data["text"] + data["data"]
    doctor = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    report = json.loads(doctor.stdout)
    names = {c["name"]: c for c in report["checks"]}
    assert {"pio", "tool-scons", "arm-none-eabi-gcc", "qemu-system-arm", "gcc"} <= set(names)
    assert names["tool-scons"]["ok"] and names["tool-scons"]["version"] == "4.41101.0"
    assert doctor.returncode == (0 if report["ok"] else 1)


def test_doctor_reports_missing_tool_scons_with_its_fix(tmp_path: Path) -> None:
    env = dict(os.environ, PLATFORMIO_CORE_DIR=str(tmp_path / "empty-core"))
    doctor = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert doctor.returncode == 1
    report = json.loads(doctor.stdout)
    scons = next(c for c in report["checks"] if c["name"] == "tool-scons")
    assert not scons["ok"] and "tinyflash doctor --fix" in scons["fix"]


def test_free_port_is_bindable() -> None:
    from tinyflash.emulator import free_tcp_port

    port = free_tcp_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


@pytest.mark.slow
@pytest.mark.qemu
@needs_qemu
def test_processor_fault_is_reported_and_exits_134(
    tmp_path: Path, pio_core: Path, hello_builds: dict[str, BuildResult]
) -> None:
    """A bus fault (read of unmapped memory) lands in the port's fault handler, which says so on
    the serial port and leaves QEMU with status 134 instead of hanging."""
    main_c = (
        '#include <stdint.h>\n#include "tfl_port.h"\nint main(void) {\n'
        "  tfl_port_init();\n  return (int)*(volatile uint32_t *)(uintptr_t)0xF0000000u;\n}\n"
    )
    project = _project(tmp_path / "fault", ["mps2-an386"], main_c=main_c)
    with _core_dir(pio_core):
        built = build_project(project)
    code, output = run_to_exit(built.board, built.elf, timeout=30)
    assert code == 134
    assert b"tinyflash: processor fault" in output


@pytest.mark.slow
@needs_arm
def test_build_reports_the_generated_arena_and_model_arrays(
    tmp_path: Path, pio_core: Path, hello_builds: dict[str, BuildResult]
) -> None:
    main_c = (
        '#include <stdint.h>\n#include "tfl_port.h"\n'
        "uint8_t demo_arena[1232] __attribute__((aligned(16)));\n"
        "const uint8_t demo_model_data[4000] __attribute__((aligned(16))) = {1};\n"
        "int main(void) { tfl_port_init(); demo_arena[3] = demo_model_data[0];\n"
        "  tfl_port_write(demo_arena, sizeof demo_arena);\n"
        "  tfl_port_write(demo_model_data, sizeof demo_model_data); return 0; }\n"
    )
    project = _project(tmp_path / "arrays", ["mps2-an386"], main_c=main_c)
    with _core_dir(pio_core):
        built = build_project(project)
    assert (built.arena_bytes, built.model_bytes) == (1232, 4000)
    assert built.as_dict()["arena_bytes"] == 1232
    assert built.bss >= 1232 + built.board.stack_bytes and built.text >= 4000

"""The Arduino port (firmware/ports/arduino/) on the host, against the Arduino-API test double in
tests/fixtures/arduino_double/ (we cannot build for the real boards here: PlatformIO would download
their toolchains).

1. The port alone, compiled with g++ -Wall -Wextra -Werror and the sanitizers, in both tick modes:
   micros() and the DWT cycle counter (its registers pointed at plain memory).
2. A whole generated real-board project (src/ + the sources vendored in lib/ + the port), compiled
   with gcc/g++ against the double in its stdio mode: the firmware prints its banner with the
   self-test verdict, then answers INFO and INVOKE through tinyflash.link over a pipe, and its
   outputs equal the tflite-micro runtime's byte for byte.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from support.host_doubles import ARDUINO_DOUBLE as DOUBLE
from support.host_doubles import SANITIZE, WARN, compile_objects
from support.host_doubles import need as _need
from support.host_doubles import run as _run
from support.serial_double import PipeSerial
from tinyflash import codegen

PORT_SRC = REPO / "firmware" / "ports" / "arduino" / "src" / "tfl_port_arduino.cpp"
PORT_INCLUDE = REPO / "firmware" / "ports" / "include"
TINY = REPO / "tests" / "golden" / "tiny_cnn.tflite"


# ---- 1. the port alone ------------------------------------------------------------------------


@pytest.mark.parametrize("dwt", [0, 1], ids=["micros", "dwt"])
def test_port_against_the_double(tmp_path: Path, dwt: int) -> None:
    gxx = _need("g++")
    exe = tmp_path / "port_test"
    extra = ["-include", str(DOUBLE / "fake_dwt.h")] if dwt else []
    _run(
        [
            gxx,
            "-std=c++11",
            *WARN,
            *SANITIZE,
            f"-DTFL_PORT_USE_DWT={dwt}",
            *extra,
            f"-I{DOUBLE}",
            f"-I{PORT_INCLUDE}",
            str(PORT_SRC),
            str(DOUBLE / "arduino_double.cpp"),
            str(DOUBLE / "port_test.cpp"),
            "-o",
            str(exe),
        ]
    )
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    unit = "cycle (DWT CYCCNT)" if dwt else "microsecond (Arduino micros())"
    assert done.stdout.strip().endswith(f"PASS tick_unit={unit} failures=0"), done.stdout


def test_manifest_tick_units_are_what_the_port_reports() -> None:
    """INFO reports tfl_port_tick_unit(); the manifests must say the same thing."""
    from tinyflash.boards import list_boards

    source = PORT_SRC.read_text()
    real = [b for b in list_boards() if b.port == "arduino"]
    assert len(real) == 7
    for board in real:
        counter = board.raw["tinyflash"]["cycle_counter"]
        expected = "cycle (DWT CYCCNT)" if counter == "dwt" else "microsecond (Arduino micros())"
        assert board.tick_unit == expected, board.id
        assert f'"{expected}"' in source


def test_port_refuses_nothing_it_needs_from_the_double() -> None:
    """The port uses only Arduino API the double also declares (so a port change that reaches for
    more of a core is caught here, not on a board)."""
    import re

    used = set(
        re.findall(
            r"\b(Serial\.\w+|micros|millis|delay|yield|pinMode|digitalWrite)\(",
            PORT_SRC.read_text(),
        )
    )
    declared = (DOUBLE / "Arduino.h").read_text()
    for name in used:
        bare = name.split(".")[-1]
        assert re.search(rf"\b{bare}\(", declared), name


# ---- 2. a generated real-board project on the host --------------------------------------------


def _compile_project(project: Path, out: Path) -> Path:
    """Every source of the project, as PlatformIO's library finder would pick them, built for the
    host: lib/runtime (C99), lib/harness (C), lib/port (C++ over the double), src/*.c, src/*.cpp.
    Portable kernels (-DTFL_USE_DSP=0: the host has no Arm DSP instructions)."""
    gcc, gxx = _need("gcc"), _need("g++")
    includes = [
        f"-I{project / 'lib' / name / 'include'}" for name in ("runtime", "harness", "port")
    ]
    includes += [f"-I{project / 'src'}", f"-I{DOUBLE}"]
    defines = ["-DTFL_USE_DSP=0", "-DTFL_PORT_USE_DWT=0", "-DARDUINO_DOUBLE_STDIO_MAIN"]
    c_files = sorted((project / "lib" / "runtime" / "src").rglob("*.c"))
    c_files += sorted((project / "lib" / "harness" / "src").glob("*.c"))
    c_files += sorted((project / "src").glob("*.c"))
    cpp_files = sorted((project / "lib" / "port" / "src").glob("*.cpp"))
    cpp_files += sorted((project / "src").glob("*.cpp")) + [DOUBLE / "arduino_double.cpp"]
    common = [*WARN, *SANITIZE, *defines, *includes]
    objects = compile_objects(
        [([gcc, "-std=c99", *common], f) for f in c_files]
        + [([gxx, "-std=c++11", *common], f) for f in cpp_files],
        out,
    )
    exe = out / "firmware"
    _run([gxx, *SANITIZE, *map(str, objects), "-o", str(exe)])
    return exe


@pytest.fixture(scope="module")
def nano(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, codegen.GenerateResult]:
    """A generated nano33ble project and its host build against the double (once per module)."""
    work = tmp_path_factory.mktemp("nano33ble")
    project = work / "nano33ble"
    result = codegen.generate(TINY, "nano33ble", project)
    return project, _compile_project(project, work), result


@pytest.mark.slow
def test_generated_real_board_project_runs_on_the_double(
    nano: tuple[Path, Path, codegen.GenerateResult],
) -> None:
    from tflite_micro.python.tflite_micro import runtime

    from tinyflash.link import Link

    board_id = "nano33ble"
    project, exe, result = nano
    assert result.vendored and (project / "src" / "sketch.cpp").is_file()

    # stdin closed at once: banner, then the link ends and the program exits 0.
    done = subprocess.run([str(exe)], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    banner = done.stdout.decode("ascii", "replace").strip()
    assert banner.startswith("tinyflash ready selftest=PASS vectors=3 "), banner

    model = TINY.read_bytes()
    reference = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    detail = reference.get_input_details(0)
    rng = np.random.default_rng(8)
    proc = subprocess.Popen(
        [str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with Link(PipeSerial(proc), f"pipe:{exe}", timeout=20) as link:
            assert link.wait_banner().selftest == "PASS"
            info = link.info()
            assert info.ready and info.board == board_id
            assert info.tick_unit == "microsecond (Arduino micros())"
            assert bytes.fromhex(result.model_sha256) == bytes.fromhex(info.model_sha256)
            for _ in range(4):
                x = rng.integers(-128, 128, size=tuple(detail["shape"]), dtype=np.int8)
                outputs, _ticks = link.invoke([x])
                reference.set_input(x, 0)
                reference.invoke()
                np.testing.assert_array_equal(outputs[0], reference.get_output(0))
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        code = proc.wait(60)
        stderr = proc.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
    assert code == 0, stderr


@pytest.mark.parametrize(
    "cpu, dwt", [("cortex-m4", True), ("cortex-m7", True), ("cortex-m0plus", False)]
)
def test_port_cross_compiles_and_picks_its_tick_source(tmp_path: Path, cpu: str, dwt: bool) -> None:
    """arm-none-eabi-g++ -Werror for the real boards' cores, without -DTFL_PORT_USE_DWT: the
    architecture macros choose DWT on ARMv7E-M and micros() on the M0+ (checked in the object:
    the DWT block's address 0xE0001000 is loaded only when DWT is chosen)."""
    gxx = _need("arm-none-eabi-g++")
    obj = tmp_path / "port.o"
    _run(
        [
            gxx,
            "-std=gnu++11",
            f"-mcpu={cpu}",
            "-mthumb",
            "-Os",
            "-ffunction-sections",
            *WARN,
            f"-I{DOUBLE}",
            f"-I{PORT_INCLUDE}",
            "-c",
            str(PORT_SRC),
            "-o",
            str(obj),
        ]
    )
    dump = subprocess.run(
        ["arm-none-eabi-objdump", "-d", "-j", ".text.tfl_port_ticks", str(obj)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if dump.returncode != 0:
        pytest.skip("arm-none-eabi-objdump is not available")
    literal = "e0001000" in dump.stdout.lower()
    assert literal == dwt, dump.stdout
    assert ("micros" in dump.stdout) == (not dwt), dump.stdout


@pytest.mark.slow
def test_verify_cli_with_port_on_a_real_board_project(
    nano: tuple[Path, Path, codegen.GenerateResult],
) -> None:
    """`tinyflash verify PROJECT --port socket://…` (the real CLI, as for /dev/ttyACM0) on a
    generated nano33ble project whose sources run on the host against the Arduino double; the
    test bridges a TCP socket to the program's stdin/stdout, like a USB-serial cable."""
    import json
    import socket
    import sys
    import threading

    project, exe, _ = nano
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    done: dict[str, int] = {}

    def bridge() -> None:
        conn, _ = server.accept()
        proc = subprocess.Popen(
            [str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdin is not None and proc.stdout is not None

        def to_device() -> None:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                proc.stdin.write(data)  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]

        writer = threading.Thread(target=to_device, daemon=True)
        writer.start()
        while True:
            data = os.read(proc.stdout.fileno(), 4096)
            if not data:
                break
            conn.sendall(data)
        done["code"] = proc.wait(60)
        conn.close()

    thread = threading.Thread(target=bridge, daemon=True)
    thread.start()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyflash.cli",
            "verify",
            str(project),
            "--port",
            f"socket://127.0.0.1:{port}",
            "--samples",
            "5",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["passed"] and result["samples"] == 5 and result["board"] == "nano33ble"
    assert result["tick_unit"] == "microsecond (Arduino micros())"
    thread.join(60)
    server.close()
    assert done.get("code") == 0

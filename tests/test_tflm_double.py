"""A `--runtime tflm` project compiled and run on the host against stand-ins: TFLM's C++ API from
tests/fixtures/tflm_double/ (backed by tinyflash's own C runtime) and the Arduino API from
tests/fixtures/arduino_double/. This checks the generated main.cpp (resolver, arena, config), the
vendored protocol server (firmware/harness's tfl_server.c, the same C as the tinyflash runtime's)
and the TFLM backend adapter (firmware/tflm/), end to end through tinyflash.link. It does not test
TFLM itself (see the fixture's README.md); test_tflm_runtime.py compiles the adapter against a
real TFLM tree, and test_harness.py runs every protocol test over this backend too."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from support.host_doubles import (
    ARDUINO_DOUBLE,
    SANITIZE,
    TFLM_CXX,
    TFLM_DOUBLE,
    WARN,
    compile_objects,
    need,
    run,
)
from support.serial_double import PipeSerial
from tinyflash import codegen

RUNTIME = REPO / "firmware" / "runtime"
TINY = REPO / "tests" / "golden" / "tiny_cnn.tflite"


def test_double_declares_every_resolver_method_tinyflash_generates() -> None:
    header = (TFLM_DOUBLE / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    declared = dict(re.findall(r"TfLiteStatus (Add\w+)\(\) \{ return add\(\"(\w+)\"\); \}", header))
    assert declared == {method: op for op, method in codegen.TFLM_RESOLVER_METHODS.items()}


def _compile(project: Path, out: Path) -> Path:
    gcc, gxx = need("gcc"), need("g++")
    includes = [
        f"-I{project / 'src'}",
        f"-I{project / 'lib' / 'tflm_harness' / 'include'}",
        f"-I{project / 'lib' / 'tflm_harness' / 'src'}",
        f"-I{project / 'lib' / 'port' / 'include'}",
        f"-I{TFLM_DOUBLE}",
        f"-I{ARDUINO_DOUBLE}",
        f"-I{RUNTIME / 'include'}",
    ]
    defines = [
        "-DTFL_USE_DSP=0",
        "-DTFL_PORT_USE_DWT=0",
        "-DARDUINO_DOUBLE_STDIO_MAIN",
        "-DTFLM_DOUBLE_MODEL_DATA_SYMBOL=tiny_cnn_model_data",
        "-DTFLM_DOUBLE_MODEL_SIZE_SYMBOL=tiny_cnn_model_size",
        "-DTF_LITE_STATIC_MEMORY",
    ]
    c_files = sorted((RUNTIME / "src").rglob("*.c"))  # behind the TFLM stand-in
    c_files += sorted((project / "lib" / "tflm_harness" / "src").glob("*.c"))
    c_files += sorted((project / "src").glob("*.c"))
    cpp_files = sorted((project / "lib" / "tflm_harness" / "src").glob("*.cpp"))
    cpp_files += sorted((project / "src").glob("*.cpp")) + [TFLM_DOUBLE / "tflm_double.cpp"]
    arduino_files = sorted((project / "lib" / "port" / "src").glob("*.cpp"))
    arduino_files += [ARDUINO_DOUBLE / "arduino_double.cpp"]  # its halt uses an exception
    common = [*WARN, *SANITIZE, *defines, *includes]
    objects = compile_objects(
        [([gcc, "-std=c99", *common], f) for f in c_files]
        + [([gxx, *TFLM_CXX, *common], f) for f in cpp_files]
        + [([gxx, "-std=gnu++17", *common], f) for f in arduino_files],
        out,
    )
    exe = out / "firmware"
    run([gxx, *SANITIZE, *map(str, objects), "-o", str(exe)])
    return exe


@pytest.mark.slow
def test_tflm_project_speaks_the_protocol(tmp_path: Path) -> None:
    from tflite_micro.python.tflite_micro import runtime

    from tinyflash.link import Link

    project = tmp_path / "nano"
    result = codegen.generate(TINY, "nano33ble", project, runtime="tflm")
    exe = _compile(project, tmp_path)

    done = subprocess.run([str(exe)], stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    banner = done.stdout.decode("ascii", "replace").strip()
    assert banner.startswith("tinyflash ready selftest=PASS vectors=3 arena="), banner

    model = TINY.read_bytes()
    reference = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    shape = tuple(reference.get_input_details(0)["shape"])
    rng = np.random.default_rng(11)
    proc = subprocess.Popen(
        [str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with Link(PipeSerial(proc), f"pipe:{exe}", timeout=20) as link:
            assert link.wait_banner().selftest == "PASS"
            info = link.info()
            assert info.ready and info.runtime_version == "tflm" and info.board == "nano33ble"
            assert info.arena_bytes == result.arena_bytes and info.op_count == 5
            assert bytes.fromhex(info.model_sha256) == bytes.fromhex(result.model_sha256)
            for _ in range(4):
                x = rng.integers(-128, 128, size=shape, dtype=np.int8)
                outputs, _ticks = link.invoke([x])
                reference.set_input(x, 0)
                reference.invoke()
                np.testing.assert_array_equal(outputs[0], reference.get_output(0))
            layers = link.layers([x])  # TFLM has no per-operator hook: no records, total ticks
            assert layers.ops == () and layers.ticks >= 0
            reset = link.reset()  # rebuilds the MicroInterpreter in its arena
            assert reset.init_status == 0 and reset.arena_used == info.arena_used > 0
            outputs, _ = link.invoke([x])  # still serving after the error and the reset
            np.testing.assert_array_equal(outputs[0], reference.get_output(0))
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        code = proc.wait(60)
        stderr = proc.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
    assert code == 0, stderr

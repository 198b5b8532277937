"""The device protocol server (firmware/harness) compiled for the host and driven through a real
byte stream (subprocess pipes, or socket:// through pyserial) by tinyflash.link, over both of its
backends: the tinyflash runtime, and the TFLM adapter (firmware/tflm) over TFLM's API stand-in
(tests/fixtures/tflm_double, which runs tinyflash's runtime behind tflite::MicroInterpreter).
Results are compared exactly with the tflite-micro Python runtime.

The test firmware is compiled with gcc/g++ -fsanitize=address,undefined (cached under
build/harness_test/<hash>/); its model is a small two-layer FULLY_CONNECTED int8 network converted
with TensorFlow (cached as well)."""

from __future__ import annotations

import hashlib
import os
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from support.host_doubles import TFLM_CXX, TFLM_DOUBLE, compile_objects, run
from support.serial_double import PipeSerial
from tinyflash import link as L
from tinyflash.errors import TinyflashError

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
RUNTIME = FIRMWARE / "runtime"
HARNESS = FIRMWARE / "harness"
TFLM = FIRMWARE / "tflm"
PORTS = FIRMWARE / "ports"
BUILD = REPO / "build" / "harness_test"
CFLAGS = [
    "-std=c99",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
]
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:exitcode=86",
    "UBSAN_OPTIONS": "halt_on_error=1:exitcode=86",
}
FC_INPUT = 96  # bytes: more than the 64-byte frames of the small-payload build, so it is chunked
MODEL_VERSION = "fc96-16-4-v1"

pytestmark = pytest.mark.slow


# ---- model and reference --------------------------------------------------------------------


def fc_model() -> bytes:
    """A two-layer FULLY_CONNECTED int8 model (96 -> 16 relu -> 4), converted with TensorFlow
    once and cached (deterministic seeds)."""
    path = BUILD / f"{MODEL_VERSION}.tflite"
    if path.is_file():
        return path.read_bytes()
    code = f"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
tf.keras.utils.set_random_seed(7)
inp = tf.keras.Input(({FC_INPUT},), batch_size=1)
x = tf.keras.layers.Dense(16, activation="relu")(inp)
out = tf.keras.layers.Dense(4)(x)
model = tf.keras.Model(inp, out)
rng = np.random.default_rng(3)
def data():
    for _ in range(50):
        yield [rng.normal(size=(1, {FC_INPUT})).astype(np.float32)]
conv = tf.lite.TFLiteConverter.from_keras_model(model)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = data
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = tf.int8
conv.inference_output_type = tf.int8
open(sys.argv[1], "wb").write(conv.convert())
"""
    BUILD.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp)], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    tmp.replace(path)
    return path.read_bytes()


def tflm(model: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=64 * 1024)
    for i, x in enumerate(inputs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    from tinyflash.model import parse_model

    count = len(parse_model(model, "harness-test").outputs)
    return [np.array(interpreter.get_output(i)) for i in range(count)]


def random_input(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(-128, 128, size=(1, FC_INPUT), dtype=np.int8)


# ---- building the test firmware ---------------------------------------------------------------


def model_kernels(model: bytes) -> list[str]:
    """Lower-case kernel names of the model's operators, sorted (the op table of the build)."""
    from tinyflash.model import parse_model

    return sorted({op.name.lower() for op in parse_model(model, "harness-test").ops})


def kernel_available(name: str) -> bool:
    import re

    text = (RUNTIME / "include" / "tfl_kernels.h").read_text()
    listed = re.findall(r"^\s*TFL_KERNEL\(\s*(\w+)\s*,", text, re.MULTILINE)
    return name in listed and (RUNTIME / "src" / "kernels" / f"op_{name}.c").is_file()


def model_c(model: bytes, vectors: Sequence[tuple[bytes, bytes]]) -> str:
    """The generated model file of the test build: bytes, SHA-256, self-test vectors."""

    def arr(data: bytes) -> str:
        return (
            ",\n".join(", ".join(str(b) for b in data[i : i + 24]) for i in range(0, len(data), 24))
            or "0"
        )

    expected = b"".join(out for _, out in vectors)
    kernels = model_kernels(model)
    lines = [
        '#include "tfl_harness.h"',
        *(f"extern const tfl_kernel tfl_kernel_{k};" for k in kernels),
        "static const tfl_kernel *const harness_test_kernels[] = {"
        + ", ".join(f"&tfl_kernel_{k}" for k in kernels)
        + "};",
        f"const tfl_op_table harness_test_ops = {{harness_test_kernels, {len(kernels)}}};",
        f"const uint8_t harness_test_model[] __attribute__((aligned(16))) = {{\n{arr(model)}}};",
        f"const uint32_t harness_test_model_size = {len(model)}u;",
        f"const uint8_t harness_test_model_sha256[32] = {{{arr(hashlib.sha256(model).digest())}}};",
        f"const uint8_t harness_test_expected[] = {{\n{arr(expected)}}};",
        f"const uint32_t harness_test_expected_size = {len(expected)}u;",
    ]
    from tinyflash.model import parse_model

    info = parse_model(model, "harness-test")
    # Sequential layout (offsets NULL): every activation gets its own 16-byte aligned slot.
    arena = sum((t.nbytes + 15) // 16 * 16 for t in info.tensors if not t.is_constant) + 16
    lines += [
        f"tfl_tensor harness_test_tensors[{len(info.tensors)}];",
        f"const int32_t harness_test_tensor_capacity = {len(info.tensors)};",
        f"tfl_node harness_test_nodes[{max(1, len(info.ops))}];",
        f"const int32_t harness_test_node_capacity = {len(info.ops)};",
        "int32_t harness_test_pool[16384];",
        "const int32_t harness_test_pool_words = 16384;",
        f"uint8_t harness_test_arena[{arena}] __attribute__((aligned(16)));",
        f"const int32_t harness_test_arena_bytes = {arena};",
        f"uint8_t harness_test_expected_copy[{max(1, len(expected))}];",
    ]
    for i, (inp, _) in enumerate(vectors):
        lines.append(f"static const uint8_t harness_test_input{i}[] = {{\n{arr(inp)}}};")
    entries = []
    pos = 0
    for i, (inp, out) in enumerate(vectors):
        entries.append(
            f"  {{harness_test_input{i}, {len(inp)}u, harness_test_expected + {pos}, {len(out)}u}}"
        )
        pos += len(out)
    lines.append(
        "const tfl_selftest_vector harness_test_vectors[] = {\n" + ",\n".join(entries) + "\n};"
    )
    lines.append(f"const int32_t harness_test_vector_count = {len(vectors)};")
    return "\n".join(lines) + "\n"


def resolver_cpp(model: bytes) -> str:
    """The TFLM backend build's generated resolver: the model's Add...() calls, as a generated
    project registers them (codegen.tflm_resolver_calls)."""
    from tinyflash import codegen
    from tinyflash.model import parse_model

    calls = codegen.tflm_resolver_calls([op.name for op in parse_model(model, "harness-test").ops])
    lines = [
        "#include <new>",
        "#include <stdint.h>",
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        f"using Resolver = tflite::MicroMutableOpResolver<{len(calls)}>;",
        "alignas(Resolver) static uint8_t storage[sizeof(Resolver)];",
        "const tflite::MicroOpResolver *harness_test_resolver(int32_t *status) {",
        "  Resolver *resolver = new (storage) Resolver();",
        "  *status = 0;",
    ]
    for i, call in enumerate(calls):
        lines.append(f"  if (*status == 0 && resolver->{call}() != kTfLiteOk) *status = {i + 1};")
    return "\n".join(lines + ["  return resolver;", "}", ""])


def _backend_sources(backend: str, model: bytes) -> tuple[list[Path], list[Path]]:
    """(C sources, C++ sources) of a test firmware, besides the generated model files."""
    c_dir = REPO / "tests" / "c"
    common = [PORTS / "host" / "port_host.c", c_dir / "harness_test_knobs.c"]
    if backend == "runtime":
        sources = sorted((HARNESS / "src").glob("*.c")) + sorted((RUNTIME / "src").glob("*.c"))
        sources += [RUNTIME / "src" / "kernels" / f"op_{k}.c" for k in model_kernels(model)]
        sources += sorted((RUNTIME / "src" / "kernels").glob("tfl_kernel_*.c"))  # shared helpers
        return sources + common + [c_dir / "harness_test_main.c"], []
    # TFLM: exactly what a --runtime tflm project vendors (the server and the C++ adapter, not the
    # runtime's backend), over the TFLM stand-in, which runs the whole runtime behind it.
    from tinyflash import codegen

    vendored = [FIRMWARE / source for source, _ in codegen.TFLM_HARNESS_FILES]
    c_sources = sorted((RUNTIME / "src").rglob("*.c")) + [f for f in vendored if f.suffix == ".c"]
    cpp_sources = [f for f in vendored if f.suffix == ".cpp"]
    cpp_sources += [TFLM_DOUBLE / "tflm_double.cpp", c_dir / "harness_test_main_tflm.cpp"]
    return c_sources + common, cpp_sources


def build_firmware(
    model: bytes,
    vectors: Sequence[tuple[bytes, bytes]],
    max_payload: int | None = None,
    backend: str = "runtime",
) -> Path:
    """Compiles the protocol server + a backend (`runtime`: tinyflash's runtime with the model's
    kernels; `tflm`: the TFLM adapter over the TFLM stand-in) + the host port + the test main
    with the sanitizers; cached by a hash of every input."""
    c_sources, cpp_sources = _backend_sources(backend, model)
    flags = CFLAGS + ([f"-DTFL_HARNESS_MAX_PAYLOAD={max_payload}"] if max_payload else [])
    defines = (
        [
            "-DTFLM_DOUBLE_MODEL_DATA_SYMBOL=harness_test_model",
            "-DTFLM_DOUBLE_MODEL_SIZE_SYMBOL=harness_test_model_size",
            "-DTF_LITE_STATIC_MEMORY",
        ]
        if backend == "tflm"
        else []
    )
    generated = {"harness_test_model.c": model_c(model, vectors)}
    if backend == "tflm":
        generated["harness_test_resolver.cpp"] = resolver_cpp(model)
    digest = hashlib.sha256(backend.encode())
    for part in [*flags, *defines, *generated.values()]:
        digest.update(part.encode())
    headers = (
        sorted((RUNTIME / "include").glob("*.h"))
        + sorted(HARNESS.rglob("*.h"))
        + sorted((REPO / "tests" / "c").glob("*.h"))
        + [PORTS / "include" / "tfl_port.h"]
    )
    if backend == "tflm":
        headers += (
            sorted((RUNTIME / "src").rglob("*.h"))
            + sorted(TFLM.rglob("*.h"))
            + sorted(TFLM_DOUBLE.rglob("*.h"))
        )
    for src in c_sources + cpp_sources + headers:
        digest.update(str(src).encode())
        digest.update(src.read_bytes())
    out_dir = BUILD / digest.hexdigest()[:16]
    exe = out_dir / "harness_test"
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in generated.items():
        (out_dir / name).write_text(text)
        (c_sources if name.endswith(".c") else cpp_sources).append(out_dir / name)
    includes = [
        f"-I{RUNTIME / 'include'}",
        f"-I{RUNTIME / 'src'}",
        f"-I{HARNESS / 'include'}",
        f"-I{HARNESS / 'src'}",
        f"-I{PORTS / 'include'}",
        f"-I{REPO / 'tests' / 'c'}",
    ]
    tmp = out_dir / f"harness_test.{os.getpid()}"
    if backend == "runtime":
        proc = subprocess.run(
            ["gcc", *flags, *includes, *map(str, c_sources), "-lm", "-o", str(tmp)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
    else:
        includes += [f"-I{TFLM / 'include'}", f"-I{TFLM_DOUBLE}"]
        cxxflags = [*TFLM_CXX, *(f for f in flags if not f.startswith("-std="))]
        objects = compile_objects(
            [(["gcc", *flags, *defines, *includes], f) for f in c_sources]
            + [(["g++", *cxxflags, *defines, *includes], f) for f in cpp_sources],
            out_dir,
        )
        run(
            [
                "g++",
                *(f for f in flags if f.startswith("-fsanitize")),
                *map(str, objects),
                "-lm",
                "-o",
                str(tmp),
            ]
        )
    tmp.replace(exe)
    return exe


# ---- a device process behind a pyserial-like pipe ----------------------------------------------


class Device:
    """The test firmware running as a child process; `link` talks to it."""

    def __init__(
        self,
        exe: Path,
        env: dict[str, str] | None = None,
        timeout: float = 5.0,
        retries: int = 2,
    ) -> None:
        self.stderr = tempfile.TemporaryFile()
        full_env = {**os.environ, **SAN_ENV, **(env or {})}
        full_env.pop("TINYFLASH_HOST_TCP_PORT", None)
        self.proc = subprocess.Popen(
            [str(exe)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=full_env,
            bufsize=0,
        )
        self.serial = PipeSerial(self.proc)
        self.link = L.Link(self.serial, "pipe://harness_test", timeout=timeout, retries=retries)

    def stderr_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def finish(self) -> int:
        """Ends the link (EOF on stdin) and returns the exit code; sanitizer reports fail."""
        self.serial.close()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the harness did not exit at the end of the link") from None
        text = self.stderr_text()
        assert "Sanitizer" not in text and "runtime error" not in text, text[-4000:]
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def fc() -> bytes:
    if not kernel_available("fully_connected"):
        pytest.skip("the runtime has no FULLY_CONNECTED kernel yet (tfl_kernels.h)")
    return fc_model()


@pytest.fixture(scope="module")
def vectors(fc: bytes) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(11)
    result = []
    for _ in range(3):
        x = random_input(rng)
        result.append((x.tobytes(), b"".join(o.tobytes() for o in tflm(fc, [x]))))
    return result


@pytest.fixture(scope="module")
def firmware(fc: bytes, vectors: list[tuple[bytes, bytes]]) -> Path:
    return build_firmware(fc, vectors)


#: The two backends of the one protocol server (firmware/harness/include/tfl_server.h).
BACKENDS = ("runtime", "tflm")
#: What each backend reports: INFO's runtime string and the init status of a too-small arena.
RUNTIME_NAME = {"runtime": "0.1.0", "tflm": "tflm"}
ARENA_TOO_SMALL = {"runtime": "TFL_ERR_ARENA_TOO_SMALL", "tflm": "TFL_TFLM_ALLOCATE_TENSORS"}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server_firmware(fc: bytes, vectors: list[tuple[bytes, bytes]], backend: str) -> Path:
    """The protocol test firmware over `backend` (the runtime's is `firmware`)."""
    return build_firmware(fc, vectors, backend=backend)


@pytest.fixture(scope="module")
def firmware_small(fc: bytes, vectors: list[tuple[bytes, bytes]], backend: str) -> Path:
    return build_firmware(fc, vectors, max_payload=64, backend=backend)


@pytest.fixture
def device(server_firmware: Path):
    dev = Device(server_firmware)
    yield dev
    dev.kill()


# ---- tests -------------------------------------------------------------------------------------


def test_banner_info_and_clean_exit(device: Device, fc: bytes, backend: str) -> None:
    banner = device.link.wait_banner()
    assert banner.ready and banner.selftest == "PASS" and banner.vectors == 3, banner.text
    info = device.link.info()
    assert info.ready and info.init_status_name == "TFL_OK" and info.error_op == -1
    assert info.model_sha256 == hashlib.sha256(fc).hexdigest()
    assert info.runtime_version == RUNTIME_NAME[backend] and info.board == "host-test"
    assert info.tick_unit == "microsecond"
    assert info.arena_used == banner.arena > 0 and info.arena_planned == 4321
    assert info.arena_bytes >= info.arena_used and info.max_payload == 1024
    assert info.op_count == 2 and info.selftest_vectors == 3 and info.selftest_failed_vector == -1
    from tflite_micro.python.tflite_micro import runtime

    ref = runtime.Interpreter.from_bytes(fc, arena_size=64 * 1024)
    in_detail = ref.get_input_details(0)
    out_detail = ref.get_output_details(0)
    (spec_in,), (spec_out,) = info.inputs, info.outputs
    assert (
        spec_in.shape == (1, FC_INPUT) and spec_in.dtype == np.int8 and spec_in.nbytes == FC_INPUT
    )
    assert spec_out.shape == (1, 4) and spec_out.dtype == np.int8
    assert (spec_in.scale, spec_in.zero_point) == (
        np.float32(in_detail["quantization_parameters"]["scales"][0]),
        int(in_detail["quantization_parameters"]["zero_points"][0]),
    )
    assert (spec_out.scale, spec_out.zero_point) == (
        np.float32(out_detail["quantization_parameters"]["scales"][0]),
        int(out_detail["quantization_parameters"]["zero_points"][0]),
    )
    assert device.finish() == 0


def test_invoke_is_bit_exact_with_tflm(device: Device, fc: bytes) -> None:
    device.link.wait_banner()
    rng = np.random.default_rng(2024)
    for _ in range(20):
        x = random_input(rng)
        outputs, ticks = device.link.invoke([x])
        (want,) = tflm(fc, [x])
        assert outputs[0].dtype == np.int8 and outputs[0].shape == want.shape
        np.testing.assert_array_equal(outputs[0], want)
        assert 0 <= ticks < 10_000_000  # microseconds on the host port
    counters = device.link.counters
    assert counters.retries == 0 and counters.damaged_frames == 0 and counters.device_nacks == 0
    assert counters.requests == 21  # INFO + 20 inline INVOKEs (96 bytes fit one frame)
    assert device.finish() == 0


def test_layers_streams_every_op(device: Device, fc: bytes, backend: str) -> None:
    device.link.wait_banner()
    x = random_input(np.random.default_rng(5))
    result = device.link.layers([x])
    (want,) = tflm(fc, [x])
    if backend == "tflm":  # no per-operator hook in TFLM's API: no records, the whole run's ticks
        assert result.ops == () and result.ticks >= 0
        np.testing.assert_array_equal(device.link.invoke([x])[0][0], want)
        assert device.finish() == 0
        return
    assert [r.op_index for r in result.ops] == [0, 1]
    assert [r.op_name for r in result.ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert [r.builtin_code for r in result.ops] == [9, 9]
    hidden = result.ops[0].outputs[0]
    assert hidden.data.shape == (1, 16) and hidden.data.dtype == np.int8
    from tflite_micro.python.tflite_micro import runtime

    ref = runtime.Interpreter.from_bytes(
        fc, arena_size=64 * 1024, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors
    )
    ref.set_input(x, 0)
    ref.invoke()
    np.testing.assert_array_equal(hidden.data, ref.GetTensor(hidden.index, 0)["tensor_data"])
    np.testing.assert_array_equal(result.ops[1].outputs[0].data, want)
    assert result.ticks == sum(r.ticks for r in result.ops)
    # The hook must not disturb the interpreter: a plain INVOKE afterwards is still exact.
    outputs, _ = device.link.invoke([x])
    np.testing.assert_array_equal(outputs[0], want)
    assert device.finish() == 0


def test_chunked_input_on_a_small_frame_build(
    firmware_small: Path, fc: bytes, backend: str
) -> None:
    dev = Device(firmware_small)
    try:
        assert dev.link.wait_banner().selftest == "PASS"
        assert dev.link.info().max_payload == 64
        rng = np.random.default_rng(99)
        for _ in range(5):
            x = random_input(rng)
            outputs, _ = dev.link.invoke([x])
            np.testing.assert_array_equal(outputs[0], tflm(fc, [x])[0])
        # 96 input bytes in 60-byte chunks: 2 INPUT requests + 1 INVOKE per inference.
        assert dev.link.counters.requests == 1 + 5 * 3
        x = random_input(rng)
        layers = dev.link.layers([x])
        if backend == "runtime":
            np.testing.assert_array_equal(layers.ops[-1].outputs[0].data, tflm(fc, [x])[0])
        assert dev.link.counters.requests == 1 + 6 * 3
        assert dev.finish() == 0
    finally:
        dev.kill()


def _expect_error(dev: Device, wire: bytes, code: int) -> L.DeviceErrorInfo:
    dev.serial.write(wire)
    frame = dev.link._read_frame(time.monotonic() + 5)
    assert frame is not None and frame.type == L.MSG_ERROR, frame
    err = L.parse_error(frame.payload)
    assert err.code == code, (err, wire[:40])
    return err


def test_malformed_frames_get_error_frames_and_device_keeps_serving(
    device: Device, fc: bytes
) -> None:
    link = device.link
    link.wait_banner()
    good = L.frame_bytes(L.MSG_INFO, 7)
    body = L.cobs_decode(good[1:-1])
    # bad CRC: flip one payload-less header bit and keep the old CRC
    damaged = bytearray(body)
    damaged[1] ^= 0x10
    _expect_error(device, b"\0" + L.cobs_encode(bytes(damaged)) + b"\0", L.ERR_BAD_CRC)
    # truncated: the frame cut before its CRC, and a frame shorter than a header
    _expect_error(device, b"\0" + L.cobs_encode(body[:-3]) + b"\0", L.ERR_TRUNCATED)
    _expect_error(device, b"\0" + L.cobs_encode(b"\x01\x02\x03") + b"\0", L.ERR_TRUNCATED)
    # a length field far beyond the maximum, with a valid CRC
    huge = struct.pack("<BBI", L.MSG_INVOKE, 8, 0xFFFFFFF0)
    huge += struct.pack("<H", L.crc16_ccitt_false(huge))
    err = _expect_error(device, b"\0" + L.cobs_encode(huge) + b"\0", L.ERR_OVERSIZED)
    assert err.detail == 1024
    # a frame longer than the receive buffer (4000 payload bytes)
    _expect_error(
        device, L.frame_bytes(L.MSG_INVOKE, 9, bytes(range(256)) * 16)[:-1] + b"\0", L.ERR_OVERSIZED
    )
    # COBS block that claims more bytes than arrive before the delimiter
    _expect_error(device, b"\0\x0a\x01\x02\0", L.ERR_BAD_COBS)
    # unknown request type, and a known one with a payload it does not take
    err = _expect_error(device, L.frame_bytes(0x42, 10), L.ERR_UNKNOWN_TYPE)
    assert err.detail == 0x42
    _expect_error(device, L.frame_bytes(L.MSG_INFO, 11, b"x"), L.ERR_BAD_LENGTH)
    err = _expect_error(device, L.frame_bytes(L.MSG_INVOKE, 12, b"\1" * 5), L.ERR_BAD_LENGTH)
    assert err.detail == FC_INPUT
    _expect_error(
        device, L.frame_bytes(L.MSG_INPUT, 13, struct.pack("<I", 95) + b"ab"), L.ERR_BAD_OFFSET
    )
    _expect_error(
        device,
        L.frame_bytes(L.MSG_INPUT, 14, struct.pack("<I", 0xFFFFFFFF) + b"a"),
        L.ERR_BAD_OFFSET,
    )
    # the INVOKE without staged input
    _expect_error(device, L.frame_bytes(L.MSG_INVOKE, 15), L.ERR_NO_INPUT)
    # still serving, and still exact
    assert link.info(refresh=True).model_sha256 == hashlib.sha256(fc).hexdigest()
    x = random_input(np.random.default_rng(1))
    np.testing.assert_array_equal(link.invoke([x])[0][0], tflm(fc, [x])[0])
    assert device.finish() == 0


def test_random_garbage_never_hangs_or_overruns(device: Device, fc: bytes) -> None:
    link = device.link
    link.wait_banner()
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    x = random_input(rng)
    (want,) = tflm(fc, [x])
    for round_ in range(30):
        size = int(rng.integers(1, 3000))
        junk = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        if round_ % 3 == 0:  # a damaged copy of a real frame
            wire = bytearray(L.frame_bytes(L.MSG_INVOKE, 200, x.tobytes()))
            for _ in range(int(rng.integers(1, 4))):
                wire[int(rng.integers(1, len(wire) - 1))] ^= 1 << int(rng.integers(0, 8))
            junk = bytes(wire)
        device.serial.write(junk)
        # the device is still alive and answers a real request exactly
        outputs, _ = link.invoke([x])
        assert np.array_equal(outputs[0], want), f"seed {seed} round {round_}"
    assert device.proc.poll() is None, f"seed {seed}"
    assert device.finish() == 0, f"seed {seed}"


def test_repeated_sequence_number_is_answered_idempotently(device: Device) -> None:
    device.link.wait_banner()
    x = random_input(np.random.default_rng(3))
    wire = L.frame_bytes(L.MSG_INVOKE, 77, x.tobytes())
    device.serial.write(wire)
    first = device.link._read_frame(time.monotonic() + 5)
    # The same frame again (the host missed the reply) is answered from the kept result; an
    # INVOKE with the same number and no input proves the model did not run again.
    device.serial.write(L.frame_bytes(L.MSG_INVOKE, 77))
    second = device.link._read_frame(time.monotonic() + 5)
    assert first is not None and second is not None
    assert first.type == L.MSG_INVOKE | L.MSG_REPLY and second == first
    # A new number without input is refused: the inputs were consumed by the run.
    device.serial.write(L.frame_bytes(L.MSG_INVOKE, 78))
    third = device.link._read_frame(time.monotonic() + 5)
    assert third is not None and third.type == L.MSG_ERROR
    assert L.parse_error(third.payload).code == L.ERR_NO_INPUT
    assert device.finish() == 0


def test_reset_reinitialises(device: Device, fc: bytes) -> None:
    device.link.wait_banner()
    before = device.link.info()
    result = device.link.reset()
    assert result.init_status == 0 and result.init_status_name == "TFL_OK"
    assert result.arena_used == before.arena_used and result.error_op == -1
    x = random_input(np.random.default_rng(8))
    np.testing.assert_array_equal(device.link.invoke([x])[0][0], tflm(fc, [x])[0])
    assert device.finish() == 0


def test_init_failure_banner_and_info(server_firmware: Path, backend: str) -> None:
    status = ARENA_TOO_SMALL[backend]
    dev = Device(server_firmware, env={"HARNESS_TEST_ARENA_BYTES": "16"})
    try:
        banner = dev.link.wait_banner()
        assert not banner.ready and banner.init_error == status, banner.text
        assert banner.text == f"tinyflash error init {status} op=-1"
        info = dev.link.info()
        assert not info.ready and info.init_status_name == status and info.error_op == -1
        assert info.inputs == () and info.outputs == () and info.arena_bytes == 16
        with pytest.raises(TinyflashError, match="could not initialise the model"):
            dev.link.invoke([random_input(np.random.default_rng(0))])
        # the request-level refusal as the device sends it
        dev.serial.write(L.frame_bytes(L.MSG_INVOKE, 5))
        frame = dev.link._read_frame(time.monotonic() + 5)
        err = L.parse_error(frame.payload)
        assert err.code == L.ERR_NOT_READY and err.status_name == status
        reset = dev.link.reset()  # retries the init: the arena is still too small
        assert reset.init_status_name == status and reset.arena_used == 0
        assert dev.finish() == 0
    finally:
        dev.kill()


def test_selftest_failure_names_vector_and_byte(
    server_firmware: Path, vectors: list[tuple[bytes, bytes]]
) -> None:
    dev = Device(server_firmware, env={"HARNESS_TEST_CORRUPT": "1"})
    try:
        banner = dev.link.wait_banner()
        got = np.frombuffer(vectors[1][1], dtype=np.int8)[1]
        want = np.int8(np.uint8(vectors[1][1][1] ^ 1).view(np.int8))
        assert banner.ready and banner.selftest == "FAIL", banner.text
        assert banner.fields["vector"] == "1" and banner.fields["byte"] == "1"
        assert banner.fields["got"] == str(int(got)) and banner.fields["want"] == str(int(want))
        assert dev.link.info().selftest_failed_vector == 1
        assert dev.finish() == 0
    finally:
        dev.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_socket_url_through_pyserial(firmware: Path, fc: bytes) -> None:
    port = _free_port()
    env = {**os.environ, **SAN_ENV, "TINYFLASH_HOST_TCP_PORT": str(port)}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(firmware)], stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env
        )
        try:
            with L.open_link(f"socket://127.0.0.1:{port}", timeout=5) as link:
                assert link.wait_banner().selftest == "PASS"
                x = random_input(np.random.default_rng(4))
                outputs, _ = link.invoke([x])
                np.testing.assert_array_equal(outputs[0], tflm(fc, [x])[0])
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_missed_banner_is_recovered_from_info(device: Device) -> None:
    # Read the boot line past the link, as if the board had booted before the port was opened.
    seen = b""
    deadline = time.monotonic() + 5
    while not seen.endswith(b"\n") and time.monotonic() < deadline:
        seen += device.serial.read(1)
    assert seen.startswith(b"tinyflash ready selftest=PASS")
    banner = device.link.wait_banner(timeout=0.3)
    assert banner.text.startswith("(INFO) tinyflash ready") and banner.selftest == "PASS"
    assert banner.vectors == 3 and banner.arena == device.link.info().arena_used
    assert device.finish() == 0


def _need_arm_tools() -> None:
    import shutil

    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/bootstrap-system.sh)")


@pytest.fixture(scope="module")
def qemu_fc(fc: bytes, tmp_path_factory: pytest.TempPathFactory):
    """The FC model's generated project for mps2-an386, built once for this module."""
    _need_arm_tools()
    from tinyflash import boards, codegen, platformio

    root = tmp_path_factory.mktemp("qemu_fc")
    model_path = root / "fc.tflite"
    model_path.write_bytes(fc)
    project = codegen.generate(model_path, "mps2-an386", root / "project")
    build = platformio.build_project(project.project_dir)
    return project, build, boards.load_board("mps2-an386")


@pytest.mark.qemu
def test_fc_model_on_qemu_cortex_m4(fc: bytes, qemu_fc) -> None:
    """The generated project for mps2-an386, built with PlatformIO and run on QEMU, answers
    exactly what tflite-micro computes (issue 5's path end to end, on one small model)."""
    from tflite_micro.python.tflite_micro import runtime

    from tinyflash import emulator

    project, build, board = qemu_fc
    with emulator.start_device(board, build.elf) as dev:
        with L.open_link(dev.url, timeout=20) as link:
            banner = link.wait_banner()
            assert banner.ready and banner.selftest == "PASS", banner.text
            info = link.info()
            assert info.model_sha256 == hashlib.sha256(fc).hexdigest()
            assert info.board == "mps2-an386" and "instructions" in info.tick_unit
            assert info.arena_planned == project.arena_bytes and info.arena_used == banner.arena
            rng = np.random.default_rng(17)
            ticks = []
            for _ in range(8):
                x = random_input(rng)
                outputs, t = link.invoke([x])
                np.testing.assert_array_equal(outputs[0], tflm(fc, [x])[0])
                ticks.append(t)
            # -icount makes the instruction count exact; SysTick counts it in 40-instruction
            # units, so the counter's phase at the start moves a reading by at most one tick.
            assert 0 < min(ticks) and max(ticks) - min(ticks) <= 1, ticks
            layers = link.layers([x])
            ref = runtime.Interpreter.from_bytes(
                fc,
                arena_size=64 * 1024,
                intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
            )
            ref.set_input(x, 0)
            ref.invoke()
            for record in layers.ops:
                for out in record.outputs:
                    np.testing.assert_array_equal(
                        out.data, ref.GetTensor(out.index, 0)["tensor_data"]
                    )
            assert abs(layers.ticks - min(ticks)) <= len(layers.ops) + 1
            assert link.counters.retries == 0 and link.counters.damaged_frames == 0


def _tflm_all(model: bytes, inputs: Sequence[np.ndarray]):
    from tflite_micro.python.tflite_micro import runtime

    ref = runtime.Interpreter.from_bytes(
        model,
        arena_size=512 * 1024,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )
    for i, x in enumerate(inputs):
        ref.set_input(x, i)
    ref.invoke()
    return ref


@pytest.mark.parametrize("name", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant"])
def test_shared_model_through_the_harness(name: str) -> None:
    """A real MLPerf Tiny model through the protocol: INVOKE and every LAYERS tensor equal the
    tflite-micro runtime's exactly. ResNet's 3072-byte input travels in INPUT chunks, ad01's
    640 bytes inline; LAYER frames carry tensors of up to 16 KiB."""
    from conftest import shared_model_path
    from tinyflash.model import parse_model

    model = shared_model_path(name).read_bytes()
    info = parse_model(model, name)
    missing = [k for k in model_kernels(model) if not kernel_available(k)]
    if missing:
        pytest.skip(f"the runtime has no kernel for {missing} yet")
    rng = np.random.default_rng(sum(name.encode()))
    specs = [info.tensors[i] for i in info.inputs]

    def make() -> list[np.ndarray]:
        return [rng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in specs]

    first = make()
    ref = _tflm_all(model, first)
    expected = b"".join(np.asarray(ref.get_output(i)).tobytes() for i in range(len(info.outputs)))
    exe = build_firmware(model, [(b"".join(x.tobytes() for x in first), expected)])
    dev = Device(exe, timeout=30)
    try:
        banner = dev.link.wait_banner(timeout=30)
        assert banner.ready and banner.selftest == "PASS", banner.text
        for inputs in (first, make()):
            ref = _tflm_all(model, inputs)
            outputs, _ = dev.link.invoke(inputs)
            for i, out in enumerate(outputs):
                np.testing.assert_array_equal(out, np.asarray(ref.get_output(i)).reshape(out.shape))
            layers = dev.link.layers(inputs)
            assert [r.op_name for r in layers.ops] == [op.name for op in info.ops]
            for record in layers.ops:
                for out in record.outputs:
                    want = ref.GetTensor(out.index, 0)["tensor_data"]
                    np.testing.assert_array_equal(
                        out.data,
                        want.reshape(out.data.shape),
                        err_msg=f"{name} op {record.op_index} {record.op_name}",
                    )
        in_bytes = sum(t.nbytes for t in specs)
        chunked = in_bytes > dev.link.info().max_payload
        per_run = (-(-in_bytes // (dev.link.info().max_payload - 4)) + 1) if chunked else 1
        assert dev.link.counters.requests == 1 + 4 * per_run
        assert dev.link.counters.retries == 0
        assert dev.finish() == 0
    finally:
        dev.kill()


@pytest.mark.qemu
def test_resnet_on_qemu_cortex_m4_chunked_and_per_layer(tmp_path: Path) -> None:
    """ResNet on mps2-an386 with the generated project (real memory plan): its 3072-byte input
    goes in INPUT chunks, its 16 KiB activations come back in LAYER frames, all exact."""
    import shutil

    from conftest import shared_model_path

    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/bootstrap-system.sh)")
    from tinyflash import boards, codegen, emulator, platformio
    from tinyflash.model import parse_model

    path = shared_model_path("pretrainedResnet_quant")
    model = path.read_bytes()
    missing = [k for k in model_kernels(model) if not kernel_available(k)]
    if missing:
        pytest.skip(f"the runtime has no kernel for {missing} yet")
    info = parse_model(model, path.name)
    project = codegen.generate(path, "mps2-an386", tmp_path / "project")
    build = platformio.build_project(project.project_dir)
    with emulator.start_device(boards.load_board("mps2-an386"), build.elf) as dev:
        with L.open_link(dev.url, timeout=60) as link:
            assert link.wait_banner(timeout=60).selftest == "PASS"
            x = np.random.default_rng(6).integers(-128, 128, size=(1, 32, 32, 3), dtype=np.int8)
            ref = _tflm_all(model, [x])
            outputs, ticks = link.invoke([x])
            np.testing.assert_array_equal(
                outputs[0], np.asarray(ref.get_output(0)).reshape(outputs[0].shape)
            )
            layers = link.layers([x])
            assert len(layers.ops) == len(info.ops)
            for record in layers.ops:
                for out in record.outputs:
                    want = ref.GetTensor(out.index, 0)["tensor_data"]
                    np.testing.assert_array_equal(
                        out.data,
                        want.reshape(out.data.shape),
                        err_msg=f"op {record.op_index} {record.op_name}",
                    )
            # 3072 bytes in 1020-byte chunks: 4 INPUT frames before each INVOKE/LAYERS.
            assert link.counters.requests == 1 + 2 * 5 and link.counters.retries == 0
            assert ticks > 0 and abs(layers.ticks - ticks) <= len(info.ops) + 1


def test_random_well_formed_frames_each_get_one_final_answer(device: Device, fc: bytes) -> None:
    """Intact frames with random types, numbers and payloads (valid CRC): every one is answered by
    its reply or an ERROR with a protocol code, and the device stays exact afterwards."""
    link = device.link
    link.wait_banner()
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    last = None
    for i in range(150):
        mtype = int(rng.choice([1, 2, 3, 4, 5, 0, 6, 0x81, 0xFF, int(rng.integers(0, 256))]))
        size = int(rng.choice([0, 1, 4, 5, FC_INPUT, FC_INPUT + 4, int(rng.integers(0, 1100))]))
        payload = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        if mtype == L.MSG_INPUT and size >= 4 and rng.random() < 0.5:
            payload = struct.pack("<I", int(rng.integers(0, FC_INPUT + 2))) + payload[4:]
        seq = (i * 7) & 0xFF
        if (seq, mtype) == last:
            seq = (seq + 1) & 0xFF
        last = (seq, mtype)
        device.serial.write(L.frame_bytes(mtype, seq, payload))
        deadline = time.monotonic() + 5
        while True:
            frame = link._read_frame(deadline)
            where = f"seed {seed} frame {i}: type {mtype:#x} payload {size}"
            assert frame is not None and frame.type >= 0, where
            assert frame.seq == seq, where
            if frame.type == L.MSG_LAYER:
                assert mtype == L.MSG_LAYERS, where
                continue
            if frame.type == L.MSG_ERROR:
                code = L.parse_error(frame.payload).code
                assert code in L.ERROR_NAMES and code not in (L.ERR_BAD_CRC, L.ERR_BAD_COBS), where
                if code == L.ERR_OVERSIZED:
                    assert size > 1024, where
            else:
                assert frame.type == mtype | L.MSG_REPLY, where
            break
    x = random_input(rng)
    np.testing.assert_array_equal(link.invoke([x])[0][0], tflm(fc, [x])[0])
    assert device.finish() == 0, f"seed {seed}"


class FaultProxy:
    """A TCP proxy between the host and QEMU's serial port that damages the stream on request:
    flip a bit of the next host->device chunk, flip a byte of / drop the next device->host frame,
    or stall both directions."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = int(self.server.getsockname()[1])
        self.target_port = target_port
        self.flip_to_device = False
        self.flip_to_host = False
        self.drop_to_host_zeros = 0
        self.stalled = False
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        client, _ = self.server.accept()
        device = socket.create_connection(("127.0.0.1", self.target_port))
        while not self.done:
            ready, _, _ = select.select([client, device], [], [], 0.02)
            if self.stalled:
                continue
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    self.done = True
                    break
                if sock is client:
                    if self.flip_to_device:
                        self.flip_to_device = False
                        damaged = bytearray(data)
                        damaged[len(damaged) // 2] ^= 0x10
                        data = bytes(damaged)
                    device.sendall(data)
                    continue
                out = bytearray()
                for byte in data:
                    if self.drop_to_host_zeros:
                        if byte == 0:
                            self.drop_to_host_zeros -= 1
                        continue
                    if self.flip_to_host and byte not in (0, 1) and len(out) > 3:
                        self.flip_to_host = False
                        byte ^= 0x01
                    out.append(byte)
                client.sendall(bytes(out))
        client.close()
        device.close()

    def close(self) -> None:
        self.done = True
        self.server.close()


@pytest.mark.qemu
def test_link_faults_through_a_proxy_to_qemu(fc: bytes, qemu_fc) -> None:
    """Flipped bits both ways, a dropped reply and a stalled line between the host and QEMU: each
    ends in a retried exact result or one clear error — never a wrong answer."""
    from tinyflash import emulator

    _, build, board = qemu_fc
    rng = np.random.default_rng(23)
    with emulator.start_device(board, build.elf) as dev:
        proxy = FaultProxy(dev.port)
        try:
            with L.open_link(f"socket://127.0.0.1:{proxy.port}", timeout=2, retries=2) as link:
                assert link.wait_banner(timeout=20).selftest == "PASS"
                link.info()

                def exact() -> None:
                    x = random_input(rng)
                    outputs, _ = link.invoke([x])
                    np.testing.assert_array_equal(outputs[0], tflm(fc, [x])[0])

                proxy.flip_to_device = True
                exact()
                assert link.counters.device_nacks == 1
                proxy.flip_to_host = True
                exact()
                assert link.counters.damaged_frames == 1
                proxy.drop_to_host_zeros = 2
                exact()
                assert link.counters.timeouts == 1
                proxy.stalled = True
                with pytest.raises(
                    TinyflashError, match="did not answer the INVOKE request after 3"
                ):
                    link.invoke([random_input(rng)])
                proxy.stalled = False
                exact()  # the stalled answers arrive late, are stale, and are dropped
                assert link.counters.stale_frames >= 1
        finally:
            proxy.close()


def _tcp_device(firmware: Path, extra_env: dict[str, str] | None = None):
    port = _free_port()
    env = {**os.environ, **SAN_ENV, **(extra_env or {}), "TINYFLASH_HOST_TCP_PORT": str(port)}
    proc = subprocess.Popen(
        [str(firmware)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return proc, f"socket://127.0.0.1:{port}"


def _tinyflash(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_probe_command(firmware: Path, fc: bytes) -> None:
    import json

    proc, url = _tcp_device(firmware)
    try:
        done = _tinyflash("probe", "--port", url, "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["ready"] and data["selftest"] == "PASS"
        assert data["info"]["model_sha256"] == hashlib.sha256(fc).hexdigest()
        assert data["info"]["inputs"] == [
            {
                "dtype": "int8",
                "shape": [1, FC_INPUT],
                "scale": data["info"]["inputs"][0]["scale"],
                "zero_point": data["info"]["inputs"][0]["zero_point"],
                "bytes": FC_INPUT,
            }
        ]
        assert data["link"]["retries"] == 0
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc, url = _tcp_device(firmware, {"HARNESS_TEST_ARENA_BYTES": "16"})
    try:
        done = _tinyflash("probe", "--port", url)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "TFL_ERR_ARENA_TOO_SMALL" in done.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = _tinyflash("probe", "--port", "/dev/tinyflash-none", "--timeout", "0.2")
    assert done.returncode == 2 and "Cannot open serial port /dev/tinyflash-none" in done.stderr

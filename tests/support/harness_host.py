"""The harness test firmware for the host: the protocol server (firmware/harness) over one of its
backends, built with the sanitizers and driven by tinyflash.link through a pipe. Used by
tests/test_harness.py and tests/test_link.py (their `fc`, `vectors` and `firmware` fixtures live
in tests/conftest.py).

    from support.harness_host import Device, build_firmware, fc_model, random_input
    exe = build_firmware(model, vectors)                  # runtime backend, cached by its inputs
    exe = build_firmware(model, vectors, backend="tflm")  # the TFLM adapter over the TFLM double
    dev = Device(exe); dev.link.invoke([x]); assert dev.finish() == 0

Builds go to build/harness_test/<hash of every source, header, flag and generated file>/, under
support.runtime_build's lock (parallel test processes build each once). The runtime's sources
are support.runtime_build.runtime_sources(): a kernel the model needs whose source is missing
fails the build, it never skips a test.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from support.host_doubles import TFLM_CXX, TFLM_DOUBLE, compile_objects, run
from support.runtime_build import (
    FIRMWARE,
    HARNESS,
    PORTS,
    REPO,
    RUNTIME,
    SAN_ENV,
    SANITIZE_CFLAGS,
    build_inputs_digest,
    build_lock,
    kernel_names,
    runtime_headers,
    runtime_sources,
)
from support.serial_double import PipeSerial
from tinyflash import link as L

TFLM = FIRMWARE / "tflm"
TESTS_C = REPO / "tests" / "c"
BUILD = REPO / "build" / "harness_test"
FC_INPUT = 96  # bytes: more than the 64-byte frames of the small-payload build, so it is chunked
MODEL_VERSION = "fc96-16-4-v1"


# ---- the test model ---------------------------------------------------------------------------


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


def random_input(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(-128, 128, size=(1, FC_INPUT), dtype=np.int8)


def model_kernels(model: bytes) -> list[str]:
    """Lower-case kernel names of the model's operators, sorted (the op table of the build)."""
    from tinyflash.model import parse_model

    return sorted({op.name.lower() for op in parse_model(model, "harness-test").ops})


def assert_runtime_has_kernels(model: bytes) -> None:
    """Fails (never skips) when tfl_kernels.h does not list a kernel the model needs."""
    missing = sorted(set(model_kernels(model)) - set(kernel_names()))
    assert not missing, f"firmware/runtime/include/tfl_kernels.h lists no kernel for {missing}"


# ---- building the test firmware ---------------------------------------------------------------


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
        f"const tfl_op_table harness_test_ops = {{harness_test_kernels, {len(kernels)}, NULL, 0}};",
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
    common = [PORTS / "host" / "port_host.c", TESTS_C / "harness_test_knobs.c"]
    if backend == "runtime":
        sources = sorted((HARNESS / "src").glob("*.c")) + runtime_sources(model_kernels(model))
        return sources + common + [TESTS_C / "harness_test_main.c"], []
    # TFLM: exactly what a --runtime tflm project vendors (the server and the C++ adapter, not the
    # runtime's backend), over the TFLM stand-in, which runs the whole runtime behind it.
    from tinyflash import codegen

    vendored = [FIRMWARE / source for source, _ in codegen.TFLM_HARNESS_FILES]
    c_sources = runtime_sources() + [f for f in vendored if f.suffix == ".c"]
    cpp_sources = [f for f in vendored if f.suffix == ".cpp"]
    cpp_sources += [TFLM_DOUBLE / "tflm_double.cpp", TESTS_C / "harness_test_main_tflm.cpp"]
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
    flags = SANITIZE_CFLAGS + ([f"-DTFL_HARNESS_MAX_PAYLOAD={max_payload}"] if max_payload else [])
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
    headers = (
        runtime_headers()
        + sorted(HARNESS.rglob("*.h"))
        + sorted(TESTS_C.glob("*.h"))
        + [PORTS / "include" / "tfl_port.h"]
    )
    if backend == "tflm":
        headers += sorted(TFLM.rglob("*.h")) + sorted(TFLM_DOUBLE.rglob("*.h"))
    out_dir = BUILD / build_inputs_digest(
        c_sources + cpp_sources + headers, [backend, *flags, *defines, *generated.values()]
    )
    exe = out_dir / "harness_test"
    if exe.is_file():
        return exe
    with build_lock(out_dir):
        if not exe.is_file():
            _compile(backend, c_sources, cpp_sources, generated, flags, defines, out_dir, exe)
    return exe


def _compile(
    backend: str,
    c_sources: list[Path],
    cpp_sources: list[Path],
    generated: dict[str, str],
    flags: list[str],
    defines: list[str],
    out_dir: Path,
    exe: Path,
) -> None:
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
        f"-I{TESTS_C}",
    ]
    tmp = out_dir / f"harness_test.{os.getpid()}"
    if backend == "runtime":
        run(["gcc", *flags, *includes, *map(str, c_sources), "-lm", "-o", str(tmp)])
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
    tmp.replace(exe)  # atomic: a reader without the lock sees no half-written file


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

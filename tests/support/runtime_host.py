"""Host runs of the C runtime for tests, and the tflite-micro reference to compare against.

The runner (tests/c/tfl_runner.c) is compiled on first use with gcc and support.runtime_build's
sanitizer flags (-std=c99 -Werror -fsanitize=address,undefined), linking the runtime's sources as
support.runtime_build lists them (every kernel listed in firmware/runtime/include/tfl_kernels.h).
The executable is cached under build/runtime_host/<hash of all sources and flags>/, so editing any
source rebuilds it; parallel test processes build it once (a lock per key).

    from support.runtime_host import run_model, run_model_batch, init_status, tflm_reference
    outs = run_model(model_bytes, [x])              # list of np.ndarray, one per model output
    many = run_model_batch(model_bytes, [[x1], [x2]])  # one process for many input sets
    init_status(model_bytes)                        # "TFL_OK" or e.g. "TFL_ERR_UNSUPPORTED_OP"
    ref = tflm_reference(model_bytes, [x])          # tflite-micro's Python runtime
    run_model_layers(model_bytes, [x])              # every op's outputs (per-op hook)
    tflm_layers(model_bytes, [x])                   # the same from tflite-micro
    host_run(model_bytes, 3)                        # raw: never raises (fuzzing); .crashed
    offsets, arena = greedy_plan(model_bytes)       # a simple lifetime plan for plan tests
    api_checks(model_bytes)                         # C-level API contract checks

Runner failures raise RunnerError with .status (the tfl_status name), .error_op and .stage.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from support.runtime_build import (
    REPO,
    RUNTIME,
    SAN_ENV,
    SANITIZE_CFLAGS,
    build_inputs_digest,
    build_lock,
    runtime_headers,
    runtime_sources,
)

RUNNER_SRC = REPO / "tests" / "c" / "tfl_runner.c"
BUILD_ROOT = REPO / "build" / "runtime_host"
CFLAGS = SANITIZE_CFLAGS

# TFLite TensorType code -> numpy dtype
DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("<f2"),
    2: np.dtype("<i4"),
    3: np.dtype("u1"),
    4: np.dtype("<i8"),
    6: np.dtype("?"),
    7: np.dtype("<i2"),
    9: np.dtype("i1"),
    10: np.dtype("<f8"),
    12: np.dtype("<u8"),
    15: np.dtype("<u4"),
    16: np.dtype("<u2"),
}


def builtin_name(code: int) -> str:
    """TFLite BuiltinOperator name of a code ("CONV_2D"), or the number when unknown."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    for name, value in vars(schema.BuiltinOperator).items():
        if value == code and not name.startswith("_"):
            return name
    return f"builtin {code}"


class RunnerError(Exception):
    """The runtime returned a status other than TFL_OK (stage "init" or "invoke"), or the runner
    crashed (stage "crash": a sanitizer report or a signal; stderr holds the report)."""

    def __init__(
        self, stage: str, status: str, error_op: int, builtin_code: int = -1, stderr: str = ""
    ) -> None:
        super().__init__(
            f"{stage}: {status} at op {error_op} ({builtin_name(builtin_code)})\n{stderr[-4000:]}"
        )
        self.stage = stage
        self.status = status
        self.error_op = error_op
        self.builtin_code = builtin_code
        self.stderr = stderr


@dataclass
class TensorDesc:
    type: int
    bytes: int
    scale: float
    zero_point: int
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        return DTYPES[self.type]


@dataclass
class HostRun:
    """Everything one runner process reported."""

    returncode: int
    status: str
    error_op: int
    builtin_code: int
    arena_used: int = 0
    pool_used: int = 0
    tensor_count: int = 0
    op_count: int = 0
    inputs: list[TensorDesc] = field(default_factory=list)
    outputs: list[TensorDesc] = field(default_factory=list)
    results: list[list[np.ndarray]] = field(default_factory=list)
    invoke_status: str = "TFL_OK"
    stderr: str = ""

    @property
    def crashed(self) -> bool:
        return self.returncode not in (0, 3, 4)


def build_runner() -> Path:
    """Compiles (or reuses) the sanitized host runner and returns its path. Parallel test
    processes wait on one lock per build key: one compiles, the others reuse its executable."""
    srcs = runtime_sources() + [RUNNER_SRC]
    out_dir = BUILD_ROOT / build_inputs_digest(srcs + runtime_headers(), [" ".join(CFLAGS)])
    exe = out_dir / "tfl_runner"
    if exe.is_file():
        return exe
    with build_lock(out_dir):
        if not exe.is_file():
            _compile_runner(srcs, out_dir, exe)
    return exe


def _compile_runner(srcs: Sequence[Path], out_dir: Path, exe: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}"
    includes = ["-I", str(RUNTIME / "include"), "-I", str(RUNTIME / "src")]

    def compile_one(src: Path) -> Path:
        obj = out_dir / f"{src.parent.name}_{src.stem}.{tag}.o"
        proc = subprocess.run(
            ["gcc", *CFLAGS, *includes, "-c", str(src), "-o", str(obj)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"compiling {src} failed:\n{proc.stderr}")
        return obj

    with ThreadPoolExecutor(max_workers=2) as pool:
        objs = list(pool.map(compile_one, srcs))
    tmp = out_dir / f"tfl_runner.{tag}.tmp"
    proc = subprocess.run(
        ["gcc", *CFLAGS, *map(str, objs), "-o", str(tmp)], capture_output=True, text=True
    )
    for obj in objs:
        obj.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"linking the host runner failed:\n{proc.stderr}")
    os.replace(tmp, exe)  # atomic: a reader without the lock sees no half-written file


def _parse_tensor(parts: list[str]) -> TensorDesc:
    rank = int(parts[6])
    return TensorDesc(
        type=int(parts[2]),
        bytes=int(parts[3]),
        scale=float(parts[4]),
        zero_point=int(parts[5]),
        shape=tuple(int(d) for d in parts[7 : 7 + rank]),
    )


def host_run(
    model_bytes: bytes,
    batch: Sequence[Sequence[np.ndarray]] | int | None = None,
    timeout: float = 300.0,
    offsets: Sequence[int] | None = None,
    extra_env: dict[str, str] | None = None,
) -> HostRun:
    """Runs the runner once; never raises for runtime errors (see HostRun.status/crashed).
    batch: input sets, or an int N to invoke N times on a fixed byte pattern (fuzzing).
    offsets: a memory plan (arena byte offset per tensor, -1 = none) instead of the runtime's
    sequential layout."""
    exe = build_runner()
    with tempfile.TemporaryDirectory(prefix="tfl_host_") as tmpdir:
        tmp = Path(tmpdir)
        model_path = tmp / "model.tflite"
        model_path.write_bytes(bytes(model_bytes))
        args = [str(exe), str(model_path)]
        env = dict(os.environ, **SAN_ENV, **(extra_env or {}))
        if offsets is not None:
            np.asarray(offsets, dtype="<i4").tofile(tmp / "offsets.bin")
            env["TFL_RUNNER_OFFSETS"] = str(tmp / "offsets.bin")
        if isinstance(batch, int):
            args += ["-", str(batch), str(tmp / "out.bin")]
            batch = None
        elif batch is not None:
            with open(tmp / "in.bin", "wb") as f:
                for inputs in batch:
                    for arr in inputs:
                        f.write(np.ascontiguousarray(arr).tobytes())
            args += [str(tmp / "in.bin"), str(len(batch)), str(tmp / "out.bin")]
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
        run = HostRun(
            returncode=proc.returncode, status="", error_op=-1, builtin_code=-1, stderr=proc.stderr
        )
        for line in proc.stdout.splitlines():
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "status":
                run.status, run.error_op, run.builtin_code = parts[1], int(parts[2]), int(parts[3])
            elif parts[0] == "arena":
                run.arena_used, run.pool_used = int(parts[1]), int(parts[3])
                run.tensor_count, run.op_count = int(parts[5]), int(parts[7])
            elif parts[0] == "input":
                run.inputs.append(_parse_tensor(parts))
            elif parts[0] == "output":
                run.outputs.append(_parse_tensor(parts))
            elif parts[0] == "invoke":
                run.invoke_status, run.error_op = parts[1], int(parts[2])
        if proc.returncode == 0 and batch is not None:
            raw = (tmp / "out.bin").read_bytes()
            pos = 0
            for _ in batch:
                outs = []
                for desc in run.outputs:
                    chunk = raw[pos : pos + desc.bytes]
                    pos += desc.bytes
                    outs.append(np.frombuffer(chunk, dtype=desc.dtype).reshape(desc.shape).copy())
                run.results.append(outs)
    return run


def _check(run: HostRun) -> HostRun:
    if run.crashed:
        raise RunnerError(
            "crash", f"exit {run.returncode}", run.error_op, run.builtin_code, run.stderr
        )
    if run.returncode == 3:
        raise RunnerError("init", run.status, run.error_op, run.builtin_code, run.stderr)
    if run.returncode == 4:
        raise RunnerError("invoke", run.invoke_status, run.error_op, run.builtin_code, run.stderr)
    return run


def api_checks(model_bytes: bytes) -> dict[str, tuple[bool, str]]:
    """Runs the runner's C-level API contract checks on a valid model: name -> (ok, detail)."""
    exe = build_runner()
    with tempfile.TemporaryDirectory(prefix="tfl_host_") as tmpdir:
        path = Path(tmpdir) / "model.tflite"
        path.write_bytes(bytes(model_bytes))
        proc = subprocess.run(
            [str(exe), "--api", str(path)],
            capture_output=True,
            text=True,
            env=dict(os.environ, **SAN_ENV),
            timeout=300,
        )
    if proc.returncode not in (0, 5):
        raise RunnerError("crash", f"exit {proc.returncode}", -1, -1, proc.stderr)
    results = {}
    for line in proc.stdout.splitlines():
        parts = line.split(maxsplit=3)
        if len(parts) >= 3 and parts[0] == "check":
            results[parts[1]] = (parts[2] == "ok", parts[3] if len(parts) > 3 else "")
    return results


def model_info(model_bytes: bytes) -> HostRun:
    """Initialises the model and returns its I/O description, arena_used and pool_used."""
    return _check(host_run(model_bytes))


def init_status(model_bytes: bytes) -> str:
    """Name of the status tfl_init returned ("TFL_OK" on success); raises on a crash."""
    run = host_run(model_bytes)
    if run.crashed:
        raise RunnerError("crash", f"exit {run.returncode}", -1, -1, run.stderr)
    return run.status


def run_model_batch(
    model_bytes: bytes, batch: Sequence[Sequence[np.ndarray]], offsets: Sequence[int] | None = None
) -> list[list[np.ndarray]]:
    """Runs every input set through the C runtime in one process; one output list per set.
    With `offsets` the tensors are placed by that memory plan instead of sequentially."""
    run = _check(host_run(model_bytes, batch, offsets=offsets))
    return run.results


def run_model(
    model_bytes: bytes, inputs: Sequence[np.ndarray], offsets: Sequence[int] | None = None
) -> list[np.ndarray]:
    return run_model_batch(model_bytes, [inputs], offsets)[0]


ALIASING_OPS = {22, 43, 70}  # RESHAPE, SQUEEZE, EXPAND_DIMS


def greedy_plan(model: bytes, alias: bool = False) -> tuple[list[int], int]:
    """First-fit placement by lifetime (a test-local planner, not tinyflash's plan.py): each
    activation lives from the op that writes it (or 0 for model inputs) to its last reader.
    alias=True gives a RESHAPE/SQUEEZE/EXPAND_DIMS output the bytes of its input."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = schema.Model.GetRootAs(bytearray(model), 0)
    sg = m.Subgraphs(0)
    sizes = {0: 4, 2: 4, 3: 1, 7: 2, 9: 1}
    n_ops = sg.OperatorsLength()
    first: dict[int, int] = {int(t): 0 for t in sg.InputsAsNumpy()}
    last: dict[int, int] = {int(t): n_ops for t in sg.OutputsAsNumpy()}
    alias_of: dict[int, int] = {}
    for o in range(n_ops):
        op = sg.Operators(o)
        for t in op.OutputsAsNumpy():
            first.setdefault(int(t), o)
        for t in op.InputsAsNumpy():
            if t >= 0:
                last[int(t)] = max(last.get(int(t), 0), o)
        code = m.OperatorCodes(op.OpcodeIndex())
        if alias and max(code.DeprecatedBuiltinCode(), code.BuiltinCode()) in ALIASING_OPS:
            src = int(op.Inputs(0))
            alias_of[int(op.Outputs(0))] = alias_of.get(src, src)
    for out, src in alias_of.items():  # the shared bytes live as long as either name
        last[src] = max(last.get(src, 0), last.get(out, first[out]))
        first.pop(out)
    offsets = [-1] * sg.TensorsLength()
    placed: list[tuple[int, int, int, int]] = []  # offset, bytes, first, last
    for t in sorted(first, key=lambda t: -int(np.prod(sg.Tensors(t).ShapeAsNumpy()))):
        tensor = sg.Tensors(t)
        buf = m.Buffers(tensor.Buffer())
        if buf is not None and buf.DataLength() > 0:
            continue
        nbytes = int(np.prod(tensor.ShapeAsNumpy())) * sizes[tensor.Type()]
        lo, hi = first[t], last.get(t, first[t])
        offset, moved = 0, True
        while moved:  # bump past every block that overlaps in time and space until none does
            moved = False
            for p_off, p_bytes, p_lo, p_hi in placed:
                overlaps = p_off < offset + nbytes and offset < p_off + p_bytes
                if p_lo <= hi and lo <= p_hi and overlaps:
                    offset, moved = (p_off + p_bytes + 15) // 16 * 16, True
        placed.append((offset, nbytes, lo, hi))
        offsets[t] = offset
    for out, src in alias_of.items():
        offsets[out] = offsets[src]
    return offsets, max(o + b for o, b, _, _ in placed)


def tflm_reference_batch(
    model_bytes: bytes, batch: Sequence[Sequence[np.ndarray]], arena_size: int | None = None
) -> list[list[np.ndarray]]:
    """Outputs of tflite-micro's Python runtime (TFLM reference kernels) for each input set."""
    from tflite_micro.python.tflite_micro import runtime

    size = arena_size if arena_size is not None else max(len(model_bytes) * 10, 1 << 20)
    interp = runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=size)
    n_out = _output_count(model_bytes)
    results = []
    for inputs in batch:
        for i, arr in enumerate(inputs):
            interp.set_input(np.require(arr, requirements="C"), i)
        interp.invoke()
        results.append([np.array(interp.get_output(i)).copy() for i in range(n_out)])
    return results


def _output_count(model_bytes: bytes) -> int:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(model_bytes), 0)
    return int(model.Subgraphs(0).OutputsLength())


def _op_outputs(model_bytes: bytes) -> list[list[int]]:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    sg = schema.Model.GetRootAs(bytearray(model_bytes), 0).Subgraphs(0)
    return [[int(t) for t in sg.Operators(o).OutputsAsNumpy()] for o in range(sg.OperatorsLength())]


def run_model_layers(
    model_bytes: bytes, inputs: Sequence[np.ndarray], offsets: Sequence[int] | None = None
) -> list[list[np.ndarray]]:
    """Every operator's outputs (in op order) after one invoke of the C runtime, via the per-op
    hook. With a memory plan, a later op may overwrite an earlier op's bytes: the dump is taken
    right after each op, so it is what that op produced."""
    info = model_info(model_bytes)
    with tempfile.TemporaryDirectory(prefix="tfl_layers_") as tmpdir:
        dump = Path(tmpdir) / "layers.bin"
        _check(
            host_run(
                model_bytes, [inputs], offsets=offsets, extra_env={"TFL_RUNNER_LAYERS": str(dump)}
            )
        )
        raw = dump.read_bytes()
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    sg = schema.Model.GetRootAs(bytearray(model_bytes), 0).Subgraphs(0)
    layers, pos = [], 0
    for outs in _op_outputs(model_bytes):
        arrays = []
        for t in outs:
            tensor = sg.Tensors(t)
            dtype = DTYPES[tensor.Type()]
            shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
            n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            arrays.append(np.frombuffer(raw[pos : pos + n], dtype=dtype).reshape(shape).copy())
            pos += n
        layers.append(arrays)
    assert pos == len(raw), f"layer dump has {len(raw)} bytes, expected {pos} ({info.op_count} ops)"
    return layers


def tflm_layers(model_bytes: bytes, inputs: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
    """Every operator's outputs in tflite-micro (kPreserveAllTensors), in op order."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(
        bytes(model_bytes),
        arena_size=max(len(model_bytes) * 10, 1 << 22),
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )
    for i, arr in enumerate(inputs):
        interp.set_input(np.require(arr, requirements="C"), i)
    interp.invoke()
    return [
        [np.array(interp.GetTensor(t, 0)["tensor_data"]).copy() for t in outs]
        for outs in _op_outputs(model_bytes)
    ]


def tflm_reference(model_bytes: bytes, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    return tflm_reference_batch(model_bytes, [inputs])[0]


def random_inputs(descs: Sequence[TensorDesc], rng: np.random.Generator) -> list[np.ndarray]:
    """Uniformly random arrays for the given input descriptions (full integer range)."""
    arrays = []
    for d in descs:
        dt = d.dtype
        if dt.kind in "iu":
            info = np.iinfo(dt)
            arrays.append(rng.integers(info.min, info.max, size=d.shape, endpoint=True, dtype=dt))
        else:
            arrays.append(rng.standard_normal(size=d.shape).astype(dt))
    return arrays

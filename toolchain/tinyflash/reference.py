"""Host references: one interface, `Reference.run(inputs) -> outputs`, over

* ``tflite-ref``     — TensorFlow Lite's interpreter with the BUILTIN_REF (reference) kernels,
* ``tflite-default`` — TensorFlow Lite's default interpreter (optimized kernels, XNNPACK),
* ``tflm``           — the tflite-micro Python runtime: TFLM's reference kernels, the bit-exact
                       reference for microcontroller kernels (arena sized by `tflm_min_arena`),
* ``float``          — the float model itself (Keras / SavedModel / file.py:name, in-process TF).

Inputs and outputs are numpy arrays in the tensors' own dtype and shape (int8 for a full-int8
model). `quantize` / `dequantize` convert float data to and from a tensor's integer domain with the
arithmetic of TFLite's QUANTIZE and DEQUANTIZE reference kernels:

    q = clamp(round_half_away_from_zero(x / scale) + zero_point, qmin, qmax)
    x = (q - zero_point) * scale

`x / scale` is a float32 division and the rounding is half away from zero (C's `round()`), which
is what TFLite's BUILTIN_REF QUANTIZE and TFLM's QUANTIZE compute (measured: tests compare these
helpers with both runtimes' ops bit for bit). Neither double-precision division nor numpy's
half-to-even `np.round` matches on values next to ties. TFLite's default (optimized) kernel differs
again: it multiplies by a float32 1/scale and rounds half to even.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
from tinyflash.floatmodel import (
    ModelSpec,
    import_tensorflow,
    load_float_model,
    parse_model_spec,
    quiet_fds,
)

REFERENCE_NAMES = ("tflm", "tflite-ref", "tflite-default", "float")
# Largest arena tflm_min_arena tries before giving up (bytes).
TFLM_ARENA_CAP = 256 * 1024 * 1024


@dataclass(frozen=True)
class TensorDetail:
    """One input or output tensor of a reference: shape, dtype and (per-tensor) quantization."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.dtype(self.dtype).kind in "iu"


@runtime_checkable
class Reference(Protocol):
    """Anything that runs one inference on the host."""

    name: str
    inputs: list[TensorDetail]
    outputs: list[TensorDetail]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One inference: one array per input (model order) -> one array per output."""
        ...


# ---- quantization helpers ------------------------------------------------------------------


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (C's round(), TFLite's TfLiteRound)."""
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def quantize(
    values: np.ndarray, scale: float, zero_point: int, dtype: str | np.dtype = "int8"
) -> np.ndarray:
    """Float data -> the integer domain of a tensor, as TFLite's QUANTIZE reference kernel does."""
    if scale <= 0:
        raise ValueError(f"quantize needs a positive scale, got {scale}")
    info = np.iinfo(np.dtype(dtype))
    with np.errstate(over="ignore"):
        scaled = np.asarray(values, dtype=np.float32) / np.float32(scale)  # float32, as TFLite
    q = round_half_away(scaled.astype(np.float64)) + int(zero_point)
    return np.clip(q, info.min, info.max).astype(np.dtype(dtype))


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer tensor data -> float32, as TFLite's DEQUANTIZE reference kernel does."""
    q = np.asarray(values).astype(np.int64) - int(zero_point)
    return (q.astype(np.float64) * np.float64(np.float32(scale))).astype(np.float32)


def to_tensor(values: np.ndarray, detail: TensorDetail) -> np.ndarray:
    """Float data for an input -> the array that input takes (quantized when it is integer)."""
    array = np.asarray(values)
    if array.size != int(np.prod(detail.shape)):
        raise TinyflashError(
            f"input '{detail.name}' takes shape {detail.shape} "
            f"({int(np.prod(detail.shape))} values) but got {array.shape}; "
            "give data of the model's input shape.",
            EXIT_BAD_INPUT,
        )
    array = array.reshape(detail.shape)
    if detail.quantized and array.dtype.kind == "f":
        return quantize(array, detail.scale, detail.zero_point, detail.dtype)
    return array.astype(np.dtype(detail.dtype))


def to_float(values: np.ndarray, detail: TensorDetail) -> np.ndarray:
    """An output array -> float32 (dequantized when the tensor is quantized)."""
    if detail.quantized:
        return dequantize(values, detail.scale, detail.zero_point)
    return np.asarray(values, dtype=np.float32)


def run_float(reference: Reference, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run float data through any reference: quantize in, dequantize out where needed."""
    tensors = [to_tensor(x, d) for x, d in zip(inputs, reference.inputs)]
    outputs = reference.run(tensors)
    return [to_float(y, d) for y, d in zip(outputs, reference.outputs)]


# ---- flatbuffer references -----------------------------------------------------------------


def _details_from_model(
    model_bytes: bytes, name: str
) -> tuple[list[TensorDetail], list[TensorDetail]]:
    from tinyflash.model import parse_model  # noqa: PLC0415

    info = parse_model(model_bytes, name)

    def detail(index: int) -> TensorDetail:
        tensor = info.tensor(index)
        scale, zero = 0.0, 0
        if tensor.quant is not None and tensor.quant.scales:
            scale, zero = float(tensor.quant.scales[0]), int(tensor.quant.zero_points[0])
        return TensorDetail(tensor.name, tuple(tensor.shape), tensor.dtype, scale, zero)

    return [detail(i) for i in info.inputs], [detail(i) for i in info.outputs]


def _check_inputs(
    name: str, details: list[TensorDetail], inputs: Sequence[np.ndarray]
) -> list[np.ndarray]:
    if len(inputs) != len(details):
        raise TinyflashError(
            f"{name}: the model has {len(details)} inputs but {len(inputs)} arrays "
            "were given; give one array per input.",
            EXIT_BAD_INPUT,
        )
    result = []
    for array, detail in zip(inputs, details):
        array = np.asarray(array)
        if array.dtype != np.dtype(detail.dtype):
            raise TinyflashError(
                f"{name}: input '{detail.name}' is {detail.dtype} but got "
                f"{array.dtype}; quantize float data with to_tensor().",
                EXIT_BAD_INPUT,
            )
        if array.size != int(np.prod(detail.shape)):
            raise TinyflashError(
                f"{name}: input '{detail.name}' has shape {detail.shape} but got {array.shape}.",
                EXIT_BAD_INPUT,
            )
        # reshaped after: np.ascontiguousarray makes a scalar (shape ()) a 1-element vector
        result.append(np.ascontiguousarray(array).reshape(detail.shape))
    return result


def _model_bytes(model: bytes | str | Path) -> tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), "model.tflite"
    path = Path(model)
    if not path.is_file():
        raise TinyflashError(f"{path}: .tflite model not found.", EXIT_BAD_INPUT)
    return path.read_bytes(), path.name


class TFLiteReference:
    """TensorFlow Lite's interpreter: kernels='ref' (BUILTIN_REF) or 'default' (XNNPACK)."""

    def __init__(self, model: bytes | str | Path, kernels: str = "ref", quiet: bool = True) -> None:
        if kernels not in ("ref", "default"):
            raise ValueError("kernels must be 'ref' or 'default'")
        self.model_bytes, label = _model_bytes(model)
        self.name = f"tflite-{kernels}"
        self.inputs, self.outputs = _details_from_model(self.model_bytes, label)
        tf = import_tensorflow(quiet)
        resolver = tf.lite.experimental.OpResolverType
        kind = resolver.BUILTIN_REF if kernels == "ref" else resolver.AUTO
        with quiet_fds(quiet), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._interpreter = tf.lite.Interpreter(
                    model_content=self.model_bytes, experimental_op_resolver_type=kind
                )
                self._interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                raise TinyflashError(
                    f"{label}: TensorFlow Lite cannot load the model "
                    f"({str(error).splitlines()[0] if str(error) else error}); "
                    "check it with `tinyflash check`.",
                    EXIT_BAD_INPUT,
                ) from None
        self._in = [d["index"] for d in self._interpreter.get_input_details()]
        self._out = [d["index"] for d in self._interpreter.get_output_details()]
        self._quiet = quiet

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        arrays = _check_inputs(self.name, self.inputs, inputs)
        for index, array in zip(self._in, arrays):
            self._interpreter.set_tensor(index, array)
        with quiet_fds(self._quiet):
            self._interpreter.invoke()
        return [np.array(self._interpreter.get_tensor(i)) for i in self._out]


def _tflm_interpreter(
    model_bytes: bytes, arena_size: int, preserve_all_tensors: bool = False
) -> Any:
    from tflite_micro.python.tflite_micro import runtime  # noqa: PLC0415

    if preserve_all_tensors:
        return runtime.Interpreter.from_bytes(
            model_bytes,
            arena_size=int(arena_size),
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
        )
    return runtime.Interpreter.from_bytes(model_bytes, arena_size=int(arena_size))


def _tflm_works(model_bytes: bytes, arena_size: int, inputs: int) -> bool:
    """True when TFLM allocates the model in `arena_size` bytes and runs one zero input."""
    try:
        interpreter = _tflm_interpreter(model_bytes, arena_size)
        for index in range(inputs):
            detail = interpreter.get_input_details(index)
            interpreter.set_input(np.zeros(detail["shape"], dtype=detail["dtype"]), index)
        interpreter.invoke()
    except (RuntimeError, ValueError):
        return False
    return True


class _ArenaProbe:
    """Asks a child process whether an arena size works. TFLM's Python runtime sometimes segfaults
    (instead of failing cleanly) when an allocation fails part-way, so each probe runs out of
    process; a dead child means "does not fit" and is restarted for the next probe."""

    def __init__(self, model_path: Path, inputs: int, quiet: bool) -> None:
        self.model_path = model_path
        self.inputs = inputs
        self.quiet = quiet
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tinyflash.reference",
                "--arena-probe",
                str(self.model_path),
                str(self.inputs),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if self.quiet else None,
            text=True,
            bufsize=1,
            env=env,
        )

    def works(self, arena_size: int) -> bool:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(f"{int(arena_size)}\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline().strip()
        except (BrokenPipeError, OSError):
            answer = ""
        if answer not in ("0", "1"):
            self.process.wait()
            self.process = None
            return False
        return answer == "1"

    def close(self) -> None:
        if self.process is not None:
            with contextlib.suppress(OSError):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def _probe_main(model_path: str, inputs: int) -> int:
    model_bytes = Path(model_path).read_bytes()
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # TFLM's messages go to stderr, never into the answers
    for line in sys.stdin:
        answers.write("1\n" if _tflm_works(model_bytes, int(line), inputs) else "0\n")
        answers.flush()
    return 0


def tflm_min_arena(model: bytes | str | Path, quiet: bool = True) -> int:
    """The smallest `arena_size` with which the tflite-micro runtime allocates and invokes the model
    (binary search; the answer m satisfies works(m) and not works(m - 1)). Probes run in a child
    process (see _ArenaProbe)."""
    model_bytes, label = _model_bytes(model)
    inputs, _ = _details_from_model(model_bytes, label)
    with tempfile.TemporaryDirectory(prefix="tinyflash-arena-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model_bytes)
        probe = _ArenaProbe(path, len(inputs), quiet)
        try:
            high = max(1024, 4 * len(model_bytes))
            while not probe.works(high):
                high *= 2
                if high > TFLM_ARENA_CAP:
                    raise TinyflashError(
                        f"{label}: TFLM cannot run the model even with a "
                        f"{TFLM_ARENA_CAP // (1024 * 1024)} MiB arena; check the "
                        "model with `tinyflash check`.",
                        EXIT_BAD_INPUT,
                    )
            low = 0  # invariant: low fails (or is 0), high works
            while high - low > 1:
                middle = (low + high) // 2
                if probe.works(middle):
                    high = middle
                else:
                    low = middle
        finally:
            probe.close()
    return high


#: Extra room when every tensor is kept (intermediates for per-layer comparison): TFLM's own plan
#: reuses activation memory, preserving all tensors needs them all at once, plus slack for its
#: bookkeeping of the preserved buffers.
TFLM_PRESERVE_SLACK = 16 * 1024


#: Arena for running a model when its minimum has not been measured: TFLM's plan never needs more
#: than this for the models a microcontroller runs (activations are a fraction of the model), and
#: running with it needs no child-process search (tflm_min_arena) before every generate.
TFLM_RUN_ARENA_MIN = 1024 * 1024
TFLM_RUN_ARENA_MODEL_FACTOR = 10


def tflm_arena(
    model: bytes | str | Path,
    *,
    preserve_all_tensors: bool = False,
    minimum: int | None = None,
    quiet: bool = True,
) -> int:
    """The arena the TFLM runner gives the tflite-micro runtime: TFLM's minimum when the caller
    measured it (`tflm_min_arena`), else a generous bound (max(TFLM_RUN_ARENA_MIN,
    TFLM_RUN_ARENA_MODEL_FACTOR x the model)); plus every activation tensor and
    TFLM_PRESERVE_SLACK when all tensors are kept."""
    model_bytes, label = _model_bytes(model)
    if minimum:
        arena = int(minimum)
    else:
        arena = max(TFLM_RUN_ARENA_MIN, TFLM_RUN_ARENA_MODEL_FACTOR * len(model_bytes))
    if preserve_all_tensors:
        from tinyflash.model import parse_model  # noqa: PLC0415

        info = parse_model(model_bytes, label)
        arena += sum(t.nbytes for t in info.tensors if not t.is_constant) + TFLM_PRESERVE_SLACK
    return arena


class TFLMReference:
    """The tflite-micro Python runtime (TFLM's reference kernels): the exact reference, and the
    one place tinyflash sets up TFLM's Python interpreter (generate's self-test vectors, verify,
    evaluate). The arena comes from `tflm_arena` (a generous bound, or the minimum measured in a
    child process by `tflm_min_arena` when the caller has it), unless `arena_size` is given. With
    `preserve_all_tensors`, `tensor(i)` reads any tensor after a run (per-layer comparison)."""

    name = "tflm"

    def __init__(
        self,
        model: bytes | str | Path,
        arena_size: int | None = None,
        quiet: bool = True,
        preserve_all_tensors: bool = False,
        minimum_arena: int | None = None,
    ) -> None:
        self.model_bytes, label = _model_bytes(model)
        self.inputs, self.outputs = _details_from_model(self.model_bytes, label)
        self._quiet = quiet
        self.arena_size = (
            int(arena_size)
            if arena_size
            else tflm_arena(
                self.model_bytes,
                preserve_all_tensors=preserve_all_tensors,
                minimum=minimum_arena,
                quiet=quiet,
            )
        )
        with quiet_fds(quiet):
            try:
                self._interpreter = _tflm_interpreter(
                    self.model_bytes, self.arena_size, preserve_all_tensors
                )
            except (RuntimeError, ValueError) as error:
                raise TinyflashError(
                    f"{label}: the TFLM runtime cannot load the model with a "
                    f"{self.arena_size} B arena ({error}); give a larger arena "
                    "or check the model.",
                    EXIT_BAD_INPUT,
                ) from None

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        arrays = _check_inputs(self.name, self.inputs, inputs)
        with quiet_fds(self._quiet):
            for index, array in enumerate(arrays):
                self._interpreter.set_input(array, index)
            self._interpreter.invoke()
            outputs = [np.array(self._interpreter.get_output(i)) for i in range(len(self.outputs))]
        return [o.reshape(d.shape) for o, d in zip(outputs, self.outputs)]

    def tensor(self, index: int) -> np.ndarray:
        """Tensor `index` after the last run (needs preserve_all_tensors=True). The caller checks
        `index` against the model: the runtime does not bounds-check GetTensor."""
        return np.array(self._interpreter.GetTensor(index, 0)["tensor_data"])


class FloatReference:
    """The float model (SavedModel dir, .keras, .h5 or file.py:name), batch 1, in this process."""

    name = "float"

    def __init__(
        self, model: str | Path | ModelSpec, signature: str | None = None, quiet: bool = True
    ) -> None:
        spec = model if isinstance(model, ModelSpec) else parse_model_spec(model, signature)
        self._loaded = load_float_model(spec, quiet=quiet)
        self.inputs = [TensorDetail(s.name, s.shape, s.dtype) for s in self._loaded.inputs]
        probe = self._loaded([np.zeros(s.shape, dtype=s.dtype) for s in self._loaded.inputs])
        names = self._loaded.output_names or [f"output_{i}" for i in range(len(probe))]
        self.outputs = [TensorDetail(n, tuple(p.shape), str(p.dtype)) for n, p in zip(names, probe)]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        arrays = []
        for array, detail in zip(inputs, self.inputs):
            array = np.asarray(array)
            if array.size != int(np.prod(detail.shape)):
                raise TinyflashError(
                    f"float: input '{detail.name}' has shape {detail.shape} but got {array.shape}.",
                    EXIT_BAD_INPUT,
                )
            arrays.append(array.reshape(detail.shape).astype(detail.dtype))
        if len(arrays) != len(self.inputs):
            raise TinyflashError(
                f"float: the model has {len(self.inputs)} inputs but "
                f"{len(inputs)} arrays were given.",
                EXIT_BAD_INPUT,
            )
        return self._loaded(arrays)


def make_reference(
    name: str, model: bytes | str | Path, quiet: bool = True, signature: str | None = None
) -> Reference:
    """A reference by name: tflm, tflite-ref, tflite-default (a .tflite) or float (a float model)."""
    if name == "tflm":
        return TFLMReference(model, quiet=quiet)
    if name == "tflite-ref":
        return TFLiteReference(model, "ref", quiet=quiet)
    if name == "tflite-default":
        return TFLiteReference(model, "default", quiet=quiet)
    if name == "float":
        if isinstance(model, (bytes, bytearray)):
            raise TinyflashError(
                "the float reference needs the float model's path.", EXIT_BAD_INPUT
            )
        return FloatReference(model, signature, quiet=quiet)
    raise TinyflashError(
        f"unknown reference '{name}'; use one of {', '.join(REFERENCE_NAMES)}.", EXIT_BAD_INPUT
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--arena-probe":
        sys.exit(_probe_main(sys.argv[2], int(sys.argv[3])))
    sys.stderr.write("usage: python -m tinyflash.reference --arena-probe MODEL INPUTS (internal)\n")
    sys.exit(2)

"""Model conversion: a SavedModel, .keras, .h5 or `file.py:name` → a .tflite, full int8 by default.

The TensorFlow converter runs in a child process (`python -m tinyflash.convert --child`): it can
segfault (a Keras 3 LSTM that is not unrolled does, in TF 2.21), and its C++ log noise must not reach
the user's terminal. Parent and child talk JSON lines over the child's stdin and its original
stdout; everything TensorFlow prints goes to the child's stderr, which the parent sends to a log
file (or to the terminal with --debug).

Recurrent layers: TF 2.21 fuses a tf-keras (Keras 2) LSTM that is not unrolled into one
UNIDIRECTIONAL_SEQUENCE_LSTM (the integer LSTM: int8 weights, int16 cell state) when it converts the
batch-1 concrete function together with the model (the trackable). A Keras 3 model with such a
layer is rebuilt in tf-keras first (floatmodel.py; same layers and weights; Sequential models and
single-chain functional models), since the converter recognises only tf-keras's LSTM. Unrolled
layers convert as before (one set of FULLY_CONNECTED ops per step).

Sequence: the child loads the model and reports its inputs (batch pinned to 1); the parent loads and
validates the calibration data against them (calibration.py, no TensorFlow) and hands the child an
.npz; the child converts, reporting each representative sample it feeds, and writes the .tflite.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash.calibration import (
    DEFAULT_SAMPLES,
    InputSpec,
    Preprocess,
    Progress,
    load_calibration,
    probe_calibration,
    resolve_preprocess,
)
from tinyflash.cluster import ClusterResult, check_bits, cluster_flatbuffer
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option

# import_tensorflow and quiet_fds stay importable as convert.X
from tinyflash.floatmodel import (  # noqa: F401
    QUIET_ENV,
    RECURRENT_LAYERS,
    ModelSpec,
    _first_line,
    _is_tf_keras_model,
    import_tensorflow,
    load_float_model,
    parse_model_spec,
    quiet_fds,
    source_bytes,
)
from tinyflash.preflight import model_inputs, quantization_aware
from tinyflash.records import field_dict

# Tests only: when set to a path, the converter child writes that file after the converter has
# consumed its first calibration sample (a conversion is then surely in progress) and waits there
# until it is killed, so a test can interrupt `convert` mid-conversion without racing it.
HOLD_ENV = "TINYFLASH_TEST_HOLD_CONVERSION"


@dataclass(frozen=True)
class Mode:
    """One conversion mode: whether a microcontroller runs its models (tinyflash's runtime and
    TFLM's kernels), whether it needs calibration data, and whether a quantization-aware
    trained model's own ranges (its fake-quant ops) replace that data."""

    device: bool
    needs_data: bool
    what: str
    trained_ranges: bool = False


# The one place that decides which modes deploy (a mode the device learns is one line here).
MODE_TABLE = {
    "int8": Mode(True, True, "full int8, int8 input and output", True),
    "int8-float-io": Mode(True, True, "int8 inside, float32 input and output", True),
    "uint8-io": Mode(
        True, True, "int8 inside, uint8 input and output (QUANTIZE at the edges)", True
    ),
    "int16x8": Mode(True, True, "int16 activations and I/O, int8 weights (16x8)"),
    "float16": Mode(False, False, "float16 weights, float32 compute"),
    "dynamic": Mode(False, False, "int8 weights, float32 activations (dynamic range)"),
}
MODES = tuple(MODE_TABLE)
HOST_ONLY_MODES = tuple(m for m, d in MODE_TABLE.items() if not d.device)
MODES_NEEDING_DATA = tuple(m for m, d in MODE_TABLE.items() if d.needs_data)
DEVICE_MODES = tuple(m for m, d in MODE_TABLE.items() if d.device)


def check_mode(mode: str, device: bool = False) -> Mode:
    """The mode's row; an unknown mode, or (for `device`) a host-only one, is refused here,
    before any conversion."""
    if mode not in MODE_TABLE:
        raise TinyflashError(
            f"unknown {option('mode')} '{mode}'; use one of {', '.join(MODES)}.", EXIT_BAD_INPUT
        )
    row = MODE_TABLE[mode]
    if device and not row.device:
        raise TinyflashError(
            f"mode {mode} is host-only ({row.what}): microcontroller runtimes cannot run it; "
            f"deploy with {option('mode')} {' or '.join(DEVICE_MODES)}, or run "
            f"`tinyflash convert --mode {mode}` to get the model for the host.",
            EXIT_BAD_INPUT,
        )
    return row


def host_only_problem(mode: str) -> str:
    """The one line convert and check print for a model converted in a host-only mode."""
    return (
        f"mode {mode} is host-only ({MODE_TABLE[mode].what}): microcontroller runtimes "
        "(tinyflash's and TFLM's integer kernels) cannot run it; use --mode int8 or int16x8 "
        "(with --data) for a device."
    )


# ---- the converter (runs in the child) -----------------------------------------------------


def _configure(
    converter: Any,
    tf: Any,
    mode: str,
    calibration: list[list[np.ndarray]] | None,
    on_sample: Callable[[int, int], None],
) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
        return
    if mode == "dynamic":
        return
    if calibration is None:
        # A quantization-aware trained model: its fake-quant ops give every range. TF 2.21
        # refuses TFLITE_BUILTINS_INT8 without a representative dataset before it looks at the
        # graph, so the ops set stays the default; the result is checked to be all integer.
        assert MODE_TABLE[mode].trained_ranges
        _io_types(converter, tf, mode)
        return
    samples = calibration

    def representative() -> Iterator[list[np.ndarray]]:
        for index, sample in enumerate(samples):
            yield sample
            on_sample(index + 1, len(samples))

    converter.representative_dataset = representative
    if mode == "int16x8":
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [ops]
        converter.inference_input_type = tf.int16
        converter.inference_output_type = tf.int16
        return
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    _io_types(converter, tf, mode)


def _io_types(converter: Any, tf: Any, mode: str) -> None:
    if mode == "int8":
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif mode == "uint8-io":
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    # int8-float-io: float32 input/output kept (QUANTIZE/DEQUANTIZE at the edges).


def float_tensors(flatbuffer: bytes, mode: str) -> list[str]:
    """Names of the float32 tensors a full-integer conversion in `mode` should not have (a
    float mode's input and output tensors excepted)."""
    from tinyflash.model import parse_model  # noqa: PLC0415

    info = parse_model(flatbuffer, "converted")
    edges = set(info.inputs) | set(info.outputs) if mode == "int8-float-io" else set()
    return [
        t.name for t in info.tensors if t.dtype in ("float32", "float16") and t.index not in edges
    ]


def _child_main() -> int:
    """Entry point of the converter child; see the module docstring for the protocol."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed to stdout joins stderr (the log), not the protocol
    sys.stdout = sys.stderr

    def send(**message: Any) -> None:
        proto.write(json.dumps(message) + "\n")
        proto.flush()

    def receive() -> dict:
        line = sys.stdin.readline()
        if not line:
            raise SystemExit(0)
        return json.loads(line)

    request = receive()
    try:
        quiet = not request.get("debug", False)
        spec = ModelSpec.from_json(request["model"])
        loaded = load_float_model(spec, quiet=quiet)
        send(
            event="inputs",
            inputs=[s.to_json() for s in loaded.inputs],
            outputs=loaded.output_names,
            float_weight_bytes=loaded.float_weight_bytes,
            layer_types=loaded.layer_types,
            rolled=loaded.rolled,
            stateful=loaded.stateful,
            fake_quant=loaded.fake_quant,
        )
        reply = receive()
        if reply.get("abort"):
            return 0
        calibration: list[list[np.ndarray]] | None = None
        if reply.get("calibration"):
            with np.load(reply["calibration"], allow_pickle=False) as archive:
                arrays = [archive[f"input_{i}"] for i in range(len(loaded.inputs))]
            count = int(arrays[0].shape[0])
            calibration = [[a[i : i + 1] for a in arrays] for i in range(count)]
        tf = import_tensorflow(quiet)
        # No trackable object: with one, TF 2.21 keeps READ_VARIABLE ops and calibration fails;
        # without, the converter freezes the captured variables (loaded.trackable keeps them alive).
        # A tf-keras LSTM that is not unrolled is the exception: converted with its model it fuses
        # into UNIDIRECTIONAL_SEQUENCE_LSTM (without, the converter segfaults).
        # A stateful model (it assigns a variable in the call, or --stateful) converts with its
        # trackable too and keeps its variables as resource variables (VAR_HANDLE/READ_VARIABLE/
        # ASSIGN_VARIABLE, an init subgraph run by CALL_ONCE), quantized like the activations.
        stateful = bool(request.get("stateful")) or loaded.stateful
        fused = loaded.rolled and _is_tf_keras_model(getattr(loaded.trackable, "model", None))
        hold = os.environ.get(HOLD_ENV, "")

        def on_sample(done: int, total: int) -> None:
            send(event="progress", done=done, total=total)
            if hold:  # tests only (HOLD_ENV): converting now; wait to be killed
                Path(hold).write_text("converting\n")
                threading.Event().wait()

        def convert(samples: list[list[np.ndarray]] | None) -> bytes:
            converter = (
                tf.lite.TFLiteConverter.from_concrete_functions([loaded.function], loaded.trackable)
                if fused or stateful
                else tf.lite.TFLiteConverter.from_concrete_functions([loaded.function])
            )
            _configure(converter, tf, request["mode"], samples, on_sample)
            if stateful:
                converter.experimental_enable_resource_variables = True
                converter._experimental_variable_quantization = True  # int8 state, no float island
            return bytes(converter.convert())

        started = time.monotonic()
        data_used = calibration is not None
        flatbuffer = b""
        uncovered: list[str] = []
        if loaded.fake_quant and MODE_TABLE[request["mode"]].trained_ranges:
            # Quantization-aware trained: first with its own ranges alone.
            try:
                flatbuffer = convert(None)
                uncovered = float_tensors(flatbuffer, request["mode"])
            except Exception as error:  # noqa: BLE001 - then the data decides, or the error
                uncovered = [f"(converter: {_converter_message(error)})"]
            if uncovered and calibration is None:
                send(
                    event="error",
                    kind="input",
                    message=f"{spec.label}: the model's fake-quant ranges (quantization-aware "
                    f"training) do not cover every tensor ({len(uncovered)} left float, e.g. "
                    f"{uncovered[0]}); give {option('data')} with representative samples for "
                    "the rest.",
                    exit_code=EXIT_BAD_INPUT,
                )
                return 0
            data_used = bool(uncovered)
        try:
            if not flatbuffer or uncovered:
                flatbuffer = convert(calibration)
        except Exception as error:  # noqa: BLE001 - ConverterError and friends
            send(event="error", kind="converter", message=_converter_message(error))
            return 0
        seconds = time.monotonic() - started
        Path(request["out"]).write_bytes(flatbuffer)
        send(event="done", seconds=seconds, bytes=len(flatbuffer), data_used=data_used)
    except TinyflashError as error:
        send(event="error", kind="input", message=error.template, exit_code=error.exit_code)
    except Exception as error:  # noqa: BLE001 - reported to the parent as one sentence
        send(
            event="error", kind="internal", message=f"{type(error).__name__}: {_first_line(error)}"
        )
        if request.get("debug"):
            raise
    return 0


def _converter_message(error: BaseException) -> str:
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    for line in lines:
        if "error:" in line:
            return line.split("error:", 1)[1].strip()[:300]
    return lines[0][:300] if lines else type(error).__name__


# ---- the parent side -----------------------------------------------------------------------


@dataclass
class ConvertResult:
    """What one conversion produced; the CLI prints it, --json dumps to_json()."""

    model: str
    output: Path
    mode: str
    host_only: bool
    samples: int
    inputs: list[InputSpec]
    source_bytes: int
    float_weight_bytes: int
    tflite_bytes: int
    convert_seconds: float
    total_seconds: float
    op_histogram: dict[str, int]
    deployable: bool | None
    problems: list[str] = field(default_factory=list)
    stateful: bool = False  # converted with resource variables (state kept between invokes)
    log_path: Path | None = None
    preprocess: str = ""  # what was applied to the calibration data (images, CSV)
    warnings: list[str] = field(default_factory=list)
    # quantized with the ranges learnt in quantization-aware training (fake-quant ops)
    trained_ranges: bool = False
    notes: list[str] = field(default_factory=list)
    clustering: ClusterResult | None = None  # --weight-bits K

    def to_json(self) -> dict:
        return field_dict(self, skip=("log_path", "clustering")) | {
            "convert_seconds": round(self.convert_seconds, 3),
            "total_seconds": round(self.total_seconds, 3),
            "clustering": self.clustering.to_json() if self.clustering else None,
        }


DATA_NOT_NEEDED = (
    "the model carries its own quantization ranges (fake-quant, from quantization-aware "
    "training), so --data was not needed and was not used."
)


def write_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to a hidden temporary file beside `path`, flushes it to disk and renames it
    over `path`: readers see the old file or the whole new one, never a part. The temporary file
    is removed when anything (including Ctrl-C) interrupts the write."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would differ from a plain open()
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise TinyflashError(
            f"cannot write {path} ({error.strerror or error}); check the "
            "permissions and free space of its folder.",
            EXIT_BAD_INPUT,
        ) from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class _Child:
    def __init__(self, debug: bool, log_path: Path) -> None:
        env = dict(os.environ)
        env.update({"PYTHONUNBUFFERED": "1"})
        if not debug:
            env.update(QUIET_ENV)
        env["KERAS_BACKEND"] = "tensorflow"
        # TensorFlow's own temporary files (autograph's generated modules, removed only at a clean
        # exit) go to the conversion's temporary directory, which the parent removes even when it
        # kills the child (Ctrl-C).
        env["TMPDIR"] = str(log_path.parent)
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
        self.log = None if debug else log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tinyflash.convert", "--child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else self.log,
            env=env,
            text=True,
            bufsize=1,
        )

    def send(self, **message: Any) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass

    def receive(self) -> dict | None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def close(self, abort: bool = False) -> int:
        if abort and self.process.poll() is None:
            self.process.kill()
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.process.stdin.close()
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        except BaseException:  # Ctrl-C while the child finishes: stop it, leave no process
            self.process.kill()
            self.process.wait()
            raise
        if self.log is not None:
            self.log.close()
        return code


def _crash_error(
    model: str,
    code: int,
    recurrent: bool,
    log_path: Path | None,
    rolled: list[str] | None = None,
) -> TinyflashError:
    how = f"signal {-code}" if code < 0 else f"exit {code}"
    if code < 0:
        with contextlib.suppress(ValueError):
            how = f"{signal.Signals(-code).name}, {how}"
    if rolled and any(", stateful)" in r for r in rolled):
        remedy = (
            f"TF 2.21 cannot convert the stateful layer {', '.join(rolled)} when it is not "
            "unrolled; build it with unroll=True (still stateful=True: its state becomes "
            "resource variables) or stateless with one time step per frame "
            "(Input((1, features), batch_size=1)), whose fused LSTM keeps its state from one "
            "invoke to the next on the device — see docs/convert.md (RNN routes, streaming)"
        )
    elif rolled:
        remedy = (
            f"the converter failed on the recurrent layer {', '.join(rolled)}; TF 2.21 fuses "
            "only an LSTM into one op — build a GRU or SimpleRNN with unroll=True (and a "
            "fixed sequence length); see docs/convert.md (RNN routes)"
        )
    elif recurrent or code in (-11, 139):
        remedy = (
            "if the model has a recurrent layer: TF 2.21 fuses only an LSTM into one op — "
            "build other recurrent layers with unroll=True; see docs/convert.md (RNN routes)"
        )
    else:
        remedy = f"run again with {option('debug')} to see the converter's log"
    log = f" (converter log: {log_path})" if log_path is not None else ""
    return TinyflashError(
        f"{model}: the TensorFlow converter crashed ({how}); {remedy}{log}.", EXIT_BAD_INPUT
    )


def check_output(output: Path, force: bool) -> None:
    """OUTPUT must be a .tflite path that is not a directory and, unless `force`, not a file."""
    if output.suffix.lower() != ".tflite":
        raise TinyflashError(f"{output}: the output file must end in .tflite.", EXIT_BAD_INPUT)
    if output.is_dir():
        raise TinyflashError(
            f"{output} is a directory; give {option('output')} the path of a "
            ".tflite file to "
            "write.",
            EXIT_BAD_INPUT,
        )
    if output.exists() and not force:
        raise TinyflashError(
            f"{output} already exists; pass {option('force')} to replace it, or "
            "choose "
            f"another {option('output')}.",
            EXIT_BAD_INPUT,
        )


def convert_model(
    model: str | Path,
    output: str | Path,
    data: str | Path | None = None,
    mode: str = "int8",
    samples: int = DEFAULT_SAMPLES,
    signature: str | None = None,
    progress: Progress | None = None,
    debug: bool = False,
    force: bool = False,
    stateful: bool = False,
    preprocess: Preprocess | None = None,
    weight_bits: int | None = None,
) -> ConvertResult:
    """Convert MODEL to OUTPUT in `mode`, calibrating with `data` (required for the integer modes).

    An existing OUTPUT is refused unless `force`. OUTPUT appears only complete: the bytes go to a
    temporary file beside it that is renamed over it, and a failure or Ctrl-C (the converter child
    is then killed) leaves no partial file behind.
    `progress(done, total)` is called for each representative sample the converter consumes.
    A model that assigns a variable in its call (a tf.Variable, a Keras RNN with stateful=True)
    converts with resource variables, its state kept between invokes; `stateful` forces that.
    A quantization-aware trained model (fake-quant ops on every tensor) converts with its own
    ranges, without `data`. `weight_bits` clusters the int8 weights afterwards (cluster.py)."""
    started = time.monotonic()
    check_mode(mode)
    if weight_bits is not None:
        check_bits(weight_bits)
    spec = parse_model_spec(model, signature)
    output = Path(output)
    check_output(output, force)
    if mode in MODES_NEEDING_DATA and data is None:
        # Only a quantization-aware trained model may go without (None: the child tells).
        if not MODE_TABLE[mode].trained_ranges or quantization_aware(spec) is False:
            raise needs_data_error(spec.label, mode)
    if samples < 1:
        raise TinyflashError(
            f"{option('samples')} must be at least 1 (got {samples}).", EXIT_BAD_INPUT
        )
    # Before TensorFlow starts (15-20 s): the model's inputs as far as they can be read from
    # the file, and the calibration data checked against them.
    known_inputs = model_inputs(spec)
    if mode in MODES_NEEDING_DATA and data is not None:
        if known_inputs is not None:
            load_calibration(Path(str(data)), known_inputs, samples, preprocess=preprocess)
        else:
            probe_calibration(Path(str(data)))
            resolve_preprocess(Path(str(data)), preprocess)
    if output.parent and not output.parent.exists():
        output.parent.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="tinyflash-convert-") as tmp:
        tmpdir = Path(tmp)
        log_path = tmpdir / "converter.log"
        partial = tmpdir / "model.tflite"
        child = _Child(debug, log_path)
        recurrent = False
        rolled: list[str] = []
        converted_stateful = stateful
        inputs: list[InputSpec] = []
        float_weight_bytes = 0
        count = 0
        applied = ""
        convert_seconds = 0.0
        fake_quant = False
        data_used = data is not None
        failure: TinyflashError | None = None
        try:
            child.send(
                model=spec.to_json(), mode=mode, out=str(partial), debug=debug, stateful=stateful
            )
            message = child.receive()
            if message is not None and message.get("event") == "inputs":
                inputs = [InputSpec.from_json(d) for d in message["inputs"]]
                float_weight_bytes = int(message.get("float_weight_bytes", 0))
                recurrent = any(t in RECURRENT_LAYERS for t in message.get("layer_types", []))
                rolled = [str(r) for r in message.get("rolled", [])]
                converted_stateful = stateful or bool(message.get("stateful"))
                fake_quant = bool(message.get("fake_quant"))
                calib_path = ""
                if mode in MODES_NEEDING_DATA and data is None and not fake_quant:
                    child.send(abort=True)
                    raise needs_data_error(spec.label, mode)
                if mode in MODES_NEEDING_DATA and data is not None:
                    try:
                        calib = load_calibration(
                            Path(str(data)), inputs, samples, preprocess=preprocess
                        )
                    except TinyflashError:
                        child.send(abort=True)
                        raise
                    count = calib.count
                    applied = calib.describe()
                    calib_path = str(tmpdir / "calibration.npz")
                    arrays: dict[str, Any] = {f"input_{i}": a for i, a in enumerate(calib.arrays)}
                    np.savez(calib_path, **arrays)
                    if progress is not None:
                        progress(0, count)
                child.send(calibration=calib_path)
                while True:
                    message = child.receive()
                    if message is None or message.get("event") != "progress":
                        break
                    if progress is not None:
                        progress(int(message["done"]), int(message["total"]))
            if message is not None and message.get("event") == "error":
                text = str(message.get("message", "unknown error"))
                if message.get("kind") == "input":
                    failure = TinyflashError(text, int(message.get("exit_code", EXIT_BAD_INPUT)))
                elif message.get("kind") == "converter":
                    hint = (
                        "; TF 2.21 fuses only an LSTM into one op — build other recurrent "
                        "layers with unroll=True (docs/convert.md, RNN routes)"
                        if rolled
                        else ""
                    )
                    if "16x8-bit not yet supported for op: 'UNIDIRECTIONAL_SEQUENCE_LSTM'" in text:
                        hint = (
                            "; TF 2.21 writes no fused 16x8 LSTM — build the LSTM with "
                            "unroll=True (its per-step ops run 16x8) or convert with --mode int8 "
                            "(docs/convert.md, 16x8)"
                        )
                    failure = TinyflashError(
                        f"{spec.label}: the TensorFlow converter rejected the "
                        f"model in mode {mode} ({text}){hint}; run again "
                        f"with {option('debug')} for the converter's log.",
                        EXIT_BAD_INPUT,
                    )
                else:
                    failure = TinyflashError(
                        f"{spec.label}: converting failed ({text}); run again "
                        f"with {option('debug')} for the traceback.",
                        EXIT_BAD_INPUT,
                    )
            elif message is not None and message.get("event") == "done":
                convert_seconds = float(message["seconds"])
                data_used = bool(message.get("data_used", data_used))
        except BaseException:
            child.close(abort=True)  # an error or Ctrl-C: stop the converter now
            raise
        code = child.close()
        if failure is not None:
            raise failure
        if code != 0 or not partial.is_file():
            saved_log: Path | None = None
            if not debug and log_path.is_file():
                saved_log = Path(tempfile.gettempdir()) / f"tinyflash-converter-{os.getpid()}.log"
                with contextlib.suppress(OSError):
                    saved_log.write_bytes(log_path.read_bytes())
            raise _crash_error(spec.label, code, recurrent, saved_log, rolled)
        flatbuffer = partial.read_bytes()
    clustering: ClusterResult | None = None
    if weight_bits is not None:
        flatbuffer, clustering = cluster_flatbuffer(flatbuffer, output.name, weight_bits)
    write_atomic(output, flatbuffer)
    histogram, deployable, problems = summarize_tflite(flatbuffer, output.name)
    # A host-only mode's model is host-only unless check finds it deployable (a QAT model
    # converted with --mode dynamic is full int8): convert and check give one verdict.
    host_only = mode in HOST_ONLY_MODES and not deployable
    if host_only:
        deployable = False
        problems = [host_only_problem(mode)] + problems
    warnings = size_warnings(len(flatbuffer), float_weight_bytes, recurrent, rolled)
    trained = fake_quant and mode in MODES_NEEDING_DATA and not data_used
    return ConvertResult(
        trained_ranges=trained,
        notes=[DATA_NOT_NEEDED] if trained and data is not None else [],
        clustering=clustering,
        warnings=warnings,
        model=spec.label,
        output=output,
        mode=mode,
        host_only=host_only,
        samples=count if data_used else 0,
        preprocess=applied if data_used else "",
        inputs=inputs,
        source_bytes=source_bytes(spec.path),
        float_weight_bytes=float_weight_bytes,
        tflite_bytes=len(flatbuffer),
        convert_seconds=convert_seconds,
        total_seconds=time.monotonic() - started,
        op_histogram=histogram,
        deployable=deployable,
        problems=problems,
        stateful=converted_stateful,
    )


def needs_data_error(label: str, mode: str) -> TinyflashError:
    return TinyflashError(
        f"{label}: mode {mode} needs calibration data; give "
        f"{option('data')} "
        "with 100 to 500 representative samples (.npy, .npz, .csv or an "
        "image folder).",
        EXIT_BAD_INPUT,
    )


# An int8 model is about a quarter of its float32 weights; more than this many times the float32
# weights means weights are copied (an unrolled recurrent layer repeats its step per time step).
SIZE_WARNING_RATIO = 2.0


def size_warnings(
    tflite_bytes: int, float_weight_bytes: int, recurrent: bool, rolled: list[str]
) -> list[str]:
    """A warning when the .tflite is much larger than the float32 weights it quantizes."""
    if not float_weight_bytes or tflite_bytes <= SIZE_WARNING_RATIO * float_weight_bytes:
        return []
    ratio = tflite_bytes / float_weight_bytes
    cause = (
        "the recurrent layers are unrolled (one copy of the step per time step); build the LSTM "
        "with unroll=False to convert it to one fused UNIDIRECTIONAL_SEQUENCE_LSTM "
        "(docs/convert.md, RNN routes)"
        if recurrent and not rolled
        else "check the op histogram for repeated ops"
    )
    return [
        f"the .tflite is {ratio:.1f}x the float32 weights ({tflite_bytes:,} B against "
        f"{float_weight_bytes:,} B; full int8 is usually about 0.3x): {cause}."
    ]


def summarize_tflite(flatbuffer: bytes, name: str) -> tuple[dict[str, int], bool | None, list[str]]:
    """Op histogram and the deployability verdict, from model.py/opcheck.py (the one parser)."""
    try:
        from tinyflash.model import parse_model  # noqa: PLC0415
    except ImportError:
        return {}, None, ["op summary unavailable: tinyflash.model is not installed"]
    info = parse_model(flatbuffer, name)
    histogram = dict(sorted(dict(info.op_histogram).items()))
    try:
        from tinyflash.opcheck import check_model  # noqa: PLC0415
    except ImportError:
        return histogram, None, []
    report = check_model(info)
    problems = list(report.offenders)
    return histogram, bool(report.deployable), problems


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.exit(_child_main())
    sys.stderr.write(
        "usage: python -m tinyflash.convert --child (internal; use `tinyflash convert`)\n"
    )
    sys.exit(2)

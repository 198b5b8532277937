"""On-device verification: the same inputs on the device and on the host references, compared.

The device is reached through a pyserial URL: a real board's port, or the TCP serial port of an
emulated board (QEMU) or host-native firmware that this module starts itself. The tflite-micro
Python runtime is the exact reference; TFLite's BUILTIN_REF and default (XNNPACK) kernels and the
float model are reported beside it for context.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option
from tinyflash.metrics import OutputMetrics, TickStats, compare_outputs, tick_stats

#: The exact reference every verdict is taken against.
EXACT_REFERENCE = "tflm"
#: Names of the host references, in report order.
REFERENCE_NAMES = ("tflm", "tflite-ref", "tflite-default", "float")

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class OpTiming:
    op_index: int
    op_name: str
    ticks: int


@dataclass(frozen=True)
class LayerDivergence:
    """The first op whose output on the device differs from the reference's."""

    sample: int
    op_index: int
    op_name: str
    tensor_index: int
    max_abs_diff_lsb: int
    mismatched_values: int
    values: int
    options: dict[str, Any]
    inputs: tuple[str, ...]  # "tensor 3 int8[1,8,8,4]"


@dataclass
class LabelAccuracy:
    """Top-1 accuracy against the labels of the --data samples, of the device, the host int8
    model (tflite-micro, the exact reference) and the float model (with --float-model), and how
    often the device's class equals each reference's."""

    samples: int
    device: float
    host_int8: float
    float_model: float | None
    agreement_host_int8: float
    agreement_float: float | None
    preprocess: str = ""


@dataclass
class VerifyResult:
    model: str
    model_sha256: str
    board: str
    url: str
    tick_unit: str
    samples: int
    tolerance: int
    metrics: list[OutputMetrics]
    ticks: TickStats
    arena_used: int
    arena_planned: int
    passed: bool
    first_mismatch_sample: int | None
    divergence: LayerDivergence | None = None
    op_ticks: list[OpTiming] = field(default_factory=list)
    link: dict[str, int] = field(default_factory=dict)
    skipped_references: dict[str, str] = field(default_factory=dict)
    banner: str = ""
    accuracy: LabelAccuracy | None = None
    memory: dict[str, int] | None = None  # flash/RAM of the firmware (builds made here)
    device_outputs: list[list[np.ndarray]] = field(default_factory=list, repr=False)
    reference_outputs: dict[str, list[list[np.ndarray]]] = field(default_factory=dict, repr=False)
    # --stream: the frames sent without reset (0: not a stream run), the frames replayed after a
    # RESET and compared with a fresh TFLM interpreter, and the first of those that differed
    stream: int = 0
    reset_frames: int = 0
    reset_mismatch_frame: int | None = None

    def exact_metrics(self) -> list[OutputMetrics]:
        return [m for m in self.metrics if m.reference == EXACT_REFERENCE]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_sha256": self.model_sha256,
            "board": self.board,
            "url": self.url,
            "tick_unit": self.tick_unit,
            "samples": self.samples,
            "tolerance_lsb": self.tolerance,
            "passed": self.passed,
            "first_mismatch_sample": self.first_mismatch_sample,
            "arena_used": self.arena_used,
            "arena_planned": self.arena_planned,
            "ticks": {
                "unit": self.ticks.unit,
                "min": self.ticks.minimum,
                "median": self.ticks.median,
                "max": self.ticks.maximum,
            },
            "metrics": [
                {
                    "reference": m.reference,
                    "output": m.output_index,
                    "samples": m.samples,
                    "values": m.values,
                    "exact_fraction": m.exact_fraction,
                    "max_abs_diff_lsb": m.max_abs_diff_lsb,
                    "mean_abs_error_lsb": m.mean_abs_error_lsb,
                    "rmse_lsb": m.rmse_lsb,
                    "cosine_similarity": m.cosine_similarity,
                    "top1_agreement": m.top1_agreement,
                    "diff_histogram": {str(k): v for k, v in sorted(m.diff_histogram.items())},
                }
                for m in self.metrics
            ],
            "divergence": None
            if self.divergence is None
            else {
                "sample": self.divergence.sample,
                "op_index": self.divergence.op_index,
                "op_name": self.divergence.op_name,
                "tensor_index": self.divergence.tensor_index,
                "max_abs_diff_lsb": self.divergence.max_abs_diff_lsb,
                "mismatched_values": self.divergence.mismatched_values,
                "values": self.divergence.values,
                "options": self.divergence.options,
                "inputs": list(self.divergence.inputs),
            },
            "op_ticks": [
                {"op": t.op_index, "name": t.op_name, "ticks": t.ticks} for t in self.op_ticks
            ],
            "stream": None
            if not self.stream
            else {
                "frames": self.stream,
                "frames_after_reset": self.reset_frames,
                "first_mismatch_after_reset": self.reset_mismatch_frame,
            },
            "link": self.link,
            "accuracy": None if self.accuracy is None else asdict(self.accuracy),
            "memory": self.memory,
            "skipped_references": self.skipped_references,
            "banner": self.banner,
        }


# ---- inputs -------------------------------------------------------------------------------------


def _tensor_label(info: Any, index: int) -> str:
    tensor = info.tensors[index]
    return f"tensor {index} {tensor.dtype}{list(tensor.shape)}"


def load_inputs(
    info: Any, data: Path | None, samples: int, seed: int, preprocess: Any = None
) -> list[list[np.ndarray]]:
    """Per-sample input lists for the model: from a calibration-style file holding float inputs
    as the float model takes them (quantized here with each input's scale and zero point, as the
    application would), or deterministic random values of the input type."""
    if samples < 1:
        raise TinyflashError(
            f"{option('samples')} must be at least 1, not {samples}", EXIT_BAD_INPUT
        )
    tensors = [info.tensors[i] for i in info.inputs]
    if data is None:
        rng = np.random.default_rng(seed)
        result = []
        for _ in range(samples):
            sample = []
            for t in tensors:
                dtype = np.dtype(t.dtype)
                if dtype.kind in "iu":
                    lim = np.iinfo(dtype)
                    sample.append(rng.integers(lim.min, lim.max + 1, size=t.shape, dtype=dtype))
                else:
                    sample.append(rng.standard_normal(t.shape).astype(dtype))
            result.append(sample)
        return result

    from tinyflash.calibration import InputSpec, load_calibration
    from tinyflash.reference import quantize

    specs = [InputSpec(t.name, tuple(t.shape), "float32") for t in tensors]
    calibration = load_calibration(Path(data), specs, samples, preprocess=preprocess)
    result = []
    for s in range(calibration.count):
        sample = []
        for t, array in zip(tensors, calibration.arrays):
            value = np.asarray(array[s]).reshape(t.shape)
            dtype = np.dtype(t.dtype)
            if dtype.kind in "iu":
                if t.quant is None:
                    raise TinyflashError(
                        f"{data}: input {_tensor_label(info, t.index)} is not quantized, so "
                        "float data cannot be mapped onto it; convert the model with tinyflash "
                        "convert",
                        EXIT_BAD_INPUT,
                    )
                value = quantize(value, t.quant.scales[0], t.quant.zero_points[0], dtype)
            else:
                value = value.astype(dtype)
            sample.append(value)
        result.append(sample)
    return result


# ---- references ---------------------------------------------------------------------------------


def run_references(
    model: Path,
    info: Any,
    inputs: list[list[np.ndarray]],
    float_model: Path | None,
    skipped: dict[str, str],
    progress: Progress | None = None,
    raw_float: list[list[np.ndarray]] | None = None,
) -> dict[str, list[list[np.ndarray]]]:
    """Runs every sample on each host reference; a reference that cannot run this model is
    recorded in `skipped` (the exact one may not be skipped)."""
    from tinyflash.reference import TFLiteReference, TFLMReference

    outputs: dict[str, list[list[np.ndarray]]] = {}
    tflm = TFLMReference(model)
    outputs["tflm"] = []
    for i, sample in enumerate(inputs):
        outputs["tflm"].append(tflm.run(sample))
        if progress:
            progress("reference tflm", i + 1, len(inputs))
    for name, kernels in (("tflite-ref", "ref"), ("tflite-default", "default")):
        try:
            ref = TFLiteReference(model, kernels=kernels)
            outputs[name] = [ref.run(sample) for sample in inputs]
        except TinyflashError as error:
            skipped[name] = error.message
        except RuntimeError as error:  # e.g. TFLite's int8 SVDF insists on a RELU activation
            skipped[name] = f"TensorFlow Lite cannot run the model ({str(error).splitlines()[0]})"
    if float_model is not None:
        outputs["float"] = _float_outputs(float_model, info, inputs, skipped, raw_float)
    return outputs


def _float_outputs(
    float_model: Path,
    info: Any,
    inputs: list[list[np.ndarray]],
    skipped: dict[str, str],
    raw: list[list[np.ndarray]] | None = None,
) -> list[list[np.ndarray]]:
    """The float model's outputs on the dequantized inputs, quantized to the int8 model's output
    scale so they compare in the same LSB units as the device."""
    from tinyflash.reference import FloatReference, dequantize, quantize

    ref = FloatReference(float_model)
    in_tensors = [info.tensors[i] for i in info.inputs]
    out_tensors = [info.tensors[i] for i in info.outputs]
    result = []
    for sample in inputs:
        floats = [
            dequantize(x, t.quant.scales[0], t.quant.zero_points[0]) if t.quant else x
            for x, t in zip(sample, in_tensors)
        ]
        outs = ref.run(floats)
        if len(outs) != len(out_tensors):
            skipped["float"] = (
                f"{float_model} has {len(outs)} outputs, the int8 model {len(out_tensors)}"
            )
            return []
        if raw is not None:
            raw.append([np.asarray(o) for o in outs])
        result.append(
            [
                quantize(
                    np.asarray(o).reshape(t.shape),
                    t.quant.scales[0],
                    t.quant.zero_points[0],
                    t.dtype,
                )
                if t.quant
                else np.asarray(o)
                for o, t in zip(outs, out_tensors)
            ]
        )
    return result


def tflm_intermediates(
    info: Any, sample: Sequence[np.ndarray], history: Sequence[Sequence[np.ndarray]] = ()
) -> dict[int, np.ndarray]:
    """Every tensor's value after one invoke of the tflite-micro runtime (all tensors kept),
    the interpreter having run `history` first (a stateful model's earlier frames).
    Tensor indices come from ModelInfo: the runtime does not bounds-check GetTensor."""
    from tinyflash.reference import TFLMReference

    runner = TFLMReference(bytes(info.data), preserve_all_tensors=True)
    for earlier in history:
        runner.run(earlier)
    runner.run(sample)
    # subgraph 0's tensors only: TFLM reads the others with their own subgraph index, and
    # GetTensor does not check either (ModelInfo numbers every subgraph's tensors globally)
    count = len(info.subgraphs[0].tensors) if info.subgraphs else len(info.tensors)
    # a resource tensor (VAR_HANDLE's output) holds no values: TFLM's GetTensor crashes on it
    return {
        index: runner.tensor(index)
        for index in range(count)
        if info.tensors[index].dtype != "resource"
    }


def find_divergence(
    info: Any, sample_index: int, layers: Any, reference: dict[int, np.ndarray]
) -> LayerDivergence | None:
    """The first op (in execution order) whose output differs from the reference."""
    for record in layers.ops:
        for out in record.outputs:
            expected = reference.get(out.index)
            if expected is None:
                continue
            got = np.asarray(out.data).reshape(-1).astype(np.int64)
            want = np.asarray(expected).reshape(-1).astype(np.int64)
            if got.shape != want.shape or not np.array_equal(got, want):
                op = info.ops[record.op_index]
                n = min(got.size, want.size)
                diff = np.abs(got[:n] - want[:n])
                return LayerDivergence(
                    sample=sample_index,
                    op_index=record.op_index,
                    op_name=op.name,
                    tensor_index=out.index,
                    max_abs_diff_lsb=int(diff.max()) if n else 0,
                    mismatched_values=int(np.count_nonzero(diff)) + abs(got.size - want.size),
                    values=int(want.size),
                    options=dict(op.options),
                    inputs=tuple(_tensor_label(info, i) for i in op.inputs if i >= 0),
                )
    return None


# ---- the whole run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectTarget:
    """A generated project: where its model and board are, and its firmware once built."""

    project_dir: Path
    board: str
    model: Path
    arena_bytes: int


def read_project(project_dir: Path) -> ProjectTarget:
    meta_path = Path(project_dir) / "tinyflash.json"
    if not meta_path.is_file():
        raise TinyflashError(
            f"{project_dir} is not a tinyflash project (no tinyflash.json); "
            "create one with `tinyflash generate MODEL.tflite --board B -o DIR`",
            EXIT_BAD_INPUT,
        )
    try:
        meta = json.loads(meta_path.read_text())
        return ProjectTarget(
            Path(project_dir),
            str(meta["board"]),
            Path(project_dir) / meta["model"]["copy"],
            int(meta["arena_bytes"]),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise TinyflashError(
            f"{meta_path} is damaged ({error}); generate the project again with {option('force')}",
            EXIT_BAD_INPUT,
        ) from error


# Frames replayed after the RESET of a --stream run.
STREAM_REPLAY = 10


def _worst_lsb(device: Sequence[Any], reference: Sequence[Any]) -> int:
    """Largest |device - reference| over every output value (0 for empty outputs)."""
    return max(
        (
            int(
                np.max(
                    np.abs(
                        np.asarray(d).astype(np.int64)
                        - np.asarray(r).reshape(np.shape(d)).astype(np.int64)
                    )
                )
            )
            for d, r in zip(device, reference)
            if np.size(d)
        ),
        default=0,
    )


def verify_device(
    url: str,
    model: Path,
    *,
    board: str,
    data: Path | None = None,
    samples: int = 10,
    seed: int = 0,
    tolerance: int = 0,
    per_layer: bool = False,
    float_model: Path | None = None,
    timeout: float = 10.0,
    progress: Progress | None = None,
    info: Any = None,
    labels: Path | None = None,
    preprocess: Any = None,
    stream: int | None = None,
    reference_lock: AbstractContextManager[Any] | None = None,
) -> VerifyResult:
    """Talks to a running device at `url` whose firmware embeds `model` (`info`: its ModelInfo
    when the caller has parsed it already). With `stream` = N: N consecutive frames from a RESET
    on (state carries from one to the next, as in one TFLM interpreter kept across invokes),
    then a RESET and the first min(N, STREAM_REPLAY) frames again, which must give a fresh
    interpreter's outputs. `reference_lock` is held while the host references run (parallel
    farm jobs in one process: TensorFlow's imports and fd silencing are not thread-safe)."""
    from tinyflash.link import open_link
    from tinyflash.model import load_model

    if tolerance < 0:
        raise TinyflashError(
            f"{option('tolerance')} must be 0 or more LSB, not {tolerance}", EXIT_BAD_INPUT
        )
    if info is None:
        info = load_model(model)
    if stream is not None:
        if stream < 1:
            raise TinyflashError(
                f"{option('stream')} must be 1 or more frames, not {stream}", EXIT_BAD_INPUT
            )
        samples = stream
    inputs = load_inputs(info, data, samples, seed, preprocess)
    label_array: np.ndarray | None = None
    if labels is not None:
        from tinyflash.calibration import load_labels

        if data is None:
            raise TinyflashError(
                f"{option('labels')} needs {option('data')}: labels name the classes of the "
                "data's samples (random inputs have none)",
                EXIT_BAD_INPUT,
            )
        label_array = load_labels(labels, len(inputs))
    with open_link(url, timeout=timeout) as link:
        banner = link.wait_banner()
        device = link.info()
        if not device.ready:
            raise TinyflashError(
                f"the device at {url} failed to initialise the model: {device.init_status_name} "
                f"at op {device.error_op}",
                EXIT_CHECK_FAILED,
            )
        if device.model_sha256.lower() != info.sha256.lower():
            raise TinyflashError(
                f"the device at {url} runs a different model (SHA-256 {device.model_sha256[:16]}…, "
                f"{model.name} is {info.sha256[:16]}…); flash the firmware generated from "
                f"{model.name}",
                EXIT_CHECK_FAILED,
            )
        if info.stateful or stream is not None:
            # State (an LSTM's, SVDF's, resource variables) carries from one invoke to the next,
            # on the device as in TFLM: start from init, as the fresh TFLM reference below does
            # (the self-test at boot has advanced it). RESET re-initialises the interpreter.
            link.reset()
        device_outputs: list[list[np.ndarray]] = []
        ticks: list[int] = []
        for i, sample in enumerate(inputs):
            outs, t = link.invoke(sample)
            device_outputs.append([np.asarray(o) for o in outs])
            ticks.append(int(t))
            if progress:
                progress("device", i + 1, len(inputs))
        skipped: dict[str, str] = {}
        raw_float: list[list[np.ndarray]] = []
        with reference_lock or nullcontext():
            references = run_references(
                model, info, inputs, float_model, skipped, progress, raw_float
            )
        metrics: list[OutputMetrics] = []
        for name in REFERENCE_NAMES:
            ref_outputs = references.get(name)
            if not ref_outputs:
                continue
            for o in range(len(info.outputs)):
                metrics.append(
                    compare_outputs(
                        name,
                        o,
                        [d[o] for d in device_outputs],
                        [np.asarray(r[o]).reshape(device_outputs[0][o].shape) for r in ref_outputs],
                    )
                )
        first_bad: int | None = None
        for s, (dev, ref) in enumerate(zip(device_outputs, references["tflm"])):
            if _worst_lsb(dev, ref) > tolerance:
                first_bad = s
                break
        reset_frames, reset_bad = 0, None
        if stream is not None:
            # RESET, then the sequence's first frames again: a fresh interpreter's outputs
            link.reset()
            reset_frames = min(stream, STREAM_REPLAY)
            for i in range(reset_frames):
                outs, _ = link.invoke(inputs[i])
                if reset_bad is None and _worst_lsb(outs, references["tflm"][i]) > tolerance:
                    reset_bad = i
        layers_sample = first_bad if first_bad is not None else 0
        # State: the per-layer frame must see the history the stream gave it, on the device as
        # in the reference. RESET, replay the frames before it, and compare against one
        # interpreter run over the same frames (a fresh one would point at the state's ops).
        history = inputs[:layers_sample] if info.stateful or stream is not None else []
        if per_layer and first_bad is not None and (info.stateful or stream is not None):
            link.reset()
            for sample in history:
                link.invoke(sample)
        layers = link.layers(inputs[layers_sample])
        op_ticks = [OpTiming(r.op_index, r.op_name, r.ticks) for r in layers.ops]
        divergence = None
        if per_layer and first_bad is not None:
            divergence = find_divergence(
                info, first_bad, layers, tflm_intermediates(info, inputs[first_bad], history)
            )
        counters = link.counters.as_dict()
    accuracy = None
    if label_array is not None:
        accuracy = label_accuracy(
            info, label_array, device_outputs, references["tflm"], raw_float or None
        )
        if data is not None:
            from tinyflash.calibration import resolve_preprocess

            pre = resolve_preprocess(Path(data), preprocess)
            images = Path(data).is_dir()
            raw_format = images or Path(data).suffix.lower() == ".csv"
            accuracy.preprocess = pre.describe(images) if raw_format else ""
    return VerifyResult(
        model=str(model),
        model_sha256=info.sha256,
        board=board,
        url=url,
        tick_unit=device.tick_unit,
        samples=len(inputs),
        tolerance=tolerance,
        metrics=metrics,
        ticks=tick_stats(ticks, device.tick_unit),
        arena_used=device.arena_used,
        arena_planned=device.arena_planned,
        passed=first_bad is None and reset_bad is None,
        first_mismatch_sample=first_bad,
        stream=stream or 0,
        reset_frames=reset_frames,
        reset_mismatch_frame=reset_bad,
        divergence=divergence,
        op_ticks=op_ticks,
        link=counters,
        skipped_references=skipped,
        banner=banner.text,
        accuracy=accuracy,
        device_outputs=device_outputs,
        reference_outputs=references,
    )


def label_accuracy(
    info: Any,
    labels: np.ndarray,
    device: list[list[np.ndarray]],
    host_int8: list[list[np.ndarray]],
    float_outputs: list[list[np.ndarray]] | None,
) -> LabelAccuracy:
    """Top-1 accuracy of output 0 against `labels` (classes as in `tinyflash evaluate`: argmax,
    or > 0.5 for one value; int8 outputs are dequantized first, which a single-value output
    needs)."""
    from tinyflash.evaluate import classes
    from tinyflash.reference import dequantize

    out = info.tensors[info.outputs[0]]

    def predicted(outputs: list[list[np.ndarray]], quantized: bool) -> np.ndarray:
        values = np.stack([np.asarray(o[0]).reshape(-1) for o in outputs])
        if quantized and out.quant is not None:
            values = dequantize(values, out.quant.scales[0], out.quant.zero_points[0])
        return classes(np.asarray(values))

    dev = predicted(device, True)
    host = predicted(host_int8, True)
    flt = predicted(float_outputs, False) if float_outputs else None
    return LabelAccuracy(
        samples=len(dev),
        device=float(np.mean(dev == labels)),
        host_int8=float(np.mean(host == labels)),
        float_model=None if flt is None else float(np.mean(flt == labels)),
        agreement_host_int8=float(np.mean(dev == host)),
        agreement_float=None if flt is None else float(np.mean(dev == flt)),
    )


def verify_firmware(
    board: Any,
    program: Path | None,
    model: Path,
    *,
    port: str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> VerifyResult:
    """Verifies the device at `port`, or, when no port is given, the firmware `program` started
    on its emulator (or natively for the host) for the duration of the run."""
    from tinyflash.emulator import start_device

    with ExitStack() as stack:
        if port is None:
            if not (board.emulated or board.is_host) or program is None:
                raise TinyflashError(
                    f"board '{board.id}' is real hardware: flash it and pass its serial port "
                    "(e.g. /dev/ttyACM0)",
                    EXIT_BAD_INPUT,
                )
            url = stack.enter_context(start_device(board, program)).url
        else:
            url = port
        return verify_device(url, model, board=board.id, progress=progress, **options)


def verify_project(
    project_dir: Path,
    *,
    port: str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> VerifyResult:
    """Builds the project if needed, starts its emulator (or uses `port` for a real board) and
    verifies it."""
    from tinyflash.boards import load_board
    from tinyflash.platformio import build_project

    target = read_project(project_dir)
    board = load_board(target.board)
    program: Path | None = None
    if port is None:
        if not (board.emulated or board.is_host):
            raise TinyflashError(
                f"board '{board.id}' is real hardware: flash it with `tinyflash flash "
                f"{project_dir}` and pass its serial port with {option('port')} (e.g. "
                "/dev/ttyACM0)",
                EXIT_BAD_INPUT,
            )
        build = build_project(target.project_dir)
        program = build.elf
    result = verify_firmware(board, program, target.model, port=port, progress=progress, **options)
    if port is None:
        result.memory = memory_figures(build)
    return result


def memory_figures(build: Any) -> dict[str, int]:
    """Flash and RAM of a build against the board's limits, with the model and arena parts."""
    size = build.size
    return {
        "flash_used": size.flash_used,
        "flash_limit": size.flash_limit,
        "ram_used": size.ram_used,
        "ram_limit": size.ram_limit,
        "text": size.text,
        "data": size.data,
        "bss": size.bss,
        "model_bytes": build.model_bytes or 0,
        "arena_bytes": build.arena_bytes or 0,
    }

"""`tinyflash evaluate`: the quantized model against the float model on the host.

Both models see the same float samples (the quantized one through `reference.run_float`, i.e.
QUANTIZE-exact input rounding and dequantized outputs). Reported: accuracy of each (with labels),
top-1 agreement between them, and the output error of the quantized model against the float model
(max abs, RMSE, cosine similarity) per output tensor, in float units.

The baseline may be another .tflite instead of the float model (say the int8 model before
`convert --weight-bits`): both run on the same reference, and without --data on random inputs
(uniform over each input's integer range, a fixed seed), so a model that comes without data
still shows what a change to it costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash.calibration import (
    InputSpec,
    Preprocess,
    Progress,
    load_calibration,
    load_labels,
    npz_labels,
)
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option
from tinyflash.reference import FloatReference, Reference, make_reference, run_float

# Random inputs when a .tflite baseline comes without data: this many samples, this seed.
RANDOM_SAMPLES = 200
RANDOM_SEED = 0


@dataclass
class OutputError:
    """Quantized-vs-float error of one output tensor over all samples (float units)."""

    name: str
    max_abs: float
    mean_abs: float
    rmse: float
    cosine: float


@dataclass
class EvaluateResult:
    float_model: str
    quant_model: str
    reference: str
    samples: int
    top1_agreement: float
    accuracy_float: float | None
    accuracy_quant: float | None
    outputs: list[OutputError] = field(default_factory=list)
    preprocess: str = ""  # what was applied to the data (image folders, CSV)
    baseline: str = "float"  # what the first model is: "float", or "int8" for a .tflite

    def to_json(self) -> dict:
        data = asdict(self)
        data["outputs"] = [asdict(o) for o in self.outputs]
        return data


def classes(outputs: np.ndarray) -> np.ndarray:
    """Predicted class per sample: argmax, or value > 0.5 for a single-value (sigmoid) output."""
    flat = outputs.reshape(outputs.shape[0], -1)
    if flat.shape[1] == 1:
        return (flat[:, 0] > 0.5).astype(np.int64)
    return np.argmax(flat, axis=1)


def output_error(name: str, quant: np.ndarray, ref: np.ndarray) -> OutputError:
    q = quant.astype(np.float64).reshape(-1)
    r = ref.astype(np.float64).reshape(-1)
    diff = q - r
    norms = float(np.linalg.norm(q) * np.linalg.norm(r))
    cosine = float(np.dot(q, r) / norms) if norms > 0 else (1.0 if np.array_equal(q, r) else 0.0)
    return OutputError(
        name,
        float(np.max(np.abs(diff))),
        float(np.mean(np.abs(diff))),
        float(np.sqrt(np.mean(diff * diff))),
        cosine,
    )


class _Dequantized:
    """A .tflite baseline seen as a float model: float samples in, dequantized outputs out."""

    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        self.inputs = reference.inputs
        self.outputs = reference.outputs

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        return run_float(self.reference, inputs)


@dataclass
class _RandomInputs:
    """Uniform random integer inputs (as float values exactly on the input's grid, so run_float
    quantizes them back unchanged); a fixed seed."""

    arrays: list[np.ndarray]

    @property
    def count(self) -> int:
        return int(self.arrays[0].shape[0])

    def sample(self, index: int) -> list[np.ndarray]:
        return [a[index : index + 1] for a in self.arrays]

    def describe(self) -> str:
        return f"{self.count} random inputs over each input's integer range (seed {RANDOM_SEED})"


def random_inputs(reference: Reference, count: int) -> _RandomInputs:
    from tinyflash.reference import dequantize  # noqa: PLC0415

    rng = np.random.default_rng(RANDOM_SEED)
    arrays = []
    for detail in reference.inputs:
        kind = np.dtype(detail.dtype)
        if not detail.quantized:
            raise TinyflashError(
                f"input '{detail.name}' is {detail.dtype}, not quantized: random inputs need a "
                f"quantized input; give {option('data')}.",
                EXIT_BAD_INPUT,
            )
        info = np.iinfo(kind)
        q = rng.integers(info.min, info.max + 1, size=(count, *detail.shape[1:]))
        arrays.append(dequantize(q, detail.scale, detail.zero_point))
    return _RandomInputs(arrays)


def evaluate(
    float_model: str | Path,
    quant_model: str | Path,
    data: str | Path | None,
    labels: str | Path | None = None,
    samples: int | None = None,
    reference: str = "tflite-ref",
    signature: str | None = None,
    progress: Progress | None = None,
    quiet: bool = True,
    preprocess: Preprocess | None = None,
) -> EvaluateResult:
    """Run every sample of `data` through both models; `labels` defaults to a `y`/`labels` array
    stored beside the inputs in the data .npz. `float_model` may be a .tflite (the baseline int8
    model); then `data` may be None (random inputs)."""
    if reference == "float":
        raise TinyflashError(
            f"{option('reference')} must run the quantized model: tflm, "
            "tflite-ref or "
            "tflite-default.",
            EXIT_BAD_INPUT,
        )
    if reference not in ("tflite-ref", "tflm", "tflite-default"):
        raise TinyflashError(
            f"unknown {option('reference')} '{reference}'; use tflite-ref, tflm "
            "or "
            "tflite-default (the runtimes of the quantized model).",
            EXIT_BAD_INPUT,
        )
    quant_path = Path(quant_model)
    if not quant_path.is_file():
        raise TinyflashError(
            f"{quant_path}: quantized model not found; convert one with `tinyflash convert`.",
            EXIT_BAD_INPUT,
        )
    tflite_baseline = str(float_model).lower().endswith(".tflite")
    if data is None and not tflite_baseline:
        raise TinyflashError(
            f"evaluating against the float model {float_model} needs {option('data')} (its "
            "inputs); only a .tflite baseline can run on random inputs.",
            EXIT_BAD_INPUT,
        )
    if data is not None and not Path(data).exists():
        raise TinyflashError(
            f"{data}: evaluation data not found; give an .npy, .npz, .csv or a folder of images.",
            EXIT_BAD_INPUT,
        )
    # Before TensorFlow starts: the .tflite's inputs (flatbuffer), the float model's as far as
    # its file tells them, and the data checked against them.
    from tinyflash.floatmodel import parse_model_spec
    from tinyflash.model import load_model
    from tinyflash.preflight import model_inputs

    qinfo = load_model(quant_path)
    q_inputs = _tflite_inputs(qinfo)
    if tflite_baseline:
        known: list[InputSpec] | None = _tflite_inputs(load_model(float_model))
    else:
        known = model_inputs(parse_model_spec(float_model, signature))
    if known is not None:
        _same_inputs(quant_path, float_model, q_inputs, known)
        if data is not None:
            load_calibration(Path(data), known, samples or 10**9, preprocess=preprocess)
    quant = make_reference(reference, quant_path, quiet=quiet)
    floating: Any = (
        _Dequantized(make_reference(reference, float_model, quiet=quiet))
        if tflite_baseline
        else FloatReference(float_model, signature, quiet=quiet)
    )
    specs = [
        InputSpec(d.name, d.shape, "float32" if tflite_baseline else d.dtype)
        for d in floating.inputs
    ]
    _same_inputs(quant_path, float_model, q_inputs, specs)
    for q, f in zip(quant.outputs, floating.outputs):
        if int(np.prod(q.shape)) != int(np.prod(f.shape)):
            raise TinyflashError(
                f"{quant_path}: output '{q.name}' has shape {q.shape} but the "
                f"float model's is {f.shape}; compare a model with its own "
                "conversion.",
                EXIT_BAD_INPUT,
            )
    dataset: Any = (
        load_calibration(Path(data), specs, samples or 10**9, preprocess=preprocess)
        if data is not None
        else random_inputs(floating, samples or RANDOM_SAMPLES)
    )
    count = dataset.count
    label_array: np.ndarray | None = None
    if labels is not None:
        label_array = load_labels(labels, count)
    elif data is not None:
        stored = npz_labels(data)
        if stored is not None:
            if stored.shape[0] < count:
                raise TinyflashError(
                    f"{data}: {stored.shape[0]} labels for {count} samples; give "
                    "one label per sample.",
                    EXIT_BAD_INPUT,
                )
            label_array = stored[:count]
    float_out: list[list[np.ndarray]] = [[] for _ in floating.outputs]
    quant_out: list[list[np.ndarray]] = [[] for _ in quant.outputs]
    for index in range(count):
        sample = dataset.sample(index)
        for store, value in zip(float_out, floating.run(sample)):
            store.append(np.asarray(value, dtype=np.float32).reshape(-1))
        for store, value in zip(quant_out, run_float(quant, sample)):
            store.append(np.asarray(value, dtype=np.float32).reshape(-1))
        if progress is not None:
            progress(index + 1, count)
    stacked_f = [np.stack(v) for v in float_out]
    stacked_q = [np.stack(v) for v in quant_out]
    errors = [output_error(d.name, q, f) for d, q, f in zip(quant.outputs, stacked_q, stacked_f)]
    float_classes = classes(stacked_f[0])
    quant_classes = classes(stacked_q[0])
    accuracy_float = accuracy_quant = None
    if label_array is not None:
        accuracy_float = float(np.mean(float_classes == label_array))
        accuracy_quant = float(np.mean(quant_classes == label_array))
    return EvaluateResult(
        float_model=str(float_model),
        quant_model=str(quant_path),
        reference=quant.name,
        samples=count,
        top1_agreement=float(np.mean(float_classes == quant_classes)),
        accuracy_float=accuracy_float,
        accuracy_quant=accuracy_quant,
        outputs=errors,
        preprocess=dataset.describe(),
        baseline="int8" if tflite_baseline else "float",
    )


def _tflite_inputs(info: Any) -> list[InputSpec]:
    return [InputSpec(info.tensors[i].name, tuple(info.tensors[i].shape)) for i in info.inputs]


def _same_inputs(
    quant_path: Path, float_model: str | Path, quant: list[InputSpec], floating: list[InputSpec]
) -> None:
    """The .tflite must take the float model's inputs: another model's conversion is named as
    such (the data is not to blame)."""
    if len(quant) != len(floating):
        raise TinyflashError(
            f"{quant_path}: has {len(quant)} input(s) but the float model {float_model} has "
            f"{len(floating)}: the .tflite was converted from another model; compare a model "
            "with its own conversion.",
            EXIT_BAD_INPUT,
        )
    for index, (q, f) in enumerate(zip(quant, floating)):
        if [d for d in q.shape if d != 1] != [d for d in f.shape if d != 1]:
            raise TinyflashError(
                f"{quant_path}: input {index} has shape {tuple(q.shape)} but the float model "
                f"{float_model} takes {tuple(f.shape)} ('{f.name}'): the shapes differ, so the "
                ".tflite was converted from another model; compare a model with its own "
                "conversion.",
                EXIT_BAD_INPUT,
            )

"""Calibration (representative) data: load it from .npy, .npz, .csv or a folder of images and check
it against the model's inputs before the converter ever sees it.

Every array returned here has a leading sample axis: ``arrays[name].shape == (count, *sample_shape)``
where ``sample_shape`` is the model input's shape without its batch dimension (batch is pinned to 1).
No TensorFlow is imported here.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option

DEFAULT_SAMPLES = 200
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
# Keys accepted for the single input of a one-input model when the .npz has several arrays.
SINGLE_INPUT_KEYS = ("x", "input", "inputs", "data", "images", "features")

Progress = Callable[[int, int], None]
# What numpy/zipfile raise on a damaged or foreign file.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


@dataclass(frozen=True)
class InputSpec:
    """One model input as the converter sees it: batch pinned to 1."""

    name: str
    shape: tuple[int, ...]  # full shape including the batch dimension (1)
    dtype: str = "float32"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[1:])

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @staticmethod
    def from_json(data: dict) -> InputSpec:
        return InputSpec(
            str(data["name"]), tuple(int(d) for d in data["shape"]), str(data["dtype"])
        )


@dataclass
class CalibrationSet:
    """Validated samples, one array per model input (in the model's input order)."""

    source: Path
    inputs: list[InputSpec]
    arrays: list[np.ndarray] = field(default_factory=list)
    preprocess: Preprocess | None = None

    @property
    def images(self) -> bool:
        return self.source.is_dir()

    def describe(self) -> str:
        """What was applied to the raw data, for the user (`check`/`evaluate` print it)."""
        if self.preprocess is None or not (self.images or self.source.suffix == ".csv"):
            return "arrays used as they are"
        return self.preprocess.describe(self.images)

    @property
    def count(self) -> int:
        return int(self.arrays[0].shape[0]) if self.arrays else 0

    def sample(self, index: int) -> list[np.ndarray]:
        """Sample `index` as the list of batch-1 arrays the converter's generator yields."""
        return [a[index : index + 1] for a in self.arrays]

    def as_dict(self) -> dict[str, np.ndarray]:
        return {spec.name: array for spec, array in zip(self.inputs, self.arrays)}


PREPROCESS_JSON = "preprocess.json"


def _number(text: str, what: str) -> float:
    """A float, also written as a fraction (`1/127.5`)."""
    try:
        if "/" in text:
            top, bottom = text.split("/", 1)
            value = float(top) / float(bottom)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise TinyflashError(
            f"{what} takes a number or a fraction such as 1/127.5, not '{text}'.", EXIT_BAD_INPUT
        ) from None
    if not np.isfinite(value):
        raise TinyflashError(f"{what} must be a finite number, not '{text}'.", EXIT_BAD_INPUT)
    return value


def _numbers(value: object, what: str) -> tuple[float, ...]:
    """One number or one per channel: `0.5`, `0.485,0.456,0.406`, or a JSON number/list."""
    if isinstance(value, (int, float)):
        return (float(value),)
    if isinstance(value, list):
        return tuple(_number(str(v), what) for v in value)
    return tuple(_number(part.strip(), what) for part in str(value).split(",") if part.strip())


@dataclass(frozen=True)
class Preprocess:
    """How raw values (pixels 0-255 of an image folder, numbers of a CSV) become model inputs:
    x = (raw * scale - mean) / std, mean and std per channel (one value or one per channel).
    scale None is the format's default: 1/255 for images (pixels to [0, 1]), 1 for CSV."""

    scale: float | None = None
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    source: str = "default"  # "options", the JSON file it came from, or "default"

    @property
    def is_default(self) -> bool:
        return self.scale is None and self.mean == (0.0,) and self.std == (1.0,)

    def effective_scale(self, images: bool) -> float:
        if self.scale is not None:
            return self.scale
        return 1.0 / 255.0 if images else 1.0

    def describe(self, images: bool) -> str:
        raw = "pixel" if images else "value"
        scale = self.effective_scale(images)
        text = f"{raw} * {scale:.6g}"
        mean = ",".join(f"{m:g}" for m in self.mean)
        std = ",".join(f"{s:g}" for s in self.std)
        if self.mean != (0.0,):
            text = f"({text} - {mean})"
        if self.std != (1.0,):
            text = f"{text} / {std}"
        origin = "" if self.source == "options" else f" [{self.source}]"
        return f"x = {text}{origin}"

    def apply(self, array: np.ndarray, images: bool) -> np.ndarray:
        channels = array.shape[-1] if array.ndim else 1
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise TinyflashError(
                    f"{option(name)} has {len(values)} values but the input has {channels} channels; "
                    "give one value or one per channel.",
                    EXIT_BAD_INPUT,
                )
        if any(s == 0 for s in self.std):
            raise TinyflashError(f"{option('std')} must not be 0.", EXIT_BAD_INPUT)
        if self.scale is None:  # the default, bit for bit as before: pixels / 255, CSV as is
            scaled = array.astype(np.float32) / np.float32(255.0) if images else array
        else:
            scaled = array.astype(np.float32) * np.float32(self.scale)
        if self.mean == (0.0,) and self.std == (1.0,):
            return scaled
        return (scaled - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)

    def to_json(self, images: bool = True) -> dict:
        return {
            "scale": self.effective_scale(images),
            "mean": list(self.mean),
            "std": list(self.std),
            "source": self.source,
        }


def make_preprocess(
    scale: str | None = None, mean: str | None = None, std: str | None = None
) -> Preprocess | None:
    """The Preprocess of the command-line options, or None when none is given."""
    if scale is None and mean is None and std is None:
        return None
    return Preprocess(
        _number(scale, option("scale")) if scale is not None else None,
        _numbers(mean, option("mean")) if mean is not None else (0.0,),
        _numbers(std, option("std")) if std is not None else (1.0,),
        "options",
    )


def preprocess_file(path: Path) -> Path:
    """Where the preprocessing of data at `path` may be written: DIR/preprocess.json for an image
    folder, NAME.preprocess.json beside a CSV."""
    return path / PREPROCESS_JSON if path.is_dir() else path.with_suffix(".preprocess.json")


def resolve_preprocess(path: Path | str, given: Preprocess | None) -> Preprocess:
    """The options when given, else the JSON file next to the data, else the default. Only image
    folders and CSV files take preprocessing: .npy/.npz hold the model's inputs as they are."""
    path = Path(path)
    raw_format = path.is_dir() or path.suffix.lower() == ".csv"
    if given is not None:
        if not raw_format:
            raise TinyflashError(
                f"{path}: {option('scale')}/{option('mean')}/{option('std')} apply to image "
                "folders and CSV files; an "
                f"{path.suffix or 'array'} file holds the model's inputs as they are — "
                "preprocess the arrays before saving them, or drop the options.",
                EXIT_BAD_INPUT,
            )
        return given
    if not raw_format:
        return Preprocess()
    spec_path = preprocess_file(path)
    if not spec_path.is_file():
        return Preprocess()
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TinyflashError(
            f"{spec_path}: not readable JSON ({error}); write e.g. "
            '{"scale": "1/127.5", "mean": 1, "std": 1}.',
            EXIT_BAD_INPUT,
        ) from None
    unknown = sorted(set(spec) - {"scale", "mean", "std"}) if isinstance(spec, dict) else ["?"]
    if unknown:
        raise TinyflashError(
            f"{spec_path}: unknown key(s) {', '.join(unknown)}; the file takes scale, mean and "
            "std.",
            EXIT_BAD_INPUT,
        )
    where = str(spec_path)
    return Preprocess(
        _number(str(spec["scale"]), f"{where}: scale") if "scale" in spec else None,
        _numbers(spec["mean"], f"{where}: mean") if "mean" in spec else (0.0,),
        _numbers(spec["std"], f"{where}: std") if "std" in spec else (1.0,),
        spec_path.name,
    )


def calibrated_ranges(info: Any) -> list[tuple[str, str, float, float]]:
    """(name, dtype, low, high): the float range each quantized model input covers — the range
    the calibration data spanned. A model trained on [-1, 1] whose input covers [0, 1] was
    calibrated with the wrong preprocessing."""
    ranges: list[tuple[str, str, float, float]] = []
    for index in info.inputs:
        tensor = info.tensors[index]
        if tensor.quant is None or not tensor.quant.scales or tensor.dtype not in ("int8", "uint8"):
            continue
        limits = np.iinfo(np.dtype(tensor.dtype))
        scale, zero = float(tensor.quant.scales[0]), int(tensor.quant.zero_points[0])
        ranges.append(
            (tensor.name, tensor.dtype, (limits.min - zero) * scale, (limits.max - zero) * scale)
        )
    return ranges


def short_name(name: str) -> str:
    """`serving_default_x:0` -> `x`: the name a user would key an .npz with."""
    if name.startswith("serving_default_"):
        name = name[len("serving_default_") :]
    if ":" in name:
        name = name.split(":", 1)[0]
    return name


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _fit(path: Path, spec: InputSpec, array: np.ndarray, what: str) -> np.ndarray:
    """Shape `array` to (count, *sample_shape) or raise the one-sentence error."""
    sample = spec.sample_shape
    size = int(np.prod(sample)) if sample else 1
    array = np.asarray(array)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TinyflashError(
            f"{path}: {what} for input '{spec.name}' has dtype {array.dtype}, expected numbers; "
            "save the calibration data as a numeric array.",
            EXIT_BAD_INPUT,
        )
    if array.ndim >= 1 and array.shape[1:] == sample:
        fitted = array
    elif array.shape == sample:  # one sample without a sample axis
        fitted = array[None, ...]
    elif (
        array.ndim >= 1
        and array.shape[0] > 0
        and int(np.prod(array.shape[1:])) == size
        and [d for d in array.shape[1:] if d != 1] == [d for d in sample if d != 1]
    ):
        # Same per-sample layout up to axes of length 1, e.g. (N, 8, 8) for a (1, 8, 8, 1) input.
        fitted = array.reshape((array.shape[0],) + sample)
    else:
        raise TinyflashError(
            f"{path}: {what} for input '{spec.name}' has shape {_shape_text(array.shape)}, expected "
            f"(samples, {', '.join(str(d) for d in sample)}) to match the model input shape "
            f"{_shape_text(spec.shape)}; reshape the data or pick the matching file.",
            EXIT_BAD_INPUT,
        )
    if fitted.shape[0] == 0:
        raise TinyflashError(
            f"{path}: the calibration set for input '{spec.name}' is empty; give at least one sample "
            "(100 to 500 representative samples is the usual advice).",
            EXIT_BAD_INPUT,
        )
    if fitted.dtype.kind == "f" and not np.all(np.isfinite(fitted)):
        bad = int(np.argwhere(~np.isfinite(fitted.reshape(fitted.shape[0], -1)))[0][0])
        raise TinyflashError(
            f"{path}: {what} for input '{spec.name}' contains NaN or Inf (first in sample {bad}); "
            "clean the calibration data.",
            EXIT_BAD_INPUT,
        )
    want = np.dtype(spec.dtype)
    if want.kind in "iu" and fitted.dtype.kind == "f":
        if not np.all(fitted == np.round(fitted)):
            raise TinyflashError(
                f"{path}: {what} for input '{spec.name}' holds fractional values but the input is "
                f"{spec.dtype}; give integer data.",
                EXIT_BAD_INPUT,
            )
    return np.ascontiguousarray(fitted.astype(want, copy=False))


def _load_npy(path: Path, inputs: list[InputSpec]) -> list[np.ndarray]:
    if len(inputs) != 1:
        names = ", ".join(f"'{s.name}'" for s in inputs)
        raise TinyflashError(
            f"{path}: a .npy file holds one array but the model has {len(inputs)} inputs ({names}); "
            "use an .npz with one array per input name.",
            EXIT_BAD_INPUT,
        )
    array = np.load(path, allow_pickle=False)
    return [_fit(path, inputs[0], array, "the array")]


def _load_npz(path: Path, inputs: list[InputSpec]) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        data = {key: archive[key] for key in archive.files}
    if not data:
        raise TinyflashError(
            f"{path}: the .npz holds no arrays; the calibration set is empty.", EXIT_BAD_INPUT
        )
    result: list[np.ndarray] = []
    for spec in inputs:
        candidates = [spec.name, short_name(spec.name)]
        key = next((k for k in candidates if k in data), None)
        if key is None and len(inputs) == 1:
            if len(data) == 1:
                key = next(iter(data))
            else:
                key = next((k for k in SINGLE_INPUT_KEYS if k in data), None)
        if key is None:
            raise TinyflashError(
                f"{path}: no array named '{short_name(spec.name)}' for model input '{spec.name}' "
                f"(the file has {', '.join(sorted(data))}); save one array per input name.",
                EXIT_BAD_INPUT,
            )
        result.append(_fit(path, spec, data[key], f"array '{key}'"))
    return result


def _load_csv(path: Path, inputs: list[InputSpec], pre: Preprocess) -> list[np.ndarray]:
    if len(inputs) != 1:
        raise TinyflashError(
            f"{path}: a .csv file feeds one input but the model has {len(inputs)} inputs; "
            "use an .npz with one array per input name.",
            EXIT_BAD_INPUT,
        )
    spec = inputs[0]
    size = int(np.prod(spec.sample_shape)) if spec.sample_shape else 1
    rows: list[list[float]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            cells = [c.strip() for c in row if c.strip() != ""]
            if not cells:
                continue
            try:
                values = [float(c) for c in cells]
            except ValueError:
                if number == 1 and not rows:
                    continue  # a header row
                raise TinyflashError(
                    f"{path}: line {number} has a value that is not a number; the CSV must hold "
                    "one flattened sample per row.",
                    EXIT_BAD_INPUT,
                ) from None
            if len(values) != size:
                raise TinyflashError(
                    f"{path}: line {number} has {len(values)} values but input '{spec.name}' of "
                    f"shape {_shape_text(spec.shape)} needs {size} per row; write one flattened "
                    "sample per row.",
                    EXIT_BAD_INPUT,
                )
            rows.append(values)
    array = np.asarray(rows, dtype=np.float64).reshape((len(rows),) + spec.sample_shape)
    if not pre.is_default:
        array = pre.apply(array, images=False)
    return [_fit(path, spec, array, "the rows")]


def _load_images(
    path: Path, inputs: list[InputSpec], limit: int, progress: Progress | None, pre: Preprocess
) -> list[np.ndarray]:
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[3] not in (1, 3):
        shapes = ", ".join(_shape_text(s.shape) for s in inputs)
        raise TinyflashError(
            f"{path}: a folder of images feeds one (1, H, W, 1 or 3) input but the model's inputs "
            f"are {shapes}; use an .npz instead.",
            EXIT_BAD_INPUT,
        )
    from PIL import Image, UnidentifiedImageError

    spec = inputs[0]
    _, height, width, channels = spec.shape
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise TinyflashError(
            f"{path}: the folder has no images ({', '.join(IMAGE_SUFFIXES)}); the calibration set "
            "is empty.",
            EXIT_BAD_INPUT,
        )
    files = files[:limit]
    samples = np.empty((len(files), height, width, channels), dtype=np.float32)
    for index, file in enumerate(files):
        try:
            with Image.open(file) as image:
                image = image.convert("L" if channels == 1 else "RGB")
                image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.float32)
        except (UnidentifiedImageError, OSError) as error:
            raise TinyflashError(
                f"{file}: cannot decode the image ({error}); remove it from the calibration folder.",
                EXIT_BAD_INPUT,
            ) from None
        samples[index] = pre.apply(pixels.reshape(height, width, channels), images=True)
        if progress is not None:
            progress(index + 1, len(files))
    return [_fit(path, spec, samples, "the images")]


def _check_magic(path: Path) -> None:
    """A .npy starts with \\x93NUMPY and an .npz is a zip archive; say so before numpy guesses."""
    suffix = path.suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(6)
    if suffix == ".npy" and head != b"\x93NUMPY":
        raise TinyflashError(
            f"{path}: not a NumPy .npy file (it does not start with the .npy "
            "magic bytes); save the data with numpy.save.",
            EXIT_BAD_INPUT,
        )
    if suffix == ".npz" and not zipfile.is_zipfile(path):
        raise TinyflashError(
            f"{path}: not a readable NumPy .npz archive (no complete zip "
            "directory: the file is truncated or in another format); save the "
            "data with numpy.savez.",
            EXIT_BAD_INPUT,
        )


def _unreadable(path: Path, error: BaseException) -> TinyflashError:
    text = str(error).splitlines()[0] if str(error) else "unreadable"
    return TinyflashError(
        f"{path}: cannot read the calibration data ({type(error).__name__}: {text}); check the "
        "file is a valid, uncorrupted array file.",
        EXIT_BAD_INPUT,
    )


def _require_exists(path: Path) -> None:
    if not path.exists():
        raise TinyflashError(
            f"{path}: calibration data not found; give an existing .npy, .npz, "
            ".csv file or a folder of images.",
            EXIT_BAD_INPUT,
        )


def _unknown_format(path: Path) -> TinyflashError:
    return TinyflashError(
        f"{path}: unknown calibration format '{path.suffix}'; use .npy, .npz, .csv or a "
        "folder of images.",
        EXIT_BAD_INPUT,
    )


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turns an error while reading `path` (not one of ours) into the user-facing sentence."""
    try:
        yield
    except TinyflashError:
        raise
    except READ_ERRORS as error:
        raise _unreadable(path, error) from None


def probe_calibration(path: Path | str) -> None:
    """Checks that need no model: the file exists, is readable, is not empty and holds only finite
    numbers. `convert` runs this before starting TensorFlow, so these errors come at once."""
    path = Path(path)
    _require_exists(path)
    if path.is_dir():
        if not any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*")):
            raise TinyflashError(
                f"{path}: the folder has no images ({', '.join(IMAGE_SUFFIXES)}); the calibration "
                "set is empty.",
                EXIT_BAD_INPUT,
            )
        return
    suffix = path.suffix.lower()
    arrays: dict[str, np.ndarray] = {}
    with _reading(path):
        if suffix in (".npy", ".npz"):
            _check_magic(path)
        if suffix == ".npy":
            arrays["the array"] = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                arrays = {f"array '{k}'": archive[k] for k in archive.files}
            if not arrays:
                raise TinyflashError(
                    f"{path}: the .npz holds no arrays; the calibration set is empty.",
                    EXIT_BAD_INPUT,
                )
        elif suffix == ".csv":
            return  # parsed row by row with line numbers once the input shape is known
        else:
            raise _unknown_format(path)
    for what, array in arrays.items():
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise TinyflashError(
                f"{path}: {what} has dtype {array.dtype}, expected numbers; save "
                "the calibration data as a numeric array.",
                EXIT_BAD_INPUT,
            )
        if array.size == 0:
            raise TinyflashError(
                f"{path}: {what} is empty (shape {_shape_text(array.shape)}); give at least one "
                "sample (100 to 500 representative samples is the usual advice).",
                EXIT_BAD_INPUT,
            )
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise TinyflashError(
                f"{path}: {what} contains NaN or Inf; clean the calibration data.", EXIT_BAD_INPUT
            )


def load_calibration(
    path: Path | str,
    inputs: Sequence[InputSpec],
    samples: int = DEFAULT_SAMPLES,
    progress: Progress | None = None,
    preprocess: Preprocess | None = None,
) -> CalibrationSet:
    """Load `path` and check it against `inputs`; keep at most `samples` samples (the first ones).

    Formats: .npy (one input), .npz (arrays keyed by input name, its short form without
    `serving_default_`/`:0`, or the only array / an `x` array for a one-input model), .csv (one
    flattened sample per row, optional header), a folder of images (decoded with Pillow, resized to
    H x W, grayscale or RGB by the channel count). Image pixels and CSV values go through
    `preprocess` (default: the JSON next to the data, else pixels scaled to [0, 1], CSV as is)."""
    path = Path(path)
    inputs = list(inputs)
    if samples < 1:
        raise TinyflashError(
            f"{option('samples')} must be at least 1 (got {samples}).", EXIT_BAD_INPUT
        )
    _require_exists(path)
    pre = resolve_preprocess(path, preprocess)
    with _reading(path):
        if path.suffix.lower() in (".npy", ".npz") and path.is_file():
            _check_magic(path)
        if path.is_dir():
            arrays = _load_images(path, inputs, samples, progress, pre)
        elif path.suffix.lower() == ".npy":
            arrays = _load_npy(path, inputs)
        elif path.suffix.lower() == ".npz":
            arrays = _load_npz(path, inputs)
        elif path.suffix.lower() == ".csv":
            arrays = _load_csv(path, inputs, pre)
        else:
            raise _unknown_format(path)
    counts = {a.shape[0] for a in arrays}
    if len(counts) != 1:
        detail = ", ".join(f"'{s.name}': {a.shape[0]}" for s, a in zip(inputs, arrays))
        raise TinyflashError(
            f"{path}: the inputs have different sample counts ({detail}); give "
            "every input the same number of samples.",
            EXIT_BAD_INPUT,
        )
    arrays = [a[:samples] for a in arrays]
    if progress is not None and not path.is_dir():
        progress(arrays[0].shape[0], arrays[0].shape[0])
    return CalibrationSet(source=path, inputs=inputs, arrays=arrays, preprocess=pre)


def load_labels(path: Path | str, count: int | None = None) -> np.ndarray:
    """Integer class labels from .npy, .npz (`y`, `labels`, `label` or the only array) or .csv;
    one-hot rows are turned into class indices."""
    path = Path(path)
    if not path.is_file():
        raise TinyflashError(
            f"{path}: labels file not found; give a .npy, .npz or .csv of class indices.",
            EXIT_BAD_INPUT,
        )
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                key = next((k for k in ("y", "labels", "label") if k in archive.files), None)
                if key is None and len(archive.files) == 1:
                    key = archive.files[0]
                if key is None:
                    raise TinyflashError(
                        f"{path}: no labels array (named y, labels or label) among "
                        f"{', '.join(archive.files)}; save the labels as 'y'.",
                        EXIT_BAD_INPUT,
                    )
                labels = archive[key]
        elif path.suffix.lower() == ".npy":
            labels = np.load(path, allow_pickle=False)
        elif path.suffix.lower() == ".csv":
            labels = np.loadtxt(path, delimiter=",", ndmin=1)
        else:
            raise TinyflashError(
                f"{path}: unknown labels format '{path.suffix}'; use .npy, .npz or .csv.",
                EXIT_BAD_INPUT,
            )
    except TinyflashError:
        raise
    except READ_ERRORS as error:
        raise TinyflashError(
            f"{path}: cannot read the labels ({type(error).__name__}); check the file.",
            EXIT_BAD_INPUT,
        ) from None
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    labels = labels.reshape(-1)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise TinyflashError(f"{path}: labels must be whole class indices.", EXIT_BAD_INPUT)
    if count is not None and labels.shape[0] < count:
        raise TinyflashError(
            f"{path}: {labels.shape[0]} labels for {count} samples; give one label per sample.",
            EXIT_BAD_INPUT,
        )
    labels = labels.astype(np.int64)
    return labels[:count] if count is not None else labels


def npz_labels(path: Path | str) -> np.ndarray | None:
    """Labels stored beside the inputs in an .npz (`y`, `labels` or `label`), else None."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in ("y", "labels", "label"):
                if key in archive.files:
                    return load_labels(path)
    except READ_ERRORS:
        return None
    return None

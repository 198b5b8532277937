"""What can be known about a float model without TensorFlow, read in well under a second: the
Keras 3 config inside a `.keras` zip, the `model_config` attribute of an `.h5` file (h5py), the
signatures of a SavedModel (its `saved_model.pb`, parsed from the protobuf wire format here) and
the top level of a `file.py` (ast). TensorFlow takes 15-20 s to start; the errors found here (a
custom layer class, a dynamic dimension, a missing or ambiguous signature, a tf.function without
input_signature, a weights-only .h5) and the calibration data's shape come before it.

`model_inputs` returns the model's inputs (batch pinned to 1) when they are known this way, else
None; the child process that loads the model with TensorFlow checks everything again.
"""

from __future__ import annotations

import ast
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinyflash.calibration import InputSpec
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option

# Packages whose classes Keras 3 imports by itself when it loads a file.
KERAS_PACKAGES = ("keras", "keras_hub", "keras_cv", "keras_nlp", "tf_keras")
# tensorflow-model-optimization (a tinyflash dependency): its quantization-aware training layers
# (QuantizeLayer, QuantizeWrapperV2, ...) are loaded inside its quantize_scope (floatmodel.py).
TFMOT_PACKAGE = "tensorflow_model_optimization"
TFMOT_QAT_CLASSES = frozenset(
    {"QuantizeLayer", "QuantizeWrapper", "QuantizeWrapperV2", "QuantizeAnnotate"}
)
# TensorFlow ops that carry quantization ranges learnt in training (the converter's own list).
TRAINING_QUANT_OPS = (
    "FakeQuantWithMinMaxVars",
    "FakeQuantWithMinMaxVarsPerChannel",
    "FakeQuantWithMinMaxArgs",
    "QuantizeAndDequantizeV2",
    "QuantizeAndDequantizeV3",
)
# Words in a file.py that may build or load a quantization-aware model (loading a saved model
# counts: the file may load a QAT .h5); without any, a missing --data is refused before TensorFlow.
QAT_SOURCE_WORDS = (
    "tensorflow_model_optimization",
    "tfmot",
    "fake_quant",
    "quantize",
    "qat",
    "load_model",
    "saved_model",
)
# SavedModel signature keys that are not user functions.
INTERNAL_SIGNATURES = ("__saved_model_init_op",)
# TensorFlow's DataType enum values (types.proto) for the dtypes an input may have.
TF_DTYPES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
             9: "int64", 10: "bool", 17: "uint16", 19: "float16"}  # fmt: skip


def model_inputs(spec: Any) -> list[InputSpec] | None:
    """The inputs of the model `spec` (a floatmodel.ModelSpec) read without TensorFlow, or None
    when they cannot be; raises the one-sentence error for what is surely wrong."""
    if spec.kind == "keras":
        return _keras_inputs(spec.path, keras_config(spec.path))
    if spec.kind == "h5":
        return _h5_inputs(spec.path)
    if spec.kind == "saved_model":
        return _saved_model_inputs(spec.path, spec.signature)
    if spec.kind == "python":
        _python_check(spec.path, str(spec.attr))
    return None


def quantization_aware(spec: Any) -> bool | None:
    """Whether the model carries quantization ranges from quantization-aware training (tfmot's
    layers in a Keras config, fake-quant ops in a SavedModel graph): True or False when the file
    tells, None when only loading it can (a file.py that mentions quantization)."""
    if spec.kind in ("keras", "h5"):
        config = keras_config(spec.path) if spec.kind == "keras" else h5_config(spec.path)
        return config is not None and uses_tfmot(config)
    if spec.kind == "saved_model":
        try:
            graph = (spec.path / "saved_model.pb").read_bytes()
        except OSError:
            return None
        return any(op.encode() in graph for op in TRAINING_QUANT_OPS)
    if spec.kind == "python":
        try:
            text = spec.path.read_text(encoding="utf-8", errors="replace").lower()
        except OSError:
            return None
        return None if any(word in text for word in QAT_SOURCE_WORDS) else False
    return None


def uses_tfmot(config: dict) -> bool:
    """A Keras config with tensorflow-model-optimization's quantization layers."""
    for node in _walk(config):
        module = node.get("module")
        if isinstance(module, str) and module.split(".", 1)[0] == TFMOT_PACKAGE:
            return True
        if node.get("class_name") in TFMOT_QAT_CLASSES:
            return True
    return False


# ---- Keras configs (.keras and .h5) --------------------------------------------------------


def keras_config(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise TinyflashError(
            f"{path}: not a complete Keras 3 .keras archive ({type(error).__name__}: no readable "
            "config.json); the file is truncated or not a .keras file — save the model again "
            "with model.save('model.keras').",
            EXIT_BAD_INPUT,
        ) from None


def _walk(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def custom_classes(config: dict) -> list[tuple[str, str, str, bool]]:
    """(class or function name, module, name of the layer that uses it, whether it is that
    layer's own class) of every object in a Keras 3 config that Keras cannot import by itself."""
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
    owners = [
        (str((layer.get("config") or {}).get("name", "?")), layer)
        for layer in (layers if isinstance(layers, list) else [config])
        if isinstance(layer, dict)
    ]
    found: list[tuple[str, str, str, bool]] = []
    for owner, layer in owners:
        for node in _walk(layer):
            module = node.get("module")
            if not isinstance(module, str) or "class_name" not in node:
                continue
            if module.split(".", 1)[0] in (*KERAS_PACKAGES, TFMOT_PACKAGE):
                continue
            name = str(node["class_name"])
            if name == "function" and isinstance(node.get("config"), str):
                name = str(node["config"])  # a custom activation or loss function
            entry = (name, module, owner, node is layer)
            if entry not in found:
                found.append(entry)
    return found


def _custom_layer_error(path: Path, found: list[tuple[str, str, str, bool]]) -> TinyflashError:
    cls, module, name, own = found[0]
    what = "is the custom class" if own else "uses the custom object"
    more = f" (and {len(found) - 1} more custom object(s))" if len(found) > 1 else ""
    return TinyflashError(
        f"{path}: layer '{name}' {what} {cls} (defined in module {module}){more}, "
        "which Keras cannot rebuild from the file alone; convert through Python instead — a "
        f"file that defines or imports {cls} and loads the model, e.g. model.py with `model = "
        f"keras.models.load_model('{path.name}', custom_objects={{'{cls}': {cls}}})`, then "
        "`tinyflash convert model.py:model ...`.",
        EXIT_BAD_INPUT,
    )


def _pinned(where: Path, name: str, shape: Any) -> tuple[int, ...] | None:
    if not isinstance(shape, list):
        return None
    dims = [None if d is None else int(d) for d in shape]
    if dims and dims[0] is None:
        dims[0] = 1
    if any(d is None for d in dims):
        raise TinyflashError(
            f"{where}: input '{name}' has shape {tuple(dims)} with an unknown dimension besides "
            "the batch; give it a fixed shape (microcontroller runtimes need static shapes).",
            EXIT_BAD_INPUT,
        )
    return tuple(int(d) for d in dims if d is not None)


def _dtype_name(dtype: Any) -> str:
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", "float32")
    return dtype if isinstance(dtype, str) and dtype in TF_DTYPES.values() else "float32"


def _keras_inputs(path: Path, config: dict) -> list[InputSpec] | None:
    found = custom_classes(config)
    if found:
        raise _custom_layer_error(path, found)
    inner = config.get("config")
    body: dict = inner if isinstance(inner, dict) else {}
    listed = body.get("layers")
    layers: list = listed if isinstance(listed, list) else []
    input_layers = [
        layer
        for layer in layers
        if isinstance(layer, dict) and layer.get("class_name") == "InputLayer"
    ]
    if not input_layers:
        return None
    order = body.get("input_layers")
    if isinstance(order, list) and order and isinstance(order[0], str):
        order = [order]  # a single input is saved as one [name, 0, 0] triple
    names = [str(entry[0]) for entry in order] if isinstance(order, list) else []
    by_name = {str((layer.get("config") or {}).get("name")): layer for layer in input_layers}
    chosen = [by_name[n] for n in names if n in by_name] or input_layers[:1]
    specs: list[InputSpec] = []
    for layer in chosen:
        cfg = layer.get("config") or {}
        name = str(cfg.get("name", f"input_{len(specs)}"))
        shape = _pinned(path, name, cfg.get("batch_shape", cfg.get("batch_input_shape")))
        if shape is None:
            return None
        specs.append(InputSpec(name, shape, _dtype_name(cfg.get("dtype"))))
    return specs


def _h5_inputs(path: Path) -> list[InputSpec] | None:
    config = h5_config(path)
    return _keras_inputs(path, config) if config is not None else None


def h5_config(path: Path) -> dict | None:
    """The Keras config stored in an .h5 model (None when it cannot be read as JSON)."""
    try:
        import h5py  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:  # pragma: no cover - installed with TensorFlow
        return None
    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
            weights_only = raw is None and ("model_weights" not in handle)
    except OSError as error:
        raise TinyflashError(
            f"{path}: not a readable HDF5 file ({str(error).splitlines()[0]}); the file is "
            "truncated or not a Keras .h5 model — save the model again with model.save.",
            EXIT_BAD_INPUT,
        ) from None
    if raw is None:
        what = "only weights (model.save_weights)" if weights_only else "no model_config"
        raise TinyflashError(
            f"{path}: the .h5 file holds {what}, not a model; save the whole model with "
            "model.save('model.h5') or model.save('model.keras').",
            EXIT_BAD_INPUT,
        )
    try:
        config = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        return None
    return config if isinstance(config, dict) else None


# ---- SavedModel signatures (protobuf wire format) ------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of one protobuf message: ints for varints, bytes for the
    length-delimited fields; fixed-width fields are skipped."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            yield number, data[pos : pos + size]
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire}")


def _message(data: bytes, number: int) -> list[bytes]:
    return [v for n, v in _fields(data) if n == number and isinstance(v, bytes)]


def _map(data: bytes, number: int) -> dict[str, bytes]:
    result: dict[str, bytes] = {}
    for entry in _message(data, number):
        key = b"".join(_message(entry, 1)).decode("utf-8", "replace")
        result[key] = b"".join(_message(entry, 2))
    return result


def _tensor_info(data: bytes) -> tuple[str, list[int | None] | None]:
    dtype = next((int(v) for n, v in _fields(data) if n == 2 and isinstance(v, int)), 1)
    shapes = _message(data, 3)
    if not shapes:
        return TF_DTYPES.get(dtype, "float32"), None
    shape = shapes[0]
    if any(n == 3 and v for n, v in _fields(shape)):
        return TF_DTYPES.get(dtype, "float32"), None  # unknown rank
    dims: list[int | None] = []
    for dim in _message(shape, 2):
        size = next((int(v) for n, v in _fields(dim) if n == 1 and isinstance(v, int)), 0)
        size = size - (1 << 64) if size >= 1 << 63 else size  # int64: -1 means unknown
        dims.append(None if size < 0 else size)
    return TF_DTYPES.get(dtype, "float32"), dims


def saved_model_signatures(path: Path) -> dict[str, dict[str, tuple[str, list[int | None] | None]]]:
    """signature key -> input name -> (dtype, dims) from DIR/saved_model.pb (no TensorFlow)."""
    data = (path / "saved_model.pb").read_bytes()
    graphs = _message(data, 2)  # SavedModel.meta_graphs
    if not graphs:
        return {}
    result: dict[str, dict[str, tuple[str, list[int | None] | None]]] = {}
    for key, signature in _map(graphs[0], 5).items():  # MetaGraphDef.signature_def
        if key in INTERNAL_SIGNATURES:
            continue
        result[key] = {n: _tensor_info(t) for n, t in _map(signature, 1).items()}
    return result


def choose_signature(where: str, keys: list[str], key: str | None) -> str:
    """The signature to convert: `key` when given, else the only one, else serving_default."""
    if key is None:
        if len(keys) == 1:
            return keys[0]
        if "serving_default" in keys:
            return "serving_default"
        raise TinyflashError(
            f"{where}: the SavedModel has {len(keys)} signatures ({', '.join(keys)}); pick "
            f"one with {option('signature')} KEY.",
            EXIT_BAD_INPUT,
        )
    if key not in keys:
        raise TinyflashError(
            f"{where}: no signature '{key}' (it has {', '.join(keys)}); pick one of those with "
            f"{option('signature')}.",
            EXIT_BAD_INPUT,
        )
    return key


def _saved_model_inputs(path: Path, key: str | None) -> list[InputSpec] | None:
    if not (path / "saved_model.pb").is_file():
        return None
    try:
        signatures = saved_model_signatures(path)
    except (ValueError, OSError):
        return None  # TensorFlow reports what is wrong with the file
    if (path / "keras_metadata.pb").is_file() and key in (None, "", "serving_default"):
        return None  # a tf-keras SavedModel may be loaded as a Keras model (floatmodel.py)
    keys = sorted(signatures)
    if not keys:
        raise TinyflashError(
            f"{path}: the SavedModel has no signatures; export it with "
            "signatures={'serving_default': fn}.",
            EXIT_BAD_INPUT,
        )
    key = choose_signature(str(path), keys, key)
    specs: list[InputSpec] = []
    for name in sorted(signatures[key]):
        dtype, dims = signatures[key][name]
        shape = _pinned(Path(f"{path} signature '{key}'"), name, dims)
        if shape is None:
            return None
        specs.append(InputSpec(name, shape, dtype))
    return specs


# ---- file.py:name --------------------------------------------------------------------------


def _is_tf_function(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Attribute) and target.attr == "function") or (
        isinstance(target, ast.Name) and target.id == "function"
    )


def _python_check(path: Path, attr: str) -> None:
    """A tf.function without input_signature, or a name the file does not define, found by
    reading the file's top level (nothing is imported or run)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as error:
        raise TinyflashError(
            f"{path}: importing the file failed (SyntaxError: {error.msg}, line {error.lineno}); "
            "fix the file.",
            EXIT_BAD_INPUT,
        ) from None
    except (OSError, UnicodeDecodeError):
        return
    defined: set[str] = set()
    star = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
            if node.name == attr and not isinstance(node, ast.ClassDef):
                for decorator in node.decorator_list:
                    keywords = decorator.keywords if isinstance(decorator, ast.Call) else []
                    if _is_tf_function(decorator) and not any(
                        k.arg == "input_signature" for k in keywords
                    ):
                        raise TinyflashError(
                            f"{path}:{attr}: the tf.function has no input_signature; declare "
                            "@tf.function(input_signature=[tf.TensorSpec([1, ...], "
                            "tf.float32)]).",
                            EXIT_BAD_INPUT,
                        )
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                star = star or alias.name == "*"
                defined.add((alias.asname or alias.name).split(".")[0])
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    defined.add(sub.id)
    if (
        not star
        and attr not in defined
        and not any(isinstance(n, ast.Name) and n.id == "globals" for n in ast.walk(tree))
    ):
        raise TinyflashError(
            f"{path}: defines no '{attr}'; name a tf.function or Keras model defined at the "
            "file's top level.",
            EXIT_BAD_INPUT,
        )

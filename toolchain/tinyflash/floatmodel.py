"""The float model (SavedModel directory, .keras, .h5 or `file.py:name`) loaded as one batch-1
concrete function: what the converter's child process converts and what the float reference
(reference.FloatReference, used by verify and evaluate) runs. Parsing the model specification
needs no TensorFlow; loading imports it in this process, its log noise silenced.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash.calibration import InputSpec
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
from tinyflash.preflight import TFMOT_PACKAGE as TFMOT
from tinyflash.preflight import (
    TRAINING_QUANT_OPS,
    choose_signature,
    h5_config,
    keras_config,
    quantization_aware,
    uses_tfmot,
)
from tinyflash.records import field_dict

RECURRENT_LAYERS = (
    "LSTM",
    "GRU",
    "SimpleRNN",
    "RNN",
    "Bidirectional",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
)

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_CPP_MAX_VLOG_LEVEL": "-1",
    "GRPC_VERBOSITY": "ERROR",
    "ABSL_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
    "CUDA_VISIBLE_DEVICES": "-1",
}


# ---- model specification (no TensorFlow) ---------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """Where the float model is: kind is saved_model, keras, h5 or python (`file.py:name`)."""

    kind: str
    path: Path
    attr: str | None = None
    signature: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path}:{self.attr}" if self.attr else str(self.path)

    def to_json(self) -> dict:
        return field_dict(self)

    @staticmethod
    def from_json(data: dict) -> ModelSpec:
        return ModelSpec(data["kind"], Path(data["path"]), data.get("attr"), data.get("signature"))


def parse_model_spec(model: str | Path, signature: str | None = None) -> ModelSpec:
    """Classify MODEL; raise the one-sentence error when it cannot be a model."""
    text = str(model)
    attr: str | None = None
    path = Path(text)
    if ".py:" in text and not path.exists():
        file_part, attr = text.rsplit(":", 1)
        path = Path(file_part)
        if not attr.isidentifier():
            raise TinyflashError(
                f"{text}: '{attr}' is not a Python name; write path/to/file.py:name.",
                EXIT_BAD_INPUT,
            )
    if not path.exists():
        raise TinyflashError(
            f"{path}: model not found; give a SavedModel directory, a .keras or "
            ".h5 file, or path/to/file.py:name.",
            EXIT_BAD_INPUT,
        )
    if attr is not None:
        if path.suffix != ".py" or not path.is_file():
            raise TinyflashError(
                f"{path}: expected a Python file for the form file.py:name.", EXIT_BAD_INPUT
            )
        return ModelSpec("python", path, attr, signature)
    if path.is_dir():
        if not (path / "saved_model.pb").is_file() and not (path / "saved_model.pbtxt").is_file():
            raise TinyflashError(
                f"{path}: the directory has no saved_model.pb, so it is not a "
                "SavedModel; export one with tf.saved_model.save or model.export.",
                EXIT_BAD_INPUT,
            )
        return ModelSpec("saved_model", path, None, signature)
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return ModelSpec("keras", path, None, signature)
    if suffix in (".h5", ".hdf5"):
        return ModelSpec("h5", path, None, signature)
    if suffix == ".py":
        raise TinyflashError(f"{path}: name the model object too, as {path}:name.", EXIT_BAD_INPUT)
    if suffix == ".tflite":
        raise TinyflashError(
            f"{path}: this is already a .tflite; convert takes the float model "
            "(SavedModel, .keras, .h5 or file.py:name) — run `tinyflash check` on "
            "a .tflite (or add --weight-bits K to cluster its weights).",
            EXIT_BAD_INPUT,
        )
    raise TinyflashError(
        f"{path}: unknown model format '{path.suffix}'; give a SavedModel "
        "directory, a .keras or .h5 file, or path/to/file.py:name.",
        EXIT_BAD_INPUT,
    )


def source_bytes(path: Path) -> int:
    """Bytes on disk of the float model (a directory counts every file under it)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# ---- loading the float model (imports TensorFlow; used by the child and by reference.py) -----


@contextlib.contextmanager
def quiet_fds(enabled: bool = True) -> Iterator[None]:
    """Send fd 1 and 2 to /dev/null while TensorFlow's C++ side talks (import, interpreters)."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def import_tensorflow(quiet: bool = True) -> Any:
    """Import TensorFlow with its log noise silenced (unless quiet is False)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    for key, value in QUIET_ENV.items():
        if quiet or key in ("KERAS_BACKEND", "CUDA_VISIBLE_DEVICES"):
            os.environ.setdefault(key, value)
    import warnings

    with quiet_fds(quiet), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf  # noqa: PLC0415
    if quiet:
        try:
            import absl.logging  # noqa: PLC0415

            absl.logging.set_verbosity(absl.logging.ERROR)
        except ImportError:  # pragma: no cover - absl ships with TensorFlow
            pass
        tf.get_logger().setLevel("ERROR")
    return tf


@dataclass
class LoadedModel:
    """The float model as one concrete function with batch 1, plus what the summary needs."""

    spec: ModelSpec
    function: Any  # a tf ConcreteFunction taking the inputs positionally
    trackable: Any
    inputs: list[InputSpec]
    output_names: list[str]
    float_weight_bytes: int
    layer_types: list[str] = field(default_factory=list)
    rolled: list[str] = field(default_factory=list)  # recurrent layers that are not unrolled
    stateful: bool = False  # the function assigns a variable: state kept between invokes
    fake_quant: bool = False  # the graph has training-time quantization ops (QAT ranges)

    @property
    def has_recurrent(self) -> bool:
        return any(t in RECURRENT_LAYERS for t in self.layer_types)

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        import tensorflow as tf  # noqa: PLC0415

        tensors = [tf.constant(a, dtype=tf.as_dtype(s.dtype)) for a, s in zip(arrays, self.inputs)]
        result = self.function(*tensors)
        flat = tf.nest.flatten(result)
        return [np.asarray(t.numpy()) for t in flat]


def _pin_shape(shape: Any, where: str, name: str) -> tuple[int, ...]:
    dims = list(shape) if shape is not None else None
    if dims is None:
        raise TinyflashError(
            f"{where}: input '{name}' has an unknown rank; give it a fixed shape "
            "(e.g. keras.Input(shape=(...)) or an input_signature).",
            EXIT_BAD_INPUT,
        )
    dims = [None if d is None else int(d) for d in dims]
    if dims and dims[0] is None:
        dims[0] = 1
    if not dims:
        return ()
    if any(d is None for d in dims):
        raise TinyflashError(
            f"{where}: input '{name}' has shape {tuple(dims)} with an unknown dimension besides the "
            "batch; give it a fixed shape (microcontroller runtimes need static shapes).",
            EXIT_BAD_INPUT,
        )
    return tuple(dims)


def _layer_types(model: Any) -> list[str]:
    types: list[str] = []
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        types.append(type(layer).__name__)
        inner = getattr(layer, "layer", None) or getattr(layer, "forward_layer", None)
        if inner is not None:
            stack.append(inner)
        stack.extend(getattr(layer, "layers", []) or [])
    return types


def rolled_recurrent_layers(model: Any) -> list[str]:
    """Names of recurrent layers (LSTM, GRU, RNN...) that are not unrolled."""
    found: list[str] = []
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
        if type(layer).__name__ in RECURRENT_LAYERS and getattr(layer, "unroll", None) is False:
            stateful = ", stateful" if getattr(layer, "stateful", False) else ""
            found.append(f"'{layer.name}' ({type(layer).__name__}{stateful})")
        elif inner is not None:
            stack.append(inner)
        stack.extend(getattr(layer, "layers", []) or [])
    return found


ASSIGN_OPS = frozenset({"AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp"})


def graph_ops(function: Any) -> set[str]:
    """The op types of a concrete function's graph and of every function in its library (read
    from the graph, no tracing)."""
    graph_def = function.graph.as_graph_def()
    ops = {node.op for node in graph_def.node}
    ops.update(node.op for fn in graph_def.library.function for node in fn.node_def)
    return ops


def assigns_variables(function: Any) -> bool:
    """Whether the concrete function (or a function it calls) assigns a variable, i.e. keeps
    state from one call to the next (a tf.Variable assigned in the call, a Keras RNN with
    stateful=True)."""
    return not ASSIGN_OPS.isdisjoint(graph_ops(function))


def has_fake_quant(function: Any) -> bool:
    """Whether the concrete function carries quantization ranges learnt in training (fake-quant
    ops, as tfmot's quantization-aware training inserts them)."""
    return not graph_ops(function).isdisjoint(TRAINING_QUANT_OPS)


@contextlib.contextmanager
def tfmot_scope(where: str) -> Iterator[None]:
    """tensorflow-model-optimization's quantize_scope: its QAT layers (QuantizeLayer,
    QuantizeWrapperV2, quantizers) deserialise inside it. Importing tfmot sets
    TF_USE_LEGACY_KERAS for the rest of the process; the setting is put back."""
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        import tensorflow as tf  # noqa: PLC0415

        # tfmot sets TF_USE_LEGACY_KERAS and then looks at tf.keras, which binds tf.keras to
        # tf-keras for the rest of the process (Keras 3 layers then fail in the same process).
        # Resolved first, tf.keras stays Keras 3 and tfmot takes tf-keras by name.
        getattr(tf.keras, "version", None)
        import tensorflow_model_optimization as tfmot  # noqa: PLC0415
    except ImportError as error:
        raise TinyflashError(
            f"{where}: the model uses tensorflow-model-optimization's quantization-aware "
            f"training layers, but that package cannot be imported ({_first_line(error)}); "
            "install tinyflash with its dependencies (make setup) and run again.",
            EXIT_BAD_INPUT,
        ) from None
    finally:
        if before is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = before
    with tfmot.quantization.keras.quantize_scope():
        yield


def _is_tf_keras_model(obj: Any) -> bool:
    module = sys.modules.get("tf_keras")
    return module is not None and isinstance(obj, module.Model)


# Keys of Keras 3 layer configs that tf-keras layers do not take or that the copied weights
# make irrelevant (initializers, regularizers, constraints).
_DROPPED_CONFIG = ("initializer", "regularizer", "constraint")


def _tf_keras_layer(layer: Any, tf_keras: Any) -> Any:
    """The tf-keras layer of the same class and configuration as a Keras 3 layer."""
    import inspect  # noqa: PLC0415

    cls = getattr(tf_keras.layers, type(layer).__name__, None)
    if cls is None:
        raise TinyflashError(
            f"layer '{layer.name}' ({type(layer).__name__}) has no tf-keras equivalent",
            EXIT_BAD_INPUT,
        )
    config = dict(layer.get_config())
    if type(layer).__name__ == "Bidirectional":
        inner = _tf_keras_layer(layer.forward_layer, tf_keras)
        backward = _tf_keras_layer(layer.backward_layer, tf_keras)
        return cls(
            inner,
            backward_layer=backward,
            merge_mode=config.get("merge_mode", "concat"),
            name=layer.name,
        )
    accepted = set(inspect.signature(cls.__init__).parameters) | {"name", "trainable"}
    kwargs = {
        k: v
        for k, v in config.items()
        if k in accepted and not any(k.endswith(d) for d in _DROPPED_CONFIG)
    }
    return cls(**kwargs)


def _rebuild_in_tf_keras(model: Any, where: str) -> Any:
    """A tf-keras copy (batch 1, same weights) of a Keras 3 model whose layers form one chain, so
    the converter can fuse its recurrent layers."""
    import tf_keras  # noqa: PLC0415

    inputs = list(getattr(model, "inputs", None) or [])
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    chain = len(inputs) == 1 and (
        type(model).__name__ == "Sequential"
        or all(len(getattr(layer, "_inbound_nodes", [])) == 1 for layer in layers)
    )
    if not chain or len(getattr(model, "outputs", None) or []) != 1:
        raise TinyflashError(
            f"{where}: has a Keras 3 LSTM/GRU that is not unrolled in a model "
            "with branches; build the model with tf-keras (import tf_keras as "
            "keras) or with unroll=True, then convert again.",
            EXIT_BAD_INPUT,
        )
    shape = tuple(inputs[0].shape)
    try:
        copy = tf_keras.Sequential(
            [tf_keras.Input(shape[1:], batch_size=1)]
            + [_tf_keras_layer(layer, tf_keras) for layer in layers]
        )
        for source, target in zip(layers, copy.layers):
            target.set_weights(source.get_weights())
    except TinyflashError as error:
        raise TinyflashError(
            f"{where}: cannot rebuild the model in tf-keras for the fused LSTM "
            f"({error.message}); build it with tf-keras or with unroll=True.",
            EXIT_BAD_INPUT,
        ) from None
    except (ValueError, TypeError) as error:
        raise TinyflashError(
            f"{where}: cannot rebuild the model in tf-keras for the fused LSTM "
            f"({_first_line(error)}); build it with tf-keras or with "
            "unroll=True.",
            EXIT_BAD_INPUT,
        ) from None
    return copy


def _is_keras_model(obj: Any) -> bool:
    for module_name in ("keras", "tf_keras"):
        module = sys.modules.get(module_name)
        if module is not None and isinstance(obj, module.Model):
            return True
    return False


def _from_keras(spec: ModelSpec, model: Any, tf: Any) -> LoadedModel:
    where = spec.label
    if rolled_recurrent_layers(model) and not _is_tf_keras_model(model):
        model = _rebuild_in_tf_keras(model, where)
    keras_inputs = list(getattr(model, "inputs", None) or [])
    if not keras_inputs:
        raise TinyflashError(
            f"{where}: the Keras model has no defined inputs; build it with "
            "keras.Input(shape=...) (or call it once) and save it again.",
            EXIT_BAD_INPUT,
        )
    inputs: list[InputSpec] = []
    for index, tensor in enumerate(keras_inputs):
        name = str(getattr(tensor, "name", None) or f"input_{index}").split(":")[0]
        dtype = tf.as_dtype(getattr(tensor, "dtype", "float32")).name
        inputs.append(InputSpec(name, _pin_shape(tensor.shape, where, name), dtype))
    signature = [
        tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=_tf_name(s.name, i))
        for i, s in enumerate(inputs)
    ]
    single = len(inputs) == 1

    @tf.function(input_signature=signature)
    def serve(*args: Any) -> Any:
        return model(args[0] if single else list(args), training=False)

    function = serve.get_concrete_function()
    outputs = [
        str(getattr(t, "name", f"output_{i}")).split(":")[0]
        for i, t in enumerate(getattr(model, "outputs", None) or [])
    ]
    weights = sum(int(np.prod(w.shape)) * 4 for w in model.weights)
    return LoadedModel(
        spec,
        function,
        _holder(tf, model, serve),
        inputs,
        outputs,
        weights,
        _layer_types(model),
        rolled_recurrent_layers(model),
    )


def _holder(tf: Any, obj: Any, serve: Any) -> Any:
    """A tf.Module that owns the model and the batch-1 function, so the converter can save and
    freeze them together."""
    holder = tf.Module()
    holder.model = obj
    holder.serve = serve
    return holder


def _tf_name(name: str, index: int) -> str:
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return clean if clean and not clean[0].isdigit() else f"input_{index}"


def _from_function(spec: ModelSpec, fn: Any, tf: Any, owner: Any = None) -> LoadedModel:
    """`owner`: the tf.Module whose __call__ `fn` is (it tracks the variables the call uses)."""
    where = spec.label
    input_signature = getattr(fn, "input_signature", None)
    if input_signature is None:
        raise TinyflashError(
            f"{where}: the tf.function has no input_signature; declare "
            "@tf.function(input_signature=[tf.TensorSpec([1, ...], tf.float32)]).",
            EXIT_BAD_INPUT,
        )
    flat = tf.nest.flatten(input_signature)
    if len(flat) != len(input_signature):
        raise TinyflashError(
            f"{where}: nested input_signature entries are not supported; use one "
            "TensorSpec per argument.",
            EXIT_BAD_INPUT,
        )
    import inspect  # noqa: PLC0415

    try:
        arg_names = list(inspect.signature(fn.python_function).parameters)
    except (AttributeError, TypeError, ValueError):
        arg_names = []
    inputs: list[InputSpec] = []
    for index, tspec in enumerate(flat):
        name = tspec.name or (arg_names[index] if index < len(arg_names) else f"input_{index}")
        inputs.append(InputSpec(name, _pin_shape(tspec.shape, where, name), tspec.dtype.name))
    pinned = [
        tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=_tf_name(s.name, i))
        for i, s in enumerate(inputs)
    ]

    @tf.function(input_signature=pinned)
    def serve(*args: Any) -> Any:
        return fn(*args)

    function = serve.get_concrete_function()
    variables = list(getattr(function, "variables", []) or [])
    weights = sum(int(np.prod(v.shape)) * 4 for v in variables)
    holder = _holder(tf, fn if owner is None else owner, serve)
    return LoadedModel(spec, function, holder, inputs, [], weights, [])


def _from_saved_model(spec: ModelSpec, tf: Any) -> LoadedModel:
    where = str(spec.path)
    try:
        loaded = tf.saved_model.load(str(spec.path))
    except Exception as error:  # noqa: BLE001 - TF raises many kinds here
        raise TinyflashError(
            f"{where}: TensorFlow cannot load this SavedModel "
            f"({_first_line(error)}); re-export it with tf.saved_model.save.",
            EXIT_BAD_INPUT,
        ) from None
    keys = sorted(loaded.signatures.keys())
    if not keys:
        raise TinyflashError(
            f"{where}: the SavedModel has no signatures; export it with "
            "signatures={'serving_default': fn}.",
            EXIT_BAD_INPUT,
        )
    key = choose_signature(where, keys, spec.signature)
    signature_fn = loaded.signatures[key]
    args, kwargs = signature_fn.structured_input_signature
    if args:
        raise TinyflashError(
            f"{where}: signature '{key}' takes positional inputs; export it with "
            "named TensorSpecs.",
            EXIT_BAD_INPUT,
        )
    names = sorted(kwargs)
    inputs = [
        InputSpec(
            n, _pin_shape(kwargs[n].shape, f"{where} signature '{key}'", n), kwargs[n].dtype.name
        )
        for n in names
    ]
    pinned = [
        tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=_tf_name(s.name, i))
        for i, s in enumerate(inputs)
    ]

    @tf.function(input_signature=pinned)
    def serve(*args_: Any) -> Any:
        result = signature_fn(**dict(zip(names, args_)))
        return [result[k] for k in sorted(result)] if isinstance(result, dict) else result

    function = serve.get_concrete_function()
    outputs = (
        sorted(signature_fn.structured_outputs)
        if isinstance(signature_fn.structured_outputs, dict)
        else []
    )
    weights = sum(int(np.prod(v.shape)) * 4 for v in signature_fn.variables)
    return LoadedModel(spec, function, _holder(tf, loaded, serve), inputs, outputs, weights, [])


def _load_keras_file(spec: ModelSpec, tf: Any) -> Any:
    import warnings  # noqa: PLC0415

    config = keras_config(spec.path) if spec.kind == "keras" else h5_config(spec.path)
    if config is not None and uses_tfmot(config):
        return _load_qat_file(spec)
    errors: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import keras  # noqa: PLC0415

            return keras.models.load_model(str(spec.path), compile=False)
        except Exception as error:  # noqa: BLE001
            errors.append(_first_line(error))
        if spec.kind == "h5":
            try:
                import tf_keras  # noqa: PLC0415

                return tf_keras.models.load_model(str(spec.path), compile=False)
            except Exception as error:  # noqa: BLE001
                errors.append(_first_line(error))
    how = "Keras 3 or tf-keras (Keras 2)" if spec.kind == "h5" else "Keras 3"
    unknown = next(
        (
            m
            for e in errors
            for m in [re.search(r"(?:locate class|Unknown layer:?) '?(\w+)", e)]
            if m
        ),
        None,
    )
    if unknown is not None:  # the cause is an unregistered class, not a damaged file
        cls = unknown.group(1)
        raise TinyflashError(
            f"{spec.path}: the model uses the custom class {cls}, which {how} cannot rebuild "
            f"from the file alone; convert through Python instead — a file that defines or "
            f"imports {cls} and loads the model, e.g. model.py with `model = keras.models."
            f"load_model('{spec.path.name}', custom_objects={{'{cls}': {cls}}})`, then "
            "`tinyflash convert model.py:model ...`.",
            EXIT_BAD_INPUT,
        )
    raise TinyflashError(
        f"{spec.path}: {how} cannot load this model ({errors[-1]}); check the file "
        "is a complete, uncorrupted model saved with model.save.",
        EXIT_BAD_INPUT,
    )


def _load_qat_file(spec: ModelSpec) -> Any:
    """A tf-keras model with tfmot's quantization-aware training layers (.h5 or .keras)."""
    import warnings  # noqa: PLC0415

    with tfmot_scope(spec.label), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tf_keras  # noqa: PLC0415

        try:
            if spec.kind == "keras":
                return _load_qat_keras(spec.path, tf_keras)
            return tf_keras.models.load_model(str(spec.path), compile=False)
        except Exception as error:  # noqa: BLE001
            raise TinyflashError(
                f"{spec.path}: tf-keras cannot load this quantization-aware model inside "
                f"tfmot's quantize_scope ({_first_line(error)}); check the file is a complete "
                "model saved with model.save.",
                EXIT_BAD_INPUT,
            ) from None


def _load_qat_keras(path: Path, tf_keras: Any) -> Any:
    """A QAT model from a .keras archive. tfmot 0.8.1 builds QuantizeLayer and QuantizeWrapperV2
    twice when tf-keras rebuilds them from the archive, so Keras's own loader finds more variables
    than were saved and refuses the file. Here the model is rebuilt from config.json (inside
    quantize_scope) and each layer's variables, in the order of layer.weights, take the saved
    arrays of that layer (model.weights.h5, layers/NAME/...) in the order they were saved: each
    distinct variable name the next unused array of its shape; the copies a second build made
    (same name) share the value."""
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    import h5py  # type: ignore[import-untyped]  # noqa: PLC0415

    with zipfile.ZipFile(path) as archive:
        model = tf_keras.models.model_from_json(archive.read("config.json").decode())
        weights = io.BytesIO(archive.read("model.weights.h5"))
    from tf_keras.src.utils.generic_utils import to_snake_case  # noqa: PLC0415

    used_names: dict[str, int] = {}
    with h5py.File(weights, "r") as store:
        for layer in model.layers:
            # the saver's name for the layer: its class in snake case, _1, _2... for repeats
            key = to_snake_case(type(layer).__name__)
            used_names[key] = used_names.get(key, -1) + 1
            key = f"{key}_{used_names[key]}" if used_names[key] else key
            if not layer.weights:
                continue
            saved: list[np.ndarray] = []
            group = store["layers"][key]

            def collect(name: str, item: Any, into: list[np.ndarray] = saved) -> None:
                if isinstance(item, h5py.Dataset):
                    into.append(np.asarray(item))

            # own variables first (vars/0, vars/1, ...), then nested layers', as saved
            own = group.get("vars")
            if own is not None:
                saved.extend(np.asarray(own[k]) for k in sorted(own, key=int))
            for key in sorted(k for k in group if k != "vars"):
                group[key].visititems(collect)
            used = [False] * len(saved)
            by_name: dict[str, np.ndarray] = {}
            for variable in layer.weights:
                base = variable.name.split("/")[-1].split(":")[0]
                if base not in by_name:
                    shape = tuple(variable.shape)
                    pick = next(
                        (i for i, a in enumerate(saved) if not used[i] and tuple(a.shape) == shape),
                        None,
                    )
                    if pick is None:
                        raise ValueError(
                            f"layer '{layer.name}': no saved array for variable {base} {shape}"
                        )
                    used[pick] = True
                    by_name[base] = saved[pick]
                variable.assign(by_name[base])
    return model


def _load_python(spec: ModelSpec, tf: Any) -> LoadedModel:
    module_name = f"tinyflash_user_{abs(hash(str(spec.path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, spec.path)
    if loader_spec is None or loader_spec.loader is None:
        raise TinyflashError(f"{spec.path}: cannot import this Python file.", EXIT_BAD_INPUT)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - user code
        raise TinyflashError(
            f"{spec.path}: importing the file failed ({type(error).__name__}: "
            f"{_first_line(error)}); fix the file.",
            EXIT_BAD_INPUT,
        ) from None
    if not hasattr(module, str(spec.attr)):
        raise TinyflashError(
            f"{spec.path}: defines no '{spec.attr}'; name a tf.function or Keras "
            "model defined at the file's top level.",
            EXIT_BAD_INPUT,
        )
    obj = getattr(module, str(spec.attr))
    for _ in range(2):
        if _is_keras_model(obj):
            return _from_keras(spec, obj, tf)
        if hasattr(obj, "get_concrete_function"):
            return _from_function(spec, obj, tf)
        if isinstance(obj, tf.Module) and hasattr(obj.__call__, "get_concrete_function"):
            return _from_function(spec, obj.__call__, tf, owner=obj)
        if callable(obj) and not isinstance(obj, type):
            try:
                obj = obj()
            except TypeError as error:
                raise TinyflashError(
                    f"{spec.label}: is a plain function that needs arguments "
                    f"({_first_line(error)}); decorate it with @tf.function("
                    "input_signature=[...]) or make it return a Keras model.",
                    EXIT_BAD_INPUT,
                ) from None
            continue
        break
    raise TinyflashError(
        f"{spec.label}: is a {type(obj).__name__}, not a tf.function or Keras "
        "model; name one of those (or a function returning one).",
        EXIT_BAD_INPUT,
    )


def _tf_keras_saved_model(spec: ModelSpec) -> Any:
    """The tf-keras model of a SavedModel written by tf-keras, when it has a recurrent layer that
    is not unrolled (converted from the Keras model, such a layer fuses; from the SavedModel's
    graph, it fails); None otherwise."""
    if not (Path(spec.path) / "keras_metadata.pb").is_file() or spec.signature not in (
        None,
        "",
        "serving_default",
    ):
        return None
    import warnings  # noqa: PLC0415

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tf_keras  # noqa: PLC0415

            model = tf_keras.models.load_model(str(spec.path), compile=False)
    except Exception:  # noqa: BLE001 - then the SavedModel route reports what is wrong
        return None
    return model if _is_tf_keras_model(model) and rolled_recurrent_layers(model) else None


def load_float_model(spec: ModelSpec, quiet: bool = True) -> LoadedModel:
    """Load the float model as a batch-1 concrete function (imports TensorFlow in this process)."""
    tf = import_tensorflow(quiet)
    if spec.kind == "saved_model":
        keras_model = _tf_keras_saved_model(spec)
        loaded = (
            _from_keras(spec, keras_model, tf)
            if keras_model is not None
            else _from_saved_model(spec, tf)
        )
    elif spec.kind in ("keras", "h5"):
        loaded = _from_keras(spec, _load_keras_file(spec, tf), tf)
    elif spec.kind == "python":
        # A file that mentions quantization may load a QAT model: tfmot's layers deserialise
        # inside its scope (when tfmot is installed; else the file's own import error tells).
        qat = quantization_aware(spec) is None and importlib.util.find_spec(TFMOT) is not None
        with tfmot_scope(spec.label) if qat else contextlib.nullcontext():
            loaded = _load_python(spec, tf)
    else:
        raise TinyflashError(f"{spec.path}: unknown model kind {spec.kind}.", EXIT_BAD_INPUT)
    loaded.stateful = assigns_variables(loaded.function)
    loaded.fake_quant = has_fake_quant(loaded.function)
    return loaded


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("Traceback"):
            return line[:300]
    return type(error).__name__

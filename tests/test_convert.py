"""Real conversions (TensorFlow 2.21 in a child process) of small models built here.

Each conversion costs ~5 s (the child imports TensorFlow), so models are tiny, shared through
module-scoped fixtures, and one model covers several ops."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinyflash.convert import convert_model, parse_model_spec
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
from tinyflash.model import ModelInfo, load_model

pytestmark = pytest.mark.slow

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

DYNAMIC_BATCH_OPS = {"SHAPE", "STRIDED_SLICE", "PACK", "TILE"}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("convert")


@pytest.fixture(scope="module")
def keras_mod():  # type: ignore[no-untyped-def]
    from tinyflash.convert import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(7)
    return keras


def _calibration(path: Path, shape: tuple[int, ...], count: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    np.save(path, rng.uniform(-1.0, 1.0, size=(count, *shape)).astype(np.float32))
    return path


@pytest.fixture(scope="module")
def cnn(work: Path, keras_mod) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """conv, depthwise, max/avg pooling, add, concat, mean, dense (128 units: big enough for
    dynamic-range quantization)."""
    keras = keras_mod
    inp = keras.Input((8, 8, 2), name="pixels")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    a = keras.layers.MaxPooling2D(2)(x)
    b = keras.layers.AveragePooling2D(2)(x)
    s = keras.layers.Add()([a, b])
    c = keras.layers.Concatenate()([a, s])
    m = keras.layers.GlobalAveragePooling2D()(c)
    h = keras.layers.Dense(128, activation="relu")(m)
    out = keras.layers.Dense(5)(h)
    path = work / "cnn.keras"
    keras.Model(inp, out).save(path)
    return path, _calibration(work / "cnn_calib.npy", (8, 8, 2))


@pytest.fixture(scope="module")
def cnn_int8(cnn, work: Path):  # type: ignore[no-untyped-def]
    model, calib = cnn
    seen: list[tuple[int, int]] = []
    result = convert_model(
        model,
        work / "cnn_int8.tflite",
        calib,
        samples=10,
        progress=lambda d, t: seen.append((d, t)),
    )
    return result, load_model(result.output), seen


def _ops(info: ModelInfo) -> list[str]:
    return [op.name for op in info.ops]


def _assert_full_int8(info: ModelInfo) -> None:
    """Activations int8 per-tensor, conv/FC weights int8, biases int32, int8 I/O."""
    weight_ops = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2)}
    for index in (*info.inputs, *info.outputs):
        assert info.tensor(index).dtype == "int8"
    for op in info.ops:
        w, b = weight_ops.get(op.name, (-1, -1))
        for pos, t in enumerate(op.inputs):
            if t < 0:
                continue
            tensor = info.tensor(t)
            if pos == w:
                assert tensor.dtype == "int8" and tensor.is_constant, (op.name, tensor)
                assert tensor.quant is not None
            elif pos == b:
                assert tensor.dtype == "int32", (op.name, tensor)
            elif not tensor.is_constant:
                assert tensor.dtype == "int8", (op.name, tensor)
                assert tensor.quant is not None and len(tensor.quant.scales) == 1
        for t in op.outputs:
            assert info.tensor(t).dtype == "int8", (op.name, info.tensor(t))


def test_int8_cnn_ops_dtypes_and_quantization(cnn_int8) -> None:  # type: ignore[no-untyped-def]
    result, info, seen = cnn_int8
    ops = set(_ops(info))
    assert {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "MAX_POOL_2D",
        "AVERAGE_POOL_2D",
        "ADD",
        "CONCATENATION",
        "MEAN",
        "FULLY_CONNECTED",
    } <= ops
    assert not ops & DYNAMIC_BATCH_OPS, "batch must be pinned to 1"
    _assert_full_int8(info)
    conv = next(op for op in info.ops if op.name == "CONV_2D")
    weights = info.tensor(conv.inputs[1])
    assert weights.quant is not None and len(weights.quant.scales) == 4  # per output channel
    assert info.tensor(info.inputs[0]).shape == (1, 8, 8, 2)
    assert result.deployable is True and not result.host_only and result.problems == []
    assert result.samples == 10 and result.tflite_bytes == info.size_bytes
    assert result.op_histogram == dict(sorted(info.op_histogram.items()))
    assert seen[-1] == (10, 10) and [d for d, _ in seen[1:]] == list(range(1, 11))
    assert result.inputs[0].name == "pixels" and result.inputs[0].shape == (1, 8, 8, 2)


def test_uint8_io_mode(cnn, work: Path) -> None:  # type: ignore[no-untyped-def]
    model, calib = cnn
    result = convert_model(model, work / "cnn_u8.tflite", calib, mode="uint8-io", samples=4)
    info = load_model(result.output)
    assert info.tensor(info.inputs[0]).dtype == "uint8"
    assert info.tensor(info.outputs[0]).dtype == "uint8"
    assert "QUANTIZE" in _ops(info) and not result.host_only


def test_int16x8_mode_is_a_device_mode(cnn, work: Path) -> None:  # type: ignore[no-untyped-def]
    model, calib = cnn
    result = convert_model(model, work / "cnn_16x8.tflite", calib, mode="int16x8", samples=4)
    info = load_model(result.output)
    assert info.tensor(info.inputs[0]).dtype == "int16"
    conv = next(op for op in info.ops if op.name == "CONV_2D")
    assert info.tensor(conv.inputs[1]).dtype == "int8"
    assert info.tensor(conv.outputs[0]).dtype == "int16"
    assert not result.host_only  # 16x8 runs on the device (issue 14)
    assert not any("host-only" in p for p in result.problems)


def test_unrolled_lstm_converts(work: Path, keras_mod) -> None:  # type: ignore[no-untyped-def]
    keras = keras_mod
    inp = keras.Input((5, 3), name="series")
    x = keras.layers.LSTM(4, unroll=True)(inp)
    out = keras.layers.Dense(2)(x)
    path = work / "lstm_unrolled.keras"
    keras.Model(inp, out).save(path)
    result = convert_model(path, work / "lstm.tflite", _calibration(work / "lstm.npy", (5, 3)))
    info = load_model(result.output)
    ops = set(_ops(info))
    assert {"FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL", "ADD"} <= ops
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops and not ops & {"WHILE", "SHAPE"}
    assert info.tensor(info.inputs[0]).dtype == "int8"
    assert info.tensor(info.inputs[0]).shape == (1, 5, 3)


def test_lstm_not_unrolled_converts_to_the_fused_lstm(work: Path, keras_mod) -> None:  # type: ignore[no-untyped-def]
    """A Keras 3 LSTM that is not unrolled: rebuilt in tf-keras and converted with its model, it
    becomes one UNIDIRECTIONAL_SEQUENCE_LSTM (integer LSTM, int16 cell state)."""
    keras = keras_mod
    inp = keras.Input((5, 3))
    out = keras.layers.Dense(2)(keras.layers.LSTM(4)(inp))
    path = work / "lstm_rolled.keras"
    keras.Model(inp, out).save(path)
    result = convert_model(path, work / "rolled.tflite", _calibration(work / "rolled.npy", (5, 3)))
    info = load_model(result.output)
    assert _ops(info).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    lstm = next(op for op in info.ops if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    assert (
        info.tensor(lstm.inputs[19]).dtype == "int16" and info.tensor(lstm.inputs[19]).is_variable
    )
    assert result.deployable


def test_gru_not_unrolled_crash_becomes_error(work: Path, keras_mod) -> None:  # type: ignore[no-untyped-def]
    """TF 2.21 cannot convert a GRU that is not unrolled to full int8 (no fused GRU): the child
    dies (or the converter refuses), the parent explains and points to unroll=True."""
    keras = keras_mod
    inp = keras.Input((5, 3))
    out = keras.layers.Dense(2)(keras.layers.GRU(4)(inp))
    path = work / "gru_rolled.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(TinyflashError) as caught:
        convert_model(path, work / "gru.tflite", _calibration(work / "gru.npy", (5, 3)))
    message = caught.value.message
    # usually a SIGSEGV (then the message names the layer), sometimes a converter error
    assert "unroll=True" in message and str(path) in message
    assert "(GRU)" in message or "rejected" in message
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert not (work / "gru.tflite").exists()


def test_legacy_h5_from_tf_keras(work: Path) -> None:
    """A Keras 2 .h5 written with tf-keras (depthwise conv: Keras 3 cannot load its config)."""
    import tf_keras

    tf_keras.utils.set_random_seed(3)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=(6, 6, 1)),
            tf_keras.layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
            tf_keras.layers.Conv2D(3, 1),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dense(4),
        ]
    )
    path = work / "legacy.h5"
    model.save(path, save_format="h5")
    assert parse_model_spec(path).kind == "h5"
    result = convert_model(
        path, work / "legacy.tflite", _calibration(work / "legacy.npy", (6, 6, 1))
    )
    info = load_model(result.output)
    assert ["DEPTHWISE_CONV_2D", "CONV_2D", "RESHAPE", "FULLY_CONNECTED"] == _ops(info)
    _assert_full_int8(info)
    assert result.deployable is True


@pytest.fixture(scope="module")
def two_signature_savedmodel(work: Path) -> Path:
    from tinyflash.convert import import_tensorflow

    tf = import_tensorflow()

    class Two(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def project(self, x):  # type: ignore[no-untyped-def]
            return {"y": tf.nn.relu(tf.matmul(x, self.w))}

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def scale(self, x):  # type: ignore[no-untyped-def]
            return {"y": x * 0.5 + 0.25}

    module = Two()
    path = work / "two_sigs"
    tf.saved_model.save(
        module,
        str(path),
        signatures={
            "project": module.project.get_concrete_function(),
            "scale": module.scale.get_concrete_function(),
        },
    )
    np.savez(
        work / "two_sigs.npz", x=np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    )
    return path


def test_savedmodel_signature_choice(two_signature_savedmodel: Path, work: Path) -> None:
    calib = work / "two_sigs.npz"
    result = convert_model(
        two_signature_savedmodel, work / "project.tflite", calib, signature="project"
    )
    info = load_model(result.output)
    assert "FULLY_CONNECTED" in _ops(info)
    assert not set(_ops(info)) & DYNAMIC_BATCH_OPS
    assert info.tensor(info.inputs[0]).shape == (1, 4)
    _assert_full_int8(info)
    with pytest.raises(TinyflashError) as caught:
        convert_model(two_signature_savedmodel, work / "none.tflite", calib)
    assert "project, scale" in caught.value.message and caught.value.options == ("signature",)


def test_savedmodel_signatures_read_without_tensorflow(two_signature_savedmodel: Path) -> None:
    """preflight parses TensorFlow's own saved_model.pb (protobuf wire format) to the same
    signatures, inputs, dtypes and shapes (batch unknown) that TensorFlow exported."""
    from tinyflash.preflight import saved_model_signatures

    assert saved_model_signatures(two_signature_savedmodel) == {
        "project": {"x": ("float32", [None, 4])},
        "scale": {"x": ("float32", [None, 4])},
    }


def test_python_file_tf_function(work: Path) -> None:
    source = work / "fn_model.py"
    source.write_text(
        textwrap.dedent("""
        import numpy as np
        import tensorflow as tf

        W = tf.constant(np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(6, 4))
        B = tf.constant(np.array([0.1, -0.2, 0.3, 0.0], dtype=np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="features")])
        def classify(features):
            return tf.nn.softmax(tf.matmul(features, W) + B)
        """)
    )
    result = convert_model(
        f"{source}:classify", work / "fn.tflite", _calibration(work / "fn.npy", (6,))
    )
    info = load_model(result.output)
    assert _ops(info) == ["FULLY_CONNECTED", "SOFTMAX"]
    _assert_full_int8(info)
    assert result.inputs[0].name == "features" and result.inputs[0].shape == (1, 6)

"""check_model on real TensorFlow conversions of one small Keras model (float, dynamic-range,
float16, full int8, int8 with float I/O, uint8 I/O, an op outside the runtime) and on the shared
MLPerf Tiny models."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_MODEL_NAMES, shared_model_path
from support.cli import tinyflash
from tinyflash.errors import TinyflashError
from tinyflash.model import ModelInfo, load_model, parse_model
from tinyflash.opcheck import check_model, kernel_table, runtime_kernels

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _convert(mode: str) -> bytes:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1)
    if mode == "lstm":  # an unrolled LSTM: many small tensors with interleaved lifetimes
        inputs = tf.keras.Input(shape=(6, 5), batch_size=1)
        x = tf.keras.layers.LSTM(7, unroll=True)(inputs)
        x = tf.keras.layers.Dense(3)(x)
        return _finish(tf.keras.Model(inputs, x), "int8", (1, 6, 5))
    inputs = tf.keras.Input(shape=(32,), batch_size=1)
    x = tf.keras.layers.Dense(64, activation="relu", bias_initializer="random_normal")(inputs)
    x = tf.keras.layers.Dense(4, bias_initializer="random_normal")(x)
    if mode == "argmax":  # int64 positions (TensorFlow's default output_type)
        x = tf.keras.layers.Lambda(lambda v: tf.math.argmax(v, axis=-1))(x)
    if mode == "argmax32":
        x = tf.keras.layers.Lambda(lambda v: tf.math.argmax(v, axis=-1, output_type=tf.int32))(x)
    if mode == "cumsum":  # no int8 CUMSUM in the converter: it stays float between (de)quantize
        x = tf.keras.layers.Lambda(lambda v: tf.math.cumsum(v, axis=-1))(x)
    return _finish(tf.keras.Model(inputs, x), mode, (1, 32))


def _finish(model: object, mode: str, shape: tuple[int, ...]) -> bytes:
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    rng = np.random.default_rng(0)

    def data():  # representative dataset
        for _ in range(16):
            yield [rng.standard_normal(shape).astype(np.float32)]

    if mode != "float":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "cumsum":
        converter.representative_dataset = data
    if mode in ("int8", "float-io", "uint8-io", "argmax", "argmax32"):
        converter.representative_dataset = data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if mode in ("int8", "argmax", "argmax32"):
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if mode == "uint8-io":
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter.convert()


MODES = (
    "float",
    "dynamic",
    "float16",
    "int8",
    "float-io",
    "uint8-io",
    "argmax",
    "argmax32",
    "cumsum",
    "lstm",
)


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One TF import, eight tiny conversions (a few seconds in all)."""
    folder = tmp_path_factory.mktemp("opcheck_models")
    paths = {}
    for mode in MODES:
        paths[mode] = folder / f"dense_{mode}.tflite"
        paths[mode].write_bytes(_convert(mode))
    return paths


def _report(converted: dict[str, Path], mode: str) -> tuple[ModelInfo, object]:
    info = load_model(converted[mode])
    return info, check_model(info)


@pytest.mark.slow
def test_full_int8_is_deployable(converted: dict[str, Path]) -> None:
    info, report = _report(converted, "int8")
    assert report.deployable, report.offenders
    assert report.offenders == () and not report.float_io
    assert info.op_histogram == {"FULLY_CONNECTED": 2}
    fc = info.ops[0]
    assert info.tensors[fc.inputs[0]].dtype == "int8"
    assert info.tensors[fc.inputs[1]].dtype == "int8" and info.tensors[fc.inputs[1]].is_constant
    assert info.tensors[fc.inputs[2]].dtype == "int32"
    assert fc.macs == 32 * 64 and info.total_macs == 32 * 64 + 64 * 4


@pytest.mark.slow
def test_float_model_names_each_op(converted: dict[str, Path]) -> None:
    info, report = _report(converted, "float")
    assert not report.deployable
    assert report.offenders[0].startswith("op 0 FULLY_CONNECTED computes in float32")
    assert "convert with representative data (tinyflash convert --data ...)" in report.offenders[0]
    assert len(report.offenders) == len(info.ops)


@pytest.mark.slow
def test_dynamic_range_model_is_hybrid(converted: dict[str, Path]) -> None:
    _, report = _report(converted, "dynamic")
    assert not report.deployable
    # one finding for the whole model (the cause is the mode, the same at every op), whose
    # remedy is the mode: data alone would not help
    assert len(report.offenders) == 1, report.offenders
    assert report.offenders[0].startswith(
        "op 0 FULLY_CONNECTED is hybrid: int8 weights, float32 activations — dynamic-range "
        "quantization, a host-only mode (--mode dynamic); for a device: tinyflash convert "
        "--mode int8"
    ), report.offenders


@pytest.mark.slow
def test_float16_model(converted: dict[str, Path]) -> None:
    info, report = _report(converted, "float16")
    assert not report.deployable
    assert "DEQUANTIZE" in info.op_histogram
    kinds = {f.kind for f in report.findings if f.severity == "error"}
    assert "float16" in kinds, report.offenders
    # one finding, not one per DEQUANTIZE and float op: the mode is the cause
    assert len(report.offenders) == 1, report.offenders
    assert "float16 weights" in report.offenders[0]
    assert (
        "a host-only mode (--mode float16); for a device: tinyflash convert --mode int8"
        in (report.offenders[0])
    )
    assert "more op(s) with the same cause" in report.offenders[0]
    assert "representative data" not in report.offenders[0]


@pytest.mark.slow
def test_float_io_is_deployable_with_warning(converted: dict[str, Path]) -> None:
    info, report = _report(converted, "float-io")
    assert info.ops[0].name == "QUANTIZE" and info.ops[-1].name == "DEQUANTIZE"
    assert report.deployable, report.offenders
    assert report.float_io
    assert len(report.warnings) == 2 and "int8-float-io" in report.warnings[0]


@pytest.mark.slow
def test_uint8_io_is_deployable_with_warning(converted: dict[str, Path]) -> None:
    """uint8 I/O requantized by QUANTIZE at the edges: the runtime's QUANTIZE runs uint8<->int8
    (tests/test_labels.py runs such a model on the device, bit-exact)."""
    info, report = _report(converted, "uint8-io")
    assert report.deployable, report.offenders
    name = info.tensors[info.inputs[0]].name
    assert len(report.warnings) == 2
    assert f"model input 0 '{name}' is uint8, requantized to int8" in report.warnings[0]
    assert "requantized from int8" in report.warnings[1]
    # a uint8 tensor that is not at a QUANTIZE edge is still refused (tests below: int16, dtype)


@pytest.mark.slow
def test_op_without_runtime_kernel(converted: dict[str, Path]) -> None:
    """tf.math.cumsum: the converter keeps it float32 between DEQUANTIZE and QUANTIZE although
    the model was calibrated; the runtime's CUMSUM kernel is int8 only. The headline names the
    op, its types and that cause, not calibration data (issue 15: data was given, and data does
    not change it)."""
    info, report = _report(converted, "cumsum")
    assert "CUMSUM" in info.op_histogram and "CUMSUM" in runtime_kernels()
    index = next(op.index for op in info.ops if op.name == "CUMSUM")
    headline = report.offenders[0]
    assert headline.startswith(f"op {index} CUMSUM (float32")
    assert "stayed float32 although the model was calibrated" in headline
    assert "runs CUMSUM only for int8" in headline
    assert "representative data" not in headline
    assert "replace the layer" in headline
    assert not report.deployable


@pytest.mark.slow
def test_argmax_int64_positions_name_the_fix(converted: dict[str, Path]) -> None:
    info, report = _report(converted, "argmax")
    index = next(op.index for op in info.ops if op.name == "ARG_MAX")
    headline = report.offenders[0]
    assert headline.startswith(f"op {index} ARG_MAX writes int64 positions")
    assert "output_type=tf.int32" in headline
    assert not report.deployable


@pytest.mark.slow
def test_argmax_int32_classifier_is_deployable(converted: dict[str, Path]) -> None:
    info, report = _report(converted, "argmax32")
    assert info.ops[-1].name == "ARG_MAX"
    assert info.tensors[info.outputs[0]].dtype == "int32"
    assert report.deployable, report.offenders


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_shared_models_are_deployable(name: str) -> None:
    report = check_model(load_model(shared_model_path(name)))
    assert report.deployable, report.offenders
    assert report.findings == ()


def test_runtime_kernel_list_is_the_issue_list() -> None:
    kernels = runtime_kernels()
    # + the LSTM/SVDF, issue 15's and issue 12's CALL_ONCE and resource-variable ops, ELU and
    # LOG_SOFTMAX, IF and WHILE
    assert len(kernels) == len(set(kernels)) == 34 + 2 + 28 + 14 + 4 + 2 + 2
    assert {"CONV_2D", "TRANSPOSE_CONV", "RESIZE_NEAREST_NEIGHBOR", "HARD_SWISH"} <= set(kernels)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF"} <= set(kernels)


def test_kernel_list_unreadable_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        TinyflashError, match=r"cannot read the runtime's kernel list .*tfl_kernels\.h"
    ):
        kernel_table(tmp_path / "runtime")
    include = tmp_path / "empty" / "include"
    include.mkdir(parents=True)
    (include / "tfl_kernels.h").write_text("/* no kernels */\n")
    with pytest.raises(TinyflashError, match="names no kernel"):
        kernel_table(tmp_path / "empty")


def test_docs_list_the_runtime_ops_of_the_header() -> None:
    """docs/cli.md's list of runtime ops is tfl_kernels.h's, in its order (regenerate the line
    from runtime_kernels() when a kernel is added)."""
    text = " ".join((Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text().split())
    match = re.search(r"Ops of the tinyflash runtime \(.*?\): (.*?)\.(?:\s|$)", text)
    assert match, "docs/cli.md lost its list of runtime ops"
    assert re.findall(r"`(\w+)`", match.group(1)) == list(runtime_kernels())


def test_shared_model_with_op_code_changed_to_custom() -> None:
    """Flip the ad01 model's FULLY_CONNECTED operator code to CUSTOM (32) in both code fields."""
    path = shared_model_path("ad01_int8")
    data = bytearray(path.read_bytes())
    info = parse_model(bytes(data), "ad01")
    # Locate the operator-code table through the model's own reader-independent layout: the
    # deprecated_builtin_code byte and builtin_code int hold 9 (FULLY_CONNECTED).
    from tinyflash.model import _Reader

    reader = _Reader(bytes(data))
    root = reader.table(reader.u32(0, "root"), "model")
    (code_table,) = root.tables(1, "operator code")
    for slot, width in ((0, 1), (3, 4)):
        pos = code_table.field_pos(slot, width)
        if pos is not None:
            data[pos : pos + width] = (32).to_bytes(width, "little")
    report = check_model(parse_model(bytes(data), "ad01_custom"))
    assert info.ops[0].name == "FULLY_CONNECTED"
    assert not report.deployable
    assert report.offenders[0].startswith("op 0 CUSTOM is the custom op")


# ---- the real `tinyflash check` command ------------------------------------------------------


def test_cli_check_shared_model_json() -> None:
    import json

    path = shared_model_path("kws_ref_model")
    done = tinyflash("check", str(path), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["deployable"] is True and data["offenders"] == [] == data["findings"]
    assert data["peak_activation_bytes"] == 16_490 and data["arena_bytes"] == 16_490
    assert data["total_macs"] == 2_656_768 and data["size_bytes"] == path.stat().st_size
    assert data["weight_bytes"] == 24_376 and data["pool_words"] == 1_154
    assert data["plan"]["aliases"] == {"32": 31} and data["plan"]["aligned_bound"] == 16_490
    rows = {r["tensor"]: r for r in data["plan"]["tensors"]}
    assert rows[0] == {
        "tensor": 0,
        "name": "input_1",
        "bytes": 490,
        "first_op": 0,
        "last_op": 12,
        "offset": rows[0]["offset"],
    }
    assert rows[32]["offset"] == rows[31]["offset"]
    assert max(r["offset"] + r["bytes"] for r in rows.values()) == data["arena_bytes"]
    conv = data["ops"][0]
    assert conv["op"] == "CONV_2D" and conv["macs"] == 320_000
    assert conv["inputs"][1]["quantization"].startswith("per-channel(64")
    assert conv["inputs"][0] == {
        "tensor": 0,
        "name": "input_1",
        "dtype": "int8",
        "shape": [1, 49, 10, 1],
        "quantization": "per-tensor",
        "constant": False,
    }


def test_cli_check_table() -> None:
    done = tinyflash("check", str(shared_model_path("pretrainedResnet_quant")))
    assert done.returncode == 0, done.stderr
    for text in (
        "CONV_2D",
        "int8[1x32x32x3]",
        "per-ch",
        "2,359,296",
        "12,501,632 MACs",
        "peak activations 52,224 B",
        "planned arena 52,224 B",
        "deployable",
    ):
        assert text in done.stdout, text


def test_cli_check_plan_table() -> None:
    done = tinyflash("check", str(shared_model_path("kws_ref_model")), "--plan")
    assert done.returncode == 0, done.stderr
    assert "memory plan" in done.stdout and "(= 31, view)" in done.stdout and "0-12" in done.stdout


@pytest.mark.slow
def test_cli_check_hybrid_exit_1(converted: dict[str, Path]) -> None:
    done = tinyflash("check", str(converted["dynamic"]))
    assert done.returncode == 1
    assert "not deployable" in done.stdout and "is hybrid: int8 weights" in done.stdout
    assert done.stderr.startswith(
        "error: "
    ) and "is not deployable: op 0 FULLY_CONNECTED is hybrid" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_cli_check_corrupt_exit_2(tmp_path: Path) -> None:
    data = shared_model_path("ad01_int8").read_bytes()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(data[:5000])
    done = tinyflash("check", str(truncated))
    assert done.returncode == 2 and done.stdout == ""
    assert "truncated.tflite is a corrupt TFLite model" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 3
    done = tinyflash("check", str(tmp_path / "missing.tflite"))
    assert done.returncode == 2 and "no such file" in done.stderr


@pytest.mark.slow
def test_unrolled_lstm(converted: dict[str, Path]) -> None:
    """An unrolled Keras LSTM converted with TFLITE_BUILTINS_INT8: dozens of 5-28 byte tensors.
    TF 2.21 leaves the first time step's SPLIT in float (DEQUANTIZE -> SPLIT -> QUANTIZE), which
    check must name; the plan is still sound and optimal for 4-byte aligned offsets."""
    from tinyflash.plan import plan_memory, verify_plan

    info, report = _report(converted, "lstm")
    assert {"FULLY_CONNECTED", "LOGISTIC", "TANH", "MUL", "ADD", "SPLIT"} <= set(info.op_histogram)
    split = next(op for op in info.ops if op.name == "SPLIT")
    if info.tensors[split.outputs[0]].dtype == "float32":
        # calibrated, yet float: named as the converter's doing, not as missing data
        assert any(
            m.startswith(f"op {split.index} SPLIT (float32")
            and "stayed float32 although the model was calibrated" in m
            and "representative data" not in m
            for m in report.offenders
        )
        assert not report.deployable
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert len(plan.aliases) >= 5  # the per-step RESHAPEs
    # Rounding 7-byte tensors to 8 makes 1.05 x the lower bound unreachable here; the plan meets
    # the bound for aligned offsets instead.
    assert plan.arena_bytes <= max(1.05 * plan.lower_bound, plan.aligned_bound)
    assert plan.aligned_bound <= plan.arena_bytes


def test_runtime_kernels_match_the_c_kernel_table() -> None:
    """runtime_kernels() and firmware/runtime/include/tfl_kernels.h name the same ops, and the C
    table's builtin codes agree with schema.py."""
    import re

    from tinyflash import schema
    from tinyflash.resources import firmware_dir

    text = (firmware_dir() / "runtime" / "include" / "tfl_kernels.h").read_text()
    rows = re.findall(r'^TFL_KERNEL\((\w+),\s*(\d+),\s*"(\w+)"\)', text, re.M)
    assert rows
    assert [name for _, _, name in rows] == list(runtime_kernels())
    keywords = {"IF": "if_else", "WHILE": "while_loop"}  # `if`, `while`: C keywords
    for lower, code, name in rows:
        assert schema.BUILTIN_CODES[name] == int(code)
        assert lower == keywords.get(name, name.lower())


# ---- remedies that name the real cause first (issue 15) ------------------------------------


def _single_op(op: str, dtype: str, out_dtype: str | None = None, **options: object) -> ModelInfo:
    from support.tflbuilder import ModelBuilder

    b = ModelBuilder()
    q = {"scale": 0.1, "zero_point": 0} if dtype in ("int8", "int16") else {}
    x = b.tensor("x", [1, 4], dtype, **q)
    y = b.tensor("y", [1, 4], out_dtype or dtype, **q)
    b.op(op, [x], [y], **options)
    from tinyflash.model import parse_model

    return parse_model(b.build([x], [y]), f"{op.lower()}.tflite")


def _without_kernel(monkeypatch: pytest.MonkeyPatch, op: str) -> None:
    """The check as if the runtime had no `op` kernel (the headline's logic, whatever ops the
    runtime has today)."""
    kernels = tuple(k for k in runtime_kernels() if k != op)
    monkeypatch.setattr("tinyflash.opcheck.runtime_kernels", lambda: kernels)


def test_no_kernel_headline_suggests_tflm_when_tflm_runs_the_types(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """int8 ELU: TFLM runs it (docs/ops.md); a runtime without an ELU kernel."""
    _without_kernel(monkeypatch, "ELU")
    report = check_model(_single_op("ELU", "int8", options_type=None))
    assert not report.deployable
    headline = report.offenders[0]
    assert headline.startswith("op 0 ELU (int8 -> int8) has no kernel in the tinyflash runtime")
    assert "`--runtime tflm`" in headline and "representative data" not in headline
    assert len(report.offenders) == 1


def test_no_kernel_headline_for_float_op_names_the_kernel_not_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A float CUMSUM (what the converter leaves without an int8 CUMSUM) in a runtime without
    a CUMSUM kernel: the cause is the missing kernel; TFLM runs CUMSUM only for int8, so
    --runtime tflm is not offered as is."""
    _without_kernel(monkeypatch, "CUMSUM")
    report = check_model(_single_op("CUMSUM", "float32", options_type=None))
    headline = report.offenders[0]
    assert headline.startswith("op 0 CUMSUM (float32 -> float32) has no kernel in the tinyflash")
    assert "representative data" not in headline
    assert "runs CUMSUM only for int8" in headline and "replace the layer" in headline


def test_no_kernel_headline_when_tflm_lacks_the_op_too() -> None:
    report = check_model(_single_op("ATAN2", "int8", options_type=None))
    headline = report.offenders[0]
    assert "TensorFlow Lite Micro has no ATAN2 kernel either" in headline
    assert "--runtime tflm" not in headline


def test_int32_positions_are_deployable_for_gather_and_arg_max() -> None:
    """GATHER's int32 positions may be a model input (token ids) and ARG_MAX's int32 output a
    model output; an int32 input that feeds anything else is still refused."""
    from support.tflbuilder import ModelBuilder

    b = ModelBuilder()
    table = b.tensor(
        "table", [8, 4], "int8", data=np.arange(32).reshape(8, 4), scale=0.1, zero_point=0
    )
    ids = b.tensor("ids", [1, 3], "int32")
    emb = b.tensor("emb", [1, 3, 4], "int8", scale=0.1, zero_point=0)
    axis = b.tensor("axis", [], "int32", data=np.array(-1))
    pos = b.tensor("pos", [1, 3], "int32")
    b.op("GATHER", [table, ids], [emb], axis=0)
    b.op("ARG_MAX", [emb, axis], [pos], output_type=2)
    report = check_model(parse_model(b.build([ids], [pos]), "embed.tflite"))
    assert report.deployable, report.offenders

    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int32")
    y = b.tensor("y", [1, 4], "int32")
    b.op("RELU", [x], [y])
    report = check_model(parse_model(b.build([x], [y]), "relu32.tflite"))
    assert not report.deployable


@pytest.mark.parametrize(
    "op,cause",
    [
        ("CUMSUM", "stayed float32 although the model was calibrated"),  # int8 kernel only
        ("EXP", "has no kernel in the tinyflash runtime"),  # no kernel at all
    ],
)
def test_float_island_around_an_op_without_kernel_points_at_the_op(op: str, cause: str) -> None:
    """DEQUANTIZE -> float op -> QUANTIZE (the converter's float island around an op it has
    no int8 version of): the headline is the op's missing (float) kernel, and the two converting
    ops point at it instead of asking for calibration data."""
    from support.tflbuilder import ModelBuilder

    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", scale=0.1, zero_point=0)
    f = b.tensor("f", [1, 4], "float32")
    c = b.tensor("c", [1, 4], "float32")
    y = b.tensor("y", [1, 4], "int8", scale=0.1, zero_point=0)
    b.op("DEQUANTIZE", [x], [f])
    if op == "CUMSUM":
        b.op(op, [f, b.tensor("axis", [], "int32", data=np.array(1))], [c])
    else:
        b.op(op, [f], [c])
    b.op("QUANTIZE", [c], [y])
    report = check_model(parse_model(b.build([x], [y]), "island.tflite"))
    assert [f.kind for f in report.findings] == ["no-kernel", "float", "float"]
    assert report.offenders[0].startswith(f"op 1 {op} (float32 -> float32) {cause}")
    assert report.offenders[1] == (
        f"op 0 DEQUANTIZE converts to float for op 1 {op}, which has no kernel (see that op)"
    )
    assert report.offenders[2].startswith(
        f"op 2 QUANTIZE converts back to int8 the float output of op 1 {op}"
    )
    assert not any("representative data" in m for m in report.offenders)


def test_integer_tensor_ops_are_deployable() -> None:
    """int32 and bool tensors of the kernels that run them (CAST, LOGICAL_*, the int32
    comparisons, ...) are not int8 data, and a model may take or give them as they are."""
    from support.tflbuilder import ModelBuilder

    b = ModelBuilder()
    x = b.tensor("x", [4], "int32")
    z = b.tensor("z", [4], "int32")
    m = b.tensor("m", [4], "int32")
    g = b.tensor("g", [4], "bool")
    n = b.tensor("n", [4], "bool")
    y = b.tensor("y", [4], "int8", scale=0.1, zero_point=0)
    b.op("ZEROS_LIKE", [x], [z], options_type=None)
    b.op("MAXIMUM", [x, z], [m], options_type=None)
    b.op("GREATER", [m, x], [g], options_type=None)
    b.op("LOGICAL_NOT", [g], [n])
    b.op("CAST", [n], [y])
    report = check_model(parse_model(b.build([x], [y, n]), "integers.tflite"))
    assert report.deployable, report.offenders
